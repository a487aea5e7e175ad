"""A multi-fidelity proposal: which cell to evaluate next, and at which fidelity.

One GP over every result at every fidelity (:mod:`bonas.fidelity`) scores two kinds of action:

* a new cell (from the candidate pool) at any declared fidelity;
* a *promotion*: a cell already evaluated, at a fidelity above every one it holds.

Two rules choose among them (``Optimizer(fidelity_acquisition=...)``):

* ``"ei"`` (the default), a ladder: the cell is the one of highest expected improvement at the *target*
  fidelity (botorch's LogEI over the best target value, or before one exists the best posterior mean at the
  target of an observed cell), among the new cells and the promotable ones; it is evaluated at the next
  fidelity above the highest it holds (a new cell at the lowest). A cell is thus screened cheaply before it is
  paid for at the target, and promoted when its cheap result keeps it the most promising cell (as MF-GP-UCB,
  Kandasamy et al. 2016, moves up a fidelity once the lower one is known at the chosen point).
* ``"gibbon"``: every action scored by GIBBON's multi-fidelity lower bound on max-value entropy search (botorch's
  ``qMultiFidelityLowerBoundMaxValueEntropy``, Moss et al. 2021; Takeno et al. 2020): the information an
  evaluation gives about the target's maximum, over its cost. botorch draws the maxima (Gumbel);
  :func:`information_per_cost` evaluates botorch's formula from one cross-covariance per chunk of actions
  (:func:`bonas.posterior.posterior_pairs`) instead of botorch's batch-mode posterior, which copies the training inputs per
  action (5-20 s for a 2,000-action ask at 200 results); the values are tested against botorch's.

Why ``"ei"`` is the default (``benchmarks/RESULTS.md``, multi-fidelity): information per cost kept buying
12-epoch results (2 of the first 160 evaluations at 200 epochs on a development seed), and the recommendation
must be a cell evaluated at the target. A batch of ``n`` is chosen greedily, the model conditioned on each pick
at its posterior mean (a Kriging believer) before the next.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from botorch.acquisition.max_value_entropy_search import (
    CLAMP_LB,
    qMultiFidelityLowerBoundMaxValueEntropy,
)
from botorch.models import SingleTaskGP
from torch import Tensor

from bonas.acquisition import acquisition_values
from bonas.fidelity import Fidelities
from bonas.posterior import observation_noise, posterior_marginals, posterior_pairs
from bonas.surrogate import Surrogate

FIDELITY_ACQUISITIONS = ("ei", "gibbon")
"""The rules a multi-fidelity ask chooses cell and fidelity by."""
MAX_VALUE_SAMPLES = 16
"""Samples of the target fidelity's maximum (botorch's default is 10)."""


@dataclass(frozen=True)
class FidelityChoice:
    """One evaluation to run: ``arch`` at ``fidelity``; a promotion names the trial it promotes."""

    arch: Any
    fidelity: int | float | None
    promoted_from: int | None = None


@dataclass
class FidelityProposal:
    """The chosen evaluations and how the surrogate was fitted (:class:`~bonas.surrogate.FitResult` ``how``)."""

    choices: list[FidelityChoice]
    fit: str
    selection: str = "mf-gibbon"


def at_fidelity(X: Tensor, index: int) -> Tensor:
    """``... x (d + 1)`` inputs with their fidelity column set to ``index``."""
    projected = X.clone()
    projected[..., -1] = float(index)
    return projected


def information_per_cost(model: SingleTaskGP, actions_X: Tensor, max_values: Tensor, target_index: int,
                         costs: Tensor) -> Tensor:
    """GIBBON's information about the target maximum from each action, over its cost.

    botorch's ``qMultiFidelityLowerBoundMaxValueEntropy`` forward for ``q = 1`` with an inverse-cost utility,
    computed from :func:`posterior_pairs`: ``-0.5 log(1 - rho^2 r (g + r))`` averaged over the maxima, where
    ``g = (max - mean_M) / sd_M``, ``r = pdf(g) / cdf(g)`` and ``rho`` the correlation between a noisy
    observation at the action and the latent target value at its cell.

    :param actions_X: ``m x (d + 1)`` actions (encoding, fidelity index).
    :param max_values: ``s x 1`` samples of the target maximum (botorch's ``posterior_max_values``).
    :param costs: ``k`` costs, one per fidelity index.
    :returns: ``m`` values, larger is better.
    """
    _, mean_M, var_m, var_M, cov_mM = posterior_pairs(model, actions_X, at_fidelity(actions_X, target_index))
    var_m = (var_m + observation_noise(model)).clamp_min(CLAMP_LB)
    var_M = var_M.clamp_min(CLAMP_LB)
    normal = torch.distributions.Normal(torch.zeros((), dtype=actions_X.dtype), torch.ones((), dtype=actions_X.dtype))
    gamma = (max_values.reshape(1, -1) - mean_M.unsqueeze(-1)) / var_M.sqrt().unsqueeze(-1)
    ratio = normal.log_prob(gamma).exp() / normal.cdf(gamma).clamp_min(CLAMP_LB)
    rho_squared = (cov_mM**2 / (var_m * var_M)).unsqueeze(-1)
    gain = -0.5 * (1 - rho_squared * ratio * (gamma + ratio)).clamp_min(CLAMP_LB).log()
    return gain.mean(dim=-1) / costs[actions_X[:, -1].round().long()]


def sample_max_values(model: SingleTaskGP, maxima_X: Tensor, target_index: int, seed: int) -> Tensor:
    """``s x 1`` samples of the target fidelity's maximum over ``maxima_X`` (``n x (d + 1)``, any fidelity
    column): botorch's Gumbel sampling, as ``qMultiFidelityLowerBoundMaxValueEntropy`` draws them."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        # botorch warns that the candidate set is not in the unit cube; encodings are not meant to be
        warnings.simplefilter("ignore", UserWarning)
        acquisition = qMultiFidelityLowerBoundMaxValueEntropy(
            model, candidate_set=at_fidelity(maxima_X, target_index), num_mv_samples=MAX_VALUE_SAMPLES,
            project=lambda X: at_fidelity(X, target_index))
    return acquisition.posterior_max_values


