"""Optuna's multi-objective samplers as peers on NAS-Bench-201 (issue 21): hypervolume regret per query.

Each (sampler, seed) is one Optuna study over the six NB201 edges as categorical
parameters (``edge_0`` .. ``edge_5``, each one of the five NB201 ops, edges in
the standard string's order, as :class:`bonas.spaces.nb201.NASBench201Space`
holds a cell), maximising or minimising each objective in its own units
(accuracy up; latency, params, FLOPs down), evaluated by table look-up. The
regret after each query is the hypervolume regret of
:mod:`bonas.replay.pareto` (table-normalised, the table's worst corner as the
reference point), so it compares directly with bonas's multi-objective replays
on the same seeds and budget.

Optuna may propose a cell already evaluated, or one computationally equivalent
to it (same ``canonical_key``): it still counts as a query, since that is what
it costs a user, and ``trials.csv`` marks it ``duplicate``.

Samplers: ``nsga2`` (``NSGAIISampler(seed=s)``), ``tpe`` (``TPESampler(seed=s,
multivariate=True)``, multi-objective TPE), ``gp`` (``GPSampler(seed=s)``, skipped
with a message where the installed Optuna's GPSampler is single-objective) and
``random`` (``RandomSampler(seed=s)``). NSGAIISampler keeps Optuna's default population of 50, so its first
50 queries are the cells RandomSampler draws with the same seed. GPSampler refits a GP at every query: about
a second per query on one core, far slower than the others. Optuna is not a bonas dependency.

    python benchmarks/optuna_peers.py --dataset cifar10 --objectives accuracy,latency:titan_rtx_1 \\
        --samplers nsga2 tpe gp --seeds 0-29 --queries 150 --jobs 2 --out benchmarks/results/optuna_peers

writes ``trials.csv`` (one row per query), ``summary.csv`` (mean, median and standard error of the
hypervolume regret over seeds at 25 / 50 / 100 / 150 queries and the last) and, for two objectives,
``fronts.png``.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bonas.nasbench.nb201 import NASBench201Table, check_dataset
from bonas.replay.front_plot import plot_fronts
from bonas.replay.pareto import (
    HypervolumeScale,
    hypervolume_trajectory,
    is_negated,
    nb201_objectives,
)
from bonas.replay.report import write_csv
from bonas.spaces.nb201 import NB201_OPS, NASBench201Space

try:
    import optuna

    from bonas.integrations.optuna import NB201_PARAMS, params_to_arch
except ImportError:
    optuna = None

CHECKPOINTS = (25, 50, 100, 150)
SUMMARY_COLUMNS = ("method", "queries", "n_seeds", "mean_hv_regret", "median_hv_regret", "se_hv_regret",
                   "mean_duplicates")
SAMPLERS: dict[str, Callable[[int], Any]] = {
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True),
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}


def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


@lru_cache(maxsize=4)
def _objectives(dataset: str, objectives: tuple[str, ...]) -> tuple[np.ndarray, list[str], HypervolumeScale]:
    Y, labels = nb201_objectives(dataset, objectives)
    return Y, labels, HypervolumeScale(Y)


def gp_multi_objective_error() -> str | None:
    """``None`` if the installed GPSampler runs a two-objective study, else why not (from a 4-trial probe)."""
    _quiet_optuna()
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.GPSampler(seed=0, n_startup_trials=2))
    try:
        study.optimize(lambda trial: (trial.suggest_categorical("x", [0, 1, 2]), trial.suggest_float("y", 0, 1)),
                       n_trials=4)
    except (ValueError, NotImplementedError) as error:  # how an older, single-objective GPSampler refuses
        return f"{type(error).__name__}: {error}"
    return None


def run_study(sampler: str, seed: int, dataset: str, objectives: tuple[str, ...], queries: int) -> list[dict]:
    """One Optuna study of ``queries`` table look-ups; one row per query."""
    _quiet_optuna()
    Y, _, scale = _objectives(dataset, objectives)
    table, space = NASBench201Table(dataset), NASBench201Space()
    signs = np.array([-1.0 if is_negated(name) else 1.0 for name in objectives])
    study = optuna.create_study(directions=["minimize" if is_negated(name) else "maximize" for name in objectives],
                                sampler=SAMPLERS[sampler](seed))
    rows, points, seen = [], [], set()
    for query in range(1, queries + 1):
        trial = study.ask()
        arch = params_to_arch(space, {name: trial.suggest_categorical(name, NB201_OPS) for name in NB201_PARAMS})
        point = Y[table.index(arch)]
        values = signs * point
        study.tell(trial, values.tolist())
        key = space.canonical_key(arch)
        rows.append({"method": f"optuna-{sampler}", "seed": seed, "query": query, "arch": space.to_str(arch),
                     **dict(zip(objectives, values.tolist())), "duplicate": key in seen})
        seen.add(key)
        points.append(point)
    for row, regret in zip(rows, hypervolume_trajectory(scale, np.array(points))):
        row["hv_regret"] = float(regret)
    return rows


def summarize(rows: Sequence[dict[str, Any]], checkpoints: Sequence[int] = CHECKPOINTS) -> list[dict[str, Any]]:
    """Mean, median and standard error of hypervolume regret over seeds per method and checkpoint (and the last)."""
    curves: dict[str, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        curves[row["method"]][row["seed"]].append(row)
    summary = []
    for method, seeds in curves.items():
        regrets = np.array([[row["hv_regret"] for row in runs] for runs in seeds.values()])
        duplicates = np.cumsum([[row["duplicate"] for row in runs] for runs in seeds.values()], axis=1)
        n_seeds, n_queries = regrets.shape
        for queries in sorted({q for q in checkpoints if q <= n_queries} | {n_queries}):
            column = regrets[:, queries - 1]
            se = float(column.std(ddof=1) / math.sqrt(n_seeds)) if n_seeds > 1 else float("nan")
            summary.append({"method": method, "queries": queries, "n_seeds": n_seeds,
                            "mean_hv_regret": float(column.mean()), "median_hv_regret": float(np.median(column)),
                            "se_hv_regret": se, "mean_duplicates": float(duplicates[:, queries - 1].mean())})
    return summary


def parse_seeds(text: str) -> list[int]:
    """``"0-29"``, ``"3"`` or ``"0,4,7"`` as a list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        try:
            seeds += list(range(int(first), int(last or first) + 1))
        except ValueError:
            raise argparse.ArgumentTypeError(f"cannot read seeds {text!r}; expected e.g. 0-29, 3 or 0,4,7") from None
    return seeds


