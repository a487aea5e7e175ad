"""A trial: one architecture asked by the optimizer (or attached), and what became of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TrialState(str, Enum):
    """Where a trial stands: asked and in flight, told a value, failed, or given up."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    ABANDONED = "abandoned"

    @property
    def is_finished(self) -> bool:
        """Whether the trial has an outcome (anything but running)."""
        return self is not TrialState.RUNNING


@dataclass
class Trial:
    """One architecture and its outcome.

    ``arch`` is the space's architecture value and ``arch_str`` its string form
    (what the journal stores). ``value`` is set when the state is ``COMPLETE``;
    ``info`` holds extra JSON-able results (a dict an evaluator returned, or the
    error of a failure). ``asked_at`` / ``told_at`` are Unix times in seconds.
    """

    id: int
    arch: Any
    arch_str: str
    state: TrialState = TrialState.RUNNING
    value: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    asked_at: float | None = None
    told_at: float | None = None

    def __post_init__(self) -> None:
        self.state = TrialState(self.state)
