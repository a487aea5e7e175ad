"""Quality k-DPP batch selection over a finite candidate pool, as in TW-NAS.

A batch of ``q`` architectures is a draw (or the greedy MAP) of a k-DPP whose
kernel ``L = diag(quality) K diag(quality)`` combines the GP posterior
covariance ``K`` (diversity) with a quality term that grows with the posterior
mean (Nguyen et al., "Optimal Transport Kernels for Sequential and Parallel
Neural Architecture Search", ICML 2021). Exact sampling follows Kulesza &
Taskar, "Determinantal Point Processes for Machine Learning" (2012), Alg. 8
then Alg. 1; the greedy MAP is the incremental-Cholesky algorithm of Chen et
al., "Fast Greedy MAP Inference for Determinantal Point Process" (NeurIPS 2018).
"""

from __future__ import annotations

import logging
import math

import torch
from botorch.models.model import Model
from torch import Tensor

from bonas.posterior import posterior_joint, posterior_marginals

logger = logging.getLogger(__name__)

METHODS = ("sample", "map")
SCORE_STD_MULTIPLIER = 2.0
COVARIANCE_JITTER = 1e-6
"""Added to the posterior covariance's diagonal, relative to its mean: a GP fitted on few points with long
lengthscales has a numerically low-rank posterior over a large pool, and a k-DPP cannot draw more items than
``rank(L)``. The jitter makes ``L`` full rank; items beyond the posterior's own rank are then drawn in
proportion to their squared quality."""


