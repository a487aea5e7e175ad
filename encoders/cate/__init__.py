"""CATE: computation-aware transformer encodings of architectures, pretrained by bonas (Yan et al., ICML 2021).

The pretraining loop is :mod:`bonas.pretraining.cate`.
"""

from bonas.encoders.cate.checkpoint import load_checkpoint, packaged_checkpoint, save_checkpoint
from bonas.encoders.cate.encoder import CATEEncoder
from bonas.encoders.cate.model import CATEConfig, CATEModel
from bonas.encoders.cate.tokens import GraphTokens, Tokenizer

__all__ = [
    "CATEConfig",
    "CATEEncoder",
    "CATEModel",
    "GraphTokens",
    "Tokenizer",
    "load_checkpoint",
    "packaged_checkpoint",
    "save_checkpoint",
]
