"""A fitted GP's latent posterior from one Cholesky factor of its training covariance, kept with the model.

botorch's ``model.posterior`` goes through gpytorch's prediction strategy, which solves with the training
covariance anew for each call and, above ``gpytorch.settings.max_cholesky_size`` (800 results), by conjugate
gradients and Lanczos instead of a Cholesky factor. At a few thousand results that made one ask's scoring take
tens of seconds (``benchmarks/bench_ask.py``). Here the factor ``L`` of ``K + noise`` and the weights
``(K + noise)^-1 (y - mean)`` are computed once per fitted model (:func:`training_factor`, cached until the model's
parameters or training data change) and every posterior quantity an ask needs is a triangular solve against
them: :func:`posterior_marginals` (LogEI and UCB over a pool), :func:`posterior_pairs` (GIBBON's pairs of
fidelities) and :func:`posterior_joint` (the k-DPP's shortlist). All are exact and tested against
``model.posterior``; all are in outcome units (the outcome transform undone) and for the latent function (no
observation noise). :func:`believe_mean` conditions an exact GP on its own mean (the Kriging believer) by
extending the factor instead of computing a new one. :func:`posterior_marginals` and :func:`posterior_joint` take
any single-output botorch model: a model that is not an exact GP (:func:`is_exact_gp`) is asked through
``model.posterior``, so callers never dispatch on the model's type themselves.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass

import torch
from botorch.models import SingleTaskGP
from botorch.models.gpytorch import GPyTorchModel
from botorch.models.model import Model
from gpytorch.distributions import MultivariateNormal
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

CHUNK = 2048
"""Candidates scored per cross-covariance (``CHUNK x n`` numbers)."""


@dataclass
class TrainingFactor:
    """``L`` (``n x n``, lower) with ``L L^T = K + noise`` at the training inputs, the weights ``(K + noise)^-1
    (y - mean)`` (``n``), and the outcome transform's ``scale`` and ``shift`` (standardised -> outcome units)."""

    factor: Tensor
    weights: Tensor
    scale: Tensor | float
    shift: Tensor | float
    stamp: tuple


_factors: "weakref.WeakKeyDictionary[GPyTorchModel, TrainingFactor]" = weakref.WeakKeyDictionary()


def is_exact_gp(model: Model) -> bool:
    """Whether ``model``'s posterior is served from its cached :func:`training_factor`: a single-output,
    non-batched exact GP (botorch's ``SingleTaskGP`` and its subclasses, incl. their fantasies)."""
    return isinstance(model, SingleTaskGP) and model.num_outputs == 1 and model.train_inputs[0].dim() == 2


def _single_output(posterior_mean: Tensor) -> None:
    if posterior_mean.shape[-1] != 1:
        raise ValueError(f"a single-output model was expected, got {posterior_mean.shape[-1]} outputs")


def _stamp(model: GPyTorchModel) -> tuple:
    train_X = model.train_inputs[0]
    return (id(train_X), train_X._version, id(model.train_targets), model.train_targets._version,
            tuple(parameter._version for parameter in model.parameters()))


@torch.no_grad()
def training_factor(model: GPyTorchModel) -> TrainingFactor:
    """The Cholesky factor and weights of ``model``'s exact posterior (a single-output, non-batched exact GP in
    eval mode), computed once and reused until its parameters or training data change."""
    model.eval()
    stamp = _stamp(model)
    cached = _factors.get(model)
    if cached is not None and cached.stamp == stamp:
        return cached
    train_X = model.train_inputs[0]
    prior_mean = model.mean_module(train_X)
    prior = MultivariateNormal(prior_mean, model.covar_module(train_X))
    covariance = model.likelihood(prior, [train_X]).lazy_covariance_matrix.to_dense()
    factor = psd_safe_cholesky(covariance)
    residual = (model.train_targets - prior_mean).unsqueeze(-1)
    weights = torch.cholesky_solve(residual, factor).squeeze(-1)
    scale: Tensor | float = 1.0
    shift: Tensor | float = 0.0
    transform = getattr(model, "outcome_transform", None)
    if transform is not None:
        scale, shift = transform.stdvs.squeeze(), transform.means.squeeze()
    cached = TrainingFactor(factor, weights, scale, shift, stamp)
    _factors[model] = cached
    return cached


def _latent(model: GPyTorchModel, factor: TrainingFactor, X: Tensor) -> tuple[Tensor, Tensor]:
    """Standardised posterior mean (``m``) and the solved cross-covariance ``L^-1 K(X_train, X)`` (``n x m``)."""
    cross = model.covar_module(X, model.train_inputs[0]).to_dense()
    mean = model.mean_module(X) + cross @ factor.weights
    return mean, torch.linalg.solve_triangular(factor.factor, cross.T, upper=False)


@torch.no_grad()
def posterior_marginals(model: Model, X: Tensor, chunk: int = CHUNK) -> tuple[Tensor, Tensor]:
    """Posterior mean and variance of the latent function at ``m x d`` points: two ``m`` tensors.

    What ``model.posterior(X.unsqueeze(-2))`` gives (the batch-mode call botorch's analytic LogEI and UCB make),
    from one ``chunk x n`` cross-covariance per chunk for an exact GP.
    """
    if not is_exact_gp(model):
        posterior = model.posterior(X)
        _single_output(posterior.mean)
        return posterior.mean.squeeze(-1), posterior.variance.squeeze(-1)
    factor = training_factor(model)
    means, variances = [], []
    for part in X.split(chunk):
        mean, solved = _latent(model, factor, part)
        variance = model.covar_module(part, diag=True) - solved.square().sum(0)
        means.append(mean * factor.scale + factor.shift)
        variances.append(variance * factor.scale**2)
    return torch.cat(means), torch.cat(variances)


