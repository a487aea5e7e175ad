"""The cheap-signal prior on its own: bonas with and without ``--prior``, paired by seed (issue 22).

Runs ``tw`` replays on NB201 (each dataset and objective given) with no prior and with the table's log params and
log FLOPs as cheap signals (:mod:`bonas.prior`), and prints the mean test regret at each checkpoint, paired by
seed, and how many seeds the prior helps. Rows go to a CSV as each run ends, and a rerun skips the runs already
there, so a stopped run resumes::

    nice python benchmarks/bench_prior.py --seeds 100-119 --queries 30 --out benchmarks/results/prior_dev.csv
"""

from __future__ import annotations

import argparse
import csv
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import numpy as np

from bonas.replay.benchmark import ReplaySpec
from bonas.replay.runner import replay

VARIANTS = {"none": None, "params,flops": "params,flops", "params": "params"}
CHECKPOINTS = (10, 20, 30, 50, 100, 150)
FIELDS = ("dataset", "objective", "prior", "seed", "query", "regret")


def _run(dataset: str, objective: str, prior: str, seed: int, queries: int) -> list[dict]:
    spec = ReplaySpec(dataset=dataset, objective=objective, queries=queries, prior=VARIANTS[prior])
    rows = replay("tw", seed, spec)
    return [{"dataset": dataset, "objective": objective, "prior": prior, "seed": seed, "query": row["query"],
             "regret": row["regret"]} for row in rows if row["query"] in CHECKPOINTS]


def _seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def _done(path: Path) -> set[tuple]:
    if not path.exists():
        return set()
    with path.open() as handle:
        return {(row["dataset"], row["objective"], row["prior"], int(row["seed"])) for row in csv.DictReader(handle)}


def _table(path: Path, queries: int, prior: str = "params,flops") -> None:
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    regret: dict[tuple, float] = {}
    for row in rows:
        regret[row["dataset"], row["objective"], row["prior"], int(row["seed"]), int(row["query"])] = float(row["regret"])
    settings = sorted({(row["dataset"], row["objective"]) for row in rows})
    checkpoints = [c for c in CHECKPOINTS if c <= queries]
    print("| dataset | objective | seeds | " + " | ".join(f"none @{c} | prior @{c}" for c in checkpoints) + " |")
    print("|---|---|---|" + "---|---|" * len(checkpoints))
    for dataset, objective in settings:
        cells = []
        seeds = sorted({seed for (d, o, p, seed, q) in regret if (d, o) == (dataset, objective)})
        paired = [s for s in seeds if all((dataset, objective, v, s, checkpoints[-1]) in regret
                                          for v in ("none", prior))]
        for c in checkpoints:
            without = np.array([regret[dataset, objective, "none", s, c] for s in paired])
            with_prior = np.array([regret[dataset, objective, prior, s, c] for s in paired])
            cells.append(f"{without.mean():.3f} | {with_prior.mean():.3f} ({(with_prior < without).sum()}"
                         f"/{(with_prior > without).sum()})")
        print(f"| {dataset} | {objective} | {len(paired)} | " + " | ".join(cells) + " |")
    print(f"(prior {prior}: its mean regret; in brackets the seeds where it is lower / higher)")


def run_into_csv(run: Callable[..., list[dict]], tasks: list[tuple], queries: int, jobs: int, out: Path,
                 fresh_processes: bool = False) -> None:
    """``run(*task, queries)`` for each ``(dataset, objective, variant, seed)`` task not yet in ``out``, its rows
    appended as each ends; ``fresh_processes``: one process per run (for runs that patch modules)."""
    done = _done(out)
    todo = [task for task in tasks if task not in done]
    new = not out.exists()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with out.open("a", newline="") as handle, \
            ProcessPoolExecutor(jobs, max_tasks_per_child=1 if fresh_processes else None) as pool:
        writer = csv.DictWriter(handle, FIELDS)
        if new:
            writer.writeheader()
        futures = [pool.submit(run, *task, queries) for task in todo]
        for future in as_completed(futures):
            writer.writerows(future.result())
            handle.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["cifar10", "cifar100", "ImageNet16-120"])
    parser.add_argument("--objectives", nargs="+", default=["test", "val12"])
    parser.add_argument("--seeds", type=_seeds, default=_seeds("100-119"))
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--variants", nargs="+", default=["none", "params,flops"], choices=list(VARIANTS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    tasks = [(d, o, p, s) for o in args.objectives for d in args.datasets for s in args.seeds for p in args.variants]
    run_into_csv(_run, tasks, args.queries, args.jobs, args.out)
    for prior in args.variants:
        if prior != "none":
            _table(args.out, args.queries, prior)


if __name__ == "__main__":
    main()
