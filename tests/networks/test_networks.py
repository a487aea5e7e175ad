"""Networks built from cells: parameter counts equal the NAS-Bench tables', shapes, bad input."""

import numpy as np
import pytest
import torch

import bonas
from bonas.networks import build_network, check_input, count_params
from bonas.networks.nb101 import vertex_channels

NB201 = bonas.NASBench201Space()
NB101 = bonas.NASBench101Space()


def meta_params(space, arch, num_classes: int = 10) -> int:
    with torch.device("meta"):
        return count_params(build_network(space, arch, num_classes))


def mismatches(space, table, archs, num_classes: int = 10) -> list[tuple[str, int, int]]:
    """``(cell, built params, table params)`` for every cell whose counts differ."""
    counts = ((space.to_str(arch), meta_params(space, arch, num_classes), table.query(arch).params) for arch in archs)
    return [count for count in counts if count[1] != count[2]]


def nb201_mismatches(archs, dataset: str = "cifar10", num_classes: int = 10) -> list[tuple[str, int, int]]:
    return mismatches(NB201, bonas.NASBench201Table(dataset), archs, num_classes)


def nb101_mismatches(archs) -> list[tuple[str, int, int]]:
    return mismatches(NB101, bonas.NASBench101Table(), archs)


def test_nb201_params_equal_the_table_on_a_sample():
    archs = list(NB201.enumerate())
    sample = [archs[i] for i in np.random.default_rng(0).choice(len(archs), 300, replace=False)]
    assert nb201_mismatches(sample) == []
    assert nb201_mismatches(sample[:20], "cifar100", 100) == []
    assert nb201_mismatches(sample[:20], "ImageNet16-120", 120) == []


def test_nb201_extremes_match_the_published_range():
    assert meta_params(NB201, NB201.from_indices("000000")) == 73_306
    assert meta_params(NB201, NB201.from_indices("333333")) == 1_531_546


@pytest.mark.slow
def test_nb201_params_equal_the_table_on_every_cell():
    assert nb201_mismatches(NB201.enumerate()) == []


def test_nb101_params_equal_the_table_on_a_sample():
    archs = bonas.NASBench101Table().architectures()
    assert nb101_mismatches([archs[i] for i in np.random.default_rng(0).choice(len(archs), 40, replace=False)]) == []


@pytest.mark.slow
def test_nb101_params_equal_the_table_on_every_known_cell():
    assert nb101_mismatches(bonas.NASBench101Table().architectures()) == []


def test_vertex_channels_split_the_output_and_propagate_back():
    # input -> 1 -> 2 -> output, 1 -> output, input -> output: two vertices share 128 channels
    matrix = np.array([[0, 1, 0, 1], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    assert vertex_channels(64, 128, matrix) == [64, 64, 64, 128]
    three = np.zeros((5, 5), dtype=int)
    three[0, 1:4] = 1
    three[1:4, 4] = 1
    assert vertex_channels(128, 256, three) == [128, 86, 85, 85, 256]
    assert vertex_channels(3, 8, np.array([[0, 1], [0, 0]])) == [3, 8]


@pytest.mark.parametrize("space, arch", [
    (NB201, NB201.from_str("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")),
    (NB201, NB201.from_indices("000000")),
    (NB101, bonas.CellArch.from_matrix([[0, 1, 1, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
                                       ["input", "conv3x3-bn-relu", "maxpool3x3", "output"])),
    (NB101, bonas.CellArch.from_matrix([[0, 1], [0, 0]], ["input", "output"])),
])
def test_networks_map_images_to_logits_and_train(space, arch):
    torch.manual_seed(0)
    network = build_network(space, arch, num_classes=7, in_channels=1, channels=8, cells_per_stage=1)
    x = torch.randn(4, 1, 8, 8)
    logits = network(x)
    assert logits.shape == (4, 7) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in network.classifier.parameters())


def test_user_cell_space_over_nb101_ops_builds():
    space = bonas.CellSpace(["conv1x1-bn-relu", "maxpool3x3"], max_nodes=5, max_edges=6)
    arch = space.sample(1, np.random.default_rng(0))[0]
    assert build_network(space, arch, 10, in_channels=1, channels=8)(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown op 'conv5x5'"):
        build_network(NB201, bonas.NB201Arch(("conv5x5",) * 6), 10)
    with pytest.raises(ValueError, match="expected an NB201Arch"):
        build_network(NB201, "not a cell", 10)
    class Unregistered(bonas.NASBench201Space):
        name = "unregistered"

    with pytest.raises(ValueError, match="no network builder for space 'unregistered'.*register a builder"):
        build_network(Unregistered(), NB201.from_indices("123412"), 10)
    with pytest.raises(ValueError, match=r"no module for ops \['sepconv'\] of space 'cell': pass op_modules"):
        space = bonas.CellSpace(["sepconv", "maxpool3x3"], max_nodes=3)
        build_network(space, space.sample(1, np.random.default_rng(0))[0], 10)
    with pytest.raises(ValueError, match=r"nb201 networks take no option \['op_modules'\]"):
        build_network(NB201, NB201.from_indices("123412"), 10, op_modules={})
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        build_network(NB201, NB201.from_indices("123412"), 0)
    with pytest.raises(ValueError, match="no path joins the input to the output"):
        build_network(NB101, bonas.CellArch.from_matrix(np.zeros((3, 3)), ["input", "maxpool3x3", "output"]), 10)


def test_check_input_rejects_shapes_the_skeleton_cannot_take():
    check_input(NB201, (1, 8, 8), 10)
    check_input(NB101, (1, 7, 7), 10)
    with pytest.raises(ValueError, match="reduction block needs an even height and width"):
        check_input(NB201, (1, 6, 6), 10)
    with pytest.raises(ValueError, match="cannot go through nb201 networks"):
        check_input(NB201, (3, 2, 2), 10)
    with pytest.raises(ValueError, match="must be c x h x w"):
        check_input(NB201, (8, 8), 10)
