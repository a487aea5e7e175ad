"""Multi-objective baselines a replay runs beside bonas: random search and NSGA-II.

Each maximises every one of its ``k`` objectives (costs negated, see :mod:`bonas.replay.pareto`), is built as
``Cls(space, seed, **options)`` (``feasible=`` restricts it to feasible architectures), and, as the
single-objective baselines of :mod:`bonas.replay.baselines`, never proposes an architecture computationally
equivalent to one it proposed before. ``tell(archs, values)`` takes one length-``k`` sequence per architecture.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bonas.outcomes import crowding_distance, non_dominated_sort, rank_and_crowding
from bonas.replay.baselines import Baseline
from bonas.spaces.base import Space
from bonas.validation import check_int

__all__ = ["MO_BASELINES", "MOBaseline", "MORandomSearch", "NSGA2", "crowding_distance", "non_dominated_sort",
           "rank_and_crowding"]


class MOBaseline(Baseline):
    """A :class:`~bonas.replay.baselines.Baseline` told ``k`` objective values per architecture."""

    def __init__(self, space: Space, seed: int, feasible: Callable[[Any], bool] | None = None) -> None:
        super().__init__(space, seed, feasible)
        self.history: list[tuple[Any, tuple[float, ...]]] = []

    def tell(self, archs: Sequence[Any], values: Sequence[Sequence[float]]) -> None:
        """Report the objective values (one length-``k`` sequence each) of proposed architectures."""
        if len(archs) != len(values):
            raise ValueError(f"got {len(archs)} architectures but {len(values)} value vectors")
        for arch, vector in zip(archs, values):
            point = tuple(float(value) for value in vector)
            k = len(self.history[0][1]) if self.history else len(point)
            if len(point) != k or k == 0:
                raise ValueError(f"expected {k or 'at least one'} objective values per architecture, got {vector!r}")
            self.history.append((arch, point))
            self._observe(arch, np.array(point))

    def _observe(self, arch: Any, point: np.ndarray) -> None:
        """Update the search state with one told point (nothing by default)."""


class MORandomSearch(MOBaseline):
    """Uniform sampling without replacement (of computational-equivalence classes)."""

    def _propose_one(self) -> Any:
        return self._random_fresh()


class NSGA2(MOBaseline):
    """NSGA-II, Deb, Pratap, Agarwal and Meyarivan, IEEE TEVC 2002, with mutation as the only variation.

    The first ``population_size`` proposals are random. After that, each proposal
    is a mutation (``space.mutate``; a fresh random cell when no unproposed
    mutant turns up) of a parent chosen by binary tournament on the crowded
    comparison: lower non-domination rank wins, then larger crowding distance,
    then a coin flip. Parents come from the population, or, before the first
    one is formed, from the cells told so far. Each time ``population_size``
    children have been told (one generation), environmental selection keeps the
    best ``population_size`` of parents and children: whole fronts in rank
    order, the front that does not fit by decreasing crowding distance. The
    first generation's parents are the first ``population_size`` told cells.
    ``ask(n)`` works for any ``n`` at any time, so batches and asynchronous
    replays need nothing more.
    """

    def __init__(self, space: Space, seed: int, population_size: int = 20,
                 feasible: Callable[[Any], bool] | None = None) -> None:
        population_size = check_int(population_size, "population_size", minimum=2)
        super().__init__(space, seed, feasible)
        self.population_size = population_size
        self.population: list[tuple[Any, np.ndarray]] = []
        self.children: list[tuple[Any, np.ndarray]] = []
        self._n_proposed = 0
        self._pool_order: tuple[np.ndarray, np.ndarray] | None = None

    def _propose_one(self) -> Any:
        self._n_proposed += 1
        pool = self.population or self.children
        if self._n_proposed <= self.population_size or not pool:
            return self._random_fresh()
        child = self._mutant_fresh(pool[self._tournament(pool)][0])
        return child if child is not None else self._random_fresh()

    def _tournament(self, pool: list[tuple[Any, np.ndarray]]) -> int:
        """The index in ``pool`` of the winner of a binary tournament under the crowded comparison."""
        if self._pool_order is None:
            self._pool_order = rank_and_crowding(np.array([point for _, point in pool]))
        ranks, crowding = self._pool_order
        if len(pool) == 1:
            return 0
        first, second = (int(i) for i in self.rng.choice(len(pool), size=2, replace=False))
        if ranks[first] != ranks[second]:
            return first if ranks[first] < ranks[second] else second
        if crowding[first] != crowding[second]:
            return first if crowding[first] > crowding[second] else second
        return first if self.rng.random() < 0.5 else second

    def _observe(self, arch: Any, point: np.ndarray) -> None:
        self.children.append((arch, point))
        if len(self.children) >= self.population_size:
            self.population = self._select(self.population + self.children)
            self.children = []
        self._pool_order = None

    def _select(self, members: list[tuple[Any, np.ndarray]]) -> list[tuple[Any, np.ndarray]]:
        """The best ``population_size`` of ``members`` by rank, then crowding distance within the last front."""
        ranks, crowding = rank_and_crowding(np.array([point for _, point in members]))
        order = np.lexsort((-crowding, ranks))
        return [members[i] for i in order[: self.population_size]]


MO_BASELINES: dict[str, type[MOBaseline]] = {
    "random": MORandomSearch,
    "nsga2": NSGA2,
}
