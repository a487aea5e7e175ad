"""Refitting the GP's hyperparameters only as the results grow (``refit_growth``): kept fits, resumes, bad input."""

import json

import numpy as np
import pytest
import torch

from bonas.nasbench import NASBench201Table
from bonas.optimizer import Optimizer
from bonas.posterior import posterior_marginals
from bonas.settings import OptimizerSettings
from bonas.spaces import NASBench201Space
from bonas.surrogate import FITTED_ON, MODEL_PREFIX, Surrogate

SPACE = NASBench201Space()
TABLE = NASBench201Table("cifar100")


def value(arch):
    return float(TABLE.query(arch).val_accuracy_12ep)


def cells(n, seed=0):
    rng = np.random.default_rng(seed)
    return SPACE.sample(n, rng)


def test_fits_in_between_keep_the_hyperparameters_and_condition_on_every_result():
    surrogate = Surrogate.for_encoding("tw", SPACE, refit_growth=0.5)
    archs = cells(16)
    first = surrogate.fit(archs[:10], [value(a) for a in archs[:10]])
    assert first.how == "fit" and surrogate.fitted_on == 10
    kept_state = {name: tensor.clone() for name, tensor in surrogate.kernel_state.items()}
    assert any(name.startswith(MODEL_PREFIX + "likelihood.") for name in kept_state)
    kept = surrogate.fit(archs[:14], [value(a) for a in archs[:14]])
    assert kept.how == "kept" and surrogate.fitted_on == 10
    assert kept.model.train_inputs[0].shape[0] == 14
    fitted = dict(first.model.named_parameters())
    for name, parameter in kept.model.named_parameters():
        assert torch.equal(parameter, fitted[name]), name
    # its posterior is the exact GP on all 14 results at those hyperparameters
    reference = Surrogate.for_encoding("tw", SPACE)
    reference_model = reference.fit(archs[:14], [value(a) for a in archs[:14]]).model
    reference_model.load_state_dict(first.model.state_dict() | {
        name: tensor for name, tensor in reference_model.state_dict().items() if not name.startswith(
            ("covar_module.", "likelihood.", "mean_module."))}, strict=False)
    mean, variance = posterior_marginals(kept.model, surrogate.encode(archs[14:]))
    reference_mean, reference_variance = posterior_marginals(reference_model, reference.encode(archs[14:]))
    torch.testing.assert_close(mean, reference_mean)
    torch.testing.assert_close(variance, reference_variance)
    refit = surrogate.fit(archs[:15], [value(a) for a in archs[:15]])
    assert refit.how == "fit" and surrogate.fitted_on == 15


def test_growth_zero_refits_every_time_and_journals_no_count():
    surrogate = Surrogate.for_encoding("tw", SPACE)
    archs = cells(12)
    for n in (10, 11, 12):
        assert surrogate.fit(archs[:n], [value(a) for a in archs[:n]]).how == "fit"
    assert surrogate.fitted_on is None and FITTED_ON not in surrogate.kernel_state_json()
    assert not any(name.startswith(MODEL_PREFIX) for name in surrogate.kernel_state)


def test_a_kept_state_that_does_not_cover_the_model_is_refitted(caplog):
    surrogate = Surrogate.for_encoding("tw", SPACE, refit_growth=1.0)
    archs = cells(12)
    surrogate.fit(archs[:10], [value(a) for a in archs[:10]])
    state = surrogate.kernel_state_json()
    surrogate.load_kernel_state({name: entry for name, entry in state.items() if not name.startswith(MODEL_PREFIX)})
    assert surrogate.fitted_on == 10
    assert surrogate.fit(archs[:12], [value(a) for a in archs[:12]]).how == "fit"
    assert "kept hyperparameters do not fit" in caplog.text


@pytest.mark.parametrize("fitted_on", [0, -3, 2.5, "10", True])
def test_a_bad_fitted_on_is_a_named_error(fitted_on):
    surrogate = Surrogate.for_encoding("tw", SPACE, refit_growth=0.5)
    with pytest.raises(ValueError, match="fitted_on"):
        surrogate.load_kernel_state({FITTED_ON: fitted_on})


def test_a_kept_parameter_outside_the_likelihood_and_mean_is_refused():
    surrogate = Surrogate.for_encoding("tw", SPACE, refit_growth=0.5)
    with pytest.raises(ValueError, match="likelihood's or the mean's"):
        surrogate.load_kernel_state({MODEL_PREFIX + "covar_module.raw_outputscale": 0.0})


@pytest.mark.parametrize("growth", [-0.1, float("nan"), float("inf")])
def test_a_bad_refit_growth_is_a_named_error(growth):
    with pytest.raises(ValueError, match="refit_growth"):
        OptimizerSettings(space="nb201", refit_growth=growth)
    with pytest.raises(ValueError, match="refit_growth"):
        Optimizer(SPACE, refit_growth=growth)


def run(opt, n):
    while len(opt.completed) < n:
        trial = opt.ask(1)[0]
        opt.tell(trial, value(trial.arch))


@pytest.mark.parametrize("stop", [13, 17])
def test_a_resumed_search_keeps_and_refits_as_an_uninterrupted_one(tmp_path, stop):
    path = tmp_path / "run.jsonl"
    reference = Optimizer(SPACE, seed=5, refit_growth=0.25)
    interrupted = Optimizer(SPACE, seed=5, refit_growth=0.25, storage=path)
    run(reference, stop)
    run(interrupted, stop)
    interrupted.close()
    settings = json.loads(path.read_text().splitlines()[0])["settings"]
    assert settings["refit_growth"] == 0.25
    loaded = Optimizer.load(path)
    assert loaded.surrogate.fitted_on == reference.surrogate.fitted_on is not None
    hows = []
    for _ in range(8):
        expected, resumed = reference.ask(1)[0], loaded.ask(1)[0]
        assert resumed.arch == expected.arch
        assert loaded.last_fit == reference.last_fit
        hows.append(reference.last_fit)
        reference.tell(expected, value(expected.arch))
        loaded.tell(resumed, value(resumed.arch))
    assert "kept" in hows and "fit" in hows


def test_a_multi_fidelity_search_keeps_fits_too():
    opt = Optimizer(SPACE, seed=1, fidelities=(12, 200), refit_growth=0.5)
    hows = []
    for _ in range(18):
        trial = opt.ask(1)[0]
        record = TABLE.query(trial.arch)
        opt.tell(trial, float(record.val_accuracy_12ep if trial.fidelity == 12 else record.test_accuracy))
        hows.append(opt.last_fit)
    assert "kept" in hows and "fit" in hows
