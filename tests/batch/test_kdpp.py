import itertools
import logging

import pytest
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood
from scipy.stats import chisquare

from bonas.batch import condition_kernel, greedy_map_kdpp, quality_kernel, sample_kdpp, select_kdpp_batch
from bonas.batch.kdpp import _log_elementary_symmetric


def random_psd(m, rank=None, seed=0):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(m, rank or m, dtype=torch.float64, generator=generator)
    return features @ features.T


def rbf_quality_kernel(m, d=6, lengthscale=0.3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    points = torch.rand(m, d, dtype=torch.float64, generator=generator)
    covariance = torch.exp(-torch.cdist(points, points).square() / (2 * lengthscale**2))
    return quality_kernel(points.sin().sum(-1), covariance)


def kdpp_probabilities(L, k):
    subsets = list(itertools.combinations(range(L.shape[0]), k))
    dets = torch.stack([torch.linalg.det(L[list(s)][:, list(s)]) for s in subsets])
    return subsets, dets / dets.sum()


def test_quality_kernel_is_symmetric_psd_and_scales_by_quality():
    covariance = random_psd(6, seed=1)
    mean = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    L = quality_kernel(mean, covariance)
    assert torch.equal(L, L.T)
    assert torch.linalg.eigvalsh(L).min() > -1e-10 * torch.linalg.eigvalsh(L).max()
    # Higher mean -> larger quality -> larger L_ii / K_ii.
    ratios = L.diagonal() / covariance.diagonal()
    assert torch.all(ratios[1:] > ratios[:-1])
    constant = quality_kernel(torch.full((6,), 3.0, dtype=torch.float64), covariance)
    assert torch.allclose(constant, covariance)
    with pytest.raises(ValueError, match="temperature must be positive, got 0"):
        quality_kernel(mean, covariance, temperature=0)


def test_log_elementary_symmetric_matches_sum_of_principal_minors():
    L = random_psd(6, seed=2)
    log_table = _log_elementary_symmetric(torch.linalg.eigvalsh(L).log(), 6)
    for k in range(1, 7):
        subsets = itertools.combinations(range(6), k)
        total = sum(float(torch.linalg.det(L[list(s)][:, list(s)])) for s in subsets)
        assert log_table[6, k].exp().item() == pytest.approx(total, rel=1e-9)


@pytest.mark.parametrize(
    ("m", "k", "draws"), [(5, 2, 10_000), pytest.param(6, 3, 20_000, marks=pytest.mark.slow)]
)
def test_sample_frequencies_match_exact_kdpp(m, k, draws):
    L = random_psd(m, seed=m)
    subsets, probabilities = kdpp_probabilities(L, k)
    generator = torch.Generator().manual_seed(k)
    counts = dict.fromkeys(subsets, 0)
    for _ in range(draws):
        items = sample_kdpp(L, k, generator)
        assert len(set(items)) == k
        counts[tuple(sorted(items))] += 1
    observed = [counts[s] for s in subsets]
    assert chisquare(observed, (probabilities * draws).tolist()).pvalue > 1e-3


def test_sample_is_reproducible_for_a_seed():
    L = random_psd(8, seed=5)
    first = sample_kdpp(L, 3, torch.Generator().manual_seed(7))
    assert first == sample_kdpp(L, 3, torch.Generator().manual_seed(7))


def test_pool_of_2000_and_k_64_give_distinct_indices():
    L = rbf_quality_kernel(2000)
    assert torch.isfinite(L).all()
    for items in (sample_kdpp(L, 64, torch.Generator().manual_seed(0)), greedy_map_kdpp(L, 64)):
        assert len(items) == 64 and len(set(items)) == 64
        assert all(0 <= item < 2000 for item in items)


def test_spectrum_whose_esp_would_overflow_or_underflow_in_linear_space():
    # e_64 of these spectra is about 10^384 and 10^-320 outside log space.
    large = torch.diag(torch.logspace(-5, 6, 1000, dtype=torch.float64))
    small = torch.diag(torch.logspace(-16, -5, 1000, dtype=torch.float64))
    items = sample_kdpp(large, 64, torch.Generator().manual_seed(1))
    assert len(set(items)) == 64 and min(items) >= 700
    # A k-DPP is unchanged by rescaling L, so the same seed draws the same items.
    assert sample_kdpp(small, 64, torch.Generator().manual_seed(1)) == items


def brute_force_greedy(L, k):
    chosen = []
    for _ in range(k):
        gains = {
            i: float(torch.linalg.det(L[chosen + [i]][:, chosen + [i]])) for i in range(L.shape[0]) if i not in chosen
        }
        chosen.append(max(gains, key=gains.get))
    return chosen


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_map_matches_brute_force_greedy(seed):
    L = random_psd(7, seed=seed)
    items = greedy_map_kdpp(L, 4)
    assert items == brute_force_greedy(L, 4)
    assert items[0] == int(L.diagonal().argmax())
    assert items == greedy_map_kdpp(L, 4)


def test_greedy_map_beats_most_random_subsets():
    L = rbf_quality_kernel(60, seed=3)
    greedy = greedy_map_kdpp(L, 5)
    greedy_logdet = torch.linalg.slogdet(L[greedy][:, greedy]).logabsdet
    generator = torch.Generator().manual_seed(0)
    random_logdets = [
        torch.linalg.slogdet(L[s][:, s]).logabsdet for s in (torch.randperm(60, generator=generator)[:5] for _ in range(200))
    ]
    assert sum(greedy_logdet >= value for value in random_logdets) >= 195


def test_bad_inputs_raise_clear_errors():
    low_rank = random_psd(6, rank=3, seed=6)
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="k=4 exceeds the numerical rank 3 of L"):
        sample_kdpp(low_rank, 4, generator)
    with pytest.raises(ValueError, match="greedy MAP stopped after 3 items.*k=4 exceeds the numerical rank"):
        greedy_map_kdpp(low_rank, 4)
    for select in (lambda L, k: sample_kdpp(L, k, generator), greedy_map_kdpp):
        with pytest.raises(ValueError, match="k must be between 1 and the pool size 6, got k=0"):
            select(low_rank, 0)
        with pytest.raises(ValueError, match=r"L must be a square m x m matrix, got shape \(6, 5\)"):
            select(low_rank[:, :5], 2)


