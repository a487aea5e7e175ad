"""Markdown tables of mean regret ± standard error from the replays' ``summary.csv`` files, for RESULTS.md.

    python benchmarks/replay_tables.py benchmarks/replays/nb201-cifar10 benchmarks/replays/nb201-cifar100 ...
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def markdown_table(folder: Path) -> str:
    """One row per method, one column per checkpoint; the best mean per column in bold."""
    with (folder / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    checkpoints = sorted({int(row["queries"]) for row in rows})
    methods = list(dict.fromkeys(row["method"] for row in rows))
    cell = {(row["method"], int(row["queries"])): row for row in rows}
    best = {q: min(float(cell[m, q]["mean_regret"]) for m in methods if (m, q) in cell) for q in checkpoints}
    n_seeds = rows[0]["n_seeds"]
    lines = [f"**{folder.name}** ({n_seeds} seeds; mean regret ± s.e., percentage points)", "",
             "| method | " + " | ".join(f"@{q}" for q in checkpoints) + " |", "|---|" + "---|" * len(checkpoints)]
    for method in methods:
        entries = []
        for q in checkpoints:
            row = cell.get((method, q))
            if row is None:
                entries.append("")
                continue
            mean = float(row["mean_regret"])
            text = f"{mean:.3f} ± {float(row['se_regret']):.3f}"
            entries.append(f"**{text}**" if mean == best[q] else text)
        lines.append(f"| {method} | " + " | ".join(entries) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(markdown_table(Path(folder)) for folder in sys.argv[1:]))
