"""``bonas report`` and :mod:`bonas.journal_report`: the state, trials.csv, progress.png and front.png of a journal
written by a real run, read while it is live (a trial running, a torn last line, another process holding the lock),
and ``bonas search --out``."""

import csv
import math
import subprocess
import sys
from datetime import datetime

import numpy as np
import pytest

import bonas
from bonas.cli import main
from bonas.journal_report import (TRIAL_COLUMNS, failures_by_error, progress_curve, read_report, trial_rows,
                                  write_report)
from bonas.trial import TrialState
from inline_backend import InlineBackend

SPACE = bonas.NASBench201Space()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def score(arch):
    """A deterministic value per cell; cells without a 3x3 convolution fail, as an evaluator bug would."""
    text = SPACE.to_str(arch)
    if "nor_conv_3x3" not in text:
        raise RuntimeError("no 3x3 convolution in this cell")
    return {"value": float(text.count("conv") * 10 + len(text) % 7), "seconds": 0.5}


def live_journal(path, torn=True):
    """A journal of a real run of 12 trials with failures and one trial still running, and with ``torn``, a torn
    last line (what a reader sees while the tell of the running trial is being written); returns the optimizer,
    still holding the journal."""
    opt = bonas.Optimizer(SPACE, n_initial=20, seed=0, storage=path)
    bonas.run(opt, score, backend=InlineBackend(), n_trials=12, max_in_flight=2, show_progress=False,
              fail_fast=None)
    [running] = opt.ask(1)
    if torn:
        with open(path, "ab") as handle:
            handle.write(b'{"event": "tell", "trial": ' + str(running.id).encode() + b', "val')
    return opt


@pytest.fixture
def journal(tmp_path):
    path = tmp_path / "search.jsonl"
    opt = live_journal(path)
    yield path, opt
    opt.close()


def test_the_report_holds_every_trial_by_state_and_the_best_so_far(journal):
    path, opt = journal
    report = read_report(path)
    assert [(t.id, t.arch, t.state) for t in report.trials] == [(t.id, t.arch_str, t.state) for t in opt.trials]
    assert len(report.in_state(TrialState.RUNNING)) == 1 and report.torn_bytes > 0
    assert len(report.told) == 12 and report.in_state(TrialState.FAILED)
    assert report.ranked()[0].value == opt.best_trial.value
    curve = progress_curve(report)
    finite = curve.best[~np.isnan(curve.best)]
    assert np.all(np.diff(finite) >= 0) and finite[-1] == opt.best_trial.value
    assert curve.told[curve.last_improvement()].value == opt.best_trial.value


def test_failures_are_grouped_by_error_without_their_tracebacks(journal):
    path, opt = journal
    failed = [t.id for t in opt.trials if t.state == TrialState.FAILED]
    assert all("Traceback" in t.info["error"] for t in opt.trials if t.state == TrialState.FAILED)
    assert failures_by_error(read_report(path)) == [("RuntimeError: no 3x3 convolution in this cell", failed)]


def test_trials_csv_has_one_row_per_trial_with_times_infos_and_the_whole_arch(journal, tmp_path):
    path, opt = journal
    written = write_report(read_report(path), tmp_path / "out")
    assert [p.name for p in written] == ["trials.csv", "progress.png"]
    with open(written[0], newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == [*TRIAL_COLUMNS, "info.attempts", "info.error", "info.seconds"]
    assert len(rows) == len(opt.trials)
    for row, trial in zip(rows, opt.trials):
        assert (int(row["trial"]), row["state"], row["arch"]) == (trial.id, trial.state.value, trial.arch_str)
        assert datetime.fromisoformat(row["asked_at"]).timestamp() == pytest.approx(trial.asked_at, abs=1)
        if trial.state == TrialState.RUNNING:
            assert row["told_at"] == row["duration_s"] == row["value"] == ""
        else:
            assert float(row["duration_s"]) == pytest.approx(trial.told_at - trial.asked_at, abs=1e-3)
        if trial.state == TrialState.COMPLETE:
            assert float(row["value"]) == trial.value and row["info.seconds"] == "0.5"
    assert written[1].read_bytes().startswith(PNG_SIGNATURE) and written[1].stat().st_size > 10_000


def test_the_report_takes_no_lock_and_changes_nothing_while_another_process_holds_the_journal(journal, tmp_path,
                                                                                              capsys):
    path, opt = journal
    opt.close()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); "
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                               f"{path}.lock"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        before = path.read_bytes()
        with pytest.raises(bonas.JournalLockedError):
            bonas.Optimizer.load(path)
        assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 0
        assert path.read_bytes() == before  # the torn line is the writer's to cut, not the reader's
        assert (tmp_path / "out" / "trials.csv").exists()
    finally:
        holder.kill()
        holder.wait()


