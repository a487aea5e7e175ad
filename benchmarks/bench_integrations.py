"""bonas through its integrations vs bonas native vs Optuna's own samplers: NB201 replay regret (issue 23).

Every method searches the 15,625 NAS-Bench-201 cells for the 200-epoch test accuracy (``bonas replay
--objective test``: a mean over training seeds, so noise-free), one table look-up per query, and is scored by
its regret: the table optimum minus the best test accuracy found so far, in percentage points. One function
per method, each ``(seed, queries, dataset) -> [(arch string, objective), ...]`` in query order, registered in
:data:`METHODS`:

* ``bonas-native``: ``bonas replay --methods tw`` itself (:func:`bonas.replay.runner.replay`:
  ``Optimizer(NASBench201Space(), encoding="tw", seed=s, deterministic=True)``, 10 random cells first,
  sequential asks);
* ``bonas-optuna``: the same optimizer settings as :class:`bonas.integrations.optuna.BonasSampler` in an
  Optuna study (``edge_0`` .. ``edge_5``);
* ``optuna-tpe``: ``TPESampler(seed=s, multivariate=True)`` on the same six categorical parameters;
* ``optuna-gp``: ``GPSampler(seed=s)`` likewise (it refits a GP every query: about a second each).

Optuna may propose a cell it has already evaluated: that still counts as a query (it costs a user a training
run). Optuna is not a bonas dependency.

    nice -n 10 python benchmarks/bench_integrations.py --dataset cifar100 --seeds 0-9 --queries 100 \\
        --out benchmarks/results/integrations_cifar100.csv

writes the summary (mean ± standard error of the regret over seeds at 25 / 50 / 100 queries and the mean wall
time per search) to ``--out`` and one row per query to ``<out stem>_trials.csv``. Rows of methods not run this
time are kept from an existing trials file (as are other seeds'), so methods can be run (and added) one at a
time, or side by side in several processes on the same ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import math
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gpytorch.utils.warnings import NumericalWarning

from optuna_peers import parse_seeds  # benchmarks/ is this script's folder, first on sys.path

from bonas.nasbench.nb201 import NASBench201Table, check_dataset
from bonas.replay.report import write_csv
from bonas.replay.strategies import make_strategy
from bonas.spaces.nb201 import NB201_OPS, NASBench201Space

try:
    import optuna

    from bonas.integrations.optuna import NB201_PARAMS, BonasSampler, params_to_arch
except ImportError:
    optuna = None

CHECKPOINTS = (25, 50, 100)
TRIAL_COLUMNS = ("method", "seed", "query", "arch", "objective", "regret", "search_wall_s")
SUMMARY_COLUMNS = ("method", "queries", "n_seeds", "mean_regret", "se_regret", "mean_search_wall_s")
Search = Callable[[int, int, str], list[tuple[str, float]]]


def bonas_native(seed: int, queries: int, dataset: str) -> list[tuple[str, float]]:
    """``bonas replay --methods tw --objective test`` for one seed: the replay's strategy
    (:func:`bonas.replay.strategies.make_strategy`, noise-free) asked one cell at a time, looked up, told."""
    space, table = NASBench201Space(), NASBench201Table(dataset)
    strategy = make_strategy("tw", space, seed, noise_free=True)
    found: list[tuple[str, float]] = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NumericalWarning)  # as a replay does: noise pinned on purpose
        while len(found) < queries:
            archs = strategy.ask(1)
            values = [table.query(arch).test_accuracy for arch in archs]
            strategy.tell(archs, values)
            found += [(space.to_str(arch), value) for arch, value in zip(archs, values)]
    return found


def _optuna_study(sampler: Any, queries: int, dataset: str) -> list[tuple[str, float]]:
    """An Optuna study maximising the table's test accuracy over the six edge ops (``NB201_PARAMS``)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    space, table = NASBench201Space(), NASBench201Table(dataset)
    found: list[tuple[str, float]] = []

    def objective(trial: optuna.Trial) -> float:
        arch = params_to_arch(space, {name: trial.suggest_categorical(name, NB201_OPS) for name in NB201_PARAMS})
        value = table.query(arch).test_accuracy
        found.append((space.to_str(arch), value))
        return value

    study = optuna.create_study(direction="maximize", sampler=sampler)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NumericalWarning)  # as a replay does: noise pinned on purpose
        study.optimize(objective, n_trials=queries)
    return found


def bonas_optuna(seed: int, queries: int, dataset: str) -> list[tuple[str, float]]:
    """:class:`~bonas.integrations.optuna.BonasSampler` with the replay's optimizer settings."""
    sampler = BonasSampler(NASBench201Space(), encoding="tw", seed=seed, deterministic=True)
    return _optuna_study(sampler, queries, dataset)


