"""The checks every layer shares: whole counts, positive and finite numbers, choices among names, JSON values.

Each returns the value as a plain Python ``int``, ``float`` or ``str`` and raises ``ValueError`` naming the
argument, the value and what was expected. ``bool`` is never a number here (``True`` is an ``int`` to Python,
never a count a user meant); numpy integers and floats are accepted wherever Python's are. :func:`check_json`
is the exception: it is the rule for what a journal line may hold, so it takes only what :mod:`json` writes
(a numpy integer is refused; a backend turns numpy values into Python numbers first).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

INTEGER_TYPES = (int, np.integer)
NUMBER_TYPES = (int, float, np.integer, np.floating)


def is_integer(value: Any) -> bool:
    """Whether ``value`` is a Python or numpy integer and not a ``bool``."""
    return isinstance(value, INTEGER_TYPES) and not isinstance(value, (bool, np.bool_))


def check_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer in ``[minimum, maximum]`` (either bound optional)."""
    in_range = is_integer(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not in_range:
        bounds = (f" >= {minimum}" if minimum is not None else "") + (
            f"{' and' if minimum is not None else ''} <= {maximum}" if maximum is not None else "")
        raise ValueError(f"{name} must be an integer{bounds}, got {value!r}")
    return int(value)


def is_finite(value: Any) -> bool:
    """Whether ``value`` is a Python or numpy number, not a ``bool``, that a float holds finitely.

    NaN and infinities are not; neither is an integer too large for a float (``10**400``).
    """
    if not isinstance(value, NUMBER_TYPES) or isinstance(value, (bool, np.bool_)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def check_finite(value: Any, name: str) -> float:
    """``value`` as a ``float`` if it is a finite number (an integer too large for a float is refused by its digits)."""
    if is_integer(value) and not is_finite(value):
        raise ValueError(f"{name} must be a finite number; an integer of {len(str(abs(int(value))))} digits "
                         "overflows a float")
    if not is_finite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_positive(value: Any, name: str) -> float:
    """``value`` as a ``float`` if it is a finite number above zero."""
    try:
        number = check_finite(value, name)
    except ValueError:
        number = None
    if number is None or number <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return number


def journal_name(function: Any) -> str:
    """How a journal names a user's function (a feasibility predicate, cheap signals): its ``name`` attribute when
    that is a non-empty string (e.g. :class:`bonas.networks.ParamBudget`'s), else its qualified name, else its
    type's name. Code is not in the journal, only this name."""
    name = getattr(function, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(function, "__qualname__", None) or type(function).__name__


def check_choice(value: Any, name: str, allowed: Iterable[str]) -> str:
    """``value`` if it is one of ``allowed``; the error lists them."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {allowed}")
    return value


def check_json(value: Any, name: str) -> None:
    """Raise ``ValueError`` naming the entry unless ``value`` is plain JSON: ``None``, ``bool``, ``int``, ``str``,
    finite ``float``, and lists, tuples and string-keyed dicts of them (what a journal line may hold)."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name} is {value}; the journal stores finite numbers only")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{name} has key {key!r}; the journal takes string keys only")
            check_json(item, f"{name}.{key}")
    elif isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            check_json(item, f"{name}[{position}]")
    else:
        raise ValueError(f"{name} is a {type(value).__name__} ({value!r}), not a JSON value")
