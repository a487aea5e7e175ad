import json
import shutil
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import bonas
from bonas.journal import JournalCorruptError
from bonas.nasbench import NASBench201Table
from bonas.optimizer import Optimizer
from bonas.spaces import DARTSSpace, NASBench201Space
from bonas.trial import TrialState

SPACE = NASBench201Space()
TABLE = NASBench201Table("cifar10")
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def objective(arch):
    return TABLE.query(arch).test_accuracy


def run(opt, n_queries, batch=1):
    while len(opt.completed) < n_queries:
        for trial in opt.ask(batch):
            opt.tell(trial, objective(trial.arch))
    return opt


def test_asks_are_new_distinct_and_seeded(tmp_path):
    first = run(Optimizer(SPACE, n_initial=5, seed=3, deterministic=True), 14, batch=3)
    again = run(Optimizer(SPACE, n_initial=5, seed=3, deterministic=True), 14, batch=3)
    assert [t.arch for t in first.trials] == [t.arch for t in again.trials]
    keys = [SPACE.canonical_key(t.arch) for t in first.trials]
    assert len(keys) == len(set(keys))
    assert first.best_trial.value == max(t.value for t in first.completed)


def test_pending_trials_are_never_asked_twice():
    opt = Optimizer(SPACE, n_initial=4, seed=0)
    run(opt, 6)
    in_flight = opt.ask(3)
    more = opt.ask(3)
    keys = {SPACE.canonical_key(t.arch) for t in in_flight + more}
    assert len(keys) == 6
    assert all(t.state == TrialState.RUNNING for t in opt.pending) and len(opt.pending) == 6


@pytest.mark.parametrize("acquisition", ["ei", "ucb", "ts"])
@pytest.mark.parametrize("encoding", ["tw", "path"])
def test_model_based_asks_beat_random_early(acquisition, encoding):
    opt = run(Optimizer(SPACE, encoding=encoding, acquisition=acquisition, n_initial=8, seed=1, deterministic=True), 30)
    assert opt.best_trial.value > 93.0  # random search reaches ~91.5 at 30 queries on average


def test_minimize_and_failed_states():
    opt = Optimizer(SPACE, n_initial=3, seed=0, maximize=False)
    trials = opt.ask(4)
    opt.tell(trials[0], 5.0)
    opt.tell(trials[1].id, 2.0)
    opt.tell(trials[2], state="failed", info={"error": "CUDA out of memory"})
    opt.tell(trials[3], state="abandoned")
    assert opt.best_trial.id == trials[1].id
    assert opt.trials[2].state == TrialState.FAILED and opt.trials[2].info["error"] == "CUDA out of memory"
    assert opt.trials[3].state == TrialState.ABANDONED


def test_bad_input_is_named_and_journal_unchanged(tmp_path):
    path = tmp_path / "run.jsonl"
    opt = Optimizer(SPACE, n_initial=3, seed=0, storage=path)
    trial, other = opt.ask(2)
    opt.tell(trial, 90.0)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="finite number, got nan"):
        opt.tell(other, math.nan)
    with pytest.raises(ValueError, match="finite number, got inf"):
        opt.tell(other, math.inf)
    with pytest.raises(ValueError, match=f"trial {trial.id} .* was already told"):
        opt.tell(trial, 91.0)
    with pytest.raises(KeyError, match="unknown trial 99"):
        opt.tell(99, 91.0)
    with pytest.raises(ValueError, match="ask\\(n\\) must be an integer >= 1, got 0"):
        opt.ask(0)
    with pytest.raises(ValueError, match="expected an NB201Arch"):
        opt.attach(DARTSSpace().sample(1, np.random.default_rng(0))[0], 90.0)
    with pytest.raises(ValueError, match="already trial 0"):
        opt.attach(trial.arch, 90.0)
    with pytest.raises(ValueError, match="unknown encoding 'cate2'"):
        Optimizer(SPACE, encoding="cate2")
    assert path.read_bytes() == before
    assert other.state == TrialState.RUNNING


