"""NAS-Bench-201 networks: the benchmark's macro skeleton around a cell.

As NAS-Bench-201's ``TinyNetwork`` (Dong & Yang, ICLR 2020): a 3x3 conv + BN
stem with ``C`` channels; three stages of ``N`` cells with ``C``, ``2C`` and
``4C`` channels; between stages a residual reduction block (ResNet basic block
with stride 2, an average-pool + 1x1-conv shortcut); BN + ReLU, global average
pooling and a linear head. Every one of the cell's six edges is built, whether
or not its output reaches the cell's output, as in the benchmark, so the
parameter count equals the table's. Ops: ``none`` (zeros), ``skip_connect``
(identity), ``nor_conv_1x1`` and ``nor_conv_3x3`` (ReLU-conv-BN) and
``avg_pool_3x3`` (stride 1, padding not counted). The input's height and
width must be multiples of 4.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bonas.spaces.nb201 import NB201_EDGES, NB201Arch


class ReLUConvBN(nn.Sequential):
    """ReLU, a bias-free ``k x k`` conv, affine BN: ``n x c_in x h x w -> n x c_out x h/stride x w/stride``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The ``none`` op: zeros shaped like the input."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x)


def make_op(name: str, channels: int) -> nn.Module:
    """One NB201 edge op on ``channels`` channels, stride 1: ``n x c x h x w -> n x c x h x w``."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}")


class NB201Cell(nn.Module):
    """A 4-node cell: node ``j`` is the sum of ``op(node i)`` over edges ``i -> j``; the output is node 3."""

    def __init__(self, arch: NB201Arch, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels) for op in arch.ops)

    def forward(self, x: Tensor) -> Tensor:
        """``n x c x h x w -> n x c x h x w``."""
        nodes = [x]
        for target in (1, 2, 3):
            nodes.append(sum(self.edges[edge](nodes[source])
                             for edge, (source, edge_target) in enumerate(NB201_EDGES) if edge_target == target))
        return nodes[3]


class ResNetReduction(nn.Module):
    """ResNet basic block with stride 2: ``n x c_in x h x w -> n x c_out x h/2 x w/2``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        shortcut, residual = self.shortcut(x), self.conv_b(self.conv_a(x))
        if shortcut.shape != residual.shape:
            raise ValueError(f"a reduction block needs an even height and width, got {tuple(x.shape[2:])}")
        return shortcut + residual


class NB201Network(nn.Module):
    """The NB201 skeleton around ``arch``: ``n x in_channels x h x w -> n x num_classes`` logits.

    :param channels: ``C``, the first stage's width (16 in the benchmark).
    :param cells_per_stage: ``N`` (5 in the benchmark).
    """

    def __init__(self, arch: NB201Arch, num_classes: int, in_channels: int = 3, channels: int = 16,
                 cells_per_stage: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        layers: list[nn.Module] = []
        for stage, width in enumerate((channels, 2 * channels, 4 * channels)):
            if stage > 0:
                layers.append(ResNetReduction(width // 2, width))
            layers.extend(NB201Cell(arch, width) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * channels), nn.ReLU())
        self.classifier = nn.Linear(4 * channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        features = self.lastact(self.cells(self.stem(x)))
        return self.classifier(features.mean(dim=(2, 3)))
