"""Run replays: one (method, seed) at a time, or many in parallel processes with a progress bar."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bonas.replay.benchmark import ReplaySpec, make_benchmark
from bonas.replay.strategies import make_strategy

TRIAL_COLUMNS = ("method", "seed", "query", "arch", "objective", "best_objective", "best_reported", "regret",
                 "step_wall_s", "sim_time_s")


def replay(method: str, seed: int, spec: ReplaySpec) -> list[dict[str, Any]]:
    """One search of ``spec.queries`` table look-ups; one row per query (see ``TRIAL_COLUMNS``).

    ``best_reported`` is the reported metric of the best-by-objective
    architecture so far and ``regret`` the table optimum minus it;
    ``step_wall_s`` is the wall time of the ask/evaluate/tell step that made
    the query (shared by a batch); ``sim_time_s`` the summed simulated training
    time, empty when the table has none.
    """
    benchmark = make_benchmark(spec)
    strategy = make_strategy(method, benchmark.space, seed, noise_free=benchmark.noise_free)
    rows: list[dict[str, Any]] = []
    best_objective, best_reported, sim_time = -np.inf, float("nan"), 0.0
    while len(rows) < spec.queries:
        start = time.perf_counter()
        archs = strategy.ask(min(spec.batch_size, spec.queries - len(rows)))
        values = [benchmark.objective(arch) for arch in archs]
        strategy.tell(archs, values)
        step_wall = time.perf_counter() - start
        for arch, value in zip(archs, values):
            if value > best_objective:
                best_objective, best_reported = value, benchmark.reported(arch)
            train_time = benchmark.train_time(arch)
            sim_time = sim_time + train_time if train_time is not None else float("nan")
            rows.append({
                "method": method, "seed": seed, "query": len(rows) + 1, "arch": benchmark.space.to_str(arch),
                "objective": value, "best_objective": best_objective, "best_reported": best_reported,
                "regret": benchmark.optimum - best_reported, "step_wall_s": step_wall, "sim_time_s": sim_time,
            })
    return rows


def _replay_in_worker(method: str, seed: int, spec_fields: dict[str, Any]) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    return replay(method, seed, ReplaySpec(**spec_fields))


def run_replays(
    spec: ReplaySpec,
    methods: Sequence[str],
    seeds: Sequence[int],
    jobs: int = 1,
    show_progress: bool = True,
) -> list[dict[str, Any]]:
    """Every (method, seed) replay, ``jobs`` processes at a time; rows ordered by method, seed, query.

    Each replay is seeded by its seed alone, so the rows do not depend on
    ``jobs`` or on the order in which processes finish.
    """
    make_benchmark(spec)
    tasks = [(method, seed) for method in methods for seed in seeds]
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, disable=not show_progress) as progress:
        bar = progress.add_task(f"replay {spec.space} {spec.dataset}", total=len(tasks))
        if jobs <= 1:
            for method, seed in tasks:
                progress.update(bar, description=f"{method} seed {seed}")
                results[method, seed] = replay(method, seed, spec)
                progress.advance(bar)
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = {pool.submit(_replay_in_worker, method, seed, asdict(spec)): (method, seed)
                           for method, seed in tasks}
                for future in as_completed(futures):
                    method, seed = futures[future]
                    results[method, seed] = future.result()
                    progress.update(bar, description=f"{method} seed {seed} done")
                    progress.advance(bar)
    return [row for task in tasks for row in results[task]]
