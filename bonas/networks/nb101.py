"""NAS-Bench-101 networks, built as google-research/nasbench's ``model_builder`` builds them.

A 3x3 conv-BN-ReLU stem with 128 channels, three stacks of three cells, and
a 2x2 max-pool that halves the resolution and doubles the channels before the
second and third stacks; global average pooling and a linear head.

Inside a cell (the pruned adjacency, row = from): the output's channels are
split as evenly as possible among the vertices that feed the output (the
first ones get the remainder), every other vertex takes the largest width of
the vertices it feeds, and a vertex sums its inputs: the cell input through
a 1x1 conv-BN-ReLU projection to the vertex's width, other vertices cut to
its first channels. The output concatenates the vertices that feed it, plus
a projection of the input when the input feeds it directly. Convs have no
bias; BN is affine (TensorFlow's default), so parameter counts equal the
benchmark's.

A :class:`~bonas.spaces.CellSpace` of the user's own ops is built on the same
skeleton with the user's modules (``op_modules``, see :func:`make_op`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor, nn

NB101_BUILDABLE_OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")


class ConvBnRelu(nn.Sequential):
    """A bias-free ``k x k`` conv ("same" padding), BN, ReLU: ``n x c_in x h x w -> n x c_out x h x w``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU())


def make_op(name: str, channels: int, op_modules: Mapping[str, Callable[[int], nn.Module]] | None = None) -> nn.Module:
    """One vertex op on ``channels`` channels: ``n x c x h x w -> n x c x h x w``.

    ``op_modules[name](channels)`` when ``op_modules`` has ``name`` (``ValueError`` unless it returns an
    ``nn.Module``), else NAS-Bench-101's op.
    """
    if op_modules is not None and name in op_modules:
        module = op_modules[name](channels)
        if not isinstance(module, nn.Module):
            raise ValueError(f"op_modules[{name!r}]({channels}) returned a {type(module).__name__}, not an nn.Module")
        return module
    if name == "conv3x3-bn-relu":
        return ConvBnRelu(channels, channels, 3)
    if name == "conv1x1-bn-relu":
        return ConvBnRelu(channels, channels, 1)
    if name == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise ValueError(f"cannot build op {name!r}; buildable ops are {list(NB101_BUILDABLE_OPS)}")


def vertex_channels(c_in: int, c_out: int, matrix: np.ndarray) -> list[int]:
    """Each vertex's width in a pruned cell (``m x m`` adjacency): ``model_builder.compute_vertex_channels``."""
    n = len(matrix)
    channels = [c_in] + [0] * (n - 2) + [c_out]
    if n == 2:
        return channels
    feeds_output = [v for v in range(1, n - 1) if matrix[v, n - 1]]
    share, remainder = divmod(c_out, len(feeds_output))
    for position, v in enumerate(feeds_output):
        channels[v] = share + (position < remainder)
    for v in range(n - 3, 0, -1):
        if not matrix[v, n - 1]:
            channels[v] = max(channels[dst] for dst in range(v + 1, n - 1) if matrix[v, dst])
    return channels


class NB101Cell(nn.Module):
    """One NB101 module: ``n x c_in x h x w -> n x c_out x h x w``."""

    def __init__(self, matrix: np.ndarray, ops: list[str], c_in: int, c_out: int,
                 op_modules: Mapping[str, Callable[[int], nn.Module]] | None = None) -> None:
        super().__init__()
        self.matrix = np.asarray(matrix, dtype=bool)
        self.channels = vertex_channels(c_in, c_out, self.matrix)
        n = len(ops)
        self.ops = nn.ModuleList([nn.Identity()] + [make_op(op, self.channels[v], op_modules)
                                                    for v, op in enumerate(ops[1:-1], 1)])
        self.projections = nn.ModuleDict({str(v): ConvBnRelu(c_in, self.channels[v], 1)
                                          for v in range(1, n) if self.matrix[0, v]})

    def forward(self, x: Tensor) -> Tensor:
        n = len(self.matrix)
        values = [x]
        for v in range(1, n - 1):
            inputs = [values[src][:, : self.channels[v]] for src in range(1, v) if self.matrix[src, v]]
            if self.matrix[0, v]:
                inputs.append(self.projections[str(v)](x))
            values.append(self.ops[v](sum(inputs)))
        outputs = [values[v] for v in range(1, n - 1) if self.matrix[v, n - 1]]
        out = torch.cat(outputs, dim=1) if outputs else None
        if self.matrix[0, n - 1]:
            projected = self.projections[str(n - 1)](x)
            out = projected if out is None else out + projected
        return out


class NB101Network(nn.Module):
    """The NB101 skeleton around a pruned cell: ``n x in_channels x h x w -> n x num_classes`` logits.

    :param channels: the stem's width (128 in the benchmark); each later stack doubles it.
    :param cells_per_stage: cells per stack (3 in the benchmark).
    :param op_modules: op name -> ``channels -> nn.Module`` for ops other than NAS-Bench-101's (see :func:`make_op`).
    """

    def __init__(self, matrix: np.ndarray, ops: list[str], num_classes: int, in_channels: int = 3,
                 channels: int = 128, cells_per_stage: int = 3,
                 op_modules: Mapping[str, Callable[[int], nn.Module]] | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBnRelu(in_channels, channels, 3)]
        c_in = width = channels
        for stack in range(3):
            if stack > 0:
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
                width *= 2
            for _ in range(cells_per_stage):
                layers.append(NB101Cell(matrix, ops, c_in, width, op_modules))
                c_in = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def nb101_param_count(matrix: np.ndarray, ops: list[str], num_classes: int = 10, in_channels: int = 3,
                      channels: int = 128, cells_per_stage: int = 3) -> int:
    """Trainable parameters of :class:`NB101Network` for a pruned cell, counted without building it.

    Equal to ``sum(p.numel() for p in NB101Network(...).parameters())`` (tested): a
    conv-BN is ``k^2 c_in c_out + 2 c_out``, max-pools have none. Pretraining CATE
    needs this cost for hundreds of thousands of cells, where building each
    network would take hours.
    """
    matrix = np.asarray(matrix, dtype=bool)
    n = len(matrix)
    kernel = {"conv3x3-bn-relu": 9, "conv1x1-bn-relu": 1, "maxpool3x3": 0}

    def cell(c_in: int, c_out: int) -> int:
        widths = vertex_channels(c_in, c_out, matrix)
        count = 0
        for v in range(1, n - 1):
            if ops[v] not in kernel:
                raise ValueError(f"cannot count op {ops[v]!r}; countable ops are {list(kernel)}")
            if kernel[ops[v]]:
                count += kernel[ops[v]] * widths[v] ** 2 + 2 * widths[v]
        return count + sum(c_in * widths[v] + 2 * widths[v] for v in range(1, n) if matrix[0, v])

    total = 9 * in_channels * channels + 2 * channels
    c_in = width = channels
    for stack in range(3):
        if stack > 0:
            width *= 2
        for _ in range(cells_per_stage):
            total += cell(c_in, width)
            c_in = width
    return total + width * num_classes + num_classes
