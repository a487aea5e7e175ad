"""Merge replays run separately (e.g. a new method added later, same seeds) into one summary, table and plot.

    python benchmarks/merge_replays.py --out benchmarks/replays/nb201-cifar10-with-cate \
        benchmarks/replays/nb201-cifar10 benchmarks/replays/nb201-cifar10-cate

Writes ``summary.csv`` and ``regret.png`` into ``--out`` and prints the markdown table; where a folder kept only
its ``summary.csv``, the summaries are merged and no plot is drawn.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from replay_tables import markdown_table

from bonas.replay.report import SUMMARY_COLUMNS, plot_regret, read_trials, summarize, write_csv

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--title", default=None)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    owner: dict[str, Path] = {}
    if all((folder / "trials.csv").exists() for folder in args.folders):
        rows = []
        for folder in args.folders:
            trials = read_trials(folder / "trials.csv")
            check_methods(owner, {row["method"] for row in trials}, folder)
            rows.extend(trials)
        write_csv(args.out / "summary.csv", summarize(rows), SUMMARY_COLUMNS)
        plot_regret(rows, args.out / "regret.png", args.title or args.out.name)
    else:  # a folder kept only its summary: merge summaries, no plot
        summary = []
        for folder in args.folders:
            with (folder / "summary.csv").open() as handle:
                part = list(csv.DictReader(handle))
            check_methods(owner, {row["method"] for row in part}, folder)
            summary.extend(part)
        write_csv(args.out / "summary.csv", summary, SUMMARY_COLUMNS)
    print(markdown_table(args.out))


def check_methods(owner: dict[str, Path], methods: set[str], folder: Path) -> None:
    for method in methods:
        if owner.setdefault(method, folder) != folder:
            raise ValueError(f"method {method!r} is in both {owner[method]} and {folder}")


if __name__ == "__main__":
    main()
