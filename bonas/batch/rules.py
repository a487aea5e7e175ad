"""Batch rules: how ``q`` architectures are chosen from a scored candidate pool, one class each, one signature.

Every rule is ``rule.select(model, candidates_X, q, *, pending_X, best_f, generator) -> list[int]``: ``q``
distinct indices into the ``m x d`` candidate encodings, given the fitted model, the ``p x d`` encodings of
in-flight points (or ``None``), the best observed target and a seeded ``torch.Generator``. A rule that ranks
candidates scores them with the :class:`~bonas.acquisition.Acquisition` it was built with; scoring and
choosing stay separate. :data:`BATCH_RULES` names every rule; :func:`register_batch_rule` adds one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import torch
from botorch.models.model import Model
from torch import Tensor

from bonas.acquisition import (
    SELECTION_ERRORS,
    Acquisition,
    believe,
    fallback_selection,
    select_greedy,
    select_kriging_believer,
    select_thompson,
)
from bonas.batch.kdpp import select_kdpp_batch
from bonas.registry import Registry

if TYPE_CHECKING:
    from bonas.settings import OptimizerSettings

logger = logging.getLogger(__name__)

KDPP_POOL_PER_PICK = 4
"""By default a k-DPP batch of ``q`` is drawn among the ``4 q`` candidates best by acquisition.

Measured on NB201 replays (batches of 8, validation seeds 100-109, see
``benchmarks/RESULTS.md``): a shortlist of 500 spent the batch on diverse but
mediocre cells; ``4 q`` keeps the diversity among cells worth evaluating."""


class BatchRule(Protocol):
    """Chooses ``q`` of the candidates."""

    def select(self, model: Model, candidates_X: Tensor, q: int, *, pending_X: Tensor | None, best_f: float,
               generator: torch.Generator) -> list[int]: ...


def seed_of(generator: torch.Generator) -> int:
    """The seed ``generator`` was made with: rules built on botorch's seeded samplers take an integer."""
    return int(generator.initial_seed())


@dataclass(frozen=True)
class Greedy:
    """One at a time, each pick scored with the chosen and in-flight ones as botorch ``X_pending``."""

    acquisition: Acquisition

    def select(self, model: Model, candidates_X: Tensor, q: int, *, pending_X: Tensor | None, best_f: float,
               generator: torch.Generator) -> list[int]:
        return select_greedy(model, candidates_X, q, self.acquisition.kind, best_f, pending_X,
                             seed=seed_of(generator))


@dataclass(frozen=True)
class KrigingBeliever:
    """One at a time by analytic acquisition, the model believing its own mean at each pick and in-flight point."""

    acquisition: Acquisition

    def select(self, model: Model, candidates_X: Tensor, q: int, *, pending_X: Tensor | None, best_f: float,
               generator: torch.Generator) -> list[int]:
        return select_kriging_believer(model, candidates_X, q, self.acquisition.kind, best_f, pending_X)


@dataclass(frozen=True)
class Thompson:
    """One joint posterior draw over the pool per pick, its argmax (in-flight points play no part)."""

    acquisition: Acquisition | None = None

    def select(self, model: Model, candidates_X: Tensor, q: int, *, pending_X: Tensor | None, best_f: float,
               generator: torch.Generator) -> list[int]:
        return select_thompson(model, candidates_X, q, generator)


@dataclass(frozen=True)
class KDPP:
    """A quality k-DPP over the candidates best by acquisition (TW-NAS), the model believing in-flight points.

    :param pool: how many candidates, best by acquisition, take part; ``None`` is ``4 q``.
    :param temperature: quality temperature ``q_i = exp(z_i / T)``; smaller is greedier.
    :param anchored: the best candidate by acquisition (the sequential pick) is in the batch, the rest a
        draw conditioned on it (UCB-DPP).
    :param mode: ``"sample"`` (an exact k-DPP draw) or ``"map"`` (its greedy MAP, deterministic).
    """

    acquisition: Acquisition
    pool: int | None = None
    temperature: float = 1.0
    anchored: bool = False
    mode: str = "sample"

    def select(self, model: Model, candidates_X: Tensor, q: int, *, pending_X: Tensor | None, best_f: float,
               generator: torch.Generator) -> list[int]:
        believed = believe(model, pending_X) if pending_X is not None else model
        scores = self.acquisition(believed, candidates_X, best_f)
        pool = self.pool or KDPP_POOL_PER_PICK * q
        return select_kdpp_batch(believed, candidates_X, q, method=self.mode,
                                 pool_limit=max(q, pool), scores=scores, temperature=self.temperature,
                                 anchor=self.anchored, generator=generator)


