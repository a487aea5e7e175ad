"""LocalBackend and run against systematic faults: callables that need cloudpickle, scripts without a main guard,
an evaluate that always fails, a parent killed mid-run, and workers kept across trials."""

import gc
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import bonas
from bonas.backends import Backend, LocalBackend, Outcome
from bonas.backends.base import call_evaluate

SPACE = bonas.NASBench201Space()
TABLE = bonas.NASBench201Table("cifar10")


def accuracy(arch) -> float:
    return bonas.NASBench201Table("cifar10").query(arch).test_accuracy


def own_pid(_) -> float:
    return float(os.getpid())


def sleep_then_pid(seconds) -> float:
    time.sleep(seconds)
    return float(os.getpid())


class CallCounter:
    """Counts its calls in the process it runs in: 1, 2, 3 on one worker shows the worker kept it."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, _) -> dict:
        self.calls += 1
        return {"value": self.calls, "pid": os.getpid()}


class InlineBackend(Backend):
    """Evaluates in this process when asked to wait: the run loop's logic without worker processes."""

    def __init__(self) -> None:
        self.submitted: list[tuple[int, object, object]] = []

    def submit(self, trial_id: int, evaluate, arch) -> None:
        self.submitted.append((trial_id, evaluate, arch))

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        trial_id, evaluate, arch = self.submitted.pop(0)
        value, info, error = call_evaluate(evaluate, arch)
        return [Outcome(trial_id, value, info, error)]

    @property
    def n_running(self) -> int:
        return len(self.submitted)


class RefusesTrialOne(InlineBackend):
    def submit(self, trial_id: int, evaluate, arch) -> None:
        if trial_id == 1:
            raise OSError("cannot start a worker: too many processes")
        super().submit(trial_id, evaluate, arch)


def _run_script(tmp_path: Path, source: str, *args: str) -> subprocess.Popen:
    script = tmp_path / "search.py"
    script.write_text(textwrap.dedent(source))
    log = open(tmp_path / "search.log", "w")
    return subprocess.Popen([sys.executable, str(script), *args], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped by an init that does not reap, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from ``/proc``."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def test_lambdas_and_closures_are_shipped_by_value(tmp_path):
    path = tmp_path / "run.jsonl"
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=4, storage=path)
    offset = 1000.0
    with LocalBackend(n_workers=2) as backend:
        bonas.run(opt, lambda arch: accuracy(arch) + offset, backend=backend, n_trials=3, max_in_flight=2,
                  show_progress=False)

        def noisy_closure(arch):
            print("evaluating", arch, "(a print must not disturb the workers' pipes)")
            return {"value": TABLE.query(arch).test_accuracy - offset, "pid": os.getpid()}

        bonas.run(opt, noisy_closure, backend=backend, n_trials=5, max_in_flight=2, show_progress=False)
    trials = bonas.Optimizer.load(path).trials
    assert [trial.state for trial in trials] == [bonas.TrialState.COMPLETE] * 5
    assert [trial.value for trial in trials[:3]] == [accuracy(trial.arch) + offset for trial in trials[:3]]
    assert [trial.value for trial in trials[3:]] == [accuracy(trial.arch) - offset for trial in trials[3:]]
    assert {trial.info["pid"] for trial in trials[3:]} - {os.getpid()}


def test_a_script_without_main_guard_runs(tmp_path):
    search = _run_script(tmp_path, """
        import bonas

        table = bonas.NASBench201Table("cifar10")

        def evaluate(arch):
            return table.query(arch).test_accuracy

        opt = bonas.Optimizer(bonas.NASBench201Space(), seed=0, n_initial=4, storage="run.jsonl")
        bonas.run(opt, evaluate, backend=bonas.LocalBackend(2), n_trials=4, max_in_flight=2, show_progress=False)
        print("done", len(opt.completed))
    """)
    assert search.wait(timeout=120) == 0, (tmp_path / "search.log").read_text()
    assert "done 4" in (tmp_path / "search.log").read_text()
    trials = bonas.Optimizer.load(tmp_path / "run.jsonl").trials
    assert [trial.value for trial in trials] == [TABLE.query(trial.arch).test_accuracy for trial in trials]
    assert len(trials) == 4


