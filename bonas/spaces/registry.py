"""The spaces bonas builds by name, so a journal or a command line can name the space it needs.

Any other space (a ``CellSpace``, a ``SubsetSpace``, a user ``Space``) is passed to ``Optimizer.load(path, space=...)``.
"""

from __future__ import annotations

from collections.abc import Callable

from bonas.spaces.base import Space
from bonas.spaces.cell import NASBench101Space
from bonas.spaces.darts import DARTSSpace
from bonas.spaces.nb201 import NASBench201Space

_SPACES: dict[str, Callable[[], Space]] = {"nb201": NASBench201Space, "nb101": NASBench101Space, "darts": DARTSSpace}


def space_from_name(name: str) -> Space:
    """The space registered under ``name``; ``ValueError`` listing the known names otherwise."""
    if name not in _SPACES:
        raise ValueError(f"unknown space {name!r}; expected one of {sorted(_SPACES)}")
    return _SPACES[name]()
