"""Tree-Wasserstein representation of architectures (TW-NAS: Nguyen, Le, Yamada, Osborne, ICML 2021).

Three optimal-transport distances, each written as an L1 distance between
vectors so that all pairs reduce to one ``torch.cdist(p=1)`` (see
:mod:`bonas.encoders.distances`):

* ``op``: the op content. A fixed tree: a root, one child per op label (edge
  weight 1), and under each op ``o`` one leaf per 2-gram ``(o, o')`` (an edge
  ``o -> o'`` of the cell; edge weight ``alpha = 0.1``). An architecture puts
  half its mass on the normalised 1-gram histogram (op nodes) and half on the
  normalised 2-gram histogram (leaves); an empty histogram leaves its half on
  the root. On a tree, optimal transport is
  ``sum_e w_e |mu(subtree(e)) - nu(subtree(e))|`` (Le et al., NeurIPS 2019), so
  the encoding is ``w_e * mass below e`` for every tree edge.
* ``in`` and ``out``: the structure. A node's layer is its shortest-path
  distance from the input; each architecture spreads its in-degree (resp.
  out-degree) mass over layers, normalised, and two architectures are compared
  by 1-D transport on the chain of positions ``k / (m - 1)``, ``m`` the number
  of node slots. On a chain that is ``sum_k (1/(m-1)) |F_mu(k) - F_nu(k)|``, so
  the encoding is the cumulative mass times the spacing.

Cells that differ only in which op sits where, with the same op and 2-gram
counts and the same degree profile per layer, are at distance 0: TW is a
pseudo-metric on cells (counted for NB201 in the tests).
"""

from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np

from bonas.encoders.base import GraphEncoder, max_graph_nodes
from bonas.spaces.base import Space

ALPHA = 0.1


class TreeWassersteinEncoder(GraphEncoder):
    """Weighted subtree-mass vectors; ``groups`` names the columns of each distance."""

    name = "tw"

    def __init__(self, space: Space, alpha: float = ALPHA, device: str = "cpu") -> None:
        super().__init__(space, device)
        if not 0 < alpha:
            raise ValueError(f"alpha must be positive, got {alpha}")
        self.alpha = alpha
        self.n_slots = max_graph_nodes(space)
        n_ops = len(self.vocabulary)
        n_op_columns = n_ops + n_ops * n_ops
        n_chain = self.n_slots - 1
        self.groups = {
            "op": slice(0, n_op_columns),
            "in": slice(n_op_columns, n_op_columns + n_chain),
            "out": slice(n_op_columns + n_chain, n_op_columns + 2 * n_chain),
        }
        self.dim = n_op_columns + 2 * n_chain

    def op_masses(self, graph: nx.DiGraph) -> tuple[list[float], list[float]]:
        """Normalised 1-gram (``|ops|``) and 2-gram (``|ops|^2``) masses, each half of the total."""
        n_ops = len(self.vocabulary)
        ones = [0.0] * n_ops
        twos = [0.0] * (n_ops * n_ops)
        unigrams = Counter(self.op_index[graph.nodes[node]["op"]] for node in graph)
        bigrams = Counter(
            self.op_index[graph.nodes[u]["op"]] * n_ops + self.op_index[graph.nodes[v]["op"]] for u, v in graph.edges
        )
        for index, count in unigrams.items():
            ones[index] = 0.5 * count / graph.number_of_nodes()
        for index, count in bigrams.items():
            twos[index] = 0.5 * count / graph.number_of_edges()
        return ones, twos

    def layer_masses(self, graph: nx.DiGraph, degree: str) -> list[float]:
        """Normalised ``"in"`` or ``"out"`` degree mass per layer (``n_slots`` values)."""
        layers = nx.single_source_shortest_path_length(graph, 0)
        masses = [0.0] * self.n_slots
        degrees = graph.in_degree if degree == "in" else graph.out_degree
        total = graph.number_of_edges()
        if total == 0:
            masses[0] = 1.0
            return masses
        for node, layer in layers.items():
            masses[layer] += degrees(node) / total
        return masses

    def encode_graph(self, graph: nx.DiGraph) -> list[float]:
        ones, twos = self.op_masses(graph)
        n_ops = len(self.vocabulary)
        op_part = [ones[o] + sum(twos[o * n_ops:(o + 1) * n_ops]) for o in range(n_ops)]
        op_part += [self.alpha * mass for mass in twos]
        spacing = 1.0 / (self.n_slots - 1)
        chains = []
        for degree in ("in", "out"):
            cumulative = 0.0
            for mass in self.layer_masses(graph, degree)[:-1]:
                cumulative += mass
                chains.append(spacing * cumulative)
        return op_part + chains


def op_tree_metric(encoder: TreeWassersteinEncoder) -> tuple[list, np.ndarray]:
    """The op tree's nodes and their ``k x k`` shortest-path metric: the exact-OT reference for ``ot.emd2``."""
    tree = nx.Graph()
    n_ops = len(encoder.vocabulary)
    for o in range(n_ops):
        tree.add_edge("root", ("op", o), weight=1.0)
        for o2 in range(n_ops):
            tree.add_edge(("op", o), ("gram", o, o2), weight=encoder.alpha)
    nodes = list(tree.nodes)
    lengths = dict(nx.all_pairs_dijkstra_path_length(tree))
    return nodes, np.array([[lengths[a][b] for b in nodes] for a in nodes])


def op_tree_masses(encoder: TreeWassersteinEncoder, graph: nx.DiGraph, nodes: list) -> np.ndarray:
    """A graph's op masses on the tree ``nodes`` of :func:`op_tree_metric` (the root holds what is left)."""
    ones, twos = encoder.op_masses(graph)
    n_ops = len(encoder.vocabulary)
    mass = dict.fromkeys(nodes, 0.0)
    for o in range(n_ops):
        mass[("op", o)] = ones[o]
        for o2 in range(n_ops):
            mass[("gram", o, o2)] = twos[o * n_ops + o2]
    mass["root"] = max(0.0, 1.0 - sum(mass.values()))
    return np.array([mass[node] for node in nodes])
