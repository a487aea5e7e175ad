"""DARTS evaluation networks: the CIFAR skeleton of Liu et al. (ICLR 2019) around a :class:`~bonas.spaces.DARTSArch`.

As ``quark0/darts`` ``cnn/model.py`` ``NetworkCIFAR`` with the ops of
``cnn/operations.py``: a 3x3 conv + BN stem with ``stem_multiplier * C``
channels, then ``layers`` cells; the cells at ``layers // 3`` and
``2 * layers // 3`` are reduction cells (the reduce genotype, channels doubled,
height and width halved), the others normal cells. Each cell reads the outputs of
the two cells before it (``c_{k-2}``, ``c_{k-1}``) through ``preprocess0`` (a
:class:`FactorizedReduce` when the previous cell was a reduction, else a 1x1
:class:`ReLUConvBN`) and ``preprocess1`` (a 1x1 :class:`ReLUConvBN`), and outputs
the concatenation of its four intermediate nodes (``4 C`` channels). Global
average pooling and a linear layer give the logits. Every BN is affine, as in
DARTS's evaluation network. Module and parameter names are DARTS's
(``cells.3._ops.0.op.1.weight``, ``auxiliary_head.features.2.weight``), so a state
dict of DARTS's ``NetworkCIFAR`` loads into :class:`DARTSNetwork` unchanged.

Departures, none changing a parameter or, on 32x32 images, an output: the
auxiliary head pools its input to 2x2 adaptively unless DARTS's
``AvgPool2d(5, stride=3)`` already gives 2x2 (:class:`AuxiliaryPool`), so it
works on any image size; ReLUs are not in place (DARTS's in-place ReLU at the
head's input also rectifies the main path's features, which only matters when the
head follows the last cell, ``layers <= 3``); :func:`drop_path` is out of place
and allocates its mask on the input's device, so the network runs on CPU, CUDA
and the ``meta`` device. Heights and widths must stay even at both reductions
(multiples of 4, as 32x32 and 8x8 images are).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional

from bonas.networks.build import check_options
from bonas.spaces.base import Space
from bonas.spaces.darts import CONCAT, DARTSArch, DARTSSpace
from bonas.validation import check_finite, check_int

NETWORK_OPTIONS = ("auxiliary", "drop_path_prob")
"""The keyword options :func:`darts_network` passes on to :class:`DARTSNetwork`."""


class ReLUConvBN(nn.Module):
    """ReLU, a bias-free ``k x k`` conv, affine BN: ``n x c_in x h x w -> n x c_out x h/stride x w/stride``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class DilConv(nn.Module):
    """ReLU, a depthwise ``k x k`` conv (dilated), a 1x1 conv, BN: ``n x c_in x h x w -> n x c_out x h/s x w/s``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int, dilation: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_in, kernel_size, stride=stride, padding=padding, dilation=dilation, groups=c_in,
                      bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class SepConv(nn.Module):
    """Two stacked depthwise-separable blocks (the first strided): ``n x c_in x h x w -> n x c_out x h/s x w/s``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_in, kernel_size, stride=stride, padding=padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_in, 1, bias=False),
            nn.BatchNorm2d(c_in),
            nn.ReLU(),
            nn.Conv2d(c_in, c_in, kernel_size, stride=1, padding=padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class FactorizedReduce(nn.Module):
    """ReLU, two stride-2 1x1 convs on offset grids, concatenated, BN: ``n x c_in x h x w -> n x c_out x h/2 x w/2``.

    ``c_out`` must be even; so must ``h`` and ``w``.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(f"a DARTS reduction needs an even height and width, got {tuple(x.shape[2:])}")
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def make_op(name: str, channels: int, stride: int) -> nn.Module:
    """One DARTS op on ``channels`` channels: ``n x c x h x w -> n x c x h/stride x w/stride``."""
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels)
    if name == "sep_conv_3x3":
        return SepConv(channels, channels, 3, stride, 1)
    if name == "sep_conv_5x5":
        return SepConv(channels, channels, 5, stride, 2)
    if name == "dil_conv_3x3":
        return DilConv(channels, channels, 3, stride, 2, 2)
    if name == "dil_conv_5x5":
        return DilConv(channels, channels, 5, stride, 4, 2)
    raise ValueError(f"unknown DARTS op {name!r}; expected one of {list(DARTSSpace.ops)}")


def drop_path(x: Tensor, drop_prob: float) -> Tensor:
    """Zero whole samples with probability ``drop_prob``, scale the rest by ``1 / (1 - drop_prob)``.

    ``x`` is ``n x ...``; the mask is one Bernoulli draw per sample (DARTS's ``utils.drop_path``), made with
    torch's global generator on ``x``'s device. Returns a new tensor shaped like ``x``.
    """
    if drop_prob <= 0.0:
        return x
    keep_prob = 1.0 - drop_prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep_prob)
    return x / keep_prob * mask


class Cell(nn.Module):
    """A DARTS cell: ``(n x c_prev_prev x h' x w', n x c_prev x h x w) -> n x 4 c x h/s x w/s`` (``s`` 2 if reducing).

    :param cell: the 8 ``(op, input_node)`` pairs of :class:`~bonas.spaces.DARTSArch` ``normal`` or ``reduce``.
    :param c_prev_prev: channels of ``c_{k-2}``, the output of the cell two back (or the stem).
    :param c_prev: channels of ``c_{k-1}``.
    :param channels: ``c``, the channels of every node inside the cell.
    :param reduction: whether this is a reduction cell (edges from nodes 0 and 1 have stride 2).
    :param reduction_prev: whether the previous cell was one, so ``c_{k-2}`` is twice as large as ``c_{k-1}``.
    """

    def __init__(self, cell: tuple[tuple[str, int], ...], c_prev_prev: int, c_prev: int, channels: int,
                 reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(c_prev_prev, channels)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, channels, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_prev, channels, 1, 1, 0)
        self._ops = nn.ModuleList(
            make_op(op, channels, 2 if reduction and source < 2 else 1) for op, source in cell
        )
        self._indices = tuple(source for _, source in cell)
        self.multiplier = len(CONCAT)

    def forward(self, s0: Tensor, s1: Tensor, drop_prob: float) -> Tensor:
        """``s0``, ``s1``: ``c_{k-2}`` and ``c_{k-1}``; drop path on non-identity ops when training."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(len(self._ops) // 2):
            states.append(self._edge(2 * node, states, drop_prob) + self._edge(2 * node + 1, states, drop_prob))
        return torch.cat([states[node] for node in CONCAT], dim=1)

    def _edge(self, position: int, states: list[Tensor], drop_prob: float) -> Tensor:
        """The output of pair ``position``'s op on its input node, drop path applied as DARTS does."""
        op = self._ops[position]
        h = op(states[self._indices[position]])
        if self.training and drop_prob > 0.0 and not isinstance(op, nn.Identity):
            h = drop_path(h, drop_prob)
        return h


class AuxiliaryPool(nn.Module):
    """Average pooling to 2x2: ``n x c x h x w -> n x c x 2 x 2``.

    DARTS's ``AvgPool2d(5, stride=3, padding=0, count_include_pad=False)`` where it gives 2x2 (sides 8 to 10, so
    exactly DARTS's head on 32x32 images), else ``adaptive_avg_pool2d(x, 2)``. No parameters.
    """

    def forward(self, x: Tensor) -> Tensor:
        if all(8 <= side <= 10 for side in x.shape[2:]):
            return functional.avg_pool2d(x, 5, stride=3, padding=0, count_include_pad=False)
        return functional.adaptive_avg_pool2d(x, 2)


class AuxiliaryHeadCIFAR(nn.Module):
    """DARTS's auxiliary classifier: ``n x c x h x w -> n x num_classes``.

    DARTS assumes 8x8 features (32x32 images); :class:`AuxiliaryPool` keeps its pooling there and adapts
    elsewhere, so the parameters are DARTS's at any size. ReLU, pool to 2x2, 1x1 conv to 128 + BN + ReLU,
    2x2 conv to 768 + BN + ReLU, linear.
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(),
            AuxiliaryPool(),
            nn.Conv2d(channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))


class DARTSNetwork(nn.Module):
    """DARTS's CIFAR network around ``arch``: ``n x in_channels x h x w -> n x num_classes`` logits.

    In training mode with ``auxiliary=True``, ``forward`` returns ``(logits, aux_logits)``, both
    ``n x num_classes``, the auxiliary head reading the output of cell ``2 * layers // 3`` (the second
    reduction); otherwise the logits alone. DARTS's evaluation setting is ``channels=36, layers=20,
    auxiliary=True, drop_path_prob=0.2`` (auxiliary loss weight 0.4, applied by the training loop).

    :param channels: ``C``, the cells' width before the first reduction (16 in DARTS's default, 36 evaluated).
    :param layers: the number of cells, at least 2 (so the two reductions are distinct cells).
    :param auxiliary: whether to build the auxiliary head.
    :param drop_path_prob: the largest drop-path probability, in ``[0, 1)``; ``drop_path_prob`` starts at it,
        and :meth:`set_progress` scales it as DARTS's schedule does.
    :param stem_multiplier: the stem has ``stem_multiplier * channels`` channels (3 in DARTS).
    """

    def __init__(self, arch: DARTSArch, num_classes: int, in_channels: int = 3, channels: int = 16, layers: int = 8,
                 auxiliary: bool = False, drop_path_prob: float = 0.0, stem_multiplier: int = 3) -> None:
        super().__init__()
        DARTSSpace().validate(arch)
        num_classes = check_int(num_classes, "num_classes", minimum=1)
        in_channels = check_int(in_channels, "in_channels", minimum=1)
        channels = check_int(channels, "channels", minimum=1)
        layers = check_int(layers, "layers", minimum=2)
        stem_multiplier = check_int(stem_multiplier, "stem_multiplier", minimum=1)
        if not isinstance(auxiliary, bool):
            raise ValueError(f"auxiliary must be a bool, got {auxiliary!r}")
        drop_path_prob = check_finite(drop_path_prob, "drop_path_prob")
        if not 0.0 <= drop_path_prob < 1.0:
            raise ValueError(f"drop_path_prob must be in [0, 1), got {drop_path_prob!r}")
        self.max_drop_path_prob = drop_path_prob
        self.drop_path_prob = drop_path_prob
        self.auxiliary_index = 2 * layers // 3
        stem_channels = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(stem_channels))
        c_prev_prev, c_prev, c_curr = stem_channels, stem_channels, channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        for index in range(layers):
            reduction = index in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            cell = Cell(arch.reduce if reduction else arch.normal, c_prev_prev, c_prev, c_curr, reduction,
                        reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
            if index == self.auxiliary_index:
                auxiliary_channels = c_prev
        self.auxiliary_head = AuxiliaryHeadCIFAR(auxiliary_channels, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def set_progress(self, fraction: float) -> None:
        """Set ``drop_path_prob`` to ``max_drop_path_prob * fraction``, ``fraction`` in ``[0, 1]``.

        DARTS's schedule: call it with ``epoch / epochs`` at the start of each epoch.
        """
        fraction = check_finite(fraction, "fraction")
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
        self.drop_path_prob = self.max_drop_path_prob * fraction

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        """``n x in_channels x h x w -> n x num_classes``, or ``(logits, aux_logits)`` (class docstring)."""
        aux_logits = None
        s0 = s1 = self.stem(x)
        for index, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if index == self.auxiliary_index and self.auxiliary_head is not None and self.training:
                aux_logits = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return logits if aux_logits is None else (logits, aux_logits)


def darts_network(space: Space, arch: DARTSArch, num_classes: int, in_channels: int, channels: int | None,
                  cells_per_stage: int | None, **options: Any) -> nn.Module:
    """The space registry's builder: a :class:`DARTSNetwork` of ``3 * cells_per_stage + 2`` cells.

    ``cells_per_stage`` normal cells per stage, stages separated by the two reduction cells. Defaults
    ``channels=16``, ``cells_per_stage=2`` (DARTS's 8-cell search size, small enough to train on a CPU).
    DARTS's evaluation network is ``channels=36, cells_per_stage=6`` (20 cells) with ``auxiliary=True,
    drop_path_prob=0.2``. ``options`` may hold ``auxiliary`` (default ``False``) and ``drop_path_prob``
    (default ``0.0``); any other key raises ``ValueError``.
    """
    check_options(options, NETWORK_OPTIONS, space)
    cells_per_stage = 2 if cells_per_stage is None else check_int(cells_per_stage, "cells_per_stage", minimum=1)
    return DARTSNetwork(arch, num_classes, in_channels, 16 if channels is None else channels,
                        3 * cells_per_stage + 2, **options)


def darts_param_count(arch: DARTSArch, num_classes: int = 10, in_channels: int = 3, channels: int = 16,
                      layers: int = 8) -> int:
    """Trainable parameters of :class:`DARTSNetwork` as deployed (no auxiliary head, as DARTS counts), counted
    without building it: equal to ``count_params(DARTSNetwork(arch, ...))`` (tested).

    A network's count is the genotype-independent part (stem, preprocessing, heads, counted once per size on
    the ``meta`` device) plus each cell's op parameters, which depend only on the op, the cell's width and the
    stride. Pretraining CATE costs hundreds of thousands of genotypes, where building each network (about
    60 ms even on ``meta``) would take hours.
    """
    DARTSSpace().validate(arch)
    total = _fixed_params(num_classes, in_channels, channels, layers)
    for width, reduction in _cell_widths(channels, layers):
        for op, node in arch.reduce if reduction else arch.normal:
            total += _op_params(op, width, 2 if reduction and node < 2 else 1)
    return total


def _cell_widths(channels: int, layers: int) -> list[tuple[int, bool]]:
    """Each cell's width ``C`` and whether it is a reduction cell, in :class:`DARTSNetwork`'s order."""
    widths, width = [], channels
    for index in range(layers):
        reduction = index in (layers // 3, 2 * layers // 3)
        width *= 2 if reduction else 1
        widths.append((width, reduction))
    return widths


@functools.lru_cache(maxsize=None)
def _op_params(op: str, channels: int, stride: int) -> int:
    return sum(parameter.numel() for parameter in make_op(op, channels, stride).parameters())


@functools.lru_cache(maxsize=None)
def _fixed_params(num_classes: int, in_channels: int, channels: int, layers: int) -> int:
    """Parameters of a :class:`DARTSNetwork` of this size outside its cells' ops."""
    arch = PUBLISHED_GENOTYPES["DARTS_V2"]
    with torch.device("meta"):
        network = DARTSNetwork(arch, num_classes, in_channels, channels, layers)
    total = sum(parameter.numel() for parameter in network.parameters())
    ops = sum(_op_params(op, width, 2 if reduction and node < 2 else 1)
              for width, reduction in _cell_widths(channels, layers)
              for op, node in (arch.reduce if reduction else arch.normal))
    return total - ops


