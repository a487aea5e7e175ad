import itertools
from collections import defaultdict

import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bonas.encoders import TreeWassersteinEncoder, make_encoder, pairwise_tree_wasserstein, tree_wasserstein
from bonas.encoders.tw import ALPHA, build_op_tree, op_family, op_tree_metric
from bonas.spaces import DARTSSpace, NASBench101Space, NASBench201Space

NB201 = NASBench201Space()
ENCODER = TreeWassersteinEncoder(NB201)


@pytest.mark.parametrize(("space", "n_archs"), [(NB201, 60), (NASBench101Space(), 60), (DARTSSpace(), 20)],
                         ids=lambda s: getattr(s, "name", ""))
def test_equals_exact_optimal_transport_from_pot(space, n_archs):
    encoder = TreeWassersteinEncoder(space)
    metric = op_tree_metric(encoder)
    grid = np.linspace(0.0, 1.0, encoder.n_slots)
    chain_metric = ot.dist(grid.reshape(-1, 1), grid.reshape(-1, 1), metric="euclidean")
    archs = space.sample(n_archs, np.random.default_rng(0))
    graphs = [space.to_graph(arch) for arch in archs]
    X = encoder.encode(archs)
    pairs = list(itertools.combinations(range(len(archs)), 2))[:300]
    differing = 0
    for i, j in pairs:
        ours = tree_wasserstein(X[i], X[j], encoder.groups)
        expected_op = ot.emd2(encoder.op_masses(graphs[i]), encoder.op_masses(graphs[j]), metric)
        assert ours["op"] == pytest.approx(expected_op, abs=1e-6)
        differing += expected_op > 1e-3
        for degree in ("in", "out"):
            a, b = encoder.layer_masses(graphs[i], degree), encoder.layer_masses(graphs[j], degree)
            assert ours[degree] == pytest.approx(ot.emd2(a, b, chain_metric), abs=1e-6)
            assert ours[degree] == pytest.approx(ot.wasserstein_1d(grid, grid, a, b, p=1), abs=1e-6)
    assert differing > len(pairs) // 2


def test_op_tree_is_tw_nas_nb201_tree():
    """On NB201's four live ops the tree has TW-NAS's 33 edges with its weights (``TW_Operations_NB201``)."""
    ops = ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "skip_connect")
    tree = build_op_tree(ops, {op: op_family(op) for op in ops}, ALPHA)
    a, b = ALPHA, 1 - ALPHA
    tw_nas_weights = [a, a, 1, 1] + [a * a] * 10 + [1, a, a * a, a * a, a, 1, b, 1, a * b, a * b, b,
                                                      a * b, a * b, b, a * b, a * b, b, b, 1]
    ours = sorted(weight for _, _, weight in tree.edges(data="weight"))
    assert ours == pytest.approx(sorted(tw_nas_weights))
    assert tree.edges["2-gram", ("gram", "avg_pool_3x3", "avg_pool_3x3")]["weight"] == 1
    assert tree.edges[("pair", "conv"), ("sub", "conv", "same")]["weight"] == pytest.approx(a * b)


def test_pairwise_matches_per_pair_and_chunks():
    archs = NB201.sample(40, np.random.default_rng(1))
    X = ENCODER.encode(archs)
    full = pairwise_tree_wasserstein(X, None, ENCODER.groups, chunk_size=7, dtype=torch.float64)
    for i, j in [(0, 1), (3, 39), (17, 17)]:
        single = tree_wasserstein(X[i], X[j], ENCODER.groups)
        for name in ENCODER.groups:
            assert float(full[name][i, j]) == pytest.approx(single[name], abs=1e-12)
    with pytest.raises(ValueError, match=f"widths {ENCODER.dim} and {ENCODER.dim - 1}"):
        pairwise_tree_wasserstein(X, X[:, :-1], ENCODER.groups)


def nb201_arch(index):
    return NB201.from_indices(np.base_repr(index, 5).zfill(6))


ARCH_INDEX = st.integers(0, 15_624)


@settings(max_examples=60, deadline=None)
@given(ARCH_INDEX, ARCH_INDEX, ARCH_INDEX)
def test_metric_properties(i, j, k):
    X = ENCODER.encode([nb201_arch(i), nb201_arch(j), nb201_arch(k)])
    for D in pairwise_tree_wasserstein(X, None, ENCODER.groups, dtype=torch.float64).values():
        assert torch.allclose(D, D.T)
        assert torch.all(D.diagonal() == 0)
        assert torch.all(D >= 0)
        assert D[0, 2] <= D[0, 1] + D[1, 2] + 1e-12


def test_equivalent_cells_get_identical_encodings_for_every_encoder():
    # node 2 has no input: the op on (2->3) is dead; both cells compute skip(x) + conv1x1(x)
    a = NB201.from_str("|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    b = NB201.from_str("|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|")
    assert NB201.canonical_key(a) == NB201.canonical_key(b)
    for name in ("adjacency", "path", "wl", "tw"):
        X = make_encoder(name, NB201).encode([a, b])
        assert torch.equal(X[0], X[1]), name


def test_every_class_of_a_sample_has_one_encoding_and_zero_distance():
    archs = NB201.sample(3000, np.random.default_rng(2))
    by_key = defaultdict(list)
    for position, arch in enumerate(archs):
        by_key[NB201.canonical_key(arch)].append(position)
    classes = [members for members in by_key.values() if len(members) > 1]
    assert len(classes) > 100
    X = ENCODER.encode(archs)
    for members in classes:
        D = pairwise_tree_wasserstein(X[members], None, ENCODER.groups, dtype=torch.float64)
        assert all(torch.all(d == 0) for d in D.values())
    for name in ("path", "wl"):
        X = make_encoder(name, NB201).encode(archs)
        assert all(torch.all(X[members] == X[members[0]]) for members in classes), name


@pytest.mark.slow
def test_count_classes_tw_cannot_tell_apart():
    """TW is a pseudo-metric: 342 pairs of NB201 canonical classes are at distance 0 (tw.py's docstring)."""
    representatives = {}
    for arch in NB201.enumerate():
        representatives.setdefault(NB201.canonical_key(arch), arch)
    X = ENCODER.encode(list(representatives.values()))
    _, counts = torch.unique(X, dim=0, return_counts=True)
    assert len(representatives) == 8_765
    assert int((counts * (counts - 1) // 2).sum()) == 342


def test_an_indistinguishable_pair():
    """Two classes TW puts at distance 0: the same op after skip(0->1), on 1->3 or on 2->3 behind skip(1->2)."""
    a = NB201.from_str("|skip_connect~0|+|none~0|skip_connect~1|+|none~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    b = NB201.from_str("|skip_connect~0|+|none~0|skip_connect~1|+|none~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    assert NB201.canonical_key(a) != NB201.canonical_key(b)
    X = ENCODER.encode([a, b])
    assert torch.equal(X[0], X[1])
    assert make_encoder("path", NB201).encode([a, b]).diff(dim=0).abs().sum() > 0


def test_alpha_and_device():
    assert ALPHA == 0.1
    assert ENCODER.dim == ENCODER.groups["out"].stop == 87 + 7 + 7
    X = TreeWassersteinEncoder(NB201, device="auto").encode([nb201_arch(7)])
    assert X.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="alpha must lie in"):
        TreeWassersteinEncoder(NB201, alpha=1.5)
