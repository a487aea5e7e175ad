"""Which outcome transform should the GP see? Replay regret per transform on NB201.

Runs the optimizer (TW encoding, LogEI, local candidates, noise-free) on the
200-epoch test accuracy of NAS-Bench-201 for each outcome transform
(``standardize``, ``copula``, ``log-error``) and seed, and prints the mean
regret at 50 and 100 queries per dataset. One JSON line per run goes to
``--out`` so a long run can be resumed or inspected.

    python benchmarks/bench_outcome_transform.py --seeds 8 --queries 100 --out /tmp/transforms.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict

import torch

import bonas
from bonas.surrogate import OUTCOME_TRANSFORMS


def regret_curve(dataset: str, transform: str, seed: int, queries: int) -> list[float]:
    """Regret after each query of one replay."""
    table = bonas.NASBench201Table(dataset)
    accuracy = table.metric("test_accuracy")
    optimizer = bonas.Optimizer(table.space, encoding="tw", seed=seed, deterministic=True, outcome_transform=transform)
    best, regrets = -1.0, []
    for _ in range(queries):
        trial = optimizer.ask(1)[0]
        value = float(accuracy[table.index(trial.arch)])
        optimizer.tell(trial, value)
        best = max(best, value)
        regrets.append(float(accuracy.max()) - best)
    return regrets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["cifar10", "cifar100", "ImageNet16-120"])
    parser.add_argument("--transforms", nargs="+", default=list(OUTCOME_TRANSFORMS))
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", default="outcome_transforms.jsonl")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = defaultdict(list)
    with open(args.out, "a") as log:
        for dataset in args.datasets:
            for seed in range(args.seeds):
                for transform in args.transforms:
                    start = time.perf_counter()
                    curve = regret_curve(dataset, transform, seed, args.queries)
                    record = {"dataset": dataset, "transform": transform, "seed": seed, "r50": curve[49],
                              f"r{args.queries}": curve[-1], "s": time.perf_counter() - start}
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    results[dataset, transform].append((curve[49], curve[-1]))
    print(f"| dataset | transform | mean regret @50 | mean regret @{args.queries} | seeds |")
    print("|---|---|---|---|---|")
    for (dataset, transform), values in results.items():
        print(f"| {dataset} | {transform} | {statistics.mean(v[0] for v in values):.3f} | "
              f"{statistics.mean(v[1] for v in values):.3f} | {len(values)} |")


if __name__ == "__main__":
    main()