def test_an_unpicklable_evaluate_is_refused_before_anything_is_asked(tmp_path):
    lock = threading.Lock()

    def guarded(arch):
        with lock:
            return accuracy(arch)

    opt = bonas.Optimizer(SPACE, seed=0, n_initial=4, storage=tmp_path / "run.jsonl")
    with LocalBackend(n_workers=1) as backend, pytest.raises(TypeError, match=r"evaluate <function .*guarded.* "
                                                                              r"cannot be sent .*lock"):
        bonas.run(opt, guarded, backend=backend, n_trials=3, show_progress=False)
    assert opt.trials == [] and bonas.Optimizer.load(tmp_path / "run.jsonl").trials == []


def test_a_failed_submit_abandons_the_trials_it_did_not_send(tmp_path):
    path = tmp_path / "run.jsonl"
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=4, storage=path)
    with pytest.raises(OSError, match="too many processes"):
        bonas.run(opt, accuracy, backend=RefusesTrialOne(), n_trials=5, max_in_flight=3, show_progress=False)
    trials = bonas.Optimizer.load(path).trials
    assert [trial.state for trial in trials] == [bonas.TrialState.RUNNING] + [bonas.TrialState.ABANDONED] * 2
    assert all(trial.info == {"reason": "not submitted: OSError: cannot start a worker: too many processes"}
               for trial in trials[1:])


def test_an_evaluate_that_always_fails_stops_the_run_after_three(tmp_path):
    path = tmp_path / "run.jsonl"
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=8, storage=path)

    def missing_data(arch):
        raise FileNotFoundError(f"no such dataset: {tmp_path / 'cifar10'}")

    start = time.monotonic()
    with LocalBackend(n_workers=2) as backend, pytest.raises(bonas.EvaluationError) as stopped:
        bonas.run(opt, missing_data, backend=backend, n_trials=10, max_in_flight=4, show_progress=False)
    assert time.monotonic() - start < 30
    message = str(stopped.value)
    assert "first 3 evaluations" in message and "FileNotFoundError: no such dataset" in message
    assert f"bonas.Optimizer.load('{path}')" in message and "fail_fast=None" in message
    assert stopped.value.error.startswith("FileNotFoundError") and "Traceback" in stopped.value.error
    failed = [trial.id for trial in opt.trials if trial.state == bonas.TrialState.FAILED]
    in_flight = [trial.id for trial in opt.pending]
    assert len(stopped.value.trial_ids) == 3 and set(stopped.value.trial_ids) <= set(failed)
    assert len(failed) <= 4 and len(in_flight) >= 2 and opt.best_trial is None  # 2 workers: at most 2 answered at once
    resumed = bonas.Optimizer.load(path)
    assert [(t.id, t.state) for t in resumed.trials] == [(t.id, t.state) for t in opt.trials]
    bonas.run(resumed, accuracy, backend=InlineBackend(), n_trials=len(resumed.trials), show_progress=False)
    assert [trial.id for trial in resumed.completed] == in_flight and not resumed.pending
    assert all(trial.value == accuracy(trial.arch) for trial in resumed.completed)


def evaluate_raising(errors: list):
    """An evaluate whose i-th call raises ``RuntimeError(errors[i])``, or answers where that is ``None``."""
    calls = iter(errors)

    def evaluate(arch):
        error = next(calls)
        if error is not None:
            raise RuntimeError(error)
        return accuracy(arch)

    return evaluate


@pytest.mark.parametrize("errors, fail_fast, stops", [
    (["disk full", "out of memory", "disk full", None, None], 3, False),  # different errors
    ([None, "out of memory", "out of memory", "out of memory", "out of memory"], 3, False),  # a success first
    (["out of memory"] * 5, None, False),
    (["out of memory", "out of memory", None, None, None], 2, True),
])
def test_only_a_systematic_start_stops_a_run(errors, fail_fast, stops):
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=8)
    if stops:
        with pytest.raises(bonas.EvaluationError, match="first 2 evaluations .*'RuntimeError: out of memory'"):
            bonas.run(opt, evaluate_raising(errors), backend=InlineBackend(), n_trials=5, show_progress=False,
                      fail_fast=fail_fast)
        assert [trial.state.value for trial in opt.trials] == ["failed"] * 2 + ["running"] * 3
    else:
        bonas.run(opt, evaluate_raising(errors), backend=InlineBackend(), n_trials=5, show_progress=False,
                  fail_fast=fail_fast)
        assert [trial.state.value for trial in opt.trials] == ["complete" if e is None else "failed" for e in errors]


