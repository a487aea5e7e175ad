"""Tables of multi-fidelity NB201 replays (``bonas replay --fidelities 12,200``), merged from several folders, for
RESULTS.md and the done-when of issue 22.

Reads the ``trials.csv`` (or ``trials.csv.gz``) of one or more output folders of one dataset (a method's seeds may
come from several folders, e.g. ``tw`` seeds 0-14 and 15-29, and its baselines from a longer run; a seed rerun with
a larger budget replaces its shorter run, which must be its beginning). Each run is read up to the full trainings
it completed (its last evaluation's epochs, in 200-epoch units, rounded down), so runs of 50 and of 100 full
trainings can sit in one table: a checkpoint is reported for a method only when every one of its seeds reached it.
A run that ended at regret 0 stays 0 at every larger budget (the recommendation's regret never rises) and is
counted so. Prints, per method and
checkpoint, the mean regret ± standard error (median); then the comparisons of issue 22: the multi-fidelity method
against half of the single-fidelity one at 50 full trainings, the fewest full trainings at which its mean regret
reaches the single-fidelity method's mean at 100, and whether it is below Hyperband and BOHB at each checkpoint.
``--out`` writes the merged ``summary.csv`` and the regret-vs-epochs figure::

    python benchmarks/fidelity_tables.py --dataset cifar100 --out benchmarks/replays/nb201-cifar100-mf \
        benchmarks/replays/nb201-cifar100-mf-fix-seeds0-14 benchmarks/replays/nb201-cifar100-mf-fix-seeds15-29 \
        benchmarks/replays/nb201-cifar100-mf-baselines-100
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from val12_tables import open_trials

from bonas.replay.fidelity import SINGLE_FIDELITY_SUFFIX, MultiFidelitySpec, regret_by_full_trainings
from bonas.replay.report import plot_regret, summarize, write_csv

CHECKPOINTS = (10, 20, 25, 40, 50, 100)
"""Full-training equivalents (200 epochs each) of the table: issue 22's 10/25/50/100, and 20 and 40 (40 % of 50
and of 100)."""
FULL_TRAINING = 200


def read_runs(folders: list[Path]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """``(method, seed) -> evaluations`` (the parsed ``trials.csv`` rows, in order) over ``folders``. A run found
    in two folders is kept once, the longer, when the shorter is its beginning (a replay of the same seed with a
    larger budget asks the same first cells).

    :raises ValueError: the same method and seed in two folders with different evaluations.
    """
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    source: dict[tuple[str, int], Path] = {}
    for folder in folders:
        part: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        with open_trials(folder) as handle:
            for row in csv.DictReader(handle):
                part[row["method"], int(row["seed"])].append(
                    {"method": row["method"], "seed": int(row["seed"]), "arch": row["arch"],
                     "fidelity": int(row["fidelity"]), "epochs": int(row["epochs"]), "regret": float(row["regret"])})
        for key, rows in part.items():
            if key in source:
                shorter, longer = sorted((runs[key], rows), key=len)
                if [evaluated(row) for row in longer[:len(shorter)]] != [evaluated(row) for row in shorter]:
                    raise ValueError(f"method {key[0]!r} seed {key[1]} is in both {source[key]} and {folder}, "
                                     "and neither run is the beginning of the other")
                if longer is runs[key]:
                    continue
            source[key], runs[key] = folder, rows
    return runs


def evaluated(row: dict[str, Any]) -> tuple[str, int, int]:
    """What an evaluation asked: the cell, its fidelity and the epochs spent after it (its regret may be NaN)."""
    return row["arch"], row["fidelity"], row["epochs"]


def regret_grid(runs: dict[tuple[str, int], list[dict[str, Any]]], dataset: str) -> list[dict[str, Any]]:
    """Per run, its regret after each completed full training (``query`` = full trainings), the rows
    :func:`~bonas.replay.report.summarize` and :func:`~bonas.replay.report.plot_regret` read. A run that ended at
    regret 0 is 0 at every later budget too (the recommendation is the best 200-epoch result so far, so its
    regret never rises): it is extended to the longest run's budget. Every run of a method is then cut to the
    shortest of them, so that the method's seeds form one array."""
    completed = {key: rows[-1]["epochs"] // FULL_TRAINING for key, rows in runs.items()}
    horizon = max(completed.values())
    for key, rows in runs.items():
        if rows[-1]["regret"] == 0:
            completed[key] = horizon
    shortest: dict[str, int] = {}
    for (method, _), count in completed.items():
        shortest[method] = min(count, shortest.get(method, count))
    grid = []
    for (method, _), rows in sorted(runs.items()):
        grid.extend(regret_by_full_trainings(rows, MultiFidelitySpec(dataset=dataset,
                                                                     full_trainings=shortest[method])))
    return grid


def settled_early(runs: dict[tuple[str, int], list[dict[str, Any]]]) -> dict[str, int]:
    """Per method, the runs extended by :func:`regret_grid`: shorter than the longest run, ended at regret 0."""
    horizon = max(rows[-1]["epochs"] // FULL_TRAINING for rows in runs.values())
    counts: dict[str, int] = defaultdict(int)
    for (method, _), rows in runs.items():
        if rows[-1]["regret"] == 0 and rows[-1]["epochs"] // FULL_TRAINING < horizon:
            counts[method] += 1
    return dict(counts)


def statistics_at(grid: list[dict[str, Any]]) -> dict[tuple[str, int], tuple[float, float, float, int]]:
    """``(method, full trainings) -> (mean, s.e., median, seeds)`` at :data:`CHECKPOINTS` and each method's last."""
    return {(row["method"], row["queries"]): (row["mean_regret"], row["se_regret"], row["median_regret"],
                                              row["n_seeds"]) for row in summarize(grid, CHECKPOINTS)}


def markdown(stats: dict[tuple[str, int], tuple[float, float, float, int]], dataset: str) -> str:
    """One row per method, one column per checkpoint any method reached; the lowest mean per column in bold."""
    methods = list(dict.fromkeys(method for method, _ in stats))
    columns = [q for q in CHECKPOINTS if any((m, q) in stats for m in methods)]
    lines = [f"| {dataset} | " + " | ".join(f"@{q}" for q in columns) + " |", "|---|" + "---|" * len(columns)]
    for method in methods:
        seeds = max(stats[key][3] for key in stats if key[0] == method)
        cells = []
        for q in columns:
            if (method, q) not in stats:
                cells.append("")
                continue
            mean, se, median, _ = stats[method, q]
            text = f"{mean:.3f} ± {se:.3f} ({median:.3f})"
            lowest = min(stats[m, q][0] for m in methods if (m, q) in stats)
            cells.append(f"**{text}**" if mean == lowest else text)
        lines.append(f"| {method} ({seeds} seeds) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparisons(stats: dict[tuple[str, int], tuple[float, float, float, int]], grid: list[dict[str, Any]],
                method: str) -> list[str]:
    """Issue 22's criteria for ``method`` (multi-fidelity) against ``method-sf``, ``hyperband`` and ``bohb``."""
    single = method + SINGLE_FIDELITY_SUFFIX
    lines = []
    if (method, 50) in stats and (single, 50) in stats:
        multi, one = stats[method, 50][0], stats[single, 50][0]
        ratio = multi / one if one > 0 else (0.0 if multi == 0 else math.inf)
        lines.append(f"@50: {method} {multi:.3f} vs {single} {one:.3f} "
                     f"(ratio {ratio:.2f}; target <= 0.5): {'met' if ratio <= 0.5 else 'NOT met'}")
    if (single, 100) in stats:
        target = stats[single, 100][0]
        means = defaultdict(list)
        for row in grid:
            if row["method"] == method:
                means[row["query"]].append(row["regret"])
        reached = next((q for q in sorted(means) if sum(means[q]) / len(means[q]) <= target), None)
        verdict = ("not reached within the run" if reached is None else
                   f"reached at {reached} full trainings ({reached}% of {single}'s epochs; target <= 40%): "
                   f"{'met' if reached <= 40 else 'NOT met'}")
        lines.append(f"{single} @100 mean {target:.3f}; {method}: {verdict}")
    last = max((q for m, q in stats if m == method), default=None)
    for baseline in ("hyperband", "bohb"):
        shared = [q for q in CHECKPOINTS if (method, q) in stats and (baseline, q) in stats]
        lost = [q for q in shared if stats[method, q][0] >= stats[baseline, q][0]]
        lines.append(f"{method} below {baseline} at " + ("no shared checkpoint" if not shared else
                     f"@{', @'.join(map(str, shared))}: "
                     + ("all" if not lost else f"NOT at @{', @'.join(map(str, lost))}")))
        later = [q for q in CHECKPOINTS if last is not None and q > last and (baseline, q) in stats]
        for q in later:
            bound, theirs = stats[method, last][0], stats[baseline, q][0]
            lines.append(f"{method} @{q} <= its @{last} mean {bound:.3f} (regret never rises) vs {baseline} "
                         f"@{q} {theirs:.3f}: " + ("below" if bound < theirs else "not shown below"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--dataset", required=True, help="the NB201 dataset the folders replayed")
    parser.add_argument("--method", default="tw", help="the multi-fidelity method compared (default: tw)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the merged summary.csv and regret.png")
    args = parser.parse_args()
    runs = read_runs(args.folders)
    grid = regret_grid(runs, args.dataset)
    stats = statistics_at(grid)
    print(markdown(stats, args.dataset))
    print()
    for method, count in settled_early(runs).items():
        print(f"{method}: {count} run(s) ended at regret 0 before the longest run's budget, counted 0 after it")
    print("\n".join(comparisons(stats, grid, args.method)))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        summary = summarize(grid, CHECKPOINTS)
        write_csv(args.out / "summary.csv", summary, list(summary[0]))
        spec = MultiFidelitySpec(dataset=args.dataset)
        plot_regret(grid, args.out / "regret.png", spec.title,
                    x_label=f"epochs spent, in full trainings ({FULL_TRAINING} epochs)")


if __name__ == "__main__":
    main()
