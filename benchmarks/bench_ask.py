"""Time ``Optimizer.ask()`` on NAS-Bench-201 as the number of results grows, each ask after a tell.

For each ``n`` an optimizer (TW-GP, learned noise) is given ``n`` random cells (one per isomorphism class) with
their CIFAR-100 12-epoch validation accuracy by ``attach``, as a search warm-started from an earlier study or a
cluster's journal is; then it asks one cell (timed: the first ask after attaching), is told its value, asks one
(timed), is told it, and asks a batch of 8 (timed), so that every timed ask refits the GP on new data. With
``--full-up-to N`` the sizes up to ``N`` are also timed with every result in the hyperparameter fit
(``max_fit_points=None``, the behaviour before the subset fit), the ratio printed from the same run. Last, a
150-query sequential replay of the TW-GP on the 200-epoch test accuracy (CIFAR-10, seed 0), timed.
Usage: ``python benchmarks/bench_ask.py [--sizes 100 200 500 1000 2000 5000] [--full-up-to 1000] [--batch RULE]
[--no-replay]``; ``--batch`` times the ask(8) with another batch rule than the k-DPP.
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


def timed_asks(space: NASBench201Space, table: NASBench201Table, cells: list, n: int,
               max_fit_points: int | None, batch: str = "kdpp") -> tuple[float, float, float]:
    """Seconds of the first ask after attaching ``n`` results, of an ask(1) after a tell and an ask(8) (by the
    batch rule ``batch``) after one."""
    opt = Optimizer(space, encoding="tw", seed=0, max_fit_points=max_fit_points)
    for arch in cells[:n]:
        opt.attach(arch, table.query(arch).val_accuracy_12ep)
    seconds = []
    for size in (1, 1, 8):
        start = time.perf_counter()
        trials = opt.ask(size, batch=batch if size > 1 else None)
        seconds.append(time.perf_counter() - start)
        for trial in trials:
            opt.tell(trial, table.query(trial.arch).val_accuracy_12ep)
    return seconds[0], seconds[1], seconds[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 500, 1000, 2000, 5000])
    parser.add_argument("--full-up-to", type=int, default=1000,
                        help="also time sizes up to this with the hyperparameters fitted on every result")
    parser.add_argument("--batch", default="kdpp", help="the batch rule of the timed ask(8) (default: kdpp)")
    parser.add_argument("--no-replay", action="store_true", help="skip the closing 150-query replay")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=NumericalWarning)  # pinned-noise notices, one per fit
    space = NASBench201Space()
    table = NASBench201Table("cifar100")
    classes: dict = {}
    for arch in space.enumerate():
        classes.setdefault(space.canonical_key(arch), arch)
    cells = [list(classes.values())[i] for i in np.random.default_rng(0).permutation(len(classes))]
    default = Optimizer(space).settings.max_fit_points
    print(f"results | first ask after attach | ask(1) after a tell | ask(8) by {args.batch} after a tell | fit on")
    for n in args.sizes:
        for limit in (default, None) if n <= args.full_up_to and n > default else (default,):
            first, one, eight = timed_asks(space, table, cells, n, limit, args.batch)
            print(f"{n:5d} | {first:6.2f} s | {one:6.2f} s | {eight:6.2f} s | "
                  f"{'all results' if limit is None or n <= limit else f'{limit} of them'}", flush=True)
    if args.no_replay:
        return
    opt = Optimizer(space, encoding="tw", seed=0, deterministic=True)
    test_table = NASBench201Table("cifar10")
    start = time.perf_counter()
    while len(opt.completed) < 150:
        trial = opt.ask(1)[0]
        opt.tell(trial, test_table.query(trial.arch).test_accuracy)
    regret = test_table.optimum() - opt.best_trial.value
    print(f"150-query TW-GP replay on cifar10: {time.perf_counter() - start:.1f} s, final regret {regret:.3f}")


if __name__ == "__main__":
    main()
