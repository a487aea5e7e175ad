"""BonasSearch, the Ray Tune searcher: a real local Tune run (2 CPUs, ASHA, interrupted and restored), and each
way a trial can end, told to the optimizer as documented."""

import logging
import math
import os
import signal
import sys

import pytest

import bonas

tune = pytest.importorskip("ray.tune", reason="Ray Tune is the 'tune' extra; the test extra installs it")
import ray  # noqa: E402
from ray.tune.schedulers import ASHAScheduler  # noqa: E402

from bonas.integrations.ray_tune import BonasSearch, cell_config  # noqa: E402

SPACE = bonas.NASBench201Space()
TABLE = bonas.NASBench201Table("cifar100")
EPOCHS = (12, 25, 50, 100, 200)
"""The epochs a trial reports at, one Tune iteration each: the tables hold only the 12- and 200-epoch accuracies,
so the curve between them is interpolated (linear in log-epochs), a stand-in for a real training curve."""
MAX_T = len(EPOCHS)
SEED = 0
N_SAMPLES = 16


def accuracy_at(arch: str, epoch: int) -> float:
    record = TABLE.query(arch)
    share = math.log(epoch / EPOCHS[0]) / math.log(EPOCHS[-1] / EPOCHS[0])
    return record.test_accuracy_12ep + share * (record.test_accuracy - record.test_accuracy_12ep)


def make_trainable(failing_arch: str):
    """A table look-up trainable reporting ``accuracy`` once per epoch of :data:`EPOCHS`; ``failing_arch`` raises."""

    def trainable(config: dict) -> None:
        if config["arch"] == failing_arch:
            raise RuntimeError("loss diverged")
        for epoch in EPOCHS:
            tune.report({"accuracy": accuracy_at(config["arch"], epoch), "epoch": epoch})

    return trainable


class InterruptOnce(tune.Callback):
    """Ctrl-C the driver once ``after`` trials have ended (``marker`` says it was done: a restored run goes on)."""

    def __init__(self, after: int, marker: str) -> None:
        self.after, self.marker, self.ended = after, marker, 0

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.ended += 1
        if self.ended >= self.after and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture(scope="module")
def ray_local():
    # Tune's workers cannot import this test module: ship its functions by value, as for a user's script.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def tune_run(ray_local, tmp_path_factory):
    """16 trials under ASHA, 2 at a time; the driver is interrupted after 5 and the run restored with
    ``Tuner.restore``. The first cell bonas asks (random, fixed by the seed) raises in the trainable."""
    folder = tmp_path_factory.mktemp("tune")
    journal = folder / "search.jsonl"
    failing_arch = bonas.Optimizer(SPACE, seed=SEED).ask(1)[0].arch_str
    trainable = make_trainable(failing_arch)
    search = BonasSearch(SPACE, metric="accuracy", mode="max", journal=journal, max_t=MAX_T, seed=SEED, n_initial=4,
                         deterministic=True)
    scheduler = ASHAScheduler(metric="accuracy", mode="max", max_t=MAX_T, grace_period=1, reduction_factor=2)
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=search, scheduler=scheduler, num_samples=N_SAMPLES,
                                    max_concurrent_trials=2, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(folder / "storage"), name="nb201", verbose=0,
                                  callbacks=[InterruptOnce(after=5, marker=str(folder / "interrupted"))]))
    first = tuner.fit()
    experiment = folder / "storage" / "nb201"
    results = tune.Tuner.restore(str(experiment), trainable).fit()
    # Tune's own record of each trial: a trial that raised before reporting has no config in its Result
    trials = tune.ExperimentAnalysis(str(experiment)).trials
    return {"first": first, "results": results, "trials": trials, "journal": journal, "experiment": experiment,
            "failing_arch": failing_arch}


def by_tune_id(optimizer: bonas.Optimizer) -> dict[str, bonas.Trial]:
    return {trial.info["tune_trial_id"]: trial for trial in optimizer.trials if "tune_trial_id" in trial.info}


