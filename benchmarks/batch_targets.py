"""Issue 24's batch targets from replay ``trials.csv`` files: queries and rounds to a near-optimal cell.

``python benchmarks/batch_targets.py --sequential DIR[:METHOD] --batch DIR:METHOD:Q [--batch ...]``
prints, per run, over its seeds: the median number of queries and of rounds (batches; a sequential run's rounds
are its queries) until the best cell is within 0.1 point of the optimum and until the optimum itself, the
fraction of seeds that get there within the run's queries, and the mean regret at the last query; then, for each
batch run, the targets (median queries to within 0.1 at most 1.3x sequential's, so at most 1/6 of its rounds for
batches of 8; mean regret at the end within 20 % of sequential's or within 0.01 points). A seed that never gets
there counts as needing more than the budget (its median is then reported as ``>N``).

``--time DIR:METHOD`` (NB101, asynchronous runs): the simulated time (``sim_time_s``, the table's training times)
at which the mean regret over seeds first reaches the sequential run's mean regret at its last query, as a
fraction of the sequential run's mean simulated time to that query.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
from collections import defaultdict
from pathlib import Path

NEAR = 0.1
"""Points of accuracy below the optimum that count as near-optimal."""
EXACT = 1e-9


def load(spec: str) -> tuple[str, dict[int, list[dict]]]:
    """``DIR[:METHOD]`` -> (label, seed -> rows in query order)."""
    directory, _, method = spec.partition(":")
    seeds: dict[int, list[dict]] = defaultdict(list)
    with open(Path(directory) / "trials.csv") as handle:
        for row in csv.DictReader(handle):
            if not method or row["method"] == method:
                seeds[int(row["seed"])].append(row)
    for rows in seeds.values():
        rows.sort(key=lambda row: int(row["query"]))
    if not seeds:
        raise SystemExit(f"{spec}: no rows{f' of method {method!r}' if method else ''}")
    return f"{Path(directory).name}:{method or 'all'}", dict(seeds)


def queries_to(rows: list[dict], threshold: float) -> int | None:
    for row in rows:
        if float(row["regret"]) <= threshold + EXACT:
            return int(row["query"])
    return None


def median_count(counts: list[int | None], budget: int) -> str:
    """The median, with seeds that never got there above every budget; ``>budget`` when they are the median."""
    ranked = sorted(math.inf if count is None else count for count in counts)
    middle = statistics.median(ranked)
    return f">{budget}" if math.isinf(middle) else f"{middle:g}"


def summarise(label: str, seeds: dict[int, list[dict]], q: int) -> dict:
    budget = min(len(rows) for rows in seeds.values())
    result = {"label": label, "q": q, "seeds": len(seeds), "budget": budget}
    for name, threshold in (("near", NEAR), ("optimum", 0.0)):
        counts = [queries_to(rows[:budget], threshold) for rows in seeds.values()]
        result[f"{name}_queries"] = median_count(counts, budget)
        result[f"{name}_rounds"] = median_count([None if c is None else math.ceil(c / q) for c in counts],
                                                math.ceil(budget / q))
        result[f"{name}_fraction"] = sum(c is not None for c in counts) / len(counts)
        result[f"{name}_median_value"] = statistics.median(math.inf if c is None else c for c in counts)
    result["final_regret"] = statistics.mean(float(rows[budget - 1]["regret"]) for rows in seeds.values())
    return result


def regret_at_time(rows: list[dict], time: float) -> float:
    """The regret of the best cell told by simulated ``time`` (the first query's regret before any)."""
    regret = float(rows[0]["regret"])
    for row in rows:
        if float(row["sim_time_s"]) > time:
            break
        regret = float(row["regret"])
    return regret


def time_fraction(sequential: dict[int, list[dict]], other: dict[int, list[dict]]) -> tuple[float, float, float]:
    budget = min(len(rows) for rows in sequential.values())
    target = statistics.mean(float(rows[budget - 1]["regret"]) for rows in sequential.values())
    sequential_time = statistics.mean(float(rows[budget - 1]["sim_time_s"]) for rows in sequential.values())
    times = sorted({float(row["sim_time_s"]) for rows in other.values() for row in rows})
    for time in times:
        if statistics.mean(regret_at_time(rows, time) for rows in other.values()) <= target + EXACT:
            return target, sequential_time, time / sequential_time
    return target, sequential_time, math.inf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sequential", required=True, help="DIR[:METHOD] of the sequential run")
    parser.add_argument("--batch", action="append", default=[], help="DIR:METHOD:Q of a batch run")
    parser.add_argument("--time", action="append", default=[], help="DIR:METHOD of an asynchronous run (NB101)")
    args = parser.parse_args()
    label, sequential = load(args.sequential)
    base = summarise(label, sequential, 1)
    rows = [base]
    for spec in args.batch:
        directory, method, q = spec.rsplit(":", 2)
        rows.append(summarise(*load(f"{directory}:{method}"), int(q)))
    print("| run | q | seeds | median queries to within 0.1 | median rounds | reached | median queries to the "
          "optimum | median rounds | reached | mean regret at the end |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['label']} | {row['q']} | {row['seeds']} | {row['near_queries']} | {row['near_rounds']} | "
              f"{row['near_fraction']:.0%} | {row['optimum_queries']} | {row['optimum_rounds']} | "
              f"{row['optimum_fraction']:.0%} | {row['final_regret']:.3f} |")
    for row in rows[1:]:
        ratio = row["near_median_value"] / base["near_median_value"]
        rounds = math.ceil(row["near_median_value"] / row["q"]) / base["near_median_value"]
        close = row["final_regret"] <= max(1.2 * base["final_regret"], base["final_regret"] + 0.01)
        print(f"{row['label']}: queries to within 0.1 {ratio:.2f}x sequential (target <= 1.3), rounds "
              f"{rounds:.3f}x (target <= {1 / 6:.3f} for q = 8), final regret {row['final_regret']:.3f} vs "
              f"{base['final_regret']:.3f} ({'met' if close else 'missed'}: within 20 % or 0.01)")
    for spec in args.time:
        target, sequential_time, fraction = time_fraction(sequential, load(spec)[1])
        print(f"{spec}: reaches the sequential final mean regret {target:.3f} at {fraction:.3f} of the sequential "
              f"run's simulated time ({sequential_time / 3600:.1f} h; target <= 0.2)")


if __name__ == "__main__":
    main()
