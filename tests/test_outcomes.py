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
    # the latency model is fitted to -latency: latency <= 14 is -latency >= -14
    assert signed_bounds(outcomes) == {1: (-14.0, None), 0: (70.0, None), 2: (None, 2.0)}
    assert outcomes.violation({"accuracy": 65.0, "latency_ms": 15.5, "memory": 1.0}) == pytest.approx(6.5)


def test_reference_point_is_below_the_feasible_front() -> None:
    signed = torch.tensor([[90.0, -3.0], [94.0, -8.0], [99.0, -1.0]], dtype=torch.double)
    ref = reference_point(signed, [True, True, False])
    assert bool((ref < torch.tensor([90.0, -8.0], dtype=torch.double)).all())


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


@pytest.mark.parametrize("deterministic, acquisition", [(True, "qlogehvi"), (False, "qlognehvi")])
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
