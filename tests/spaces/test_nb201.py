import itertools
from collections import defaultdict

import networkx as nx
import numpy as np
import pytest

from bonas.nasbench.nb201 import read_packaged_csv
from bonas.spaces import NB201_OPS, NASBench201Space, NB201Arch
from bonas.spaces.graph import check_node_op_graph

SPACE = NASBench201Space()
BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def same_ops(a, b):
    return a["op"] == b["op"]


def test_enumerate_covers_the_space_once():
    archs = list(SPACE.enumerate())
    assert len(archs) == len(SPACE) == 15_625
    assert len(set(archs)) == 15_625


@pytest.mark.parametrize("seed", range(5))
def test_string_and_index_round_trip(seed):
    for arch in SPACE.sample(50, np.random.default_rng(seed)):
        assert SPACE.from_str(SPACE.to_str(arch)) == arch
        assert SPACE.from_indices(SPACE.to_indices(arch)) == arch


def test_standard_string_and_op_order():
    arch = SPACE.from_str(BEST_C10)
    assert arch.ops == ("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_3x3", "nor_conv_3x3")
    assert SPACE.to_indices(arch) == "333133"
    assert NB201_OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert str(arch) == BEST_C10


def test_graph_follows_the_node_op_convention():
    graph = SPACE.to_graph(SPACE.from_str(BEST_C10))
    check_node_op_graph(graph)
    ops = [graph.nodes[node]["op"] for node in sorted(graph)]
    assert ops == ["input", *SPACE.from_str(BEST_C10).ops, "output"]
    # input feeds the edges leaving node 0; edge (0->1) feeds the edges leaving node 1
    assert set(graph.successors(0)) == {1, 2, 4}
    assert set(graph.successors(1)) == {3, 5}
    assert set(graph.predecessors(7)) == {4, 5, 6}


def test_none_edges_and_dead_ops_are_pruned():
    # node 2 gets no input (both edges into it are none), so the conv on (2->3) is dead
    arch = SPACE.from_str("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|skip_connect~1|nor_conv_3x3~2|")
    graph = SPACE.to_graph(arch)
    assert [graph.nodes[node]["op"] for node in sorted(graph)] == ["input", "nor_conv_1x1", "skip_connect", "output"]
    assert sorted(graph.edges) == [(0, 1), (1, 2), (2, 3)]


def test_constant_zero_cell_is_input_and_output_only():
    arch = SPACE.from_str("|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")
    graph = SPACE.to_graph(arch)
    assert graph.number_of_nodes() == 2 and graph.number_of_edges() == 0
    assert SPACE.canonical_key(arch) == SPACE.canonical_key(NB201Arch(("none",) * 6))


def test_neighbours_and_mutation():
    arch = SPACE.from_str(BEST_C10)
    neighbours = SPACE.neighbours(arch)
    assert len(neighbours) == 24 == len(set(neighbours))
    assert all(sum(a != b for a, b in zip(arch.ops, other.ops)) == 1 for other in neighbours)
    rng = np.random.default_rng(0)
    for _ in range(50):
        mutated = SPACE.mutate(arch, rng)
        assert mutated in neighbours


def test_sampling_is_seeded():
    first = SPACE.sample(20, np.random.default_rng(3))
    assert first == SPACE.sample(20, np.random.default_rng(3))
    assert first != SPACE.sample(20, np.random.default_rng(4))
    assert SPACE.sample(0, np.random.default_rng(0)) == []
    with pytest.raises(ValueError, match="the number of architectures must be an integer >= 0, got -1"):
        SPACE.sample(-1, np.random.default_rng(0))


def test_canonical_key_is_isomorphism_on_a_sample():
    rng = np.random.default_rng(0)
    archs = SPACE.sample(300, rng)
    for a, b in itertools.combinations(archs[:120], 2):
        isomorphic = nx.is_isomorphic(SPACE.to_graph(a), SPACE.to_graph(b), node_match=same_ops)
        assert isomorphic == (SPACE.canonical_key(a) == SPACE.canonical_key(b))


