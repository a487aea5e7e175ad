"""The encodings bonas knows by name: one entry each, declaring its encoder, its kernel and the options it takes.

The optimizer, the replays and the CLI read this registry; nobody else keeps a list of encodings. A new
encoding is one module (a :class:`~bonas.encoders.base.GraphEncoder` subclass) plus one
:func:`register_encoding` call (``docs/extending.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from bonas.encoders.base import GraphEncoder

from bonas.registry import Registry
from bonas.spaces.base import Space


@dataclass(frozen=True)
class EncodingEntry:
    """What an encoding is made of.

    :param name: what a user types (``Optimizer(encoding=...)``, ``--encoding``, a replay method).
    :param encoder: builds the encoder for a space: ``encoder(space, **options) -> GraphEncoder``.
    :param kernel: the name of its GP kernel in :func:`bonas.kernels.make_kernel`; the kernel gets the
        encoder's ``groups`` when it has them.
    :param options: the encoder options a user may set through the optimizer (CATE: ``"checkpoint"``).
    :param on_device: the encoder computes on the optimizer's device (a transformer); otherwise it is a
        Python graph walk whose rows stay on the CPU.
    """

    name: str
    encoder: Callable[..., GraphEncoder]
    kernel: str
    options: tuple[str, ...] = ()
    on_device: bool = False

    def build(self, space: Space, device: torch.device | str = "cpu", **options: Any) -> GraphEncoder:
        """The encoder for ``space``; ``ValueError`` for an option this encoding does not take."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            takes = f"takes only {list(self.options)}" if self.options else "takes no options"
            raise ValueError(f"encoding {self.name!r} {takes}; got {unknown}")
        if self.on_device:
            options = {**options, "device": device}
        return self.encoder(space, **options)


ENCODINGS: Registry[EncodingEntry] = Registry("encoding", EncodingEntry)
"""Every registered encoding, by name."""


def register_encoding(entry: EncodingEntry, replace: bool = False) -> EncodingEntry:
    """Add ``entry`` to :data:`ENCODINGS` (``ValueError`` if its name is taken, unless ``replace``)."""
    return ENCODINGS.add(entry, replace)


def unregister_encoding(name: str) -> None:
    """Remove the encoding called ``name`` (``ValueError`` if there is none)."""
    ENCODINGS.unregister(name)
