"""BonasSampler in real Optuna studies on NAS-Bench-201 CIFAR-100 look-ups, and the params <-> cell helpers."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from gpytorch.utils.warnings import NumericalWarning  # noqa: E402

from bonas import Optimizer  # noqa: E402
from bonas.integrations.optuna import (  # noqa: E402
    NB201_PARAMS,
    BonasSampler,
    arch_to_params,
    cell_parameters,
    params_to_arch,
)
from bonas.nasbench.nb201 import NASBench201Table  # noqa: E402
from bonas.spaces import NB101_OPS, CellSpace, DARTSSpace, NASBench101Space, NASBench201Space, SubsetSpace  # noqa: E402
from bonas.spaces.nb201 import NB201_OPS  # noqa: E402
from bonas.trial import TrialState  # noqa: E402

SPACE = NASBench201Space()
TABLE = NASBench201Table("cifar100")
N_TRIALS, N_INITIAL = 25, 10


@pytest.fixture(autouse=True)
def _quiet():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NumericalWarning)  # a noise-free table pins the GP noise
        yield


def suggest_cell(trial: optuna.Trial):
    return params_to_arch(SPACE, {name: trial.suggest_categorical(name, NB201_OPS) for name in NB201_PARAMS})


def accuracy(trial: optuna.Trial) -> float:
    return TABLE.query(suggest_cell(trial)).test_accuracy


def run_study(n_trials: int, objective=accuracy, direction: str = "maximize", **options):
    sampler = BonasSampler(SPACE, seed=0, deterministic=True, **options)
    study = optuna.create_study(direction=direction, sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return study, sampler


def cells(study) -> list[str]:
    return [SPACE.to_str(params_to_arch(SPACE, trial.params)) for trial in study.trials]


@pytest.fixture(scope="module")
def searched():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NumericalWarning)
        return run_study(N_TRIALS, n_initial=N_INITIAL)


@pytest.fixture(scope="module")
def native_cells() -> list[str]:
    """The cells bonas's own ask/tell loop proposes with the sampler's settings."""
    optimizer = Optimizer(SPACE, encoding="tw", n_initial=N_INITIAL, seed=0, deterministic=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NumericalWarning)
        for _ in range(N_TRIALS):
            trial = optimizer.ask(1)[0]
            optimizer.tell(trial, TABLE.query(trial.arch).test_accuracy)
    return [trial.arch_str for trial in optimizer.trials]


def test_every_nb201_cell_round_trips_through_params():
    parameters = cell_parameters(SPACE)
    assert list(parameters.distributions) == list(NB201_PARAMS)
    for arch in SPACE.enumerate():
        params = arch_to_params(SPACE, arch)
        assert params == dict(zip(NB201_PARAMS, arch.ops))
        assert parameters.to_arch(params) == arch


def test_darts_cells_round_trip_through_categorical_params():
    space = DARTSSpace()
    parameters = cell_parameters(space)
    assert len(parameters.distributions) == 24
    assert parameters.distributions["normal_inputs_2"].choices == ("0,1", "1,0")
    assert len(parameters.distributions["reduce_inputs_5"].choices) == 20
    for arch in space.sample(200, np.random.default_rng(0)):
        params = arch_to_params(space, arch)
        assert set(params) == set(parameters.distributions)
        assert all(params[name] in distribution.choices for name, distribution in parameters.distributions.items())
        assert params_to_arch(space, params) == arch


@pytest.mark.parametrize("space", [NASBench101Space(), CellSpace(NB101_OPS, max_nodes=5, name="mycell"),
                                   SubsetSpace(NASBench201Space(), list(NASBench201Space().sample(5,
                                               np.random.default_rng(0))))])
def test_spaces_without_a_fixed_parameterisation_are_refused_by_name(space):
    with pytest.raises(ValueError, match=f"space '{space.name}'"):
        BonasSampler(space)
    with pytest.raises(ValueError, match="no fixed parameterisation"):
        params_to_arch(space, {})


def test_bad_params_name_the_parameter_and_the_choices():
    params = dict(zip(NB201_PARAMS, ["nor_conv_3x3"] * 6))
    with pytest.raises(ValueError, match="unknown value 'conv5x5' for parameter 'edge_2'; expected one of"):
        params_to_arch(SPACE, {**params, "edge_2": "conv5x5"})
    del params["edge_4"]
    with pytest.raises(ValueError, match="parameter 'edge_4' is missing"):
        params_to_arch(SPACE, params)


def test_bad_optimizer_options_are_refused_at_construction():
    with pytest.raises(ValueError, match="encoding"):
        BonasSampler(SPACE, encoding="nope")
    with pytest.raises(ValueError, match="n_initial"):
        BonasSampler(SPACE, n_initial=-1)


def test_a_study_proposes_distinct_valid_cells_and_tells_bonas_every_result(searched):
    study, sampler = searched
    optimizer = sampler.optimizer
    assert len(study.trials) == N_TRIALS
    for trial in study.trials:
        SPACE.validate(params_to_arch(SPACE, trial.params))
    assert len({SPACE.canonical_key(params_to_arch(SPACE, trial.params)) for trial in study.trials}) == N_TRIALS
    assert [trial.state for trial in optimizer.trials] == [TrialState.COMPLETE] * N_TRIALS
    assert [trial.value for trial in optimizer.trials] == [trial.value for trial in study.trials]
    assert [trial.info["optuna_trial"] for trial in optimizer.trials] == list(range(N_TRIALS))
    assert optimizer.best_trial.value == study.best_value


def test_the_study_follows_bonas_native_ask_tell_cell_for_cell(searched, native_cells):
    """Random cells for ``n_initial`` trials, then the GP's: the very cells bonas's own loop asks."""
    study, _ = searched
    assert cells(study) == native_cells


def test_minimising_the_negated_accuracy_proposes_the_same_cells(native_cells):
    n_trials = N_INITIAL + 3
    study, sampler = run_study(n_trials, objective=lambda trial: -accuracy(trial), direction="minimize",
                               n_initial=N_INITIAL)
    assert sampler.optimizer.settings.maximize is False
    assert cells(study) == native_cells[:n_trials]
    assert sampler.optimizer.best_trial.value == study.best_value == -max(
        TABLE.query(cell).test_accuracy for cell in native_cells[:n_trials])


def test_enqueued_and_added_cells_are_attached_not_proposed():
    enqueued = SPACE.from_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                              "nor_conv_3x3~2|")
    added = SPACE.from_indices("111111")
    sampler = BonasSampler(SPACE, seed=0, n_initial=50)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.add_trial(optuna.trial.create_trial(
        params=arch_to_params(SPACE, added), value=TABLE.query(added).test_accuracy,
        distributions=cell_parameters(SPACE).distributions))
    study.enqueue_trial(arch_to_params(SPACE, enqueued))
    study.optimize(accuracy, n_trials=4)
    optimizer = sampler.optimizer
    assert len(optimizer.trials) == 5
    assert [trial.state for trial in optimizer.trials] == [TrialState.COMPLETE] * 5
    by_optuna_number = {trial.info["optuna_trial"]: trial for trial in optimizer.trials}
    assert by_optuna_number[0].arch == added and by_optuna_number[1].arch == enqueued
    assert by_optuna_number[1].value == TABLE.query(enqueued).test_accuracy


def test_an_equivalent_cell_of_another_sampler_is_not_attached_twice():
    sampler = BonasSampler(SPACE, seed=0, n_initial=50)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    first = SPACE.from_indices("000000")  # output constant zero: every such cell is one class
    equivalent = SPACE.from_indices("111000")
    assert SPACE.canonical_key(first) == SPACE.canonical_key(equivalent)
    for arch in (first, equivalent):
        study.enqueue_trial(arch_to_params(SPACE, arch))
    study.optimize(accuracy, n_trials=3)
    assert [trial.info["optuna_trial"] for trial in sampler.optimizer.trials] == [0, 2]


class RecordingSampler(optuna.samplers.RandomSampler):
    def __init__(self) -> None:
        super().__init__(seed=1)
        self.names: list[str] = []

    def sample_independent(self, study, trial, param_name, param_distribution):
        self.names.append(param_name)
        return super().sample_independent(study, trial, param_name, param_distribution)


def test_parameters_outside_the_cell_go_to_the_independent_sampler():
    independent = RecordingSampler()
    sampler = BonasSampler(SPACE, seed=0, n_initial=3, deterministic=True, independent_sampler=independent)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        return accuracy(trial) - lr

    study.optimize(objective, n_trials=5)
    assert independent.names == ["lr"] * 5
    assert len({trial.params["lr"] for trial in study.trials}) == 5
    assert [trial.value for trial in sampler.optimizer.completed] == [trial.value for trial in study.trials]


def test_pruned_and_failed_trials_are_told_failed_and_not_proposed_again():
    def objective(trial):
        arch = suggest_cell(trial)
        if trial.number == 1:
            trial.report(12.5, step=3)
            raise optuna.TrialPruned()
        if trial.number == 2:
            raise RuntimeError("out of memory")
        return TABLE.query(arch).test_accuracy

    sampler = BonasSampler(SPACE, seed=0, n_initial=50)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=4, catch=(RuntimeError,))
    trials = sampler.optimizer.trials
    assert [trial.state for trial in trials] == [TrialState.COMPLETE, TrialState.FAILED, TrialState.FAILED,
                                                 TrialState.COMPLETE]
    assert trials[1].info == {"optuna_trial": 1, "optuna_state": "PRUNED", "last_intermediate_value": 12.5}
    assert trials[2].info == {"optuna_trial": 2, "optuna_state": "FAIL"}
    assert len({SPACE.canonical_key(trial.arch) for trial in trials}) == 4


def test_a_proposal_the_trial_did_not_use_is_abandoned():
    sampler = BonasSampler(SPACE, seed=0, n_initial=50)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    assert [trial.state for trial in sampler.optimizer.trials] == [TrialState.ABANDONED] * 2


def test_a_study_with_another_distribution_for_a_cell_parameter_is_refused():
    sampler = BonasSampler(SPACE, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.add_trial(optuna.trial.create_trial(
        params={"edge_0": "none"}, value=1.0,
        distributions={"edge_0": optuna.distributions.CategoricalDistribution(["none", "skip_connect"])}))
    with pytest.raises(ValueError, match="cell parameter 'edge_0' as CategoricalDistribution"):
        study.optimize(accuracy, n_trials=1)


def test_a_new_sampler_on_a_resumed_study_attaches_its_trials_first():
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(accuracy, n_trials=6)
    study.sampler = sampler = BonasSampler(SPACE, seed=0, n_initial=50)
    study.optimize(accuracy, n_trials=1)
    optimizer = sampler.optimizer
    assert [trial.info["optuna_trial"] for trial in optimizer.completed] == list(range(7))
    assert len({SPACE.canonical_key(trial.arch) for trial in optimizer.trials}) == 7


def test_one_sampler_serves_one_study():
    sampler = BonasSampler(SPACE, seed=0, n_initial=50)
    optuna.create_study(study_name="first", sampler=sampler, direction="maximize").optimize(accuracy, n_trials=1)
    with pytest.raises(RuntimeError, match="serves study 'first'"):
        optuna.create_study(study_name="second", sampler=sampler).optimize(accuracy, n_trials=1)


def test_several_objectives_are_told_by_name_with_their_directions():
    sampler = BonasSampler(SPACE, seed=0, n_initial=50)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["accuracy", "params"])

    def objective(trial):
        record = TABLE.query(suggest_cell(trial))
        return record.test_accuracy, record.params

    study.optimize(objective, n_trials=3)
    optimizer = sampler.optimizer
    assert optimizer.settings.objectives == (("accuracy", "max"), ("params", "min"))
    assert [trial.values for trial in optimizer.completed] == [
        {"accuracy": trial.values[0], "params": trial.values[1]} for trial in study.trials]


def test_threads_share_the_optimizer_and_never_propose_a_cell_twice():
    sampler = BonasSampler(SPACE, seed=0, n_initial=4, deterministic=True)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    threads: set[str] = set()

    def objective(trial):
        threads.add(threading.current_thread().name)
        return accuracy(trial)

    study.optimize(objective, n_trials=8, n_jobs=2)
    optimizer = sampler.optimizer
    assert len(threads) == 2
    assert len(optimizer.completed) == len(optimizer.trials) == 8
    assert len({SPACE.canonical_key(trial.arch) for trial in optimizer.trials}) == 8
