"""Backends and the run loop: results arrive asynchronously, failures are survived, nothing told is lost."""

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import bonas
from bonas.backends import Backend, LocalBackend, Outcome, local
from bonas.backends.base import call_evaluate
from bonas.backends.ray import call_evaluate_within

SPACE = bonas.NASBench201Space()


def accuracy(arch) -> float:
    return bonas.NASBench201Table("cifar10").query(arch).test_accuracy


def raise_on_pool(arch) -> float:
    if "avg_pool_3x3" in arch.ops:
        raise RuntimeError("simulated training crash")
    return accuracy(arch)


def die_on_first_attempt(marker_dir_and_arch):
    marker_dir, arch = marker_dir_and_arch
    marker = Path(marker_dir) / SPACE.to_indices(arch)
    if not marker.exists():
        marker.write_text("attempted")
        os._exit(3)
    return accuracy(arch)


def always_die(arch):
    os._exit(4)


def sleep_then_answer(seconds_and_value):
    seconds, value = seconds_and_value
    time.sleep(seconds)
    return {"value": value, "slept": seconds}


def numpy_info(arch) -> dict:
    return {"value": np.float32(accuracy(arch)), "epochs": np.int64(12), "curve": np.array([0.5, 0.75])}


def hundred_on_pool(arch) -> float:
    return 100.0 if "avg_pool_3x3" in arch.ops else min(accuracy(arch), 99.0)


def leave_a_thread_running(value) -> float:
    import threading

    threading.Thread(target=time.sleep, args=(60,)).start()  # not a daemon: the worker cannot exit
    return value


def object_info_on_pool(arch) -> dict:
    return {"value": min(accuracy(arch), 99.0), "model": object() if "avg_pool_3x3" in arch.ops else 1}


def ignore_sigterm_then_sleep(seconds) -> float:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)
    return 1.0


class InlineBackend(Backend):
    """Evaluates in this process and hands on the evaluator's dict as it is, as a third-party backend might."""

    def __init__(self) -> None:
        self._outcomes: list[Outcome] = []

    def submit(self, trial_id: int, evaluate, arch) -> None:
        result = evaluate(arch)
        self._outcomes.append(Outcome(trial_id, result.pop("value"), result))

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        outcomes, self._outcomes = self._outcomes, []
        return outcomes

    @property
    def n_running(self) -> int:
        return len(self._outcomes)


def test_call_evaluate_splits_values_infos_and_errors():
    assert call_evaluate(lambda arch: 1.5, None) == (1.5, {}, None)
    assert call_evaluate(lambda arch: {"value": 2, "epochs": 3}, None) == (2.0, {"epochs": 3}, None)
    assert "without a 'value'" in call_evaluate(lambda arch: {"acc": 2}, None)[2]
    assert call_evaluate(lambda arch: float("nan"), None)[2] == "evaluate's value must be a finite number, got nan"
    assert call_evaluate(lambda arch: "high", None)[2] == "evaluate's value must be a finite number, got 'high'"
    assert call_evaluate(lambda arch: True, None)[2] == "evaluate's value must be a finite number, got True"
    assert call_evaluate(lambda arch: torch.tensor(0.5), None) == (0.5, {}, None)
    value, _, error = call_evaluate(lambda arch: 1 / 0, None)
    assert value is None and error.startswith("ZeroDivisionError: division by zero")
    assert call_evaluate(lambda arch: {"value": 1, "n": np.int64(3), "t": torch.tensor(0.5)}, None) == (
        1.0, {"n": 3, "t": 0.5}, None)
    value, info, error = call_evaluate(lambda arch: {"value": 1, "model": object()}, None)
    assert value is None and info == {} and "evaluate's info.model is a object" in error


def test_a_worker_that_cannot_exit_still_answers():
    start = time.monotonic()
    with LocalBackend(n_workers=1) as backend:
        backend.submit(0, leave_a_thread_running, 7.0)
        assert backend.wait()[0].value == 7.0
    assert time.monotonic() - start < 30


def test_run_loop_journals_numpy_infos_and_fails_refused_values(tmp_path):
    path = tmp_path / "run.jsonl"
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=4, storage=path)
    backend = LocalBackend(n_workers=2)
    bonas.run(opt, numpy_info, backend=backend, n_trials=3, max_in_flight=2, show_progress=False)
    journaled = bonas.Optimizer.load(path).trials
    assert len(journaled) == 3 and [t.value for t in journaled] == [t.value for t in opt.trials]
    assert all(t.info["epochs"] == 12 and t.info["curve"] == [0.5, 0.75] for t in journaled + opt.trials)
    logged = bonas.Optimizer(SPACE, seed=2, n_initial=4, storage=tmp_path / "log.jsonl", outcome_transform="log-error")
    bonas.run(logged, hundred_on_pool, backend=backend, n_trials=10, max_in_flight=2, show_progress=False,
              fail_fast=None)  # these failures depend on the cell: the first few may all be pooling cells
    backend.shutdown()
    failed = [trial for trial in logged.trials if trial.state == bonas.TrialState.FAILED]
    assert failed and all("refused the result 100.0" in trial.info["error"] for trial in failed)
    assert sum(trial.state != bonas.TrialState.RUNNING for trial in logged.trials) == 10
    reloaded = bonas.Optimizer.load(tmp_path / "log.jsonl").trials
    assert [(t.state, t.value, t.info) for t in reloaded] == [(t.state, t.value, t.info) for t in logged.trials]


