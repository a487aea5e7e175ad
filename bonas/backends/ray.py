"""Ray as the evaluation engine: a local Ray instance by default, or an existing cluster.

Ray is an optional extra (``pip install "bonas[cluster]"``), imported when a
:class:`RayBackend` is made. Each evaluation is a Ray task that asks for
``num_gpus_per_trial`` GPUs; Ray re-runs a task whose worker died up to
``max_retries`` times, after which the trial fails, as does one that raises
or runs past ``timeout_s`` (the task is cancelled).
"""

from __future__ import annotations

import time
from typing import Any

from bonas.backends.base import Backend, Evaluate, Outcome, call_evaluate

INSTALL_HINT = 'RayBackend needs Ray: pip install "bonas[cluster]" (or pip install ray)'


def _import_ray() -> Any:
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
    :param timeout_s: wall-clock limit per trial, or ``None``. It counts from submission, so time
        spent waiting for a free worker (or restarting a dead one) counts too: give it room when
        more trials are in flight than the cluster has slots for.
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
        self._ray = _import_ray()
        self._started_ray = False
        if not self._ray.is_initialized():
            self._ray.init(address=address, **init_kwargs)
            self._started_ray = True
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._task = self._ray.remote(call_evaluate).options(
            num_gpus=num_gpus_per_trial, num_cpus=num_cpus_per_trial, max_retries=max_retries, retry_exceptions=False,
        )
        self._running: dict[Any, tuple[int, float]] = {}

    @property
    def n_running(self) -> int:
        return len(self._running)

    def submit(self, trial_id: int, evaluate: Evaluate, arch: Any) -> None:
        self._running[self._task.remote(evaluate, arch)] = (trial_id, time.monotonic())

    def _collect(self, ref: Any) -> Outcome:
        trial_id, _ = self._running.pop(ref)
        try:
            value, info, error = self._ray.get(ref)
        except self._ray.exceptions.RayError as failure:
            return Outcome(trial_id, error=f"{type(failure).__name__} after up to {self.max_retries + 1} "
                                           f"attempt(s): {failure}", attempts=self.max_retries + 1)
        return Outcome(trial_id, value, info, error)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._running:
            now = time.monotonic()
            limits = [deadline - now] if deadline is not None else []
            if self.timeout_s is not None:
                limits += [started + self.timeout_s - now for _, started in self._running.values()]
            ready, _ = self._ray.wait(list(self._running), num_returns=1,
                                      timeout=max(0.0, min(limits)) if limits else None)
            if ready:
                ready, _ = self._ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
            outcomes = [self._collect(ref) for ref in ready]
            now = time.monotonic()
            if self.timeout_s is not None:
                for ref, (trial_id, started) in list(self._running.items()):
                    if now - started >= self.timeout_s:
                        self._ray.cancel(ref, force=True)
                        del self._running[ref]
                        outcomes.append(Outcome(trial_id, error=f"timed out after {self.timeout_s} s"))
            if outcomes or (deadline is not None and time.monotonic() >= deadline):
                return outcomes
        return []

    def shutdown(self) -> None:
        for ref in list(self._running):
            self._ray.cancel(ref, force=True)
        self._running.clear()
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False
