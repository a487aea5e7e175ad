"""NASWOT: the Hamming-distance kernel by hand, scores on digits, singular kernels."""

import pickle

import numpy as np
import pytest
import torch
from torch import nn

import bonas
from bonas.evaluators import NASWOT, naswot_score

SPACE = bonas.NASBench201Space()
CELL = SPACE.from_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")


def test_score_is_logdet_of_units_minus_hamming_distance():
    torch.manual_seed(0)
    network = nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 9), nn.ReLU())
    x = torch.randn(6, 5)
    hidden = network[0](x)
    codes = np.concatenate([(hidden > 0).numpy(), (network[2](torch.relu(hidden)) > 0).numpy()], axis=1)
    hamming = (codes[:, None, :] != codes[None, :, :]).sum(axis=2)
    expected = np.linalg.slogdet(codes.shape[1] - hamming)[1]
    assert naswot_score(network, x) == pytest.approx(expected, rel=1e-12)
    assert naswot_score(network, x[[0, 0, 1]]) == -np.inf  # two equal inputs: K is singular


def test_nb201_scores_on_digits_are_seeded_and_informative(digits_data):
    train, _ = digits_data
    scorer = NASWOT(train.x, SPACE, seed=0, num_threads=1)
    result = scorer(CELL)
    assert np.isfinite(result["value"]) and result["params"] > 0
    assert result["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pickle.loads(pickle.dumps(scorer))(CELL)["value"] == result["value"]
    assert NASWOT(train, SPACE, seed=0)(CELL)["value"] == result["value"]  # an (images, labels) pair is fine too
    weak = SPACE.from_str("|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert scorer(weak)["value"] < result["value"]


def test_a_cell_without_signal_fails_with_the_reason(digits_data):
    scorer = NASWOT(digits_data[0], SPACE)
    with pytest.raises(ValueError, match="NASWOT kernel is singular"):
        scorer(SPACE.from_indices("000000"))


def test_bad_input_is_named(digits_data):
    train, _ = digits_data
    with pytest.raises(ValueError, match="fewer than batch_size 128"):
        NASWOT(train.x[:10], SPACE)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2, got 1"):
        NASWOT(train.x, SPACE, batch_size=1)
    with pytest.raises(ValueError, match="images must be n x c x h x w"):
        NASWOT(train.x.reshape(len(train.x), 64), SPACE)
    with pytest.raises(ValueError, match="unknown op 'conv5x5'"):
        NASWOT(train.x, SPACE)(bonas.NB201Arch(("conv5x5",) * 6))