def optuna_tpe(seed: int, queries: int, dataset: str) -> list[tuple[str, float]]:
    """Optuna's multivariate TPE on the six edges."""
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    return _optuna_study(sampler, queries, dataset)


def optuna_gp(seed: int, queries: int, dataset: str) -> list[tuple[str, float]]:
    """Optuna's GPSampler on the six edges."""
    sampler = optuna.samplers.GPSampler(seed=seed)
    return _optuna_study(sampler, queries, dataset)


METHODS: dict[str, Search] = {
    "bonas-native": bonas_native,
    "bonas-optuna": bonas_optuna,
    "optuna-tpe": optuna_tpe,
    "optuna-gp": optuna_gp,
}


def run_method(method: str, seed: int, queries: int, dataset: str) -> list[dict[str, Any]]:
    """One search's rows (:data:`TRIAL_COLUMNS`), its regret against the table's best test accuracy."""
    optimum = NASBench201Table(dataset).optimum("test_accuracy")
    start = time.perf_counter()
    found = METHODS[method](seed, queries, dataset)
    wall = time.perf_counter() - start
    if len(found) != queries:
        raise RuntimeError(f"{method} seed {seed} made {len(found)} queries, not {queries}")
    best = np.maximum.accumulate([value for _, value in found])
    return [{"method": method, "seed": seed, "query": query, "arch": arch, "objective": value,
             "regret": optimum - best[query - 1], "search_wall_s": wall}
            for query, (arch, value) in enumerate(found, start=1)]


def summarize(rows: Sequence[dict[str, Any]], checkpoints: Sequence[int] = CHECKPOINTS) -> list[dict[str, Any]]:
    """Mean and standard error of the regret over seeds per method and checkpoint, with the mean wall time."""
    runs: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        runs[row["method"]][int(row["seed"])].append(row)
    summary = []
    order = {method: position for position, method in enumerate(METHODS)}
    for method, seeds in sorted(runs.items(), key=lambda item: order.get(item[0], len(order))):
        regrets = np.array([[float(row["regret"]) for row in seed_rows] for seed_rows in seeds.values()])
        walls = [float(seed_rows[0]["search_wall_s"]) for seed_rows in seeds.values()]
        n_seeds, n_queries = regrets.shape
        for queries in [q for q in checkpoints if q <= n_queries]:
            column = regrets[:, queries - 1]
            se = float(column.std(ddof=1) / math.sqrt(n_seeds)) if n_seeds > 1 else float("nan")
            summary.append({"method": method, "queries": queries, "n_seeds": n_seeds,
                            "mean_regret": float(column.mean()), "se_regret": se,
                            "mean_search_wall_s": float(np.mean(walls))})
    return summary


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def save(out: Path, trials_path: Path, own: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge this run's rows into the trials file and rewrite the summary; every row of the file returned.

    Rows of (method, seed) searches this run did not make are kept, under a file lock, so that runs can be split
    by method or seed, resumed, and run side by side on the same ``--out``.
    """
    searches = {(row["method"], int(row["seed"])) for row in own}
    folder = os.open(trials_path.parent, os.O_RDONLY)  # the lock is on the folder: the files are replaced
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        rows = [row for row in _read_rows(trials_path) if (row["method"], int(row["seed"])) not in searches]
        rows += own
        write_csv(trials_path, rows, TRIAL_COLUMNS)
        write_csv(out, summarize(rows), SUMMARY_COLUMNS)
    finally:
        os.close(folder)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-9"))
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/integrations_cifar100.csv"))
    args = parser.parse_args()
    if optuna is None:
        raise SystemExit("benchmarks/bench_integrations.py needs Optuna, which bonas does not depend on: "
                         "pip install optuna")
    dataset = check_dataset(args.dataset)
    trials_path = args.out.with_name(f"{args.out.stem}_trials.csv")
    methods = list(dict.fromkeys(args.methods))
    own: list[dict[str, Any]] = []
    start = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for method in methods:
        for seed in args.seeds:
            own += run_method(method, seed, args.queries, dataset)
            print(f"[{time.perf_counter() - start:7.1f} s] {method} seed {seed}: regret {own[-1]['regret']:.2f} "
                  f"after {args.queries} queries, {own[-1]['search_wall_s']:.1f} s", flush=True)
            rows = save(args.out, trials_path, own)  # after every search: an interrupted run keeps its rows
    print(f"NB201 {dataset}, 200-epoch test accuracy, regret in percentage points (mean ± s.e. over seeds)")
    for entry in summarize(rows):
        print(f"{entry['method']:>14} @{entry['queries']:>4}: {entry['mean_regret']:.3f} ± {entry['se_regret']:.3f} "
              f"({entry['n_seeds']} seeds, {entry['mean_search_wall_s']:.1f} s per search)")
    print(f"wrote {args.out} and {trials_path}")


if __name__ == "__main__":
    main()
