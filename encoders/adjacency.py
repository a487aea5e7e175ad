"""Adjacency encoding: the flattened upper-triangular adjacency plus one-hot ops per node.

The baseline every NAS encoding paper compares with (White et al., "A Study on
Encodings for Neural Architecture Search", NeurIPS 2020). Graphs smaller than
the space's largest are padded: the output op sits on the last slot, so input
and output always share positions. ``dim = m(m-1)/2 + m * |ops|`` for ``m``
node slots, ``m`` the space's ``graph_spec.max_nodes`` (NB201: 28 + 8 x 7 = 84).
"""

from __future__ import annotations

import networkx as nx

from bonas.encoders.base import GraphEncoder
from bonas.spaces.base import Space


class AdjacencyEncoder(GraphEncoder):
    """Adjacency + one-hot ops, padded to the space's largest graph."""

    name = "adjacency"

    def __init__(self, space: Space, device: str = "cpu") -> None:
        super().__init__(space, device)
        self.n_slots = self.graph_spec.max_nodes
        self.dim = self.n_slots * (self.n_slots - 1) // 2 + self.n_slots * len(self.vocabulary)

    def _slots(self, graph: nx.DiGraph) -> dict[int, int]:
        nodes = sorted(graph)
        if len(nodes) > self.n_slots:
            raise ValueError(f"graph has {len(nodes)} nodes; space {self.space.name!r} allows {self.n_slots}")
        slots = {node: position for position, node in enumerate(nodes[:-1])}
        slots[nodes[-1]] = self.n_slots - 1
        return slots

    def encode_graph(self, graph: nx.DiGraph) -> list[float]:
        slots = self._slots(graph)
        adjacency = [[0.0] * self.n_slots for _ in range(self.n_slots)]
        for source, target in graph.edges:
            adjacency[slots[source]][slots[target]] = 1.0
        upper = [adjacency[i][j] for i in range(self.n_slots) for j in range(i + 1, self.n_slots)]
        one_hot = [0.0] * (self.n_slots * len(self.vocabulary))
        for node, slot in slots.items():
            one_hot[slot * len(self.vocabulary) + self.op_index[graph.nodes[node]["op"]]] = 1.0
        return upper + one_hot
