"""BANANAS path encoding (White, Neiswanger, Savani, AAAI 2021).

One binary feature per possible input-to-output path, named by the sequence of
ops along it (input and output left out, and structural labels such as DARTS's
``add`` nodes skipped). Features are numbered as BANANAS's
``get_path_indices`` numbers them: the path ``(o_0, ..., o_{l-1})`` sits at
``sum_i |ops|^i (index(o_i) + 1)``, so shorter paths come first and truncating
to the first ``k`` keeps the short ones (BANANAS's ``cutoff=40`` on NB101 keeps
exactly the 1 + 3 + 9 + 27 paths of at most 3 ops). Path counts:
``sum_{l<=L} |ops|^l`` with ``ops`` the space's ``graph_spec.path_ops`` and
``L`` its ``graph_spec.max_path_ops``, the longest op path: NB101 3 ops, L = 5:
364; NB201 5 ops, L = 3: 156 (paths through ``none`` never occur, the op nodes
being removed); DARTS 7 ops, L = 4: 2,801.
"""

from __future__ import annotations

import itertools

import networkx as nx

from bonas.encoders.base import GraphEncoder
from bonas.spaces.base import Space


class PathEncoder(GraphEncoder):
    """Binary indicators of the op paths from input to output."""

    name = "path"

    def __init__(self, space: Space, truncate: int | None = None, device: str = "cpu") -> None:
        super().__init__(space, device)
        self.path_ops = self.graph_spec.path_ops
        self.max_length = self.graph_spec.max_path_ops
        self.paths = [
            tuple(reversed(sequence))
            for length in range(self.max_length + 1)
            for sequence in itertools.product(self.path_ops, repeat=length)
        ]
        if truncate is not None:
            if truncate < 1:
                raise ValueError(f"truncate must be a positive number of paths, got {truncate}")
            self.paths = self.paths[:truncate]
        self.path_index = {sequence: position for position, sequence in enumerate(self.paths)}
        self.dim = len(self.paths)

    def op_paths(self, graph: nx.DiGraph) -> set[tuple[str, ...]]:
        """The op sequences of every input-to-output path of a graph."""
        output = max(graph)
        if not nx.has_path(graph, 0, output):
            return set()
        return {
            tuple(graph.nodes[node]["op"] for node in path[1:-1] if graph.nodes[node]["op"] in self.path_ops)
            for path in nx.all_simple_paths(graph, 0, output)
        }

    def encode_graph(self, graph: nx.DiGraph) -> list[float]:
        row = [0.0] * self.dim
        for sequence in self.op_paths(graph):
            position = self.path_index.get(sequence)
            if position is None and len(sequence) > self.max_length:
                raise ValueError(f"path {sequence} is longer than the {self.max_length} ops space "
                                 f"{self.space.name!r} allows")
            if position is not None:
                row[position] = 1.0
        return row
