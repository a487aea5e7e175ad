"""NAS-Bench-201 (NATS-Bench topology) cells: 6 edges, 5 ops, 15,625 cells.

A cell has 4 nodes; every edge ``i -> j`` (``i < j``) carries one op. The
standard string lists the edges grouped by target node,
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, i.e. in the order
(0→1), (0→2), (1→2), (0→3), (1→3), (2→3).

Graph convention (as BANANAS and TW-NAS turn NB201 cells into NAS-Bench-101
style graphs): every edge becomes an op node; the input feeds the op nodes of
edges leaving cell node 0; the op node of an edge ``i -> j`` feeds the op nodes
of edges leaving ``j``, or the output when ``j = 3``. Op nodes of ``none`` edges
are removed (a zero contributes nothing to a sum), then the graph is pruned.
A cell whose output is constant zero becomes a graph of just input and output.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from collections.abc import Iterator
from dataclasses import dataclass

import networkx as nx
import numpy as np

from bonas.spaces.base import GraphSpec, Space, check_count
from bonas.spaces.graph import INPUT, OUTPUT, graph_hash, matrix_to_graph, prune

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NB201_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
_GRAPH_LABELS = {INPUT: -1, OUTPUT: -2} | {op: index for index, op in enumerate(NB201_OPS)}


@dataclass(frozen=True)
class NB201Arch:
    """A NAS-Bench-201 cell: the op on each edge, in the standard string's edge order."""

    ops: tuple[str, ...]

    def __str__(self) -> str:
        return NASBench201Space.to_str(self)