def test_the_interrupted_run_resumes_to_every_sample(tune_run):
    assert len(tune_run["first"]) < N_SAMPLES  # the interruption left samples to run
    assert len(tune_run["results"]) == N_SAMPLES
    optimizer = bonas.Optimizer.load(tune_run["journal"], read_only=True)
    assert optimizer.pending == []
    assert sorted(by_tune_id(optimizer)) == sorted(trial.trial_id for trial in tune_run["trials"])


def test_every_suggestion_is_a_distinct_valid_cell(tune_run):
    configs = [trial.config for trial in tune_run["trials"]]
    archs = [SPACE.from_str(config["arch"]) for config in configs]
    for config, arch in zip(configs, archs):
        assert config == cell_config(SPACE, arch)
        assert config["ops"] == list(arch.ops)
    assert len({SPACE.canonical_key(arch) for arch in archs}) == N_SAMPLES


def test_completed_trials_are_told_and_stopped_ones_pruned(tune_run):
    optimizer = bonas.Optimizer.load(tune_run["journal"], read_only=True)
    trials = by_tune_id(optimizer)
    seen = set()
    for ran in tune_run["trials"]:
        trial = trials[ran.trial_id]
        assert trial.arch_str == ran.config["arch"]
        if ran.status == "ERROR":
            seen.add("error")
            assert trial.arch_str == tune_run["failing_arch"]
            assert trial.state == bonas.TrialState.FAILED and trial.info["error"] == "the Ray Tune trial raised"
            continue
        reached = ran.last_result["training_iteration"]
        assert ran.last_result["accuracy"] == pytest.approx(accuracy_at(trial.arch_str, EPOCHS[reached - 1]))
        if reached == MAX_T:
            seen.add("complete")
            assert trial.state == bonas.TrialState.COMPLETE
            assert trial.value == pytest.approx(TABLE.query(trial.arch_str).test_accuracy)
        else:
            seen.add("pruned")
            assert trial.state == bonas.TrialState.FAILED and trial.value is None
            assert trial.info["pruned"] is True and trial.info["training_iteration"] == reached
            assert trial.info["accuracy"] == pytest.approx(ran.last_result["accuracy"])
    assert seen == {"error", "complete", "pruned"}
    assert optimizer.best_trial.value == max(trial.value for trial in optimizer.completed)


def test_trials_in_flight_are_pending_for_the_next_ask(tune_run):
    """max_concurrent_trials=2: each ask saw at most one trial in flight, and some ask saw one."""
    trials = bonas.Optimizer.load(tune_run["journal"], read_only=True).trials
    in_flight = [sum(earlier.told_at > trial.asked_at for earlier in trials[:trial.id]) for trial in trials]
    assert max(in_flight) == 1


def test_the_checkpoint_tune_wrote_restores_the_same_observations(tune_run):
    journalled = bonas.Optimizer.load(tune_run["journal"], read_only=True)
    restored = BonasSearch(SPACE, metric="accuracy", mode="max", max_t=MAX_T)
    restored.restore_from_dir(str(tune_run["experiment"]))

    def observations(optimizer):
        return [(trial.arch_str, trial.state, trial.value, trial.info) for trial in optimizer.trials]

    assert observations(restored.optimizer) == observations(journalled)
    assert sorted(restored.tune_trials) == sorted(by_tune_id(journalled))
    copy = ray.cloudpickle.loads(ray.cloudpickle.dumps(restored))
    assert observations(copy.optimizer) == observations(journalled)
    assert copy.journal_path != restored.journal_path  # each journals on its own temporary file
    assert copy.suggest("next") == restored.suggest("next")  # the same state asks the same cell


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="mode"):
        BonasSearch(SPACE, metric="accuracy", mode="maximise")
    with pytest.raises(ValueError, match="metric must name one result key"):
        BonasSearch(SPACE, metric="")
    with pytest.raises(ValueError, match="'maximize': pass mode="):
        BonasSearch(SPACE, metric="accuracy", maximize=False)
    with pytest.raises(ValueError, match="max_t"):
        BonasSearch(SPACE, metric="accuracy", max_t=0)


