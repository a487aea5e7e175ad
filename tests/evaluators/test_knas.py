"""KNAS: the gradient Gram mean by hand, the vmap path against a per-example loop, scores on digits, bad data."""

import pickle

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import bonas
from bonas.evaluators import KNAS, NASWOT, knas_score
from bonas.evaluators.knas import gradient_gram, per_example_gradients

SPACE = bonas.NASBench201Space()
CELL = SPACE.from_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
SMALL = {"batch_size": 16, "channels": 4, "cells_per_stage": 1, "num_threads": 1}


def test_score_is_the_mean_of_the_gradient_gram_of_a_linear_model_by_hand():
    torch.manual_seed(0)
    model = nn.Linear(5, 3).double()
    x, y = torch.randn(7, 5, dtype=torch.float64), torch.tensor([0, 1, 2, 2, 1, 0, 1])
    # cross-entropy of softmax(W x + b): dW = (p - e_y) x^T, db = p - e_y, so G_ij = (r_i . r_j)(x_i . x_j + 1)
    residuals = torch.softmax(model(x), dim=1).detach() - F.one_hot(y, 3).double()
    expected = (residuals @ residuals.T) * (x @ x.T + 1)
    torch.testing.assert_close(gradient_gram(model, x, y), expected, rtol=1e-12, atol=0)
    assert knas_score(model, x, y) == pytest.approx(expected.mean().item(), rel=1e-12)


def test_vmap_gradients_match_a_loop_over_batches_of_one_and_leave_the_network_alone():
    torch.manual_seed(0)
    network = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                            nn.Linear(4 * 6 * 6, 3))
    x, y = torch.randn(5, 2, 6, 6), torch.tensor([0, 2, 1, 1, 0])
    state = {name: value.clone() for name, value in network.state_dict().items()}
    rows = []
    for image, label in zip(x, y):  # the authors' setting: batch size 1, training mode
        network.train().zero_grad()
        F.cross_entropy(network(image[None]), label[None]).backward()
        rows.append(torch.cat([param.grad.flatten() for param in network.parameters()]).double())
    network.load_state_dict(state)  # the loop's forward passes moved the running statistics
    gradients = torch.stack(rows)
    expected = gradients @ gradients.T
    gram = gradient_gram(network, x, y)
    torch.testing.assert_close(gram, expected, rtol=1e-6, atol=1e-6 * expected.abs().max().item())
    assert knas_score(network, x, y) == pytest.approx(expected.mean().item(), rel=1e-6)
    assert all(torch.equal(value, state[name]) for name, value in network.state_dict().items())
    assert set(per_example_gradients(network, x, y, names=["4.bias"])) == {"4.bias"}
    with pytest.raises(ValueError, match=r"unknown parameters \['head.weight'\]"):
        per_example_gradients(network, x, y, names=["head.weight"])


def test_nb201_scores_on_digits_are_seeded_and_informative(digits_data):
    train, _ = digits_data
    scorer = KNAS(train, SPACE, seed=0, **SMALL)
    result = scorer(CELL)
    assert np.isfinite(result["value"]) and result["value"] > 0 and result["params"] > 0
    assert result["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert scorer(CELL)["value"] == result["value"]
    assert pickle.loads(pickle.dumps(scorer))(CELL)["value"] == result["value"]
    assert KNAS(train, SPACE, seed=1, **SMALL)(CELL)["value"] != result["value"]
    assert torch.equal(scorer.images, NASWOT(train, SPACE, batch_size=16, seed=0).images)  # NASWOT's batch
    no_path = SPACE.from_indices("000000")  # only the skeleton's reductions and head learn
    assert 0 < scorer(no_path)["value"] < result["value"]


def test_a_search_records_knas_scores(digits_data):
    scorer = KNAS(digits_data[0], SPACE, device="cpu", **SMALL)
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=10)
    with bonas.LocalBackend(n_workers=2) as backend:
        bonas.run(opt, scorer, backend=backend, n_trials=2, max_in_flight=2, show_progress=False)
    assert [trial.state for trial in opt.trials] == [bonas.TrialState.COMPLETE] * 2
    assert [trial.value for trial in opt.trials] == [scorer(trial.arch)["value"] for trial in opt.trials]


def test_bad_input_is_named(digits_data):
    train, _ = digits_data
    with pytest.raises(TypeError, match="KNAS needs labels"):
        KNAS(train.x, SPACE)
    with pytest.raises(ValueError, match="fewer than batch_size 128"):
        KNAS((train.x[:10], train.y[:10]), SPACE)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2, got 1"):
        KNAS(train, SPACE, batch_size=1)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2, got 1"):
        KNAS(train, SPACE, num_classes=1)
    with pytest.raises(ValueError, match="data has label 9, outside 0 .. 4 for num_classes 5"):
        KNAS(train, SPACE, num_classes=5)
    with pytest.raises(ValueError, match="images must be n x c x h x w"):
        KNAS((train.x.reshape(len(train.x), 64), train.y), SPACE)
    with pytest.raises(ValueError, match=r"images of shape \(1, 4, 4\) cannot go through nb201 networks one at a time"):
        KNAS((train.x[:, :, :4, :4], train.y), SPACE)
    with pytest.raises(ValueError, match="unknown op 'conv5x5'"):
        KNAS(train, SPACE)(bonas.NB201Arch(("conv5x5",) * 6))
