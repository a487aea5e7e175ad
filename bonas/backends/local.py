"""The embedded backend: evaluations in worker processes on this machine, no cluster needed.

Workers are long-lived interpreters (:mod:`bonas.backends.worker`), started
on demand up to ``n_workers`` and kept across trials, so the cost of starting
Python and importing torch is paid once per worker, not once per trial. The
``evaluate`` callable is pickled with cloudpickle once (closures, lambdas and
functions of a ``__main__`` script or a notebook are shipped by value) and
sent to each worker once; the user's main module is never re-imported, so a
script needs no ``if __name__ == "__main__":`` guard.

A worker that dies without answering is replaced, and its trial is retried up
to ``max_retries`` times; one that runs past ``timeout_s`` is stopped and
replaced, and its trial fails. Workers die with this process, however it
ends (on Linux by ``PR_SET_PDEATHSIG``, elsewhere by a watchdog on the pipe),
so a resumed run never evaluates a trial twice at once.
"""

from __future__ import annotations

import itertools
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import cloudpickle

from bonas.backends import worker as worker_module
from bonas.backends.base import Backend, Evaluate, Outcome, pickle_callable

EXIT_GRACE_S = 5.0
"""How long a stopped worker (timed out, or at shutdown) may take to exit before it is killed."""

LIVENESS_CHECK_S = 1.0
"""How often :meth:`LocalBackend.wait` checks that busy workers are alive, in case a pipe hides a death."""


@dataclass
class _Shipment:
    """An evaluate callable, pickled once; ``token`` tells workers which one they hold."""

    evaluate: Evaluate
    token: int
    payload: bytes


@dataclass(eq=False)
class _Job:
    trial_id: int
    shipment: _Shipment
    arch: bytes
    attempts: int = 0
    started: float | None = None
    """When the attempt's evaluation started (``time.monotonic``); ``None`` while its worker starts up."""


class _Worker:
    """One worker process: the pipe its answers come on, and a thread writing to it (big evaluates never block)."""

    def __init__(self) -> None:
        calls_read, calls_write = os.pipe()
        answers_read, answers_write = os.pipe()
        try:
            # this process's sys.path, so the worker imports bonas and the user's modules as this process does,
            # also from paths added at run time (a notebook's sys.path.append)
            path = os.pathsep.join([entry for entry in sys.path if entry] + [os.environ.get("PYTHONPATH", "")])
            self.process = subprocess.Popen(worker_module.command(os.getpid(), calls_read, answers_write),
                                            pass_fds=(calls_read, answers_write), stdin=subprocess.DEVNULL,
                                            env={**os.environ, "PYTHONPATH": path.rstrip(os.pathsep)})
        except BaseException:
            os.close(calls_write)
            os.close(answers_read)
            raise
        finally:
            os.close(calls_read)
            os.close(answers_write)
        self.answers = Connection(answers_read, writable=False)
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        threading.Thread(target=_send_all, args=(Connection(calls_write, readable=False), self._outbox),
                         name=f"bonas-worker-{self.process.pid}-sender", daemon=True).start()
        self.token: int | None = None
        self.job: _Job | None = None
        self.ready = False

    def start(self, job: _Job) -> None:
        """Send ``job`` (and its evaluate, unless this worker holds it already)."""
        if self.token != job.shipment.token:
            self._outbox.put(pickle.dumps(("evaluate", job.shipment.token, job.shipment.payload)))
            self.token = job.shipment.token
        self._outbox.put(pickle.dumps(("call", job.shipment.token, job.arch)))
        job.attempts, job.started = job.attempts + 1, time.monotonic() if self.ready else None
        self.job = job

    def receive(self) -> tuple[Any, ...] | None:
        """The worker's next message, ``("ready",)`` or ``("answer", result)``; ``None`` if it died without one."""
        try:
            return pickle.loads(self.answers.recv_bytes()) if self.answers.poll() else None
        except (EOFError, OSError, pickle.UnpicklingError):
            return None

    def stop(self) -> None:
        """Ask the worker to exit: close its pipe (it exits even mid-evaluation), and SIGTERM it if busy."""
        self._outbox.put(None)
        if self.job is not None and self.process.poll() is None:
            self.process.terminate()

    def reap(self, deadline: float) -> int:
        """Wait for the stopped worker's exit until ``deadline`` (``time.monotonic``), then kill it; its exit code."""
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.answers.close()
        return self.process.returncode


def _stop_all(workers: list[_Worker]) -> None:
    """Stop ``workers``, busy or idle, together (each killed if not gone within ``EXIT_GRACE_S``); empty the list."""
    stopping = list(workers)
    workers.clear()
    for worker in stopping:
        worker.stop()
    deadline = time.monotonic() + EXIT_GRACE_S
    for worker in stopping:
        worker.reap(deadline)


def _send_all(connection: Connection, outbox: queue.SimpleQueue) -> None:
    """Write ``outbox``'s messages to a worker until ``None`` or a broken pipe (``wait`` notices the death)."""
    while (message := outbox.get()) is not None:
        try:
            connection.send_bytes(message)
        except OSError:
            break
    connection.close()


