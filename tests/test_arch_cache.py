"""The bounded per-architecture memo computes exactly when functools.lru_cache would, keeps at most maxsize
answers, and keeps nothing for a computation that raises."""

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bonas.arch_cache import ArchCache
from bonas.candidates import Feasibility
from bonas.prior import CheapSignals
from bonas.spaces import NASBench201Space


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.integers(0, 12), max_size=60), maxsize=st.integers(1, 8))
def test_computes_exactly_when_lru_cache_would(keys, maxsize):
    ours_calls, theirs_calls = [], []
    cache = ArchCache(maxsize)

    def ours(key):
        ours_calls.append(key)
        return key * 3

    @functools.lru_cache(maxsize=maxsize)
    def theirs(key):
        theirs_calls.append(key)
        return key * 3

    for key in keys:
        assert cache.get(key, ours) == theirs(key) == key * 3
        assert len(cache) <= maxsize
    assert ours_calls == theirs_calls
    assert len(cache) == theirs.cache_info().currsize


def test_a_computation_that_raises_keeps_nothing():
    cache = ArchCache(4)

    def fails(key):
        raise ValueError(f"no answer for {key}")

    with pytest.raises(ValueError, match="no answer for 1"):
        cache.get(1, fails)
    assert len(cache) == 0
    assert cache.get(1, lambda key: key + 1) == 2


def test_maxsize_below_one_is_refused():
    with pytest.raises(ValueError, match="maxsize must be at least 1, got 0"):
        ArchCache(0)


def test_feasibility_and_cheap_signals_keep_answers_within_the_bound():
    space = NASBench201Space()
    archs = list(space.enumerate())[:30]
    calls = []

    def feasible(arch):
        calls.append(arch)
        return True

    constraint = Feasibility(feasible, space)
    constraint._answers = ArchCache(10)
    signals = CheapSignals(lambda arch: 1.0, space)
    signals._values = ArchCache(10)
    for arch in archs + archs[-5:]:
        assert constraint(arch) is True
        assert signals(arch) == (1.0,)
    assert len(constraint._answers) == len(signals._values) == 10
    assert calls == archs
