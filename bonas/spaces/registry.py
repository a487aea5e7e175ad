"""The spaces bonas knows by name: one entry per space declares what bonas can do with it.

An entry names the space's class (its factory) and, where the space has them,

* its **network builder**, ``(space, arch, num_classes, in_channels, channels, cells_per_stage, **options)
  -> nn.Module`` (``channels`` and ``cells_per_stage`` ``None`` for the builder's defaults; ``options`` the
  builder's own, e.g. DARTS's ``auxiliary``), which
  :func:`bonas.networks.build_network` calls and ``bonas search`` needs;
* its **cost model** for CATE pretraining, ``(space, n_samples, seed) -> (archs, costs, cost name)``
  (``costs`` a float array, one per architecture), which ``bonas pretrain-cate`` needs;
* its **replay tables**, ``(ReplaySpec) -> ReplayBenchmark``: the benchmark a replay's dataset and
  objective name in the space's tables, which ``bonas replay`` needs.

Each of the three is a callable or an import string ``"package.module:name"`` loaded on first use, so
that naming a builder or a table here does not make ``bonas.spaces`` import torch, the networks or the
tables. The command line, replays, pretraining, ``build_network`` and ``Optimizer.load`` read this
registry (:data:`SPACES`); :func:`register_space` adds a user's space to all of them. Any other space
(a ``CellSpace``, a ``SubsetSpace``, a user ``Space``) is passed to ``Optimizer.load(path, space=...)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bonas.registry import Registry
from bonas.spaces.base import Space
from bonas.spaces.cell import NASBench101Space
from bonas.spaces.darts import DARTSSpace
from bonas.spaces.nb201 import NASBench201Space

PARTS = ("network_builder", "cost_model", "replay_tables")
"""What an entry may declare besides its factory."""


@dataclass(frozen=True)
class SpaceEntry:
    """What bonas can do with a space it knows by name.

    :param name: what journals and the command line call it; ``factory()`` builds a space of that name.
    :param factory: builds the space, e.g. its class.
    :param network_builder: ``(space, arch, num_classes, in_channels, channels, cells_per_stage, **options)
        -> nn.Module``.
    :param cost_model: ``(space, n_samples, seed) -> (archs, costs, cost name)`` for CATE pretraining.
    :param replay_tables: ``(ReplaySpec) -> ReplayBenchmark`` for replays.

    Each part is a callable, an import string ``"package.module:name"`` or ``None`` (the space has none).
    """

    name: str
    factory: Callable[[], Space]
    network_builder: Callable[..., Any] | str | None = None
    cost_model: Callable[..., Any] | str | None = None
    replay_tables: Callable[..., Any] | str | None = None

    def __post_init__(self) -> None:
        if not callable(self.factory):
            raise ValueError(f"the factory of space {self.name!r} must be callable, got {self.factory!r}")
        for part in PARTS:
            value = getattr(self, part)
            if value is not None and not callable(value) and not (isinstance(value, str) and ":" in value):
                raise ValueError(f"the {part} of space {self.name!r} must be a callable or a 'package.module:name' "
                                 f"string, got {value!r}")

    def load(self, part: str) -> Callable[..., Any] | None:
        """The callable ``part`` (one of :data:`PARTS`) declares, imported if named by a string; ``None`` if absent."""
        value = getattr(self, _check_part(part))
        if value is None or callable(value):
            return value
        module, _, attribute = value.partition(":")
        return getattr(importlib.import_module(module), attribute)


SPACES: Registry[SpaceEntry] = Registry("space", SpaceEntry)
"""Every registered space, by name, in the order registered."""


def _check_part(part: str) -> str:
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r} of a space entry; expected one of {list(PARTS)}")
    return part


def register_space(entry: SpaceEntry, replace: bool = False) -> SpaceEntry:
    """Add ``entry`` to :data:`SPACES` (``ValueError`` if its name is taken, unless ``replace``)."""
    return SPACES.add(entry, replace)


def unregister_space(name: str) -> None:
    """Remove the space called ``name`` (``ValueError`` if there is none)."""
    SPACES.unregister(name)


def declared(name: str, part: str) -> Callable[..., Any] | None:
    """What the space registered as ``name`` declares for ``part``; ``None`` for an absent part or an unknown name."""
    _check_part(part)
    entry = SPACES.get(name)
    return None if entry is None else entry.load(part)


def space_names(declaring: str | None = None) -> tuple[str, ...]:
    """The registered names in registration order; with ``declaring`` (one of :data:`PARTS`), those that declare it."""
    if declaring is not None:
        _check_part(declaring)
    return tuple(name for name, entry in SPACES.items() if declaring is None or getattr(entry, declaring) is not None)


def space_from_name(name: str) -> Space:
    """The space registered under ``name``; ``ValueError`` listing the known names otherwise."""
    space = SPACES[name].factory()
    if space.name != name:
        raise ValueError(f"the factory registered as space {name!r} built a space named {space.name!r}")
    return space


register_space(SpaceEntry("nb201", NASBench201Space, network_builder="bonas.networks.build:nb201_network",
                          cost_model="bonas.pretraining.costs:nb201_flops",
                          replay_tables="bonas.replay.benchmark:nb201_benchmark"))
register_space(SpaceEntry("nb101", NASBench101Space, network_builder="bonas.networks.build:cell_network",
                          cost_model="bonas.pretraining.costs:nb101_params",
                          replay_tables="bonas.replay.benchmark:nb101_benchmark"))
register_space(SpaceEntry("darts", DARTSSpace, network_builder="bonas.networks.darts:darts_network",
                          cost_model="bonas.pretraining.costs:darts_params"))
