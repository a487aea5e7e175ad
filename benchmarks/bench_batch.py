"""Time a batch ``ask(16)`` over the full 15,625-cell NAS-Bench-201 pool, per batch method.

The TW-GP optimizer (``candidates="all"``: every unseen canonical class of the
space is a candidate) is told ``n`` random CIFAR-10 cells; then ``ask(q)`` is
timed for each batch method: the GP fit and the selection from the pool
(encoding of the pool, acquisition values, shortlist, posterior covariance,
k-DPP). A cold GP fit on an identical recipe (TW encoding, TW kernel, standardised outcomes, noise
pinned) is timed alone for reference. The first ``ask`` of an optimizer also encodes the pool (cached afterwards),
so two asks are timed: the first, and the next one with the first batch pending (its fit warm-started), which is
what every later ask of a run costs.

    python benchmarks/bench_batch.py --n 100 --q 16
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bonas.batch import BATCH_RULES
from bonas.nasbench import NASBench201Table
from bonas.optimizer import Optimizer
from bonas.spaces import NASBench201Space
from bonas.surrogate import Surrogate


def told_optimizer(space: NASBench201Space, table: NASBench201Table, n: int) -> Optimizer:
    """A TW-GP optimizer over the whole space, told ``n`` random cells of distinct classes (seeded by ``n``)."""
    opt = Optimizer(space, encoding="tw", seed=0, deterministic=True, candidates="all")
    cells = list(space.enumerate())
    seen: set = set()
    for index in np.random.default_rng(n).permutation(len(cells)):
        key = space.canonical_key(cells[index])
        if key not in seen and len(seen) < n:
            seen.add(key)
            opt.attach(cells[index], table.query(cells[index]).test_accuracy)
    return opt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="observations before the timed ask")
    parser.add_argument("--q", type=int, default=16, help="batch size")
    parser.add_argument("--repeats", type=int, default=3, help="timed asks per method; the median is printed")
    args = parser.parse_args()
    space = NASBench201Space()
    table = NASBench201Table("cifar10")
    fit_seconds = []
    for _ in range(args.repeats):
        opt = told_optimizer(space, table, args.n)
        surrogate = Surrogate.for_encoding("tw", space, deterministic=True)
        start = time.perf_counter()
        surrogate.fit([trial.arch for trial in opt.completed], [trial.value for trial in opt.completed])
        fit_seconds.append(time.perf_counter() - start)
    fit = float(np.median(fit_seconds))
    print(f"GP fit alone at n={args.n}: {fit:.3f} s (median of {args.repeats})", flush=True)
    for batch in BATCH_RULES:
        first, later = [], []
        for _ in range(args.repeats):
            opt = told_optimizer(space, table, args.n)
            for times in (first, later):
                start = time.perf_counter()
                trials = opt.ask(args.q, batch=batch)
                times.append(time.perf_counter() - start)
                assert len({trial.arch_str for trial in trials}) == args.q
        first_ask, later_ask = float(np.median(first)), float(np.median(later))
        print(f"ask({args.q}, batch={batch!r:20s}) over {len(list(space.enumerate())):,} cells at n={args.n}: "
              f"first {first_ask:.3f} s (encodes the pool, once per optimizer), next {later_ask:.3f} s (warm-started "
              f"fit included, the first batch pending)", flush=True)

if __name__ == "__main__":
    main()
