"""Acquisition over a finite candidate pool: LogEI, UCB and Thompson sampling, with pending points.

Scores come from botorch's acquisition functions evaluated on every candidate
encoding (``m x d``, in chunks); with nothing pending, LogEI and UCB are
computed from :func:`bonas.posterior.posterior_marginals` by botorch's own
formulas (the same values, without botorch's per-candidate batch evaluation). Selection returns *indices* into the pool
rather than encodings, because distinct architectures can share an encoding
(botorch's ``optimize_acqf_discrete`` returns rows of ``X`` and could not tell
them apart). A batch is built greedily: each chosen candidate joins the pending
points (botorch ``X_pending``) before the next is scored, so in-flight and
already-chosen architectures lower the value of their look-alikes.
"""

from __future__ import annotations

import torch
from dataclasses import dataclass

from botorch.acquisition import qLogExpectedImprovement, qUpperConfidenceBound
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import _log_ei_helper
from botorch.models.model import Model
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

from bonas.posterior import believe_mean, is_exact_gp, observation_noise, posterior_joint, posterior_marginals

ACQUISITIONS = ("ei", "ucb", "ts")
UCB_BETA = 2.0
CHUNK = 2048
MC_SAMPLES = 256
MIN_VARIANCE = 1e-12
"""botorch's analytic acquisition clamps the posterior variance at this (``_mean_and_sigma``)."""
GREEDY_SHORTLIST = 1024
"""Greedy selection over a larger pool scores by Monte Carlo only this many candidates: those best by the analytic
acquisition of the model believing the pending points. Above the default local pool (1,000), so only whole-space
pools are shortlisted; there it takes a 16-pick ask from minutes to seconds (``benchmarks/RESULTS.md``)."""


def _pending_acquisition(model: Model, kind: str, best_f: float, pending_X: Tensor, seed: int) -> AcquisitionFunction:
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=seed)
    if kind == "ei":
        return qLogExpectedImprovement(model, best_f=best_f, sampler=sampler, X_pending=pending_X)
    return qUpperConfidenceBound(model, beta=UCB_BETA, sampler=sampler, X_pending=pending_X)


@torch.no_grad()
def acquisition_values(
    model: Model, candidates_X: Tensor, kind: str, best_f: float, pending_X: Tensor | None = None, seed: int = 0
) -> Tensor:
    """Acquisition value of each candidate.

    :param candidates_X: ``m x d`` candidate encodings.
    :param kind: ``"ei"`` (log expected improvement over ``best_f``) or ``"ucb"``.
    :param pending_X: ``p x d`` encodings of in-flight points, or ``None``.
    :returns: ``m`` values, larger is better.
    """
    if kind not in ("ei", "ucb"):
        raise ValueError(f"acquisition_values takes 'ei' or 'ucb', got {kind!r}")
    if pending_X is None or len(pending_X) == 0:
        mean, variance = posterior_marginals(model, candidates_X)
        sigma = variance.clamp_min(MIN_VARIANCE).sqrt()
        if kind == "ei":
            return _log_ei_helper((mean - best_f) / sigma) + sigma.log()
        return mean + UCB_BETA**0.5 * sigma
    acquisition = _pending_acquisition(model, kind, best_f, pending_X, seed)
    return torch.cat([acquisition(chunk.unsqueeze(-2)) for chunk in candidates_X.split(CHUNK)])


@dataclass(frozen=True)
class Acquisition:
    """Scores candidates: ``"ei"`` (log expected improvement over ``best_f``) or ``"ucb"`` (upper confidence bound).

    ``acquisition(model, candidates_X, best_f, pending_X=None, seed=0)`` is :func:`acquisition_values`: ``m``
    scores for ``m x d`` candidates, larger is better.
    """

    kind: str

    def __post_init__(self) -> None:
        if self.kind not in ("ei", "ucb"):
            raise ValueError(f"an acquisition scores by 'ei' or 'ucb', got {self.kind!r}")

    @classmethod
    def named(cls, acquisition: str) -> "Acquisition":
        """The scores behind an optimizer's ``acquisition``: Thompson sampling (``"ts"``) ranks batches by UCB."""
        return cls("ucb" if acquisition == "ts" else acquisition)

    def __call__(self, model: Model, candidates_X: Tensor, best_f: float, pending_X: Tensor | None = None,
                 seed: int = 0) -> Tensor:
        return acquisition_values(model, candidates_X, self.kind, best_f, pending_X, seed)


def best_unchosen(values: Tensor, chosen: list[int]) -> int:
    """Index of the largest of ``m`` ``values`` that is not in ``chosen``."""
    if chosen:
        values = values.clone()
        values[chosen] = -torch.inf
    return int(torch.argmax(values))


