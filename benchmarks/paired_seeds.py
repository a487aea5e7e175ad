"""Two replay methods compared seed by seed: mean regret, wins and losses, and a paired Wilcoxon test per checkpoint.

Reads the ``trials.csv`` (or ``.csv.gz``) of one or more ``bonas replay`` folders (a row per query: ``method``,
``seed``, ``query``, ``regret``), keeps the seeds both methods ran, and prints, at each checkpoint, each method's
mean regret ± s.e., the seeds where ``--method`` is lower / higher than ``--against``, and the two-sided p-value of
scipy's Wilcoxon signed-rank test on the paired differences (ties dropped, ``zero_method="wilcox"``; ``nan`` when
every pair ties). With ``--seeds`` only that range counts.

    python benchmarks/paired_seeds.py benchmarks/replays/nb201-cifar10-val12-100seeds-tw \\
        benchmarks/replays/nb201-cifar10-val12-100seeds-ls --method tw --against ls --seeds 0-99
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
from collections import defaultdict
from pathlib import Path

from scipy.stats import wilcoxon
from val12_tables import open_trials

CHECKPOINTS = (25, 50, 100, 150)


def read_regrets(folders: list[Path], checkpoints: tuple[int, ...]) -> dict[str, dict[int, dict[int, float]]]:
    """``{method: {seed: {checkpoint: regret}}}`` from the folders' ``trials.csv`` (or ``trials.csv.gz``)."""
    regrets: dict[str, dict[int, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for folder in folders:
        with open_trials(folder) as handle:
            for row in csv.DictReader(handle):
                query = int(row["query"])
                if query in checkpoints:
                    regrets[row["method"]][int(row["seed"])][query] = float(row["regret"])
    return regrets


def compare(first: dict[int, dict[int, float]], second: dict[int, dict[int, float]], seeds: list[int],
            checkpoint: int) -> dict[str, float]:
    """Means, standard errors, wins, losses and the Wilcoxon p-value of ``first`` against ``second``."""
    a = [first[seed][checkpoint] for seed in seeds]
    b = [second[seed][checkpoint] for seed in seeds]
    differences = [x - y for x, y in zip(a, b)]
    p_value = wilcoxon(differences).pvalue if any(abs(d) > 1e-9 for d in differences) else math.nan
    return {"mean_a": statistics.mean(a), "se_a": statistics.stdev(a) / math.sqrt(len(a)),
            "mean_b": statistics.mean(b), "se_b": statistics.stdev(b) / math.sqrt(len(b)),
            "lower": sum(d < -1e-9 for d in differences), "higher": sum(d > 1e-9 for d in differences),
            "p": float(p_value)}


def _seed_range(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--method", required=True)
    parser.add_argument("--against", required=True)
    parser.add_argument("--seeds", type=_seed_range, default=None, help="a range, e.g. 0-99")
    parser.add_argument("--checkpoints", type=int, nargs="+", default=list(CHECKPOINTS))
    args = parser.parse_args()
    regrets = read_regrets(args.folders, tuple(args.checkpoints))
    first, second = regrets[args.method], regrets[args.against]
    seeds = sorted(set(first) & set(second) & (set(args.seeds) if args.seeds else set(first)))
    if len(seeds) < 2:
        raise SystemExit(f"{args.method} and {args.against} share {len(seeds)} seed(s) in these folders")
    print(f"{args.method} against {args.against}, {len(seeds)} seeds ({seeds[0]}-{seeds[-1]})")
    print(f"{'query':>5} {args.method:>16} {args.against:>16} {'lower':>5} {'higher':>6} {'Wilcoxon p':>10}")
    for checkpoint in args.checkpoints:
        row = compare(first, second, seeds, checkpoint)
        print(f"{checkpoint:5d} {row['mean_a']:8.3f} ± {row['se_a']:.3f} {row['mean_b']:8.3f} ± {row['se_b']:.3f} "
              f"{row['lower']:5d} {row['higher']:6d} {row['p']:10.4f}")


if __name__ == "__main__":
    main()
