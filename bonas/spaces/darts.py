"""The DARTS / NAS-Bench-301 space: a normal and a reduction cell (Liu et al., ICLR 2019).

Each cell has two input nodes, 0 = c_{k-2} and 1 = c_{k-1}, and four
intermediate nodes 2..5; node ``k + 2`` sums two ``(op, input_node)`` pairs
(pairs ``2k`` and ``2k + 1``) whose inputs are distinct earlier nodes, and the
cell output concatenates nodes 2..5. The ops are the seven DARTS ops of
``DARTS_OPS``, in NASLib's compact op-id order. DARTS's ``PRIMITIVES`` also list
``'none'``, the zero op of the supernet, but a derived genotype never chooses it,
so :meth:`DARTSSpace.validate` rejects it. Sampling, mutation and neighbourhoods
follow ``naszilla/naszilla`` ``naszilla/nas_bench_301/cell_301.py``
(``random_cell``, ``mutate``, ``get_neighborhood``). Graph convention of
:meth:`DARTSSpace.to_graph`, as in :mod:`bonas.spaces.nb201` and the BANANAS
DARTS paths (``cell_301.py`` ``get_paths``): every ``(op, input)`` pair becomes an
op node; each cell gets two cell-input nodes (ops ``normal_c_k-2``,
``normal_c_k-1``, ``reduce_c_k-2``, ``reduce_c_k-1``), all four fed by the graph's
``input``; each intermediate node becomes an ``add`` node fed by its two op
nodes; an op node is fed by the cell-input or ``add`` node it reads; the four
``add`` nodes of both cells feed ``output`` (the concatenation). The graph always
has 30 nodes and 44 edges and is already pruned (every node lies on an
input-to-output path); nodes are numbered ``input``, then per cell (normal, then
reduce) its two cell-input nodes followed, for each intermediate node, by its two
op nodes and its ``add`` node, then ``output``. Input-to-output paths are the
BANANAS DARTS paths with ``add`` nodes interleaved. The graph vocabulary is
:data:`DARTS_GRAPH_OPS`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from bonas.spaces.base import GraphSpec, Space, check_count
from bonas.spaces.graph import INPUT, OUTPUT
from bonas.validation import is_integer

DARTS_OPS = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
CELLS = ("normal", "reduce")
N_INTERMEDIATE = 4
N_PAIRS = 2 * N_INTERMEDIATE
CONCAT = (2, 3, 4, 5)
ADD = "add"
DARTS_GRAPH_OPS = (
    INPUT,
    OUTPUT,
    *(f"{cell}_{node}" for cell in CELLS for node in ("c_k-2", "c_k-1")),
    ADD,
    *DARTS_OPS,
)
GRAPH_NODES = 2 + len(CELLS) * (2 + N_PAIRS + N_INTERMEDIATE)

Cell = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class DARTSArch:
    """A DARTS genotype: each cell is 8 ``(op, input_node)`` pairs; pairs ``2k, 2k+1`` feed node ``k + 2``."""

    normal: Cell
    reduce: Cell

    def __str__(self) -> str:
        return DARTSSpace.to_str(self)


class DARTSSpace(Space):
    """The DARTS cell space searched by NAS-Bench-301 (about 10**18 architectures)."""

    name = "darts"
    ops = DARTS_OPS
    graph_ops = DARTS_GRAPH_OPS
    n_graph_nodes = GRAPH_NODES
    max_path_ops = 4
    """Most DARTS ops on one input-to-output path (c_k -> node 2 -> ... -> node 5)."""
    graph_spec = GraphSpec(ops=tuple(op for op in DARTS_GRAPH_OPS if op not in (INPUT, OUTPUT)),
                           max_nodes=GRAPH_NODES, path_ops=DARTS_OPS, max_path_ops=max_path_ops,
                           path_roots=tuple(f"{cell}_{node}" for cell in CELLS for node in ("c_k-2", "c_k-1")))
    """Graph ops :data:`DARTS_GRAPH_OPS`. As in BANANAS's DARTS paths (``cell_301.py`` ``get_path_indices``),
    a path is named by the cell input it starts from (``path_roots``: normal ``c_{k-2}``, normal ``c_{k-1}``,
    reduce ``c_{k-2}``, reduce ``c_{k-1}``, BANANAS's block order) and its DARTS ops, ``add`` nodes skipped."""

    def validate(self, arch: object) -> None:
        if not isinstance(arch, DARTSArch):
            raise ValueError(f"expected a DARTSArch of space 'darts', got {type(arch).__name__}: {arch!r}")
        for cell_name in CELLS:
            _validate_cell(getattr(arch, cell_name), cell_name)

    @staticmethod
    def to_str(arch: DARTSArch) -> str:
        """``normal:op~i,op~i|...|op~i,op~i;reduce:...``: per cell, its 4 nodes' pairs ``op~input_node``."""
        return ";".join(f"{name}:{_cell_str(getattr(arch, name))}" for name in CELLS)

    def from_str(self, text: str) -> DARTSArch:
        if not isinstance(text, str):
            raise ValueError(f"expected a DARTS string, got {type(text).__name__}: {text!r}")
        parts = text.split(";")
        if len(parts) != len(CELLS):
            raise ValueError(f"malformed DARTS string {text!r}: expected 'normal:...;reduce:...'")
        cells = []
        for name, part in zip(CELLS, parts):
            prefix, _, body = part.partition(":")
            if prefix != name:
                raise ValueError(f"malformed DARTS string {text!r}: cell {part!r} should start with '{name}:'")
            cells.append(_parse_cell(body, name, text))
        arch = DARTSArch(*cells)
        self.validate(arch)
        return arch

    def from_genotype(self, genotype: object) -> DARTSArch:
        """An arch from a DARTS ``Genotype`` or a dict with ``normal`` / ``reduce`` lists of ``[op, input]``.

        ``normal_concat`` / ``reduce_concat``, when given, must be ``[2, 3, 4, 5]``.
        """
        cells = []
        for name in CELLS:
            pairs = _field(genotype, name)
            concat = _field(genotype, f"{name}_concat", default=CONCAT)
            if tuple(concat) != CONCAT:
                raise ValueError(f"{name}_concat must be {list(CONCAT)}, got {list(concat)}")
            cells.append(_pairs_to_cell(pairs, name, lambda pair: (pair[0], pair[1])))
        arch = DARTSArch(*cells)
        self.validate(arch)
        return arch

    @staticmethod
    def to_genotype(arch: DARTSArch) -> dict[str, list]:
        """The genotype as a dict of lists, the layout of NASLib's and NAS-Bench-301's genotypes."""
        return {
            "normal": [list(pair) for pair in arch.normal],
            "normal_concat": list(CONCAT),
            "reduce": [list(pair) for pair in arch.reduce],
            "reduce_concat": list(CONCAT),
        }

    def from_compact(self, compact: Sequence) -> DARTSArch:
        """An arch from NASLib's ``compact`` form: ``[normal, reduce]``, each 8 ``[input_node, op_id]``."""
        if not isinstance(compact, Sequence) or isinstance(compact, str) or len(compact) != len(CELLS):
            raise ValueError(f"compact form must be [normal, reduce], got {compact!r}")

        def to_pair(pair: Sequence) -> tuple[str, int]:
            op_id = pair[1]
            if not is_integer(op_id) or not 0 <= op_id < len(DARTS_OPS):
                raise ValueError(f"op id {op_id!r} is outside 0..{len(DARTS_OPS) - 1} (order {list(DARTS_OPS)})")
            return DARTS_OPS[op_id], pair[0]

        arch = DARTSArch(*(_pairs_to_cell(cell, name, to_pair) for name, cell in zip(CELLS, compact)))
        self.validate(arch)
        return arch

    @staticmethod
    def to_compact(arch: DARTSArch) -> tuple[tuple[tuple[int, int], ...], ...]:
        """NASLib's compact form: per cell, 8 ``(input_node, op_id)`` pairs."""
        return tuple(
            tuple((node, DARTS_OPS.index(op)) for op, node in getattr(arch, name)) for name in CELLS
        )

    def to_graph(self, arch: DARTSArch) -> nx.DiGraph:
        """The 30-node, 44-edge node-op DAG of both cells (module docstring)."""
        self.validate(arch)
        graph = nx.DiGraph()
        graph.add_node(0, op=INPUT)
        next_node = itertools.count(1)
        concatenated = []
        for name in CELLS:
            cell_nodes = []
            for input_name in ("c_k-2", "c_k-1"):
                node = next(next_node)
                graph.add_node(node, op=f"{name}_{input_name}")
                graph.add_edge(0, node)
                cell_nodes.append(node)
            for k in range(N_INTERMEDIATE):
                op_nodes = []
                for op, source in getattr(arch, name)[2 * k : 2 * k + 2]:
                    node = next(next_node)
                    graph.add_node(node, op=op)
                    graph.add_edge(cell_nodes[source], node)
                    op_nodes.append(node)
                add_node = next(next_node)
                graph.add_node(add_node, op=ADD)
                graph.add_edges_from((node, add_node) for node in op_nodes)
                cell_nodes.append(add_node)
            concatenated.extend(cell_nodes[2:])
        output = next(next_node)
        graph.add_node(output, op=OUTPUT)
        graph.add_edges_from((node, output) for node in concatenated)
        return graph

    def canonical(self, arch: DARTSArch) -> DARTSArch:
        """The least representative of ``arch``'s equivalence class (see :meth:`canonical_key`)."""
        self.validate(arch)
        return DARTSArch(*(_canonical_cell(getattr(arch, name)) for name in CELLS))

    def canonical_key(self, arch: DARTSArch) -> str:
        """The string of :meth:`canonical`, equal exactly when the two graphs are isomorphic.

        A cell's nodes sum their two pairs and the output concatenates all
        intermediate nodes, so swapping a node's two pairs, or renumbering
        intermediate nodes (keeping inputs earlier), gives the same computation
        (a concatenation order only permutes the next cell's 1x1 weights). The
        key is the least of the at most ``4! * 2**4`` such relabellings per cell,
        pairs ordered by ``(input_node, op index)``; the tests check it against
        ``networkx`` isomorphism of :meth:`to_graph`. Hand-written because a
        search over 24 orders is far faster than a generic isomorphism test.
        """
        return self.to_str(self.canonical(arch))

    def sample(self, n: int, rng: np.random.Generator) -> list[DARTSArch]:
        """Uniform over inputs and ops: per node, 2 distinct earlier nodes and 2 random ops."""
        check_count(n)
        return [DARTSArch(*(_sample_cell(rng) for _ in CELLS)) for _ in range(n)]

    def mutate(self, arch: DARTSArch, rng: np.random.Generator) -> DARTSArch:
        """Change one random pair of one random cell: its op, or its input (BANANAS style).

        Op or input are chosen with equal probability; a pair of node 2, whose
        inputs are fixed to ``{0, 1}``, always changes its op. The result differs
        from ``arch`` (it may still be equivalent to it, see :meth:`canonical_key`).
        """
        self.validate(arch)
        cell_name = CELLS[int(rng.integers(len(CELLS)))]
        cell = list(getattr(arch, cell_name))
        position = int(rng.integers(N_PAIRS))
        op, source = cell[position]
        inputs = _other_inputs(cell, position)
        if inputs and rng.random() < 0.5:
            cell[position] = (op, inputs[int(rng.integers(len(inputs)))])
        else:
            others = [other for other in DARTS_OPS if other != op]
            cell[position] = (others[int(rng.integers(len(others)))], source)
        return _replace_cell(arch, cell_name, tuple(cell))

    def neighbours(self, arch: DARTSArch) -> list[DARTSArch]:
        """The 120 archs one change away: 96 op changes and 24 input changes (both cells)."""
        self.validate(arch)
        result = []
        for cell_name in CELLS:
            cell = getattr(arch, cell_name)
            for position, (op, source) in enumerate(cell):
                for other in DARTS_OPS:
                    if other != op:
                        result.append(_replace_pair(arch, cell_name, position, (other, source)))
                for node in _other_inputs(cell, position):
                    result.append(_replace_pair(arch, cell_name, position, (op, node)))
        return result

    def __repr__(self) -> str:
        return "DARTSSpace()"


def _validate_cell(cell: object, name: str) -> None:
    if not isinstance(cell, tuple) or len(cell) != N_PAIRS:
        count = len(cell) if isinstance(cell, Sequence) else "no"
        raise ValueError(f"the {name} cell must be a tuple of {N_PAIRS} (op, input_node) pairs, got {count}: {cell!r}")
    for position, pair in enumerate(cell):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ValueError(f"pair {position} of the {name} cell must be an (op, input_node) tuple, got {pair!r}")
        op, source = pair
        if op not in DARTS_OPS:
            raise ValueError(
                f"unknown op {op!r} in pair {position} of the {name} cell; expected one of {list(DARTS_OPS)} "
                "('none' is a supernet-only DARTS primitive, never chosen in a genotype)"
            )
        node = position // 2 + 2
        if not is_integer(source) or not 0 <= source < node:
            raise ValueError(
                f"input node {source!r} of pair {position} of the {name} cell is out of range; "
                f"node {node} reads from nodes 0..{node - 1}"
            )
    for k in range(N_INTERMEDIATE):
        if cell[2 * k][1] == cell[2 * k + 1][1]:
            raise ValueError(
                f"node {k + 2} of the {name} cell takes input node {cell[2 * k][1]} twice; "
                "its two inputs must be distinct nodes"
            )


def _cell_str(cell: Cell) -> str:
    return "|".join(
        ",".join(f"{op}~{source}" for op, source in cell[2 * k : 2 * k + 2]) for k in range(N_INTERMEDIATE)
    )


def _parse_cell(body: str, name: str, text: str) -> Cell:
    groups = body.split("|")
    if len(groups) != N_INTERMEDIATE:
        raise ValueError(f"malformed DARTS string {text!r}: the {name} cell needs {N_INTERMEDIATE} '|'-separated nodes")
    pairs = []
    for group in groups:
        items = group.split(",")
        if len(items) != 2:
            raise ValueError(f"malformed DARTS string {text!r}: node {group!r} needs 2 ','-separated 'op~input' pairs")
        for item in items:
            op, _, source = item.partition("~")
            if not (source.isascii() and source.isdigit()):
                raise ValueError(f"malformed DARTS string {text!r}: {item!r} should read 'op~input_node'")
            pairs.append((op, int(source)))
    return tuple(pairs)


def _field(genotype: object, key: str, default: object = None) -> object:
    if isinstance(genotype, Mapping):
        value = genotype.get(key, default)
    else:
        value = getattr(genotype, key, default)
    if value is None:
        raise ValueError(f"genotype has no {key!r}: {genotype!r}")
    return value


def _pairs_to_cell(pairs: object, name: str, to_pair: Callable[[Sequence], tuple[str, object]]) -> Cell:
    if not isinstance(pairs, Sequence) or isinstance(pairs, str) or len(pairs) != N_PAIRS:
        raise ValueError(f"the {name} cell must list {N_PAIRS} pairs, got {pairs!r}")
    cell = []
    for position, pair in enumerate(pairs):
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise ValueError(f"pair {position} of the {name} cell must have 2 entries, got {pair!r}")
        op, source = to_pair(pair)
        cell.append((op, int(source) if isinstance(source, np.integer) else source))
    return tuple(cell)


def _canonical_cell(cell: Cell) -> Cell:
    """The least relabelling of a cell over orders of its intermediate nodes, pairs sorted."""
    best = None
    for order in itertools.permutations(range(2, 2 + N_INTERMEDIATE)):
        new_id = {0: 0, 1: 1} | {old: new for new, old in enumerate(order, start=2)}
        nodes = []
        for new, old in enumerate(order, start=2):
            pairs = sorted((new_id[source], DARTS_OPS.index(op)) for op, source in cell[2 * old - 4 : 2 * old - 2])
            if pairs[-1][0] >= new:
                break
            nodes.append(tuple(pairs))
        else:
            candidate = tuple(nodes)
            if best is None or candidate < best:
                best = candidate
    return tuple((DARTS_OPS[op_id], source) for node in best for source, op_id in node)


def _sample_cell(rng: np.random.Generator) -> Cell:
    pairs = []
    for k in range(N_INTERMEDIATE):
        sources = rng.choice(k + 2, size=2, replace=False)
        op_ids = rng.integers(len(DARTS_OPS), size=2)
        pairs.extend((DARTS_OPS[int(op_id)], int(source)) for op_id, source in zip(op_ids, sources))
    return tuple(pairs)


def _other_inputs(cell: Sequence[tuple[str, int]], position: int) -> list[int]:
    """Inputs the pair at ``position`` could move to: earlier nodes used by neither pair of its node."""
    sibling = position + 1 - 2 * (position % 2)
    taken = {cell[position][1], cell[sibling][1]}
    return [node for node in range(position // 2 + 2) if node not in taken]


def _replace_cell(arch: DARTSArch, cell_name: str, cell: Cell) -> DARTSArch:
    return DARTSArch(**{name: cell if name == cell_name else getattr(arch, name) for name in CELLS})


def _replace_pair(arch: DARTSArch, cell_name: str, position: int, pair: tuple[str, int]) -> DARTSArch:
    cell = list(getattr(arch, cell_name))
    cell[position] = pair
    return _replace_cell(arch, cell_name, tuple(cell))
