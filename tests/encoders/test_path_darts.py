"""The DARTS path encoding is BANANAS's, column for column; other spaces encode as before."""

import dataclasses

import numpy as np
import pytest

from bonas.encoders import PathEncoder
from bonas.networks.darts import PUBLISHED_GENOTYPES
from bonas.spaces import DARTSSpace, GraphSpec, NASBench101Space, NASBench201Space
from bonas.spaces.darts import DARTS_OPS, DARTSArch

DARTS = DARTSSpace()
ARCHS = DARTS.sample(40, np.random.default_rng(0))


def bananas_path_encoding(arch: DARTSArch) -> np.ndarray:
    """``Cell301(arch).encode_paths()`` of naszilla/naszilla ``naszilla/nas_bench_301/cell_301.py``, transcribed.

    BANANAS's arch is NASLib's compact form, ``(normal, reduction)`` of 8 ``(input_node, op_id)`` pairs.
    """
    ops, num_vertices, input_1, input_2 = list(DARTS_OPS), 4, "c_k-2", "c_k-1"
    cells = DARTS.to_compact(arch)
    # get_paths
    path_builder = [[[], [], [], []], [[], [], [], []]]
    paths = [[], []]
    for i, cell in enumerate(cells):
        for j in range(8):
            if cell[j][0] == 0:
                path = [input_1, ops[cell[j][1]]]
                path_builder[i][j // 2].append(path)
                paths[i].append(path)
            elif cell[j][0] == 1:
                path = [input_2, ops[cell[j][1]]]
                path_builder[i][j // 2].append(path)
                paths[i].append(path)
            else:
                for path in path_builder[i][cell[j][0] - 2]:
                    path = [*path, ops[cell[j][1]]]
                    path_builder[i][j // 2].append(path)
                    paths[i].append(path)
    # get_path_indices (long_paths=True)
    max_paths = sum(len(ops) ** i for i in range(num_vertices + 1))
    path_indices = []
    for i, cell_paths in enumerate(paths):
        for path in cell_paths:
            index = i * 2 * max_paths
            if path[0] == input_2:
                index += max_paths
            for j in range(num_vertices + 1):
                if j == len(path) - 1:
                    path_indices.append(index)
                    break
                index += len(ops) ** j * (ops.index(path[j + 1]) + 1)
    # encode_paths
    encoding = np.zeros(4 * max_paths)
    encoding[path_indices] = 1
    return encoding


def test_darts_has_a_block_of_paths_per_cell_input():
    encoder = PathEncoder(DARTS)
    assert encoder.dim == 4 * (1 + 7 + 7**2 + 7**3 + 7**4) == 11_204
    assert encoder.paths[2801] == ("normal_c_k-1", ()) and encoder.paths[-1] == ("reduce_c_k-1", ("dil_conv_5x5",) * 4)
    truncated = PathEncoder(DARTS, truncate=100)
    assert truncated.dim == 100
    assert truncated.encode(ARCHS).tolist() == encoder.encode(ARCHS)[:, :100].tolist()


@pytest.mark.parametrize("arch", [*ARCHS, *PUBLISHED_GENOTYPES.values()])
def test_columns_are_bananas_columns(arch):
    row = PathEncoder(DARTS).encode([arch])[0].numpy()
    assert np.flatnonzero(row).tolist() == np.flatnonzero(bananas_path_encoding(arch)).tolist()


def test_published_darts_v2_paths():
    encoder = PathEncoder(DARTS)
    features = encoder.op_paths(DARTS.to_graph(PUBLISHED_GENOTYPES["DARTS_V2"]))
    assert ("normal_c_k-2", ("sep_conv_3x3",)) in features and ("reduce_c_k-1", ("max_pool_3x3",)) in features
    assert ("normal_c_k-1", ("sep_conv_3x3", "dil_conv_3x3")) in features  # c_k-1 -> node 2 -> node 5
    assert ("reduce_c_k-2", ("max_pool_3x3", "skip_connect")) in features
    assert ("normal_c_k-2", ("skip_connect", "skip_connect")) not in features  # its skips read c_k-2 only
    assert len(features) == int(encoder.encode([PUBLISHED_GENOTYPES["DARTS_V2"]]).sum())


def test_swapping_the_cells_changes_the_encoding():
    encoder = PathEncoder(DARTS)
    for arch in ARCHS[:10]:
        swapped = DARTSArch(normal=arch.reduce, reduce=arch.normal)
        assert not encoder.encode([arch]).equal(encoder.encode([swapped]))
        X = encoder.encode([arch, swapped]).numpy()
        assert X[0, :5602].tolist() == X[1, 5602:].tolist() and X[0, 5602:].tolist() == X[1, :5602].tolist()


def test_isomorphic_genotypes_encode_alike():
    encoder = PathEncoder(DARTS)
    rng = np.random.default_rng(1)
    for arch in ARCHS:
        normal = list(arch.normal)
        node = int(rng.integers(4))
        normal[2 * node], normal[2 * node + 1] = normal[2 * node + 1], normal[2 * node]  # a node's two pairs swapped
        twins = [arch, DARTS.canonical(arch), DARTSArch(tuple(normal), arch.reduce)]
        assert len({DARTS.canonical_key(twin) for twin in twins}) == 1
        X = encoder.encode(twins)
        assert X[0].equal(X[1]) and X[0].equal(X[2])


def test_without_roots_the_blocks_fold_into_the_op_paths():
    class Unrooted(DARTSSpace):
        graph_spec = dataclasses.replace(DARTSSpace.graph_spec, path_roots=None)

    rooted = PathEncoder(DARTS).encode(ARCHS).numpy()
    unrooted = PathEncoder(Unrooted()).encode(ARCHS).numpy()
    assert unrooted.shape == (len(ARCHS), 2801)
    assert rooted.reshape(len(ARCHS), 4, 2801).max(axis=1).tolist() == unrooted.tolist()


def test_a_path_without_a_root_is_an_error():
    class NormalRootsOnly(DARTSSpace):
        graph_spec = dataclasses.replace(DARTSSpace.graph_spec, path_roots=("normal_c_k-2", "normal_c_k-1"))

    with pytest.raises(ValueError, match=r"should pass exactly one of the path roots \['normal_c_k-2', 'normal_c_k-1'\]"):
        PathEncoder(NormalRootsOnly()).encode(ARCHS[:1])


# Nonzero columns of the first rows of ``space.sample(5, default_rng(7))``, recorded before path roots existed.
UNCHANGED = {
    "nb201": (NASBench201Space(), [[5, 20, 24, 125], [2, 15, 27], [5, 120], [2, 13], [3, 17, 19, 104]]),
    "nb101": (NASBench101Space(), [[0, 1, 3, 10], [5, 14, 17], [0, 1, 4], [0, 1, 3], [1]]),
}


@pytest.mark.parametrize("name", sorted(UNCHANGED))
def test_spaces_without_roots_encode_as_before(name):
    space, columns = UNCHANGED[name]
    assert space.graph_spec.path_roots is None
    X = PathEncoder(space).encode(space.sample(5, np.random.default_rng(7))).numpy()
    assert [np.flatnonzero(row).tolist() for row in X] == columns


@pytest.mark.parametrize("roots, message", [
    ((), r"GraphSpec\.path_roots must name at least one root, or be None"),
    ("a", r"GraphSpec\.path_roots must be a sequence of op names, got str"),
    (("a", "a"), r"GraphSpec\.path_roots names \['a'\] more than once"),
    (("z",), r"GraphSpec\.path_roots \['z'\] are not in GraphSpec\.ops \['a', 'b', 'conv'\]"),
    (("a", "conv"), r"GraphSpec\.path_roots \['conv'\] are also in GraphSpec\.path_ops \['conv'\]"),
])
def test_a_bad_path_roots_names_the_field(roots, message):
    with pytest.raises(ValueError, match=message):
        GraphSpec(ops=("a", "b", "conv"), max_nodes=6, path_ops=("conv",), path_roots=roots)


def test_path_roots_are_stored_as_a_tuple():
    spec = GraphSpec(ops=("a", "b", "conv"), max_nodes=6, path_ops=("conv",), path_roots=["b", "a"])
    assert spec.path_roots == ("b", "a") and GraphSpec(ops=("a",), max_nodes=3).path_roots is None
