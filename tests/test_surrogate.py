import logging

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from botorch.exceptions.errors import ModelFittingError

from bonas import surrogate
from botorch.acquisition import LogExpectedImprovement, UpperConfidenceBound

from bonas.acquisition import (
    UCB_BETA,
    acquisition_values,
    believe,
    select_greedy,
    select_kriging_believer,
    select_thompson,
)
from bonas.kernels import make_kernel
from bonas.posterior import posterior_marginals
from bonas.surrogate import copula_transform, fit_surrogate, log_error_transform, subset_rows, transform_outcomes


def data(n=30, d=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, dtype=torch.float64, generator=generator) * 5
    Y = (X.sin().sum(-1, keepdim=True)) + 0.01 * torch.randn(n, 1, dtype=torch.float64, generator=generator)
    return X, Y


def kernel_factory(d):
    return lambda: make_kernel("matern", d).to(torch.float64)


def test_copula_maps_ranks_to_normal_quantiles():
    values = torch.tensor([[10.0], [93.0], [94.0], [92.0], [10.0]], dtype=torch.float64)
    out = copula_transform(values)
    assert out.shape == values.shape
    assert out[0] == out[4] and out[0] < out[3] < out[1] < out[2]
    distinct = copula_transform(torch.tensor([3.0, 1.0, 2.0, 5.0], dtype=torch.float64))
    assert abs(float(distinct.sum())) < 1e-12
    with pytest.raises(ValueError, match="unknown outcome transform 'log'"):
        transform_outcomes(values, "log")


def test_fit_learns_hyperparameters_and_predicts():
    X, Y = data()
    result = fit_surrogate(X, Y, kernel_factory(4))
    assert result.how == "fit"
    mean = result.model.posterior(X).mean
    assert torch.corrcoef(torch.cat([mean.T, Y.T]))[0, 1] > 0.9


def test_deterministic_fit_pins_noise():
    X, Y = data()
    result = fit_surrogate(X, Y, kernel_factory(4), deterministic=True)
    assert result.how in ("fit", "learned-noise")
    assert float(result.model.posterior(X).variance.detach().max()) < 0.05 * float(Y.var())


def test_failed_fits_fall_back_and_never_raise(monkeypatch, caplog):
    X, Y = data()
    warm = fit_surrogate(X, Y, kernel_factory(4)).model.covar_module.state_dict()

    def failing(model):
        raise ModelFittingError("all attempts to fit the model have failed")

    monkeypatch.setattr(surrogate, "_fit", failing)
    with caplog.at_level(logging.WARNING, logger="bonas.surrogate"):
        result = fit_surrogate(X, Y, kernel_factory(4), deterministic=True, warm_start=warm)
    assert result.how == "previous"
    assert "learned-noise" in caplog.text and "ModelFittingError" in caplog.text
    assert fit_surrogate(X, Y, kernel_factory(4)).how == "prior"
    assert torch.isfinite(result.model.posterior(X).mean).all()


