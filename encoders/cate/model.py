"""The CATE transformer (Yan et al., ICML 2021): a graph encoder shared by both architectures of a pair,
and a cross-attention encoder that predicts the masked ops of each from both.

Layers are torch's pre-norm ``nn.TransformerEncoderLayer``; the graph encoder's
attention is restricted by :attr:`GraphTokens.attention`, the cross encoder's
sees every real token of the pair. The encoding of an architecture is the
graph encoder's final (layer-normed) state at its output node.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from bonas.encoders.cate.tokens import PAD, GraphTokens
from bonas.validation import check_finite, check_int


@dataclass(frozen=True)
class CATEConfig:
    """Sizes of a :class:`CATEModel`; ``n_tokens`` counts padding and ``[MASK]``."""

    n_tokens: int
    max_nodes: int
    d_model: int = 64
    n_heads: int = 4
    graph_layers: int = 4
    cross_layers: int = 2
    d_ff: int = 128
    dropout: float = 0.1

    def __post_init__(self) -> None:
        for name in ("n_tokens", "max_nodes", "d_model", "n_heads", "graph_layers", "cross_layers", "d_ff"):
            object.__setattr__(self, name, check_int(getattr(self, name), f"CATEConfig.{name}", minimum=1))
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")
        dropout = check_finite(self.dropout, "CATEConfig.dropout")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"CATEConfig.dropout must be in [0, 1), got {self.dropout}")
        object.__setattr__(self, "dropout", dropout)

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


def _encoder(config: CATEConfig, n_layers: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(config.d_model, config.n_heads, config.d_ff, config.dropout,
                                       batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(config.d_model), enable_nested_tensor=False)


class CATEModel(nn.Module):
    """Pairwise masked-op prediction; :meth:`embed` gives the ``n x d_model`` architecture encodings."""

    def __init__(self, config: CATEConfig) -> None:
        super().__init__()
        self.config = config
        self.op_embedding = nn.Embedding(config.n_tokens, config.d_model, padding_idx=PAD)
        self.segment_embedding = nn.Embedding(2, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.graph_encoder = _encoder(config, config.graph_layers)
        self.cross_encoder = _encoder(config, config.cross_layers)
        self.head = nn.Sequential(nn.Linear(config.d_model, config.d_model), nn.Tanh(), nn.Dropout(config.dropout),
                                  nn.Linear(config.d_model, config.n_tokens))

    def encode_nodes(self, batch: GraphTokens) -> Tensor:
        """``n x L x d_model`` node states of the graph encoder."""
        blocked = ~batch.attention.repeat_interleave(self.config.n_heads, dim=0)
        return self.graph_encoder(self.dropout(self.op_embedding(batch.tokens)), mask=blocked)

    def embed(self, batch: GraphTokens) -> Tensor:
        """``n x d_model`` encodings: each graph's output-node state."""
        states = self.encode_nodes(batch)
        return states[torch.arange(len(batch), device=states.device), batch.lengths - 1]

    def forward(self, x: GraphTokens, y: GraphTokens) -> Tensor:
        """``n x 2L x n_tokens`` logits for the tokens of ``x`` then ``y``, each pair seen together."""
        states = torch.cat([self.encode_nodes(x), self.encode_nodes(y)], dim=1)
        width = x.tokens.shape[1]
        segments = torch.cat([torch.zeros(width, dtype=torch.long), torch.ones(width, dtype=torch.long)])
        states = states + self.dropout(self.segment_embedding(segments.to(states.device)))
        padding = torch.cat([x.padding, y.padding], dim=1)
        return self.head(self.cross_encoder(states, src_key_padding_mask=padding))
