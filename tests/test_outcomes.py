"""Named objectives and measured constraints: the Outcomes declaration, tell with dicts, Pareto fronts, journals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bonas import NASBench201Space, NASBench201Table, Optimizer
from bonas.outcome_proposal import reference_point, signed_bounds
from bonas.outcomes import Outcomes, pareto_indices
from bonas.settings import OptimizerSettings


@pytest.fixture(scope="module")
def table() -> NASBench201Table:
    return NASBench201Table("cifar10")


def metrics_of(table: NASBench201Table, arch) -> dict[str, float]:
    row = table.index(arch)
    return {"accuracy": float(table.metric("test_accuracy")[row]),
            "latency_ms": float(table.latency_column("eyeriss")[row])}


@pytest.mark.parametrize("objectives, constraints, message", [
    ({"accuracy": "maximise"}, None, "expected 'max' or 'min'"),
    ({}, None, "objectives is empty"),
    (None, {"latency_ms": ("<=", 14.0)}, "constraints= needs objectives="),
    ({"accuracy": "max"}, {"latency_ms": ("<", 14.0)}, "expected '<=' or '>='"),
    ({"accuracy": "max"}, {"latency_ms": ("<=", float("nan"))}, "bound of the constraint on 'latency_ms'"),
    ({"accuracy": "max"}, {"latency_ms": 14.0}, "expected (operator, bound)"),
    ({"": "max"}, None, "non-empty string"),
])
def test_bad_declarations_are_named_errors(objectives, constraints, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Optimizer(NASBench201Space(), objectives=objectives, constraints=constraints)


def test_directions_come_from_the_objectives_not_maximize() -> None:
    with pytest.raises(ValueError, match="maximize=False is for one unnamed objective"):
        Optimizer(NASBench201Space(), objectives={"error": "min"}, maximize=False)
    with pytest.raises(ValueError, match="outcome_transform='copula' is for one unnamed objective"):
        Optimizer(NASBench201Space(), objectives={"accuracy": "max"}, outcome_transform="copula")


@pytest.mark.parametrize("told, message", [
    ({"accuracy": 93.0}, r"missing \['latency_ms'\]"),
    ({"accuracy": 93.0, "latency_ms": 3.0, "memory": 1.0}, r"unknown \['memory'\]"),
    ({"accuracy": float("nan"), "latency_ms": 3.0}, r"\['accuracy'\] must be a finite number"),
    (93.0, "expected a dict with"),
])
def test_bad_tells_are_named_errors_and_leave_the_journal_unchanged(tmp_path, told, message) -> None:
    path = tmp_path / "journal.jsonl"
    opt = Optimizer(NASBench201Space(), objectives={"accuracy": "max", "latency_ms": "min"}, storage=path)
    trial = opt.ask(1)[0]
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message):
        opt.tell(trial, told)
    assert path.read_bytes() == before
    assert opt.pending == [trial]
    opt.tell(trial, {"accuracy": 93.0, "latency_ms": 3.0})
    assert trial.values == {"accuracy": 93.0, "latency_ms": 3.0} and trial.value is None


def test_an_unnamed_optimizer_refuses_a_dict() -> None:
    opt = Optimizer(NASBench201Space())
    trial = opt.ask(1)[0]
    with pytest.raises(ValueError, match="one unnamed objective and takes a number"):
        opt.tell(trial, {"accuracy": 93.0})


def test_one_named_objective_takes_a_number_or_a_dict() -> None:
    opt = Optimizer(NASBench201Space(), objectives={"error": "min"})
    first, second = opt.ask(2)
    opt.tell(first, 7.5)
    opt.tell(second, {"error": 6.0})
    assert opt.best_trial is second and second.value == 6.0 and second.values == {"error": 6.0}


def test_multi_objective_best_trial_points_to_the_pareto_front(table) -> None:
    opt = Optimizer(table.space, objectives={"accuracy": "max", "latency_ms": "min"})
    with pytest.raises(ValueError, match=r"use pareto_front\(\)"):
        opt.best_trial
    archs = {table.space.canonical_key(arch): arch for arch in table.space.sample(30, np.random.default_rng(0))}
    for arch in archs.values():
        opt.attach(arch, metrics_of(table, arch))
    front = opt.pareto_front()
    points = [(t.values["accuracy"], -t.values["latency_ms"]) for t in opt.completed]
    dominated = [any(o[0] >= p[0] and o[1] >= p[1] and o != p for o in points) for p in points]
    assert [t.id for t in front] == [t.id for t, d in zip(opt.completed, dominated) if not d]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=12))
def test_pareto_indices_keep_every_non_dominated_row_and_ties(points) -> None:
    signed = torch.tensor(points, dtype=torch.double)
    expected = [i for i, p in enumerate(points)
                if not any(all(a >= b for a, b in zip(o, p)) and o != p for o in points)]
    assert pareto_indices(signed) == expected


def test_constrained_best_trial_is_the_best_feasible_one() -> None:
    opt = Optimizer(NASBench201Space(), objectives={"accuracy": "max"}, constraints={"latency_ms": ("<=", 5.0)})
    fast, slow = opt.ask(2)
    assert opt.best_trial is None
    opt.tell(slow, {"accuracy": 94.0, "latency_ms": 9.0})
    assert opt.best_trial is None, "an infeasible result is no best trial"
    opt.tell(fast, {"accuracy": 90.0, "latency_ms": 5.0})
    assert opt.best_trial is fast, "bounds are inclusive"
    assert opt.pareto_front() == [fast]


def test_signed_bounds_follow_the_objective_directions() -> None:
    outcomes = Outcomes((("accuracy", "max"), ("latency_ms", "min")),
                        (("latency_ms", "<=", 14.0), ("accuracy", ">=", 70.0), ("memory", "<=", 2.0)))
    assert outcomes.metrics == ("accuracy", "latency_ms", "memory")
    # constrained objectives get outputs of their own after the metrics (latency 3, accuracy 4); the latency model
    # is fitted to -latency: latency <= 14 is -latency >= -14
    assert signed_bounds(outcomes) == {3: (-14.0, None), 4: (70.0, None), 2: (None, 2.0)}
    assert outcomes.violation({"accuracy": 65.0, "latency_ms": 15.5, "memory": 1.0}) == pytest.approx(1.5 / 14 + 5 / 70)


def test_reference_point_is_below_every_feasible_observation_not_only_the_front() -> None:
    """A dominated feasible cell (60 %, 2 ms) sets the reference: the fast end still counts before it is reached."""
    signed = torch.tensor([[90.0, -3.0], [94.0, -8.0], [99.0, -1.0], [60.0, -2.0]], dtype=torch.double)
    ref = reference_point(signed, [True, True, False, True])
    assert bool((ref < torch.tensor([60.0, -8.0], dtype=torch.double)).all())
    assert bool((reference_point(signed, [False] * 4) < torch.tensor([60.0, -8.0], dtype=torch.double)).all())


@pytest.mark.parametrize("constraints", [None, {"latency_ms": ("<=", 3.0)}])
def test_a_resumed_named_optimizer_asks_what_the_original_would(tmp_path, table, constraints) -> None:
    objectives = {"accuracy": "max", "latency_ms": "min"} if constraints is None else {"accuracy": "max"}

    def run(storage, asks):
        opt = Optimizer(table.space, objectives=objectives, constraints=constraints, n_initial=4, seed=3,
                        deterministic=True, storage=storage)
        for _ in range(asks):
            trial = opt.ask(1)[0]
            opt.tell(trial, metrics_of(table, trial.arch))
        return opt

    path = tmp_path / "journal.jsonl"
    first = run(path, 7)
    first.close()
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert "objectives" in events[0]["settings"]
    assert any("kernels" in event for event in events if event["event"] == "ask")
    resumed = Optimizer.load(path, device="cpu")
    straight = run(None, 7)
    assert resumed.ask(1)[0].arch_str == straight.ask(1)[0].arch_str
    assert [t.values for t in resumed.completed] == [t.values for t in straight.completed]


def test_unnamed_settings_write_no_outcome_fields() -> None:
    written = OptimizerSettings(space="nb201").to_json()
    assert "objectives" not in written and "constraints" not in written
    named = OptimizerSettings(space="nb201", objectives=(("accuracy", "max"),),
                              constraints=(("latency_ms", "<=", 14.0),))
    assert OptimizerSettings.from_json(json.loads(json.dumps(named.to_json()))) == named


def test_constrained_asks_learn_the_measured_constraint(table) -> None:
    """After the random start, the constraint GP steers asks to cells under the limit: far more of them are
    feasible than of random cells (22 % of NB201 cells are under 3.9 ms on eyeriss)."""
    opt = Optimizer(table.space, objectives={"accuracy": "max"}, constraints={"latency_ms": ("<=", 3.9)},
                    n_initial=10, seed=0, deterministic=True)
    feasible_share = float(np.mean(table.latency_column("eyeriss") <= 3.9))
    model_based = []
    for query in range(25):
        trial = opt.ask(1)[0]
        told = metrics_of(table, trial.arch)
        opt.tell(trial, told)
        if query >= 10:
            model_based.append(told["latency_ms"] <= 3.9)
            assert opt.last_selection == "logcei"
    assert np.mean(model_based) > feasible_share + 0.25
    assert opt.best_trial is not None and opt.best_trial.values["latency_ms"] <= 3.9


@pytest.mark.parametrize("deterministic, acquisition", [(True, "qlogehvi+qlognehvi"), (False, "qlognehvi")])
def test_multi_objective_asks_use_hypervolume_improvement_and_batches_are_distinct(table, deterministic,
                                                                                  acquisition) -> None:
    opt = Optimizer(table.space, objectives={"accuracy": "max", "latency_ms": "min"}, n_initial=6, seed=1,
                    deterministic=deterministic)
    for _ in range(6):
        trial = opt.ask(1)[0]
        opt.tell(trial, metrics_of(table, trial.arch))
    batch = opt.ask(3)
    assert opt.last_selection == acquisition and opt.last_fit == "fit"
    keys = {table.space.canonical_key(trial.arch) for trial in batch}
    assert len(keys) == 3
    for trial in batch:
        opt.tell(trial, metrics_of(table, trial.arch))
    assert all(math.isfinite(t.values["latency_ms"]) for t in opt.pareto_front())


def test_other_batch_rules_are_refused_with_several_objectives() -> None:
    opt = Optimizer(NASBench201Space(), objectives={"accuracy": "max", "latency_ms": "min"})
    with pytest.raises(ValueError, match="chooses batches greedily"):
        opt.ask(4, batch="kdpp")
    assert len(opt.ask(4)) == 4 and len(opt.ask(2, batch="greedy")) == 2


def test_a_constraint_on_the_objective_itself_is_modelled_on_an_output_of_its_own(table) -> None:
    opt = Optimizer(table.space, objectives={"accuracy": "max"}, constraints={"accuracy": (">=", 70.0)},
                    n_initial=4, seed=2, deterministic=True)
    for _ in range(7):
        trial = opt.ask(1)[0]
        opt.tell(trial, {"accuracy": metrics_of(table, trial.arch)["accuracy"]})
    assert opt.last_selection == "logcei"
    assert signed_bounds(opt.outcomes) == {1: (70.0, None)}


def test_several_objectives_with_a_constraint_and_pending_trials(table) -> None:
    """Pending trials with a noise-free objective go to qLogNEHVI (qLogEHVI's cost is exponential in them)."""
    opt = Optimizer(table.space, objectives={"accuracy": "max", "latency_ms": "min"},
                    constraints={"latency_ms": ("<=", 6.0)}, n_initial=5, seed=4, deterministic=True)
    for _ in range(5):
        trial = opt.ask(1)[0]
        opt.tell(trial, metrics_of(table, trial.arch))
    in_flight = opt.ask(3)
    assert opt.last_selection == "qlogehvi+qlognehvi"
    more = opt.ask(2)
    assert opt.last_selection == "qlognehvi" and len({t.arch_str for t in in_flight + more}) == 5
    for trial in in_flight + more:
        opt.tell(trial, metrics_of(table, trial.arch))
    assert all(t.values["latency_ms"] <= 6.0 for t in opt.pareto_front())


def test_a_noisy_multi_objective_resume_asks_the_same_and_leaves_the_global_generator_alone(tmp_path, table) -> None:
    def run(storage):
        opt = Optimizer(table.space, objectives={"accuracy": "max", "latency_ms": "min"}, n_initial=4, seed=5,
                        storage=storage)
        for _ in range(6):
            trial = opt.ask(1)[0]
            opt.tell(trial, metrics_of(table, trial.arch))
        return opt

    path = tmp_path / "noisy.jsonl"
    run(path).close()
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    straight = run(None)
    assert straight.last_selection == "qlognehvi"
    assert torch.equal(torch.random.get_rng_state(), state)
    assert Optimizer.load(path).ask(1)[0].arch_str == straight.ask(1)[0].arch_str


def test_attached_dicts_replay_and_a_read_only_load_has_the_front(tmp_path, table) -> None:
    path = tmp_path / "attached.jsonl"
    opt = Optimizer(table.space, objectives={"accuracy": "max", "latency_ms": "min"}, storage=path)
    archs = {table.space.canonical_key(arch): arch for arch in table.space.sample(8, np.random.default_rng(3))}
    for arch in archs.values():
        opt.attach(arch, metrics_of(table, arch))
    front = [t.arch_str for t in opt.pareto_front()]
    loaded = Optimizer.load(path, read_only=True)
    assert [t.arch_str for t in loaded.pareto_front()] == front
    assert [t.values for t in loaded.completed] == [t.values for t in opt.completed]


@pytest.mark.parametrize("fields, message", [
    ({"objectives": {"accuracy": "max"}}, "objectives is {'accuracy': 'max'}; expected a sequence"),
    ({"objectives": "accuracy"}, "objectives is 'accuracy'"),
    ({"objectives": (("accuracy", "max"),), "constraints": ("lat",)}, "an entry of constraints is 'lat'"),
    ({"objectives": (("a", "max"), ("b", "min")), "acquisition": "ucb"}, "acquisition='ucb' is for one objective"),
])
def test_malformed_settings_name_what_is_wrong(fields, message) -> None:
    with pytest.raises(ValueError, match=message):
        OptimizerSettings(space="nb201", **fields)


def test_constraints_given_as_a_list_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="constraints is"):
        Optimizer(NASBench201Space(), objectives={"accuracy": "max"}, constraints=[("lat", "<=", 3)])


def test_violation_weighs_constraints_in_different_units_alike() -> None:
    outcomes = Outcomes((("accuracy", "max"),), (("latency_ms", "<=", 10.0), ("params", "<=", 1e6)))
    assert outcomes.violation({"accuracy": 90.0, "latency_ms": 11.0, "params": 1.1e6}) == pytest.approx(0.2)
