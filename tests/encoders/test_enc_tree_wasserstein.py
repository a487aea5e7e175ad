import itertools

import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bonas.encoders import TreeWassersteinEncoder, make_encoder, pairwise_tree_wasserstein, tree_wasserstein
from bonas.encoders.tw import ALPHA, op_tree_masses, op_tree_metric
from bonas.spaces import DARTSSpace, NASBench201Space

NB201 = NASBench201Space()
ENCODER = TreeWassersteinEncoder(NB201)


@pytest.mark.parametrize("space", [NB201, DARTSSpace()], ids=lambda s: s.name)
def test_equals_exact_optimal_transport_from_pot(space):
    encoder = TreeWassersteinEncoder(space)
    nodes, metric = op_tree_metric(encoder)
    chain = np.linspace(0.0, 1.0, encoder.n_slots).reshape(-1, 1)
    chain_metric = ot.dist(chain, chain, metric="euclidean")
    rng = np.random.default_rng(0)
    archs = space.sample(60 if space.name == "nb201" else 20, rng)
    graphs = [space.to_graph(arch) for arch in archs]
    X = encoder.encode(archs)
    pairs = list(itertools.combinations(range(len(archs)), 2))[:300]
    for i, j in pairs:
        ours = tree_wasserstein(X[i], X[j], encoder.groups)
        expected_op = ot.emd2(op_tree_masses(encoder, graphs[i], nodes), op_tree_masses(encoder, graphs[j], nodes), metric)
        assert ours["op"] == pytest.approx(expected_op, abs=1e-6)
        for degree in ("in", "out"):
            a = np.array(encoder.layer_masses(graphs[i], degree))
            b = np.array(encoder.layer_masses(graphs[j], degree))
            assert ours[degree] == pytest.approx(ot.emd2(a, b, chain_metric), abs=1e-6)


def test_pairwise_matches_per_pair_and_chunks():
    archs = NB201.sample(40, np.random.default_rng(1))
    X = ENCODER.encode(archs)
    full = pairwise_tree_wasserstein(X, None, ENCODER.groups, chunk_size=7, dtype=torch.float64)
    for i, j in [(0, 1), (3, 39), (17, 17)]:
        single = tree_wasserstein(X[i], X[j], ENCODER.groups)
        for name in ENCODER.groups:
            assert float(full[name][i, j]) == pytest.approx(single[name], abs=1e-12)
    with pytest.raises(ValueError, match="widths 70 and 69"):
        pairwise_tree_wasserstein(X, X[:, :-1], ENCODER.groups)


ARCH_INDEX = st.integers(0, 15_624)


def nb201_arch(index):
    return NB201.from_indices(np.base_repr(index, 5).zfill(6))


@settings(max_examples=60, deadline=None)
@given(ARCH_INDEX, ARCH_INDEX, ARCH_INDEX)
def test_metric_properties(i, j, k):
    X = ENCODER.encode([nb201_arch(i), nb201_arch(j), nb201_arch(k)])
    d = {name: pairwise_tree_wasserstein(X, None, ENCODER.groups, dtype=torch.float64)[name] for name in ENCODER.groups}
    for D in d.values():
        assert torch.allclose(D, D.T)
        assert torch.all(D.diagonal() == 0)
        assert D[0, 2] <= D[0, 1] + D[1, 2] + 1e-12


def test_equivalent_cells_get_identical_encodings_for_every_encoder():
    # node 2 has no input: the conv on (2->3) is dead; both cells compute skip(x) + conv1x1(x)
    a = NB201.from_str("|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    b = NB201.from_str("|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|")
    assert NB201.canonical_key(a) == NB201.canonical_key(b)
    for name in ("adjacency", "path", "wl", "tw"):
        X = make_encoder(name, NB201).encode([a, b])
        assert torch.equal(X[0], X[1]), name


@pytest.mark.slow
def test_count_classes_tw_cannot_tell_apart():
    """TW is a pseudo-metric: count NB201 class pairs at distance 0 (reported in the docstring)."""
    representatives = {}
    for arch in NB201.enumerate():
        representatives.setdefault(NB201.canonical_key(arch), arch)
    X = ENCODER.encode(list(representatives.values()))
    _, inverse, counts = torch.unique(X, dim=0, return_inverse=True, return_counts=True)
    pairs = int((counts * (counts - 1) // 2).sum())
    assert len(representatives) == 8_765
    assert pairs > 0


def test_alpha_is_the_tw_nas_default():
    assert ALPHA == 0.1 and ENCODER.groups["op"].stop == 7 + 49