def _from_genotype(normal: list[tuple[str, int]], reduce: list[tuple[str, int]]) -> DARTSArch:
    """A published genotype (``concat`` ``[2, 3, 4, 5]``, checked by ``from_genotype``) as a ``DARTSArch``."""
    return DARTSSpace().from_genotype({"normal": normal, "normal_concat": range(2, 6),
                                       "reduce": reduce, "reduce_concat": range(2, 6)})


PUBLISHED_GENOTYPES: dict[str, DARTSArch] = {
    "DARTS_V1": _from_genotype(
        [("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
         ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)],
        [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
         ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)],
    ),
    "DARTS_V2": _from_genotype(
        [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
         ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
        [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
         ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    ),
    "PC_DARTS": _from_genotype(
        [("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 0), ("dil_conv_3x3", 1),
         ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("avg_pool_3x3", 0), ("dil_conv_3x3", 1)],
        [("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2),
         ("sep_conv_3x3", 0), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2)],
    ),
    "P_DARTS": _from_genotype(
        [("skip_connect", 0), ("dil_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1),
         ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 0), ("dil_conv_5x5", 4)],
        [("avg_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("dil_conv_5x5", 2),
         ("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("dil_conv_3x3", 1), ("dil_conv_5x5", 3)],
    ),
}
"""Well-known CIFAR-10 genotypes, copied from their authors' ``genotypes.py``: ``DARTS_V1`` (first order) and
``DARTS_V2`` (second order) from ``quark0/darts`` ``cnn/genotypes.py``; ``PC_DARTS`` from ``yuhuixu1993/PC-DARTS``
(``PC_DARTS_cifar``); ``P_DARTS`` from ``chenxin061/pdarts`` (``PDARTS``; its README says the released cell
comes from another search run than the paper's figures). DARTS's ``(op, input)`` pairs are in
:class:`~bonas.spaces.DARTSArch`'s order, input 0 being ``c_{k-2}``."""
