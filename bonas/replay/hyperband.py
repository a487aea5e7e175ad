"""Multi-fidelity baselines for a multi-fidelity replay: Hyperband, and BOHB with bonas's GP.

:class:`Hyperband` (Li et al., JMLR 2018) runs the brackets of :func:`hyperband_brackets` one after the other,
``s_max`` down to 0 and then over again, each a successive halving: ``n_0`` fresh random cells at the lowest
budget of the bracket, then the best ``n_{i+1}`` of rung ``i`` (by told value) at the next budget up, up to the
top fidelity. :class:`BOHBStyle` (Falkner et al., ICML 2018) keeps that schedule but proposes the rung-0 cells of
each bracket with bonas's GP (``encoding="tw"``, a k-DPP batch) fitted on the highest fidelity that has at least
``min_points`` told values, a fraction ``random_fraction`` of them staying uniformly random, as BOHB does with
its KDE. Both maximise, are built as ``Cls(space, seed, fidelities=..., eta=...)`` and are driven one evaluation
at a time: ``ask() -> (arch, fidelity)``, then ``tell(arch, fidelity, value)``; :meth:`Hyperband.recommend` is
the best cell evaluated at the top fidelity. No cell is evaluated twice at one fidelity, and every rung-0 cell is
fresh (no computationally equivalent cell, :meth:`Space.canonical_key`, was asked before at any fidelity).

Cost model: an evaluation at fidelity ``f`` costs ``f`` epochs, a promotion included. A promotion is a new
training at the full higher budget, not a continuation of the lower one: NAS-Bench-201's 12-epoch results come
from their own 12-epoch schedule (learning rate annealed to zero in 12 epochs), not from the first 12 epochs of
the 200-epoch run, so there are no weights to continue from.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from bonas.optimizer import MIN_OBSERVATIONS, Optimizer
from bonas.replay.baselines import MAX_DRAWS
from bonas.spaces.base import Space
from bonas.validation import check_finite, check_int, check_positive

__all__ = ["FIDELITY_BASELINES", "BOHBStyle", "Hyperband", "hyperband_brackets"]

logger = logging.getLogger(__name__)

ROUNDING_TOLERANCE = 1e-9
"""Relative slack of the floors and ceilings of :func:`hyperband_brackets`, so that ``log_3(81)`` is 4 and
``81 / 3`` is 27 whatever the floating point error."""
FIDELITY_TOLERANCE = 1e-6
"""Relative distance within which a rung budget (or a ratio of fidelities) counts as equal to a declared one."""


def _floor(x: float) -> int:
    return math.floor(x * (1 + ROUNDING_TOLERANCE))


def _ceil(x: float) -> int:
    return math.ceil(x * (1 - ROUNDING_TOLERANCE))


def hyperband_brackets(min_budget: float, max_budget: float, eta: float) -> list[list[tuple[int, float]]]:
    """The brackets of Hyperband, Li et al. (JMLR 2018), Algorithm 1.

    With ``R = max_budget / min_budget``, ``s_max = floor(log_eta(R))`` and ``B = (s_max + 1) R``, bracket ``s``
    (``s_max`` down to 0) starts ``n = ceil(B / R * eta^s / (s + 1))`` configurations at ``r = R eta^-s``; its
    rung ``i`` (``0..s``) holds ``floor(n eta^-i)`` of them at budget ``r eta^i``.

    :param min_budget: the smallest budget (one unit of ``R``), positive.
    :param max_budget: the largest budget, at least ``min_budget``.
    :param eta: the reduction factor, above 1.
    :returns: one list per bracket, ``s = s_max`` first, of ``(n_i, budget_i)`` per rung, budgets in the units of
        ``min_budget`` and ``max_budget`` (the last rung of every bracket is at ``max_budget``).
    """
    min_budget = check_positive(min_budget, "min_budget")
    max_budget = check_positive(max_budget, "max_budget")
    eta = check_positive(eta, "eta")
    if max_budget < min_budget:
        raise ValueError(f"max_budget ({max_budget}) is below min_budget ({min_budget})")
    if eta <= 1:
        raise ValueError(f"eta must be above 1, got {eta}")
    R = max_budget / min_budget
    s_max = _floor(math.log(R) / math.log(eta))
    B = (s_max + 1) * R
    brackets = []
    for s in range(s_max, -1, -1):
        n = _ceil(B / R * eta**s / (s + 1))
        r = R / eta**s
        brackets.append([(_floor(n / eta**i), min_budget * r * eta**i) for i in range(s + 1)])
    return brackets


class Hyperband:
    """Hyperband with uniformly random rung-0 cells, driven one evaluation at a time.

    :param space: the search space.
    :param seed: seeds every random choice; the same seed and tells give the same asks.
    :param fidelities: the declared fidelities (e.g. training epochs), at least two; the smallest is Hyperband's
        minimum budget, the largest its maximum.
    :param eta: the reduction factor; every rung budget it gives must be a declared fidelity. ``None``: the ratio
        of the fidelities, which must then be geometric (``max / min`` for two).

    The brackets (:attr:`schedule`, as :func:`hyperband_brackets` with the budgets replaced by the declared
    fidelities) run ``s_max`` down to 0 and start over, for ever. ``ask`` and ``tell`` alternate strictly: a
    second ``ask`` before the ``tell`` of the first raises ``RuntimeError``. The runner may stop at any point,
    in the middle of a bracket included. :attr:`history` holds every told ``(arch, fidelity, value)`` in order,
    :attr:`n_brackets_started` counts the brackets begun.
    """

    def __init__(self, space: Space, seed: int, fidelities: tuple[int, ...] = (12, 200),
                 eta: float | None = None) -> None:
        self.space = space
        self.rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
        self.seed = int(seed)
        self.fidelities = _checked_fidelities(fidelities)
        self.eta = _default_eta(self.fidelities) if eta is None else _checked_eta(eta)
        self.schedule: list[list[tuple[int, Any]]] = [
            [(n, _declared(budget, self.fidelities, self.eta)) for n, budget in bracket]
            for bracket in hyperband_brackets(self.fidelities[0], self.fidelities[-1], self.eta)]
        self.history: list[tuple[Any, Any, float]] = []
        self.n_brackets_started = 0
        self._proposed: set[Hashable] = set()
        self._rung = 0
        self._queue: list[Any] = []
        self._rung_told: list[tuple[Any, float]] = []
        self._pending: tuple[Any, Any] | None = None
        self._best: tuple[Any, float] | None = None

    @property
    def bracket(self) -> list[tuple[int, Any]] | None:
        """The ``(n_i, fidelity_i)`` rungs of the bracket under way, ``None`` before the first ask."""
        if self.n_brackets_started == 0:
            return None
        return self.schedule[(self.n_brackets_started - 1) % len(self.schedule)]

    def ask(self) -> tuple[Any, int]:
        """The next ``(arch, fidelity)`` to evaluate, ``fidelity`` one of :attr:`fidelities`."""
        if self._pending is not None:
            arch, fidelity = self._pending
            raise RuntimeError(f"ask() before the tell of {self.space.to_str(arch)} at fidelity {fidelity}: "
                               "this strategy evaluates one cell at a time")
        if not self._queue:
            self._next_rung()
        arch = self._queue.pop(0)
        self._pending = (arch, self.bracket[self._rung][1])
        return self._pending

    def tell(self, arch: Any, fidelity: int, value: float) -> None:
        """Report the value (maximised) of the ``(arch, fidelity)`` the last ``ask`` returned."""
        if self._pending is None:
            raise ValueError(f"tell of {self.space.to_str(arch)} at fidelity {fidelity} with nothing asked")
        pending_arch, pending_fidelity = self._pending
        if (self.space.canonical_key(arch) != self.space.canonical_key(pending_arch)
                or fidelity != pending_fidelity):
            raise ValueError(f"tell of {self.space.to_str(arch)} at fidelity {fidelity}; the cell asked is "
                             f"{self.space.to_str(pending_arch)} at fidelity {pending_fidelity}")
        value = check_finite(value, "value")
        self._pending = None
        self.history.append((pending_arch, pending_fidelity, value))
        self._rung_told.append((pending_arch, value))
        if pending_fidelity == self.fidelities[-1] and (self._best is None or value > self._best[1]):
            self._best = (pending_arch, value)

    def recommend(self) -> Any | None:
        """The best cell (by told value, the earlier on a tie) evaluated at the top fidelity; ``None`` before one."""
        return None if self._best is None else self._best[0]

    def _next_rung(self) -> None:
        """Promote the best of the finished rung to the next, or start the next bracket after its last rung."""
        bracket = self.bracket
        if bracket is None or self._rung == len(bracket) - 1:
            self._start_bracket()
            return
        n_next = bracket[self._rung + 1][0]
        ranked = sorted(self._rung_told, key=lambda told: -told[1])
        self._queue = [arch for arch, _ in ranked[:n_next]]
        self._rung += 1
        self._rung_told = []

    def _start_bracket(self) -> None:
        self.n_brackets_started += 1
        self._rung = 0
        self._rung_told = []
        self._queue = self._first_rung(self.bracket[0][0])

    def _first_rung(self, n: int) -> list[Any]:
        """The ``n`` fresh cells of rung 0 of the bracket just started."""
        return [self._random_fresh() for _ in range(n)]

    def _claim(self, arch: Any) -> bool:
        """Mark ``arch`` proposed; ``False`` if an equivalent cell was proposed before."""
        key = self.space.canonical_key(arch)
        if key in self._proposed:
            return False
        self._proposed.add(key)
        return True

    def _random_fresh(self) -> Any:
        """A uniformly drawn cell not proposed before (rejection sampling)."""
        for _ in range(MAX_DRAWS):
            arch = self.space.sample(1, self.rng)[0]
            if self._claim(arch):
                return arch
        raise RuntimeError(f"no unproposed architecture found in {MAX_DRAWS} random draws; the space is exhausted")


class BOHBStyle(Hyperband):
    """Hyperband whose rung-0 cells are proposed by bonas's GP, as BOHB (Falkner et al., 2018) does with a KDE.

    At the start of each bracket, a fresh :class:`~bonas.Optimizer` (``encoding="tw"``, ``n_initial=1``,
    ``deterministic=False``, seeded from ``seed`` and the bracket's number) is given every told value at the
    largest fidelity with at least ``min_points`` of them (BOHB's rule), and its ``ask(k, batch="kdpp")``
    proposes all but ``floor(random_fraction * n_0 + 1/2)`` of the bracket's ``n_0`` rung-0 cells; the others are
    uniformly random, and so are all of them while no fidelity has ``min_points`` values. A proposal already
    evaluated (at another fidelity) is replaced by a fresh random cell. A bracket whose rung 0 holds cells of the
    GP asks them and the random ones in a seeded random order; until the GP proposes a cell, the asks are those
    of :class:`Hyperband` with the same seed. :attr:`model_fidelity` is the fidelity the GP of the bracket under
    way was fitted on (``None``: the bracket built none), :attr:`n_model_proposed` how many of its rung-0 cells
    the GP proposed (those already evaluated, replaced, not counted).

    :param min_points: told values a fidelity needs before the GP models it (at least 2).
    :param random_fraction: the share of each bracket's rung-0 cells that stay random, in ``[0, 1]``
        (BOHB's ``rho``).
    """

    def __init__(self, space: Space, seed: int, fidelities: tuple[int, ...] = (12, 200),
                 eta: float | None = None, min_points: int = 10, random_fraction: float = 1 / 3) -> None:
        min_points = check_int(min_points, "min_points", minimum=MIN_OBSERVATIONS)
        random_fraction = check_finite(random_fraction, "random_fraction")
        if not 0 <= random_fraction <= 1:
            raise ValueError(f"random_fraction must be in [0, 1], got {random_fraction}")
        super().__init__(space, seed, fidelities, eta)
        self.min_points = min_points
        self.random_fraction = random_fraction
        self.model_fidelity: Any | None = None
        self.n_model_proposed = 0

    def _first_rung(self, n: int) -> list[Any]:
        n_random = math.floor(self.random_fraction * n + 0.5)
        self.model_fidelity = self._fidelity_to_model() if n > n_random else None
        self.n_model_proposed = 0
        cells = []
        if self.model_fidelity is not None:
            for arch in self._model_proposals(n - n_random):
                if self._claim(arch):
                    cells.append(arch)
                    self.n_model_proposed += 1
                else:
                    cells.append(self._random_fresh())
        cells += [self._random_fresh() for _ in range(n - len(cells))]
        if self.n_model_proposed == 0:
            return cells
        return [cells[i] for i in self.rng.permutation(n)]

    def _fidelity_to_model(self) -> Any | None:
        """The largest fidelity with at least ``min_points`` told values (BOHB's rule), ``None`` if none has."""
        counts = {fidelity: 0 for fidelity in self.fidelities}
        for _, fidelity, _ in self.history:
            counts[fidelity] += 1
        enough = [fidelity for fidelity, count in counts.items() if count >= self.min_points]
        return max(enough, default=None)

    def _model_proposals(self, k: int) -> list[Any]:
        """``k`` cells the GP, fitted on the values at :attr:`model_fidelity`, asks as one k-DPP batch."""
        bracket_seed = int(np.random.SeedSequence([self.seed, self.n_brackets_started]).generate_state(1)[0] >> 1)
        optimizer = Optimizer(self.space, encoding="tw", seed=bracket_seed, n_initial=1, deterministic=False)
        for arch, fidelity, value in self.history:
            if fidelity == self.model_fidelity:
                optimizer.attach(arch, value)
        logger.debug("bracket %d: GP on %d values at fidelity %s proposes %d cells", self.n_brackets_started,
                     len(optimizer.completed), self.model_fidelity, k)
        return [trial.arch for trial in optimizer.ask(k, batch="kdpp")]


def _checked_fidelities(fidelities: Sequence[Any]) -> tuple[Any, ...]:
    """``fidelities`` sorted ascending, if they are at least two distinct positive finite numbers."""
    try:
        declared = tuple(fidelities)
    except TypeError:
        raise ValueError(f"fidelities must be a sequence of positive numbers, got {fidelities!r}") from None
    for fidelity in declared:
        check_positive(fidelity, f"fidelity {fidelity!r} of fidelities {list(declared)}")
    if len(set(declared)) != len(declared) or len(declared) < 2:
        raise ValueError(f"fidelities must be at least two distinct numbers, got {list(declared)}")
    return tuple(sorted(declared))


def _default_eta(fidelities: tuple[Any, ...]) -> float:
    """The common ratio of geometric ``fidelities``; ``ValueError`` naming them if they are not geometric."""
    ratios = [high / low for low, high in pairwise(fidelities)]
    if any(abs(ratio - ratios[0]) > FIDELITY_TOLERANCE * ratios[0] for ratio in ratios):
        raise ValueError(f"fidelities {list(fidelities)} are not geometric (ratios "
                         f"{[round(ratio, 6) for ratio in ratios]}): Hyperband's rung budgets grow by one factor "
                         "eta; declare geometric fidelities or pass an eta whose budgets are declared fidelities")
    return (fidelities[-1] / fidelities[0]) ** (1 / (len(fidelities) - 1))


def _checked_eta(eta: Any) -> float:
    eta = check_positive(eta, "eta")
    if eta <= 1:
        raise ValueError(f"eta must be above 1, got {eta}")
    return eta


def _declared(budget: float, fidelities: tuple[Any, ...], eta: float) -> Any:
    """The declared fidelity within :data:`FIDELITY_TOLERANCE` of rung ``budget``; ``ValueError`` if none is."""
    nearest = min(fidelities, key=lambda fidelity: abs(fidelity - budget))
    if abs(nearest - budget) > FIDELITY_TOLERANCE * nearest:
        raise ValueError(f"eta={eta} gives a rung budget of {budget:.6g}, which is none of the fidelities "
                         f"{list(fidelities)}; every rung budget must be a declared fidelity")
    return nearest


FIDELITY_BASELINES: dict[str, type[Hyperband]] = {
    "hyperband": Hyperband,
    "bohb": BOHBStyle,
}
