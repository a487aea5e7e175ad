"""Multi-objective baselines: no repeats, feasibility, NSGA-II's sorting and crowding, and NSGA-II beating random."""

import numpy as np
import pytest

from bonas import NASBench201Space, NASBench201Table
from bonas.replay.mo_baselines import (
    MO_BASELINES,
    NSGA2,
    crowding_distance,
    non_dominated_sort,
)
from bonas.replay.pareto import (
    HypervolumeScale,
    hypervolume_trajectory,
    nb201_objectives,
)

SPACE = NASBench201Space()
TABLE = NASBench201Table("cifar10")
OBJECTIVES, _ = nb201_objectives("cifar10", ["accuracy", "latency:eyeriss"])
SCALE = HypervolumeScale(OBJECTIVES)


def drive(strategy, queries: int, batch: int = 1) -> list:
    proposed = []
    while len(proposed) < queries:
        archs = strategy.ask(min(batch, queries - len(proposed)))
        strategy.tell(archs, [OBJECTIVES[TABLE.index(arch)] for arch in archs])
        proposed += archs
    return proposed


@pytest.mark.parametrize("name", sorted(MO_BASELINES))
@pytest.mark.parametrize("batch", [1, 7])
def test_never_proposes_an_equivalent_cell_twice(name, batch):
    proposed = drive(MO_BASELINES[name](SPACE, seed=0), 60, batch)
    assert len({SPACE.canonical_key(arch) for arch in proposed}) == len(proposed) == 60


@pytest.mark.parametrize("name", sorted(MO_BASELINES))
def test_proposes_only_feasible_cells(name):
    def feasible(arch):
        return arch.ops[0] != "none" and TABLE.latency(arch, "eyeriss") <= 6.0

    proposed = drive(MO_BASELINES[name](SPACE, seed=1, feasible=feasible), 50, batch=3)
    assert all(feasible(arch) for arch in proposed)


def test_same_seed_same_run():
    runs = [[SPACE.to_str(arch) for arch in drive(NSGA2(SPACE, seed=seed), 45)] for seed in (3, 3, 4)]
    assert runs[0] == runs[1] != runs[2]


def test_asks_before_any_tell_and_mismatched_tells():
    search = NSGA2(SPACE, seed=0, population_size=4)
    archs = search.ask(10)
    assert len({SPACE.canonical_key(arch) for arch in archs}) == 10
    with pytest.raises(ValueError, match="2 architectures but 1"):
        search.tell(archs[:2], [(1.0, 2.0)])
    search.tell(archs[:1], [(1.0, 2.0)])
    with pytest.raises(ValueError, match="expected 2 objective values"):
        search.tell(archs[1:2], [(1.0, 2.0, 3.0)])


def test_non_dominated_sort_ranks_a_known_example():
    Y = np.array([[3.0, 1.0], [1.0, 3.0], [2.0, 2.0], [1.0, 1.0], [2.0, 0.5], [0.0, 0.0], [2.0, 2.0]])
    np.testing.assert_array_equal(non_dominated_sort(Y), [0, 0, 0, 1, 1, 2, 0])


def test_crowding_distance_of_a_known_example():
    Y = np.array([[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]])
    # interior: (gap in objective 0 + gap in objective 1) / range 4
    np.testing.assert_allclose(crowding_distance(Y), [np.inf, (3 + 3) / 4, (3 + 3) / 4, np.inf])
    Y = np.array([[0.0, 10.0], [1.0, 9.0], [2.0, 5.0], [10.0, 0.0]])
    np.testing.assert_allclose(crowding_distance(Y), [np.inf, 2 / 10 + 5 / 10, 9 / 10 + 9 / 10, np.inf])
    assert np.isinf(crowding_distance(np.array([[1.0, 2.0], [2.0, 1.0]]))).all()


def test_environmental_selection_keeps_whole_fronts_then_the_least_crowded():
    search = NSGA2(SPACE, seed=0, population_size=4)
    archs = search.ask(4)
    search.tell(archs, [(0.0, 4.0), (4.0, 0.0), (1.0, 1.0), (0.0, 0.0)])
    children = search.ask(4)
    search.tell(children, [(1.0, 3.0), (1.2, 2.8), (3.0, 1.0), (2.0, 2.0)])
    kept = sorted(tuple(point) for _, point in search.population)
    # front 0 is the two extremes and the four children (crowding 0.6, 0.5, 1.0, 0.9): the extremes and the
    # two least crowded remain
    assert kept == [(0.0, 4.0), (2.0, 2.0), (3.0, 1.0), (4.0, 0.0)]
    assert search.children == []


def regrets_at(name: str, seed: int, checkpoints: tuple[int, ...]) -> np.ndarray:
    proposed = drive(MO_BASELINES[name](SPACE, seed=seed), max(checkpoints))
    trajectory = hypervolume_trajectory(SCALE, OBJECTIVES[[TABLE.index(arch) for arch in proposed]])
    return trajectory[[query - 1 for query in checkpoints]]


def test_nsga2_beats_random_search_on_nb201_accuracy_and_eyeriss_latency():
    """Mean hypervolume regret over 30 seeds at 100 and 150 queries (about 0.037 / 0.016 against 0.047 / 0.033).

    Three seeds are too few: on seeds 0-2 random search is the luckier (0.018 against 0.033 at 100 queries).
    """
    checkpoints = (100, 150)
    nsga2 = np.mean([regrets_at("nsga2", seed, checkpoints) for seed in range(30)], axis=0)
    random = np.mean([regrets_at("random", seed, checkpoints) for seed in range(30)], axis=0)
    assert (nsga2 < random).all()
