"""The node-op graph convention shared by all spaces, with pruning and hashing.

Every space turns an architecture into a ``networkx.DiGraph`` whose nodes are
integers ``0 .. m-1`` in topological order; each node carries an ``op``
attribute. Node ``0`` has op ``"input"``, node ``m-1`` has op ``"output"`` and
every other node is an operation (NAS-Bench-101 style). Spaces whose operations
sit on edges (NAS-Bench-201, DARTS) first turn each edge into an op node. The
graph is *pruned*: nodes on no input-to-output path are dropped, so two
architectures that compute the same function through the same live ops map to
the same graph.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import networkx as nx
import numpy as np

INPUT = "input"
OUTPUT = "output"


def matrix_to_graph(matrix: np.ndarray, ops: Sequence[str]) -> nx.DiGraph:
    """A DiGraph from an ``m x m`` 0/1 adjacency (row = from) and ``m`` op names."""
    graph = nx.DiGraph()
    graph.add_nodes_from((node, {"op": op}) for node, op in enumerate(ops))
    sources, targets = np.nonzero(matrix)
    graph.add_edges_from(zip(sources.tolist(), targets.tolist()))
    return graph


def graph_to_matrix(graph: nx.DiGraph) -> tuple[np.ndarray, list[str]]:
    """The ``m x m`` adjacency and op list of a graph in the node-op convention."""
    nodes = sorted(graph.nodes)
    index = {node: position for position, node in enumerate(nodes)}
    matrix = np.zeros((len(nodes), len(nodes)), dtype=np.int8)
    for source, target in graph.edges:
        matrix[index[source], index[target]] = 1
    return matrix, [graph.nodes[node]["op"] for node in nodes]


def prune(matrix: np.ndarray, ops: Sequence[str]) -> tuple[np.ndarray, list[str]] | None:
    """Drop the nodes on no input-to-output path, as NAS-Bench-101's ``ModelSpec`` does.

    ``matrix`` is ``m x m`` upper-triangular with node 0 the input and node
    ``m-1`` the output. Returns the pruned matrix and ops, or ``None`` when no
    path joins input and output.
    """
    matrix = np.asarray(matrix)
    last = matrix.shape[0] - 1
    reach_from_input = _reachable(matrix, 0)
    reach_output = _reachable(matrix.T, last)
    live = sorted(reach_from_input & reach_output)
    if last not in reach_from_input:
        return None
    pruned = matrix[np.ix_(live, live)].astype(np.int8)
    return pruned, [ops[node] for node in live]


def _reachable(matrix: np.ndarray, start: int) -> set[int]:
    seen = {start}
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for nxt in np.nonzero(matrix[node])[0].tolist():
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


def module_hash(matrix: np.ndarray, labels: Sequence[int]) -> str:
    """NAS-Bench-101's module hash (``nasbench.lib.graph_util.hash_module``).

    An md5 digest of node labels refined ``m`` times with the sorted hashes of
    their in- and out-neighbours (a Weisfeiler-Lehman scheme), so isomorphic
    labelled DAGs share it. NAS-Bench-101 labels: input -1, output -2,
    conv3x3 0, conv1x1 1, maxpool 2, on the pruned matrix.
    """
    matrix = np.asarray(matrix).astype(int)
    n_nodes = matrix.shape[0]
    in_degrees = matrix.sum(axis=0).tolist()
    out_degrees = matrix.sum(axis=1).tolist()
    hashes = [
        hashlib.md5(str(node).encode("utf-8")).hexdigest()
        for node in zip(out_degrees, in_degrees, labels)
    ]
    for _ in range(n_nodes):
        refined = []
        for node in range(n_nodes):
            in_hashes = sorted(hashes[w] for w in range(n_nodes) if matrix[w, node])
            out_hashes = sorted(hashes[w] for w in range(n_nodes) if matrix[node, w])
            text = "".join(in_hashes) + "|" + "".join(out_hashes) + "|" + hashes[node]
            refined.append(hashlib.md5(text.encode("utf-8")).hexdigest())
        hashes = refined
    return hashlib.md5(str(sorted(hashes)).encode("utf-8")).hexdigest()


def graph_hash(graph: nx.DiGraph, op_labels: dict[str, int]) -> str:
    """:func:`module_hash` of a node-op graph, ops mapped to integers by ``op_labels``."""
    matrix, ops = graph_to_matrix(graph)
    return module_hash(matrix, [op_labels[op] for op in ops])


def check_node_op_graph(graph: nx.DiGraph) -> None:
    """Raise ``ValueError`` unless ``graph`` follows the node-op convention."""
    if graph.number_of_nodes() < 2:
        raise ValueError(f"graph has {graph.number_of_nodes()} node(s); needs an input and an output")
    if not nx.is_directed_acyclic_graph(graph):
        raise ValueError(f"graph has a cycle: {nx.find_cycle(graph)}")
    nodes = sorted(graph.nodes)
    if nodes != list(range(len(nodes))):
        raise ValueError(f"graph nodes must be numbered 0..{len(nodes) - 1}; they are {nodes}")
    if any("op" not in graph.nodes[node] for node in nodes):
        raise ValueError("graph has a node without an 'op' attribute")
    ops = [graph.nodes[node]["op"] for node in nodes]
    if ops[0] != INPUT or ops.count(INPUT) != 1:
        raise ValueError(f"graph needs exactly one 'input' node, first; ops are {ops}")
    if ops[-1] != OUTPUT or ops.count(OUTPUT) != 1:
        raise ValueError(f"graph needs exactly one 'output' node, last; ops are {ops}")
