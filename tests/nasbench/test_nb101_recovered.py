"""The recovered NAS-Bench-101 structures: every row's cell and the enumeration that found them."""

import importlib.util
import itertools
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from bonas import NASBench101Space, NASBench101Table
from bonas.nasbench import nb101
from bonas.spaces import NB101_OPS, CellArch
from bonas.spaces.graph import prune

TABLE = NASBench101Table()
SPACE = NASBench101Space()
C3, C1, MP = NB101_OPS


def _load_recover_script():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "recover_nb101.py"
    spec = importlib.util.spec_from_file_location("recover_nb101", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


RECOVER = _load_recover_script()


def _check_rows(rows: np.ndarray) -> None:
    archs = TABLE.architectures()
    hashes = TABLE.hashes()
    for row in rows.tolist():
        arch = archs[row]
        SPACE.validate(arch)
        matrix, ops = prune(arch.array(), arch.ops)
        assert len(ops) == len(arch.ops) <= 7, f"row {row} is not pruned"
        assert int(matrix.sum()) <= 9
        assert SPACE.canonical_key(arch) == hashes[row], f"row {row}: structure and hash disagree"


def test_every_row_has_a_structure():
    archs = TABLE.architectures()
    assert len(archs) == len(TABLE) == 20_001
    assert all(isinstance(arch, CellArch) for arch in archs)
    assert TABLE.query(TABLE.hashes()[-1]).arch == archs[-1]


def test_sampled_rows_are_valid_cells_with_their_hash():
    rows = np.random.default_rng(0).choice(len(TABLE), size=2_000, replace=False)
    _check_rows(np.concatenate([[0, 999, 1_000, len(TABLE) - 1], rows]))


@pytest.mark.slow
def test_all_rows_are_valid_cells_with_their_hash():
    _check_rows(np.arange(len(TABLE)))


def test_bad_input_is_named():
    with pytest.raises(KeyError, match="0{32}.*not in the bundled NAS-Bench-101 sample"):
        TABLE.query("0" * 32)
    full = np.triu(np.ones((6, 6), dtype=int), k=1)
    full[0, 5] = full[0, 4] = full[1, 5] = full[2, 4] = full[1, 3] = 0
    ten_edges = CellArch.from_matrix(full, ("input", C3, C1, MP, C3, "output"))
    with pytest.raises(ValueError, match="10 edges once pruned; space 'nb101' allows at most 9"):
        TABLE.query(ten_edges)
    with pytest.raises(ValueError, match="unknown op 'conv5x5' at node 1"):
        TABLE.query("input,conv5x5,output|111")
    with pytest.raises(ValueError, match="unknown op 'avgpool3x3' at node 2"):
        TABLE.query(CellArch.from_matrix(np.eye(4, k=1, dtype=int), ("input", C3, "avgpool3x3", "output")))


def test_a_row_without_structure_is_refused(monkeypatch):
    rows = ({"hash": "00ab", "val_acc_4ep": "1", "val_acc_12ep": "1", "val_acc_36ep": "1", "val_acc_108ep": "1",
             "train_time_108ep_s": "1", "params": "1", "n_nodes": "", "adjacency": "", "ops": ""},)
    monkeypatch.setattr(nb101, "read_packaged_csv", lambda name: rows)
    with pytest.raises(RuntimeError, match="no structure for hash 00ab"):
        nb101._load.__wrapped__()


def _brute_force_hashes(max_nodes: int) -> set[str]:
    """Hashes of every valid cell of at most ``max_nodes`` nodes, through the space (pruning included)."""
    hashes = set()
    for n in range(2, max_nodes + 1):
        rows, cols = np.triu_indices(n, k=1)
        for bits in itertools.product((0, 1), repeat=len(rows)):
            matrix = np.zeros((n, n), dtype=int)
            matrix[rows, cols] = bits
            for middle in itertools.product(NB101_OPS, repeat=n - 2):
                arch = CellArch.from_matrix(matrix, ("input", *middle, "output"))
                try:
                    hashes.add(SPACE.canonical_key(arch))
                except ValueError:
                    continue
    return hashes


def test_enumeration_matches_brute_force_on_small_cells():
    cells = RECOVER.unlabelled_cells(max_nodes=4)
    enumerated = {key for matrix in cells for key, _ in RECOVER.labellings(matrix)}
    assert enumerated == _brute_force_hashes(4)
    assert len(enumerated) == sum(RECOVER.labelled_class_count(matrix) for matrix in cells) == 1 + 6 + 84


def test_valid_matrices_are_the_pruned_ones_and_classes_are_exact():
    n = 5
    rows, cols = np.triu_indices(n, k=1)
    pruned = []
    for bits in itertools.product((0, 1), repeat=len(rows)):
        matrix = np.zeros((n, n), dtype=np.uint8)
        matrix[rows, cols] = bits
        kept = prune(matrix, ["x"] * n)
        if kept is not None and len(kept[1]) == n and matrix.sum() <= 9:
            pruned.append(matrix.tobytes())
    matrices = RECOVER.valid_matrices(n, max_edges=9)
    assert sorted(matrix.tobytes() for matrix in matrices) == sorted(pruned)
    graphs = [nx.DiGraph(np.argwhere(matrix).tolist()) for matrix in RECOVER.representatives(matrices)]
    assert not any(nx.is_isomorphic(a, b) for a, b in itertools.combinations(graphs, 2))
    classes = []
    for graph in (nx.DiGraph(np.argwhere(matrix).tolist()) for matrix in matrices):
        if not any(nx.is_isomorphic(graph, other) for other in classes):
            classes.append(graph)
    assert len(classes) == len(graphs) == 97


def test_representative_is_the_labelling_nasbench101_stored():
    archs = TABLE.architectures()
    published = [archs[row] for row in range(0, 1_000, 5)]
    assert all(RECOVER.nb101_representative(arch) == arch for arch in published)
    rng = np.random.default_rng(0)
    for arch in published[:40]:
        n = len(arch.ops)
        order = [0, *(rng.permutation(n - 2) + 1), n - 1]
        relabelled = CellArch.from_matrix(arch.array()[np.ix_(order, order)], [arch.ops[i] for i in order])
        if not np.tril(relabelled.array()).any():
            assert RECOVER.nb101_representative(relabelled) == arch
