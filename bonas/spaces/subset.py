"""A finite subset of a space: the cells a benchmark table covers, searched as a space of its own.

A table that samples a space (the 20,001 NAS-Bench-101 cells of the 423,624)
can answer only for its own cells, so a replay on it must never propose another.
:class:`SubsetSpace` keeps the base space's graphs (and their ``graph_spec``), strings and
canonical keys, enumerates the members, samples among them, and redefines closeness: the
neighbours of a cell are the members within ``radius`` elementary changes of
the base space (one change reaches a member for only about 60 % of NB101's
table cells; two reach about ten members on average), and a mutation is a
random neighbour (a random member when there is none).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import networkx as nx
import numpy as np

from bonas.spaces.base import GraphSpec, Space, check_count
from bonas.validation import check_int

NEIGHBOUR_CACHE = 4096
"""Neighbour lists kept per space: searches revisit the neighbourhoods of their best cells."""


class SubsetSpace(Space):
    """The members of ``base`` listed in ``members`` (one per canonical class), as a finite space.

    :param base: the space the members belong to; graphs, strings and keys are its own.
    :param members: the architectures of the subset.
    :param radius: how many elementary changes of ``base`` a neighbour may be away.
    :param name: the subset's name (default ``"<base>-subset"``).
    :param neighbour_rows: precomputed neighbours, for each member the positions in ``members``
        of its neighbours (e.g. :meth:`NASBench101Table.neighbour_rows`); otherwise they are
        found on demand by walking ``radius`` changes of ``base``, which costs about half a second
        a cell on NAS-Bench-101.
    """

    def __init__(self, base: Space, members: Sequence[Any], radius: int = 2, name: str | None = None,
                 neighbour_rows: Sequence[Sequence[int]] | None = None) -> None:
        radius = check_int(radius, "radius", minimum=1)
        if not members:
            raise ValueError("a subset space needs at least one member")
        self.base = base
        self.name = name or f"{base.name}-subset"
        self.radius = radius
        self._members = list(members)
        self._key_of: dict[Any, Hashable] = {arch: base.canonical_key(arch) for arch in self._members}
        self._row_of: dict[Hashable, int] = {}
        for row, arch in enumerate(self._members):
            self._row_of.setdefault(self._key_of[arch], row)
        self._neighbours: dict[Hashable, list[Any]] = {}
        self._neighbour_rows = neighbour_rows
        if neighbour_rows is not None and len(neighbour_rows) != len(self._members):
            raise ValueError(f"neighbour_rows has {len(neighbour_rows)} entries for {len(self._members)} members")

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, arch: Any) -> bool:
        return self.canonical_key(arch) in self._row_of

    @property
    def ops(self) -> tuple[str, ...]:
        return self.base.ops

    @property
    def graph_spec(self) -> GraphSpec:
        """The base space's: members are its cells, with its graphs."""
        return self.base.graph_spec

    def validate(self, arch: Any) -> None:
        """``ValueError`` if ``arch`` is not a valid cell of the base space or not a member."""
        self.base.validate(arch)
        if arch not in self:
            raise ValueError(f"architecture {self.base.to_str(arch)!r} is a valid {self.base.name} cell but not one "
                             f"of the {len(self):,} members of {self.name!r}")

    def to_graph(self, arch: Any) -> nx.DiGraph:
        return self.base.to_graph(arch)

    def to_str(self, arch: Any) -> str:
        return self.base.to_str(arch)

    def from_str(self, text: str) -> Any:
        """The member written ``text``; ``ValueError`` for a cell of the base space outside the subset."""
        arch = self.base.from_str(text)
        self.validate(arch)
        return arch

    def canonical_key(self, arch: Any) -> Hashable:
        """The base space's key; members' keys are computed once, when the subset is built."""
        key = self._key_of.get(arch)
        return key if key is not None else self.base.canonical_key(arch)

    @property
    def is_enumerable(self) -> bool:
        return True

    def enumerate(self) -> Iterator[Any]:
        """The members, in the order given."""
        return iter(self._members)

    def sample(self, n: int, rng: np.random.Generator) -> list[Any]:
        """``n`` members drawn uniformly (with replacement)."""
        check_count(n)
        return [self._members[row] for row in rng.integers(len(self._members), size=n)]

    def neighbours(self, arch: Any) -> list[Any]:
        """Members within ``radius`` elementary changes of ``arch`` (itself excluded), nearest first."""
        key = self.canonical_key(arch)
        if self._neighbour_rows is not None and key in self._row_of:
            return [self._members[row] for row in self._neighbour_rows[self._row_of[key]]]
        if key not in self._neighbours:
            if len(self._neighbours) >= NEIGHBOUR_CACHE:
                self._neighbours.pop(next(iter(self._neighbours)))
            self._neighbours[key] = self._members_near(arch, key)
        return list(self._neighbours[key])

    def _members_near(self, arch: Any, key: Hashable) -> list[Any]:
        seen, frontier, found = {key}, [arch], []
        for _ in range(self.radius):
            next_frontier = []
            for cell in frontier:
                for neighbour in self.base.neighbours(cell):
                    neighbour_key = self.base.canonical_key(neighbour)
                    if neighbour_key in seen:
                        continue
                    seen.add(neighbour_key)
                    next_frontier.append(neighbour)
                    if neighbour_key in self._row_of:
                        found.append(self._members[self._row_of[neighbour_key]])
            frontier = next_frontier
        return found

    def mutate(self, arch: Any, rng: np.random.Generator) -> Any:
        """A random neighbour of ``arch``, or a random other member when it has none."""
        neighbours = self.neighbours(arch)
        if neighbours:
            return neighbours[int(rng.integers(len(neighbours)))]
        key = self.canonical_key(arch)
        while True:
            other = self.sample(1, rng)[0]
            if len(self._row_of) == 1 or self.canonical_key(other) != key:
                return other

    def __repr__(self) -> str:
        return f"SubsetSpace({self.base!r}, {len(self):,} members, radius={self.radius}, name={self.name!r})"
