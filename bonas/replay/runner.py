"""Run replays: one (method, seed) at a time, or many in parallel processes with a progress bar."""

from __future__ import annotations

import heapq
import multiprocessing
import signal
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np
import torch
from gpytorch.utils.warnings import NumericalWarning

from bonas.backends import Backend, LocalBackend, RayBackend
from bonas.interrupts import remembered_interrupts
from bonas.progress import Progress
from bonas.replay.benchmark import ReplayBenchmark, ReplaySpec, TableObjective, make_benchmark
from bonas.replay.fidelity import MultiFidelitySpec, fidelity_replay, fidelity_table
from bonas.replay.multi import MultiObjectiveSpec, multi_objective_replay, multi_objective_table
from bonas.replay.strategies import Strategy, make_strategy

BACKENDS = ("inline", "local", "ray")
"""Where a replay's table look-ups run: in the replay's process, in worker processes, or as Ray tasks."""


def make_backend(name: str, n_workers: int = 1, ray_address: str | None = None) -> Backend | None:
    """The backend a replay evaluates on; ``None`` for ``"inline"`` (plain function calls)."""
    if name == "inline":
        return None
    if name == "local":
        return LocalBackend(n_workers=n_workers)
    if name == "ray":
        return RayBackend(address=ray_address)
    raise ValueError(f"unknown replay backend {name!r}; expected one of {list(BACKENDS)}")


def evaluate_on(backend: Backend, spec: ReplaySpec, archs: Sequence[Any]) -> list[float]:
    """The objective of each of ``archs``, evaluated concurrently on ``backend``, in the order given."""
    objective = TableObjective(spec)
    for index, arch in enumerate(archs):
        backend.submit(index, objective, arch)
    values: dict[int, float] = {}
    while len(values) < len(archs):
        for outcome in backend.wait():
            if outcome.error is not None:
                raise RuntimeError(f"table look-up of {archs[outcome.trial_id]} failed: {outcome.error}")
            values[outcome.trial_id] = float(outcome.value)
    return [values[index] for index in range(len(archs))]


def replay(method: str, seed: int, spec: ReplaySpec, backend: Backend | None = None) -> list[dict[str, Any]]:
    """One search of ``spec.queries`` table look-ups; one row per query (see :data:`bonas.replay.report.TRIAL_COLUMNS`).

    Each batch is looked up on ``backend`` when one is given (a batch is told
    once all of it is back, so regret per batch is well defined), else inline.

    ``best_reported`` is the reported metric of the best-by-objective
    architecture so far and ``regret`` the table optimum minus it;
    ``step_wall_s`` is the wall time of the ask/evaluate/tell step that made
    the query (shared by a batch); ``sim_time_s`` the simulated wall-clock time at
    which the query's result came back, from the table's training times (sequential:
    their sum; a synchronous batch: each batch lasts its longest training; asynchronous:
    ``batch_size`` workers, each starting a training as soon as it is free), empty when the
    table has none. An asynchronous ``spec`` tells one
    architecture per step, in the order their simulated trainings end.
    """
    with warnings.catch_warnings():
        # a table replay pins the GP noise at gpytorch's floor on purpose, so clamping and jitter notices are not
        # news; they would only bury the progress bar (the optimizer logs fit fallbacks)
        warnings.filterwarnings("ignore", category=NumericalWarning)
        return _replay(method, seed, spec, backend)


def _replay(method: str, seed: int, spec: ReplaySpec, backend: Backend | None) -> list[dict[str, Any]]:
    benchmark = make_benchmark(spec)
    strategy = make_strategy(method, benchmark.space, seed, noise_free=benchmark.noise_free,
                             feasible=benchmark.feasible_or_none, prior=benchmark.prior(spec.prior))
    record = _Recorder(method, seed, benchmark)
    if spec.asynchronous:
        if backend is not None:
            raise ValueError("an asynchronous replay simulates each evaluation's duration from the table, so it runs "
                             "its look-ups inline; use no backend")
        _run_asynchronous(strategy, spec, benchmark, record)
        return record.rows
    while len(record.rows) < spec.queries:
        start = time.perf_counter()
        archs = strategy.ask(min(spec.batch_size, spec.queries - len(record.rows)))
        values = ([benchmark.objective(arch) for arch in archs] if backend is None
                  else evaluate_on(backend, spec, archs))
        strategy.tell(archs, values)
        step_wall = time.perf_counter() - start
        # a synchronous batch ends when its longest training does
        clock = record.clock + max(benchmark.train_time(arch) or 0.0 for arch in archs)
        for arch, value in zip(archs, values):
            record(arch, value, step_wall, clock)
    return record.rows


