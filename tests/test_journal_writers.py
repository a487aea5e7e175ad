"""One writer per journal (issue 19, case 1): two real processes, in-process hand-over, read-only reads."""

import json
import subprocess
import sys
import textwrap

import pytest

import bonas
from bonas.journal_lock import JournalLockedError, lock_path
from bonas.nasbench import NASBench201Table
from bonas.optimizer import Optimizer
from bonas.spaces import NASBench201Space

SPACE = NASBench201Space()

WRITER = textwrap.dedent(
    """
    import os, sys, time
    import bonas
    table = bonas.NASBench201Table("cifar10")
    try:
        opt = bonas.Optimizer.load(sys.argv[1])
    except bonas.JournalLockedError as error:
        print("LOCKED", error, flush=True)
        sys.exit(3)
    print("OPEN", flush=True)
    for step in range(20):
        trial = opt.ask(1)[0]
        opt.tell(trial, table.query(trial.arch).test_accuracy)
        if step == 9 and len(sys.argv) > 2:  # half-way, hold the journal until the other writer has tried
            deadline = time.monotonic() + 120
            while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
                time.sleep(0.05)
    print("DONE", flush=True)
    """
)


def test_two_processes_on_one_journal_lose_nothing_and_ask_nothing_twice(tmp_path):
    path = tmp_path / "a.jsonl"
    Optimizer(SPACE, n_initial=1000, seed=0, storage=path).close()
    go = tmp_path / "go"
    first = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(go)], stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline() == "OPEN\n"
    try:
        second = subprocess.run([sys.executable, "-c", WRITER, str(path)], capture_output=True, text=True,
                                timeout=120)
    finally:
        go.touch()
    assert second.returncode == 3, second.stderr
    assert str(path) in second.stdout and f"process {first.pid}" in second.stdout and "read_only=True" in second.stdout
    assert first.stdout.read().strip() == "DONE" and first.wait(timeout=60) == 0
    again = subprocess.run([sys.executable, "-c", WRITER, str(path)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "DONE" in again.stdout, again.stderr
    loaded = Optimizer.load(path)
    assert len(loaded.completed) == 40 and not loaded.pending
    assert len({SPACE.canonical_key(trial.arch) for trial in loaded.trials}) == 40
    assert [trial.id for trial in loaded.trials] == list(range(40))


def test_a_held_lock_names_the_holder_and_changes_nothing(tmp_path):
    path = tmp_path / "a.jsonl"
    opt = Optimizer(SPACE, n_initial=5, storage=path)
    opt.tell(opt.ask(1)[0], 90.0)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import fcntl, os, sys, time
        opened = os.open(sys.argv[1], os.O_RDWR)
        fcntl.flock(opened, fcntl.LOCK_EX | fcntl.LOCK_NB)
        print("held", flush=True)
        time.sleep(60)
    """), str(lock_path(path))], stdout=subprocess.PIPE, text=True)
    try:
        opt.close()
        assert holder.stdout.readline() == "held\n"
        before = path.read_bytes()
        with pytest.raises(JournalLockedError, match="one writer at a time"):
            Optimizer.load(path)
        with pytest.raises(JournalLockedError):
            Optimizer(SPACE, storage=tmp_path / "a.jsonl")
        assert path.read_bytes() == before
        reader = Optimizer.load(path, read_only=True)
        assert reader.best_trial.value == 90.0
        with pytest.raises(RuntimeError, match="read_only"):
            reader.ask(1)
        with pytest.raises(RuntimeError, match="read_only"):
            reader.attach(SPACE.sample(1, __import__("numpy").random.default_rng(0))[0], 1.0)
        assert path.read_bytes() == before
    finally:
        holder.kill()
        holder.wait()


def test_close_releases_the_lock_for_another_process(tmp_path):
    path = tmp_path / "a.jsonl"
    probe = "import fcntl, os, sys; fcntl.flock(os.open(sys.argv[1], os.O_RDWR), fcntl.LOCK_EX | fcntl.LOCK_NB)"
    with Optimizer(SPACE, storage=path) as opt:
        opt.ask(1)
        assert subprocess.run([sys.executable, "-c", probe, str(lock_path(path))], capture_output=True).returncode != 0
    assert subprocess.run([sys.executable, "-c", probe, str(lock_path(path))], capture_output=True).returncode == 0
    with pytest.raises(JournalLockedError, match="closed"):
        opt.ask(1)
    assert json.loads(lock_path(path).read_text())["pid"] > 0


def test_loading_in_the_same_process_hands_the_writing_over(tmp_path):
    path = tmp_path / "a.jsonl"
    old = Optimizer(SPACE, n_initial=5, storage=path)
    trial = old.ask(1)[0]
    with pytest.raises(ValueError, match="journal of space 'nb201', not 'darts'"):
        Optimizer(bonas.DARTSSpace(), storage=path, encoding="path")
    old.tell(trial, 91.0)  # a failed open takes nothing from the writer
    new = Optimizer.load(path)
    before = path.read_bytes()
    with pytest.raises(JournalLockedError, match="newer optimizer"):
        old.ask(1)
    assert path.read_bytes() == before
    new.tell(new.ask(1)[0], 92.0)
    old.close()  # closing the superseded one leaves the newer one writing
    new.tell(new.ask(1)[0], 93.0)
    assert [t.value for t in Optimizer.load(path).completed] == [91.0, 92.0, 93.0]


def test_a_forked_process_cannot_write_its_parents_journal(tmp_path, monkeypatch):
    path = tmp_path / "a.jsonl"
    opt = Optimizer(SPACE, storage=path)
    before = path.read_bytes()
    real_pid = __import__("os").getpid()
    monkeypatch.setattr("bonas.journal_lock.os.getpid", lambda: real_pid + 1)
    with pytest.raises(JournalLockedError, match="forked process"):
        opt.ask(1)
    assert path.read_bytes() == before


MAIN_WITHOUT_GUARD = textwrap.dedent(
    """
    import multiprocessing, sys
    import bonas
    opt = bonas.Optimizer(bonas.NASBench201Space(), storage=sys.argv[1])
    child = multiprocessing.get_context("spawn").Process(target=print, args=("child",))
    child.start()
    child.join()
    print("child exit", child.exitcode, flush=True)
    """
)


def test_a_script_without_a_main_guard_is_told_so(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(MAIN_WITHOUT_GUARD)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "a.jsonl")], capture_output=True, text=True,
                          timeout=120)
    assert "child exit 1" in done.stdout
    assert 'if __name__ == "__main__":' in done.stderr and "already holds a journal" not in done.stderr


def test_table_values_survive_a_handover_loop(tmp_path):
    table = NASBench201Table("cifar10")
    path = tmp_path / "a.jsonl"
    opt = Optimizer(SPACE, n_initial=3, seed=0, storage=path, deterministic=True)
    told = []
    for _ in range(4):
        for trial in opt.ask(2):
            told.append(opt.tell(trial, table.query(trial.arch).test_accuracy).value)
        opt = Optimizer.load(path)
    assert [t.value for t in opt.completed] == told


def test_load_takes_the_writing_before_it_reads(tmp_path, monkeypatch):
    """An older optimizer of this process cannot append between the new one's read and its first write."""
    from bonas.journal import Journal

    path = tmp_path / "a.jsonl"
    old = Optimizer(SPACE, n_initial=5, storage=path)
    old.tell(old.ask(1)[0], 90.0)
    read = Journal.read
    refused = []

    def read_while_the_old_one_asks(journal):
        with pytest.raises(JournalLockedError, match="newer optimizer"):
            old.ask(1)
        refused.append(True)
        return read(journal)

    monkeypatch.setattr(Journal, "read", read_while_the_old_one_asks)
    new = Optimizer.load(path)
    monkeypatch.setattr(Journal, "read", read)
    assert refused and [t.id for t in new.trials] == [0]
    new.tell(new.ask(1)[0], 91.0)
    assert [t.value for t in Optimizer.load(path).completed] == [90.0, 91.0]


def test_a_failed_load_hands_the_writing_back(tmp_path):
    path = tmp_path / "a.jsonl"
    old = Optimizer(SPACE, n_initial=5, storage=path)
    with pytest.raises(ValueError, match="journal of space 'nb201', not 'darts'"):
        Optimizer.load(path, space=bonas.DARTSSpace())
    old.tell(old.ask(1)[0], 90.0)
    assert [t.value for t in Optimizer.load(path).completed] == [90.0]


def test_a_forked_child_does_not_keep_the_lock_after_its_parent_closes(tmp_path):
    import os
    import signal
    import time

    path = tmp_path / "a.jsonl"
    opt = Optimizer(SPACE, storage=path)
    child = os.fork()
    if child == 0:  # holds whatever descriptors it inherited, for longer than the test
        time.sleep(30)
        os._exit(0)
    try:
        opt.close()
        probe = "import fcntl, os, sys; fcntl.flock(os.open(sys.argv[1], os.O_RDWR), fcntl.LOCK_EX | fcntl.LOCK_NB)"
        assert subprocess.run([sys.executable, "-c", probe, str(lock_path(path))]).returncode == 0
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_run_refuses_an_optimizer_that_cannot_write_before_evaluating_anything(tmp_path):
    path = tmp_path / "a.jsonl"
    Optimizer(SPACE, n_initial=5, storage=path).close()
    reader = Optimizer.load(path, read_only=True)
    evaluated = []
    with pytest.raises(RuntimeError, match="read_only"):
        bonas.run(reader, evaluated.append, n_trials=2, max_in_flight=1, show_progress=False)
    assert not evaluated
