"""The embedded backend: each evaluation in its own process on this machine, no cluster needed.

One process per evaluation (not a shared pool) so that a worker that dies,
hangs or leaks memory takes down only its own trial: a process that exits
without a result is retried up to ``max_retries`` times, one that runs past
``timeout_s`` is terminated and its trial fails.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from bonas.backends.base import Backend, Evaluate, Outcome, call_evaluate

EXIT_GRACE_S = 5.0
"""How long a worker that has sent its result, or was terminated, may take to exit before it is killed."""


def _work(connection: Connection, evaluate: Evaluate, arch: Any) -> None:
    connection.send(call_evaluate(evaluate, arch))
    connection.close()


def _end(process: Any, terminate: bool = True) -> None:
    """Wait up to ``EXIT_GRACE_S`` for ``process`` to exit (after ``terminate()`` when asked), then kill it.

    A worker may never exit by itself: its evaluation left a non-daemon thread
    running, or it ignores SIGTERM. It is not waited for past the grace period.
    """
    if terminate:
        process.terminate()
    process.join(timeout=EXIT_GRACE_S)
    if process.is_alive():
        process.kill()
        process.join()


@dataclass
class _Job:
    trial_id: int
    evaluate: Evaluate
    arch: Any
    attempts: int = 0
    process: Any = None
    connection: Connection | None = None
    started: float = 0.0


class LocalBackend(Backend):
    """Evaluate in up to ``n_workers`` processes at once; further submissions queue.

    :param n_workers: concurrent evaluations (default 1).
    :param max_retries: re-runs of a trial whose process died without a result.
    :param timeout_s: wall-clock limit per attempt, or ``None``.
    :param start_method: ``"spawn"`` (default; safe with CUDA), ``"fork"`` or ``"forkserver"``.
        With ``spawn`` the ``evaluate`` callable must be picklable (a module-level function).
    """

    def __init__(self, n_workers: int = 1, max_retries: int = 2, timeout_s: float | None = None,
                 start_method: str = "spawn") -> None:
        if n_workers < 1:
            raise ValueError(f"n_workers must be at least 1, got {n_workers}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be non-negative, got {max_retries}")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive or None, got {timeout_s}")
        self.n_workers = n_workers
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self._context = multiprocessing.get_context(start_method)
        self._queue: deque[_Job] = deque()
        self._running: list[_Job] = []

    @property
    def n_running(self) -> int:
        return len(self._queue) + len(self._running)

    def submit(self, trial_id: int, evaluate: Evaluate, arch: Any) -> None:
        self._queue.append(_Job(trial_id, evaluate, arch))
        self._start_queued()

    def _start_queued(self) -> None:
        while self._queue and len(self._running) < self.n_workers:
            job = self._queue.popleft()
            receiver, sender = self._context.Pipe(duplex=False)
            job.process = self._context.Process(target=_work, args=(sender, job.evaluate, job.arch), daemon=True)
            job.process.start()
            sender.close()
            job.connection, job.started, job.attempts = receiver, time.monotonic(), job.attempts + 1
            self._running.append(job)

    def _finish(self, job: _Job) -> Outcome | None:
        """The outcome of a job whose process ended or sent its result; ``None`` when it is re-queued."""
        result = None
        if job.connection.poll():
            try:
                result = job.connection.recv()
            except (EOFError, OSError):
                result = None
        _end(job.process, terminate=False)
        job.connection.close()
        self._running.remove(job)
        if result is not None:
            value, info, error = result
            return Outcome(job.trial_id, value, info, error, job.attempts)
        if job.attempts <= self.max_retries:
            self._queue.append(job)
            return None
        return Outcome(job.trial_id, error=f"worker process died (exit code {job.process.exitcode}) on each of "
                                           f"{job.attempts} attempt(s)", attempts=job.attempts)

    def _expire(self, job: _Job) -> Outcome:
        _end(job.process)
        job.connection.close()
        self._running.remove(job)
        return Outcome(job.trial_id, error=f"timed out after {self.timeout_s} s", attempts=job.attempts)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._start_queued()
            if not self._running:
                return []
            now = time.monotonic()
            limits = [deadline - now] if deadline is not None else []
            if self.timeout_s is not None:
                limits += [job.started + self.timeout_s - now for job in self._running]
            ready = wait([obj for job in self._running for obj in (job.connection, job.process.sentinel)],
                         timeout=max(0.0, min(limits)) if limits else None)
            outcomes = []
            now = time.monotonic()
            for job in list(self._running):
                if job.connection in ready or job.process.sentinel in ready:
                    outcome = self._finish(job)
                elif self.timeout_s is not None and now - job.started >= self.timeout_s:
                    outcome = self._expire(job)
                else:
                    continue
                if outcome is not None:
                    outcomes.append(outcome)
            if outcomes or (deadline is not None and time.monotonic() >= deadline):
                self._start_queued()
                return outcomes

    def shutdown(self) -> None:
        for job in list(self._running):
            _end(job.process)
            job.connection.close()
        self._running.clear()
        self._queue.clear()
