"""Ray as the evaluation engine: a local Ray instance by default, or an existing cluster.

Ray is an optional extra (``pip install "bonas[cluster]"``), imported when a
:class:`RayBackend` is made. Each evaluation is a Ray task that asks for
``num_gpus_per_trial`` GPUs; Ray re-runs a task whose worker died up to
``max_retries`` times, after which the trial fails, as does one that raises
or runs past ``timeout_s``.

The timeout is kept by the worker, from the moment the attempt starts: a
trial waiting in Ray's queue for a free GPU is not timed out for waiting.
Ray cannot stop a running task from the outside without killing its worker
(which Ray would then retry), so with ``timeout_s`` each task runs
``evaluate`` in a daemon thread, answers "timed out" when the time is up, and
is a one-call task (Ray's ``max_calls=1``): its worker exits after answering,
taking the abandoned evaluation with it.
"""

from __future__ import annotations

import threading
from typing import Any

from bonas.backends.base import Backend, Evaluate, Outcome, call_evaluate, pickle_callable

INSTALL_HINT = 'RayBackend needs Ray: pip install "bonas[cluster]" (or pip install ray)'


def call_evaluate_within(evaluate: Evaluate, arch: Any, timeout_s: float | None
                         ) -> tuple[float | None, dict[str, Any], str | None]:
    """:func:`call_evaluate` in a daemon thread, given up on after ``timeout_s`` seconds (``None``: no limit)."""
    if timeout_s is None:
        return call_evaluate(evaluate, arch)
    result: list[tuple[float | None, dict[str, Any], str | None]] = []
    thread = threading.Thread(target=lambda: result.append(call_evaluate(evaluate, arch)), daemon=True)
    thread.start()
    thread.join(timeout_s)
    return result[0] if result else (None, {}, f"timed out after {timeout_s} s")


def import_ray() -> Any:
    """The ``ray`` module; ``ImportError`` with the install hint when Ray is missing."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return ray


class RayBackend(Backend):
    """Evaluate each trial as a Ray task.

    :param address: ``None`` starts (or reuses) a local Ray instance; ``"auto"`` or
        ``"ray://host:port"`` joins an existing cluster.
    :param num_gpus_per_trial: GPUs each evaluation requests (0 or more).
    :param num_cpus_per_trial: CPUs each evaluation requests.
    :param max_retries: re-runs of a task whose worker process died.
    :param timeout_s: wall-clock limit per attempt, from its start, or ``None``. The evaluation
        then runs in a thread of a one-call worker (module docstring).
    :param init_kwargs: extra arguments for ``ray.init`` (e.g. ``num_cpus``), used only when
        this backend starts Ray.
    """

    def __init__(self, address: str | None = None, num_gpus_per_trial: float = 0, num_cpus_per_trial: float = 1,
                 max_retries: int = 2, timeout_s: float | None = None, **init_kwargs: Any) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be non-negative, got {max_retries}")
        if num_gpus_per_trial < 0 or num_cpus_per_trial < 0:
            raise ValueError("num_gpus_per_trial and num_cpus_per_trial must be non-negative")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive or None, got {timeout_s}")
        self._ray = import_ray()
        self._started_ray = False
        if not self._ray.is_initialized():
            self._ray.init(address=address, **init_kwargs)
            self._started_ray = True
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        options = {"num_gpus": num_gpus_per_trial, "num_cpus": num_cpus_per_trial, "max_retries": max_retries,
                   "retry_exceptions": False}
        self._task = self._ray.remote(**options, **({} if timeout_s is None else {"max_calls": 1}))(
            call_evaluate_within)
        self._running: dict[Any, int] = {}

    @property
    def n_running(self) -> int:
        return len(self._running)

    def check(self, evaluate: Evaluate) -> None:
        pickle_callable(evaluate, self._ray.cloudpickle.dumps)

    def submit(self, trial_id: int, evaluate: Evaluate, arch: Any) -> None:
        self._running[self._task.remote(evaluate, arch, self.timeout_s)] = trial_id

    def _collect(self, ref: Any) -> Outcome:
        trial_id = self._running.pop(ref)
        try:
            value, info, error = self._ray.get(ref)
        except self._ray.exceptions.RayError as failure:
            return Outcome(trial_id, error=f"{type(failure).__name__} after up to {self.max_retries + 1} "
                                           f"attempt(s): {failure}", attempts=self.max_retries + 1)
        return Outcome(trial_id, value, info, error)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        if not self._running:
            return []
        ready, _ = self._ray.wait(list(self._running), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self._ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
        return [self._collect(ref) for ref in ready]

    def shutdown(self) -> None:
        for ref in list(self._running):
            self._ray.cancel(ref, force=True)
        self._running.clear()
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False
