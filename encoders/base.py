"""What every encoder shares: checking a batch, turning it into pruned node-op graphs, the op vocabulary.

An encoder is built from a space and maps a batch of that space's
architectures to an ``n x d`` float64 tensor, ``d`` fixed per space. It works on
``space.to_graph(arch)``, the pruned graph, so computationally equivalent cells
(equal ``canonical_key``) always get the same row. All it knows of the space
beyond its graphs is ``space.graph_spec`` (a :class:`~bonas.spaces.GraphSpec`),
which fixes ``d``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
import torch
from torch import Tensor

from bonas.device import resolve_device
from bonas.spaces.base import GraphSpec, Space
from bonas.spaces.graph import check_node_op_graph


def graph_spec_of(space: Space) -> GraphSpec:
    """``space.graph_spec``; ``TypeError`` naming the space if it is not a :class:`~bonas.spaces.GraphSpec`."""
    spec = space.graph_spec
    if not isinstance(spec, GraphSpec):
        raise TypeError(f"space {space.name!r} has a graph_spec of type {type(spec).__name__}; expected a "
                        f"bonas.spaces.GraphSpec")
    return spec


def graph_vocabulary(space: Space) -> tuple[str, ...]:
    """Every op label a graph of ``space`` can carry: input, the space's graph ops, output."""
    return graph_spec_of(space).vocabulary


def max_graph_nodes(space: Space) -> int:
    """The largest pruned graph of ``space`` (NB201: 8, DARTS: 30, cell spaces: ``max_nodes``)."""
    return graph_spec_of(space).max_nodes


class GraphEncoder:
    """Base class: subclasses set ``dim`` and implement :meth:`encode_graph` (one graph -> ``d`` floats).

    ``graph_spec`` is the space's :class:`~bonas.spaces.GraphSpec`, ``vocabulary`` its op labels.
    ``groups`` names column groups a kernel treats apart (group name -> column slice; the
    tree-Wasserstein encoder's three distances), ``None`` when the columns are one whole.
    """

    name = "graph"
    dim: int
    groups: Mapping[str, slice] | None = None

    def __init__(self, space: Space, device: str | torch.device = "cpu") -> None:
        self.space = space
        self.graph_spec = graph_spec_of(space)
        self.vocabulary = self.graph_spec.vocabulary
        self.op_index = {op: position for position, op in enumerate(self.vocabulary)}
        self.device = resolve_device(device)

    def graphs(self, archs: Sequence[Any]) -> list[nx.DiGraph]:
        """The pruned graphs of a non-empty batch; ``ValueError`` naming the first bad architecture."""
        if len(archs) == 0:
            raise ValueError(f"{type(self).__name__} got an empty batch; expected at least one architecture")
        self.space.check_all(archs)
        return [self.space.to_graph(arch) for arch in archs]

    def encode(self, archs: Sequence[Any]) -> Tensor:
        """``n x dim`` float64 encodings of ``n`` architectures of the encoder's space."""
        return self.encode_graphs(self.graphs(archs))

    def encode_graphs(self, graphs: Sequence[nx.DiGraph]) -> Tensor:
        """``n x dim`` encodings of node-op graphs (``ValueError`` for one without input/output)."""
        self.check_graphs(graphs)
        return torch.tensor([self.encode_graph(graph) for graph in graphs], dtype=torch.float64, device=self.device)

    def check_graphs(self, graphs: Sequence[nx.DiGraph]) -> None:
        """``ValueError`` for an empty batch or the first graph off the node-op convention or vocabulary."""
        if len(graphs) == 0:
            raise ValueError(f"{type(self).__name__} got an empty batch; expected at least one graph")
        for position, graph in enumerate(graphs):
            try:
                check_node_op_graph(graph)
                for node in graph:
                    if graph.nodes[node]["op"] not in self.op_index:
                        raise ValueError(f"op {graph.nodes[node]['op']!r} is not in space "
                                         f"{self.space.name!r}; expected one of {list(self.vocabulary)}")
            except ValueError as error:
                raise ValueError(f"graph {position} of the batch: {error}") from None

    def encode_graph(self, graph: nx.DiGraph) -> list[float]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space.name!r}, dim={self.dim})"
