"""Candidate pools for acquisition: the whole space, or neighbourhoods of the best architectures.

Ranking a whole enumerable space by a GP tends to trap the search on plateaus
of look-alike cells; drawing candidates from the neighbourhoods of the best
observed architectures (plus a few random cells for exploration) keeps the
acquisition where the model is informed, as local search does. Every pool is
deduplicated by the space's canonical key and excludes architectures already
told or in flight.
"""

from __future__ import annotations

from collections.abc import Container, Hashable, Iterable, Sequence
from typing import Any

import numpy as np

from bonas.spaces.base import Space

CANDIDATE_STRATEGIES = ("all", "local")


def unique_unseen(space: Space, archs: Iterable[Any], excluded_keys: Container[Hashable]) -> list[Any]:
    """``archs`` in order, one per canonical key, without the excluded keys."""
    kept: dict[Hashable, Any] = {}
    for arch in archs:
        key = space.canonical_key(arch)
        if key not in excluded_keys and key not in kept:
            kept[key] = arch
    return list(kept.values())


def whole_space(space: Space, excluded_keys: Container[Hashable]) -> list[Any]:
    """One representative of every unseen class of an enumerable space."""
    if not space.is_enumerable:
        raise ValueError(f"space {space.name!r} cannot be enumerated; use candidates='local'")
    return unique_unseen(space, space.enumerate(), excluded_keys)


def local_pool(
    space: Space,
    ranked_archs: Sequence[Any],
    excluded_keys: Container[Hashable],
    rng: np.random.Generator,
    pool_size: int,
    n_parents: int = 5,
    n_random: int = 100,
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
    return unique_unseen(space, proposals, excluded_keys)[:pool_size]
