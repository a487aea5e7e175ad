"""Time ``Optimizer.ask()`` on NAS-Bench-201 at 50, 100 and 200 observations, and a 150-query replay.

Each encoding's optimizer is told ``n`` random cells of the CIFAR-10 table,
then one ``ask()`` is timed (GP fit + candidate pool + acquisition). The replay
runs 150 sequential queries of the TW-GP on the 200-epoch test accuracy.
Usage: ``python benchmarks/bench_ask.py [--candidates local|all]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from gpytorch.utils.warnings import NumericalWarning

from bonas.nasbench import NASBench201Table
from bonas.optimizer import Optimizer
from bonas.spaces import NASBench201Space


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", default="local", choices=("local", "all"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=NumericalWarning)  # pinned-noise notices, one per fit
    space = NASBench201Space()
    table = NASBench201Table("cifar10")
    cells = list(space.enumerate())
    for encoding in ("tw", "path", "wl", "adjacency"):
        for n in (50, 100, 200):
            opt = Optimizer(space, encoding=encoding, seed=0, deterministic=True, candidates=args.candidates)
            seen = set()
            for index in np.random.default_rng(n).permutation(len(cells)):
                key = space.canonical_key(cells[index])
                if key not in seen and len(seen) < n:
                    seen.add(key)
                    opt.attach(cells[index], table.query(cells[index]).test_accuracy)
            opt.ask(1)
            start = time.perf_counter()
            opt.ask(1)
            print(f"ask() {encoding:9s} candidates={args.candidates} n={n:3d}: {time.perf_counter() - start:.3f} s "
                  f"(fit: {opt.last_fit})", flush=True)
    opt = Optimizer(space, encoding="tw", seed=0, deterministic=True, candidates=args.candidates)
    start = time.perf_counter()
    while len(opt.completed) < 150:
        trial = opt.ask(1)[0]
        opt.tell(trial, table.query(trial.arch).test_accuracy)
    regret = table.optimum() - opt.best_trial.value
    print(f"150-query TW-GP replay on cifar10: {time.perf_counter() - start:.1f} s, final regret {regret:.3f}")


if __name__ == "__main__":
    main()
