"""Pareto fronts, hypervolume regret and the NB201 objective matrix of multi-objective replays."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bonas.nasbench import LATENCY_DEVICES, NASBench201Table
from bonas.replay.front_plot import plot_fronts
from bonas.replay.pareto import (
    HypervolumeScale,
    hypervolume_trajectory,
    nb201_objectives,
    pareto_mask,
    true_front,
)

UNIT_SQUARE = HypervolumeScale(np.array([[0.0, 0.0], [1.0, 1.0]]))
"""A table spanning the unit square, so normalising changes nothing and the true hypervolume is 1."""


def brute_force_mask(Y: np.ndarray) -> np.ndarray:
    return np.array([not any((other >= point).all() and (other > point).any() for other in Y) for point in Y])


small_point_sets = arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 3)),
                          elements=st.integers(0, 4).map(float))
"""Few distinct values, so ties and duplicates are common."""


@given(small_point_sets)
def test_pareto_mask_matches_brute_force(Y):
    np.testing.assert_array_equal(pareto_mask(Y), brute_force_mask(Y))


def test_every_copy_of_a_non_dominated_point_is_non_dominated():
    Y = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(pareto_mask(Y), [True, True, True, False, False])


def test_true_front_lists_the_pareto_rows():
    Y = np.array([[0.0, 3.0], [1.0, 1.0], [2.0, 2.0], [3.0, 0.0]])
    np.testing.assert_array_equal(true_front(Y), [0, 2, 3])


def test_hypervolume_of_known_configurations():
    assert UNIT_SQUARE.hypervolume(np.array([[0.5, 0.5]])) == pytest.approx(0.25)
    assert UNIT_SQUARE.hypervolume(np.array([[0.5, 0.5], [1.0, 0.25]])) == pytest.approx(0.25 + 0.5 * 0.25)
    assert UNIT_SQUARE.hypervolume(np.array([[0.5, 0.5], [0.25, 0.25]])) == pytest.approx(0.25)
    assert UNIT_SQUARE.hypervolume(np.empty((0, 2))) == 0.0
    assert UNIT_SQUARE.regret(np.array([[0.5, 0.5]])) == pytest.approx(0.75)


def test_normalisation_puts_the_table_in_the_unit_cube_with_the_worst_corner_as_reference():
    table_Y = np.array([[90.0, -10.0], [80.0, -2.0], [70.0, -6.0]])
    scale = HypervolumeScale(table_Y)
    normalised = scale.normalise(table_Y)
    assert normalised.min() == 0.0 and normalised.max() == 1.0
    np.testing.assert_allclose(normalised, [[1.0, 0.0], [0.5, 1.0], [0.0, 0.5]])
    assert scale.true_hypervolume == pytest.approx(0.5)
    assert scale.hypervolume(table_Y[:1]) == 0.0


def test_a_constant_objective_cannot_be_normalised():
    with pytest.raises(ValueError, match=r"columns \[1\]"):
        HypervolumeScale(np.array([[0.0, 1.0], [1.0, 1.0]]))


@given(arrays(np.float64, st.tuples(st.integers(1, 15), st.just(2)), elements=st.floats(0, 1)))
def test_trajectory_is_the_regret_of_each_prefix_and_never_increases(Y):
    trajectory = hypervolume_trajectory(UNIT_SQUARE, Y)
    np.testing.assert_allclose(trajectory, [UNIT_SQUARE.regret(Y[: n + 1]) for n in range(len(Y))], atol=1e-12)
    assert (np.diff(trajectory) <= 1e-12).all()


def test_nb201_objective_matrix_rows_and_signs():
    table = NASBench201Table("cifar10")
    Y, labels = nb201_objectives("cifar10", ["accuracy", "latency:eyeriss", "params", "flops"])
    assert Y.shape == (15_625, 4)
    assert labels == ["accuracy (%)", "latency:eyeriss (ms)", "params", "flops"]
    np.testing.assert_array_equal(Y[:, 0], table.metric("test_accuracy"))
    np.testing.assert_array_equal(Y[:, 1], -table.latency_column("eyeriss"))
    np.testing.assert_array_equal(Y[:, 2], -table.metric("params"))
    assert (Y[:, 0] > 0).all() and (Y[:, 1:] <= 0).all()


def test_regret_is_zero_when_the_whole_table_is_found():
    Y, _ = nb201_objectives("cifar10", ["accuracy", "latency:eyeriss"])
    scale = HypervolumeScale(Y)
    assert 0.9 < scale.true_hypervolume <= 1.0
    assert scale.regret(Y) == 0.0
    assert scale.regret(Y[true_front(Y)]) == 0.0
    assert scale.regret(Y[:100]) > 0.0


def test_unknown_objectives_and_devices_name_the_choices():
    with pytest.raises(KeyError, match="unknown latency device 'tpu'.*eyeriss"):
        nb201_objectives("cifar10", ["accuracy", "latency:tpu"])
    with pytest.raises(ValueError, match=r"'energy'.*accuracy.*latency:<device>.*params.*flops"):
        nb201_objectives("cifar10", ["energy"])
    with pytest.raises(ValueError, match="latency:<device>"):
        nb201_objectives("cifar10", ["latency"])
    assert set(LATENCY_DEVICES) >= {"eyeriss", "pixel2"}


def test_plot_fronts_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    true_Y = np.array(list(itertools.product(range(5), range(5))), dtype=float) * [1.0, -1.0]
    found = {"random": true_Y[rng.choice(len(true_Y), 8, replace=False)], "none": np.empty((0, 2))}
    plot_fronts(found, true_Y, ["accuracy (%)", "latency:eyeriss (ms)"], tmp_path / "fronts.png", "test")
    assert (tmp_path / "fronts.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="two objectives"):
        plot_fronts(found, np.zeros((3, 3)), ["a", "b", "c"], tmp_path / "bad.png", "test")
