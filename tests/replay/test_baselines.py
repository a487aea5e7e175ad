"""Baselines: no repeats, seeded, each follows its published rule, bad options named."""

import numpy as np
import pytest
import torch

from bonas import NASBench201Space, NASBench201Table
from bonas.replay.baselines import BASELINES, Bananas, LocalSearch, RegularizedEvolution

SPACE = NASBench201Space()
TABLE = NASBench201Table("cifar100")


def drive(strategy, queries: int, batch: int = 1) -> list:
    proposed = []
    while len(proposed) < queries:
        archs = strategy.ask(batch)
        strategy.tell(archs, [TABLE.query(arch).test_accuracy for arch in archs])
        proposed += archs
    return proposed


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("batch", [1, 4])
def test_never_proposes_an_equivalent_cell_twice(name, batch):
    proposed = drive(BASELINES[name](SPACE, seed=0), 40, batch)
    assert len({SPACE.canonical_key(arch) for arch in proposed}) == len(proposed) == 40


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_same_seed_same_run_other_seed_other_run(name):
    runs = [[SPACE.to_str(arch) for arch in drive(BASELINES[name](SPACE, seed=seed), 25)] for seed in (1, 1, 2)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_local_search_climbs_by_first_improvement_and_restarts_at_a_local_optimum():
    search = LocalSearch(SPACE, seed=0, n_starts=10)
    proposed = drive(search, 10)
    best = max(proposed, key=lambda arch: TABLE.query(arch).test_accuracy)
    assert search.center[0] == best
    neighbour_keys = {SPACE.canonical_key(arch) for arch in SPACE.neighbours(best)}
    (step,) = search.ask(1)
    assert SPACE.canonical_key(step) in neighbour_keys
    search.tell([step], [TABLE.query(step).test_accuracy])
    climbed, last_center = 0, None
    for _ in range(300):
        last_center = search.center
        (arch,) = search.ask(1)
        value = TABLE.query(arch).test_accuracy
        search.tell([arch], [value])
        if value > last_center[1]:
            assert search.center == (arch, value)
            climbed += 1
        if search.center is None:
            break
    assert climbed > 0
    assert search.center is None, "a local optimum must trigger a restart"
    told = {SPACE.canonical_key(arch): value for arch, value in search.history}
    for neighbour in SPACE.neighbours(last_center[0]):
        assert told.get(SPACE.canonical_key(neighbour), -np.inf) <= last_center[1]


def test_regularized_evolution_mutates_tournament_winners_of_the_living_population():
    evolution = RegularizedEvolution(SPACE, seed=0, population_size=10, tournament_size=3)
    drive(evolution, 10)
    living = {SPACE.to_str(arch) for arch, _ in evolution.population}
    (child,) = evolution.ask(1)
    parents = [arch for arch, _ in evolution.population
               if SPACE.to_str(arch) in living and child in SPACE.neighbours(arch)]
    assert parents, "the child must be one mutation away from a living member"
    evolution.tell([child], [TABLE.query(child).test_accuracy])
    assert len(evolution.population) == 10 and evolution.population[-1][0] == child


def test_bananas_ensemble_fits_its_training_data():
    bananas = Bananas(SPACE, seed=0, epochs=300)
    archs = SPACE.sample(40, np.random.default_rng(0))
    X = bananas.encoder.encode(archs).float()
    y = torch.tensor([TABLE.query(arch).test_accuracy for arch in archs])
    predictions = bananas._fit_predict(X, y, X)
    assert predictions.shape == (5, 40)
    assert (predictions.mean(0) - y).abs().mean() < 0.5 * (y - y.mean()).abs().mean()


@pytest.mark.parametrize(
    ("cls", "options", "message"),
    [
        (RegularizedEvolution, {"population_size": 0}, "population_size must be an integer >= 1, got 0"),
        (RegularizedEvolution, {"population_size": 4, "tournament_size": 5}, "tournament_size (5) exceeds"),
        (LocalSearch, {"n_starts": 2.5}, "n_starts must be an integer >= 1, got 2.5"),
        (Bananas, {"lr": -1.0}, "lr must be a positive finite number, got -1.0"),
    ],
)
def test_bad_options_are_named(cls, options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cls(SPACE, seed=0, **options)


def test_tell_rejects_mismatched_lengths():
    search = BASELINES["random"](SPACE, seed=0)
    archs = search.ask(2)
    with pytest.raises(ValueError, match="2 architectures but 1 values"):
        search.tell(archs, [1.0])
