"""Recover the cell structure of every row of the bundled NAS-Bench-101 table by enumerating the space.

The table (``bonas/nasbench/data/nb101_vis_20k_val.csv.gz``) keys 20,001 cells by
NAS-Bench-101's module hash but stores the structure of only the first 1,000.
This script lists every unlabelled NAS-Bench-101 cell (upper-triangular DAGs of
2..7 nodes, at most 9 edges, every node on an input-to-output path), keeps one
per isomorphism class (exact canonical forms: the smallest adjacency code over
all orders of the interior nodes), hashes every op labelling of each with
:func:`bonas.spaces.graph.module_hash`, checks that the distinct hashes number
423,624 (the published size) and equal the number of labelled isomorphism
classes (counted independently, with Burnside's lemma), and fills in the
structure of every row whose hash it meets. Rows that already have a structure
must be reproduced exactly: each row gets the labelling NAS-Bench-101 itself
stored for its hash (:func:`nb101_representative`), which fixes its parameter
count. Prints counts and wall time and rewrites
the table in place (or to ``--out``).

Usage: ``python benchmarks/recover_nb101.py [--source PATH] [--out PATH]``; the
shipped table was made from the published one (``--source
shared/data/nasbench101/nb101_vis_20k_val.csv.gz``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bonas.spaces.cell import NB101_OPS, CellArch, NASBench101Space
from bonas.spaces.graph import INPUT, OUTPUT, module_hash

TABLE = Path(__file__).resolve().parents[1] / "bonas" / "nasbench" / "data" / "nb101_vis_20k_val.csv.gz"
NB101_SIZE = 423_624
_LABELS = {INPUT: -1, OUTPUT: -2} | {op: index for index, op in enumerate(NB101_OPS)}
_CHUNK = 65_536


def valid_matrices(n_nodes: int, max_edges: int) -> np.ndarray:
    """Every pruned cell adjacency of ``n_nodes`` nodes and at most ``max_edges`` edges: ``k x n x n`` uint8.

    Upper-triangular, so every node but the input has an in-edge and every node
    but the output an out-edge exactly when each lies on an input-to-output path.
    """
    rows, cols = np.triu_indices(n_nodes, k=1)
    codes = np.arange(2 ** len(rows), dtype="<u4")
    bits = np.unpackbits(codes.view(np.uint8).reshape(-1, 4), axis=1, bitorder="little")[:, : len(rows)]
    bits = bits[bits.sum(axis=1) <= max_edges]
    matrices = np.zeros((len(bits), n_nodes, n_nodes), dtype=np.uint8)
    matrices[:, rows, cols] = bits
    has_input = matrices[:, :, 1:].any(axis=1).all(axis=1)
    has_output = matrices[:, :-1, :].any(axis=2).all(axis=1)
    return matrices[has_input & has_output]


def interior_permutations(n_nodes: int) -> np.ndarray:
    """Every node order that keeps the input first and the output last: ``(n-2)! x n``."""
    middle = itertools.permutations(range(1, n_nodes - 1))
    return np.array([(0, *order, n_nodes - 1) for order in middle], dtype=np.intp).reshape(-1, n_nodes)


def permuted_codes(matrices: np.ndarray, permutations: np.ndarray) -> np.ndarray:
    """The adjacency code (bit ``i*n+j`` = edge i->j) of each matrix under each node order: ``k x p`` float64.

    Codes stay below ``2**49`` for ``n <= 7`` nodes, so float64 holds them exactly.
    """
    n_nodes = matrices.shape[1]
    weights = 2.0 ** np.arange(n_nodes * n_nodes).reshape(n_nodes, n_nodes)
    inverse = np.argsort(permutations, axis=1)
    columns = np.stack([weights[np.ix_(order, order)].ravel() for order in inverse], axis=1)
    flat = matrices.reshape(len(matrices), -1).astype(np.float64)
    return np.concatenate([flat[begin:begin + _CHUNK] @ columns for begin in range(0, len(flat), _CHUNK)])


def representatives(matrices: np.ndarray) -> np.ndarray:
    """One matrix per isomorphism class (its first in ``matrices``), in order of first appearance.

    Every node of a pruned cell lies on an input-to-output path, so the input is
    its only source and the output its only sink: isomorphisms fix both, and the
    smallest code over the interior orders is an exact canonical form.
    """
    canonical = permuted_codes(matrices, interior_permutations(matrices.shape[1])).min(axis=1)
    _, first = np.unique(canonical, return_index=True)
    return matrices[np.sort(first)]


def unlabelled_cells(max_nodes: int = 7, max_edges: int = 9) -> list[np.ndarray]:
    """One adjacency per isomorphism class of unlabelled pruned cells of 2..``max_nodes`` nodes."""
    return [matrix for n_nodes in range(2, max_nodes + 1)
            for matrix in representatives(valid_matrices(n_nodes, max_edges))]


def labelled_class_count(matrix: np.ndarray, n_ops: int = len(NB101_OPS)) -> int:
    """The number of non-isomorphic op labellings of ``matrix`` (Burnside's lemma over its automorphisms)."""
    n_nodes = len(matrix)
    automorphisms = [order for order in interior_permutations(n_nodes)
                     if np.array_equal(matrix[np.ix_(order, order)], matrix)]
    fixed = sum(n_ops ** _cycle_count(order[1:-1] - 1) for order in automorphisms)
    return fixed // len(automorphisms)


def _cycle_count(order: np.ndarray) -> int:
    seen = np.zeros(len(order), dtype=bool)
    cycles = 0
    for start in range(len(order)):
        if not seen[start]:
            cycles += 1
            node = start
            while not seen[node]:
                seen[node] = True
                node = int(order[node])
    return cycles


def labellings(matrix: np.ndarray) -> Iterator[tuple[str, tuple[str, ...]]]:
    """``(module hash, ops)`` of every labelling of ``matrix``'s interior nodes with the NAS-Bench-101 ops."""
    for middle in itertools.product(NB101_OPS, repeat=len(matrix) - 2):
        ops = (INPUT, *middle, OUTPUT)
        yield module_hash(matrix, [_LABELS[op] for op in ops]), ops


@dataclass
class Recovery:
    """What the enumeration found: distinct hashes, labelled classes and the structures of wanted hashes."""

    n_unlabelled: int = 0
    n_labelled: int = 0
    n_classes: int = 0
    distinct: set[str] = field(default_factory=set)
    structures: dict[str, CellArch] = field(default_factory=dict)


def recover(wanted: set[str], max_nodes: int = 7, max_edges: int = 9, console: Console | None = None) -> Recovery:
    """Enumerate the space and keep the first cell met for each hash in ``wanted``."""
    cells = unlabelled_cells(max_nodes, max_edges)
    result = Recovery(n_unlabelled=len(cells), n_labelled=sum(3 ** (len(matrix) - 2) for matrix in cells))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, disable=console is None) as progress:
        task = progress.add_task(f"hashing the labellings of {len(cells):,} unlabelled cells", total=result.n_labelled)
        for matrix in cells:
            result.n_classes += labelled_class_count(matrix)
            for key, ops in labellings(matrix):
                result.distinct.add(key)
                if key in wanted and key not in result.structures:
                    result.structures[key] = CellArch.from_matrix(matrix, ops)
            progress.advance(task, 3 ** (len(matrix) - 2))
    return result


