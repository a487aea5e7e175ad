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


@dataclass
class Trial:
    """One architecture and its outcome.

    ``value`` is set when the state is ``COMPLETE``; ``info`` holds extra
    JSON-able results (a dict an evaluator returned, or the error of a failure).
    """

    id: int
    arch: Any
    arch_str: str
    state: TrialState = TrialState.RUNNING
    value: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    asked_at: float | None = None
    told_at: float | None = None