def test_each_way_a_trial_ends_is_told_as_documented():
    search = BonasSearch(SPACE, metric="accuracy", max_t=4, seed=1)
    configs = {name: search.suggest(name) for name in ("full", "early", "raised", "removed", "nan", "unnamed")}
    search.on_trial_complete("full", {"accuracy": 70.5, "training_iteration": 4})
    search.on_trial_complete("early", {"accuracy": 40.0, "training_iteration": 1})
    search.on_trial_complete("raised", error=True)
    search.on_trial_complete("removed")
    search.on_trial_complete("nan", {"accuracy": float("nan"), "training_iteration": 4})
    with pytest.raises(ValueError, match="reported no 'accuracy'.*'loss'"):
        search.on_trial_complete("unnamed", {"loss": 0.3, "training_iteration": 4})
    with pytest.raises(KeyError, match="'stranger' was not suggested"):
        search.on_trial_complete("stranger", {"accuracy": 1.0})
    with pytest.raises(ValueError, match="suggested already"):
        search.suggest("full")
    trials = {name: search.optimizer.trials[search.tune_trials[name]] for name in configs}
    assert all(trials[name].arch_str == configs[name]["arch"] for name in configs)
    assert (trials["full"].state, trials["full"].value) == (bonas.TrialState.COMPLETE, 70.5)
    assert trials["early"].state == bonas.TrialState.FAILED
    assert trials["early"].info == {"tune_trial_id": "early", "training_iteration": 1, "pruned": True,
                                    "accuracy": 40.0, "error": "stopped early by the scheduler at "
                                                               "training_iteration=1 (max_t=4)"}
    assert trials["raised"].state == bonas.TrialState.FAILED
    assert trials["removed"].state == bonas.TrialState.ABANDONED
    assert trials["nan"].state == bonas.TrialState.FAILED and "accuracy=nan" in trials["nan"].info["error"]
    assert trials["unnamed"].state == bonas.TrialState.RUNNING


def test_without_max_t_every_trial_is_told_and_mixed_lengths_warn(caplog):
    search = BonasSearch(SPACE, metric="loss", mode="min")
    for name, iterations, loss in (("a", 4, 0.5), ("b", 4, 0.25), ("c", 1, 2.0)):
        search.suggest(name)
        with caplog.at_level(logging.WARNING, logger="bonas.integrations.ray_tune"):
            search.on_trial_complete(name, {"loss": loss, "training_iteration": iterations})
    assert [trial.value for trial in search.optimizer.completed] == [0.5, 0.25, 2.0]
    assert search.optimizer.best_trial.value == 0.25  # mode="min"
    assert "pass BonasSearch(max_t=...)" in caplog.text


def test_tune_search_properties_must_agree_and_hold_no_domains():
    search = BonasSearch(SPACE, metric="accuracy", mode="max")
    assert search.set_search_properties("accuracy", "max", {"epochs": 200, "optimizer": {"lr": 0.1}})
    assert search.set_search_properties(None, None, {})
    with pytest.raises(ValueError, match=r"TuneConfig\(metric='loss'\) disagrees with BonasSearch\(metric='accuracy'"):
        search.set_search_properties("loss", None, {})
    with pytest.raises(ValueError, match=r"TuneConfig\(mode='min'\)"):
        search.set_search_properties(None, "min", {})
    with pytest.raises(ValueError, match=r"searches \['optimizer/lr'\]"):
        search.set_search_properties(None, None, {"optimizer": {"lr": tune.loguniform(1e-4, 1e-1)}})
    with pytest.raises(ValueError, match=r"\['ops'\] are the cell's config keys"):
        search.set_search_properties(None, None, {"ops": "mine"})


