"""CATE: computation-aware transformer encodings of architectures, pretrained by bonas (Yan et al., ICML 2021)."""

from bonas.encoders.cate.checkpoint import load_checkpoint, packaged_checkpoint, save_checkpoint
from bonas.encoders.cate.encoder import CATEEncoder
from bonas.encoders.cate.model import CATEConfig, CATEModel
from bonas.encoders.cate.pretrain import cost_pairs, prepare_data, pretrain, space_architectures
from bonas.encoders.cate.tokens import GraphTokens, Tokenizer

__all__ = [
    "CATEConfig",
    "CATEEncoder",
    "CATEModel",
    "GraphTokens",
    "Tokenizer",
    "cost_pairs",
    "load_checkpoint",
    "packaged_checkpoint",
    "prepare_data",
    "pretrain",
    "save_checkpoint",
    "space_architectures",
]