@pytest.fixture(scope="module")
def fitted_gp():
    generator = torch.Generator().manual_seed(0)
    train_X = torch.rand(20, 3, dtype=torch.float64, generator=generator)
    train_Y = (train_X * 6).sin().sum(-1, keepdim=True)
    model = SingleTaskGP(train_X, train_Y)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    candidates_X = torch.rand(500, 3, dtype=torch.float64, generator=generator)
    return model, candidates_X


@pytest.mark.parametrize("method", ["sample", "map"])
def test_select_kdpp_batch_with_fitted_gp(fitted_gp, method):
    model, candidates_X = fitted_gp
    batch = select_kdpp_batch(model, candidates_X, 8, method=method, generator=torch.Generator().manual_seed(0))
    assert len(batch) == 8 and len(set(batch)) == 8
    assert all(0 <= index < 500 for index in batch)


def test_select_kdpp_batch_only_picks_from_the_shortlist(fitted_gp):
    model, candidates_X = fitted_gp
    scores = torch.arange(500, dtype=torch.float64)
    for method in ("sample", "map"):
        batch = select_kdpp_batch(model, candidates_X, 5, method=method, pool_limit=50, scores=scores)
        assert len(set(batch)) == 5 and all(index >= 450 for index in batch)
    with pytest.raises(ValueError, match="unknown k-DPP method .greedy."):
        select_kdpp_batch(model, candidates_X, 5, method="greedy")
    with pytest.raises(ValueError, match=r"q must be between 1 and min\(pool_limit=4, 500 candidates\), got q=5"):
        select_kdpp_batch(model, candidates_X, 5, pool_limit=4)


@pytest.mark.parametrize("method", ["sample", "map"])
def test_a_rank_deficient_quality_kernel_still_gives_a_full_batch(fitted_gp, method, caplog):
    """At a low temperature the qualities span so many orders of magnitude that L loses numerical rank (seen in an
    ImageNet16-120 replay at T = 0.25); the batch is then completed with the best remaining candidates by score."""
    model, candidates_X = fitted_gp
    scores = torch.arange(500, dtype=torch.float64)
    with caplog.at_level(logging.WARNING, logger="bonas.batch.kdpp"):
        batch = select_kdpp_batch(model, candidates_X, 16, method=method, pool_limit=64, scores=scores,
                                  temperature=0.002, generator=torch.Generator().manual_seed(0))
    assert len(batch) == 16 and len(set(batch)) == 16 and all(index >= 436 for index in batch)
    assert "numerical rank" in caplog.text


def test_conditioned_kernel_gives_the_kdpp_given_an_item():
    """A (k-1)-DPP with the Schur complement is the k-DPP restricted to sets holding the item."""
    L = random_psd(6, seed=7)
    subsets, probabilities = kdpp_probabilities(L, 3)
    given = {s: p for s, p in zip(subsets, probabilities) if 2 in s}
    total = sum(given.values())
    conditioned = condition_kernel(L, 2)
    others = [0, 1, 3, 4, 5]
    pairs, pair_probabilities = kdpp_probabilities(conditioned, 2)
    for pair, probability in zip(pairs, pair_probabilities):
        subset = tuple(sorted([2, others[pair[0]], others[pair[1]]]))
        assert float(probability) == pytest.approx(float(given[subset] / total), rel=1e-9)


def test_conditioned_kernel_is_the_posterior_after_observing_the_item(fitted_gp):
    """For L = diag(q) K diag(q) the Schur complement is diag(q) K' diag(q), K' the covariance once the item is seen."""
    model, candidates_X = fitted_gp
    pool = candidates_X[:12]
    covariance = model.posterior(pool).distribution.covariance_matrix.detach()
    mean = model.posterior(pool).mean.squeeze(-1).detach()
    L = quality_kernel(mean, covariance)
    item_covariance = covariance[5, 5]
    column = covariance[:, 5]
    after = covariance - torch.outer(column, column) / item_covariance
    others = [i for i in range(12) if i != 5]
    expected = quality_kernel(mean, after)[others][:, others]
    assert torch.allclose(condition_kernel(L, 5), expected, rtol=1e-8, atol=1e-12)
    with pytest.raises(ValueError, match="cannot condition on item 0: its diagonal entry 0.0 is not positive"):
        condition_kernel(torch.zeros(3, 3, dtype=torch.float64), 0)


@pytest.mark.parametrize("method", ["sample", "map"])
def test_an_anchored_batch_holds_the_best_candidate_by_score(fitted_gp, method):
    model, candidates_X = fitted_gp
    scores = torch.rand(500, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for seed in range(5):
        batch = select_kdpp_batch(model, candidates_X, 8, method=method, pool_limit=32, scores=scores, anchor=True,
                                  generator=torch.Generator().manual_seed(seed))
        assert batch[0] == int(scores.argmax()) and len(set(batch)) == 8
        assert set(batch) <= set(torch.argsort(scores, descending=True)[:32].tolist())
    assert select_kdpp_batch(model, candidates_X, 1, method=method, scores=scores, anchor=True) == [int(scores.argmax())]
    assert select_kdpp_batch(model, candidates_X[:1], 1, method=method, anchor=True) == [0]