def test_resume_from_journal(tmp_path):
    def session(storage):
        opt = Optimizer(SPACE, n_initial=4, seed=7, storage=storage, deterministic=True)
        run(opt, 8)
        opt.attach(SPACE.from_str(BEST), 94.37)
        opt.tell(opt.ask(1)[0], state="failed", info={"error": "boom"})
        return opt, opt.ask(1)[0]

    path = tmp_path / "run.jsonl"
    opt, dangling = session(path)
    reference, _ = session(None)
    shutil.copy(path, tmp_path / "copy.jsonl")
    loaded = Optimizer.load(path)
    assert [(t.arch, t.state, t.value, t.info) for t in loaded.trials] == [(t.arch, t.state, t.value, t.info) for t in opt.trials]
    assert [t.id for t in loaded.pending] == [dangling.id]
    # the resumed optimizer asks what an uninterrupted one asks
    reference.tell(dangling.id, 80.0)
    loaded.tell(dangling.id, 80.0)
    assert [t.arch for t in loaded.ask(2)] == [t.arch for t in reference.ask(2)]
    abandoned = Optimizer.load(tmp_path / "copy.jsonl", in_flight="abandon")
    assert not abandoned.pending and abandoned.trials[dangling.id].state == TrialState.ABANDONED


def test_storage_from_another_space_or_corrupt(tmp_path):
    path = tmp_path / "run.jsonl"
    Optimizer(DARTSSpace(), n_initial=2, storage=path, encoding="path")
    with pytest.raises(ValueError, match="journal of space 'darts', not 'nb201'"):
        Optimizer(SPACE, storage=path)
    bad = tmp_path / "bad.jsonl"
    opt = Optimizer(SPACE, n_initial=2, storage=bad)
    opt.tell(opt.ask(1)[0], 90.0)
    lines = bad.read_text().splitlines()
    bad.write_text("\n".join([lines[0], '{"v": 1, "event": "tell", "trial": 5, "value": 1.0}', *lines[1:]]) + "\n")
    with pytest.raises(JournalCorruptError, match="line 2: cannot replay 'tell'.*unknown trial 5"):
        Optimizer.load(bad)
    bad.write_text(lines[0] + "\n{not json\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(JournalCorruptError, match="line 2: not valid JSON"):
        Optimizer.load(bad)


def test_torn_last_line_is_reported_and_repaired(tmp_path, caplog):
    path = tmp_path / "run.jsonl"
    opt = Optimizer(SPACE, n_initial=2, storage=path)
    opt.tell(opt.ask(1)[0], 90.0)
    with open(path, "a") as handle:
        handle.write('{"v": 1, "event": "ask", "tri')
    loaded = Optimizer.load(path)
    assert "incomplete" in caplog.text
    loaded.tell(loaded.ask(1)[0], 91.0)
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == ["create", "ask", "tell", "ask", "tell"]


KILLED_RUN = textwrap.dedent(
    """
    import sys
    from bonas.nasbench import NASBench201Table
    from bonas.optimizer import Optimizer
    from bonas.spaces import NASBench201Space
    table = NASBench201Table("cifar10")
    opt = Optimizer(NASBench201Space(), n_initial=100000, seed=0, storage=sys.argv[1])
    while True:
        trial = opt.ask(1)[0]
        opt.tell(trial, table.query(trial.arch).test_accuracy)
        print(trial.id, flush=True)
    """
)


def test_sigkill_mid_run_loses_no_told_result(tmp_path):
    path = tmp_path / "run.jsonl"
    process = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(path)], stdout=subprocess.PIPE, text=True)
    told = []
    for line in process.stdout:
        told.append(int(line))
        if len(told) >= 30:
            break
    process.kill()
    process.wait()
    loaded = Optimizer.load(path)
    completed = {t.id for t in loaded.completed}
    assert set(told) <= completed
    run(loaded, len(loaded.completed) + 3)
    assert len(Optimizer.load(path).completed) == len(loaded.completed)


def test_public_api_is_reexported():
    assert bonas.Optimizer is Optimizer


@pytest.mark.parametrize("batch", ["kdpp", "kdpp-anchored", "kdpp-map", "greedy", "kriging-believer", "ts"])
def test_every_batch_method_gives_new_distinct_cells(batch):
    opt = run(Optimizer(SPACE, seed=4, n_initial=10, deterministic=True), 10, batch=5)
    in_flight = opt.ask(3, batch=batch)
    chosen = opt.ask(8, batch=batch)
    keys = {SPACE.canonical_key(trial.arch) for trial in opt.trials}
    assert len(keys) == len(opt.trials) == 21
    assert not {t.arch_str for t in chosen} & {t.arch_str for t in in_flight}


