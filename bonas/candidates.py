"""Candidate pools for acquisition: the whole space, or neighbourhoods of the best architectures.

Ranking a whole enumerable space by a GP tends to trap the search on plateaus
of look-alike cells; drawing candidates from the neighbourhoods of the best
observed architectures (plus a few random cells for exploration) keeps the
acquisition where the model is informed, as local search does. Every pool is
deduplicated by the space's canonical key and excludes architectures already
told or in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Hashable, Iterable, Sequence
from typing import Any

import numpy as np

from bonas.arch_cache import ArchCache
from bonas.spaces.base import Space
from bonas.validation import journal_name

logger = logging.getLogger(__name__)

CANDIDATE_STRATEGIES = ("all", "local")
SAMPLE_ROUND = 40_000
"""Most architectures a random draw samples at once (``4 n`` for ``n`` up to 10,000)."""
STALE_ROUNDS = 3
"""Rounds of sampling that find no unseen architecture before an enumerable space is enumerated instead."""


class Feasibility:
    """A constraint known before training (params, FLOPs, a latency table): ``feasible(arch) -> bool``.

    Asks, candidate pools and random cells contain only architectures it accepts, so no evaluation is spent on
    one that could not be deployed. Answers are kept per architecture (the predicate may be a table look-up or
    a network build; the most recent :data:`~bonas.arch_cache.MAX_CACHED`); an answer that is not a bool is a
    ``ValueError`` naming the predicate and the cell.

    :param predicate: ``predicate(arch)`` is ``True`` for a feasible architecture of ``space``; the journal
        names it by its ``name`` attribute if it has one (e.g. :class:`bonas.networks.ParamBudget`), else by its
        qualified name.
    :param space: its space, for error messages.
    """

    def __init__(self, predicate: Callable[[Any], bool], space: Space) -> None:
        if not callable(predicate):
            raise ValueError(f"feasible must be a callable arch -> bool, got {type(predicate).__name__}")
        self.predicate = predicate
        self.space = space
        self.name = journal_name(predicate)
        self._answers: ArchCache[bool] = ArchCache()

    def __call__(self, arch: Any) -> bool:
        return self._answers.get(arch, self._answer)

    def _answer(self, arch: Any) -> bool:
        answer = self.predicate(arch)
        if not isinstance(answer, (bool, np.bool_)):
            raise ValueError(f"feasible ({self.name}) returned {answer!r} for {self.space.to_str(arch)}; "
                             "expected True or False")
        return bool(answer)

    def check_satisfiable(self) -> None:
        """``ValueError`` if an enumerable space has no feasible architecture at all (said at construction)."""
        if self.space.is_enumerable and not any(self(arch) for arch in self.space.enumerate()):
            raise ValueError(f"no architecture of space {self.space.name!r} is feasible ({self.name} rejects all "
                             "of them)")


class SpaceExhaustedError(RuntimeError):
    """Every architecture of the space has been asked (told, failed or in flight): nothing is left to propose."""


def what_is_left(space: Space, archs: list[Any], n: int, feasible: Feasibility | None = None) -> list[Any]:
    """``archs``, all that is left of the ``n`` asked for: :class:`SpaceExhaustedError` if none, logged if fewer."""
    if not archs:
        which = "architecture" if feasible is None else f"feasible architecture ({feasible.name})"
        raise SpaceExhaustedError(f"every {which} of space {space.name!r} has been asked; nothing left to propose")
    if len(archs) < n:
        logger.warning("only %d unseen architecture(s) are left in space %r; asking %d instead of %d",
                       len(archs), space.name, len(archs), n)
    return archs


def unique_unseen(space: Space, archs: Iterable[Any], excluded_keys: Container[Hashable],
                  feasible: Feasibility | None = None) -> list[Any]:
    """``archs`` in order, one per canonical key, without the excluded keys (and, given ``feasible``, without
    the infeasible architectures: an infeasible one does not take its class from a feasible equivalent)."""
    kept: dict[Hashable, Any] = {}
    for arch in archs:
        key = space.canonical_key(arch)
        if key not in excluded_keys and key not in kept and (feasible is None or feasible(arch)):
            kept[key] = arch
    return list(kept.values())


def whole_space(space: Space, excluded_keys: Container[Hashable], feasible: Feasibility | None = None) -> list[Any]:
    """One (feasible) representative of every unseen class of an enumerable space."""
    if not space.is_enumerable:
        raise ValueError(f"space {space.name!r} cannot be enumerated; use candidates='local'")
    return unique_unseen(space, space.enumerate(), excluded_keys, feasible)


def local_pool(
    space: Space,
    ranked_archs: Sequence[Any],
    excluded_keys: Container[Hashable],
    rng: np.random.Generator,
    pool_size: int,
    n_parents: int = 5,
    n_random: int = 100,
    feasible: Feasibility | None = None,
) -> list[Any]:
    """Neighbours of the ``n_parents`` best architectures, their mutations, and random cells.

    :param ranked_archs: observed architectures, best first.
    :returns: at most ``pool_size`` unseen architectures, one per canonical key
        (neighbours of better parents come first).
    """
    parents = list(ranked_archs[:n_parents])
    proposals: list[Any] = []
    for parent in parents:
        proposals.extend(space.neighbours(parent))
    n_mutations = max(0, pool_size - len(proposals) - n_random)
    for index in range(n_mutations):
        parent = parents[index % len(parents)]
        proposals.append(space.mutate(space.mutate(parent, rng), rng))
    proposals.extend(space.sample(n_random, rng))
    return unique_unseen(space, proposals, excluded_keys, feasible)[:pool_size]


def random_unseen(space: Space, n: int, rng: np.random.Generator, seen_keys: Container[Hashable],
                  exclude: Container[Hashable] = (), feasible: Feasibility | None = None) -> list[Any]:
    """Up to ``n`` random (``feasible``) architectures, one per class, none of whose keys is in ``seen_keys`` or
    ``exclude``.

    Samples in rounds of ``4 n`` (at most ``SAMPLE_ROUND``); after ``STALE_ROUNDS`` rounds in a row that find
    nothing new, an enumerable space is enumerated and its unseen classes drawn from, so a request for more
    than is left returns what is left instead of sampling forever. Fewer than ``n`` only when the space has
    fewer unseen classes, or when a space too large to enumerate keeps repeating itself.
    """
    chosen: dict[Hashable, Any] = {}

    def unseen(key: Hashable) -> bool:
        return key not in seen_keys and key not in chosen and key not in exclude

    stale = 0
    while len(chosen) < n and stale < STALE_ROUNDS:
        found = len(chosen)
        for arch in space.sample(min(4 * n, SAMPLE_ROUND), rng):
            key = space.canonical_key(arch)
            if unseen(key) and (feasible is None or feasible(arch)):
                chosen[key] = arch
            if len(chosen) == n:
                return list(chosen.values())
        stale = stale + 1 if len(chosen) == found else 0
    if space.is_enumerable:
        rest = [arch for arch in whole_space(space, seen_keys, feasible) if unseen(space.canonical_key(arch))]
        for index in rng.permutation(len(rest))[: n - len(chosen)]:
            chosen[space.canonical_key(rest[index])] = rest[index]
    return list(chosen.values())


def candidate_pool(space: Space, strategy: str, ranked_archs: Sequence[Any], seen_keys: Container[Hashable],
                   rng: np.random.Generator, pool_size: int, minimum: int,
                   feasible: Feasibility | None = None) -> list[Any]:
    """The unseen architectures a model-based ask chooses among.

    :param strategy: ``"all"`` (every unseen class, :func:`whole_space`) or ``"local"`` (:func:`local_pool`
        around ``ranked_archs``, best first; a random cell if that finds nothing).
    :param minimum: a pool smaller than this is widened with random unseen cells up to it (a batch as large
        as the pool would leave the model no choice).
    :param feasible: only architectures it accepts enter the pool.
    """
    if strategy == "all":
        pool = whole_space(space, seen_keys, feasible)
    else:
        pool = (local_pool(space, ranked_archs, seen_keys, rng, pool_size, feasible=feasible)
                or random_unseen(space, 1, rng, seen_keys, feasible=feasible))
    if len(pool) < minimum:
        keys = {space.canonical_key(arch) for arch in pool}
        pool += random_unseen(space, minimum - len(pool), rng, seen_keys, exclude=keys, feasible=feasible)
    return pool
