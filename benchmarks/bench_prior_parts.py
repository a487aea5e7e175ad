"""Which part of the cheap-signal prior does what: the tournament initial design alone, the linear prior mean alone,
both (the prior as shipped), neither; ``tw`` on NB201 with the table's log params and log FLOPs, paired by seed.

The parts are switched off in this process only: "design only" gives the GP botorch's constant mean (the signal
columns stay in its inputs, which the kernel does not read); "mean only" draws each initial cell as the best of
one random cell, i.e. at random::

    nice python benchmarks/bench_prior_parts.py --dataset ImageNet16-120 --seeds 100-109 --queries 100
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import bonas.optimizer
from bonas.replay.benchmark import ReplaySpec
from bonas.replay.runner import replay
from bonas.surrogate import Surrogate

PARTS = ("neither", "design only", "mean only", "both")
CHECKPOINTS = (10, 20, 30, 50, 100)


def _run(part: str, dataset: str, objective: str, seed: int, queries: int) -> dict[int, float]:
    if part == "design only":
        Surrogate.new_mean = lambda self, like: None
    if part == "mean only":
        bonas.optimizer.TOURNAMENT_SIZE = 1
    spec = ReplaySpec(dataset=dataset, objective=objective, queries=queries,
                      prior=None if part == "neither" else "params,flops")
    return {row["query"]: row["regret"] for row in replay("tw", seed, spec) if row["query"] in CHECKPOINTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ImageNet16-120")
    parser.add_argument("--objective", default="test")
    parser.add_argument("--seeds", default="100-109")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # one process per run: a part switched off stays off only in the process that ran it
    with ProcessPoolExecutor(args.jobs, max_tasks_per_child=1) as pool:
        futures = {(part, seed): pool.submit(_run, part, args.dataset, args.objective, seed, args.queries)
                   for part in PARTS for seed in seeds}
        regret = {key: future.result() for key, future in futures.items()}
    checkpoints = [c for c in CHECKPOINTS if c <= args.queries]
    print(f"{args.dataset} {args.objective}, seeds {args.seeds}: mean test regret")
    print("| part | " + " | ".join(f"@{c}" for c in checkpoints) + " |")
    print("|---|" + "---|" * len(checkpoints))
    for part in PARTS:
        print(f"| {part} | " + " | ".join(f"{np.mean([regret[part, s][c] for s in seeds]):.3f}" for c in checkpoints)
              + " |")


if __name__ == "__main__":
    main()
