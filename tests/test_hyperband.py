"""Hyperband and BOHB-style baselines: the published brackets, successive halving, fresh cells, seeded, bad options."""

import hashlib
from itertools import pairwise

import pytest

from bonas.replay.hyperband import (
    FIDELITY_BASELINES,
    BOHBStyle,
    Hyperband,
    hyperband_brackets,
)
from bonas.spaces import NASBench201Space

SPACE = NASBench201Space()
GEOMETRIC = (1, 3, 9, 27, 81)


def fake_value(arch, fidelity) -> float:
    """A fixed pseudo-random number in [0, 1) per (cell, fidelity), so that rankings differ between fidelities."""
    digest = hashlib.sha256(f"{SPACE.to_str(arch)}@{fidelity}".encode()).hexdigest()
    return int(digest[:8], 16) / 2**32


def drive(strategy, evaluations: int, value=fake_value) -> list[tuple]:
    """``evaluations`` asks and tells, strictly one after the other: the ``(arch, fidelity, value)`` told."""
    told = []
    for _ in range(evaluations):
        arch, fidelity = strategy.ask()
        result = value(arch, fidelity)
        strategy.tell(arch, fidelity, result)
        told.append((arch, fidelity, result))
    return told


def rungs(strategy, told: list[tuple]) -> list[list[list[tuple]]]:
    """``told`` cut into brackets (cycling through the schedule) and their rungs, of the scheduled sizes."""
    brackets, position, number = [], 0, 0
    while position < len(told):
        bracket = []
        for n, fidelity in strategy.schedule[number % len(strategy.schedule)]:
            rung = told[position:position + n]
            assert all(rung_fidelity == fidelity for _, rung_fidelity, _ in rung)
            bracket.append(rung)
            position += n
        brackets.append(bracket)
        number += 1
    return brackets


def test_brackets_match_the_published_table_for_R_81_eta_3():
    expected = [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]
    brackets = hyperband_brackets(1, 81, 3)
    assert [[n for n, _ in bracket] for bracket in brackets] == [[n for n, _ in bracket] for bracket in expected]
    budgets = [budget for bracket in brackets for _, budget in bracket]
    assert budgets == pytest.approx([budget for bracket in expected for _, budget in bracket])
    scaled = hyperband_brackets(2, 162, 3)
    assert [[n for n, _ in bracket] for bracket in scaled] == [[n for n, _ in bracket] for bracket in expected]
    assert [budget / 2 for bracket in scaled for _, budget in bracket] == pytest.approx(budgets)


def test_brackets_of_12_and_200_epochs():
    brackets = hyperband_brackets(12, 200, 200 / 12)
    assert [[n for n, _ in bracket] for bracket in brackets] == [[17, 1], [2]]
    assert [[budget for _, budget in bracket] for bracket in brackets] == [
        [pytest.approx(12), pytest.approx(200)], [pytest.approx(200)]]


@pytest.mark.parametrize("arguments", [(0, 81, 3), (81, 1, 3), (1, 81, 1), (1, 81, 0.5)])
def test_bad_bracket_arguments_are_named(arguments):
    with pytest.raises(ValueError, match="budget|eta"):
        hyperband_brackets(*arguments)


def test_12_and_200_epochs_run_17_then_1_promoted_then_2_and_cycle():
    hyperband = Hyperband(SPACE, seed=0)
    assert hyperband.schedule == [[(17, 12), (1, 200)], [(2, 200)]]
    assert hyperband.eta == pytest.approx(200 / 12)
    told = drive(hyperband, 3 * 20)
    assert [fidelity for _, fidelity, _ in told] == ([12] * 17 + [200] + [200] * 2) * 3
    assert all(type(fidelity) is int for _, fidelity, _ in told)
    for start in (0, 20, 40):
        first_rung = told[start:start + 17]
        best = max(first_rung, key=lambda item: item[2])[0]
        assert told[start + 17][0] == best
    assert hyperband.n_brackets_started == 6


def test_promotions_are_the_best_by_value_and_rung_0_cells_are_fresh():
    hyperband = Hyperband(SPACE, seed=1, fidelities=GEOMETRIC)
    assert hyperband.eta == pytest.approx(3)
    cycle = sum(n for bracket in hyperband.schedule for n, _ in bracket)
    assert cycle == 121 + 49 + 21 + 10 + 5
    told = drive(hyperband, 2 * cycle + 30)  # stops in the middle of a bracket
    seen = set()
    for bracket in rungs(hyperband, told):
        for rung in bracket[:1]:
            keys = [SPACE.canonical_key(arch) for arch, _, _ in rung]
            assert len(set(keys)) == len(keys) and not seen & set(keys)
            seen |= set(keys)
        for lower, upper in pairwise(bracket):
            ranked = sorted(lower, key=lambda item: -item[2])
            assert [arch for arch, _, _ in upper] == [arch for arch, _, _ in ranked[:len(upper)]]
    evaluated = [(SPACE.canonical_key(arch), fidelity) for arch, fidelity, _ in told]
    assert len(set(evaluated)) == len(evaluated)


def test_promotion_ties_go_to_the_earlier_tell():
    told = drive(Hyperband(SPACE, seed=2), 18, value=lambda arch, fidelity: 0.5)
    assert told[17][0] == told[0][0]
    values = iter([0.1, 0.2, 0.9, 0.3, 0.9, *[0.2] * 12, 0.5])
    told = drive(Hyperband(SPACE, seed=2), 18, value=lambda arch, fidelity: next(values))
    assert told[17][0] == told[2][0]