def test_an_anchored_kdpp_batch_starts_with_the_sequential_pick():
    first = run(Optimizer(SPACE, seed=7, n_initial=8, deterministic=True), 12, batch=4)
    second = run(Optimizer(SPACE, seed=7, n_initial=8, deterministic=True), 12, batch=4)
    batch = first.ask(6, batch="kdpp-anchored")
    assert len({trial.arch_str for trial in batch}) == 6
    assert batch[0].arch_str == second.ask(1)[0].arch_str


def test_kdpp_is_seeded_and_the_default_for_batches():
    first = run(Optimizer(SPACE, seed=5, n_initial=8, deterministic=True), 12, batch=4)
    second = run(Optimizer(SPACE, seed=5, n_initial=8, deterministic=True), 12, batch=4)
    assert [t.arch_str for t in first.trials] == [t.arch_str for t in second.trials]
    assert [t.arch_str for t in first.ask(6)] == [t.arch_str for t in second.ask(6, batch="kdpp")]
    with pytest.raises(ValueError, match="unknown batch 'dpp'; expected one of"):
        first.ask(2, batch="dpp")


def test_log_error_transform_needs_accuracies_below_100(tmp_path):
    with pytest.raises(ValueError, match="needs maximize=True"):
        Optimizer(SPACE, outcome_transform="log-error", maximize=False)
    opt = Optimizer(SPACE, outcome_transform="log-error", storage=tmp_path / "log.jsonl")
    trial = opt.ask()[0]
    before = (tmp_path / "log.jsonl").read_text()
    with pytest.raises(ValueError, match="outcome_transform='log-error' takes accuracies in percent"):
        opt.tell(trial, 100.0)
    assert (tmp_path / "log.jsonl").read_text() == before
    opt.tell(trial, 93.5)


def test_kdpp_pool_and_temperature_are_options_that_survive_a_reload(tmp_path):
    opt = Optimizer(SPACE, seed=6, n_initial=8, deterministic=True, kdpp_pool=9, kdpp_temperature=0.5,
                    storage=tmp_path / "kdpp.jsonl")
    run(opt, 12, batch=4)
    shutil.copy(tmp_path / "kdpp.jsonl", tmp_path / "copy.jsonl")  # one writer per journal: the twin gets a copy
    loaded = Optimizer.load(tmp_path / "copy.jsonl")
    assert loaded.settings.kdpp_pool == 9 and loaded.settings.kdpp_temperature == 0.5
    assert [t.arch_str for t in loaded.ask(4)] == [t.arch_str for t in opt.ask(4)]
    for options, message in (({"kdpp_pool": 0}, "kdpp_pool must be an integer >= 1"),
                             ({"kdpp_temperature": 0.0}, "kdpp_temperature must be a positive finite number"),
                             ({"kdpp_temperature": float("nan")}, "kdpp_temperature must be a positive finite")):
        with pytest.raises(ValueError, match=message):
            Optimizer(SPACE, **options)


def test_a_trial_of_another_optimizer_is_refused():
    first, second = Optimizer(SPACE, seed=0), Optimizer(SPACE, seed=1)
    theirs, ours = first.ask(1)[0], second.ask(1)[0]
    assert theirs.id == ours.id and theirs.arch_str != ours.arch_str
    with pytest.raises(KeyError, match="not a trial of this optimizer"):
        second.tell(theirs, 90.0)
    assert second.pending == [ours]
    assert second.tell(ours, 90.0).value == 90.0


def test_a_user_space_journal_resumes_with_its_space(tmp_path):
    space = bonas.CellSpace(["conv", "pool"], max_nodes=5, max_edges=6, name="mine")
    path = tmp_path / "mine.jsonl"
    opt = Optimizer(space, n_initial=2, seed=0, storage=path, encoding="path")
    for trial in opt.ask(3):
        opt.tell(trial, float(trial.id))
    with pytest.raises(ValueError, match=r"space 'mine', which bonas cannot build by name; pass it"):
        Optimizer.load(path)
    with pytest.raises(ValueError, match="journal of space 'mine', not 'nb201'"):
        Optimizer.load(path, space=SPACE)
    shutil.copy(path, tmp_path / "copy.jsonl")  # one writer per journal: the twin gets a copy
    loaded = Optimizer.load(tmp_path / "copy.jsonl", space=space)
    assert [(t.arch_str, t.value) for t in loaded.trials] == [(t.arch_str, t.value) for t in opt.trials]
    assert [t.arch_str for t in loaded.ask(2)] == [t.arch_str for t in opt.ask(2)]


