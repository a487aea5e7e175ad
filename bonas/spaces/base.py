"""The search-space contract every part of bonas builds on.

A space describes a set of architectures. An architecture is an immutable,
hashable value owned by its space; the space turns it into a ``networkx.DiGraph``
in the node-op convention (see :mod:`bonas.spaces.graph`), validates it, samples
and mutates it, and gives it a canonical key shared by all computationally
equivalent architectures.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import networkx as nx
import numpy as np


class Space(ABC):
    """An architecture search space.

    Subclasses set ``name`` (a short identifier such as ``"nb201"``) and
    ``ops`` (the operation names an architecture may use).
    """

    name: str
    ops: tuple[str, ...]

    @abstractmethod
    def validate(self, arch: Any) -> None:
        """Raise ``ValueError`` naming what is wrong if ``arch`` is not in this space."""

    @abstractmethod
    def to_graph(self, arch: Any) -> nx.DiGraph:
        """The architecture as a pruned node-op DAG (see :mod:`bonas.spaces.graph`)."""

    @abstractmethod
    def to_str(self, arch: Any) -> str:
        """A string that :meth:`from_str` turns back into ``arch``."""

    @abstractmethod
    def from_str(self, text: str) -> Any:
        """Parse the string form of an architecture; ``ValueError`` if malformed."""

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> list[Any]:
        """``n`` architectures drawn at random (with replacement)."""

    @abstractmethod
    def mutate(self, arch: Any, rng: np.random.Generator) -> Any:
        """A random architecture close to ``arch`` and different from it."""

    @abstractmethod
    def neighbours(self, arch: Any) -> list[Any]:
        """All architectures one elementary change away from ``arch``."""

    @abstractmethod
    def canonical_key(self, arch: Any) -> Hashable:
        """A key equal for computationally equivalent architectures."""

    @property
    def is_enumerable(self) -> bool:
        """Whether :meth:`enumerate` lists the whole space."""
        return False

    def enumerate(self) -> Iterator[Any]:
        """Every architecture of a finite space, in a fixed order."""
        raise NotImplementedError(f"space {self.name!r} is too large to enumerate")

    def check_all(self, archs: Sequence[Any]) -> None:
        """Validate each architecture; the error names its position in ``archs``."""
        for position, arch in enumerate(archs):
            try:
                self.validate(arch)
            except ValueError as error:
                raise ValueError(f"architecture {position} of the batch: {error}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def check_count(n: int) -> None:
    """Raise ``ValueError`` unless ``n`` is a non-negative integer."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"expected a non-negative number of architectures, got {n!r}")