def select_greedy(
    model: Model,
    candidates_X: Tensor,
    q: int,
    kind: str,
    best_f: float,
    pending_X: Tensor | None = None,
    seed: int = 0,
    shortlist: int = GREEDY_SHORTLIST,
) -> list[int]:
    """``q`` distinct candidate indices chosen one at a time, each conditioned on the ones before.

    :param candidates_X: ``m x d`` candidate encodings.
    :param pending_X: ``p x d`` encodings of in-flight points, or ``None``.
    :param shortlist: when ``m`` is larger, picks come from the ``shortlist`` candidates best by the
        analytic acquisition of the model believing ``pending_X`` (Monte Carlo acquisition with pending
        points costs a joint posterior per candidate; the analytic one, one marginal).
    :returns: ``q`` indices into ``candidates_X``.
    """
    has_pending = pending_X is not None and len(pending_X) > 0
    if (q > 1 or has_pending) and len(candidates_X) > shortlist:
        believed = believe(model, pending_X) if has_pending else model
        rows = torch.argsort(acquisition_values(believed, candidates_X, kind, best_f), descending=True)[:shortlist]
        chosen = select_greedy(model, candidates_X[rows], q, kind, best_f, pending_X, seed, shortlist)
        return [int(rows[index]) for index in chosen]
    chosen: list[int] = []
    pending = pending_X
    for step in range(q):
        best = best_unchosen(acquisition_values(model, candidates_X, kind, best_f, pending, seed + step), chosen)
        chosen.append(best)
        new = candidates_X[best].unsqueeze(0)
        pending = new if pending is None else torch.cat([pending, new])
    return chosen


def believe(model: Model, X: Tensor) -> Model:
    """``model`` conditioned on ``p x d`` points ``X`` observed at its own posterior mean (Kriging believer).

    The posterior mean stays as it is, the variance collapses at ``X`` and
    shrinks near it: what an in-flight evaluation will teach, before its value is
    known. A fixed-noise (noise-free) model gets its own noise level at ``X``. An exact GP is conditioned by
    :func:`bonas.posterior.believe_mean` (its Cholesky factor extended, not recomputed); other models by
    botorch's ``condition_on_observations``.
    """
    if is_exact_gp(model):
        return believe_mean(model, X)
    with torch.no_grad():
        mean = model.posterior(X).mean
    kwargs = {}
    if isinstance(model.likelihood, FixedNoiseGaussianLikelihood):
        kwargs["noise"] = torch.full_like(mean, observation_noise(model))
    return model.condition_on_observations(X, mean, **kwargs)


def select_kriging_believer(
    model: Model,
    candidates_X: Tensor,
    q: int,
    kind: str,
    best_f: float,
    pending_X: Tensor | None = None,
) -> list[int]:
    """``q`` distinct candidate indices by the Kriging believer: after each pick, the model believes its mean there.

    In-flight points (``pending_X``, ``p x d``) are believed first. Each step
    scores the candidates with the analytic acquisition of the conditioned
    model, so no Monte Carlo noise enters the choice.
    """
    if pending_X is not None and len(pending_X):
        model = believe(model, pending_X)
    chosen: list[int] = []
    for _ in range(q):
        best = best_unchosen(acquisition_values(model, candidates_X, kind, best_f), chosen)
        chosen.append(best)
        model = believe(model, candidates_X[best].unsqueeze(0))
    return chosen


@torch.no_grad()
def select_thompson(model: Model, candidates_X: Tensor, q: int, generator: torch.Generator, pool_limit: int = 1500) -> list[int]:
    """``q`` distinct indices, each the argmax of one draw from the joint posterior over the pool.

    A joint draw over ``m`` candidates costs an ``m x m`` Cholesky factor, so
    only the ``pool_limit`` candidates with the highest upper confidence bound
    take part (Thompson sampling beyond them almost never picks a winner). The marginals and the joint posterior
    come from :mod:`bonas.posterior` (the training factor cached once per fit; gpytorch's own posterior switches to
    conjugate gradients above 800 results).
    """
    mean, variance = posterior_marginals(model, candidates_X)
    shortlist = torch.argsort(mean + UCB_BETA**0.5 * variance.clamp_min(0).sqrt(), descending=True)[:pool_limit]
    joint_mean, covariance = posterior_joint(model, candidates_X[shortlist])
    root = psd_safe_cholesky(covariance)
    n_draws = min(q, len(shortlist))
    base_samples = torch.randn(n_draws, len(shortlist), dtype=candidates_X.dtype, generator=generator)
    draws = joint_mean + base_samples.to(candidates_X.device) @ root.T
    chosen_positions: list[int] = []
    for draw in draws.reshape(n_draws, -1):
        draw[chosen_positions] = -torch.inf
        chosen_positions.append(int(torch.argmax(draw)))
    return [int(shortlist[position]) for position in chosen_positions]


SELECTION_ERRORS = (RuntimeError, ArithmeticError)
"""What a degenerate posterior raises inside a batch rule (``torch.linalg.LinAlgError``, linear_operator's
``NotPSDError`` and ``NanError``, ``torch.multinomial`` on NaN probabilities: all ``RuntimeError``): the optimizer
falls back. Running out of memory (``torch.OutOfMemoryError``) is not a degenerate posterior and is raised."""


@torch.no_grad()
def fallback_selection(model: Model, candidates_X: Tensor, q: int, seed: int) -> tuple[list[int], str]:
    """``q`` distinct indices when a batch rule failed: the best by posterior mean, or random if it is not finite.

    :returns: the indices and how they were chosen (``"posterior-mean"`` or ``"random"``).
    """
    try:
        mean, _ = posterior_marginals(model, candidates_X)
        if bool(torch.isfinite(mean).all()):
            return [int(index) for index in torch.argsort(mean, descending=True, stable=True)[:q]], "posterior-mean"
    except torch.OutOfMemoryError:
        raise
    except SELECTION_ERRORS:
        pass
    order = torch.randperm(len(candidates_X), generator=torch.Generator().manual_seed(seed))
    return [int(index) for index in order[:q]], "random"
