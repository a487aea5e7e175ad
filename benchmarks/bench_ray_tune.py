"""bonas through Ray Tune (:class:`~bonas.integrations.ray_tune.BonasSearch`) vs bonas native, on the NB201 replay.

NAS-Bench-201 CIFAR-100, 200-epoch test accuracy, ``--queries`` cells per seed. Both run the replay's ``tw``
method (:func:`bonas.replay.strategies.make_strategy`: TW encoding, LogEI, ``deterministic=True`` for the noise-free
table, ``n_initial=10``, one cell at a time). *native* asks and tells the optimizer in a loop, as ``bonas replay``
does; *tune* runs a ``tune.Tuner`` with ``BonasSearch`` under Tune's default FIFO scheduler (every trial completes),
``max_concurrent_trials=1`` (sequential, as the replay) and a trainable that reports the cell's test accuracy at
once. Same seed, same asks, so the two should propose the same cells in the same order; the difference is Tune's
overhead per trial. Regret is the table optimum minus the best test accuracy found (percentage points), mean ± s.e.
over seeds at 25, 50 and ``--queries``; wall time per run. Writes one CSV row per method and query count to
``--csv`` (rewritten after every seed) and a line per run to stdout. One Ray instance with ``--cpus`` CPUs serves
every Tune run. Usage: ``nice -n 10 python benchmarks/bench_ray_tune.py --seeds 10 --queries 100``.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import ray
from gpytorch.utils.warnings import NumericalWarning
from ray import tune

from bonas.integrations.ray_tune import BonasSearch
from bonas.nasbench import NASBench201Table
from bonas.replay.strategies import make_strategy
from bonas.spaces import NASBench201Space

TABLE = NASBench201Table("cifar100")
SPACE = NASBench201Space()
CHECKPOINTS = (25, 50)


def trainable(config: dict) -> None:
    """One report: the cell's 200-epoch CIFAR-100 test accuracy."""
    tune.report({"accuracy": TABLE.query(config["arch"]).test_accuracy})


def native(seed: int, queries: int) -> list[str]:
    """The replay's ``tw`` strategy asked and told one cell at a time; the cells in the order asked."""
    strategy = make_strategy("tw", SPACE, seed, noise_free=True)
    for _ in range(queries):
        (arch,) = strategy.ask(1)
        strategy.tell([arch], [TABLE.query(arch).test_accuracy])
    return [trial.arch_str for trial in strategy.optimizer.trials]


def through_tune(seed: int, queries: int, storage: Path) -> list[str]:
    """The same optimizer settings inside ``BonasSearch``, run by a FIFO ``tune.Tuner``; the cells in the order
    asked (bonas trial ids)."""
    search = BonasSearch(SPACE, metric="accuracy", mode="max", encoding="tw", seed=seed, deterministic=True)
    tuner = tune.Tuner(trainable, tune_config=tune.TuneConfig(search_alg=search, num_samples=queries,
                                                              max_concurrent_trials=1, reuse_actors=True),
                       run_config=tune.RunConfig(storage_path=str(storage), name=f"seed{seed}", verbose=0))
    tuner.fit()
    trials = search.optimizer.trials
    if len(search.optimizer.completed) != queries:
        raise RuntimeError(f"seed {seed}: {len(search.optimizer.completed)} of {len(trials)} Tune trials completed")
    return [trial.arch_str for trial in trials]


def regret(archs: list[str], optimum: float) -> np.ndarray:
    """Table optimum minus the best test accuracy among the first k cells, for k = 1 .. len(archs)."""
    return optimum - np.maximum.accumulate([TABLE.query(arch).test_accuracy for arch in archs])


def summarise(curves: dict[str, list[np.ndarray]], walls: dict[str, list[float]], queries: int) -> list[dict]:
    rows = []
    for method, runs in curves.items():
        regrets = np.array(runs)
        for count in (*[c for c in CHECKPOINTS if c < queries], queries):
            column = regrets[:, count - 1]
            rows.append({"method": method, "queries": count, "n_seeds": len(column),
                         "mean_regret": round(float(column.mean()), 4),
                         "se_regret": round(float(column.std(ddof=1) / np.sqrt(len(column))), 4)
                         if len(column) > 1 else "",
                         "mean_wall_s": round(float(np.mean(walls[method])), 1),
                         "se_wall_s": round(float(np.std(walls[method], ddof=1) / np.sqrt(len(column))), 1)
                         if len(column) > 1 else ""})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 .. seeds-1")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/ray_tune_cifar100.csv"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=NumericalWarning)  # the noise is pinned on purpose, as in replays
    optimum = TABLE.optimum()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    curves: dict[str, list[np.ndarray]] = {"native": [], "tune": []}
    walls: dict[str, list[float]] = {"native": [], "tune": []}
    same = 0
    with tempfile.TemporaryDirectory(prefix="bench-ray-tune-") as storage:
        for seed in range(args.seeds):
            start = time.perf_counter()
            native_archs = native(seed, args.queries)
            walls["native"].append(time.perf_counter() - start)
            start = time.perf_counter()
            tune_archs = through_tune(seed, args.queries, Path(storage))
            walls["tune"].append(time.perf_counter() - start)
            same += native_archs == tune_archs
            for method, archs in (("native", native_archs), ("tune", tune_archs)):
                curves[method].append(regret(archs, optimum))
                print(f"seed {seed} {method}: regret @{args.queries} {curves[method][-1][-1]:.3f}, "
                      f"{walls[method][-1]:.1f} s", flush=True)
            print(f"seed {seed}: same cells in the same order: {native_archs == tune_archs}", flush=True)
            rows = summarise(curves, walls, args.queries)
            args.csv.parent.mkdir(parents=True, exist_ok=True)
            with open(args.csv, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    ray.shutdown()
    print(f"{same} of {args.seeds} seeds asked the same cells in the same order through Tune and natively")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
