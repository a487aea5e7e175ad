"""One markdown table of hypervolume regret from a multi-objective ``bonas replay --objectives`` folder and an
``optuna_peers.py`` folder (same dataset, objectives, seeds and budget): mean ± standard error per checkpoint.

    python benchmarks/mo_tables.py benchmarks/replays/nb201-cifar10-mo-titan_rtx_1 \\
        benchmarks/results/optuna-cifar10-titan_rtx_1 --csv benchmarks/results/mo_cifar10_titan_rtx_1.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

CHECKPOINTS = (25, 50, 100, 150)


def read_summaries(folders: list[Path]) -> dict[str, dict[int, tuple[float, float, int]]]:
    """method -> queries -> (mean, standard error, seeds), from each folder's ``summary.csv``."""
    table: dict[str, dict[int, tuple[float, float, int]]] = {}
    for folder in folders:
        for row in csv.DictReader(open(folder / "summary.csv")):
            mean = row.get("mean_regret") or row["mean_hv_regret"]
            se = row.get("se_regret") or row["se_hv_regret"]
            table.setdefault(row["method"], {})[int(row["queries"])] = (float(mean), float(se), int(row["n_seeds"]))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--csv", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    table = read_summaries(args.folders)
    best = {q: min(by_q[q][0] for by_q in table.values() if q in by_q) for q in CHECKPOINTS}
    print("| method | seeds | " + " | ".join(f"@{q}" for q in CHECKPOINTS) + " |")
    print("|---|---|" + "---|" * len(CHECKPOINTS))
    rows = []
    for method, by_q in table.items():
        cells = []
        for q in CHECKPOINTS:
            if q not in by_q:
                cells.append("")
                continue
            mean, se, _ = by_q[q]
            text = f"{mean:.4f} ± {se:.4f}"
            cells.append(f"**{text}**" if mean == best[q] else text)
            rows.append({"method": method, "queries": q, "mean_hv_regret": mean, "se_hv_regret": se,
                         "n_seeds": by_q[q][2]})
        seeds = next(iter(by_q.values()))[2]
        print(f"| {method} | {seeds} | " + " | ".join(cells) + " |")
    if args.csv is not None:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["method", "queries", "n_seeds", "mean_hv_regret",
                                                        "se_hv_regret"])
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