def _run_asynchronous(strategy: Strategy, spec: ReplaySpec, benchmark: ReplayBenchmark, record: "_Recorder") -> None:
    """Keep ``spec.batch_size`` evaluations in flight on a simulated clock; tell each as it ends, then ask anew.

    An evaluation lasts the table's training time of its cell (one time unit
    when the table has none, so that evaluations end in the order asked).
    """
    in_flight: list[tuple[float, int, Any]] = []  # (simulated end time, ask order, architecture)
    asked, clock = 0, 0.0

    def fill() -> None:
        nonlocal asked
        for arch in strategy.ask(min(spec.batch_size - len(in_flight), spec.queries - asked)):
            duration = benchmark.train_time(arch)
            heapq.heappush(in_flight, (clock + (1.0 if duration is None else duration), asked, arch))
            asked += 1

    start = time.perf_counter()
    fill()
    while in_flight:
        clock, _, arch = heapq.heappop(in_flight)
        value = benchmark.objective(arch)
        strategy.tell([arch], [value])
        if asked < spec.queries:
            fill()
        record(arch, value, time.perf_counter() - start, clock)
        start = time.perf_counter()


class _Recorder:
    """The rows of one replay (``TRIAL_COLUMNS``), one per told architecture, in the order told."""

    def __init__(self, method: str, seed: int, benchmark: ReplayBenchmark) -> None:
        self.method, self.seed, self.benchmark = method, seed, benchmark
        self.rows: list[dict[str, Any]] = []
        self.best_objective, self.best_reported, self.clock = -np.inf, float("nan"), 0.0

    def __call__(self, arch: Any, value: float, step_wall: float, clock: float) -> None:
        """Record a told ``arch``; ``clock`` is the simulated time its evaluation ended."""
        benchmark = self.benchmark
        if value > self.best_objective:
            self.best_objective, self.best_reported = value, benchmark.reported(arch)
        self.clock = clock
        sim_time = clock if benchmark.train_time(arch) is not None else float("nan")
        self.rows.append({
            "method": self.method, "seed": self.seed, "query": len(self.rows) + 1,
            "arch": benchmark.space.to_str(arch), "objective": value, "best_objective": self.best_objective,
            "best_reported": self.best_reported, "regret": benchmark.optimum - self.best_reported,
            "step_wall_s": step_wall, "sim_time_s": sim_time,
        })


class ReplayInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_replays`; ``rows`` holds the replays that had finished, ordered as the tasks.

    :ivar rows: the rows (``TRIAL_COLUMNS``) of every finished (method, seed) replay.
    :ivar finished: how many (method, seed) replays finished.
    :ivar total: how many were asked for.
    """

    def __init__(self, rows: list[dict[str, Any]], finished: int, total: int) -> None:
        super().__init__(f"interrupted after {finished} of {total} (method, seed) replays")
        self.rows, self.finished, self.total = rows, finished, total


def _ignore_interrupts() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops them and keeps the finished replays."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


AnySpec = ReplaySpec | MultiObjectiveSpec | MultiFidelitySpec
"""What :func:`run_replays` runs: a single-objective, multi-objective or multi-fidelity replay."""


def _run_one(method: str, seed: int, spec: AnySpec, backend: Backend | None) -> list[dict[str, Any]]:
    if isinstance(spec, MultiObjectiveSpec):
        return multi_objective_replay(method, seed, spec)
    if isinstance(spec, MultiFidelitySpec):
        return fidelity_replay(method, seed, spec)
    return replay(method, seed, spec, backend)


def _replay_in_worker(method: str, seed: int, spec: AnySpec) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    return _run_one(method, seed, spec, None)


def run_replays(
    spec: AnySpec,
    methods: Sequence[str],
    seeds: Sequence[int],
    jobs: int = 1,
    show_progress: bool = True,
    backend: Backend | None = None,
) -> list[dict[str, Any]]:
    """Every (method, seed) replay, ``jobs`` processes at a time; rows ordered by method, seed, query.

    A :class:`~bonas.replay.multi.MultiObjectiveSpec` runs multi-objective replays (their rows' ``regret`` is the
    hypervolume regret); a :class:`~bonas.replay.fidelity.MultiFidelitySpec` multi-fidelity ones (a row per
    evaluation, until the epoch budget is spent).

    Each replay is seeded by its seed alone, so the rows do not depend on
    ``jobs`` or on the order in which processes finish. With a ``backend``
    the replays run one after another in this process and the backend runs
    each batch's look-ups concurrently (``jobs`` must then be 1).

    :raises ReplayInterrupted: on Ctrl-C (worker processes are stopped first), holding the finished replays.
    :raises RuntimeError: a replay failed, naming its method and seed (the others are stopped).
    """
    if backend is not None and jobs > 1:
        raise ValueError(f"jobs={jobs} with an evaluation backend: the backend runs the look-ups in parallel, "
                         f"so run the replays with jobs=1")
    if isinstance(spec, (MultiObjectiveSpec, MultiFidelitySpec)):
        if backend is not None:
            raise ValueError("a multi-objective or multi-fidelity replay looks its cells up inline; use no backend")
        if isinstance(spec, MultiObjectiveSpec):
            multi_objective_table(spec)
        else:
            fidelity_table(spec.dataset)
    else:
        make_benchmark(spec)
    tasks = [(method, seed) for method in methods for seed in seeds]
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    try:
        with remembered_interrupts() as pressed:
            _run_tasks(spec, tasks, jobs, show_progress, backend, results, pressed)
    except KeyboardInterrupt:
        finished = [row for task in tasks if task in results for row in results[task]]
        raise ReplayInterrupted(finished, len(results), len(tasks)) from None
    return [row for task in tasks for row in results[task]]


def _run_tasks(spec: AnySpec, tasks: Sequence[tuple[str, int]], jobs: int, show_progress: bool,
               backend: Backend | None, results: dict[tuple[str, int], list[dict[str, Any]]],
               pressed: Callable[[], bool] = lambda: False) -> None:
    """Fill ``results`` with the rows of each (method, seed) of ``tasks`` as it finishes; ``KeyboardInterrupt``
    after a replay once ``pressed()`` (a Ctrl-C whose own exception was lost).

    The progress counts finished replays; its status names the replay running (one job) or the last finished, with
    its final regret.
    """
    with Progress(f"replay {spec.space} {spec.dataset}", len(tasks), enabled=show_progress) as progress:
        if jobs <= 1:
            for method, seed in tasks:
                progress.update(status=f"running {method} seed {seed}")
                results[method, seed] = _run_one(method, seed, spec, backend)
                progress.update(advance=1, status=_finished(method, seed, results[method, seed]))
                if pressed():
                    raise KeyboardInterrupt
            return
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context,
                                   initializer=_ignore_interrupts)
        try:
            futures = {pool.submit(_replay_in_worker, method, seed, spec): (method, seed)
                       for method, seed in tasks}
            for future in as_completed(futures):
                method, seed = futures[future]
                try:
                    results[method, seed] = future.result()
                except Exception as error:
                    raise RuntimeError(f"replay of {method!r} seed {seed} failed: {type(error).__name__}: "
                                       f"{error}") from error
                progress.update(advance=1, status=_finished(method, seed, results[method, seed]))
                if pressed():
                    raise KeyboardInterrupt
        except BaseException:
            # fail (or stop on Ctrl-C) now rather than after every queued replay has run
            _stop_workers(pool)
            raise
        finally:
            pool.shutdown()


def _finished(method: str, seed: int, rows: list[dict[str, Any]]) -> str:
    """The progress status once the replay of ``method`` and ``seed`` is done: its final regret."""
    return f"{method} seed {seed} done, final regret {rows[-1]['regret']:.4g}" if rows else f"{method} seed {seed} done"


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued replays and kill the running ones (``terminate_workers`` from Python 3.14 on)."""
    if hasattr(pool, "terminate_workers"):
        pool.terminate_workers()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()