class LocalBackend(Backend):
    """Evaluate in up to ``n_workers`` worker processes at once; further submissions queue.

    :param n_workers: concurrent evaluations (default 1), each in its own long-lived process.
    :param max_retries: re-runs of a trial whose worker died without a result.
    :param timeout_s: wall-clock limit per attempt, from the start of its evaluation (a new worker's
        start-up does not count), or ``None``.

    ``evaluate`` is pickled once, when first submitted: later changes to the
    object in this process are not seen by the workers. Workers are started
    from the thread that submits; on Linux they die when that thread ends,
    so keep a backend in the thread that made it.
    """

    def __init__(self, n_workers: int = 1, max_retries: int = 2, timeout_s: float | None = None) -> None:
        if n_workers < 1:
            raise ValueError(f"n_workers must be at least 1, got {n_workers}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be non-negative, got {max_retries}")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive or None, got {timeout_s}")
        self.n_workers = n_workers
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self._queue: deque[_Job] = deque()
        self._workers: list[_Worker] = []
        self._tokens = itertools.count()
        self._shipment: _Shipment | None = None
        weakref.finalize(self, _stop_all, self._workers)  # a backend dropped without shutdown() leaves no workers

    @property
    def n_running(self) -> int:
        return len(self._queue) + sum(worker.job is not None for worker in self._workers)

    def check(self, evaluate: Evaluate) -> None:
        self._ship(evaluate)

    def _ship(self, evaluate: Evaluate) -> _Shipment:
        """The pickled ``evaluate``: the last one again when it is the same object."""
        if self._shipment is None or self._shipment.evaluate is not evaluate:
            self._shipment = _Shipment(evaluate, next(self._tokens), pickle_callable(evaluate))
        return self._shipment

    def submit(self, trial_id: int, evaluate: Evaluate, arch: Any) -> None:
        shipment = self._ship(evaluate)
        try:
            pickled_arch = cloudpickle.dumps(arch)
        except Exception as error:  # an architecture value of the user's own making
            raise TypeError(f"architecture {arch!r} of trial {trial_id} cannot be pickled: "
                            f"{type(error).__name__}: {error}") from error
        job = _Job(trial_id, shipment, pickled_arch)
        self._queue.append(job)
        try:
            self._dispatch()
        except BaseException:
            if job in self._queue:  # a submit that raises leaves nothing behind (e.g. no process could start)
                self._queue.remove(job)
            raise

    def _dispatch(self) -> None:
        """Start queued jobs on idle workers, starting workers up to ``n_workers``; drop idle ones that died."""
        for dead in [worker for worker in self._workers if worker.job is None and worker.process.poll() is not None]:
            self._retire(dead)
        while self._queue:
            idle = next((worker for worker in self._workers if worker.job is None), None)
            if idle is None:
                if len(self._workers) == self.n_workers:
                    return
                idle = _Worker()
                self._workers.append(idle)
            idle.start(self._queue.popleft())

    def _retire(self, worker: _Worker) -> int:
        """Stop ``worker`` (killed after ``EXIT_GRACE_S``) and forget it; its exit code."""
        worker.stop()
        self._workers.remove(worker)
        return worker.reap(time.monotonic() + EXIT_GRACE_S)

    def _collect(self, worker: _Worker) -> Outcome | None:
        """The outcome of ``worker``'s job, which answered or died; ``None`` when it is not over or re-queued."""
        job = worker.job
        message = worker.receive()
        if message == ("ready",):
            worker.ready, job.started = True, time.monotonic()
            return None
        worker.job = None
        if message is not None:
            if worker.process.poll() is not None:
                self._retire(worker)
            value, info, error = message[1]
            return Outcome(job.trial_id, value, info, error, job.attempts)
        exit_code = self._retire(worker)
        if job.attempts <= self.max_retries:
            self._queue.append(job)
            return None
        return Outcome(job.trial_id, error=f"worker process died (exit code {exit_code}) on each of "
                                           f"{job.attempts} attempt(s)", attempts=job.attempts)

    def _expire(self, worker: _Worker) -> Outcome:
        job = worker.job
        self._retire(worker)
        return Outcome(job.trial_id, error=f"timed out after {self.timeout_s} s", attempts=job.attempts)

    def _overdue(self, job: _Job, now: float) -> bool:
        return self.timeout_s is not None and job.started is not None and now - job.started >= self.timeout_s

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._dispatch()
            busy = [worker for worker in self._workers if worker.job is not None]
            if not busy:
                return []
            now = time.monotonic()
            limits = [LIVENESS_CHECK_S] + ([deadline - now] if deadline is not None else [])
            if self.timeout_s is not None:
                limits += [worker.job.started + self.timeout_s - now for worker in busy
                           if worker.job.started is not None]
            ready = wait([worker.answers for worker in busy], timeout=max(0.0, min(limits)))
            outcomes = []
            now = time.monotonic()
            for worker in busy:
                if worker.answers in ready or worker.process.poll() is not None:
                    outcome = self._collect(worker)
                elif self._overdue(worker.job, now):
                    outcome = self._expire(worker)
                else:
                    continue
                if outcome is not None:
                    outcomes.append(outcome)
            if outcomes or (deadline is not None and time.monotonic() >= deadline):
                self._dispatch()
                return outcomes

    def shutdown(self) -> None:
        """Stop every worker, busy or idle (killed after ``EXIT_GRACE_S``), and drop the queue."""
        _stop_all(self._workers)
        self._queue.clear()
        self._shipment = None
