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
being removed). A space whose ``graph_spec.path_roots`` names the nodes paths
start from gets one such block per root, in that order: a path from root ``r``
sits at ``r * block + sum_i |ops|^i (index(o_i) + 1)``. DARTS, whose roots are
the two inputs of each cell, 7 ops, L = 4: 4 x 2,801 = 11,204 columns, BANANAS's
``cell_301.py`` ``encode_paths`` column for column (truncating, like its
``cutoff``, keeps the first columns of the first block).
"""

from __future__ import annotations

import itertools

import networkx as nx

from bonas.encoders.base import GraphEncoder
from bonas.spaces.base import Space

Path = tuple[str, ...]
"""The op labels of one path, in order."""


class PathEncoder(GraphEncoder):
    """Binary indicators of the op paths from input to output (per root, where the space names roots).

    ``paths`` lists the features in column order: op sequences, or ``(root, op sequence)`` pairs
    when the space's ``graph_spec.path_roots`` is set; ``path_index`` maps each to its column.
    """

    name = "path"

    def __init__(self, space: Space, truncate: int | None = None, device: str = "cpu") -> None:
        super().__init__(space, device)
        self.path_ops = self.graph_spec.path_ops
        self.path_roots = self.graph_spec.path_roots
        self.max_length = self.graph_spec.max_path_ops
        sequences = [
            tuple(reversed(sequence))
            for length in range(self.max_length + 1)
            for sequence in itertools.product(self.path_ops, repeat=length)
        ]
        if self.path_roots is None:
            self.paths: list[Path | tuple[str, Path]] = sequences
        else:
            self.paths = [(root, sequence) for root in self.path_roots for sequence in sequences]
        if truncate is not None:
            if truncate < 1:
                raise ValueError(f"truncate must be a positive number of paths, got {truncate}")
            self.paths = self.paths[:truncate]
        self.path_index = {path: position for position, path in enumerate(self.paths)}
        self.dim = len(self.paths)

    def op_paths(self, graph: nx.DiGraph) -> set[Path | tuple[str, Path]]:
        """The features of every input-to-output path of a graph: op sequences, or ``(root, op sequence)``."""
        output = max(graph)
        if not nx.has_path(graph, 0, output):
            return set()
        return {
            self.feature(tuple(graph.nodes[node]["op"] for node in path[1:-1]))
            for path in nx.all_simple_paths(graph, 0, output)
        }

    def feature(self, labels: Path) -> Path | tuple[str, Path]:
        """The feature of a path whose inner nodes carry ``labels``: its path ops, after its root if any."""
        if self.path_roots is None:
            return tuple(label for label in labels if label in self.path_ops)
        named = [label for label in labels if label in self.path_ops or label in self.path_roots]
        if not named or named[0] not in self.path_roots or any(label in self.path_roots for label in named[1:]):
            raise ValueError(f"path {labels} of space {self.space.name!r} should pass exactly one of the path roots "
                             f"{list(self.path_roots)}, before its first op of {list(self.path_ops)}")
        return named[0], tuple(named[1:])

    def encode_graph(self, graph: nx.DiGraph) -> list[float]:
        row = [0.0] * self.dim
        for feature in self.op_paths(graph):
            position = self.path_index.get(feature)
            sequence = feature if self.path_roots is None else feature[1]
            if position is None and len(sequence) > self.max_length:
                raise ValueError(f"path {sequence} is longer than the {self.max_length} ops space "
                                 f"{self.space.name!r} allows")
            if position is not None:
                row[position] = 1.0
        return row