def test_an_evaluated_point_is_attached_and_never_suggested():
    search = BonasSearch(SPACE, metric="accuracy", n_initial=15624)
    arch = SPACE.from_indices("331333")
    trial = search.add_evaluated_point(cell_config(SPACE, arch), 73.0)
    assert (trial.arch_str, trial.state, trial.value) == (SPACE.to_str(arch), bonas.TrialState.COMPLETE, 73.0)
    assert search.add_evaluated_point({"arch": SPACE.to_str(SPACE.from_indices("000000"))}, 10.0, error=True) is None
    assert len(search.optimizer.trials) == 1
    with pytest.raises(ValueError, match=r"\['ops'\] disagree with 'arch'"):
        search.add_evaluated_point({"arch": SPACE.to_str(arch), "ops": ["none"] * 6}, 1.0)
    with pytest.raises(ValueError, match="need the cell's 'arch' string"):
        search.add_evaluated_point({"ops": list(arch.ops)}, 1.0)
    with pytest.raises(ValueError, match="is already trial 0"):
        search.add_evaluated_point({"arch": SPACE.to_str(arch)}, 1.0)


def test_a_checkpoint_restores_its_trials_in_flight_and_must_fit(tmp_path):
    journal = tmp_path / "search.jsonl"
    search = BonasSearch(SPACE, metric="accuracy", journal=journal, seed=3)
    search.suggest("done")
    search.suggest("in-flight")
    search.on_trial_complete("done", {"accuracy": 60.0, "training_iteration": 1})
    checkpoint = str(tmp_path / "checkpoint.json")
    search.save(checkpoint)
    for restored in (BonasSearch(SPACE, metric="accuracy", journal=journal),  # the live journal
                     BonasSearch(SPACE, metric="accuracy", journal=tmp_path / "new.jsonl"),  # the checkpoint's copy
                     BonasSearch(SPACE, metric="accuracy")):  # the same, on a temporary file
        restored.restore(checkpoint)
        assert restored.optimizer.settings.seed == 3  # the journal's settings
        assert [trial.id for trial in restored.optimizer.pending] == [restored.tune_trials["in-flight"]]
        restored.on_trial_complete("in-flight", {"accuracy": 61.0, "training_iteration": 1})
        assert [trial.value for trial in restored.optimizer.completed] == [60.0, 61.0]
    other = BonasSearch(SPACE, metric="accuracy", journal=tmp_path / "other.jsonl")
    other.suggest("elsewhere")
    with pytest.raises(ValueError, match="other.jsonl does not continue the journal of"):
        other.restore(checkpoint)
    with pytest.raises(ValueError, match="is a search for metric='accuracy', mode='max'"):
        BonasSearch(SPACE, metric="accuracy", mode="min").restore(checkpoint)
    with pytest.raises(ValueError, match="not a BonasSearch checkpoint"):
        search.restore(str(journal))


def test_an_existing_journal_resumes_without_its_trials_in_flight(tmp_path):
    journal = tmp_path / "search.jsonl"
    search = BonasSearch(SPACE, metric="accuracy", journal=journal, seed=3)
    search.suggest("done")
    search.suggest("in-flight")
    search.on_trial_complete("done", {"accuracy": 60.0, "training_iteration": 1})
    with pytest.raises(ValueError, match=r"other settings: seed=3 \(given 4\)"):
        BonasSearch(SPACE, metric="accuracy", journal=journal, seed=4).optimizer
    resumed = BonasSearch(SPACE, metric="accuracy", journal=journal, seed=3)  # a new Tune run knows no trial
    assert [trial.state for trial in resumed.optimizer.trials] == [bonas.TrialState.COMPLETE,
                                                                   bonas.TrialState.ABANDONED]
    assert resumed.suggest("next")["arch"] not in {trial.arch_str for trial in resumed.optimizer.completed}
