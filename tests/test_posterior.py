"""The cached-factor posterior (bonas.posterior) and the subset fit behind large asks, against botorch's answers."""

import gpytorch
import numpy as np
import pytest
import torch

from bonas.kernels import make_kernel
from bonas.posterior import believe_mean, observation_noise, posterior_joint, posterior_marginals, training_factor
from bonas.surrogate import fit_surrogate


def data(n, d=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, dtype=torch.float64, generator=generator) * 5
    Y = 60 + 4 * X.sin().sum(-1, keepdim=True) + 0.05 * torch.randn(n, 1, dtype=torch.float64, generator=generator)
    return X, Y


def kernel_factory(d=4):
    return lambda: make_kernel("matern", d).to(torch.float64)


@pytest.mark.parametrize("deterministic", [False, True])
def test_joint_and_marginals_equal_botorch_above_gpytorchs_cholesky_size(deterministic):
    # 850 results: above gpytorch's max_cholesky_size (800), where its own posterior would switch to CG; with
    # Cholesky forced it is exact, and ours must agree with it
    X, Y = data(850)
    model = fit_surrogate(X, Y, kernel_factory(), deterministic=deterministic, max_fit_points=30).model
    candidates = torch.rand(40, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 5
    with gpytorch.settings.max_cholesky_size(10_000), torch.no_grad():
        posterior = model.posterior(candidates)
        marginal = model.posterior(candidates.unsqueeze(-2))
    mean, covariance = posterior_joint(model, candidates)
    torch.testing.assert_close(mean, posterior.mean.squeeze(-1), rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(covariance, posterior.distribution.covariance_matrix, rtol=1e-5, atol=1e-8)
    mean, variance = posterior_marginals(model, candidates, chunk=7)
    torch.testing.assert_close(mean, marginal.mean.reshape(-1), rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(variance, marginal.variance.reshape(-1), rtol=1e-5, atol=1e-8)


def test_the_factor_is_reused_and_recomputed_when_the_model_changes():
    X, Y = data(40)
    model = fit_surrogate(X, Y, kernel_factory(), deterministic=True).model
    first = training_factor(model)
    assert training_factor(model) is first
    candidates = X[:5] + 0.1
    before = posterior_marginals(model, candidates)[1]
    with torch.no_grad():
        model.covar_module.raw_outputscale.add_(1.0)
    assert training_factor(model) is not first
    after = posterior_marginals(model, candidates)[1]
    with torch.no_grad():
        expected = model.posterior(candidates.unsqueeze(-2)).variance.reshape(-1)
    torch.testing.assert_close(after, expected, rtol=1e-6, atol=1e-10)
    assert not torch.allclose(before, after)


@pytest.mark.parametrize("deterministic", [False, True])
def test_subset_fit_conditions_on_every_result_with_the_subsets_hyperparameters(deterministic):
    X, Y = data(60)
    result = fit_surrogate(X, Y, kernel_factory(), deterministic=deterministic, max_fit_points=20)
    model = result.model
    assert result.how == "fit" and len(model.train_inputs[0]) == 60
    assert result.best_f == float(Y.max())
    # the same data give the same fit (the subset is seeded by n), and its hyperparameters are not the defaults
    again = fit_surrogate(X, Y, kernel_factory(), deterministic=deterministic, max_fit_points=20).model
    for (name, value), (_, other) in zip(model.named_parameters(), again.named_parameters()):
        torch.testing.assert_close(value, other, msg=name)
    default = make_kernel("matern", 4).to(torch.float64)
    assert not torch.allclose(model.covar_module.base_kernel.lengthscale, default.base_kernel.lengthscale)
    # the subset's targets were standardised with all n results' statistics: the model's own units
    torch.testing.assert_close(model.outcome_transform.means.squeeze(), Y.mean())
    # with every result in the subset, it is the plain fit
    whole = fit_surrogate(X, Y, kernel_factory(), deterministic=deterministic, max_fit_points=60).model
    plain = fit_surrogate(X, Y, kernel_factory(), deterministic=deterministic).model
    for (name, value), (_, other) in zip(whole.named_parameters(), plain.named_parameters()):
        torch.testing.assert_close(value, other, msg=name)
    # predictions at the training points follow all 60 results, not only the 20 fitted on
    mean, _ = posterior_marginals(model, X)
    assert float((mean - Y.squeeze(-1)).abs().mean()) < 0.5


def test_optimizer_fits_on_a_subset_and_its_journal_keeps_the_limit(tmp_path):
    from bonas import Optimizer
    from bonas.nasbench import NASBench201Table
    from bonas.settings import OptimizerSettings
    from bonas.spaces import NASBench201Space

    space = NASBench201Space()
    table = NASBench201Table("cifar10")
    journal = tmp_path / "run.jsonl"
    opt = Optimizer(space, seed=0, max_fit_points=12, storage=journal)
    classes = {space.canonical_key(arch): arch for arch in space.sample(60, np.random.default_rng(0))}
    for arch in list(classes.values())[:20]:
        opt.attach(arch, table.query(arch).val_accuracy_12ep)
    trials = opt.ask(2)
    assert len(trials) == 2 and opt.last_fit == "fit" and opt.surrogate.max_fit_points == 12
    opt.close()
    assert Optimizer.load(journal, space=space).settings.max_fit_points == 12
    assert "max_fit_points" not in OptimizerSettings(space="nb201").to_json()  # the default is left out
    assert OptimizerSettings(space="nb201", max_fit_points=None).to_json()["max_fit_points"] is None
    with pytest.raises(ValueError, match="max_fit_points"):
        OptimizerSettings(space="nb201", max_fit_points=1)


def test_a_model_that_is_not_an_exact_gp_is_asked_through_botorch_and_a_multi_output_one_is_refused():
    from botorch.models import ModelListGP

    from bonas.batch.kdpp import select_kdpp_batch
    from bonas.posterior import is_exact_gp

    X, Y = data(30)
    member = fit_surrogate(X, Y, kernel_factory(), deterministic=True).model
    candidates = torch.rand(12, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 5
    wrapped = ModelListGP(member)
    assert is_exact_gp(member) and not is_exact_gp(wrapped)
    torch.testing.assert_close(posterior_joint(wrapped, candidates), posterior_joint(member, candidates),
                               rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(posterior_marginals(wrapped, candidates), posterior_marginals(member, candidates),
                               rtol=1e-6, atol=1e-8)
    batch = select_kdpp_batch(wrapped, candidates, 3, generator=torch.Generator().manual_seed(0))
    assert batch == select_kdpp_batch(member, candidates, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="single-output model was expected, got 2 outputs"):
        posterior_marginals(ModelListGP(member, member), candidates)


@pytest.mark.parametrize("deterministic", [False, True])
def test_believing_the_mean_equals_botorchs_conditioning_and_extends_the_cached_factor(deterministic):
    X, Y = data(n=40)
    model = fit_surrogate(X, Y, kernel_factory(), deterministic=deterministic).model
    generator = torch.Generator().manual_seed(3)
    first, second = (torch.rand(p, 4, dtype=torch.float64, generator=generator) * 5 for p in (2, 1))
    test_X = torch.rand(30, 4, dtype=torch.float64, generator=generator) * 5
    ours = believe_mean(believe_mean(model, first), second)  # a believer believes again, as a batch is built
    theirs = model
    for points in (first, second):
        with torch.no_grad():
            mean = theirs.posterior(points).mean
        noise = {"noise": torch.full_like(mean, observation_noise(model))} if deterministic else {}
        theirs = theirs.condition_on_observations(points, mean, **noise)
    assert len(ours.train_targets) == 43 and len(model.train_targets) == 40  # the model itself is untouched
    with torch.no_grad(), gpytorch.settings.fast_computations(False, False, False):
        expected = theirs.posterior(test_X)
    mean, covariance = posterior_joint(ours, test_X)
    # near-noise-free, gpytorch's fantasy update and a Cholesky factor differ by rounding of an ill-conditioned
    # solve; the factor is checked against one computed from scratch below
    tolerance = 1e-3 if deterministic else 1e-6
    assert torch.allclose(mean, expected.mean.squeeze(-1), atol=tolerance)
    assert torch.allclose(covariance, expected.distribution.covariance_matrix, atol=tolerance)
    # the extended factor is the one served, and it is the factor of the believer's own training covariance
    cached = training_factor(ours)
    assert cached.factor.shape == (43, 43)
    with torch.no_grad():
        ours.covar_module.raw_outputscale.add_(0.0)  # marks a change: the factor is recomputed from scratch
    recomputed = training_factor(ours)
    assert recomputed is not cached
    assert torch.allclose(recomputed.factor, cached.factor, atol=1e-8)


def test_a_believer_leaves_gpytorchs_prediction_caches_behind_and_the_model_keeps_its_own():
    X, Y = data(n=30)
    model = fit_surrogate(X, Y, kernel_factory()).model
    points = torch.rand(2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 5
    with torch.no_grad():
        before = model.posterior(points).mean
    strategy = model.prediction_strategy
    assert strategy is not None
    believer = believe_mean(model, points)
    assert believer.prediction_strategy is None and model.prediction_strategy is strategy
    with torch.no_grad():
        assert torch.equal(model.posterior(points).mean, before)
    assert torch.allclose(posterior_marginals(believer, points)[0], before.squeeze(-1), atol=1e-6)