def quality_kernel(posterior_mean: Tensor, posterior_covariance: Tensor, temperature: float = 1.0) -> Tensor:
    """The quality-diversity kernel ``L = diag(q) K diag(q)`` of a candidate pool.

    :param posterior_mean: ``m`` posterior means.
    :param posterior_covariance: ``m x m`` posterior covariance ``K``.
    :param temperature: how strongly quality dominates diversity; smaller is greedier.
    :returns: ``m x m`` symmetric ``L`` (float64), PSD up to rounding, with
        ``q = exp(z / temperature)`` for the standardised mean ``z``.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    m = posterior_mean.shape[0] if posterior_mean.dim() == 1 else -1
    if posterior_covariance.shape != (m, m):
        raise ValueError(
            f"expected an m-vector mean and an m x m covariance, got shapes "
            f"{tuple(posterior_mean.shape)} and {tuple(posterior_covariance.shape)}"
        )
    mean = posterior_mean.detach().to(torch.float64)
    covariance = posterior_covariance.detach().to(torch.float64)
    # A (numerically) constant mean carries no quality information: z = 0.
    std = float(mean.std()) if m > 1 else 0.0
    constant = std <= 1e-12 * max(1.0, float(mean.abs().max()))
    standardised = torch.zeros_like(mean) if constant else (mean - mean.mean()) / std
    # Shifting by the maximum rescales L by a constant, which leaves every k-DPP
    # probability unchanged but keeps exp() from overflowing at low temperature.
    log_quality = (standardised - standardised.max()) / temperature
    quality = log_quality.exp()
    kernel = quality[:, None] * covariance * quality[None, :]
    return (kernel + kernel.T) / 2


def _check_kernel(L: Tensor, k: int) -> None:
    if L.dim() != 2 or L.shape[0] != L.shape[1]:
        raise ValueError(f"L must be a square m x m matrix, got shape {tuple(L.shape)}")
    if not 1 <= k <= L.shape[0]:
        raise ValueError(f"k must be between 1 and the pool size {L.shape[0]}, got k={k}")


def _rank_tolerance(scale: Tensor, m: int) -> float:
    """Values at or below this are numerically zero, as in ``torch.linalg.matrix_rank``."""
    return float(scale.clamp_min(0)) * m * torch.finfo(torch.float64).eps


def _log_elementary_symmetric(log_eigenvalues: Tensor, k: int) -> Tensor:
    """``(m + 1) x (k + 1)`` table of ``log e_l^n``, the elementary symmetric
    polynomials of order ``l`` of the first ``n`` eigenvalues (Kulesza & Taskar, Alg. 7).

    Alg. 7's recursion ``e_l^n = e_l^{n-1} + lambda_n e_{l-1}^{n-1}`` unrolls to
    ``e_l^n = sum_{j <= n} lambda_j e_{l-1}^{j-1}``, a cumulative sum over ``n``,
    so the table fills one order at a time. Log space keeps pools of thousands
    and ``k`` in the tens from overflowing or underflowing float64.
    """
    m = log_eigenvalues.shape[0]
    table = torch.full((m + 1, k + 1), -math.inf, dtype=torch.float64)
    table[:, 0] = 0.0
    for order in range(1, k + 1):
        table[1:, order] = torch.logcumsumexp(log_eigenvalues + table[:-1, order - 1], dim=0)
    return table


def _sample_eigenvectors(eigenvalues: Tensor, k: int, generator: torch.Generator | None) -> list[int]:
    """Indices of ``k`` eigenvectors, eigenvector ``n`` kept with probability
    ``lambda_n e_{l-1}^{n-1} / e_l^n`` (Kulesza & Taskar, Alg. 8)."""
    m = eigenvalues.shape[0]
    log_eigenvalues = eigenvalues.log()
    # Plain floats from here: this loop runs once per eigenvalue.
    log_esp = _log_elementary_symmetric(log_eigenvalues, k).tolist()
    log_eigenvalues = log_eigenvalues.tolist()
    uniforms = torch.rand(m, dtype=torch.float64, generator=generator).tolist()
    chosen: list[int] = []
    remaining = k
    for n in range(m, 0, -1):
        if remaining == 0:
            break
        log_ratio = log_eigenvalues[n - 1] + log_esp[n - 1][remaining - 1] - log_esp[n][remaining]
        if uniforms[n - 1] < math.exp(log_ratio):
            chosen.append(n - 1)
            remaining -= 1
    return chosen


def _sample_projection_dpp(basis: Tensor, generator: torch.Generator | None) -> list[int]:
    """One draw from the projection DPP spanned by the orthonormal ``m x k``
    ``basis`` (Kulesza & Taskar, Alg. 1, second loop)."""
    k = basis.shape[1]
    items: list[int] = []
    while True:
        # Item i is drawn with probability ||basis_i||^2 / (k - len(items)).
        # Rows of drawn items are zero up to rounding; zeroing them keeps items distinct.
        weights = basis.square().sum(dim=1)
        weights[items] = 0.0
        item = int(torch.multinomial(weights, 1, generator=generator))
        items.append(item)
        if len(items) == k:
            return items
        # Restrict the span to vectors orthogonal to e_item: eliminate the row with
        # its largest entry's column, drop that column, re-orthonormalise.
        row = basis[item]
        pivot = int(row.abs().argmax())
        others = [column for column in range(basis.shape[1]) if column != pivot]
        basis = torch.linalg.qr(basis[:, others] - torch.outer(basis[:, pivot] / row[pivot], row[others])).Q


def _spectrum(L: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues (those at rounding level, including slightly negative ones, set to zero) and eigenvectors."""
    eigenvalues, eigenvectors = torch.linalg.eigh(L.detach().to("cpu", torch.float64))
    return eigenvalues.where(eigenvalues > _rank_tolerance(eigenvalues.max(), L.shape[0]), 0.0), eigenvectors


def numerical_rank(L: Tensor) -> int:
    """The number of eigenvalues of the ``m x m`` PSD kernel ``L`` above rounding level: the largest k a k-DPP allows."""
    return int(_spectrum(L)[0].count_nonzero())


