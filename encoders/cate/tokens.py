"""Node-op graphs as CATE inputs: op tokens plus an attention mask from the graph.

Token ids: ``0`` is padding, ``1`` the ``[MASK]`` token of pretraining, then the
space's graph vocabulary (input, its ops, output). Position ``i`` holds node
``i`` of the graph (nodes in sorted, topological order, output last).

Attention follows the computation: node ``i`` attends to itself and to every
node it is computed from (its ancestors, the transitive closure of the
adjacency). CATE's code masks with the transitive closure the other way round
(a node sees its descendants, and the output, with an empty row, falls back to
uniform attention over all positions); attending to ancestors makes the
output node, whose state is the encoding, see the whole cell by construction.
Nothing depends on node numbering, so isomorphic graphs get the same encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import torch
from torch import Tensor

PAD = 0
MASK = 1
SPECIAL_TOKENS = ("[PAD]", "[MASK]")


class GraphTokens:
    """A batch of graphs as tensors.

    :ivar tokens: ``n x L`` token ids, right-padded with ``PAD``.
    :ivar attention: ``n x L x L`` bool, ``attention[b, i, j]`` = position ``i`` may attend to ``j``
        (padding attends to itself only, so no row is empty).
    :ivar lengths: ``n`` node counts; the output node of graph ``b`` sits at ``lengths[b] - 1``.
    """

    def __init__(self, tokens: Tensor, attention: Tensor, lengths: Tensor) -> None:
        self.tokens = tokens
        self.attention = attention
        self.lengths = lengths

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def to(self, device: torch.device | str) -> GraphTokens:
        return GraphTokens(self.tokens.to(device), self.attention.to(device), self.lengths.to(device))

    def index(self, rows: Tensor) -> GraphTokens:
        """The sub-batch of ``rows`` (a 1-d long tensor)."""
        return GraphTokens(self.tokens[rows], self.attention[rows], self.lengths[rows])

    @property
    def padding(self) -> Tensor:
        """``n x L`` bool, True at padding positions."""
        return self.tokens == PAD


class Tokenizer:
    """Turns node-op graphs of one vocabulary into :class:`GraphTokens` of length ``max_nodes``."""

    def __init__(self, vocabulary: Sequence[str], max_nodes: int) -> None:
        self.vocabulary = tuple(vocabulary)
        self.max_nodes = int(max_nodes)
        self.token_of = {op: position + len(SPECIAL_TOKENS) for position, op in enumerate(self.vocabulary)}
        self.n_tokens = len(SPECIAL_TOKENS) + len(self.vocabulary)

    def __call__(self, graphs: Sequence[nx.DiGraph]) -> GraphTokens:
        n, width = len(graphs), self.max_nodes
        tokens = np.zeros((n, width), dtype=np.int64)
        attention = np.zeros((n, width, width), dtype=bool)
        attention[:, np.arange(width), np.arange(width)] = True
        lengths = np.zeros(n, dtype=np.int64)
        for row, graph in enumerate(graphs):
            nodes = sorted(graph.nodes)
            if len(nodes) > width:
                raise ValueError(f"graph {row} has {len(nodes)} nodes; this tokenizer takes at most {width}")
            position = {node: index for index, node in enumerate(nodes)}
            for node in nodes:
                op = graph.nodes[node]["op"]
                if op not in self.token_of:
                    raise ValueError(f"graph {row}: op {op!r} is not in the vocabulary {list(self.vocabulary)}")
                tokens[row, position[node]] = self.token_of[op]
                for ancestor in nx.ancestors(graph, node):
                    attention[row, position[node], position[ancestor]] = True
            lengths[row] = len(nodes)
        return GraphTokens(torch.from_numpy(tokens), torch.from_numpy(attention), torch.from_numpy(lengths))
