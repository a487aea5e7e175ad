"""Node-op cell spaces: a user's own cells, and NAS-Bench-101.

A cell is an upper-triangular 0/1 adjacency over ``m <= max_nodes`` nodes
(row = from, column = to; node 0 the input, node ``m-1`` the output) and one op
per node (``"input"``, the intermediate ops, ``"output"``). As in
NAS-Bench-101's ``ModelSpec``, nodes on no input-to-output path are pruned
before anything else looks at the cell, and the edge limit applies to the
pruned cell. The canonical key is NAS-Bench-101's module hash of the pruned
cell with labels input -1, output -2 and op ``i`` of ``ops`` as ``i``; for
:class:`NASBench101Space` this is exactly the official hash, so a cell can be
looked up in the NAS-Bench-101 table.

The string form is ``"input,op,...,output|bits"`` with ``bits`` the
upper triangle of the adjacency, row-major (the columns of the bundled table).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from bonas.spaces.base import GraphSpec, Space, check_count
from bonas.spaces.graph import INPUT, OUTPUT, matrix_to_graph, module_hash, prune

NB101_OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")


@dataclass(frozen=True)
class CellArch:
    """A cell: ``matrix`` an ``m x m`` nested tuple of 0/1 (row = from), ``ops`` ``m`` op names."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @classmethod
    def from_matrix(cls, matrix: np.ndarray | Sequence[Sequence[int]], ops: Sequence[str]) -> "CellArch":
        """A cell from any square array-like of 0/1 and a sequence of op names."""
        return cls(tuple(tuple(int(bit) for bit in row) for row in np.asarray(matrix)), tuple(ops))

    def array(self) -> np.ndarray:
        """The adjacency as an ``m x m`` int8 array."""
        return np.array(self.matrix, dtype=np.int8).reshape(len(self.matrix), -1)


