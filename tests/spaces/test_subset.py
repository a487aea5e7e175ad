"""SubsetSpace: a finite subset searched as a space (the cells a table covers)."""

import numpy as np
import pytest

from bonas.encoders import make_encoder
from bonas.spaces import NASBench201Space, SubsetSpace

BASE = NASBench201Space()
MEMBERS = BASE.sample(3000, np.random.default_rng(0))


@pytest.fixture(scope="module")
def subset():
    return SubsetSpace(BASE, MEMBERS, radius=2)


def test_sampling_enumeration_and_membership(subset):
    keys = {BASE.canonical_key(arch) for arch in MEMBERS}
    assert all(BASE.canonical_key(arch) in keys for arch in subset.sample(200, np.random.default_rng(1)))
    assert list(subset.enumerate()) == MEMBERS and subset.is_enumerable
    outsider = next(arch for arch in BASE.enumerate() if BASE.canonical_key(arch) not in keys)
    assert outsider not in subset
    with pytest.raises(ValueError, match="not one of the 3,000 members"):
        subset.validate(outsider)


def test_neighbours_are_the_members_within_the_radius(subset):
    keys = {BASE.canonical_key(arch) for arch in MEMBERS}
    arch = MEMBERS[5]
    one = {BASE.canonical_key(cell) for cell in BASE.neighbours(arch)}
    two = one | {BASE.canonical_key(far) for cell in BASE.neighbours(arch) for far in BASE.neighbours(cell)}
    two.discard(BASE.canonical_key(arch))
    assert {BASE.canonical_key(cell) for cell in subset.neighbours(arch)} == two & keys
    assert len(subset.neighbours(arch)) == len(two & keys)


def test_mutations_stay_in_the_subset_and_move(subset):
    rng = np.random.default_rng(2)
    for arch in MEMBERS[:20]:
        child = subset.mutate(arch, rng)
        assert child in subset and BASE.canonical_key(child) != BASE.canonical_key(arch)


def test_precomputed_neighbours_are_used_and_checked():
    members = MEMBERS[:3]
    subset = SubsetSpace(BASE, members, neighbour_rows=[[1, 2], [0], []])
    assert subset.neighbours(members[0]) == [members[1], members[2]]
    assert subset.neighbours(members[2]) == []
    with pytest.raises(ValueError, match="neighbour_rows has 2 entries for 3 members"):
        SubsetSpace(BASE, members, neighbour_rows=[[1], [0]])


def test_encoders_see_the_base_space(subset):
    for name in ("tw", "path", "adjacency"):
        assert np.array_equal(make_encoder(name, subset).encode(MEMBERS[:10]), make_encoder(name, BASE).encode(MEMBERS[:10]))


def test_bad_construction_is_named():
    with pytest.raises(ValueError, match="radius must be an integer >= 1, got 0"):
        SubsetSpace(BASE, MEMBERS, radius=0)
    with pytest.raises(ValueError, match="at least one member"):
        SubsetSpace(BASE, [])
