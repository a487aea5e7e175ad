"""Tree-Wasserstein representation of architectures (TW-NAS: Nguyen, Le, Yamada, Osborne, ICML 2021).

Three optimal-transport distances, each written as an L1 distance between
vectors so that all pairs reduce to one ``torch.cdist(p=1)`` (see
:mod:`bonas.encoders.distances`):

* ``op``: the op content. An architecture's mass is its 1-gram (node op) and
  2-gram (edge ``op -> op'``) counts, normalised together to sum 1, as in
  TW-NAS's ``TW_Operations_NB201``. The masses sit on the leaves of a fixed tree
  built like TW-NAS's hand-made NB101/NB201 trees, with ``a = alpha = 0.1``,
  ``b = 1 - a``, generalised through op *families* (ops whose name holds
  ``conv`` or ``pool`` form a family; every other op is its own family)::

      root -1- "1-gram" -b- family F (2+ ops) -a- op o
                        -1- op o (a family of one)
      root -1- "2-gram" -1- (o, o)          o a family of one (pool-pool)
                        -b- {F1, F2} -a- (o1, o2)     both families of one (sc-pool)
                                     -ab- subgroup -aa- (o1, o2)

  where the subgroup of a same-family pair is "same op" / "different op"
  (TW-NAS's s-conv / d-conv) and of a two-family pair the order ``(F1, F2)``
  (conv-pool / pool-conv). On NB201 this is TW-NAS's 33-edge tree (without the
  three sums of the reference code that leave out a leaf: its ``conv`` node sums
  conv3x3 + avg_pool, its 1-gram node leaves out skip, its 2-gram node sc-sc).
  Unlike TW-NAS, input and output count as ops (families of one): a cell's
  connections to its input and output are part of its content. On a tree,
  optimal transport is ``sum_e w_e |mu(below e) - nu(below e)|`` (Le et al.,
  NeurIPS 2019), so the encoding is ``w_e * mass below e`` for every edge.
* ``in`` and ``out``: the structure. A node's layer is its shortest-path
  distance from the input; an architecture spreads its in-degree (resp.
  out-degree) over layers, normalised. TW-NAS places ``n`` layers at ``i / n``,
  a grid per architecture; we place every architecture's layers on one grid,
  ``k / (m - 1)`` for the space's ``m`` node slots, so that the chain transport
  ``sum_k (1 / (m - 1)) |F_mu(k) - F_nu(k)|`` is an L1 distance between
  cumulative masses times the spacing.

TW is a pseudo-metric on cells: non-equivalent cells with the same op and
2-gram counts and the same degree mass per layer are at distance 0 in all three
parts. Of NB201's 8,765 canonical classes, 342 pairs (342 groups of two
classes) are such (measured by ``test_count_classes_tw_cannot_tell_apart``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import networkx as nx
import numpy as np

from bonas.encoders.base import GraphEncoder
from bonas.spaces.base import Space

ALPHA = 0.1
ROOT = "root"
ONE_GRAM = "1-gram"
TWO_GRAM = "2-gram"


def op_family(op: str) -> str:
    """The family of an op in the op tree: ``conv``, ``pool``, or the op itself."""
    for family in ("conv", "pool"):
        if family in op:
            return family
    return op


def build_op_tree(vocabulary: tuple[str, ...], families: Mapping[str, str], alpha: float) -> nx.DiGraph:
    """The op tree, edges parent -> child with a ``weight``; leaves ``("op", o)`` and ``("gram", o1, o2)``."""
    a, b = alpha, 1.0 - alpha
    members: dict[str, list[str]] = {}
    for op in vocabulary:
        members.setdefault(families[op], []).append(op)
    tree = nx.DiGraph()
    tree.add_edge(ROOT, ONE_GRAM, weight=1.0)
    tree.add_edge(ROOT, TWO_GRAM, weight=1.0)
    for op in vocabulary:
        family = families[op]
        if len(members[family]) == 1:
            tree.add_edge(ONE_GRAM, ("op", op), weight=1.0)
        else:
            tree.add_edge(ONE_GRAM, ("family", family), weight=b)
            tree.add_edge(("family", family), ("op", op), weight=a)
    for first, second in itertools.product(vocabulary, repeat=2):
        leaf = ("gram", first, second)
        f1, f2 = families[first], families[second]
        pair = ("pair", *sorted({f1, f2}))
        singletons = len(members[f1]) == 1 and len(members[f2]) == 1
        if f1 == f2 and singletons:
            tree.add_edge(TWO_GRAM, leaf, weight=1.0)
            continue
        tree.add_edge(TWO_GRAM, pair, weight=b)
        if singletons:
            tree.add_edge(pair, leaf, weight=a)
            continue
        subgroup = ("sub", f1, "same" if first == second else "different") if f1 == f2 else ("sub", f1, f2)
        tree.add_edge(pair, subgroup, weight=a * b)
        tree.add_edge(subgroup, leaf, weight=a * a)
    return tree


class TreeWassersteinEncoder(GraphEncoder):
    """Weighted subtree-mass vectors; ``groups`` (``"op"``, ``"in"``, ``"out"``) names the columns of each distance.

    ``encode(archs)`` is ``n x dim``; the L1 distance of two rows over
    ``groups[g]`` is their TW distance ``g``. NB201 (7 op labels with input and
    output): 92 op-tree edges + 7 + 7 chain columns = 106.
    """

    name = "tw"

    def __init__(
        self,
        space: Space,
        alpha: float = ALPHA,
        families: Mapping[str, str] | None = None,
        device: str = "cpu",
    ) -> None:
        super().__init__(space, device)
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
        self.alpha = alpha
        self.families = {op: op_family(op) for op in self.vocabulary}
        self.families.update(families or {})
        self.tree = build_op_tree(self.vocabulary, self.families, alpha)
        self.tree_nodes = list(nx.topological_sort(self.tree))
        node_index = {node: position for position, node in enumerate(self.tree_nodes)}
        self.leaf_index = {node: node_index[node] for node in self.tree_nodes if self.tree.out_degree(node) == 0}
        edges_below = [node for node in self.tree_nodes if node != ROOT]
        below = np.zeros((len(self.tree_nodes), len(edges_below)))
        for column, node in enumerate(edges_below):
            for descendant in nx.descendants(self.tree, node) | {node}:
                below[node_index[descendant], column] = 1.0
        weights = np.array([self.tree.edges[next(iter(self.tree.predecessors(node))), node]["weight"]
                            for node in edges_below])
        self.weighted_below = below * weights
        self.n_slots = self.graph_spec.max_nodes
        n_op_columns = len(edges_below)
        n_chain = self.n_slots - 1
        self.groups = {
            "op": slice(0, n_op_columns),
            "in": slice(n_op_columns, n_op_columns + n_chain),
            "out": slice(n_op_columns + n_chain, n_op_columns + 2 * n_chain),
        }
        self.dim = n_op_columns + 2 * n_chain

    def op_masses(self, graph: nx.DiGraph) -> np.ndarray:
        """The graph's 1-gram and 2-gram counts, normalised to sum 1, on the op tree's nodes (``tree_nodes``)."""
        masses = np.zeros(len(self.tree_nodes))
        ops = graph.nodes(data="op")
        for node in graph:
            masses[self.leaf_index["op", ops[node]]] += 1.0
        for source, target in graph.edges:
            masses[self.leaf_index["gram", ops[source], ops[target]]] += 1.0
        return masses / masses.sum()

    def layer_masses(self, graph: nx.DiGraph, degree: str) -> np.ndarray:
        """Normalised ``"in"`` or ``"out"`` degree mass per layer (``n_slots`` values; layer 0 = input).

        A graph without edges (input and output not joined) puts its mass on layer 0.
        """
        masses = np.zeros(self.n_slots)
        if graph.number_of_edges() == 0:
            masses[0] = 1.0
            return masses
        layers = nx.single_source_shortest_path_length(graph, 0)
        degrees = graph.in_degree if degree == "in" else graph.out_degree
        for node, layer in layers.items():
            masses[layer] += degrees(node)
        return masses / graph.number_of_edges()

    def encode_graph(self, graph: nx.DiGraph) -> list[float]:
        op_part = self.op_masses(graph) @ self.weighted_below
        spacing = 1.0 / (self.n_slots - 1)
        chains = [spacing * np.cumsum(self.layer_masses(graph, degree))[:-1] for degree in ("in", "out")]
        return np.concatenate([op_part, *chains]).tolist()


def op_tree_metric(encoder: TreeWassersteinEncoder) -> np.ndarray:
    """The ``k x k`` shortest-path metric between the op tree's nodes (``encoder.tree_nodes``).

    The exact-OT reference: ``ot.emd2(encoder.op_masses(g1), encoder.op_masses(g2), op_tree_metric(encoder))``
    is the ``op`` distance.
    """
    lengths = dict(nx.all_pairs_dijkstra_path_length(encoder.tree.to_undirected()))
    return np.array([[lengths[a][b] for b in encoder.tree_nodes] for a in encoder.tree_nodes])