class CellSpace(Space):
    """Cells of at most ``max_nodes`` nodes (input and output included) and ``max_edges`` edges.

    ``ops`` are the intermediate node ops; sampling draws ``max_nodes``-node
    cells with each upper-triangular edge present with probability 1/2 (as
    NAS-Bench-101's ``random_spec``) and keeps those that are valid once pruned.
    """

    def __init__(self, ops: Sequence[str], max_nodes: int = 7, max_edges: int = 9, name: str = "cell") -> None:
        ops = tuple(ops)
        if not ops or len(set(ops)) != len(ops) or {INPUT, OUTPUT} & set(ops):
            raise ValueError(f"ops must be distinct names other than 'input'/'output', got {list(ops)}")
        if max_nodes < 2:
            raise ValueError(f"max_nodes must be at least 2 (input and output), got {max_nodes}")
        if max_edges < 1:
            raise ValueError(f"max_edges must be at least 1, got {max_edges}")
        self.ops = ops
        self.name = name
        self.n_nodes = int(max_nodes)
        self.max_edges = int(max_edges)
        self.max_path_ops = self.n_nodes - 2
        self._graph_spec = GraphSpec(ops=ops, max_nodes=self.n_nodes, max_path_ops=self.max_path_ops)
        self._labels = {INPUT: -1, OUTPUT: -2} | {op: index for index, op in enumerate(ops)}

    @property
    def graph_spec(self) -> GraphSpec:
        """The space's ops on at most ``max_nodes`` nodes; a path may pass every inner node."""
        return self._graph_spec

    def pruned(self, arch: CellArch) -> tuple[np.ndarray, list[str]]:
        """The validated cell's pruned adjacency and ops."""
        self.validate(arch)
        return prune(arch.array(), arch.ops)

    def validate(self, arch: object) -> None:
        if not isinstance(arch, CellArch):
            raise ValueError(f"expected a CellArch of space {self.name!r}, got {type(arch).__name__}: {arch!r}")
        n = len(arch.ops)
        if len(arch.matrix) != n or any(len(row) != n for row in arch.matrix):
            raise ValueError(f"the adjacency must be {n} x {n} for {n} ops, got rows of lengths "
                             f"{[len(row) for row in arch.matrix]}")
        if n > self.n_nodes:
            raise ValueError(f"cell has {n} nodes; space {self.name!r} allows at most {self.n_nodes}")
        if n < 2 or arch.ops[0] != INPUT or arch.ops[-1] != OUTPUT:
            raise ValueError(f"a cell's ops must start with 'input' and end with 'output', got {list(arch.ops)}")
        for node, op in enumerate(arch.ops[1:-1], start=1):
            if op not in self.ops:
                raise ValueError(f"unknown op {op!r} at node {node}; expected one of {list(self.ops)}")
        matrix = arch.array()
        if not np.isin(matrix, (0, 1)).all():
            raise ValueError("the adjacency must hold only 0 and 1")
        backward = np.argwhere(np.tril(matrix))
        if len(backward):
            source, target = backward[0].tolist()
            cycle = " (a cycle)" if nx.has_path(nx.DiGraph(np.argwhere(matrix).tolist()), target, source) else ""
            raise ValueError(f"edge {source}->{target} points backwards{cycle}: the adjacency must be strictly "
                             f"upper-triangular, nodes in topological order")
        pruned = prune(matrix, arch.ops)
        if pruned is None:
            raise ValueError("no path joins the input to the output")
        n_edges = int(pruned[0].sum())
        if n_edges > self.max_edges:
            raise ValueError(f"cell has {n_edges} edges once pruned; space {self.name!r} allows at most {self.max_edges}")

    def to_graph(self, arch: CellArch) -> nx.DiGraph:
        return matrix_to_graph(*self.pruned(arch))

    def to_str(self, arch: CellArch) -> str:
        """``"input,op,...,output|bits"``, ``bits`` the upper triangle, row-major."""
        matrix = arch.array()
        bits = "".join(str(bit) for bit in matrix[np.triu_indices(len(arch.ops), k=1)].tolist())
        return ",".join(arch.ops) + "|" + bits

    def from_str(self, text: str) -> CellArch:
        if not isinstance(text, str) or text.count("|") != 1:
            raise ValueError(f"malformed cell string {text!r}: expected 'input,op,...,output|bits'")
        ops_text, bits = text.split("|")
        ops = ops_text.split(",")
        n = len(ops)
        if len(bits) != n * (n - 1) // 2 or set(bits) - {"0", "1"}:
            raise ValueError(f"malformed cell string {text!r}: {n} nodes need {n * (n - 1) // 2} 0/1 bits, "
                             f"got {bits!r}")
        matrix = np.zeros((n, n), dtype=np.int8)
        matrix[np.triu_indices(n, k=1)] = [int(bit) for bit in bits]
        arch = CellArch.from_matrix(matrix, ops)
        self.validate(arch)
        return arch

    def canonical_key(self, arch: CellArch) -> str:
        """NAS-Bench-101's module hash of the pruned cell (the official hash for NB101 ops)."""
        matrix, ops = self.pruned(arch)
        return module_hash(matrix, [self._labels[op] for op in ops])

    def _is_valid(self, arch: CellArch) -> bool:
        try:
            self.validate(arch)
        except ValueError:
            return False
        return True

    def sample(self, n: int, rng: np.random.Generator) -> list[CellArch]:
        check_count(n)
        size = self.n_nodes
        result = []
        while len(result) < n:
            matrix = np.triu(rng.integers(0, 2, size=(size, size)), k=1)
            middle = [self.ops[i] for i in rng.integers(0, len(self.ops), size=size - 2)]
            arch = CellArch.from_matrix(matrix, (INPUT, *middle, OUTPUT))
            if self._is_valid(arch):
                result.append(arch)
        return result

    def _changes(self, arch: CellArch) -> list[CellArch]:
        """Every cell one edge flip or one op change away (valid or not), in a fixed order."""
        n = len(arch.ops)
        result = []
        for source, target in zip(*np.triu_indices(n, k=1)):
            matrix = arch.array()
            matrix[source, target] ^= 1
            result.append(CellArch.from_matrix(matrix, arch.ops))
        for node in range(1, n - 1):
            for op in self.ops:
                if op != arch.ops[node]:
                    ops = list(arch.ops)
                    ops[node] = op
                    result.append(CellArch(arch.matrix, tuple(ops)))
        return result

    def mutate(self, arch: CellArch, rng: np.random.Generator) -> CellArch:
        """One random edge flip or op change that gives a valid, non-equivalent cell."""
        key = self.canonical_key(arch)
        changes = self._changes(arch)
        for position in rng.permutation(len(changes)):
            candidate = changes[int(position)]
            if self._is_valid(candidate) and self.canonical_key(candidate) != key:
                return candidate
        raise ValueError(f"cell {self.to_str(arch)!r} has no valid single-change mutation")

    def neighbours(self, arch: CellArch) -> list[CellArch]:
        """Valid cells one edge flip or op change away, one per canonical class, ``arch``'s own excluded."""
        seen: set[Hashable] = {self.canonical_key(arch)}
        result = []
        for candidate in self._changes(arch):
            if self._is_valid(candidate):
                key = self.canonical_key(candidate)
                if key not in seen:
                    seen.add(key)
                    result.append(candidate)
        return result

    def __repr__(self) -> str:
        return f"CellSpace(ops={list(self.ops)}, max_nodes={self.n_nodes}, max_edges={self.max_edges}, name={self.name!r})"


class NASBench101Space(CellSpace):
    """NAS-Bench-101 cells: at most 7 nodes and 9 edges, ops conv3x3, conv1x1 and 3x3 max-pool."""

    def __init__(self) -> None:
        super().__init__(NB101_OPS, max_nodes=7, max_edges=9, name="nb101")

    def __repr__(self) -> str:
        return "NASBench101Space()"
