import networkx as nx
import numpy as np
import pytest

from bonas.encoders import PathEncoder
from bonas.spaces import CellArch, CellSpace, NASBench101Space, NB101_OPS
from bonas.spaces.registry import space_from_name

NB101 = NASBench101Space()
C3, C1, MP = NB101_OPS

# The example cell of nasbench's README: hash 00005c142e6f48ac74fdcf73e3439874 is the table's first row.
FIRST_ROW = "input,conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv1x1-bn-relu,output|100110100001001010101"


def chain(ops):
    n = len(ops) + 2
    matrix = np.eye(n, k=1, dtype=int)
    return CellArch.from_matrix(matrix, ("input", *ops, "output"))


def test_official_hash_of_a_known_cell():
    assert NB101.canonical_key(NB101.from_str(FIRST_ROW)) == "00005c142e6f48ac74fdcf73e3439874"


def test_string_round_trip_and_registry():
    archs = NB101.sample(50, np.random.default_rng(0))
    for arch in archs:
        assert NB101.from_str(NB101.to_str(arch)) == arch
    assert isinstance(space_from_name("nb101"), NASBench101Space)


def test_pruning_drops_dead_nodes_and_keeps_the_hash():
    live = chain([C3, C1])
    matrix = np.zeros((5, 5), dtype=int)
    matrix[0, 1] = matrix[1, 2] = matrix[2, 4] = 1
    matrix[0, 3] = 1  # node 3 reaches nothing: pruned
    dead = CellArch.from_matrix(matrix, ("input", C3, C1, MP, "output"))
    assert NB101.to_graph(dead).number_of_nodes() == 4
    assert NB101.canonical_key(dead) == NB101.canonical_key(live)


def test_hash_is_isomorphism_invariant():
    rng = np.random.default_rng(3)
    for arch in NB101.sample(30, rng):
        graph = NB101.to_graph(arch)
        n = graph.number_of_nodes()
        inner = list(range(1, n - 1))
        while True:
            order = [0, *rng.permutation(inner).tolist(), n - 1]
            relabel = {old: new for new, old in enumerate(order)}
            if all(relabel[u] < relabel[v] for u, v in graph.edges):
                break
        matrix = np.zeros((n, n), dtype=int)
        for u, v in graph.edges:
            matrix[relabel[u], relabel[v]] = 1
        ops = [None] * n
        for node, op in graph.nodes(data="op"):
            ops[relabel[node]] = op
        permuted = CellArch.from_matrix(matrix, ops)
        assert nx.is_isomorphic(NB101.to_graph(permuted), graph, node_match=lambda a, b: a["op"] == b["op"])
        assert NB101.canonical_key(permuted) == NB101.canonical_key(arch)


def test_sample_mutate_neighbours_are_valid_and_distinct():
    rng = np.random.default_rng(1)
    for arch in NB101.sample(20, rng):
        NB101.validate(arch)
        key = NB101.canonical_key(arch)
        mutant = NB101.mutate(arch, rng)
        NB101.validate(mutant)
        assert NB101.canonical_key(mutant) != key
        keys = [NB101.canonical_key(neighbour) for neighbour in NB101.neighbours(arch)]
        assert key not in keys and len(keys) == len(set(keys)) > 0


def test_path_encoding_has_364_paths():
    assert PathEncoder(NB101).dim == 1 + 3 + 9 + 27 + 81 + 243 == 364
    assert PathEncoder(NB101, truncate=40).dim == 40
    row = PathEncoder(NB101).encode([chain([C3, C1])])[0]
    assert int(row.sum()) == 1


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        (chain([C3] * 6), "8 nodes; space 'nb101' allows at most 7"),
        (chain(["conv5x5"]), r"unknown op 'conv5x5' at node 1; expected one of \['conv3x3-bn-relu'"),
        (CellArch.from_matrix(np.triu(np.ones((7, 7), dtype=int), k=1), ("input", *[C3] * 5, "output")),
         "21 edges once pruned; space 'nb101' allows at most 9"),
        (CellArch.from_matrix([[0, 1, 0], [0, 0, 1], [0, 1, 0]], ("input", C3, "output")),
         r"edge 2->1 points backwards \(a cycle\)"),
        (CellArch.from_matrix([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ("input", C3, "output")),
         "no path joins the input to the output"),
        (CellArch.from_matrix([[0, 1], [0, 0]], ("input", C3, "output")), "adjacency must be 3 x 3"),
        (CellArch.from_matrix([[0, 1], [0, 0]], (C3, "output")), "must start with 'input'"),
        ("|nor_conv_3x3~0|", "expected a CellArch of space 'nb101'"),
    ],
)
def test_bad_cells_are_named(arch, message):
    with pytest.raises(ValueError, match=message):
        NB101.validate(arch)


def test_ten_edges_are_rejected():
    matrix = np.zeros((7, 7), dtype=int)
    edges = [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 6), (2, 6), (3, 6), (4, 6), (5, 6)]
    for source, target in edges:
        matrix[source, target] = 1
    with pytest.raises(ValueError, match="10 edges once pruned"):
        NB101.validate(CellArch.from_matrix(matrix, ("input", *[C3] * 5, "output")))


@pytest.mark.parametrize("text", ["input,output", "input,conv3x3-bn-relu,output|012", "input,output|11"])
def test_malformed_strings_are_named(text):
    with pytest.raises(ValueError, match="malformed cell string"):
        NB101.from_str(text)


def test_user_cell_space():
    space = CellSpace(["sep3x3", "sep5x5", "identity"], max_nodes=5, max_edges=6, name="mine")
    archs = space.sample(20, np.random.default_rng(0))
    assert all(len(arch.ops) == 5 for arch in archs)
    assert all(space.to_graph(arch).number_of_edges() <= 6 for arch in archs)
    assert space.to_graph(archs[0]).nodes[0]["op"] == "input"
    with pytest.raises(ValueError, match="ops must be distinct"):
        CellSpace(["a", "a"])
    with pytest.raises(ValueError, match="max_nodes must be at least 2"):
        CellSpace(["a"], max_nodes=1)