def run_all(tasks: Sequence[tuple[str, int]], dataset: str, objectives: tuple[str, ...], queries: int,
            jobs: int) -> list[dict]:
    """The rows of every (sampler, seed) task, in task order, over ``jobs`` worker processes."""
    results: dict[tuple[str, int], list[dict]] = {}
    start = time.perf_counter()
    if jobs <= 1:
        for sampler, seed in tasks:
            results[sampler, seed] = run_study(sampler, seed, dataset, objectives, queries)
            print(f"[{time.perf_counter() - start:7.1f} s] {sampler} seed {seed} done", flush=True)
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(run_study, sampler, seed, dataset, objectives, queries): (sampler, seed)
                       for sampler, seed in tasks}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                print(f"[{time.perf_counter() - start:7.1f} s] {' seed '.join(map(str, futures[future]))} done",
                      flush=True)
    return [row for task in tasks for row in results[task]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--objectives", default="accuracy,latency:titan_rtx_1",
                        help="comma-separated: accuracy, latency:<device>, params, flops")
    parser.add_argument("--samplers", nargs="+", choices=list(SAMPLERS), default=["nsga2", "tpe", "gp"])
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-29"))
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if optuna is None:
        raise SystemExit("benchmarks/optuna_peers.py needs Optuna, which bonas does not depend on: pip install optuna")
    try:
        dataset, objectives = check_dataset(args.dataset), tuple(args.objectives.split(","))
        Y, labels, scale = _objectives(dataset, objectives)
    except (KeyError, ValueError) as error:
        parser.error(error.args[0])
    samplers = list(dict.fromkeys(args.samplers))
    if "gp" in samplers and (error := gp_multi_objective_error()) is not None:
        print(f"skipping gp: Optuna {optuna.__version__}'s GPSampler does not run multi-objective studies ({error})")
        samplers.remove("gp")
    elif "gp" in samplers:
        print(f"Optuna {optuna.__version__}'s GPSampler supports multi-objective studies")
    print(f"NB201 {dataset}, objectives {labels}: true hypervolume {scale.true_hypervolume:.4f} "
          f"(normalised, reference = the table's worst corner)")
    rows = run_all([(sampler, seed) for sampler in samplers for seed in args.seeds], dataset, objectives,
                   args.queries, args.jobs)
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "trials.csv", rows, ("method", "seed", "query", "arch", *objectives, "duplicate",
                                              "hv_regret"))
    summary = summarize(rows)
    write_csv(args.out / "summary.csv", summary, SUMMARY_COLUMNS)
    if len(objectives) == 2:
        found = defaultdict(list)
        for row in rows:
            found[row["method"]].append([row[name] for name in objectives])
        signs = np.array([-1.0 if is_negated(name) else 1.0 for name in objectives])
        plot_fronts({method: np.array(points) * signs for method, points in found.items()}, Y, labels,
                    args.out / "fronts.png", f"NB201 {dataset}: Optuna samplers, {len(args.seeds)} seeds, "
                    f"{args.queries} queries")
    for entry in summary:
        print(f"{entry['method']:>14} @{entry['queries']:>4}: hv regret {entry['mean_hv_regret']:.4f} "
              f"± {entry['se_hv_regret']:.4f} (median {entry['median_hv_regret']:.4f}; "
              f"{entry['mean_duplicates']:.1f} duplicate queries)")
    print(f"wrote {args.out / 'trials.csv'}, {args.out / 'summary.csv'}"
          + (f", {args.out / 'fronts.png'}" if len(objectives) == 2 else ""))


if __name__ == "__main__":
    main()
