"""Weisfeiler-Lehman subtree features (NAS-BOWL, Ru, Wan, Dong, Osborne, ICLR 2021).

Each node starts with its op as a label; ``h`` rounds of networkx's
``weisfeiler_lehman_subgraph_hashes`` relabel it with a hash of its
neighbourhood. On a ``DiGraph`` networkx aggregates successors only, so a
label describes the sub-network *downstream* of a node — the direction data
flows in a cell, as NAS-BOWL uses it. The features are counts of each label,
over a vocabulary fixed by :meth:`WLEncoder.fit` (explicit state: the whole
space when it is enumerable, else the architectures given); labels outside the
vocabulary are dropped.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np

from bonas.encoders.base import GraphEncoder
from bonas.spaces.base import Space

VOCABULARY_SAMPLE = 2000


class WLEncoder(GraphEncoder):
    """Counts of WL subtree labels after ``iterations`` rounds."""

    name = "wl"

    def __init__(self, space: Space, iterations: int = 1, device: str = "cpu") -> None:
        super().__init__(space, device)
        self.iterations = iterations
        self.labels: dict[str, int] = {}
        self.dim = 0
        if space.is_enumerable:
            self.fit(list(space.enumerate()))
        else:
            self.fit(space.sample(VOCABULARY_SAMPLE, np.random.default_rng(0)))

    def graph_labels(self, graph: nx.DiGraph) -> Counter:
        """Counts of the op labels and the WL labels of every round."""
        counts = Counter(graph.nodes[node]["op"] for node in graph)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The hashes produced for directed graphs changed")
            hashes = nx.weisfeiler_lehman_subgraph_hashes(graph, node_attr="op", iterations=self.iterations)
        for node_hashes in hashes.values():
            counts.update(node_hashes)
        return counts

    def fit(self, archs: Sequence[Any]) -> WLEncoder:
        """Fix the vocabulary to the labels of ``archs`` (ops first, then WL labels by first appearance)."""
        labels = dict.fromkeys(self.vocabulary)
        for graph in self.graphs(archs):
            labels.update(dict.fromkeys(self.graph_labels(graph)))
        self.labels = {label: position for position, label in enumerate(labels)}
        self.dim = len(self.labels)
        return self

    def encode_graph(self, graph: nx.DiGraph) -> list[float]:
        row = [0.0] * self.dim
        for label, count in self.graph_labels(graph).items():
            position = self.labels.get(label)
            if position is not None:
                row[position] = float(count)
        return row