def test_run_loop_fails_a_trial_whose_info_the_journal_refuses(tmp_path):
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=4, storage=tmp_path / "run.jsonl")
    bonas.run(opt, object_info_on_pool, backend=InlineBackend(), n_trials=8, max_in_flight=2, show_progress=False)
    failed = [trial for trial in opt.trials if trial.state == bonas.TrialState.FAILED]
    assert failed and all("tell event.info.model is a object" in trial.info["error"] for trial in failed)
    assert all(trial.info == {"attempts": 1, "error": trial.info["error"]} for trial in failed)
    assert sum(trial.state != bonas.TrialState.RUNNING for trial in opt.trials) == 8
    assert [t.state for t in bonas.Optimizer.load(tmp_path / "run.jsonl").trials] == [t.state for t in opt.trials]


def test_local_backend_returns_outcomes_as_they_finish():
    with LocalBackend(n_workers=2) as backend:
        backend.submit(0, sleep_then_answer, (4.0, 10.0))
        backend.submit(1, sleep_then_answer, (0.0, 20.0))
        first = backend.wait()
        assert [outcome.trial_id for outcome in first] == [1]  # the second finishes first
        assert first[0].value == 20.0 and first[0].info == {"slept": 0.0}
        assert backend.wait()[0] == Outcome(0, 10.0, {"slept": 4.0}, None, 1)
        assert backend.n_running == 0


def test_local_backend_retries_a_dead_worker_then_fails_it(tmp_path):
    arch = SPACE.sample(1, np.random.default_rng(0))[0]
    with LocalBackend(n_workers=1, max_retries=1) as backend:
        backend.submit(0, die_on_first_attempt, (str(tmp_path), arch))
        outcome = backend.wait()[0]
        assert outcome.error is None and outcome.attempts == 2 and outcome.value == accuracy(arch)
        backend.submit(1, always_die, arch)
        outcome = backend.wait()[0]
        assert outcome.value is None and outcome.attempts == 2
        assert "worker process died (exit code 4) on each of 2 attempt(s)" in outcome.error


def test_local_backend_times_out():
    with LocalBackend(n_workers=1, timeout_s=0.5) as backend:
        backend.submit(0, sleep_then_answer, (30.0, 1.0))
        start = time.monotonic()
        outcome = backend.wait()[0]
        # well under the 30 s the evaluation would take: it was stopped (not timed: a loaded machine starts slowly)
        assert "timed out after 0.5 s" in outcome.error and time.monotonic() - start < 25


def test_a_worker_that_ignores_sigterm_is_killed(monkeypatch):
    monkeypatch.setattr(local, "EXIT_GRACE_S", 0.5)
    with LocalBackend(n_workers=1, timeout_s=1.0) as backend:
        backend.submit(0, ignore_sigterm_then_sleep, 60.0)
        start = time.monotonic()
        assert "timed out after 1.0 s" in backend.wait()[0].error and time.monotonic() - start < 25  # of 60 s
        backend.submit(1, ignore_sigterm_then_sleep, 60.0)
        assert backend.wait(timeout=0.5) == []
        start = time.monotonic()
    assert time.monotonic() - start < 10  # shutdown too


def test_bad_backend_options_are_named():
    with pytest.raises(ValueError, match="n_workers must be at least 1"):
        LocalBackend(n_workers=0)
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        LocalBackend(timeout_s=0)


def test_run_loop_survives_failures_and_resumes(tmp_path):
    path = tmp_path / "run.jsonl"
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=6, storage=path, deterministic=True)
    backend = LocalBackend(n_workers=2)
    bonas.run(opt, raise_on_pool, backend=backend, n_trials=12, max_in_flight=3, show_progress=False,
              fail_fast=None)  # these failures depend on the cell: the first few may all be pooling cells
    told = [trial for trial in opt.trials if trial.state != bonas.TrialState.RUNNING]
    assert len(told) == 12 and not opt.pending
    failed = [trial for trial in opt.trials if trial.state == bonas.TrialState.FAILED]
    assert failed and all("simulated training crash" in trial.info["error"] for trial in failed)
    assert all("avg_pool_3x3" in trial.arch.ops for trial in failed)
    resumed = bonas.Optimizer.load(path)
    assert [(t.arch_str, t.value) for t in resumed.trials] == [(t.arch_str, t.value) for t in opt.trials]
    bonas.run(resumed, raise_on_pool, backend=backend, n_trials=16, max_in_flight=4, show_progress=False,
              fail_fast=None)
    assert sum(trial.state != bonas.TrialState.RUNNING for trial in resumed.trials) == 16
    backend.shutdown()


def test_run_loop_evaluates_trials_left_in_flight(tmp_path):
    path = tmp_path / "run.jsonl"
    opt = bonas.Optimizer(SPACE, seed=1, n_initial=4, storage=path)
    opt.ask(3)
    resumed = bonas.Optimizer.load(path, in_flight="keep")
    bonas.run(resumed, accuracy, backend=LocalBackend(2), n_trials=5, max_in_flight=2,
              show_progress=False)
    assert [trial.state for trial in resumed.trials[:3]] == [bonas.TrialState.COMPLETE] * 3
    assert sum(trial.state == bonas.TrialState.COMPLETE for trial in resumed.trials) == 5


def test_an_evaluation_past_its_time_is_answered_as_timed_out():
    assert call_evaluate_within(lambda x: x + 1, 1.0, None) == (2.0, {}, None)
    assert call_evaluate_within(lambda x: x + 1, 1.0, 5.0) == (2.0, {}, None)
    start = time.monotonic()
    assert call_evaluate_within(lambda _: time.sleep(5), None, 0.2) == (None, {}, "timed out after 0.2 s")
    assert time.monotonic() - start < 2