def test_a_torn_create_line_starts_afresh(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text('{"v": 1, "event": "cre')
    opt = Optimizer(SPACE, n_initial=2, storage=path)
    opt.tell(opt.ask(1)[0], 90.0)
    assert [t.value for t in Optimizer.load(path).trials] == [90.0]


@pytest.mark.parametrize("edit, message", [
    (lambda event: event.pop("settings"), "no settings with a space"),
    (lambda event: event["settings"].update(future_option=1), r"unknown setting\(s\) \['future_option'\]"),
    (lambda event: event["settings"].update(n_initial=0), "invalid settings: n_initial must be"),
])
def test_corrupt_settings_name_what_is_wrong(tmp_path, edit, message):
    path = tmp_path / "run.jsonl"
    Optimizer(SPACE, storage=path)
    created = json.loads(path.read_text())
    edit(created)
    path.write_text(json.dumps(created) + "\n")
    with pytest.raises(JournalCorruptError, match=message):
        Optimizer.load(path)


@pytest.mark.parametrize("kernel, message", [
    ([1.0], r"'ask' event field 'kernel' is \[1.0\], not an object"),
    ({"base_kernel.raw_lengthscale": [[0.1, 0.2]]}, r"kernel parameter .base_kernel.raw_lengthscale. of shape \(1, 2\).*expected \(1, 3\)"),
])
def test_a_corrupt_kernel_state_is_refused_on_load(tmp_path, kernel, message):
    path = tmp_path / "run.jsonl"
    opt = Optimizer(SPACE, n_initial=2, seed=0, storage=path, deterministic=True)
    run(opt, 3)
    opt.ask(1)
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    assert "kernel" in last
    last["kernel"] = kernel
    path.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    with pytest.raises(JournalCorruptError, match=message):
        Optimizer.load(path)


def test_a_warm_start_that_does_not_fit_is_ignored(caplog):
    from bonas.kernels import make_kernel
    from bonas.surrogate import fit_surrogate

    train_X = torch.rand(6, 3, dtype=torch.float64)
    train_Y = train_X.sum(dim=-1, keepdim=True)
    wrong = {"base_kernel.raw_lengthscale": torch.zeros(1, 5, dtype=torch.float64)}
    result = fit_surrogate(train_X, train_Y, lambda: make_kernel("rbf", 3).to(train_X), warm_start=wrong)
    assert result.how == "fit" and "ignoring a warm start" in caplog.text


def test_negative_seed_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "run.jsonl"
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        Optimizer(SPACE, seed=-1, storage=path)
    assert not path.exists()


def test_an_exhausted_space_says_so():
    space = bonas.SubsetSpace(SPACE, [SPACE.from_str(BEST), *SPACE.sample(3, np.random.default_rng(0))])
    opt = Optimizer(space, n_initial=2, seed=0, candidates="all", deterministic=True)
    for trial in opt.ask(2):
        opt.tell(trial, objective(trial.arch))
    last = opt.ask(5)
    assert len(last) == 2
    for trial in last:
        opt.tell(trial, objective(trial.arch))
    with pytest.raises(RuntimeError, match="every architecture of space .* has been asked"):
        opt.ask(1)


def test_candidates_of_a_space_too_large_to_enumerate_are_not_cached():
    opt = Optimizer(DARTSSpace(), encoding="path", n_initial=2, seed=0, pool_size=50, deterministic=True)
    for step in range(3):
        for trial in opt.ask(1):
            opt.tell(trial, float(step))
    assert len(opt.surrogate._encoding_cache) == 2
    nb201 = Optimizer(SPACE, n_initial=2, seed=0, pool_size=50, deterministic=True)
    run(nb201, 3)
    assert len(nb201.surrogate._encoding_cache) > 3