@torch.no_grad()
def posterior_joint(model: Model, X: Tensor) -> tuple[Tensor, Tensor]:
    """Posterior mean (``m``) and covariance (``m x m``) of the latent function at ``m x d`` points: what
    ``model.posterior(X)`` gives, for a shortlist (``m`` small)."""
    if not is_exact_gp(model):
        posterior = model.posterior(X)
        _single_output(posterior.mean)
        return posterior.mean.squeeze(-1), posterior.distribution.covariance_matrix
    factor = training_factor(model)
    mean, solved = _latent(model, factor, X)
    covariance = model.covar_module(X).to_dense() - solved.T @ solved
    return mean * factor.scale + factor.shift, covariance * factor.scale**2


@torch.no_grad()
def posterior_pairs(model: GPyTorchModel, Xa: Tensor, Xb: Tensor, chunk: int = CHUNK) -> tuple[Tensor, ...]:
    """The latent posterior at ``m`` pairs of points: means, variances and covariances, in outcome units.

    :param Xa, Xb: ``m x D`` inputs; pair ``i`` is ``(Xa[i], Xb[i])``.
    :returns: ``mean_a, mean_b, var_a, var_b, cov_ab``, each ``m``: what ``model.posterior(stack([Xa, Xb],
        -2))`` gives for each pair.
    """
    factor = training_factor(model)
    parts = []
    for part_a, part_b in zip(Xa.split(chunk), Xb.split(chunk)):
        mean_a, solved_a = _latent(model, factor, part_a)
        mean_b, solved_b = _latent(model, factor, part_b)
        var_a = model.covar_module(part_a, diag=True) - solved_a.square().sum(0)
        var_b = model.covar_module(part_b, diag=True) - solved_b.square().sum(0)
        cov_ab = model.covar_module(part_a, part_b, diag=True) - (solved_a * solved_b).sum(0)
        scale, shift = factor.scale, factor.shift
        parts.append((mean_a * scale + shift, mean_b * scale + shift, var_a * scale**2, var_b * scale**2,
                      cov_ab * scale**2))
    return tuple(torch.cat(column) for column in zip(*parts))


@torch.no_grad()
def believe_mean(model: GPyTorchModel, X: Tensor) -> GPyTorchModel:
    """A copy of the exact GP ``model`` that has observed its own posterior mean at ``p x d`` points ``X``, with
    its own observation noise there (a fixed-noise model: the mean of its noise): the Kriging believer.

    What ``model.condition_on_observations(X, mean)`` gives, without gpytorch's fantasy strategy (which above
    800 results recomputes its caches by conjugate gradients, ~1 s a point at 1,000 results): the believer's
    Cholesky factor is ``model``'s extended by one block, ``O(n^2 p)``, and cached with it, so that its
    posterior (:func:`posterior_marginals`, :func:`posterior_joint`) costs no new factorisation.
    """
    factor = training_factor(model)
    train_X = model.train_inputs[0]
    X = X.to(train_X)
    mean, solved = _latent(model, factor, X)  # standardised: the targets the believer is given
    noise = model.likelihood.noise.detach().mean()
    block = model.covar_module(X).to_dense() + noise * torch.eye(len(X), dtype=X.dtype, device=X.device)
    corner = psd_safe_cholesky(block - solved.T @ solved)
    n, p = len(train_X), len(X)
    extended = torch.zeros(n + p, n + p, dtype=factor.factor.dtype, device=factor.factor.device)
    extended[:n, :n] = factor.factor
    extended[n:, :n] = solved.T
    extended[n:, n:] = corner
    # gpytorch's prediction caches (n x n and more, once its own posterior ran) are dropped by set_train_data
    # below anyway: left out of the copy rather than copied and thrown away
    strategy, model.prediction_strategy = model.prediction_strategy, None
    try:
        believer = copy.deepcopy(model)
    finally:
        model.prediction_strategy = strategy
    believer.set_train_data(torch.cat([train_X, X]), torch.cat([model.train_targets, mean]), strict=False)
    if isinstance(believer.likelihood, FixedNoiseGaussianLikelihood):
        believer.likelihood.noise = torch.cat([believer.likelihood.noise, noise.expand(p)])
    believer.eval()
    residual = (believer.train_targets - believer.mean_module(believer.train_inputs[0])).unsqueeze(-1)
    weights = torch.cholesky_solve(residual, extended).squeeze(-1)
    _factors[believer] = TrainingFactor(extended, weights, factor.scale, factor.shift, _stamp(believer))
    return believer


def observation_noise(model: GPyTorchModel) -> float:
    """The model's observation-noise variance in outcome units: its likelihood's (the mean of a fixed noise's),
    the outcome transform undone."""
    noise = model.likelihood.noise.detach().mean()
    transform = getattr(model, "outcome_transform", None)
    scale = 1.0 if transform is None else transform.stdvs.squeeze() ** 2
    return float(noise * scale)