def test_fail_fast_is_checked():
    with pytest.raises(ValueError, match="fail_fast must be at least 1 or None, got 0"):
        bonas.run(bonas.Optimizer(SPACE), accuracy, backend=InlineBackend(), fail_fast=0)


def test_workers_are_kept_across_trials_and_replaced_after_a_timeout():
    counter = CallCounter()
    with LocalBackend(n_workers=1, timeout_s=1.0) as backend:
        for trial_id in range(3):
            backend.submit(trial_id, counter, None)
        outcomes = [backend.wait()[0] for _ in range(3)]
        assert [outcome.value for outcome in outcomes] == [1.0, 2.0, 3.0]  # unpickled once, kept by the worker
        first_worker = outcomes[0].info["pid"]
        assert {outcome.info["pid"] for outcome in outcomes} == {first_worker} != {os.getpid()}
        backend.submit(3, sleep_then_pid, 60.0)
        assert "timed out after 1.0 s" in backend.wait()[0].error
        assert not _alive(first_worker)
        backend.submit(4, own_pid, None)
        backend.submit(5, own_pid, None)
        replacement = {outcome.value for outcome in backend.wait() + backend.wait()}
        assert len(replacement) == 1 and first_worker not in replacement


def test_a_backend_dropped_without_shutdown_stops_its_workers():
    backend = LocalBackend(n_workers=1)
    backend.submit(0, own_pid, None)
    worker = int(backend.wait()[0].value)
    assert _alive(worker)
    del backend
    gc.collect()
    assert not _alive(worker)


def test_workers_import_what_this_process_can(tmp_path, monkeypatch):
    (tmp_path / "user_evaluators.py").write_text("def double(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_evaluators  # pickled by reference: the worker must find the module on the same sys.path

    with LocalBackend(n_workers=1) as backend:
        backend.submit(0, user_evaluators.double, 21.0)
        assert backend.wait()[0] == Outcome(0, 42.0, {}, None, 1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    search = _run_script(tmp_path, """
        import os, sys, time
        import bonas

        pid_dir = sys.argv[1]  # shipped with evaluate: a worker's own argv is not the script's

        def evaluate(arch):
            open(os.path.join(pid_dir, str(os.getpid())), "w").close()
            time.sleep(60)
            return 1.0

        opt = bonas.Optimizer(bonas.NASBench201Space(), seed=0, n_initial=4, storage="run.jsonl")
        bonas.run(opt, evaluate, backend=bonas.LocalBackend(2), n_trials=4, max_in_flight=2, show_progress=False)
    """, str(pid_dir))
    deadline = time.monotonic() + 60
    while len(list(pid_dir.iterdir())) < 2 and search.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = {int(entry.name) for entry in pid_dir.iterdir()}
    assert len(workers) == 2, (tmp_path / "search.log").read_text()
    children = set(_children(search.pid))
    assert workers <= children
    os.kill(search.pid, signal.SIGKILL)
    search.wait()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in children if _alive(pid)]  # workers and anything else the parent started
    resumed = bonas.Optimizer.load(tmp_path / "run.jsonl")
    assert len(resumed.pending) == 2
    bonas.run(resumed, accuracy, backend=InlineBackend(), n_trials=4, show_progress=False)
    assert [trial.state for trial in resumed.trials] == [bonas.TrialState.COMPLETE] * 4


def test_a_run_longer_than_the_space_ends_when_the_space_is_exhausted(caplog):
    base = bonas.NASBench201Space()
    space = bonas.SubsetSpace(base, base.sample(40, np.random.default_rng(0)))
    n_classes = len({space.canonical_key(arch) for arch in space.enumerate()})
    opt = bonas.Optimizer(space, n_initial=100, seed=0, encoding="path")
    with caplog.at_level(logging.WARNING, logger="bonas.loop"):
        bonas.run(opt, lambda arch: 1.0, backend=InlineBackend(), n_trials=n_classes + 10, max_in_flight=3,
                  show_progress=False)
    assert len(opt.completed) == n_classes and not opt.pending
    assert "has been asked" in caplog.text and "the run ends" in caplog.text
