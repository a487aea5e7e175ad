"""A backend that evaluates each submitted trial at once, in the test's own process (no worker processes)."""

from __future__ import annotations

from bonas.backends.base import Backend, Outcome, call_evaluate


class InlineBackend(Backend):
    """Evaluates each submitted trial at once, in this process."""

    def __init__(self) -> None:
        self._outcomes: list[Outcome] = []

    def submit(self, trial_id, evaluate, arch) -> None:
        value, info, error = call_evaluate(evaluate, arch)
        self._outcomes.append(Outcome(trial_id, value, info, error))

    def wait(self, timeout=None) -> list[Outcome]:
        outcomes, self._outcomes = self._outcomes, []
        return outcomes

    @property
    def n_running(self) -> int:
        return len(self._outcomes)