def propose_fidelity(surrogate: Surrogate, fidelities: Fidelities, candidates: Sequence[Any], n: int, *,
                     observed: Sequence[tuple[Any, int | float, float]],
                     promotable: Sequence[tuple[Any, int, int | float]],
                     pending: Sequence[tuple[Any, int | float]], seed: int,
                     cache_candidates: bool, rule: str = "ei") -> FidelityProposal:
    """``n`` evaluations, of new cells or promotions, each of a distinct cell, chosen by ``rule`` (one of
    :data:`FIDELITY_ACQUISITIONS`).

    :param candidates: unseen cells, each a candidate at every fidelity.
    :param observed: ``(arch, fidelity, maximised value)`` of every result.
    :param promotable: ``(arch, trial id, fidelity)`` of cells that can be evaluated again at a fidelity above
        ``fidelity`` (the highest they hold), promoting trial ``id``.
    :param pending: ``(arch, fidelity)`` in flight.
    :param seed: seeds botorch's max-value sampling.
    """
    archs = [arch for arch, _, _ in observed]
    result = surrogate.fit(archs, [value for _, _, value in observed],
                           [fidelities.index(fidelity) for _, fidelity, _ in observed])
    model = result.model
    if pending:
        model = _believing(model, surrogate.encode_at([arch for arch, _ in pending],
                                                      [fidelities.index(fidelity) for _, fidelity in pending]))
    if rule == "ei":
        return FidelityProposal(_ladder(model, surrogate, fidelities, candidates, n, observed, promotable,
                                        cache_candidates), result.how, "mf-ei")
    levels = range(len(fidelities.levels))
    # (cell number, action): a cell is chosen at most once per batch
    numbered = [(cell, FidelityChoice(arch, fidelities.levels[index]))
                for cell, arch in enumerate(candidates) for index in levels]
    numbered += [(len(candidates) + cell, FidelityChoice(arch, fidelities.levels[index], trial_id))
                 for cell, (arch, trial_id, held) in enumerate(promotable)
                 for index in levels if fidelities.levels[index] > held]
    if not numbered:
        return FidelityProposal([], result.how)
    cells = torch.tensor([cell for cell, _ in numbered])
    actions = [action for _, action in numbered]
    actions_X = surrogate.encode_at([action.arch for action in actions],
                                    [fidelities.index(action.fidelity) for action in actions], cache=cache_candidates)
    target = fidelities.target_index
    maxima_X = surrogate.encode_at([*candidates, *archs], [target] * (len(candidates) + len(archs)),
                                   cache=cache_candidates)
    costs = torch.tensor(fidelities.costs, dtype=actions_X.dtype, device=actions_X.device)
    chosen: list[FidelityChoice] = []
    open_actions = torch.ones(len(actions), dtype=torch.bool, device=actions_X.device)
    for pick in range(min(n, len(set(cells.tolist())))):
        max_values = sample_max_values(model, maxima_X, target, seed + pick)
        scores = information_per_cost(model, actions_X, max_values, target, costs)
        best = int(torch.argmax(torch.where(open_actions, scores, -torch.inf)))
        chosen.append(actions[best])
        open_actions &= (cells != cells[best]).to(open_actions.device)
        if pick + 1 < n:
            model = _believing(model, actions_X[best:best + 1])
    return FidelityProposal(chosen, result.how)


