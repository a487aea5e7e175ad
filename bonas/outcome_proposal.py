"""Model-based proposals for named outcomes: measured constraints and several objectives.

One GP per told metric, all on the same architecture encoding, joined in a botorch ``ModelListGP`` (outputs in
:attr:`Outcomes.metrics` order: the signed objectives, then the metrics told only for a constraint). The pool is
scored by botorch's own acquisition functions:

* one objective with constraints: ``LogConstrainedExpectedImprovement`` (log probability of feasibility plus
  LogEI over the best feasible value, Gardner et al. 2014), a batch built greedily with each pick believed at
  its posterior mean (Kriging believer, :func:`bonas.acquisition.believe`) before the next is scored;
* two or more objectives: the hypervolume improvement over the observed (feasible) Pareto front, with
  constraints as feasibility weights, the reference point inferred by botorch from that front, and a batch built
  greedily with the picks so far as ``X_pending``. Noisy objectives use
  ``qLogNoisyExpectedHypervolumeImprovement`` (Daulton et al. 2021; Ament et al. 2023), which integrates over
  the unknown true front of the observed architectures; noise-free ones (``deterministic``) its noiseless form
  ``qLogExpectedHypervolumeImprovement`` over the observed front itself, the same choice at a third of the cost
  (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from botorch.acquisition.analytic import LogConstrainedExpectedImprovement
from botorch.acquisition.multi_objective.logei import (
    qLogExpectedHypervolumeImprovement,
    qLogNoisyExpectedHypervolumeImprovement,
)
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.models import ModelListGP
from botorch.sampling import SobolQMCNormalSampler
from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning
from botorch.utils.multi_objective.hypervolume import infer_reference_point
from torch import Tensor

from bonas.acquisition import SELECTION_ERRORS, _best_unchosen, believe, fallback_selection
from bonas.outcomes import Outcomes, pareto_indices
from bonas.proposal import Proposal
from bonas.surrogate import Surrogate

MC_SAMPLES = 128
"""Quasi-Monte Carlo samples of the hypervolume improvement (botorch's tutorials use 128)."""
CHUNK = 256
"""Candidates scored per call of a Monte Carlo acquisition."""


def signed_bounds(outcomes: Outcomes) -> dict[int, tuple[float | None, float | None]]:
    """Each constraint as ``{output index: (lower, upper)}`` on the model list's outputs (botorch's form):
    a constraint on a minimised objective is on its negated output."""
    metrics = outcomes.metrics
    directions = dict(outcomes.objectives)
    bounds: dict[int, tuple[float | None, float | None]] = {}
    for metric, operator, bound in outcomes.constraints:
        negated = directions.get(metric) == "min"
        upper = (operator == "<=") != negated
        value = -bound if negated else bound
        bounds[metrics.index(metric)] = (None, value) if upper else (value, None)
    return bounds


def model_targets(outcomes: Outcomes, values: Sequence[Mapping[str, float]]) -> dict[str, list[float]]:
    """What each metric's GP is fitted to: the objectives signed (larger is better), the others as told."""
    signs = dict(zip(outcomes.names, outcomes.signs().tolist()))
    return {metric: [signs.get(metric, 1.0) * row[metric] for row in values] for metric in outcomes.metrics}


def _constraint_callables(bounds: Mapping[int, tuple[float | None, float | None]]) -> list[Callable[[Tensor], Tensor]]:
    """botorch's sample-level constraints: negative where output ``i`` is inside its bound."""
    callables = []
    for index, (lower, upper) in bounds.items():
        if upper is not None:
            callables.append(lambda Z, i=index, b=upper: Z[..., i] - b)
        else:
            callables.append(lambda Z, i=index, b=lower: b - Z[..., i])
    return callables


def propose_outcomes(surrogates: Mapping[str, Surrogate], outcomes: Outcomes, candidates: Sequence[Any], n: int,
                     rng: np.random.Generator, *, observed: Sequence[tuple[Any, Mapping[str, float]]],
                     pending: Sequence[Any], cache_candidates: bool) -> Proposal:
    """``n`` of ``candidates`` (more than ``n``) for an optimizer with constraints or several objectives.

    :param surrogates: one per metric of ``outcomes.metrics``.
    :param observed: (architecture, told dict) pairs of the completed trials.
    :param pending: architectures in flight; they lower the value of their look-alikes.
    """
    archs = [arch for arch, _ in observed]
    targets = model_targets(outcomes, [values for _, values in observed])
    fits = [surrogates[metric].fit(archs, targets[metric]) for metric in outcomes.metrics]
    first = surrogates[outcomes.metrics[0]]
    model = ModelListGP(*(fit.model for fit in fits))
    candidates_X = first.encode(candidates, cache=cache_candidates)
    pending_X = first.encode(pending) if pending else None
    fit_how = next((fit.how for fit in fits if fit.how != "fit"), "fit")
    seed = int(rng.integers(2**31))
    feasible = [outcomes.is_feasible(values) for _, values in observed]
    signed = outcomes.signed([values for _, values in observed]).to(candidates_X)
    try:
        if outcomes.is_multi_objective:
            chosen = _select_hypervolume(model, outcomes, candidates_X, n, first.encode(archs), signed, feasible,
                                         pending_X, seed, noisy=not first.deterministic)
            selection = "qlognehvi" if not first.deterministic else "qlogehvi"
        else:
            chosen = _select_constrained(model, outcomes, candidates_X, n, signed[:, 0], feasible, pending_X)
            selection = "logcei"
    except torch.OutOfMemoryError:
        raise
    except SELECTION_ERRORS:
        chosen, selection = fallback_selection(fits[0].model, candidates_X, n, seed)
    return Proposal([candidates[index] for index in chosen], fit_how, selection)


def _believed(model: ModelListGP, X: Tensor) -> ModelListGP:
    return ModelListGP(*(believe(member, X) for member in model.models))


@torch.no_grad()
def _select_constrained(model: ModelListGP, outcomes: Outcomes, candidates_X: Tensor, q: int, objective: Tensor,
                        feasible: Sequence[bool], pending_X: Tensor | None) -> list[int]:
    """``q`` indices by constrained LogEI, each pick believed before the next (``candidates_X``: ``m x d``)."""
    mask = torch.tensor(feasible, dtype=torch.bool, device=objective.device)
    # with no feasible result yet, every improvement is welcome and the probability of feasibility decides
    best_f = float(objective[mask].max()) if bool(mask.any()) else float(objective.min())
    bounds = signed_bounds(outcomes)
    if pending_X is not None and len(pending_X):
        model = _believed(model, pending_X)
    chosen: list[int] = []
    for _ in range(q):
        acquisition = LogConstrainedExpectedImprovement(model, best_f=best_f, objective_index=0, constraints=bounds)
        values = torch.cat([acquisition(chunk.unsqueeze(-2)) for chunk in candidates_X.split(CHUNK)])
        best = _best_unchosen(values, chosen)
        chosen.append(best)
        model = _believed(model, candidates_X[best].unsqueeze(0))
    return chosen


def observed_front(signed: Tensor, feasible: Sequence[bool]) -> Tensor:
    """The Pareto front of the feasible observed ``n x k`` signed objectives (of all of them while none is
    feasible)."""
    mask = torch.tensor(feasible, dtype=torch.bool, device=signed.device)
    points = signed[mask] if bool(mask.any()) else signed
    return points[pareto_indices(points)]


def reference_point(signed: Tensor, feasible: Sequence[bool]) -> Tensor:
    """botorch's reference point (:func:`infer_reference_point`) for :func:`observed_front`: slightly worse than
    its nadir."""
    return infer_reference_point(observed_front(signed, feasible))


@torch.no_grad()
def _select_hypervolume(model: ModelListGP, outcomes: Outcomes, candidates_X: Tensor, q: int, train_X: Tensor,
                        signed: Tensor, feasible: Sequence[bool], pending_X: Tensor | None, seed: int,
                        noisy: bool) -> list[int]:
    """``q`` indices by qLogNEHVI (``noisy``) or qLogEHVI, each pick joining ``X_pending`` before the next
    (``candidates_X``: ``m x d``; ``train_X``: the ``n x d`` observed encodings)."""
    k = len(outcomes.objectives)
    objective = (IdentityMCMultiOutputObjective(outcomes=list(range(k))) if len(outcomes.metrics) > k else None)
    constraints = _constraint_callables(signed_bounds(outcomes)) or None
    front = observed_front(signed, feasible)
    ref_point = infer_reference_point(front)
    chosen: list[int] = []
    for step in range(q):
        picked = candidates_X[chosen]
        X_pending = picked if pending_X is None else torch.cat([pending_X, picked])
        sampler = SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=seed + step)
        pending = X_pending if len(X_pending) else None
        if noisy:
            acquisition = qLogNoisyExpectedHypervolumeImprovement(
                model, ref_point=ref_point, X_baseline=train_X, sampler=sampler, objective=objective,
                constraints=constraints, X_pending=pending, prune_baseline=True, cache_root=False)
        else:
            acquisition = qLogExpectedHypervolumeImprovement(
                model, ref_point=ref_point, partitioning=FastNondominatedPartitioning(ref_point=ref_point, Y=front),
                sampler=sampler, objective=objective, constraints=constraints, X_pending=pending)
        values = torch.cat([acquisition(chunk.unsqueeze(-2)) for chunk in candidates_X.split(CHUNK)])
        chosen.append(_best_unchosen(values, chosen))
    return chosen
