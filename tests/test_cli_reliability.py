"""The CLI ends with a message, not a traceback: a bad ``--out``, a late write failure, bad seeds and journals,
Ctrl-C during a replay (exit 130, the finished replays written) and ``--jobs`` above the CPU count."""

import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import bonas
from bonas import cli
from bonas.cli import main
from bonas.replay import report, runner
from bonas.replay.benchmark import ReplaySpec
from bonas.replay.report import OUTPUT_NAMES, check_output_folder
from bonas.replay.runner import ReplayInterrupted, replay, run_replays

SMALL = ["--methods", "random", "--queries", "5", "--seeds", "2"]


def read_trials(folder):
    with open(folder / "trials.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def no_replay_runs(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a replay was computed before --out was checked")
    monkeypatch.setattr(cli, "run_replays", refuse)


def bad_out(root, kind):
    """An ``--out`` that cannot take the outputs: an existing file, a path under one, or one whose trials.csv
    is a folder."""
    (root / "file").write_text("")
    (root / "run" / "trials.csv").mkdir(parents=True)
    return {"file": root / "file", "under a file": root / "file" / "run", "blocked": root / "run"}[kind]


@pytest.mark.parametrize("kind, message", [
    ("file", "is an existing file; expected a folder"),
    ("under a file", "cannot be created: "),
    ("blocked", "holds folders named ['trials.csv']"),
])
def test_a_bad_out_is_refused_before_any_compute(tmp_path, capsys, no_replay_runs, kind, message):
    out = bad_out(tmp_path, kind)
    assert main(["replay", *SMALL, "--out", str(out)]) == 2
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and message in printed[0] and str(out) in printed[0]


def test_the_out_check_creates_the_folder_and_leaves_nothing_in_it(tmp_path):
    out = tmp_path / "a" / "b"
    check_output_folder(out)
    assert out.is_dir() and list(out.iterdir()) == []


