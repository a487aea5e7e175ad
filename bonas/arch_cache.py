"""A bounded memo of per-architecture answers (:class:`~bonas.candidates.Feasibility`,
:class:`~bonas.prior.CheapSignals`).

An optimizer asks its constraint and its cheap signals about every cell of every candidate pool. On an enumerable
space the answers are bounded by the space's size, but on an open one (DARTS, a user's cells) a long search meets
new cells at every ask, so the memo keeps the :data:`MAX_CACHED` most recently used answers and drops the oldest.
``functools.lru_cache`` does the same for functions, but on a method it is one cache shared by every object (and
keeps each object alive as a key); one per object would be a wrapper of a bound method built in ``__init__``, a
reference cycle to its object that cannot be pickled. The tests check that this memo computes exactly when
``lru_cache`` would.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")

MAX_CACHED = 2 ** 18
"""Answers kept per memo (262,144: NB201's 15,625 cells all fit, and so do most of NB101's 423,624)."""


class ArchCache(Generic[Value]):
    """The ``maxsize`` most recently used ``compute(arch)`` answers, keyed by architecture.

    :param maxsize: how many answers are kept (at least 1).
    """

    def __init__(self, maxsize: int = MAX_CACHED) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._answers: OrderedDict[Hashable, Value] = OrderedDict()

    def get(self, arch: Hashable, compute: Callable[[Hashable], Value]) -> Value:
        """The kept answer for ``arch``, or ``compute(arch)`` kept (an exception it raises keeps nothing)."""
        if arch in self._answers:
            self._answers.move_to_end(arch)
            return self._answers[arch]
        answer = compute(arch)
        self._answers[arch] = answer
        if len(self._answers) > self.maxsize:
            self._answers.popitem(last=False)
        return answer

    def __len__(self) -> int:
        return len(self._answers)