def test_greedy_batch_is_distinct_and_respects_pending():
    X, Y = data(n=20)
    model = fit_surrogate(X, Y, kernel_factory(4)).model
    candidates = torch.rand(200, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 5
    values = acquisition_values(model, candidates, "ei", float(Y.max()))
    assert values.shape == (200,)
    chosen = select_greedy(model, candidates, 5, "ei", float(Y.max()))
    assert len(set(chosen)) == 5 and chosen[0] == int(values.argmax())
    # with the first choice pending, another candidate becomes the best one
    with_pending = acquisition_values(model, candidates, "ei", float(Y.max()), pending_X=candidates[chosen[:1]])
    assert int(with_pending.argmax()) != chosen[0]
    assert len(set(select_greedy(model, candidates, 4, "ucb", 0.0))) == 4


def test_a_shortlisted_greedy_batch_equals_the_exact_one_on_a_smooth_problem():
    """The shortlist (analytic acquisition of the believer model) keeps every pick of the exact greedy batch."""
    X, Y = data(n=20)
    model = fit_surrogate(X, Y, kernel_factory(4)).model
    candidates = torch.rand(600, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 5
    pending = candidates[:2]
    exact = select_greedy(model, candidates[2:], 5, "ei", float(Y.max()), pending, shortlist=600)
    shortlisted = select_greedy(model, candidates[2:], 5, "ei", float(Y.max()), pending, shortlist=50)
    assert shortlisted == exact
    believed = acquisition_values(believe(model, pending), candidates[2:], "ucb", 0.0)
    top = set(torch.argsort(believed, descending=True)[:50].tolist())
    assert set(select_greedy(model, candidates[2:], 8, "ucb", 0.0, pending, shortlist=50)) <= top


def test_thompson_is_seeded_and_distinct():
    X, Y = data(n=20)
    model = fit_surrogate(X, Y, kernel_factory(4)).model
    candidates = torch.rand(300, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 5
    first = select_thompson(model, candidates, 6, torch.Generator().manual_seed(0), pool_limit=100)
    again = select_thompson(model, candidates, 6, torch.Generator().manual_seed(0), pool_limit=100)
    assert first == again and len(set(first)) == 6
    # the picks of draws from botorch's own joint posterior, over the same UCB-ordered shortlist and base samples
    small = candidates[:80]
    marginal = model.posterior(small)
    ucb = marginal.mean.squeeze(-1) + UCB_BETA**0.5 * marginal.variance.squeeze(-1).sqrt()
    shortlist = torch.argsort(ucb, descending=True)
    base = torch.randn(6, 80, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    draws = model.posterior(small[shortlist]).distribution.rsample(torch.Size([6]), base_samples=base)
    picks = []
    for draw in draws.detach().reshape(6, -1).clone():
        draw[picks] = -torch.inf
        picks.append(int(torch.argmax(draw)))
    assert select_thompson(model, small, 6, torch.Generator().manual_seed(5), pool_limit=80) == [
        int(shortlist[position]) for position in picks]


def test_log_error_transform_and_its_domain():
    values = torch.tensor([[90.0], [99.0]], dtype=torch.float64)
    assert torch.allclose(log_error_transform(values), -torch.log(torch.tensor([[10.0], [1.0]], dtype=torch.float64)))
    with pytest.raises(ValueError, match="accuracies in percent, below 100; got a value of 100"):
        transform_outcomes(torch.tensor([[100.0]]), "log-error")


def test_kriging_believer_keeps_the_mean_and_collapses_the_variance():
    X, Y = data(n=20)
    for deterministic in (False, True):
        model = fit_surrogate(X, Y, kernel_factory(4), deterministic=deterministic).model
        point = torch.full((1, 4), 2.5, dtype=torch.float64)
        believed = believe(model, point)
        with torch.no_grad():
            before, after = model.posterior(point), believed.posterior(point)
        assert torch.allclose(before.mean, after.mean, atol=1e-4)
        if deterministic:
            assert float(after.variance) < 0.05 * float(before.variance)
        else:  # one observation with the model's own noise n at the point: v n / (v + n)
            noise = float(model.likelihood.noise.mean() * model.outcome_transform.stdvs.pow(2).squeeze())
            variance = float(before.variance)
            assert float(after.variance) == pytest.approx(variance * noise / (variance + noise), rel=1e-6)
    candidates = torch.rand(200, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 5
    top = int(acquisition_values(model, candidates, "ei", float(Y.max())).argmax())
    chosen = select_kriging_believer(model, candidates, 5, "ei", float(Y.max()))
    assert len(set(chosen)) == 5 and chosen[0] == top
    # a pending point is believed exactly as a chosen one: without it in the pool, the next pick is chosen[1]
    others = [index for index in range(200) if index != top]
    (first,) = select_kriging_believer(model, candidates[others], 1, "ei", float(Y.max()), pending_X=candidates[[top]])
    assert others[first] == chosen[1]


@pytest.mark.parametrize("deterministic", [False, True])
def test_marginals_and_analytic_scores_equal_botorch(deterministic):
    X, Y = data(n=25)
    model = fit_surrogate(X, 50 + 3 * Y, kernel_factory(4), deterministic=deterministic).model
    candidates = torch.rand(300, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 5
    mean, variance = posterior_marginals(model, candidates, chunk=64)
    posterior = model.posterior(candidates.unsqueeze(-2))
    torch.testing.assert_close(mean, posterior.mean.reshape(-1), rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(variance, posterior.variance.reshape(-1), rtol=1e-6, atol=1e-10)
    best_f = float((50 + 3 * Y).max())
    with torch.no_grad():
        log_ei = LogExpectedImprovement(model, best_f=best_f)(candidates.unsqueeze(-2))
        ucb = UpperConfidenceBound(model, beta=UCB_BETA)(candidates.unsqueeze(-2))
    torch.testing.assert_close(acquisition_values(model, candidates, "ei", best_f), log_ei, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(acquisition_values(model, candidates, "ucb", best_f), ucb, rtol=1e-8, atol=1e-8)


def test_marginals_of_a_believed_model_equal_botorch():
    X, Y = data(n=20)
    model = fit_surrogate(X, Y, kernel_factory(4), deterministic=True).model
    candidates = torch.rand(100, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 5
    believed = believe(model, candidates[:3])
    mean, variance = posterior_marginals(believed, candidates)
    posterior = believed.posterior(candidates.unsqueeze(-2))
    torch.testing.assert_close(mean, posterior.mean.reshape(-1), rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(variance, posterior.variance.reshape(-1), rtol=1e-6, atol=1e-10)
    assert bool((variance[:3] < 1e-4).all())  # the believed points are (nearly) certain


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=5, max_size=400), st.integers(2, 300))
def test_subset_rows_are_distinct_seeded_and_stratified_in_proportion(labels, size):
    n = len(labels)
    size = min(size, n)
    strata = torch.tensor(labels, dtype=torch.float64)
    rows = subset_rows(n, size, strata)
    assert len(rows) == size and len(set(rows.tolist())) == size and torch.equal(rows, rows.sort().values)
    assert torch.equal(rows, subset_rows(n, size, strata))
    for label in set(labels):
        count = labels.count(label)
        assert int((strata[rows] == label).sum()) >= size * count // n
    plain = subset_rows(n, size)
    assert torch.equal(plain, torch.randperm(n, generator=torch.Generator().manual_seed(n))[:size].sort().values)
