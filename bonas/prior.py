"""Cheap signals before training: scores of a cell known without training it, as the GP's prior mean.

Params, FLOPs and zero-cost proxies (:class:`bonas.evaluators.NASWOT`, :class:`bonas.evaluators.KNAS`) rank cells
before any training, and on NAS benchmarks they correlate with the trained accuracy (NASWOT's Spearman on
NAS-Bench-201, ``benchmarks/RESULTS.md``). A search given them (``Optimizer(prior=...)``) uses them twice:

- the GP's prior mean is a constant plus a learned linear function of the signals (:class:`CheapSignalMean`):
  the marginal likelihood decides how much each signal counts, so a useless one is weighted about zero;
- the initial design draws each of its cells as the best of :data:`TOURNAMENT_SIZE` random unseen cells by
  the signals (:func:`tournament`): better than random cells while still spread over the space.

A signal is a number where *higher is expected to be better* for the search's goal (a zero-cost proxy as
published, the log of params or FLOPs for an accuracy); the linear mean learns its sign and weight anyway, only
the initial design relies on the direction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from gpytorch.means import Mean
from torch import Tensor

from bonas.arch_cache import ArchCache
from bonas.spaces.base import Space
from bonas.validation import journal_name

TOURNAMENT_SIZE = 10
"""Random unseen cells each initial cell of a search with a prior is the best of (``benchmarks/RESULTS.md``)."""


class CheapSignals:
    """``signals(arch) -> float | sequence of floats``, checked and kept per architecture (the most recent
    :data:`~bonas.arch_cache.MAX_CACHED`).

    :param function: the cheap signals of one architecture, every call the same number of them; the journal names
        it by :func:`bonas.validation.journal_name`.
    :param space: its space, for error messages.
    """

    def __init__(self, function: Callable[[Any], Any], space: Space) -> None:
        if not callable(function):
            raise ValueError(f"prior must be a callable arch -> float or sequence of floats, got "
                             f"{type(function).__name__}")
        self.function = function
        self.space = space
        self.name = journal_name(function)
        self.width: int | None = None
        self._values: ArchCache[tuple[float, ...]] = ArchCache()

    def __call__(self, arch: Any) -> tuple[float, ...]:
        """The signals of ``arch``: ``ValueError`` naming the prior and the cell when one is not a finite number
        or their number differs from the first call's."""
        return self._values.get(arch, self._signals)

    def _signals(self, arch: Any) -> tuple[float, ...]:
        raw = self.function(arch)
        items = list(raw) if isinstance(raw, (Sequence, np.ndarray, Tensor)) and not isinstance(raw, str) else [raw]
        values = []
        for item in items:
            try:
                value = float(item)
            except (TypeError, ValueError):
                value = float("nan")
            if not np.isfinite(value) or isinstance(item, bool):
                raise ValueError(f"prior ({self.name}) returned {raw!r} for {self.space.to_str(arch)}; expected "
                                 "finite numbers")
            values.append(value)
        if not values:
            raise ValueError(f"prior ({self.name}) returned no signal for {self.space.to_str(arch)}")
        if self.width is None:
            self.width = len(values)
        elif len(values) != self.width:
            raise ValueError(f"prior ({self.name}) returned {len(values)} signals for {self.space.to_str(arch)}, "
                             f"{self.width} for earlier cells")
        return tuple(values)

    def matrix(self, archs: Sequence[Any]) -> Tensor:
        """``n x k`` signals of ``archs`` (double)."""
        return torch.tensor([self(arch) for arch in archs], dtype=torch.double).reshape(len(archs), -1)


class CheapSignalMean(Mean):
    """``c + w . (s - mu) / sigma`` on the signal columns of the GP's inputs (``n x (d + k)``: an encoding, then
    ``k`` signals).

    ``mu`` and ``sigma`` are the training rows' signal means and standard deviations, fixed when the mean is
    built, so that ``w`` is in units of the standardised outcome per standard deviation of a signal. ``c`` and
    ``w`` start at zero (the constant mean botorch starts from) and are fitted with the kernel.

    :param train_signals: ``n x k`` signals of the training rows.
    :param dim: the width ``d`` of the encoding before them.
    """

    def __init__(self, train_signals: Tensor, dim: int) -> None:
        super().__init__()
        self.dim = dim
        width = train_signals.shape[-1]
        scale = train_signals.std(dim=0, keepdim=True) if len(train_signals) > 1 else torch.ones_like(train_signals)
        self.register_buffer("center", train_signals.mean(dim=0, keepdim=True))
        self.register_buffer("scale", torch.where(scale > 0, scale, torch.ones_like(scale)))
        self.register_parameter("constant", torch.nn.Parameter(torch.zeros((), dtype=train_signals.dtype)))
        self.register_parameter("weights", torch.nn.Parameter(torch.zeros(width, dtype=train_signals.dtype)))

    def forward(self, x: Tensor) -> Tensor:
        """``... x n`` prior means of ``... x n x (d + k)`` inputs."""
        signals = (x[..., self.dim:] - self.center) / self.scale
        return self.constant + signals @ self.weights


def tournament(pool: Sequence[Any], n: int, signals: CheapSignals, size: int = TOURNAMENT_SIZE) -> list[Any]:
    """``n`` of ``pool`` (distinct random unseen cells, ``n * size`` of them as drawn): the best by ``signals`` of
    each consecutive group of ``size``, so each pick is the winner of its own random draw. A pool shorter than
    ``n * size`` (a nearly exhausted space) is cut into ``n`` smaller groups; fewer than ``n`` cells give all.

    With several signals a cell's score is the mean of its ranks within its group, so no signal's scale
    dominates.
    """
    size = max(1, min(size, len(pool) // max(n, 1)))
    chosen = []
    for start in range(0, len(pool), size):
        group = list(pool[start:start + size])
        ranks = signals.matrix(group).numpy().argsort(axis=0, kind="stable").argsort(axis=0, kind="stable")
        chosen.append(group[int(np.argmax(ranks.mean(axis=1)))])
        if len(chosen) == n:
            break
    return chosen
