"""Model-based proposals for named outcomes: measured constraints and several objectives.

One GP per told metric, all on the same architecture encoding, joined in a botorch ``ModelListGP`` whose outputs
are :attr:`Outcomes.metrics` (the signed objectives, then the metrics told only for a constraint) and, for each
constraint on an objective, that objective's GP once more (botorch's constrained EI wants a constraint on an
output of its own). The pool is scored by botorch's own acquisition functions:

* one objective with constraints: ``LogConstrainedExpectedImprovement`` (log probability of feasibility plus
  LogEI over the best feasible value, Gardner et al. 2014), a batch built greedily with each pick believed at
  its posterior mean (Kriging believer, :func:`bonas.acquisition.believe`) before the next is scored;
* two or more objectives: the hypervolume improvement over the Pareto front of the feasible observations, with
  constraints as feasibility weights, the reference point inferred by botorch from all feasible observations
  (:func:`reference_point`), and a batch built
  greedily with the picks so far pending. Noise-free objectives (``deterministic``) with nothing pending use
  ``qLogExpectedHypervolumeImprovement`` over the observed front itself, the cheapest exact form; noisy ones, and
  any ask with points pending (in flight, or picked before in the batch), use
  ``qLogNoisyExpectedHypervolumeImprovement`` (Daulton et al. 2021; Ament et al. 2023), which integrates over the
  unknown true front of the observed architectures and whose cost grows linearly in the pending points where the
  noiseless form's grows exponentially.
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

from bonas.acquisition import SELECTION_ERRORS, believe, best_unchosen, fallback_selection
from bonas.fused_kernel import load_fused_kernel
from bonas.outcomes import Outcomes, pareto_indices
from bonas.proposal import Proposal
from bonas.surrogate import Surrogate

MC_SAMPLES = 128
"""Quasi-Monte Carlo samples of the hypervolume improvement (botorch's tutorials use 128)."""
CHUNK = 256
"""Candidates scored per call of an acquisition function."""


def model_outputs(outcomes: Outcomes) -> tuple[str, ...]:
    """The metric behind each output of the model list: :attr:`Outcomes.metrics`, then each constrained
    objective again."""
    return (*outcomes.metrics, *(metric for metric, _, _ in outcomes.constraints if metric in outcomes.names))


def signed_bounds(outcomes: Outcomes) -> dict[int, tuple[float | None, float | None]]:
    """Each constraint as ``{output index: (lower, upper)}`` on the model list's outputs (:func:`model_outputs`,
    botorch's form): a constraint on an objective is on that objective's second output, and on a minimised
    objective it is on the negated value."""
    directions = dict(outcomes.objectives)
    n_metrics = len(outcomes.metrics)
    bounds: dict[int, tuple[float | None, float | None]] = {}
    repeats = 0
    for metric, operator, bound in outcomes.constraints:
        if metric in directions:
            index, repeats = n_metrics + repeats, repeats + 1
        else:
            index = outcomes.metrics.index(metric)
        negated = directions.get(metric) == "min"
        upper = (operator == "<=") != negated
        value = -bound if negated else bound
        bounds[index] = (None, value) if upper else (value, None)
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
                     feasible: Sequence[bool], pending: Sequence[Any], cache_candidates: bool) -> Proposal:
    """``n`` of ``candidates`` (more than ``n``) for an optimizer with constraints or several objectives.

    :param surrogates: one per metric of ``outcomes.metrics``.
    :param observed: (architecture, told dict) pairs of the completed trials.
    :param feasible: for each observed trial, whether it meets every constraint (known and measured).
    :param pending: architectures in flight; they lower the value of their look-alikes.
    """
    archs = [arch for arch, _ in observed]
    targets = model_targets(outcomes, [values for _, values in observed])
    fits = {metric: surrogates[metric].fit(archs, targets[metric]) for metric in outcomes.metrics}
    first = surrogates[outcomes.metrics[0]]
    model = ModelListGP(*(fits[metric].model for metric in model_outputs(outcomes)))
    candidates_X = first.encode(candidates, cache=cache_candidates)
    pending_X = first.encode(pending) if pending else None
    fit_how = next((fit.how for fit in fits.values() if fit.how != "fit"), "fit")
    seed = int(rng.integers(2**31))
    signed = outcomes.signed([values for _, values in observed]).to(candidates_X)
    try:
        if outcomes.is_multi_objective:
            chosen, selection = _select_hypervolume(model, outcomes, candidates_X, n, first.encode(archs), signed,
                                                    feasible, pending_X, seed, noisy=not first.deterministic)
        else:
            chosen, selection = _select_constrained(model, outcomes, candidates_X, n, signed[:, 0], feasible,
                                                    pending_X), "logcei"
    except torch.OutOfMemoryError:
        raise
    except SELECTION_ERRORS:
        chosen, selection = fallback_selection(fits[outcomes.metrics[0]].model, candidates_X, n, seed)
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
        best = best_unchosen(values, chosen)
        chosen.append(best)
        model = _believed(model, candidates_X[best].unsqueeze(0))
    return chosen