def test_an_open_optimizer_goes_on_writing_after_a_report(tmp_path):
    path = tmp_path / "live.jsonl"
    with live_journal(path, torn=False) as opt:
        [pending] = opt.pending
        assert read_report(path).trials[pending.id].state == TrialState.RUNNING
        opt.tell(pending, 1.0)
        assert read_report(path).trials[pending.id].state == TrialState.COMPLETE


def test_the_printed_state_keeps_arch_strings_whole_on_one_line(journal, capsys):
    path, opt = journal
    assert main(["report", str(path)]) == 0
    printed = capsys.readouterr().out
    best = opt.best_trial
    assert f"best value: {best.value:.6g}  {best.arch_str}  (trial {best.id})" in printed.splitlines()
    table_rows = [line for line in printed.splitlines() if best.arch_str in line]
    assert len(table_rows) >= 2 and len(max(printed.splitlines(), key=len)) > 80
    running = opt.pending[0].id
    assert f"running: trials {running}" in printed and "trials: 12 told (" in printed
    assert "failed " in printed and "RuntimeError: no 3x3 convolution in this cell (trials " in printed
    assert "last improvement: trial " in printed and "is incomplete" in printed


def test_a_minimised_objective_reports_its_smallest_value(tmp_path):
    path = tmp_path / "min.jsonl"
    with bonas.Optimizer(SPACE, n_initial=20, seed=1, maximize=False, storage=path) as opt:
        for trial, value in zip(opt.ask(5), [3.0, 1.0, 2.0, 0.5, 4.0]):
            opt.tell(trial, value)
    report = read_report(path)
    assert report.ranked()[0].value == 0.5
    curve = progress_curve(report)
    assert list(curve.best) == [3.0, 1.0, 1.0, 0.5, 0.5] and curve.last_improvement() == 3


def test_a_multi_objective_journal_gives_its_pareto_front(tmp_path):
    path = tmp_path / "mo.jsonl"
    rng = np.random.default_rng(0)
    with bonas.Optimizer(SPACE, n_initial=30, seed=0, storage=path,
                         objectives={"accuracy": "max", "params": "min"}) as opt:
        for trial in opt.ask(12):
            opt.tell(trial, {"accuracy": float(rng.uniform(80, 95)), "params": float(rng.integers(1e5, 1e6))})
        front_ids = [t.id for t in opt.pareto_front()]
    report = read_report(path)
    assert [t.id for t in report.front()] == front_ids
    columns, rows = trial_rows(report)
    assert {"accuracy", "params"} <= set(columns) and all(row["value"] is None for row in rows)
    curve = progress_curve(report)
    assert curve.best[-1] > 0 and np.all(np.diff(curve.best[~np.isnan(curve.best)]) >= -1e-12)
    assert curve.told[curve.last_improvement()].id in front_ids
    written = write_report(report, tmp_path / "out")
    assert [p.name for p in written] == ["trials.csv", "progress.png", "front.png"]
    assert all(p.read_bytes().startswith(PNG_SIGNATURE) for p in written[1:])


def test_a_journal_with_no_trial_yet_still_reports_and_plots(tmp_path, capsys):
    path = tmp_path / "new.jsonl"
    bonas.Optimizer(SPACE, storage=path).close()
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 0
    assert "trials: 0 told" in capsys.readouterr().out
    assert (tmp_path / "out" / "progress.png").stat().st_size > 0


@pytest.mark.parametrize("damage, message", [
    (lambda text: text.replace('"event": "ask"', '"event": "asc"', 1), "unknown event 'asc'"),
    (lambda text: "", "holds no complete event yet"),
])
def test_a_corrupt_or_empty_journal_exits_2_in_one_line(tmp_path, capsys, damage, message):
    path = tmp_path / "bad.jsonl"
    with bonas.Optimizer(SPACE, n_initial=20, storage=path) as opt:
        opt.tell(opt.ask(1)[0], 1.0)
    path.write_text(damage(path.read_text()))
    assert main(["report", str(path)]) == 2
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and message in printed[0]


def test_search_out_journals_there_writes_the_report_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--trials", "3", "--workers", "1"]) == 0
    [out] = (tmp_path / "runs" / "search").iterdir()
    for name in ("journal.jsonl", "trials.csv", "progress.png"):
        assert (out / name).stat().st_size > 0
    printed = capsys.readouterr().out
    assert "best NASWOT score: " in printed and f"wrote trials.csv, progress.png to {out.relative_to(tmp_path)}" \
        in printed
    assert main(["search", "--trials", "4", "--workers", "1", "--out", str(out)]) == 0
    assert "(3 told before)" in capsys.readouterr().out
    with open(out / "trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and all(math.isfinite(float(row["value"])) for row in rows)
