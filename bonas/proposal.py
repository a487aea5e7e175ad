"""A model-based proposal: fit the surrogate, score a candidate pool, let a batch rule choose.

The optimizer builds the pool and records what comes back; this module is the step in between, the same for
every encoding, acquisition and batch rule (each found by name once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bonas.acquisition import Acquisition
from bonas.batch.rules import BATCH_RULES, select_or_fall_back
from bonas.settings import OptimizerSettings
from bonas.surrogate import Surrogate


@dataclass
class Proposal:
    """The chosen architectures, how the surrogate was fitted (:class:`~bonas.surrogate.FitResult` ``how``) and
    how they were chosen (the batch rule's name, or the fallback's: ``"posterior-mean"``, ``"random"``)."""

    archs: list[Any]
    fit: str
    selection: str


def propose(surrogate: Surrogate, acquisition: Acquisition, settings: OptimizerSettings, candidates: Sequence[Any],
            n: int, batch: str, rng: np.random.Generator, *, observed: Sequence[tuple[Any, float]],
            pending: Sequence[Any], cache_candidates: bool) -> Proposal:
    """``n`` of ``candidates`` (more than ``n``), chosen by the batch rule ``batch`` on ``surrogate`` fitted to
    ``observed`` (architecture, maximised value) pairs, with the ``pending`` architectures in flight.

    ``rng`` draws the rule's seed; ``cache_candidates`` keeps the candidates' encodings for later asks (an
    enumerable space's pool recurs from ask to ask; elsewhere most candidates are new each time and caching them
    would grow without bound).
    """
    result = surrogate.fit([arch for arch, _ in observed], [value for _, value in observed])
    candidates_X = surrogate.encode(candidates, cache=cache_candidates)
    pending_X = surrogate.encode(pending) if pending else None
    seed = int(rng.integers(2**31))
    # Thompson sampling asks one architecture at a time by its own rule, whatever the batch rule
    rule_name = "ts" if settings.acquisition == "ts" and n == 1 else batch
    rule = BATCH_RULES[rule_name].make(acquisition, settings)
    chosen, how = select_or_fall_back(batch, rule, result.model, candidates_X, n, pending_X, result.best_f, seed)
    return Proposal([candidates[index] for index in chosen], result.how, batch if how == "rule" else how)
