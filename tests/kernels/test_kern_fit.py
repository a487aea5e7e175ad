"""botorch sees and fits every kernel's hyperparameters: SingleTaskGP + fit_gpytorch_mll on 50 synthetic points."""

from __future__ import annotations

import pytest
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from bonas.kernels import KERNEL_NAMES, make_kernel

GROUPS = {"op": slice(0, 6), "in": slice(6, 10), "out": slice(10, 14)}
WIDTH = 14


def synthetic_data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """50 x 14 non-negative inputs; the target depends on the 'op' columns only."""
    generator = torch.Generator().manual_seed(seed)
    train_X = torch.rand(50, WIDTH, generator=generator, dtype=torch.float64)
    weights = torch.tensor([3.0, -2.0, 1.5, 2.5, -1.0, 2.0], dtype=torch.float64)
    noise = 0.01 * torch.randn(50, generator=generator, dtype=torch.float64)
    train_Y = (torch.sin(train_X[:, GROUPS["op"]] @ weights) + noise).unsqueeze(-1)
    return train_X, train_Y


def marginal_log_likelihood(mll: ExactMarginalLogLikelihood) -> float:
    model = mll.model
    model.train()
    with torch.no_grad():
        return mll(model(*model.train_inputs), model.train_targets).item()


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_fit_changes_hyperparameters_and_improves_likelihood(name):
    torch.manual_seed(0)
    train_X, train_Y = synthetic_data(seed=0)
    model = SingleTaskGP(train_X, train_Y, covar_module=make_kernel(name, WIDTH, groups=GROUPS))
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    before = {key: value.detach().clone() for key, value in model.covar_module.named_parameters()}
    likelihood_before = marginal_log_likelihood(mll)
    fit_gpytorch_mll(mll)
    after = dict(model.covar_module.named_parameters())
    assert set(before) == set(after)
    assert "raw_outputscale" in after
    for key, value in before.items():
        assert not torch.allclose(value, after[key].detach()), f"{key} did not move"
    if model.covar_module.base_kernel.has_lengthscale:
        assert "base_kernel.raw_lengthscale" in after
    assert marginal_log_likelihood(mll) > likelihood_before


def test_tw_fit_finds_the_relevant_group():
    torch.manual_seed(0)
    train_X, train_Y = synthetic_data(seed=1)
    model = SingleTaskGP(train_X, train_Y, covar_module=make_kernel("tw", WIDTH, groups=GROUPS))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    op_lengthscale, in_lengthscale, out_lengthscale = model.covar_module.base_kernel.lengthscale[0].tolist()
    # the target ignores the 'in' and 'out' columns: their lengthscales should grow far beyond the 'op' one
    assert 10 * op_lengthscale < in_lengthscale
    assert 10 * op_lengthscale < out_lengthscale


def test_fitted_model_predicts_held_out_points():
    train_X, train_Y = synthetic_data(seed=2)
    test_X, test_Y = synthetic_data(seed=3)
    model = SingleTaskGP(train_X, train_Y, covar_module=make_kernel("tw", WIDTH, groups=GROUPS))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    with torch.no_grad():
        posterior = model.posterior(test_X)
    assert posterior.mean.shape == (50, 1)
    assert (posterior.variance > 0).all()
    correlation = torch.corrcoef(torch.stack([posterior.mean.squeeze(-1), test_Y.squeeze(-1)]))[0, 1]
    assert correlation > 0.5


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_posterior_on_acquisition_shaped_batches(name):
    """Acquisition functions ask for ``b x q x d`` posteriors; each q-batch must match the unbatched one."""
    train_X, train_Y = synthetic_data(seed=4)
    model = SingleTaskGP(train_X, train_Y, covar_module=make_kernel(name, WIDTH, groups=GROUPS))
    candidates = torch.rand(4, 3, WIDTH, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        batched = model.posterior(candidates)
        assert batched.mean.shape == (4, 3, 1)
        for batch in range(4):
            single = model.posterior(candidates[batch])
            torch.testing.assert_close(batched.mean[batch], single.mean)
            torch.testing.assert_close(batched.mvn.covariance_matrix[batch], single.mvn.covariance_matrix)
