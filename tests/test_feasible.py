"""Constraints known before training: ``Optimizer(feasible=...)`` asks only feasible architectures."""

import shutil

import numpy as np
import pytest

from bonas import NASBench201Space, NASBench201Table, Optimizer, SpaceExhaustedError, SubsetSpace

SPACE = NASBench201Space()
TABLE = NASBench201Table("cifar100")
PARAMS = TABLE.metric("params")
LIMIT = int(np.quantile(PARAMS, 0.2))
"""A fifth of the NB201 cells have at most this many parameters."""


def small(arch):
    return bool(TABLE.query(arch).params <= LIMIT)


def run(opt, n_asks, batch_size=1):
    for _ in range(n_asks):
        for trial in opt.ask(batch_size):
            opt.tell(trial, TABLE.query(trial.arch).test_accuracy)


@pytest.mark.parametrize("candidates, batch_size", [("local", 1), ("local", 4), ("all", 3)])
def test_every_ask_random_or_model_based_is_feasible(candidates, batch_size):
    opt = Optimizer(SPACE, n_initial=4, seed=2, deterministic=True, feasible=small, candidates=candidates,
                    pool_size=200)
    run(opt, 6, batch_size)
    assert opt.last_fit == "fit"
    assert all(small(trial.arch) for trial in opt.trials)
    assert len({SPACE.canonical_key(trial.arch) for trial in opt.trials}) == len(opt.trials)


def test_best_trial_is_the_best_feasible_one():
    opt = Optimizer(SPACE, n_initial=2, seed=0, deterministic=True, feasible=small)
    big = next(arch for arch in TABLE.architectures() if not small(arch))
    opt.attach(big, 99.0)
    assert opt.best_trial is None
    run(opt, 3)
    assert opt.best_trial is not None and small(opt.best_trial.arch) and opt.best_trial.value < 99.0


def test_a_predicate_no_cell_satisfies_or_that_answers_no_bool_is_refused():
    with pytest.raises(ValueError, match=r"no architecture of space 'nb201' is feasible \(.*<lambda> rejects all"):
        Optimizer(SPACE, feasible=lambda arch: False)
    with pytest.raises(ValueError, match=r"feasible \(.*<lambda>\) returned 1 for .*; expected True or False"):
        Optimizer(SPACE, feasible=lambda arch: 1)
    with pytest.raises(ValueError, match="feasible must be a callable"):
        Optimizer(SPACE, feasible="params<=1e6")


def test_the_journal_names_the_predicate_and_a_reload_asks_what_the_live_optimizer_asks(tmp_path):
    path = tmp_path / "run.jsonl"
    live = Optimizer(SPACE, n_initial=3, seed=4, deterministic=True, feasible=small, storage=path)
    run(live, 5)
    live.close()
    copy = tmp_path / "copy.jsonl"
    shutil.copy(path, copy)
    with pytest.raises(ValueError, match=r"written with the feasibility predicate 'small'; pass it again"):
        Optimizer.load(copy)
    twin = Optimizer.load(copy, feasible=small)
    resumed = Optimizer.load(path, feasible=small)
    assert [t.arch_str for t in twin.ask(2)] == [t.arch_str for t in resumed.ask(2)]
    assert resumed.settings.feasible == "small"
    plain = tmp_path / "plain.jsonl"
    Optimizer(SPACE, storage=plain).close()
    with pytest.raises(ValueError, match="written without the feasibility predicate"):
        Optimizer.load(plain, feasible=small)


def test_a_space_runs_out_of_feasible_cells_and_says_so():
    members = SPACE.sample(40, np.random.default_rng(0))
    subset = SubsetSpace(SPACE, members)
    allowed = {subset.canonical_key(arch) for arch in members[:3]}
    opt = Optimizer(subset, n_initial=2, seed=0, deterministic=True, candidates="all",
                    feasible=lambda arch: subset.canonical_key(arch) in allowed)
    for trial in opt.ask(5):
        opt.tell(trial, TABLE.query(trial.arch).test_accuracy)
    assert len(opt.trials) == 3
    with pytest.raises(SpaceExhaustedError, match="every feasible architecture .* has been asked"):
        opt.ask(1)
