"""Architecture encodings from a pretrained CATE transformer: the output node's ``d_model`` state."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import torch
from torch import Tensor

from bonas.encoders.base import GraphEncoder
from bonas.encoders.cate.checkpoint import load_checkpoint, packaged_checkpoint
from bonas.encoders.cate.tokens import Tokenizer
from bonas.spaces.base import Space
from bonas.spaces.subset import SubsetSpace


class CATEEncoder(GraphEncoder):
    """``n x d_model`` float64 CATE encodings, deterministic (the model runs in eval mode).

    :param checkpoint: a ``.pt`` written by ``bonas pretrain-cate``; ``None`` is the
        checkpoint bonas ships for the space (``nb201``, ``nb101``, ``darts``). A ``SubsetSpace``
        (a table's cells) uses its base space's checkpoint.
    :param batch_size: graphs per forward pass.
    """

    name = "cate"

    def __init__(self, space: Space, checkpoint: str | Path | None = None, device: str = "cpu",
                 batch_size: int = 4096) -> None:
        super().__init__(space, device)
        trained_on = space
        while isinstance(trained_on, SubsetSpace):
            trained_on = trained_on.base
        self.checkpoint = Path(checkpoint) if checkpoint is not None else packaged_checkpoint(trained_on.name)
        self.model, self.meta = load_checkpoint(self.checkpoint, trained_on)
        self.model.to(self.device)
        self.tokenizer = Tokenizer(self.vocabulary, self.model.config.max_nodes)
        self.dim = self.model.config.d_model
        self.batch_size = int(batch_size)

    @torch.no_grad()
    def encode_graphs(self, graphs: Sequence[nx.DiGraph]) -> Tensor:
        self.check_graphs(graphs)
        tokens = self.tokenizer(graphs)
        rows = [self.model.embed(tokens.index(torch.arange(start, min(start + self.batch_size, len(tokens))))
                                 .to(self.device))
                for start in range(0, len(tokens), self.batch_size)]
        return torch.cat(rows).to(torch.float64)
