"""Per-trial overhead of :class:`bonas.LocalBackend`: NAS-Bench-201 table look-ups through its workers vs inline.

Submits ``--trials`` look-ups (``NASBench201Table("cifar10").query(arch).test_accuracy``
of random cells) to a fresh ``LocalBackend(--workers)`` at once and waits
for all of them (``cold``: starting the workers, importing bonas and torch
there and loading the table included), then submits the same look-ups again
to the same backend (``warm``: what each further trial costs). The look-up
itself takes microseconds, so the wall time is what the backend costs. Prints
wall time, wall time per trial and overhead per trial (minus the inline
look-up) for each of ``--repeats`` runs. Usage: ``nice python
benchmarks/bench_local_backend.py --trials 24 --workers 2 --repeats 3``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bonas.backends import LocalBackend
from bonas.nasbench import NASBench201Table
from bonas.spaces import NASBench201Space


def look_up(arch: object) -> float:
    """The evaluation: one table look-up (the table is loaded once per process)."""
    return NASBench201Table("cifar10").query(arch).test_accuracy


def evaluate_all(backend: LocalBackend, archs: list) -> None:
    """Submit ``archs`` to ``backend`` and wait for every outcome; raise if any failed."""
    for trial_id, arch in enumerate(archs):
        backend.submit(trial_id, look_up, arch)
    outcomes = []
    while backend.n_running:
        outcomes += backend.wait()
    failed = [outcome.error for outcome in outcomes if outcome.error is not None]
    if len(outcomes) != len(archs) or failed:
        raise RuntimeError(f"{len(outcomes)} outcomes for {len(archs)} trials, failures: {failed[:1]}")


def through_backend(archs: list, n_workers: int) -> tuple[float, float]:
    """Wall seconds to evaluate ``archs`` on a fresh ``LocalBackend(n_workers)`` (cold), then again on it (warm)."""
    start = time.perf_counter()
    with LocalBackend(n_workers=n_workers) as backend:
        evaluate_all(backend, archs)
        cold = time.perf_counter() - start
        evaluate_all(backend, archs)
        warm = time.perf_counter() - start - cold
    return cold, warm


def inline(archs: list) -> float:
    """Wall seconds to evaluate ``archs`` in this process (the table already loaded)."""
    look_up(archs[0])
    start = time.perf_counter()
    for arch in archs:
        look_up(arch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    archs = NASBench201Space().sample(args.trials, np.random.default_rng(args.seed))
    inline_per_trial = inline(archs) / args.trials
    print(f"{args.trials} NB201 look-ups, LocalBackend({args.workers}); inline {inline_per_trial * 1e6:.1f} µs a trial")
    print("| run | cold: wall (s) | per trial (ms) | overhead (ms) | warm: wall (s) | per trial (ms) | overhead (ms) |")
    print("|---|---|---|---|---|---|---|")
    for repeat in range(args.repeats):
        walls = through_backend(archs, args.workers)
        per_trial = [wall / args.trials for wall in walls]
        cells = [f"{wall:.3f} | {each * 1e3:.2f} | {(each - inline_per_trial) * 1e3:.2f}"
                 for wall, each in zip(walls, per_trial)]
        print(f"| {repeat + 1} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
