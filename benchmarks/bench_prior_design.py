"""Which initial design the cheap-signal prior should use (issue 22): ``tw`` on NB201 with the table's log params
and log FLOPs as the prior, the learned linear mean always on, the initial design varied, paired by seed.

Designs (each of the ``n_initial`` cells of the design):

- ``none``: no prior at all (bonas's default), for the pairing;
- ``t10``: the best of 10 random unseen cells by the signals (the tournament as shipped);
- ``t3``: the best of 3;
- ``half``: every other cell of the design the best of 10 (the first, third, ...), the others random cells.

A design other than the shipped one is switched on in the worker process that runs it only (one process per run).
Rows go to a CSV in ``bench_prior.py``'s format (its ``prior`` column holds the design) as each run ends, and a
rerun skips the runs already there::

    nice python benchmarks/bench_prior_design.py --datasets ImageNet16-120 --seeds 100-119 --queries 100 \\
        --out benchmarks/results/prior_design_dev.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import bonas.optimizer
from bonas.prior import CheapSignals, tournament
from bonas.replay.benchmark import ReplaySpec
from bonas.replay.runner import replay

sys.path.insert(0, str(Path(__file__).parent))
from bench_prior import CHECKPOINTS, _seeds, _table, run_into_csv  # noqa: E402

DESIGNS = ("none", "t10", "t3", "half")


_drawn = [0]
"""Cells of the design drawn so far in this process (a replay asks one at a time, so the alternation counts
across asks)."""


def _half_tournament(pool: list[Any], n: int, signals: CheapSignals) -> list[Any]:
    """``n`` cells, one from each consecutive group of ``pool``: alternately the group's best by ``signals`` and
    its first (a random cell)."""
    size = max(1, len(pool) // max(n, 1))
    chosen = []
    for start in range(0, size * n, size):
        group = pool[start:start + size]
        chosen.append(tournament(group, 1, signals, size)[0] if _drawn[0] % 2 == 0 else group[0])
        _drawn[0] += 1
    return chosen


def _run(dataset: str, objective: str, design: str, seed: int, queries: int) -> list[dict]:
    if design == "t3":
        bonas.optimizer.TOURNAMENT_SIZE = 3
    if design == "half":
        bonas.optimizer.tournament = _half_tournament
    spec = ReplaySpec(dataset=dataset, objective=objective, queries=queries,
                      prior=None if design == "none" else "params,flops")
    rows = replay("tw", seed, spec)
    return [{"dataset": dataset, "objective": objective, "prior": design, "seed": seed, "query": row["query"],
             "regret": row["regret"]} for row in rows if row["query"] in CHECKPOINTS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["cifar10", "cifar100", "ImageNet16-120"])
    parser.add_argument("--objectives", nargs="+", default=["test", "val12"])
    parser.add_argument("--seeds", type=_seeds, default=_seeds("100-119"))
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=DESIGNS)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    tasks = [(d, o, v, s) for s in args.seeds for o in args.objectives for d in args.datasets for v in args.designs]
    run_into_csv(_run, tasks, args.queries, args.jobs, args.out, fresh_processes=True)
    for design in args.designs:
        if design != "none":
            _table(args.out, args.queries, design)


if __name__ == "__main__":
    main()
