"""Multi-objective tw replays with the local candidate pool or every unseen cell (``candidates="all"``), per seed.

    python benchmarks/bench_mo_candidates.py cifar100 pixel3 all 100 103 --out mo_candidates.jsonl

Arguments: dataset, latency device, ``local`` or ``all``, first and last seed. One JSON line per seed (hypervolume
regret at 25 / 50 / 100 / 150 queries and wall seconds) is appended to ``--out``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import torch

import bonas.replay.multi as multi
from bonas.optimizer import Optimizer
from bonas.replay.multi import MultiObjectiveSpec, multi_objective_replay

CHECKPOINTS = (25, 50, 100, 150)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("device")
    parser.add_argument("candidates", choices=("local", "all"))
    parser.add_argument("first_seed", type=int)
    parser.add_argument("last_seed", type=int)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    multi.Optimizer = functools.partial(Optimizer, candidates=args.candidates)
    spec = MultiObjectiveSpec(dataset=args.dataset, objectives=("accuracy", f"latency:{args.device}"),
                              queries=max(CHECKPOINTS))
    with args.out.open("a") as out:
        for seed in range(args.first_seed, args.last_seed + 1):
            start = time.perf_counter()
            regret = {row["query"]: row["regret"] for row in multi_objective_replay("tw", seed, spec)}
            out.write(json.dumps({"seed": seed, "variant": args.candidates,
                                  **{f"r{q}": regret[q] for q in CHECKPOINTS},
                                  "s": time.perf_counter() - start}) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