def select_or_fall_back(name: str, rule: BatchRule, model: Model, candidates_X: Tensor, q: int,
                        pending_X: Tensor | None, best_f: float, seed: int) -> tuple[list[int], str]:
    """``rule``'s (called ``name``) ``q`` distinct indices, or, when it fails on a degenerate posterior
    (``SELECTION_ERRORS``, or fewer than ``q`` distinct picks), :func:`~bonas.acquisition.fallback_selection`'s,
    logged. A rule that returns something other than integer indices into the ``m`` candidates is a bug in the
    rule: ``ValueError`` naming it.

    :returns: the indices and how they were chosen: ``"rule"``, ``"posterior-mean"`` or ``"random"``.
    """
    try:
        chosen = _indices(name, rule.select(model, candidates_X, q, pending_X=pending_X, best_f=best_f,
                                            generator=torch.Generator().manual_seed(seed)), len(candidates_X))
        if len(set(chosen)) != q:
            raise RuntimeError(f"it chose {len(set(chosen))} distinct candidates of {q}")
        return chosen, "rule"
    except torch.OutOfMemoryError:
        raise
    except SELECTION_ERRORS as error:
        # an ask never crashes on the numbers of a model: a degenerate posterior falls back, logged
        logger.warning("batch selection %r failed (%s: %s); falling back", name, type(error).__name__, error)
        return fallback_selection(model, candidates_X, q, seed)


def _indices(name: str, chosen: object, m: int) -> list[int]:
    """``chosen`` as a list of ``int`` if it is a sequence (or 1-d tensor) of integer indices into ``m`` candidates."""
    try:
        as_tensor = torch.as_tensor(chosen)
    except (TypeError, ValueError, RuntimeError):
        as_tensor = None
    if (as_tensor is None or as_tensor.dim() != 1 or as_tensor.dtype == torch.bool
            or as_tensor.is_floating_point() or as_tensor.is_complex()):
        raise ValueError(f"batch rule {name!r} returned {chosen!r}; expected a list of integer indices into the "
                         f"{m} candidates")
    indices = as_tensor.tolist()
    if any(not 0 <= index < m for index in indices):
        raise ValueError(f"batch rule {name!r} returned indices {indices}; expected each in 0..{m - 1}")
    return indices


@dataclass(frozen=True)
class BatchRuleEntry:
    """A named batch rule: ``make(acquisition, settings)`` builds it for an optimizer's scores and
    :class:`~bonas.settings.OptimizerSettings` (a rule takes the options it needs, e.g. ``settings.kdpp_pool``);
    ``summary`` is its help."""

    name: str
    make: Callable[[Acquisition, "OptimizerSettings"], BatchRule]
    summary: str


BATCH_RULES: Registry[BatchRuleEntry] = Registry("batch", BatchRuleEntry)
"""Every registered batch rule, by name."""


def register_batch_rule(entry: BatchRuleEntry, replace: bool = False) -> BatchRuleEntry:
    """Add ``entry`` to :data:`BATCH_RULES` (``ValueError`` if its name is taken, unless ``replace``)."""
    return BATCH_RULES.add(entry, replace)


def unregister_batch_rule(name: str) -> None:
    """Remove the batch rule called ``name`` (``ValueError`` if there is none)."""
    BATCH_RULES.unregister(name)


for _entry in (
    BatchRuleEntry("kdpp", lambda acquisition, settings: KDPP(acquisition, settings.kdpp_pool, settings.kdpp_temperature),
                   "a quality k-DPP sample over the best candidates, the default for batches"),
    BatchRuleEntry("kdpp-anchored",
                   lambda acquisition, settings: KDPP(acquisition, settings.kdpp_pool, settings.kdpp_temperature,
                                                      anchored=True),
                   "the sequential pick plus a k-DPP draw conditioned on it"),
    BatchRuleEntry("kdpp-map",
                   lambda acquisition, settings: KDPP(acquisition, settings.kdpp_pool, settings.kdpp_temperature,
                                                      mode="map"),
                   "the k-DPP's greedy MAP, deterministic"),
    BatchRuleEntry("greedy", lambda acquisition, settings: Greedy(acquisition),
                   "one at a time with the chosen and in-flight ones pending, the default for single asks"),
    BatchRuleEntry("kriging-believer", lambda acquisition, settings: KrigingBeliever(acquisition),
                   "one at a time, the model believing its mean at each pick"),
    BatchRuleEntry("ts", lambda acquisition, settings: Thompson(acquisition),
                   "one Thompson draw per architecture"),
):
    register_batch_rule(_entry)
