"""Tests of the DARTS / NAS-Bench-301 space: validity, strings, NASLib forms, graphs, canonical keys."""

from __future__ import annotations

import gzip
import itertools
import json
from collections import namedtuple
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bonas.spaces.darts import DARTS_GRAPH_OPS, DARTS_OPS, DARTSArch, DARTSSpace
from bonas.spaces.graph import check_node_op_graph, graph_hash, graph_to_matrix, prune

NB301_SUBSET = Path("/work/shared/data/nasbench301/nb301_naslib_zc_subset.json.gz")

# Rows 0 and 1 of the NASLib NB301 subset (automl/NASLib naslib/data/zc_nasbench301.json).
NASLIB_ROWS = [
    {
        "compact": [
            [[0, 0], [1, 5], [1, 1], [0, 1], [1, 3], [0, 3], [1, 3], [3, 2]],
            [[1, 0], [0, 2], [1, 3], [0, 3], [3, 0], [0, 1], [2, 0], [3, 6]],
        ],
        "genotype": {
            "normal": [
                ["max_pool_3x3", 0], ["dil_conv_3x3", 1], ["avg_pool_3x3", 1], ["avg_pool_3x3", 0],
                ["sep_conv_3x3", 1], ["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ["skip_connect", 3],
            ],
            "normal_concat": [2, 3, 4, 5],
            "reduce": [
                ["max_pool_3x3", 1], ["skip_connect", 0], ["sep_conv_3x3", 1], ["sep_conv_3x3", 0],
                ["max_pool_3x3", 3], ["avg_pool_3x3", 0], ["max_pool_3x3", 2], ["dil_conv_5x5", 3],
            ],
            "reduce_concat": [2, 3, 4, 5],
        },
    },
    {
        "compact": [
            [[0, 5], [1, 0], [2, 1], [0, 2], [3, 2], [0, 3], [1, 0], [3, 5]],
            [[1, 1], [0, 2], [0, 5], [1, 0], [0, 6], [2, 2], [4, 6], [0, 0]],
        ],
        "genotype": {
            "normal": [
                ["dil_conv_3x3", 0], ["max_pool_3x3", 1], ["avg_pool_3x3", 2], ["skip_connect", 0],
                ["skip_connect", 3], ["sep_conv_3x3", 0], ["max_pool_3x3", 1], ["dil_conv_3x3", 3],
            ],
            "normal_concat": [2, 3, 4, 5],
            "reduce": [
                ["avg_pool_3x3", 1], ["skip_connect", 0], ["dil_conv_3x3", 0], ["max_pool_3x3", 1],
                ["dil_conv_5x5", 0], ["skip_connect", 2], ["dil_conv_5x5", 4], ["max_pool_3x3", 0],
            ],
            "reduce_concat": [2, 3, 4, 5],
        },
    },
]

GRAPH_LABELS = {op: index for index, op in enumerate(DARTS_GRAPH_OPS)}


@pytest.fixture
def space() -> DARTSSpace:
    return DARTSSpace()


@pytest.fixture
def arch(space: DARTSSpace) -> DARTSArch:
    return space.from_genotype(NASLIB_ROWS[0]["genotype"])


def swap_pairs(arch: DARTSArch, cell_name: str, node: int) -> DARTSArch:
    """``arch`` with the two pairs of intermediate ``node`` of one cell swapped."""
    cell = list(getattr(arch, cell_name))
    first = 2 * (node - 2)
    cell[first], cell[first + 1] = cell[first + 1], cell[first]
    other = "reduce" if cell_name == "normal" else "normal"
    return DARTSArch(**{cell_name: tuple(cell), other: getattr(arch, other)})


def relabel_cell(cell: tuple, order: tuple[int, ...]) -> tuple | None:
    """The cell with old intermediate node ``order[i]`` renumbered ``i + 2``; ``None`` if inputs come later."""
    new_id = {0: 0, 1: 1} | {old: new for new, old in enumerate(order, start=2)}
    pairs = []
    for new, old in enumerate(order, start=2):
        for op, source in cell[2 * old - 4 : 2 * old - 2]:
            if new_id[source] >= new:
                return None
            pairs.append((op, new_id[source]))
    return tuple(pairs)


def equivalents(arch: DARTSArch) -> list[DARTSArch]:
    """Every valid renumbering of the normal cell's intermediate nodes, each also with node 2's pairs swapped."""
    result = []
    for order in itertools.permutations(range(2, 6)):
        cell = relabel_cell(arch.normal, order)
        if cell is not None:
            renumbered = DARTSArch(cell, arch.reduce)
            result += [renumbered, swap_pairs(renumbered, "normal", 2)]
    return result


def count_paths(cell: tuple) -> int:
    """Input-to-output paths through a cell: one per BANANAS path (naszilla cell_301.get_paths)."""
    paths_to = [1, 1]
    for k in range(4):
        paths_to.append(sum(paths_to[source] for _, source in cell[2 * k : 2 * k + 2]))
    return sum(paths_to[2:])


def isomorphic(space: DARTSSpace, first: DARTSArch, second: DARTSArch) -> bool:
    return nx.is_isomorphic(
        space.to_graph(first), space.to_graph(second), node_match=lambda a, b: a["op"] == b["op"]
    )


# --- sampling, mutation, neighbours -------------------------------------------------------------


def test_sample_is_valid_distinct_and_seeded(space: DARTSSpace) -> None:
    archs = space.sample(200, np.random.default_rng(0))
    space.check_all(archs)
    assert len(set(archs)) == 200
    assert archs == space.sample(200, np.random.default_rng(0))
    assert space.sample(0, np.random.default_rng(0)) == []


def test_sample_covers_every_op_and_input(space: DARTSSpace) -> None:
    archs = space.sample(300, np.random.default_rng(1))
    ops = {op for arch in archs for op, _ in arch.normal + arch.reduce}
    assert ops == set(DARTS_OPS)
    last_node_inputs = {source for arch in archs for _, source in arch.normal[6:]}
    assert last_node_inputs == {0, 1, 2, 3, 4}


def test_sample_rejects_bad_count(space: DARTSSpace) -> None:
    with pytest.raises(ValueError, match="the number of architectures must be an integer >= 0, got -1"):
        space.sample(-1, np.random.default_rng(0))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_mutate_changes_exactly_one_pair(seed: int) -> None:
    space = DARTSSpace()
    rng = np.random.default_rng(seed)
    (arch,) = space.sample(1, rng)
    mutant = space.mutate(arch, rng)
    space.validate(mutant)
    assert mutant != arch
    changed = [
        (old, new)
        for name in ("normal", "reduce")
        for old, new in zip(getattr(arch, name), getattr(mutant, name))
        if old != new
    ]
    assert len(changed) == 1
    (old_op, old_source), (new_op, new_source) = changed[0]
    assert (old_op == new_op) != (old_source == new_source)
    assert mutant in space.neighbours(arch)


def test_mutate_changes_both_ops_and_inputs(space: DARTSSpace, arch: DARTSArch) -> None:
    rng = np.random.default_rng(2)
    kinds = set()
    for _ in range(200):
        mutant = space.mutate(arch, rng)
        old, new = next(
            (old, new) for old, new in zip(arch.normal + arch.reduce, mutant.normal + mutant.reduce) if old != new
        )
        kinds.add("op" if old[0] != new[0] else "input")
    assert kinds == {"op", "input"}


def test_neighbours_are_all_one_change_archs(space: DARTSSpace, arch: DARTSArch) -> None:
    neighbours = space.neighbours(arch)
    assert len(neighbours) == 120 == len(set(neighbours))
    space.check_all(neighbours)
    assert arch not in neighbours
    expected = set()
    for name in ("normal", "reduce"):
        for position in range(8):
            for op in DARTS_OPS:
                for source in range(position // 2 + 2):
                    cell = list(getattr(arch, name))
                    cell[position] = (op, source)
                    candidate = DARTSArch(**{**vars(arch), name: tuple(cell)})
                    try:
                        space.validate(candidate)
                    except ValueError:
                        continue
                    changed = cell[position] != getattr(arch, name)[position]
                    single = op == getattr(arch, name)[position][0] or source == getattr(arch, name)[position][1]
                    if changed and single:
                        expected.add(candidate)
    assert set(neighbours) == expected


# --- strings and NASLib / DARTS forms -----------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_string_round_trip(seed: int) -> None:
    space = DARTSSpace()
    (arch,) = space.sample(1, np.random.default_rng(seed))
    text = space.to_str(arch)
    assert space.from_str(text) == arch
    assert str(arch) == text
    assert space.from_genotype(space.to_genotype(arch)) == arch
    assert space.from_compact(space.to_compact(arch)) == arch


def test_string_format(space: DARTSSpace, arch: DARTSArch) -> None:
    assert space.to_str(arch) == (
        "normal:max_pool_3x3~0,dil_conv_3x3~1|avg_pool_3x3~1,avg_pool_3x3~0|"
        "sep_conv_3x3~1,sep_conv_3x3~0|sep_conv_3x3~1,skip_connect~3;"
        "reduce:max_pool_3x3~1,skip_connect~0|sep_conv_3x3~1,sep_conv_3x3~0|"
        "max_pool_3x3~3,avg_pool_3x3~0|max_pool_3x3~2,dil_conv_5x5~3"
    )


@pytest.mark.parametrize(
    ("mutilate", "message"),
    [
        (lambda text: text.replace(";", ""), "expected 'normal:...;reduce:...'"),
        (lambda text: text.replace("normal:", "norm:"), "should start with 'normal:'"),
        (lambda text: text.replace("|", "/", 1), "needs 4 '\\|'-separated nodes"),
        (lambda text: text.replace(",dil_conv_3x3~1", ""), "needs 2 ','-separated"),
        (lambda text: text.replace("max_pool_3x3~0", "max_pool_3x3~x"), "should read 'op~input_node'"),
        (lambda text: text.replace("max_pool_3x3~0", "max_pool_3x3"), "should read 'op~input_node'"),
        (lambda text: text.replace("max_pool_3x3~0", "none~0"), "unknown op 'none'"),
        (lambda text: text.replace("skip_connect~3", "skip_connect~5"), "input node 5 of pair 7"),
    ],
)
def test_from_str_rejects_malformed(space: DARTSSpace, arch: DARTSArch, mutilate, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        space.from_str(mutilate(space.to_str(arch)))


def test_from_str_rejects_non_string(space: DARTSSpace) -> None:
    with pytest.raises(ValueError, match="expected a DARTS string, got int"):
        space.from_str(3)


@pytest.mark.parametrize("row", NASLIB_ROWS)
def test_naslib_genotype_and_compact_agree(space: DARTSSpace, row: dict) -> None:
    from_genotype = space.from_genotype(row["genotype"])
    assert from_genotype == space.from_compact(row["compact"])
    assert space.to_genotype(from_genotype) == row["genotype"]
    assert [list(map(list, cell)) for cell in space.to_compact(from_genotype)] == row["compact"]


@pytest.mark.skipif(not NB301_SUBSET.exists(), reason="NASLib NB301 subset not available")
def test_every_naslib_subset_row_parses(space: DARTSSpace) -> None:
    with gzip.open(NB301_SUBSET, "rt") as handle:
        rows = json.load(handle)["archs"]
    archs = [space.from_genotype(row["genotype"]) for row in rows]
    assert archs == [space.from_compact(row["compact"]) for row in rows]
    assert archs[0] == space.from_genotype(NASLIB_ROWS[0]["genotype"])
    assert len(rows) == 725


def test_from_darts_genotype_namedtuple(space: DARTSSpace, arch: DARTSArch) -> None:
    genotype_type = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
    genotype = genotype_type(
        normal=[tuple(pair) for pair in arch.normal], normal_concat=range(2, 6),
        reduce=[tuple(pair) for pair in arch.reduce], reduce_concat=range(2, 6),
    )
    assert space.from_genotype(genotype) == arch


def test_from_genotype_and_compact_reject_bad_input(space: DARTSSpace) -> None:
    genotype = dict(NASLIB_ROWS[0]["genotype"])
    with pytest.raises(ValueError, match="normal_concat must be \\[2, 3, 4, 5\\]"):
        space.from_genotype({**genotype, "normal_concat": [2, 3, 4]})
    with pytest.raises(ValueError, match="genotype has no 'reduce'"):
        space.from_genotype({"normal": genotype["normal"]})
    with pytest.raises(ValueError, match="the reduce cell must list 8 pairs"):
        space.from_genotype({**genotype, "reduce": genotype["reduce"][:7]})
    with pytest.raises(ValueError, match="pair 0 of the normal cell must have 2 entries"):
        space.from_genotype({**genotype, "normal": [["max_pool_3x3"], *genotype["normal"][1:]]})
    compact = NASLIB_ROWS[0]["compact"]
    with pytest.raises(ValueError, match="op id 7 is outside 0..6"):
        space.from_compact([[[0, 7], *compact[0][1:]], compact[1]])
    with pytest.raises(ValueError, match="compact form must be \\[normal, reduce\\]"):
        space.from_compact(compact[:1])


# --- validation messages ------------------------------------------------------------------------


def with_normal(arch: DARTSArch, normal: object) -> DARTSArch:
    return DARTSArch(normal, arch.reduce)


def test_validate_accepts_good_arch(space: DARTSSpace, arch: DARTSArch) -> None:
    space.validate(arch)


def test_validate_rejects_wrong_type(space: DARTSSpace, arch: DARTSArch) -> None:
    with pytest.raises(ValueError, match="expected a DARTSArch of space 'darts', got tuple"):
        space.validate((arch.normal, arch.reduce))


def test_validate_rejects_wrong_number_of_pairs(space: DARTSSpace, arch: DARTSArch) -> None:
    with pytest.raises(ValueError, match="the normal cell must be a tuple of 8 .* got 7"):
        space.validate(with_normal(arch, arch.normal[:7]))
    with pytest.raises(ValueError, match="the normal cell must be a tuple of 8 .* got 8"):
        space.validate(with_normal(arch, list(arch.normal)))


def test_validate_rejects_malformed_pair(space: DARTSSpace, arch: DARTSArch) -> None:
    with pytest.raises(ValueError, match="pair 1 of the normal cell must be an \\(op, input_node\\) tuple"):
        space.validate(with_normal(arch, (arch.normal[0], ["dil_conv_3x3", 1], *arch.normal[2:])))


def test_validate_rejects_unknown_op_listing_allowed_ones(space: DARTSSpace, arch: DARTSArch) -> None:
    bad = DARTSArch(arch.normal, (("none", 1), *arch.reduce[1:]))
    message = "unknown op 'none' in pair 0 of the reduce cell; expected one of .*dil_conv_5x5"
    with pytest.raises(ValueError, match=message):
        space.validate(bad)
    with pytest.raises(ValueError, match="supernet-only"):
        space.validate(bad)


@pytest.mark.parametrize(("position", "source"), [(0, 2), (7, 5), (4, -1), (2, 1.0), (3, True)])
def test_validate_rejects_input_out_of_range(space: DARTSSpace, arch: DARTSArch, position: int, source) -> None:
    cell = list(arch.normal)
    cell[position] = (cell[position][0], source)
    message = f"input node {source!r} of pair {position} of the normal cell is out of range"
    with pytest.raises(ValueError, match=message):
        space.validate(with_normal(arch, tuple(cell)))


def test_validate_rejects_identical_inputs(space: DARTSSpace, arch: DARTSArch) -> None:
    cell = list(arch.normal)
    cell[7] = ("skip_connect", 1)  # pair 6 of node 5 also reads node 1
    with pytest.raises(ValueError, match="node 5 of the normal cell takes input node 1 twice"):
        space.validate(with_normal(arch, tuple(cell)))


def test_space_methods_validate_their_input(space: DARTSSpace, arch: DARTSArch) -> None:
    bad = with_normal(arch, arch.normal[:7])
    for method in (space.to_graph, space.canonical_key, space.neighbours):
        with pytest.raises(ValueError, match="must be a tuple of 8"):
            method(bad)
    with pytest.raises(ValueError, match="must be a tuple of 8"):
        space.mutate(bad, np.random.default_rng(0))


# --- graphs ---------------------------------------------------------------------------------------


def test_graph_follows_node_op_convention(space: DARTSSpace) -> None:
    for arch in space.sample(30, np.random.default_rng(3)):
        graph = space.to_graph(arch)
        check_node_op_graph(graph)
        assert list(graph.nodes) == list(range(space.graph_spec.max_nodes)) == list(range(30))
        assert graph.number_of_edges() == 44
        assert {op for _, op in graph.nodes(data="op")} <= set(space.graph_spec.vocabulary) == set(space.graph_ops)
        assert all(source < target for source, target in graph.edges)
        matrix, ops = graph_to_matrix(graph)
        pruned_matrix, pruned_ops = prune(matrix, ops)
        assert pruned_ops == ops and np.array_equal(pruned_matrix, matrix)


def test_graph_layout(space: DARTSSpace, arch: DARTSArch) -> None:
    graph = space.to_graph(arch)
    ops = [graph.nodes[node]["op"] for node in graph.nodes]
    assert ops[:6] == ["input", "normal_c_k-2", "normal_c_k-1", "max_pool_3x3", "dil_conv_3x3", "add"]
    assert ops[15:17] == ["reduce_c_k-2", "reduce_c_k-1"]
    assert ops.count("add") == 8
    assert list(graph.predecessors(29)) == [5, 8, 11, 14, 19, 22, 25, 28]
    # pair 7 of the normal cell, skip_connect from node 3, reads the add node of node 3 (graph node 8)
    assert list(graph.predecessors(13)) == [8]


def test_graph_paths_match_bananas_paths(space: DARTSSpace) -> None:
    for arch in space.sample(10, np.random.default_rng(4)):
        n_paths = sum(1 for _ in nx.all_simple_paths(space.to_graph(arch), 0, 29))
        assert n_paths == count_paths(arch.normal) + count_paths(arch.reduce)


# --- canonical keys -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    swaps=st.lists(st.tuples(st.sampled_from(["normal", "reduce"]), st.integers(2, 5))),
)
def test_canonical_key_ignores_swapped_pairs(seed: int, swaps: list[tuple[str, int]]) -> None:
    space = DARTSSpace()
    (arch,) = space.sample(1, np.random.default_rng(seed))
    swapped = arch
    for cell_name, node in swaps:
        swapped = swap_pairs(swapped, cell_name, node)
    assert space.canonical_key(swapped) == space.canonical_key(arch)
    assert graph_hash(space.to_graph(swapped), GRAPH_LABELS) == graph_hash(space.to_graph(arch), GRAPH_LABELS)


def test_canonical_key_ignores_node_renumbering(space: DARTSSpace) -> None:
    arch = space.from_str(
        "normal:sep_conv_3x3~0,skip_connect~1|dil_conv_3x3~0,max_pool_3x3~1|"
        "avg_pool_3x3~2,sep_conv_5x5~3|sep_conv_3x3~1,skip_connect~4;"
        "reduce:max_pool_3x3~0,max_pool_3x3~1|skip_connect~2,sep_conv_3x3~0|"
        "dil_conv_5x5~1,avg_pool_3x3~3|sep_conv_5x5~4,skip_connect~2"
    )
    renumbered = equivalents(arch)
    assert len(set(renumbered)) > 2
    assert {space.canonical_key(other) for other in renumbered} == {space.canonical_key(arch)}
    assert all(isomorphic(space, arch, other) for other in renumbered[:6])


def test_canonical_is_a_valid_fixed_point(space: DARTSSpace) -> None:
    for arch in space.sample(30, np.random.default_rng(5)):
        canonical = space.canonical(arch)
        space.validate(canonical)
        assert space.canonical(canonical) == canonical
        assert space.canonical_key(arch) == space.to_str(canonical)
        assert isomorphic(space, arch, canonical)


def test_canonical_key_equality_is_graph_isomorphism(space: DARTSSpace) -> None:
    rng = np.random.default_rng(6)
    (arch,) = space.sample(1, rng)
    candidates = [*space.neighbours(arch), *equivalents(arch)[:10], *space.sample(10, rng)]
    key = space.canonical_key(arch)
    for other in candidates:
        assert (space.canonical_key(other) == key) == isomorphic(space, arch, other)


def test_canonical_key_separates_regrouped_pairs(space: DARTSSpace) -> None:
    # the same four (op, input) pairs grouped into nodes 2 and 3 differently: different cells
    first = space.from_str(
        "normal:sep_conv_3x3~0,skip_connect~1|dil_conv_3x3~0,max_pool_3x3~1|"
        "avg_pool_3x3~0,avg_pool_3x3~1|avg_pool_3x3~0,avg_pool_3x3~1;"
        "reduce:max_pool_3x3~0,max_pool_3x3~1|max_pool_3x3~0,max_pool_3x3~1|"
        "max_pool_3x3~0,max_pool_3x3~1|max_pool_3x3~0,max_pool_3x3~1"
    )
    regrouped = space.to_str(first).replace(
        "skip_connect~1|dil_conv_3x3~0,max_pool_3x3~1", "max_pool_3x3~1|dil_conv_3x3~0,skip_connect~1"
    )
    second = space.from_str(regrouped)
    assert second != first
    assert space.canonical_key(first) != space.canonical_key(second)
    assert not isomorphic(space, first, second)