def observed_front(signed: Tensor, feasible: Sequence[bool]) -> Tensor:
    """The Pareto front of the feasible observed ``n x k`` signed objectives; ``0 x k`` while none is feasible."""
    points = signed[torch.tensor(feasible, dtype=torch.bool, device=signed.device)]
    return points[pareto_indices(points)]


def reference_point(signed: Tensor, feasible: Sequence[bool]) -> Tensor:
    """botorch's reference point (:func:`infer_reference_point`: the nadir minus a tenth of the range) of every
    feasible observation, not only of their front (of all observations while none is feasible): the front's own
    nadir would leave out of the hypervolume every cell worse than the front's worst value in one objective, such
    as the fast, less accurate end of an accuracy-latency front that the search has not reached yet."""
    mask = torch.tensor(feasible, dtype=torch.bool, device=signed.device)
    return infer_reference_point(signed[mask] if bool(mask.any()) else signed)


@torch.no_grad()
def _select_hypervolume(model: ModelListGP, outcomes: Outcomes, candidates_X: Tensor, q: int, train_X: Tensor,
                        signed: Tensor, feasible: Sequence[bool], pending_X: Tensor | None, seed: int,
                        noisy: bool) -> tuple[list[int], str]:
    """``q`` indices by hypervolume improvement, each pick pending for the next, and the acquisition's name
    (``candidates_X``: ``m x d``; ``train_X``: the ``n x d`` observed encodings)."""
    k = len(outcomes.objectives)
    objective = IdentityMCMultiOutputObjective(outcomes=list(range(k))) if model.num_outputs > k else None
    constraints = _constraint_callables(signed_bounds(outcomes)) or None
    load_fused_kernel()
    ref_point = reference_point(signed, feasible)
    front = observed_front(signed, feasible)
    chosen: list[int] = []
    names = []
    for step in range(q):
        picked = candidates_X[chosen]
        X_pending = picked if pending_X is None else torch.cat([pending_X, picked])
        sampler = SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=seed + step)
        if noisy or len(X_pending):
            # botorch prunes the baseline with an unseeded sampler: seed it, so that an ask stays a function of
            # the optimizer's seed and its number of asks (and the global generator is left as it was)
            with torch.random.fork_rng():
                torch.manual_seed(seed + step)
                acquisition = qLogNoisyExpectedHypervolumeImprovement(
                    model, ref_point=ref_point, X_baseline=train_X, sampler=sampler, objective=objective,
                    constraints=constraints, X_pending=X_pending if len(X_pending) else None, prune_baseline=True,
                    cache_root=False)
            names.append("qlognehvi")
        else:
            acquisition = qLogExpectedHypervolumeImprovement(
                model, ref_point=ref_point, partitioning=FastNondominatedPartitioning(ref_point=ref_point, Y=front),
                sampler=sampler, objective=objective, constraints=constraints)
            names.append("qlogehvi")
        values = torch.cat([acquisition(chunk.unsqueeze(-2)) for chunk in candidates_X.split(CHUNK)])
        chosen.append(best_unchosen(values, chosen))
    return chosen, "+".join(dict.fromkeys(names))
