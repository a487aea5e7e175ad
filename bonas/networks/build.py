"""``build_network``: a trainable torch network from a space's architecture, by the space registry's builder."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bonas.networks.nb101 import NB101_BUILDABLE_OPS, NB101Network
from bonas.networks.nb201 import NB201Network
from bonas.spaces.base import Space
from bonas.spaces.cell import CellSpace
from bonas.spaces.registry import declared, space_names
from bonas.spaces.subset import SubsetSpace
from bonas.validation import check_int


def build_network(space: Space, arch: Any, num_classes: int, in_channels: int = 3, channels: int | None = None,
                  cells_per_stage: int | None = None, **options: Any) -> nn.Module:
    """The network of ``arch``: ``n x in_channels x h x w`` images to ``n x num_classes`` logits.

    The network builder comes from the space registry (the entry named
    ``space.name``, see :func:`bonas.spaces.registry.register_space`); a
    :class:`~bonas.spaces.CellSpace` without one is built by :func:`cell_network`.

    * NB201 cells: the NAS-Bench-201 skeleton (defaults ``channels=16``,
      ``cells_per_stage=5``; ``h`` and ``w`` multiples of 4).
    * DARTS genotypes: the DARTS evaluation network (:func:`bonas.networks.darts.darts_network`; defaults
      ``channels=16``, ``cells_per_stage=2``, i.e. 8 cells; DARTS's own is ``channels=36``,
      ``cells_per_stage=6``, 20 cells), with ``options`` ``auxiliary`` and ``drop_path_prob``.
    * Node-op cells (:class:`~bonas.spaces.NASBench101Space` or any
      :class:`~bonas.spaces.CellSpace`): the NAS-Bench-101 skeleton (defaults
      ``channels=128``, ``cells_per_stage=3``), each op NAS-Bench-101's or the
      user's module: ``op_modules={"conv5x5": lambda c: nn.Conv2d(c, c, 5, padding=2), ...}`` maps an op
      name to a callable building a ``c``-channel, size-preserving module.

    A :class:`~bonas.spaces.SubsetSpace` (a table's cells) is built as its base space. ``options`` go to the
    space's builder. Raises ``ValueError`` naming the
    problem for an invalid architecture, a space without a builder, an op
    without a module, an option the builder does not take or a non-positive size.
    """
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    in_channels = check_int(in_channels, "in_channels", minimum=1)
    channels = None if channels is None else check_int(channels, "channels", minimum=1)
    cells_per_stage = None if cells_per_stage is None else check_int(cells_per_stage, "cells_per_stage", minimum=1)
    space.validate(arch)
    while isinstance(space, SubsetSpace):  # a table's cells are built as cells of the space they belong to
        space = space.base
    builder = declared(space.name, "network_builder")
    if builder is None and isinstance(space, CellSpace):
        builder = cell_network
    if builder is None:
        raise ValueError(f"no network builder for space {space.name!r}: build_network builds the spaces "
                         f"{list(space_names('network_builder'))} and CellSpace cells; register a builder for "
                         f"{space.name!r} with bonas.register_space (docs/extending.md)")
    # a builder written before options existed takes six arguments: pass options only when there are some
    return builder(space, arch, num_classes, in_channels, channels, cells_per_stage, **options)


def nb201_network(space: Space, arch: Any, num_classes: int, in_channels: int, channels: int | None,
                  cells_per_stage: int | None, **options: Any) -> nn.Module:
    """The NAS-Bench-201 skeleton around ``arch`` (defaults ``channels=16``, ``cells_per_stage=5``; no options)."""
    check_options(options, (), space)
    return NB201Network(arch, num_classes, in_channels, channels or 16, cells_per_stage or 5)


def cell_network(space: Space, arch: Any, num_classes: int, in_channels: int, channels: int | None,
                 cells_per_stage: int | None, op_modules: Mapping[str, Callable[[int], nn.Module]] | None = None,
                 **options: Any) -> nn.Module:
    """The NAS-Bench-101 skeleton around a node-op cell (defaults ``channels=128``, ``cells_per_stage=3``).

    :param op_modules: op name -> ``channels -> nn.Module`` (``n x c x h x w -> n x c x h x w``); an op
        without one is built as NAS-Bench-101 builds it, which only its three ops can be.
    Raises ``ValueError`` unless ``space`` is a :class:`~bonas.spaces.CellSpace` whose every op has a module.
    """
    check_options(options, ("op_modules",), space)
    if not isinstance(space, CellSpace):
        raise ValueError(f"the NAS-Bench-101 skeleton builds CellSpace cells, not those of space {space.name!r} "
                         f"({type(space).__name__})")
    op_modules = dict(op_modules or {})
    missing = [op for op in space.ops if op not in op_modules and op not in NB101_BUILDABLE_OPS]
    if missing:
        raise ValueError(f"no module for ops {missing} of space {space.name!r}: pass op_modules={{op name: "
                         f"channels -> nn.Module}} for them (NAS-Bench-101's own ops {list(NB101_BUILDABLE_OPS)} "
                         f"need none)")
    matrix, ops = space.pruned(arch)
    return NB101Network(matrix, ops, num_classes, in_channels, channels or 128, cells_per_stage or 3, op_modules)


def check_options(options: Mapping[str, Any], accepted: tuple[str, ...], space: Space) -> None:
    """``ValueError`` naming any of ``options`` that a builder of ``space``'s networks does not take."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"{space.name} networks take no option {unknown}; they take {list(accepted)}")


def count_flops(network: nn.Module, image_shape: tuple[int, int, int]) -> int:
    """Floating-point operations of one ``c x h x w`` image through ``network`` in eval mode, as torch's
    ``FlopCounterMode`` counts them: 2 per multiply-add of convolutions and matrix products (what papers call
    FLOPs is usually multiply-adds, half this). Runs on the network's device; a network on the ``meta``
    device is counted without memory or compute. The network's training mode is restored."""
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (c, h, w), got {tuple(image_shape)}")
    parameter = next(network.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    training = network.training
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            network.eval()(torch.zeros(1, *image_shape, device=device))
    finally:
        network.train(training)
    return int(counter.get_total_flops())


def count_params(network: nn.Module) -> int:
    """The number of trainable parameters (a count) of the network as deployed: a training-only auxiliary head
    (a submodule named ``auxiliary_head``, as :class:`~bonas.networks.darts.DARTSNetwork`'s) is left out, as
    DARTS's ``count_parameters_in_MB`` leaves it out."""
    return sum(parameter.numel() for name, parameter in network.named_parameters()
               if parameter.requires_grad and not name.startswith("auxiliary_head."))


def built_flops(build: Callable[[Any], nn.Module], arch: Any, image_shape: Sequence[int]) -> tuple[nn.Module, int]:
    """``build(arch)`` and its FLOPs on one ``image_shape`` image (:func:`count_flops`), built and counted on the
    ``meta`` device (no memory or compute spent on weights), on the CPU for a module that makes its own CPU
    tensors and so cannot be on meta."""
    try:
        with torch.device("meta"):
            network = build(arch)
            return network, count_flops(network, tuple(image_shape))
    except (RuntimeError, NotImplementedError):
        network = build(arch)
        return network, count_flops(network, tuple(image_shape))


@dataclass(frozen=True)
class ParamBudget:
    """A constraint known before training: ``budget(arch)`` is whether ``build(arch)``, the untrained network,
    has at most ``max_params`` trainable parameters, counted exactly (``Optimizer(feasible=budget)``, so no
    network over budget is ever trained).

    :param build: ``arch -> nn.Module``, e.g. a :class:`~bonas.TrainingEvaluator`'s ``build``.
    :param max_params: the largest allowed count.
    """

    build: Callable[[Any], nn.Module]
    max_params: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_params", check_int(self.max_params, "max_params", minimum=1))

    @property
    def name(self) -> str:
        """How a journal names this constraint."""
        return f"params<={self.max_params}"

    def __call__(self, arch: Any) -> bool:
        return count_params(self.build(arch)) <= self.max_params


@dataclass(frozen=True)
class FlopBudget:
    """A constraint known before training: ``budget(arch)`` is whether ``build(arch)``, the untrained network,
    takes at most ``max_flops`` FLOPs on one ``image_shape`` image (:func:`count_flops`), counted on the ``meta``
    device, so no memory or compute is spent on weights (``Optimizer(feasible=budget)``).

    :param build: ``arch -> nn.Module``, e.g. a :class:`~bonas.TrainingEvaluator`'s ``build``.
    :param max_flops: the largest allowed count.
    :param image_shape: ``(c, h, w)`` of the images the networks take.
    """

    build: Callable[[Any], nn.Module]
    max_flops: int
    image_shape: tuple[int, int, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_flops", check_int(self.max_flops, "max_flops", minimum=1))
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (c, h, w), got {tuple(self.image_shape)}")

    @property
    def name(self) -> str:
        """How a journal names this constraint."""
        return f"flops<={self.max_flops}"

    def __call__(self, arch: Any) -> bool:
        return built_flops(self.build, arch, self.image_shape)[1] <= self.max_flops


@dataclass(frozen=True)
class SizeSignals:
    """Cheap signals known before training (``Optimizer(prior=signals)``, :mod:`bonas.prior`): the log of the
    untrained network's trainable parameters (:func:`count_params`) and, with ``image_shape``, of its FLOPs on one
    such image (:func:`count_flops`, on the ``meta`` device). On NAS-Bench-201 larger cells train to higher
    accuracy (``benchmarks/RESULTS.md``), and params and FLOPs rank its cells almost alike (Spearman 0.995).

    A search scores every candidate of its pool (1,000 by default) by them, each cell once: counting params took
    0.02 s a cell here, FLOPs 0.35 s (a forward pass under torch's ``FlopCounterMode``), so FLOPs are opt-in.

    :param build: ``arch -> nn.Module``, e.g. a :class:`~bonas.TrainingEvaluator`'s ``build``.
    :param image_shape: ``(c, h, w)`` of the images the networks take, to count FLOPs too; ``None``: params only.
    """

    build: Callable[[Any], nn.Module]
    image_shape: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if self.image_shape is not None and len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (c, h, w), got {tuple(self.image_shape)}")

    @property
    def name(self) -> str:
        """How a journal names these signals."""
        if self.image_shape is None:
            return "log-params"
        return "log-params,log-flops@" + "x".join(str(size) for size in self.image_shape)

    def __call__(self, arch: Any) -> list[float]:
        if self.image_shape is None:
            return [math.log(max(count_params(self.build(arch)), 1))]
        network, flops = built_flops(self.build, arch, self.image_shape)
        return [math.log(max(count_params(network), 1)), math.log(max(flops, 1))]


@dataclass(frozen=True)
class AllOf:
    """Several constraints known before training as one: ``feasible(arch)`` when every one holds (checked in
    order, stopping at the first that fails), named by their names joined with commas."""

    constraints: tuple[Callable[[Any], bool], ...]

    @property
    def name(self) -> str:
        """How a journal names this constraint."""
        return ",".join(getattr(constraint, "name", repr(constraint)) for constraint in self.constraints)

    def __call__(self, arch: Any) -> bool:
        return all(constraint(arch) for constraint in self.constraints)


def check_input(space: Space, image_shape: tuple[int, ...], num_classes: int, **network_options: int | None) -> None:
    """Raise ``ValueError`` unless ``c x h x w`` images go through the space's networks to ``num_classes`` logits.

    Builds one sampled architecture's network on the ``meta`` device (no memory,
    no compute) and runs two images through it.
    """
    if len(image_shape) != 3:
        raise ValueError(f"images must be c x h x w, got shape {tuple(image_shape)}")
    arch = space.sample(1, np.random.default_rng(0))[0]
    with torch.device("meta"):
        network = build_network(space, arch, num_classes, image_shape[0], **network_options).eval()
        try:
            logits = network(torch.zeros(2, *image_shape))
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"images of shape {tuple(image_shape)} cannot go through {space.name} networks: "
                             f"{error}") from None
    if tuple(logits.shape) != (2, num_classes):
        raise ValueError(f"{space.name} networks map images of shape {tuple(image_shape)} to logits of shape "
                         f"{tuple(logits.shape[1:])}, not ({num_classes},)")


@dataclass(frozen=True)
class WithParams:
    """``evaluate`` told together with the parameter count of the architecture's network, as named metrics.

    ``WithParams(evaluate, build)(arch)`` counts ``build(arch)``'s trainable parameters on the untrained network
    (:func:`count_params`), then runs ``evaluate(arch)`` and returns ``{"value": {objective: its value, "params":
    the count}, ...its other info}``, for ``Optimizer(objectives={objective: "max", "params": "min"})``.

    :param evaluate: ``arch -> value`` or ``{"value": value, ...info}`` (e.g. a :class:`~bonas.TrainingEvaluator`).
    :param build: ``arch -> nn.Module``, e.g. the evaluator's ``build``.
    :param objective: the name of ``evaluate``'s value among the metrics.
    """

    evaluate: Callable[[Any], Any]
    build: Callable[[Any], nn.Module]
    objective: str = "accuracy"

    def __call__(self, arch: Any) -> dict[str, Any]:
        params = count_params(self.build(arch))
        result = self.evaluate(arch)
        if not isinstance(result, dict):
            return {"value": {self.objective: result, "params": params}}
        if "value" not in result:
            raise ValueError(f"evaluate returned a dict without a 'value' entry: keys {sorted(result)}")
        info = {key: item for key, item in result.items() if key != "value"}
        return {**info, "value": {self.objective: result["value"], "params": params}}
