"""Latency-constrained NAS on NB201 (issue 21): HELP's Table 4 rows, every method proposing only feasible cells.

For each (device, limit) row of HELP's Table 4 (HELP README; ``bonas/nasbench/data/README.md``), a replay on
CIFAR-100 200-epoch test accuracy with ``--constraint latency:<device><=<limit>``: mean constrained regret (the
table's best feasible test accuracy minus the best found) at 25 / 50 / 100 queries per method, beside the true
constrained optimum and HELP's published accuracy (MetaD2A + HELP, which constrains a *predicted* latency: some
of its cells exceed the limit). One CSV row per (row, method, checkpoint) goes to ``--out``; a markdown table is
printed.

    python benchmarks/constrained_replays.py --first-seed 100 --seeds 10 --queries 100 --jobs 2 \\
        --out benchmarks/results/constrained_dev.csv
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from bonas.replay.benchmark import ReplaySpec, make_benchmark
from bonas.replay.runner import run_replays

HELP_ROWS = (
    ("titan_rtx_256", 18, 69.7), ("titan_rtx_256", 21, 71.5), ("titan_rtx_256", 25, 71.8),
    ("gold_6226", 8, 67.3), ("gold_6226", 11, 70.2), ("gold_6226", 14, 72.1),
    ("pixel2", 14, 69.7), ("pixel2", 18, 71.8), ("pixel2", 22, 73.2),
    ("eyeriss", 5, 71.5), ("eyeriss", 7, 71.8), ("eyeriss", 9, 73.5),
    ("fpga", 4, 70.2), ("fpga", 5, 71.8), ("fpga", 6, 73.5),
)
"""(device, latency limit in ms, HELP's published CIFAR-100 accuracy %) of HELP's Table 4."""
CHECKPOINTS = (25, 50, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="tw,random,rea,ls")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    methods = args.methods.split(",")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    checkpoints = [q for q in CHECKPOINTS if q <= args.queries]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table_lines = ["| device | limit (ms) | optimum | HELP | " + " | ".join(
        f"{m} @{q}" for m in methods for q in checkpoints) + " |"]
    start = time.perf_counter()
    with args.out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["device", "limit_ms", "optimum", "help_accuracy", "method", "query", "mean_regret",
                         "se_regret", "seeds", "infeasible_reported"])
        for device, limit, help_accuracy in HELP_ROWS:
            spec = ReplaySpec(dataset="cifar100", objective="test", queries=args.queries,
                              constraint=f"latency:{device}<={limit}")
            benchmark = make_benchmark(spec)
            rows = run_replays(spec, methods, seeds, jobs=args.jobs, show_progress=False)
            cells = []
            for method in methods:
                for query in checkpoints:
                    at = [row for row in rows if row["method"] == method and row["query"] == query]
                    regret = np.array([row["regret"] for row in at])
                    infeasible = sum(not benchmark.feasible(row["arch"]) for row in rows if row["method"] == method)
                    se = float(regret.std(ddof=1) / np.sqrt(len(regret))) if len(regret) > 1 else 0.0
                    writer.writerow([device, limit, f"{benchmark.optimum:.4f}", help_accuracy, method, query,
                                     f"{regret.mean():.4f}", f"{se:.4f}", len(regret), infeasible])
                    cells.append(f"{regret.mean():.3f}")
            handle.flush()
            table_lines.append(f"| {device} | {limit} | {benchmark.optimum:.2f} | {help_accuracy} | "
                               + " | ".join(cells) + " |")
            print(f"[{time.perf_counter() - start:7.1f} s] {device} <= {limit} ms done", flush=True)
    print("\n".join(table_lines))


if __name__ == "__main__":
    main()
