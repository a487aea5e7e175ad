"""Search strategies a replay can run: bonas's optimizer per encoding, and the baselines.

Every strategy maximises and follows one protocol: ``ask(n)`` returns ``n``
architectures never proposed before, ``tell(archs, values)`` reports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bonas.optimizer import ENCODINGS, Optimizer
from bonas.replay.baselines import BASELINES
from bonas.spaces.base import Space


class Strategy(Protocol):
    """A maximising search strategy driven by a replay."""

    def ask(self, n: int) -> list[Any]: ...

    def tell(self, archs: Sequence[Any], values: Sequence[float]) -> None: ...


class BonasStrategy:
    """bonas's :class:`~bonas.Optimizer` with one encoding and its default acquisition."""

    def __init__(self, space: Space, seed: int, encoding: str, deterministic: bool = True) -> None:
        self.optimizer = Optimizer(space, encoding=encoding, seed=seed, deterministic=deterministic)
        self._trials: dict[str, list] = {}

    def ask(self, n: int) -> list[Any]:
        trials = self.optimizer.ask(n)
        for trial in trials:
            self._trials.setdefault(trial.arch_str, []).append(trial)
        return [trial.arch for trial in trials]

    def tell(self, archs: Sequence[Any], values: Sequence[float]) -> None:
        for arch, value in zip(archs, values):
            trial = self._trials[self.optimizer.space.to_str(arch)].pop(0)
            self.optimizer.tell(trial, value)


METHODS = (*ENCODINGS, *BASELINES)


def make_strategy(method: str, space: Space, seed: int, noise_free: bool = True) -> Strategy:
    """The strategy called ``method`` (an encoding of bonas, or a baseline), seeded."""
    if method in ENCODINGS:
        return BonasStrategy(space, seed, encoding=method, deterministic=noise_free)
    if method in BASELINES:
        return BASELINES[method](space, seed)
    raise ValueError(f"unknown replay method {method!r}; expected one of {list(METHODS)}")
