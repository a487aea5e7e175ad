"""Where a multi-fidelity replay's regret comes from: per run, whether the table's best 200-epoch cells were
screened (evaluated at 12 epochs) and whether they were promoted (paid for at 200), for issue 22's diagnosis.

Reads the ``trials.csv`` (or ``trials.csv.gz``) of replay folders of one dataset (``bonas replay --fidelities
12,200``) and prints, per method, how many runs screened and promoted each of the ``--top`` best cells of the table
(by 200-epoch test accuracy; with each cell's rank among all cells by 12-epoch validation accuracy), the runs' final
regret, and the evaluations and promotions they made::

    python benchmarks/fidelity_promotions.py --dataset ImageNet16-120 \
        benchmarks/replays/nb201-ImageNet16-120-mf-tw-seeds0-14 benchmarks/replays/nb201-ImageNet16-120-mf-tw-seeds15-29
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from fidelity_tables import read_runs

from bonas.nasbench.nb201 import NASBench201Table

TARGET = 200
"""The fidelity a promotion pays for (the table's 200-epoch test accuracy)."""


def best_cells(table: NASBench201Table, top: int) -> list[dict[str, Any]]:
    """The ``top`` cells of highest 200-epoch test accuracy: row index, regret, 12-epoch validation accuracy and
    its rank (0: the best 12-epoch cell of the table)."""
    test = table.metric("test_accuracy")
    screen = table.metric("val_accuracy_12ep")
    return [{"row": int(row), "regret": float(test.max() - test[row]), "val12": float(screen[row]),
             "val12_rank": int((screen > screen[row]).sum())} for row in np.argsort(-test, kind="stable")[:top]]


def run_outcomes(folders: list[Path], table: NASBench201Table, cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per ``(method, seed)`` (the runs of :func:`fidelity_tables.read_runs`: a longer rerun replaces
    its beginning): its evaluations, promotions, final regret, and which of ``cells`` it screened and promoted
    (``screened`` / ``promoted``: booleans in the order of ``cells``)."""
    records = []
    for (method, seed), rows in sorted(read_runs(folders).items()):
        screened = {table.index(row["arch"]) for row in rows if row["fidelity"] < TARGET}
        promoted = {table.index(row["arch"]) for row in rows if row["fidelity"] == TARGET}
        records.append({"method": method, "seed": seed, "evaluations": len(rows), "promotions": len(promoted),
                        "regret": float(rows[-1]["regret"]),
                        "screened": [cell["row"] in screened for cell in cells],
                        "promoted": [cell["row"] in promoted for cell in cells]})
    return records


def report(records: list[dict[str, Any]], cells: list[dict[str, Any]]) -> str:
    """Per method, the count of runs that screened and promoted each best cell, and the final regrets."""
    lines = []
    for method in dict.fromkeys(record["method"] for record in records):
        runs = [record for record in records if record["method"] == method]
        lines.append(f"{method}: {len(runs)} runs, median {int(np.median([r['evaluations'] for r in runs]))} "
                     f"evaluations and {int(np.median([r['promotions'] for r in runs]))} promotions")
        for position, cell in enumerate(cells):
            screened = sum(record["screened"][position] for record in runs)
            promoted = sum(record["promoted"][position] for record in runs)
            lines.append(f"  best cell #{position + 1} (regret {cell['regret']:.3f}, 12-epoch {cell['val12']:.2f}, "
                         f"12-epoch rank {cell['val12_rank']}): screened in {screened}, promoted in {promoted}")
        finals = Counter(round(record["regret"], 3) for record in runs)
        lines.append("  final regret (runs): " + ", ".join(f"{regret:.3f} ({count})"
                                                           for regret, count in sorted(finals.items())))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--dataset", required=True, help="the NB201 dataset the folders replayed")
    parser.add_argument("--top", type=int, default=3, help="how many of the table's best cells to follow")
    args = parser.parse_args()
    table = NASBench201Table(args.dataset)
    cells = best_cells(table, args.top)
    print(report(run_outcomes(args.folders, table, cells), cells))


if __name__ == "__main__":
    main()
