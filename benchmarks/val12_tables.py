"""Tables of the standard NAS protocol (``--objective val12``): validation and test regret per method, for RESULTS.md.

Reads the ``trials.csv`` (or ``trials.csv.gz``) of one or more ``bonas replay --objective val12`` output folders of one NB201 dataset (a
method may come from any of them), and prints, per method and checkpoint, the mean (± standard error over seeds)
test regret of the best-by-validation cell and the mean validation regret (the table's best 12-epoch validation
accuracy minus the best found), the best of each column in bold; then the seeds whose best validation accuracy at
the last query is more than 1 point short of the table's best (stalled). ``--csv`` also writes those numbers.
``--previous`` reads such a CSV of earlier runs (whose ``trials.csv`` are not kept) and puts its methods in the same
tables, except those the folders hold too::

    python benchmarks/val12_tables.py --dataset cifar100 benchmarks/replays/nb201-cifar100-val12-*
    python benchmarks/val12_tables.py --dataset cifar10 runs/cifar10-val12-path-wl \
        --previous benchmarks/results/val12_cifar10.csv --csv benchmarks/results/val12_cifar10.csv
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
from collections import defaultdict
from pathlib import Path
from typing import TextIO

from bonas.nasbench import NASBench201Table

CHECKPOINTS = (25, 50, 100, 150)
STALL_POINTS = 1.0


def _mean_se(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return mean, se


def open_trials(folder: Path) -> TextIO:
    """A replay folder's ``trials.csv``, or its compressed ``trials.csv.gz`` (as committed)."""
    plain = folder / "trials.csv"
    return plain.open() if plain.exists() else gzip.open(folder / "trials.csv.gz", "rt")


def collect(folders: list[Path], best_val: float) -> dict[str, dict[int, dict[int, tuple[float, float]]]]:
    """``method -> seed -> query -> (validation regret, test regret)`` at the checkpoints."""
    runs: dict[str, dict[int, dict[int, tuple[float, float]]]] = defaultdict(lambda: defaultdict(dict))
    for folder in folders:
        with open_trials(folder) as handle:
            for row in csv.DictReader(handle):
                query = int(row["query"])
                if query in CHECKPOINTS or query == 150:
                    runs[row["method"]][int(row["seed"])][query] = (best_val - float(row["best_objective"]),
                                                                    float(row["regret"]))
    return runs


def read_previous(path: Path) -> tuple[dict[tuple[str, int, int], tuple[float, float]], dict[str, int]]:
    """A ``--csv`` file's ``(method, checkpoint, kind) -> (mean, s.e.)`` (kind 0 validation, 1 test regret) and
    each method's number of seeds."""
    stats: dict[tuple[str, int, int], tuple[float, float]] = {}
    n_seeds: dict[str, int] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            method, query = row["method"], int(row["queries"])
            stats[method, query, 1] = (float(row["mean_test_regret"]), float(row["se_test_regret"]))
            stats[method, query, 0] = (float(row["mean_val_regret"]), float(row["se_val_regret"]))
            n_seeds[method] = int(row["n_seeds"])
    return stats, n_seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--csv", type=Path, default=None)
    parser.add_argument("--previous", type=Path, default=None)
    args = parser.parse_args()
    best_val = float(NASBench201Table(args.dataset).metric("val_accuracy_12ep").max())
    runs = collect(args.folders, best_val)
    stats = {(method, q, kind): _mean_se([seeds[s][q][kind] for s in seeds])
             for method, seeds in runs.items() for q in CHECKPOINTS for kind in (0, 1)}
    n_seeds = {method: len(seeds) for method, seeds in runs.items()}
    if args.previous is not None:
        previous, previous_seeds = read_previous(args.previous)
        stats = {**{key: value for key, value in previous.items() if key[0] not in runs}, **stats}
        n_seeds = {**{m: n for m, n in previous_seeds.items() if m not in runs}, **n_seeds}
    methods = list(n_seeds)
    best = {(q, kind): min(stats[m, q, kind][0] for m in methods) for q in CHECKPOINTS for kind in (0, 1)}
    print(f"**NB201 {args.dataset}, val12** (seeds per method: {n_seeds}; mean ± s.e., percentage points)\n")
    for kind, name in ((1, "test regret of the best-by-validation cell"), (0, "validation regret")):
        print(f"{name}\n\n| method | " + " | ".join(f"@{q}" for q in CHECKPOINTS) + " |")
        print("|---|" + "---|" * len(CHECKPOINTS))
        for method in methods:
            cells = []
            for q in CHECKPOINTS:
                mean, se = stats[method, q, kind]
                text = f"{mean:.3f} ± {se:.3f}"
                cells.append(f"**{text}**" if mean == best[q, kind] else text)
            print(f"| {method} | " + " | ".join(cells) + " |")
        print()
    for method, seeds in runs.items():
        stalled = sorted(s for s in seeds if seeds[s][150][0] > STALL_POINTS)
        print(f"{method}: stalled seeds (validation regret > {STALL_POINTS} at 150): {stalled or 'none'}")
    if args.csv is not None:
        with args.csv.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["method", "queries", "n_seeds", "mean_test_regret", "se_test_regret",
                             "mean_val_regret", "se_val_regret"])
            for method in methods:
                for q in CHECKPOINTS:
                    writer.writerow([method, q, n_seeds[method], *stats[method, q, 1], *stats[method, q, 0]])


if __name__ == "__main__":
    main()
