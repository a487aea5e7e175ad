"""Batch regret relative to sequential regret, seed by seed, with a paired bootstrap interval.

Reads the per-seed ``trials.csv`` of two replays run on the same seeds (paired
by seed; their random initial cells differ, since the optimizer draws them
per ask and a batch run asks fewer times) and prints, per
checkpoint, mean regret of each, their ratio ``batch / sequential`` and a 90 %
paired-bootstrap interval of that ratio (seeds resampled together, 10,000
draws, fixed generator), so that "within 20 % of sequential" can be read with
its uncertainty.

    python benchmarks/batch_vs_sequential.py benchmarks/replays/nb201-cifar100:tw \\
        benchmarks/replays/nb201-cifar100-batch8:tw:kdpp benchmarks/replays/nb201-cifar100-batch8-anchored:tw:kdpp-anchored
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

CHECKPOINTS = (50, 100, 150)
DRAWS = 10_000


def regrets(folder_and_method: str, checkpoints: tuple[int, ...]) -> tuple[str, dict[int, np.ndarray]]:
    """``method`` and its ``seeds x checkpoints`` regrets, keyed by seed, from ``FOLDER:METHOD``."""
    folder, _, method = folder_and_method.partition(":")
    table: dict[int, dict[int, float]] = {}
    with (Path(folder) / "trials.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["method"] == method and int(row["query"]) in checkpoints:
                table.setdefault(int(row["seed"]), {})[int(row["query"])] = float(row["regret"])
    if not table:
        raise SystemExit(f"no rows of method {method!r} in {folder}/trials.csv")
    return method, {seed: np.array([by_query[q] for q in checkpoints]) for seed, by_query in table.items()}


def ratio_interval(batch: np.ndarray, sequential: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """5th and 95th percentiles of ``mean(batch) / mean(sequential)`` over seeds resampled in pairs."""
    picks = rng.integers(len(batch), size=(DRAWS, len(batch)))
    numerators, denominators = batch[picks].mean(axis=1), sequential[picks].mean(axis=1)
    ratios = np.divide(numerators, denominators, out=np.full(DRAWS, np.inf), where=denominators > 0)
    ratios[(numerators == 0) & (denominators == 0)] = 1.0
    # inverted_cdf takes order statistics, so an infinite ratio (a resample whose sequential regret is 0) stays inf.
    low, high = np.percentile(ratios, [5, 95], method="inverted_cdf")
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sequential", help="FOLDER:METHOD of the sequential replay")
    parser.add_argument("batches", nargs="+", help="FOLDER:METHOD of each batch replay")
    parser.add_argument("--checkpoints", type=int, nargs="+", default=list(CHECKPOINTS))
    args = parser.parse_args()
    checkpoints = tuple(args.checkpoints)
    sequential_name, sequential = regrets(args.sequential, checkpoints)
    print(f"| method | {' | '.join(f'@{q}: mean, ratio to {sequential_name} [90 % CI]' for q in checkpoints)} |")
    print("|---|" + "---|" * len(checkpoints))
    print(f"| {sequential_name} | " + " | ".join(f"{value:.3f}" for value in
                                                np.mean(list(sequential.values()), axis=0)) + " |")
    for batch_argument in args.batches:
        name, batch = regrets(batch_argument, checkpoints)
        seeds = sorted(set(batch) & set(sequential))
        paired_batch = np.array([batch[seed] for seed in seeds])
        paired_sequential = np.array([sequential[seed] for seed in seeds])
        cells = []
        for column in range(len(checkpoints)):
            rng = np.random.default_rng(column)
            mean_batch, mean_sequential = paired_batch[:, column].mean(), paired_sequential[:, column].mean()
            ratio = mean_batch / mean_sequential if mean_sequential > 0 else (1.0 if mean_batch == 0 else np.inf)
            low, high = ratio_interval(paired_batch[:, column], paired_sequential[:, column], rng)
            cells.append(f"{mean_batch:.3f}, {ratio:.2f} [{low:.2f}, {high:.2f}]")
        print(f"| {Path(batch_argument.partition(':')[0]).name} {name} ({len(seeds)} seeds) | "
              + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