class NASBench201Space(Space):
    """The 5**6 = 15,625 NAS-Bench-201 cells."""

    name = "nb201"
    ops = NB201_OPS
    n_edges = len(NB201_EDGES)
    max_path_ops = 3
    """Most ops on one input-to-output path (edges 0 -> 1 -> 2 -> 3)."""
    graph_spec = GraphSpec(ops=NB201_OPS, max_nodes=n_edges + 2, max_path_ops=max_path_ops)
    """Op nodes carry the five ops (``none`` ones are removed, but the op keeps its columns); at most
    one op node per edge."""

    @property
    def is_enumerable(self) -> bool:
        return True

    def __len__(self) -> int:
        return len(NB201_OPS) ** self.n_edges

    def enumerate(self) -> Iterator[NB201Arch]:
        """All cells, ordered as the op-index strings ``000000 .. 444444``."""
        for ops in itertools.product(NB201_OPS, repeat=self.n_edges):
            yield NB201Arch(ops)

    def validate(self, arch: object) -> None:
        if not isinstance(arch, NB201Arch):
            raise ValueError(f"expected an NB201Arch of space 'nb201', got {type(arch).__name__}: {arch!r}")
        if len(arch.ops) != self.n_edges:
            raise ValueError(f"an NB201 cell has {self.n_edges} edges, got {len(arch.ops)}: {arch.ops}")
        for edge, op in enumerate(arch.ops):
            if op not in NB201_OPS:
                raise ValueError(f"unknown op {op!r} at edge {edge}; expected one of {list(NB201_OPS)}")

    @staticmethod
    def to_str(arch: NB201Arch) -> str:
        """The standard string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        ops = iter(arch.ops)
        groups = ["|" + "|".join(f"{next(ops)}~{source}" for source in range(target)) + "|" for target in (1, 2, 3)]
        return "+".join(groups)

    def from_str(self, text: str) -> NB201Arch:
        groups = text.split("+") if isinstance(text, str) else []
        if len(groups) != 3:
            raise ValueError(f"malformed NB201 string {text!r}: expected 3 '+'-separated node groups")
        ops = []
        for target, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|")):
                raise ValueError(f"malformed NB201 string {text!r}: group {group!r} must start and end with '|'")
            items = group[1:-1].split("|")
            if len(items) != target:
                raise ValueError(f"malformed NB201 string {text!r}: node {target} needs {target} inputs, got {len(items)}")
            for source, item in enumerate(items):
                op, _, index = item.partition("~")
                if index != str(source):
                    raise ValueError(f"malformed NB201 string {text!r}: {item!r} should read 'op~{source}'")
                ops.append(op)
        arch = NB201Arch(tuple(ops))
        self.validate(arch)
        return arch

    def from_indices(self, indices: str | list[int] | tuple[int, ...]) -> NB201Arch:
        """A cell from 6 op indices (a string ``"421211"`` or a sequence), op order ``NB201_OPS``."""
        digits = list(indices)
        if len(digits) != self.n_edges:
            raise ValueError(f"expected {self.n_edges} op indices, got {len(digits)}: {indices!r}")
        ops = []
        for edge, digit in enumerate(digits):
            try:
                index = int(digit)
            except (TypeError, ValueError):
                raise ValueError(f"op index {digit!r} at edge {edge} is not an integer") from None
            if not 0 <= index < len(NB201_OPS):
                raise ValueError(f"op index {index} at edge {edge} is outside 0..{len(NB201_OPS) - 1}")
            ops.append(NB201_OPS[index])
        return NB201Arch(tuple(ops))

    @staticmethod
    def to_indices(arch: NB201Arch) -> str:
        """The 6-digit op-index string of a cell."""
        return "".join(str(NB201_OPS.index(op)) for op in arch.ops)

    def to_graph(self, arch: NB201Arch) -> nx.DiGraph:
        self.validate(arch)
        n_nodes = self.n_edges + 2
        output = n_nodes - 1
        matrix = np.zeros((n_nodes, n_nodes), dtype=np.int8)
        live = [op != "none" for op in arch.ops]
        for edge, (source, target) in enumerate(NB201_EDGES):
            if not live[edge]:
                continue
            if source == 0:
                matrix[0, edge + 1] = 1
            if target == 3:
                matrix[edge + 1, output] = 1
            for next_edge, (next_source, _) in enumerate(NB201_EDGES):
                if next_source == target and live[next_edge]:
                    matrix[edge + 1, next_edge + 1] = 1
        pruned = prune(matrix, (INPUT, *arch.ops, OUTPUT))
        if pruned is None:
            return matrix_to_graph(np.zeros((2, 2), dtype=np.int8), (INPUT, OUTPUT))
        return matrix_to_graph(*pruned)

    def canonical_key(self, arch: NB201Arch) -> str:
        """The NB101-style module hash of the pruned op graph (cached per cell).

        Cells share a key exactly when their pruned op graphs are isomorphic
        (checked against ``networkx.is_isomorphic`` over the whole space): ops
        on no input-to-output path and ``none`` edges are ignored, and the order
        of the summands at a node does not matter. This gives 8,765 classes,
        where NATS-Bench's ``unique_str`` gives 6,466, for two reasons:

        * NATS-Bench treats ``skip_connect`` as the identity and merges chains
          of skips (``skip~0`` into node 1 then ``skip~1`` into node 3 equals a
          direct ``skip~0`` into node 3); here a skip stays an op node, as in the
          BANANAS and TW-NAS graphs, so 1,299 NATS classes split.
        * NATS-Bench keeps ops applied to a zero input (``#`` in its string),
          while pruning drops them; so 685 of our classes join several NATS ones.
        """
        self.validate(arch)
        return _canonical_key(arch.ops)

    def sample(self, n: int, rng: np.random.Generator) -> list[NB201Arch]:
        check_count(n)
        draws = rng.integers(0, len(NB201_OPS), size=(n, self.n_edges))
        return [NB201Arch(tuple(NB201_OPS[i] for i in row)) for row in draws]

    def mutate(self, arch: NB201Arch, rng: np.random.Generator) -> NB201Arch:
        """Change the op of one random edge to another op."""
        self.validate(arch)
        edge = int(rng.integers(self.n_edges))
        others = [op for op in NB201_OPS if op != arch.ops[edge]]
        ops = list(arch.ops)
        ops[edge] = others[int(rng.integers(len(others)))]
        return NB201Arch(tuple(ops))

    def neighbours(self, arch: NB201Arch) -> list[NB201Arch]:
        """The 24 cells that differ from ``arch`` on exactly one edge."""
        self.validate(arch)
        result = []
        for edge in range(self.n_edges):
            for op in NB201_OPS:
                if op != arch.ops[edge]:
                    ops = list(arch.ops)
                    ops[edge] = op
                    result.append(NB201Arch(tuple(ops)))
        return result

    def __repr__(self) -> str:
        return "NASBench201Space()"


@lru_cache(maxsize=len(NB201_OPS) ** len(NB201_EDGES))
def _canonical_key(ops: tuple[str, ...]) -> str:
    return graph_hash(NASBench201Space().to_graph(NB201Arch(ops)), _GRAPH_LABELS)
