"""Search strategies a replay can run: bonas's optimizer per encoding, and the baselines.

Every strategy maximises and follows one protocol: ``ask(n)`` returns ``n``
architectures never proposed before, ``tell(archs, values)`` reports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bonas.batch.rules import BATCH_RULES
from bonas.encoders import ENCODINGS
from bonas.optimizer import Optimizer
from bonas.replay.baselines import BASELINES
from bonas.spaces.base import Space


class Strategy(Protocol):
    """A maximising search strategy driven by a replay."""

    def ask(self, n: int) -> list[Any]: ...

    def tell(self, archs: Sequence[Any], values: Sequence[float]) -> None: ...


class BonasStrategy:
    """bonas's :class:`~bonas.Optimizer` with one encoding, its default acquisition and a batch method.

    :param batch: how batches are chosen (see :meth:`Optimizer.ask`); ``None`` keeps the optimizer's default.
    :param prior: cheap signals (``Optimizer(prior=...)``), ``None`` without.
    """

    def __init__(self, space: Space, seed: int, encoding: str, deterministic: bool = True,
                 batch: str | None = None, feasible: Callable[[Any], bool] | None = None,
                 prior: Callable[[Any], Any] | None = None) -> None:
        self.optimizer = Optimizer(space, encoding=encoding, seed=seed, deterministic=deterministic,
                                   feasible=feasible, prior=prior)
        self.batch = batch
        self._trials: dict[str, list] = {}

    def ask(self, n: int) -> list[Any]:
        trials = self.optimizer.ask(n, batch=self.batch)
        for trial in trials:
            self._trials.setdefault(trial.arch_str, []).append(trial)
        return [trial.arch for trial in trials]

    def tell(self, archs: Sequence[Any], values: Sequence[float]) -> None:
        for arch, value in zip(archs, values):
            trial = self._trials[self.optimizer.space.to_str(arch)].pop(0)
            self.optimizer.tell(trial, value)


def methods() -> tuple[str, ...]:
    """Every replay method without a batch rule: the registered encodings, then the baselines."""
    return (*ENCODINGS, *BASELINES)


def check_method(method: str) -> str:
    """``method`` if it names a replay method: a baseline, an encoding, or ``encoding:batch`` (e.g. ``tw:greedy``)."""
    encoding, _, batch = method.partition(":")
    if method in BASELINES or (encoding in ENCODINGS and (not batch or batch in BATCH_RULES)):
        return method
    raise ValueError(f"unknown replay method {method!r}; expected one of {list(methods())}, or an encoding with a "
                     f"batch method as encoding:batch, batch one of {list(BATCH_RULES)}")


def make_strategy(method: str, space: Space, seed: int, noise_free: bool = True,
                  feasible: Callable[[Any], bool] | None = None, prior: Callable[[Any], Any] | None = None
                  ) -> Strategy:
    """The strategy called ``method`` (see :func:`check_method`), seeded, proposing only ``feasible`` cells; bonas's
    methods get the cheap signals ``prior``, the baselines do not."""
    if check_method(method) in BASELINES:
        return BASELINES[method](space, seed, feasible=feasible)
    encoding, _, batch = method.partition(":")
    return BonasStrategy(space, seed, encoding=encoding, deterministic=noise_free, batch=batch or None,
                         feasible=feasible, prior=prior)