def _ladder(model: SingleTaskGP, surrogate: Surrogate, fidelities: Fidelities, candidates: Sequence[Any], n: int,
            observed: Sequence[tuple[Any, int | float, float]], promotable: Sequence[tuple[Any, int, int | float]],
            cache_candidates: bool) -> list[FidelityChoice]:
    """The ``"ei"`` rule: the ``n`` cells of highest target LogEI, each at the next fidelity above its highest."""
    target = fidelities.target_index
    cells = [*candidates, *(arch for arch, _, _ in promotable)]
    if not cells:
        return []
    cells_X = surrogate.encode_at(cells, [target] * len(cells), cache=cache_candidates)
    at_target = [value for _, fidelity, value in observed if fidelity == fidelities.target]
    if at_target:
        best_f = max(at_target)
    else:
        observed_X = surrogate.encode_at([arch for arch, _, _ in observed], [target] * len(observed))
        best_f = float(posterior_marginals(model, observed_X)[0].max())
    ladder = [FidelityChoice(arch, fidelities.lowest) for arch in candidates]
    ladder += [FidelityChoice(arch, min(level for level in fidelities.levels if level > held), trial_id)
               for arch, trial_id, held in promotable]
    chosen: list[FidelityChoice] = []
    available = torch.ones(len(cells), dtype=torch.bool, device=cells_X.device)
    for _ in range(min(n, len(cells))):
        scores = acquisition_values(model, cells_X, "ei", best_f)
        best = int(torch.argmax(torch.where(available, scores, -torch.inf)))
        chosen.append(ladder[best])
        available[best] = False
        if len(chosen) < n:
            model = _believing(model, surrogate.encode_at([ladder[best].arch],
                                                          [fidelities.index(ladder[best].fidelity)]))
    return chosen


def _believing(model: SingleTaskGP, X: Tensor) -> SingleTaskGP:
    """``model`` conditioned on its own posterior mean at ``X`` (``p x D``): a Kriging believer."""
    with torch.no_grad():
        believed = model.posterior(X).mean
    return model.condition_on_observations(X, believed)