def sample_kdpp(L: Tensor, k: int, generator: torch.Generator | None = None) -> list[int]:
    """One exact draw of ``k`` distinct items from the k-DPP with kernel ``L``.

    ``P(S) = det(L_S) / sum_{|S'| = k} det(L_S')``. Phase one picks ``k``
    eigenvectors of ``L`` (Kulesza & Taskar, Alg. 8); phase two samples the
    projection DPP they span (Alg. 1, second loop). Costs one ``m x m``
    eigendecomposition plus ``O(m k^2)`` per item.

    :param L: ``m x m`` symmetric PSD kernel; only its lower triangle is read.
    :param k: batch size, at most the numerical rank of ``L``.
    :param generator: CPU random generator; ``None`` uses torch's global one.
    :returns: ``k`` distinct indices into ``L``'s rows, in the order drawn.
    """
    _check_kernel(L, k)
    eigenvalues, eigenvectors = _spectrum(L)
    rank = int(eigenvalues.count_nonzero())
    if k > rank:
        raise ValueError(f"k={k} exceeds the numerical rank {rank} of L; a k-DPP needs k <= rank(L)")
    return _sample_projection_dpp(eigenvectors[:, _sample_eigenvectors(eigenvalues, k, generator)], generator)


def greedy_map_kdpp(L: Tensor, k: int) -> list[int]:
    """``k`` distinct items chosen greedily to maximise ``log det L_S``.

    Each step adds the item with the largest marginal gain
    ``det(L_{S+i}) / det(L_S)``, kept up to date by an incremental Cholesky
    factor in ``O(m k^2)`` (Chen et al. 2018, Alg. 1).

    :param L: ``m x m`` symmetric PSD kernel.
    :param k: batch size.
    :returns: ``k`` distinct indices into ``L``'s rows, in the order chosen.
    :raises ValueError: if every remaining gain is numerically zero before ``k`` items.
    """
    _check_kernel(L, k)
    m = L.shape[0]
    kernel = L.detach().to(torch.float64)
    kernel = (kernel + kernel.T) / 2
    # gains[i] = det(L_{S+i}) / det(L_S) = L_ii - c_i^T c_i, with c_i the
    # column of i in the Cholesky factor restricted to the selected rows.
    gains = kernel.diagonal().clone()
    tolerance = _rank_tolerance(gains.max(), m)
    factor = torch.zeros(k, m, dtype=torch.float64, device=kernel.device)
    items: list[int] = []
    for step in range(k):
        item = int(gains.argmax())
        if gains[item] <= tolerance:
            raise ValueError(
                f"greedy MAP stopped after {step} items: every remaining det gain is numerically zero, "
                f"so k={k} exceeds the numerical rank of L"
            )
        items.append(item)
        row = (kernel[item] - factor[:step, item] @ factor[:step]) / gains[item].sqrt()
        factor[step] = row
        gains = gains - row.square()
        gains[items] = -math.inf
    return items


def condition_kernel(L: Tensor, item: int) -> Tensor:
    """The kernel of a DPP with ``L`` conditioned on ``item`` being drawn.

    ``P(S + item | item in S) ∝ det(L_{S+item}) = L_ii det(L^i_S)`` with the Schur
    complement ``L^i = L_{-i,-i} - L_{-i,i} L_{i,-i} / L_ii`` (Kulesza & Taskar 2012,
    eq. 2.20), so a ``(k-1)``-DPP draw with ``L^i`` is a k-DPP draw given ``item``.
    For ``L = diag(q) K diag(q)`` it is ``diag(q) K' diag(q)`` with ``K'`` the GP
    posterior covariance after a (hallucinated) observation at ``item``.

    :param L: ``m x m`` symmetric PSD kernel.
    :param item: row of the drawn item, with ``L_ii > 0``.
    :returns: ``(m-1) x (m-1)`` kernel over the other rows, in their order.
    """
    _check_kernel(L, 1)
    if not L[item, item] > 0:
        raise ValueError(f"cannot condition on item {item}: its diagonal entry {float(L[item, item])} is not positive")
    others = torch.cat([torch.arange(item), torch.arange(item + 1, L.shape[0])]).to(L.device)
    column = L[others, item]
    conditioned = L[others][:, others] - torch.outer(column, column) / L[item, item]
    return (conditioned + conditioned.T) / 2