def test_swapping_summands_keeps_the_key():
    # node 3 = conv3(x) + conv1(node1) vs. the same with node 1 and node 2 roles swapped
    a = SPACE.from_str("|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|")
    b = SPACE.from_str("|none~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|")
    assert SPACE.canonical_key(a) == SPACE.canonical_key(b)


def test_class_count_against_nats_unique_str():
    """8,765 isomorphism classes against NATS-Bench's 6,466 (see canonical_key's docstring)."""
    nats_key = {SPACE.from_str(row["arch_str"]): row["unique_str"] for row in read_packaged_csv("nb201_test_acc.csv.gz")}
    ours = {arch: SPACE.canonical_key(arch) for arch in SPACE.enumerate()}
    assert len(set(nats_key.values())) == 6_466
    assert len(set(ours.values())) == 8_765
    nats_per_ours, ours_per_nats = defaultdict(set), defaultdict(set)
    for arch, key in ours.items():
        nats_per_ours[key].add(nats_key[arch])
        ours_per_nats[nats_key[arch]].add(key)
    assert sum(len(v) > 1 for v in ours_per_nats.values()) == 1_299
    assert sum(len(v) > 1 for v in nats_per_ours.values()) == 685
    # a chain of two skips equals one skip for NATS, not for us
    chain = SPACE.from_str("|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|")
    direct = SPACE.from_str("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert nats_key[chain] == nats_key[direct]
    assert ours[chain] != ours[direct]
    # a conv applied to a zero input is dead for us, not for NATS
    dead_conv = SPACE.from_str("|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")
    all_none = NB201Arch(("none",) * 6)
    assert ours[dead_conv] == ours[all_none]
    assert nats_key[dead_conv] != nats_key[all_none]


@pytest.mark.slow
def test_canonical_key_equals_isomorphism_on_the_whole_space():
    classes = defaultdict(list)
    for arch in SPACE.enumerate():
        classes[SPACE.canonical_key(arch)].append(SPACE.to_graph(arch))
    for graphs in classes.values():
        assert all(nx.is_isomorphic(graphs[0], g, node_match=same_ops) for g in graphs[1:])
    by_shape = defaultdict(list)
    for graphs in classes.values():
        g = graphs[0]
        by_shape[(tuple(sorted(nx.get_node_attributes(g, "op").values())), g.number_of_edges())].append(g)
    for graphs in by_shape.values():
        for g1, g2 in itertools.combinations(graphs, 2):
            assert not nx.is_isomorphic(g1, g2, node_match=same_ops)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|", "expected 3"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|", "node 3 needs 3 inputs"),
        ("|conv5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv5x5' at edge 0"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "should read 'op~0'"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end"),
    ],
)
def test_malformed_strings_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        SPACE.from_str(text)


def test_bad_architectures_are_named():
    with pytest.raises(ValueError, match="unknown op 'conv5x5' at edge 2"):
        SPACE.validate(NB201Arch(("none", "none", "conv5x5", "none", "none", "none")))
    with pytest.raises(ValueError, match="6 edges, got 5"):
        SPACE.validate(NB201Arch(("none",) * 5))
    with pytest.raises(ValueError, match="expected an NB201Arch"):
        SPACE.validate(("none",) * 6)
    with pytest.raises(ValueError, match="outside 0..4"):
        SPACE.from_indices("000005")
    with pytest.raises(ValueError, match="expected 6 op indices"):
        SPACE.from_indices("0000")


def test_graphs_off_the_numbering_convention_are_refused():
    skipped = nx.DiGraph()
    skipped.add_nodes_from([(1, {"op": "input"}), (2, {"op": "output"})])
    skipped.add_edge(1, 2)
    with pytest.raises(ValueError, match=r"numbered 0..1; they are \[1, 2\]"):
        check_node_op_graph(skipped)