def test_recommend_is_the_best_cell_told_at_the_top_fidelity():
    hyperband = Hyperband(SPACE, seed=3)
    assert hyperband.recommend() is None
    early = drive(hyperband, 17)
    assert hyperband.recommend() is None, "nothing is evaluated at 200 epochs yet"
    told = drive(hyperband, 50)
    top = [(arch, value) for arch, fidelity, value in told if fidelity == 200]
    assert len(top) == 9  # 3 promotions and 3 times 2 cells at 200 epochs in asks 18 to 67
    assert hyperband.recommend() == max(top, key=lambda item: item[1])[0]
    assert hyperband.history == early + told


def test_same_seed_same_sequence_other_seed_other_sequence():
    runs = [[(SPACE.to_str(arch), fidelity) for arch, fidelity, _ in drive(Hyperband(SPACE, seed=seed), 60)]
            for seed in (5, 5, 6)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_asks_and_tells_alternate_strictly():
    hyperband = Hyperband(SPACE, seed=0)
    with pytest.raises(ValueError, match="nothing asked"):
        hyperband.tell(SPACE.sample(1, hyperband.rng)[0], 12, 0.5)
    arch, fidelity = hyperband.ask()
    with pytest.raises(RuntimeError, match="before the tell"):
        hyperband.ask()
    with pytest.raises(ValueError, match="fidelity 200"):
        hyperband.tell(arch, 200, 0.5)
    with pytest.raises(ValueError, match="finite"):
        hyperband.tell(arch, fidelity, float("nan"))
    hyperband.tell(arch, fidelity, 0.5)
    assert hyperband.history == [(arch, 12, 0.5)]


@pytest.mark.parametrize(("options", "named"), [
    ({"fidelities": (12, 50, 200)}, r"\[12, 50, 200\]"),
    ({"fidelities": (12, 200), "eta": 3}, r"\[12, 200\]"),
    ({"fidelities": GEOMETRIC, "eta": 2}, r"\[1, 3, 9, 27, 81\]"),
    ({"fidelities": (12, 200), "eta": 1}, "eta"),
    ({"fidelities": (200,)}, r"\[200\]"),
    ({"fidelities": (12, 12, 200)}, r"\[12, 12, 200\]"),
    ({"fidelities": (0, 12)}, r"\[0, 12\]"),
])
def test_bad_fidelities_or_eta_are_named(options, named):
    with pytest.raises(ValueError, match=named):
        Hyperband(SPACE, seed=0, **options)


def test_an_explicit_eta_may_skip_declared_fidelities():
    hyperband = Hyperband(SPACE, seed=0, fidelities=(81, 9, 1, 3), eta=9)
    assert hyperband.fidelities == (1, 3, 9, 81)
    assert hyperband.schedule == [[(81, 1), (9, 9), (1, 81)], [(14, 9), (1, 81)], [(3, 81)]]


@pytest.mark.parametrize(("options", "named"), [
    ({"min_points": 1}, "min_points"), ({"random_fraction": 1.5}, "random_fraction")])
def test_bad_bohb_options_are_named(options, named):
    with pytest.raises(ValueError, match=named):
        BOHBStyle(SPACE, seed=0, **options)


def test_bohb_is_hyperband_until_a_fidelity_has_min_points_values():
    bohb, hyperband = BOHBStyle(SPACE, seed=4, min_points=18), Hyperband(SPACE, seed=4)
    assert drive(bohb, 38) == drive(hyperband, 38)  # 34 values at 12 epochs only when the 4th bracket starts
    assert bohb.model_fidelity is None and bohb.n_model_proposed == 0


def test_bohb_proposes_fresh_cells_from_the_gp_on_the_highest_fidelity_with_enough_values():
    bohb, hyperband = BOHBStyle(SPACE, seed=7, min_points=3), Hyperband(SPACE, seed=7)
    first = drive(bohb, 18)
    assert first == drive(hyperband, 18), "no fidelity had 3 values before the second bracket"
    second = drive(bohb, 2)  # 17 values at 12 epochs, 1 at 200: the GP models 12 epochs, proposes 1 of 2
    assert bohb.model_fidelity == 12 and bohb.n_model_proposed == 1
    third = drive(bohb, 17)  # 3 values at 200 epochs: the GP models 200 epochs, proposes 11 of 17
    assert bohb.model_fidelity == 200 and 0 < bohb.n_model_proposed <= 11
    drive(hyperband, 2)
    random_third = drive(hyperband, 17)
    assert {SPACE.to_str(arch) for arch, _, _ in third} != {SPACE.to_str(arch) for arch, _, _ in random_third}
    rung_0 = [SPACE.canonical_key(arch) for arch, _, _ in first[:17] + second + third]
    assert len(set(rung_0)) == len(rung_0), "a GP proposal repeats a cell evaluated before"
    assert drive(BOHBStyle(SPACE, seed=7, min_points=3), 20) == first + second, "the same seed, the same GP asks"


def test_bohb_builds_no_gp_for_a_bracket_whose_rung_0_is_all_random():
    bohb = BOHBStyle(SPACE, seed=9, min_points=3, random_fraction=0.75)
    told = drive(bohb, 20)  # the second bracket's 2 cells: floor(0.75 * 2 + 1/2) = 2 random
    assert bohb.model_fidelity is None and bohb.n_model_proposed == 0
    assert told == drive(Hyperband(SPACE, seed=9), 20)


def test_bohb_with_random_fraction_1_is_hyperband():
    bohb = BOHBStyle(SPACE, seed=8, min_points=2, random_fraction=1.0)
    assert drive(bohb, 40) == drive(Hyperband(SPACE, seed=8), 40)


def test_registry_names_both():
    assert FIDELITY_BASELINES == {"hyperband": Hyperband, "bohb": BOHBStyle}