@torch.no_grad()
def select_kdpp_batch(
    model: Model,
    candidates_X: Tensor,
    q: int,
    *,
    method: str = "sample",
    pool_limit: int = 1000,
    scores: Tensor | None = None,
    temperature: float = 1.0,
    anchor: bool = False,
    generator: torch.Generator | None = None,
) -> list[int]:
    """``q`` distinct candidate indices from a quality k-DPP on the GP posterior.

    Building ``L`` costs an ``m x m`` posterior covariance and its
    eigendecomposition, so only the ``pool_limit`` candidates with the highest
    ``scores`` take part. Pending (in-flight) architectures must already be
    left out of ``candidates_X`` by the caller; this function never sees them.

    :param model: fitted single-output botorch model.
    :param candidates_X: ``m x d`` candidate encodings.
    :param q: batch size.
    :param method: ``"sample"`` (exact k-DPP draw) or ``"map"`` (its greedy MAP, deterministic).
    :param pool_limit: largest number of candidates in the k-DPP.
    :param scores: ``m`` acquisition values (larger is better) used to shortlist;
        ``None`` uses the posterior mean plus two posterior standard deviations.
    :param temperature: quality temperature, see :func:`quality_kernel`.
    :param anchor: put the best candidate by ``scores`` (the sequential pick) in the batch and
        draw the other ``q - 1`` from the k-DPP conditioned on it (:func:`condition_kernel`), as
        UCB-DPP does (Kathuria et al., "Batched Gaussian Process Bandit Optimization via
        Determinantal Point Processes", NeurIPS 2016).
    :param generator: random generator for ``"sample"``; ``None`` uses torch's global one.
    :returns: ``q`` distinct indices into ``candidates_X``. Where ``L`` has numerical rank
        ``r < q`` (qualities spanning many orders of magnitude), ``r`` come from the k-DPP and
        the rest are the best remaining by ``scores``, with a logged warning.
    """
    if method not in METHODS:
        raise ValueError(f"unknown k-DPP method {method!r}; expected one of {METHODS}")
    if not 1 <= q <= min(pool_limit, len(candidates_X)):
        raise ValueError(
            f"q must be between 1 and min(pool_limit={pool_limit}, {len(candidates_X)} candidates), got q={q}"
        )
    if scores is None:
        mean, variance = posterior_marginals(model, candidates_X)
        scores = mean + SCORE_STD_MULTIPLIER * variance.clamp_min(0).sqrt()
    if scores.shape != (len(candidates_X),):
        raise ValueError(f"scores must hold one value per candidate ({len(candidates_X)}), got shape {tuple(scores.shape)}")
    shortlist = torch.argsort(scores, descending=True, stable=True)[:pool_limit]
    mean, covariance = posterior_joint(model, candidates_X[shortlist])
    covariance = covariance.detach().to(torch.float64)
    jitter = COVARIANCE_JITTER * covariance.diagonal().mean().clamp_min(torch.finfo(torch.float64).tiny)
    covariance = covariance + jitter * torch.eye(len(covariance), dtype=covariance.dtype, device=covariance.device)
    L = quality_kernel(mean, covariance, temperature)
    # With an anchor, the best-scored candidate (shortlist position 0) is drawn and the
    # rest come from the k-DPP conditioned on it, whose rows are positions 1, 2, ...
    anchored = [0] if anchor else []
    if anchor:
        L = condition_kernel(L, 0)
    wanted = q - len(anchored)
    if wanted == 0:
        return [int(shortlist[0])]
    k = min(wanted, numerical_rank(L))
    drawn = [] if k == 0 else sample_kdpp(L, k, generator) if method == "sample" else greedy_map_kdpp(L, k)
    positions = anchored + [position + len(anchored) for position in drawn]
    if k < wanted:
        # Qualities spanning many orders of magnitude (a low temperature) leave L numerically rank-deficient.
        logger.warning("k-DPP kernel over %d candidates has numerical rank %d < %d (temperature %g); the other "
                       "%d picks are the best remaining by score", len(L), k, wanted, temperature, wanted - k)
        chosen = set(positions)
        positions += [position for position in range(len(shortlist)) if position not in chosen][: wanted - k]
    return [int(shortlist[position]) for position in positions]