def read_table(path: Path) -> list[dict[str, str]]:
    """The rows of the gzipped table CSV, values as stored."""
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def write_table(path: Path, rows: list[dict[str, str]]) -> None:
    """Write ``rows`` as a gzipped CSV (reproducible bytes: no file name or time in the gzip header)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        handle.write(text.getvalue().encode("utf-8"))


def same_cell(space: NASBench101Space, first: CellArch, second: CellArch) -> bool:
    """Whether two cells are isomorphic once pruned, ops included."""
    return nx.is_isomorphic(space.to_graph(first), space.to_graph(second),
                            node_match=lambda a, b: a["op"] == b["op"])


def nb101_representative(arch: CellArch) -> CellArch:
    """The labelling of ``arch`` that NAS-Bench-101 itself stored for its hash.

    NAS-Bench-101's ``generate_graphs.py`` keeps, per hash, the first cell it
    meets: adjacency bit codes in increasing order (bit ``y(y-1)/2 + x`` for the
    edge ``x -> y``), then op labellings in ``itertools.product`` order. Among
    the orders of the interior nodes that keep the matrix upper-triangular, that
    is the one with the smallest ``(code, labels)``. It matters beyond looks:
    NB101 splits channels with a remainder that goes to the first vertices, so
    isomorphic labellings can differ in parameter count by a few thousand.
    """
    matrix, ops = np.array(arch.matrix, dtype=np.int64), list(arch.ops)
    n = len(ops)
    best: tuple[tuple[int, tuple[int, ...]], list[int]] | None = None
    for middle in itertools.permutations(range(1, n - 1)):
        order = [0, *middle, n - 1]
        permuted = matrix[np.ix_(order, order)]
        if np.tril(permuted).any():
            continue
        code = sum(1 << (int(y) * (int(y) - 1) // 2 + int(x)) for x, y in zip(*np.nonzero(permuted)))
        key = (code, tuple(_LABELS[ops[node]] for node in middle))
        if best is None or key < best[0]:
            best = (key, order)
    assert best is not None, "the identity order of a cell is upper-triangular"
    order = best[1]
    return CellArch.from_matrix(matrix[np.ix_(order, order)], [ops[node] for node in order])


def fill_rows(rows: list[dict[str, str]], structures: dict[str, CellArch], space: NASBench101Space) -> tuple[int, int]:
    """Fill ``n_nodes``, ``adjacency`` and ``ops`` of rows that lack them; ``(known reproduced, filled)``.

    Each is filled with :func:`nb101_representative` of the recovered cell. A row that already has a structure
    keeps it; it must be isomorphic to the recovered cell, and it counts as reproduced when it is exactly the
    representative (same node order).
    """
    reproduced = filled = 0
    for row in rows:
        arch = structures.get(row["hash"])
        if arch is None:
            continue
        arch = nb101_representative(arch)
        if row["ops"]:
            known = space.from_str(f"{row['ops']}|{row['adjacency']}")
            if not same_cell(space, known, arch):
                raise RuntimeError(f"hash {row['hash']}: recovered {space.to_str(arch)!r} is not the known "
                                   f"{space.to_str(known)!r}")
            reproduced += space.to_str(known) == space.to_str(arch)
            continue
        text = space.to_str(arch)
        row["n_nodes"], row["ops"], row["adjacency"] = str(len(arch.ops)), *text.split("|")
        filled += 1
    return reproduced, filled


def main(source: Path, out: Path) -> None:
    console = Console()
    space = NASBench101Space()
    rows = read_table(source)
    wanted = {row["hash"] for row in rows}
    n_known = sum(bool(row["ops"]) for row in rows)
    start = time.perf_counter()
    recovery = recover(wanted, console=console)
    wall_s = time.perf_counter() - start
    reproduced, filled = fill_rows(rows, recovery.structures, space)
    missing = sorted(wanted - recovery.structures.keys())
    console.print(f"{recovery.n_unlabelled:,} unlabelled cells, {recovery.n_labelled:,} labellings hashed, "
                  f"{recovery.n_classes:,} labelled isomorphism classes, {len(recovery.distinct):,} distinct hashes "
                  f"(published: {NB101_SIZE:,}) in {wall_s:.1f} s")
    console.print(f"table: {len(rows):,} rows, {len(recovery.structures):,} hashes found, {len(missing)} missing "
                  f"{missing[:5]}; {reproduced:,} of {n_known:,} known structures reproduced exactly, {filled:,} filled")
    if len(recovery.distinct) != NB101_SIZE or recovery.n_classes != NB101_SIZE:
        raise SystemExit(f"expected {NB101_SIZE:,} distinct hashes and classes")
    if missing or reproduced != n_known:
        raise SystemExit("not every row was recovered; table left unchanged")
    write_table(out, rows)
    console.print(f"wrote {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=TABLE,
                        help="the table as published, 1,000 rows with structure (default: the shipped table; "
                             "rerunning on it checks all 20,001 structures)")
    parser.add_argument("--out", type=Path, default=TABLE,
                        help="where to write the completed table (default: the shipped table)")
    arguments = parser.parse_args()
    main(arguments.source, arguments.out)
