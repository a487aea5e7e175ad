"""Pretraining the learned encoders: CATE's masked-op training loop and the spaces' cost models."""

from bonas.pretraining.cate import (PretrainData, PretrainResult, cost_pairs, prepare_data, pretrain, pretrain_space,
                                    space_architectures)
from bonas.pretraining.costs import live_cells, nb101_params, nb201_flops

__all__ = [
    "PretrainData",
    "PretrainResult",
    "cost_pairs",
    "live_cells",
    "nb101_params",
    "nb201_flops",
    "prepare_data",
    "pretrain",
    "pretrain_space",
    "space_architectures",
]