def test_a_late_write_failure_keeps_every_computed_row_and_says_where(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def disk_full(rows, space, out, title, figures):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cli, "write_outputs", disk_full)
    out = tmp_path / "run"
    assert main(["replay", *SMALL, "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    line = next(line for line in printed.splitlines() if "could not write the outputs" in line)
    assert "No space left on device" in line
    fallback = tmp_path / re.search(r"to (\S+) instead", line).group(1)
    assert fallback.parent == tmp_path and fallback.name.startswith("bonas-replay-")
    assert sorted(path.name for path in fallback.iterdir()) == sorted(OUTPUT_NAMES)
    assert len(read_trials(fallback)) == 2 * 5


def test_the_fallback_keeps_the_rows_even_when_the_plots_fail(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def broken_plot(*args):
        raise RuntimeError("no plotting backend")
    monkeypatch.setattr(report, "plot_regret", broken_plot)
    rows = replay("random", 0, ReplaySpec(queries=4))
    fallback = report.write_fallback(rows, bonas.NASBench201Space(), "title")
    assert [row["arch"] for row in read_trials(fallback)] == [row["arch"] for row in rows]


def test_a_negative_first_seed_exits_2_naming_it(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", "--first-seed", "-3"])
    assert exit_info.value.code == 2
    assert "--first-seed: expected an integer 0 or more, got -3" in capsys.readouterr().err


@pytest.mark.parametrize("options, named", [
    (["--refit-growth", "0.1"], "--refit-growth apply"),
    (["--full-trainings", "20"], "--full-trainings apply"),
    (["--full-trainings", "20", "--refit-growth", "0"], "--full-trainings and --refit-growth apply"),
])
def test_fidelity_options_without_fidelities_exit_2_naming_them(tmp_path, capsys, no_replay_runs, options, named):
    out = tmp_path / "run"
    assert main(["replay", "--queries", "5", "--seeds", "1", *options, "--out", str(out)]) == 2
    error = capsys.readouterr().out
    assert named in error and "--fidelities 12,200" in error
    assert not out.exists()


def test_a_multi_fidelity_replay_takes_its_budget_from_full_trainings(tmp_path):
    out = tmp_path / "run"
    assert main(["replay", "--fidelities", "12,200", "--methods", "hyperband", "--seeds", "1",
                 "--full-trainings", "3", "--out", str(out)]) == 0
    epochs = [int(row["epochs"]) for row in read_trials(out)]
    assert epochs[-2] < 600 <= epochs[-1]  # stops at the first evaluation reaching 3 x 200 epochs


def test_a_journal_that_is_a_folder_exits_2_naming_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--journal", str(tmp_path)])
    assert exit_info.value.code == 2
    assert f"--journal: {tmp_path} is a folder; expected the path of a journal file" in capsys.readouterr().err


def test_a_journal_holding_a_400_digit_value_is_refused_in_one_line(tmp_path, capsys):
    journal = tmp_path / "search.jsonl"
    opt = bonas.Optimizer(bonas.NASBench201Space(), seed=0, storage=journal)
    [trial] = opt.ask(1)
    opt.tell(trial, 0.5)
    text = journal.read_text()
    assert text.count('"value": 0.5') == 1
    journal.write_text(text.replace('"value": 0.5', '"value": ' + "9" * 400))
    assert main(["search", "--trials", "2", "--journal", str(journal)]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith(f"cannot resume {journal}: ") and len(captured.out.strip().splitlines()) == 1
    assert "Traceback" not in captured.err


def test_a_journal_another_process_writes_is_refused_in_one_line(tmp_path, capsys):
    journal = tmp_path / "search.jsonl"
    bonas.Optimizer(bonas.NASBench201Space(), seed=0, storage=journal).close()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); "
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                               f"{journal}.lock"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        before = journal.read_bytes()
        assert main(["search", "--trials", "2", "--journal", str(journal)]) == 2
        captured = capsys.readouterr()
        assert captured.out.startswith(f"cannot resume {journal}: ") and "one writer at a time" in captured.out
        assert "Traceback" not in captured.err and journal.read_bytes() == before
    finally:
        holder.kill()
        holder.wait()


def test_run_replays_interrupted_keeps_the_finished_replays(monkeypatch):
    real_replay, calls = runner.replay, []

    def interrupted_on_the_third(method, seed, spec, backend=None):
        calls.append((method, seed))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_replay(method, seed, spec, backend)
    monkeypatch.setattr(runner, "replay", interrupted_on_the_third)
    with pytest.raises(ReplayInterrupted) as interrupted:
        run_replays(ReplaySpec(queries=4), ["random", "ls"], [0, 1], show_progress=False)
    assert (interrupted.value.finished, interrupted.value.total) == (2, 4)
    assert [(row["method"], row["seed"]) for row in interrupted.value.rows] == [("random", 0)] * 4 + [("random", 1)] * 4


def test_ctrl_c_writes_the_finished_replays_and_exits_130(tmp_path, capsys, monkeypatch):
    finished = replay("random", 0, ReplaySpec(queries=5))

    def interrupted(*args, **kwargs):
        raise ReplayInterrupted(finished, 1, 2)
    monkeypatch.setattr(cli, "run_replays", interrupted)
    out = tmp_path / "run"
    assert main(["replay", *SMALL, "--out", str(out)]) == 130
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"interrupted: wrote the 1 of 2 (method, seed) replays that had finished to {out}"
    assert [row["arch"] for row in read_trials(out)] == [row["arch"] for row in finished]


def test_ctrl_c_before_any_replay_finished_writes_nothing_and_says_so(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise ReplayInterrupted([], 0, 2)
    monkeypatch.setattr(cli, "run_replays", interrupted)
    out = tmp_path / "run"
    assert main(["replay", *SMALL, "--out", str(out)]) == 130
    assert capsys.readouterr().out.strip().splitlines()[-1] == ("interrupted: none of the 2 (method, seed) "
                                                                "replays had finished; nothing written")
    assert list(out.iterdir()) == []


def interrupt_a_real_replay(tmp_path, jobs: int, wait_s: float) -> tuple[subprocess.CompletedProcess, str]:
    """Start ``bonas replay`` (3 quick random runs, then slow tw ones), Ctrl-C its process group after ``wait_s``."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "bonas.cli", "replay", "--methods", "random,tw", "--seeds", "3", "--queries",
               "40", "--jobs", str(jobs), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    header = process.stdout.readline()  # printed once the options are checked, before any replay runs
    assert header.startswith("replay nb201-cifar10-test"), header + process.stderr.read()
    time.sleep(wait_s)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C does: the whole group, workers included
    rest, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(command, process.returncode, header + rest, err), out


def check_interrupted_run(result, out) -> None:
    assert result.returncode == 130, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    written = re.fullmatch(r"interrupted: wrote the (\d) of 6 \(method, seed\) replays that had finished to (\S+)",
                           last)
    if written is None:
        assert last == "interrupted: none of the 6 (method, seed) replays had finished; nothing written", last
        assert not (out / "trials.csv").exists()
    else:
        assert written.group(2) == str(out)
        assert len(read_trials(out)) == 40 * int(written.group(1))


def test_ctrl_c_during_a_real_replay(tmp_path):
    result, out = interrupt_a_real_replay(tmp_path, jobs=1, wait_s=3.0)
    check_interrupted_run(result, out)  # how many runs had finished depends on the machine's load


@pytest.mark.slow
def test_ctrl_c_during_a_parallel_replay_stops_the_workers(tmp_path):
    result, out = interrupt_a_real_replay(tmp_path, jobs=2, wait_s=5.0)
    check_interrupted_run(result, out)


def test_jobs_above_the_cpu_count_are_capped_with_a_warning(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    asked = {}
    rows = replay("random", 0, ReplaySpec(queries=5))

    def record_jobs(spec, methods, seeds, jobs=1, backend=None):
        asked["jobs"] = jobs
        return rows
    monkeypatch.setattr(cli, "run_replays", record_jobs)
    assert main(["replay", *SMALL, "--seeds", "1", "--jobs", "1000", "--out", str(tmp_path)]) == 0
    assert asked["jobs"] == 2
    assert "--jobs 1000 is more than the 2 CPU core(s); running 2 job(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    assert "capped at their number" in " ".join(capsys.readouterr().out.split())


def test_replay_on_ray_without_ray_exits_2_before_writing_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError, as without Ray installed
    out = tmp_path / "replay"
    assert main(["replay", *SMALL, "--backend", "ray", "--jobs", "1", "--out", str(out)]) == 2
    assert 'pip install "bonas[cluster]"' in " ".join(capsys.readouterr().out.split())
    assert not out.exists()


def test_a_ctrl_c_whose_exception_was_lost_stops_the_replays_after_the_running_one(monkeypatch):
    # Python drops an exception raised inside a garbage-collector callback; here the replay itself swallows it
    real_run_one = runner._run_one

    def swallowing(method, seed, spec, backend):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except KeyboardInterrupt:
            pass
        return real_run_one(method, seed, spec, backend)
    monkeypatch.setattr(runner, "_run_one", swallowing)
    with pytest.raises(ReplayInterrupted) as interrupted:
        runner.run_replays(ReplaySpec(queries=4), ["random"], [0, 1, 2], show_progress=False)
    assert (interrupted.value.finished, interrupted.value.total) == (1, 3)
    assert [row["seed"] for row in interrupted.value.rows] == [0] * 4
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_lost_ctrl_c_stops_a_search_loop_after_the_trials_it_had_told(tmp_path):
    from bonas import Optimizer, run
    from bonas.spaces import NASBench201Space
    from inline_backend import InlineBackend

    def swallowing(arch):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except KeyboardInterrupt:
            pass
        return 0.5
    opt = Optimizer(NASBench201Space(), storage=tmp_path / "journal.jsonl", seed=0)
    with pytest.raises(KeyboardInterrupt):
        run(opt, swallowing, backend=InlineBackend(), n_trials=5, max_in_flight=1, show_progress=False)
    assert [trial.state.name for trial in opt.trials] == ["COMPLETE"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_dropped_ctrl_c_is_remembered_and_not_reported(monkeypatch):
    import gc
    import weakref

    from bonas.interrupts import remembered_interrupts

    class Cell:
        pass
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    with remembered_interrupts() as pressed:  # a Ctrl-C inside a weakref callback, which Python drops
        cell = Cell()
        kept = weakref.ref(cell, lambda ref: (os.kill(os.getpid(), signal.SIGINT), time.sleep(1)))
        del cell
        gc.collect()
        assert pressed() and kept() is None
    assert reported == []
    assert sys.unraisablehook == reported.append and signal.getsignal(signal.SIGINT) is signal.default_int_handler
