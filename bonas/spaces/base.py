"""The search-space contract every part of bonas builds on.

A space describes a set of architectures. An architecture is an immutable,
hashable value owned by its space; the space turns it into a ``networkx.DiGraph``
in the node-op convention (see :mod:`bonas.spaces.graph`), validates it, samples
and mutates it, and gives it a canonical key shared by all computationally
equivalent architectures. Its :class:`GraphSpec` states what those graphs can
hold, which is all an encoder needs to know about the space to size its columns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from bonas.spaces.graph import INPUT, OUTPUT
from bonas.validation import check_int


@dataclass(frozen=True)
class GraphSpec:
    """What the graphs of a space (:meth:`Space.to_graph`) can hold: the facts encoders size themselves by.

    ``GraphSpec(ops=("conv3x3", "maxpool"), max_nodes=7)`` describes cells of up
    to 7 nodes whose inner nodes carry ``conv3x3`` or ``maxpool``; the path
    fields then default to every op, ``max_nodes - 2`` and no roots. Sequences are stored
    as tuples; a bad field raises ``ValueError`` naming it.
    """

    ops: tuple[str, ...]
    """Every op an inner node of a graph may carry (``input`` and ``output`` left out), in a fixed order:
    encoders number their op columns in this order. Spaces with ops on edges list the graph's
    structural labels too (DARTS: its cell inputs and ``add`` nodes)."""
    max_nodes: int
    """Nodes of the largest pruned graph, input and output included (NB201: 8, NB101: 7, DARTS: 30)."""
    path_ops: tuple[str, ...] | None = None
    """The ops that name an input-to-output path in path encodings, in column order; other labels on a
    path (DARTS's ``add`` and cell-input nodes) are skipped. ``None``: all of :attr:`ops`."""
    max_path_ops: int | None = None
    """Most :attr:`path_ops` nodes on one input-to-output path (NB201: 3, DARTS: 4): the longest
    path a path encoding has columns for. ``None``: ``max_nodes - 2``, every inner node."""
    path_roots: tuple[str, ...] | None = None
    """Labels of the nodes a path starts from, in column-block order, when the start is part of a path's
    name (DARTS: ``normal_c_k-2``, ``normal_c_k-1``, ``reduce_c_k-2``, ``reduce_c_k-1``, as BANANAS numbers
    its DARTS paths per cell and cell input). Every input-to-output path must then pass one such node
    before its first :attr:`path_ops` node and no other, and a path encoding has one block of columns
    per root. Names in :attr:`ops`, none of them in :attr:`path_ops`. ``None``: paths are named by their
    ops alone."""

    def __post_init__(self) -> None:
        ops = _op_names("ops", self.ops)
        if not ops:
            raise ValueError("GraphSpec.ops must name at least one op")
        for op in ops:
            if op in (INPUT, OUTPUT):
                raise ValueError(f"GraphSpec.ops holds the ops besides {INPUT!r} and {OUTPUT!r}, got {op!r} "
                                 f"in {list(ops)}")
        object.__setattr__(self, "ops", ops)
        max_nodes = check_int(self.max_nodes, "GraphSpec.max_nodes", minimum=2)
        object.__setattr__(self, "max_nodes", max_nodes)
        path_ops = ops if self.path_ops is None else _op_names("path_ops", self.path_ops)
        unknown = [op for op in path_ops if op not in ops]
        if unknown:
            raise ValueError(f"GraphSpec.path_ops {unknown} are not in GraphSpec.ops {list(ops)}")
        object.__setattr__(self, "path_ops", path_ops)
        if self.path_roots is not None:
            path_roots = _op_names("path_roots", self.path_roots)
            if not path_roots:
                raise ValueError("GraphSpec.path_roots must name at least one root, or be None")
            unknown = [op for op in path_roots if op not in ops]
            if unknown:
                raise ValueError(f"GraphSpec.path_roots {unknown} are not in GraphSpec.ops {list(ops)}")
            shared = [op for op in path_roots if op in path_ops]
            if shared:
                raise ValueError(f"GraphSpec.path_roots {shared} are also in GraphSpec.path_ops {list(path_ops)}; "
                                 "a label either starts a path or names a step of it")
            object.__setattr__(self, "path_roots", path_roots)
        longest = max_nodes - 2
        max_path_ops = longest
        if self.max_path_ops is not None:
            max_path_ops = check_int(self.max_path_ops, "GraphSpec.max_path_ops", minimum=0)
        if max_path_ops > longest:
            raise ValueError(f"GraphSpec.max_path_ops is {max_path_ops}, but a graph of at most {max_nodes} nodes "
                             f"has at most {longest} ops on a path (max_nodes - 2)")
        object.__setattr__(self, "max_path_ops", max_path_ops)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Every op label a graph can carry: ``input``, then :attr:`ops`, then ``output``."""
        return (INPUT, *self.ops, OUTPUT)


def _op_names(field: str, ops: Any) -> tuple[str, ...]:
    if isinstance(ops, str) or not isinstance(ops, Sequence):
        raise ValueError(f"GraphSpec.{field} must be a sequence of op names, got {type(ops).__name__}: {ops!r}")
    ops = tuple(ops)
    for op in ops:
        if not isinstance(op, str) or not op:
            raise ValueError(f"GraphSpec.{field} must hold non-empty op names, got {op!r} in {list(ops)}")
    repeated = sorted({op for op in ops if ops.count(op) > 1})
    if repeated:
        raise ValueError(f"GraphSpec.{field} names {repeated} more than once: {list(ops)}")
    return ops


class Space(ABC):
    """An architecture search space.

    Subclasses set ``name`` (a short identifier such as ``"nb201"``), ``ops``
    (the operation names an architecture may use) and :attr:`graph_spec`
    (what their graphs can hold), and implement the abstract methods.
    """

    name: str
    ops: tuple[str, ...]

    @property
    @abstractmethod
    def graph_spec(self) -> GraphSpec:
        """What :meth:`to_graph`'s graphs can hold (their ops, largest size, longest op path).

        Encoders read it and nothing else of the space to size their columns. A
        subclass may set it as a class attribute, ``graph_spec = GraphSpec(ops=..., max_nodes=...)``.
        """

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


def check_count(n: int) -> int:
    """``n`` as an ``int``; ``ValueError`` unless it is a non-negative integer (a number of architectures)."""
    return check_int(n, "the number of architectures", minimum=0)
