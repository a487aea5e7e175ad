"""How wide should the k-DPP shortlist be? Regret of ``tw:kdpp`` batch replays per shortlist size and temperature.

Runs NAS-Bench-201 replays of the TW-GP asking batches of ``q`` with
``Optimizer(kdpp_pool=m, kdpp_temperature=T)`` on validation seeds (100-109
by default, not the seeds reported in RESULTS.md) and prints mean regret at 50
and 100 queries per ``m:T`` setting (``m:T:anchor`` runs ``tw:kdpp-anchored``, the
acquisition's best candidate plus the conditioned k-DPP). One process.

    python benchmarks/bench_kdpp_shortlist.py --dataset cifar10 --settings 500:1 64:1 32:1 500:0.25 64:0.5
"""

from __future__ import annotations

import argparse
import functools
import warnings

import numpy as np

from bonas.optimizer import Optimizer
from bonas.replay import strategies
from bonas.replay.benchmark import ReplaySpec
from bonas.replay.runner import replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--settings", nargs="+", default=["500:1", "64:1", "32:1"], help="shortlist:temperature[:anchor]")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(100, 110)))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    spec = ReplaySpec(dataset=args.dataset, queries=args.queries, batch_size=args.batch_size)
    checkpoints = [q for q in (50, 100, 150) if q <= args.queries]
    for setting in args.settings:
        pool, temperature, *anchor = setting.split(":")
        strategies.Optimizer = functools.partial(Optimizer, kdpp_pool=int(pool), kdpp_temperature=float(temperature))
        method = "tw:kdpp-anchored" if anchor == ["anchor"] else "tw:kdpp"
        regrets = np.array([[rows[q - 1]["regret"] for q in checkpoints]
                            for rows in (replay(method, seed, spec) for seed in args.seeds)])
        print(f"{args.dataset} q={args.batch_size} shortlist {int(pool):4d} T {float(temperature):4.2f}"
              + (" anchored: " if anchor else ": ")
              + "  ".join(f"@{q} {mean:.3f}" for q, mean in zip(checkpoints, regrets.mean(axis=0))), flush=True)


if __name__ == "__main__":
    main()
