"""The backend contract: submit evaluations, wait for outcomes as they finish."""

from __future__ import annotations

import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from bonas.validation import check_finite, check_json

Evaluate = Callable[[Any], "float | dict[str, Any]"]

TRACEBACK_HEADER = "Traceback (most recent call last):"


@dataclass
class Outcome:
    """The result of one trial's evaluation: a ``value``, or an ``error`` saying why there is none."""

    trial_id: int
    value: float | dict[str, float] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 1


def call_evaluate(evaluate: Evaluate, arch: Any) -> tuple[float | dict[str, float] | None, dict[str, Any], str | None]:
    """Run ``evaluate(arch)`` and split its result into ``(value, info, error)``.

    ``evaluate`` returns a number, or a dict with a ``"value"`` entry (a number, or a dict of named metrics for
    an optimizer with ``objectives``) and any other JSON-serialisable entries (kept as the trial's info; numpy and torch
    values become Python numbers and lists). An exception, a missing value, one
    that is not a finite number, or an info :func:`~bonas.validation.check_json`
    refuses becomes an error message: this is where an evaluator's result is
    checked, in the process that ran it, so only plain data comes back from a worker.
    """
    try:
        result = evaluate(arch)
    except Exception as error:  # the evaluation is user code: any failure becomes a failed trial
        return None, {}, f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=5)}"
    info: dict[str, Any] = {}
    if isinstance(result, dict):
        info = {key: _plain(value) for key, value in result.items() if key != "value"}
        try:
            check_json(info, "evaluate's info")
        except ValueError as error:
            return None, {}, f"{error}; return numbers, strings, lists or dicts besides 'value'"
        if "value" not in result:
            return None, info, (f"evaluate returned a dict without a 'value' entry: keys {sorted(result)} (named "
                                f"metrics go under 'value': {{'value': {{'accuracy': ..., 'latency_ms': ...}}}})")
        result = result["value"]
    try:
        result = _plain(result)
        if isinstance(result, dict):  # named metrics, for an optimizer with objectives= / constraints=
            value = {str(name): check_finite(metric, f"evaluate's value[{name!r}]") for name, metric in result.items()}
        else:
            value = check_finite(result, "evaluate's value")
    except ValueError as error:
        return None, info, str(error)
    return value, info, None


def error_summary(error: str) -> str:
    """An outcome's error without the traceback :func:`call_evaluate` appends: the exception's type and message."""
    return error.split("\n" + TRACEBACK_HEADER, 1)[0]


def pickle_callable(evaluate: Evaluate, dumps: Callable[[Any], bytes] = cloudpickle.dumps) -> bytes:
    """``evaluate`` pickled by ``dumps`` (cloudpickle: closures, lambdas, functions of ``__main__`` and notebooks).

    :raises TypeError: naming ``evaluate`` and why it cannot be pickled.
    """
    try:
        return dumps(evaluate)
    except Exception as error:  # pickling runs the callable's own __reduce__ hooks: anything can go wrong
        raise TypeError(f"evaluate {evaluate!r} cannot be sent to a worker process: pickling it failed with "
                        f"{type(error).__name__}: {error}") from error


def _plain(value: Any) -> Any:
    """numpy and torch scalars and arrays as Python numbers and lists (what a JSON journal can hold)."""
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


class Backend(ABC):
    """Runs evaluations concurrently; ``wait`` hands back outcomes in completion order."""

    @abstractmethod
    def submit(self, trial_id: int, evaluate: Evaluate, arch: Any) -> None:
        """Start evaluating ``arch`` for trial ``trial_id``."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Block until at least one evaluation ends (or ``timeout`` s pass); return the finished ones."""

    @property
    @abstractmethod
    def n_running(self) -> int:
        """How many evaluations are under way."""

    def check(self, evaluate: Evaluate) -> None:
        """Raise ``TypeError`` now if ``evaluate`` cannot be run on this backend (e.g. it cannot be pickled).

        :func:`bonas.run` calls it before asking for any trial. The default accepts everything.
        """

    def shutdown(self) -> None:
        """Stop every evaluation under way and release the workers."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
