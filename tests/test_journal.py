import json
import logging
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import bonas
from bonas.journal import (
    FORMAT_VERSION,
    Journal,
    JournalCorruptError,
)

CREATE = {"event": "create", "settings": {"space": "nb201", "encoding": "tw", "seed": 0}}


def study_events(n_trials: int, seed: int = 0) -> list[dict]:
    """A valid study: asks, then a tell, fail or abandon for most, and some attaches."""
    rng = np.random.default_rng(seed)
    events = [dict(CREATE)]
    for trial_id in range(n_trials):
        arch = f"|op~{trial_id}|+|é~ü|"
        if rng.random() < 0.2:
            events.append({"event": "attach", "trial": trial_id, "arch": arch, "value": float(rng.normal()),
                           "info": {"source": "elsewhere"}, "told_at": 1.5 + trial_id})
            continue
        events.append({"event": "ask", "trial": trial_id, "arch": arch, "asked_at": 1.0 + trial_id})
        outcome = rng.choice(["tell", "fail", "abandon", "none"])
        if outcome == "tell":
            events.append({"event": "tell", "trial": trial_id, "value": float(rng.uniform(10, 95)),
                           "info": {"train_time_s": 12.5, "curve": [1, 2.5, None]}, "told_at": 2.0 + trial_id})
        elif outcome in ("fail", "abandon"):
            events.append({"event": outcome, "trial": trial_id, "value": None, "info": {"error": "CUDA OOM\n"},
                           "told_at": 2.0 + trial_id})
    return events


def write(path: Path, events: list[dict]) -> Journal:
    journal = Journal(path)
    for event in events:
        journal.append(event)
    return journal


def test_round_trip_of_many_events(tmp_path):
    events = study_events(300)
    path = tmp_path / "run.jsonl"
    write(path, events)
    contents = Journal(path).read()
    assert not contents.torn_tail and contents.torn_bytes == 0
    assert contents.events == [{"v": FORMAT_VERSION, **event} for event in events]
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == len(events) + 1
    assert all(line.decode("ascii") == json.dumps(json.loads(line), sort_keys=True) for line in lines[:-1])
    assert {event["event"] for event in events} == {"create", "ask", "tell", "fail", "abandon", "attach"}


def test_every_append_is_fsynced_and_a_new_file_fsyncs_its_directory(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def counting_fsync(descriptor):
        synced.append(os.path.realpath(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    path = tmp_path / "deeper" / "run.jsonl"
    journal = Journal(path)
    journal.append(CREATE)
    assert synced == [str(path.resolve()), str(path.parent.resolve())]
    journal.append({"event": "ask", "trial": 0, "arch": "a"})
    journal.append({"event": "tell", "trial": 0, "value": 1.0})
    assert synced[2:] == [str(path.resolve())] * 2


def test_torn_tail_is_reported_repaired_on_append_and_nothing_earlier_lost(tmp_path, caplog):
    events = study_events(20)
    path = tmp_path / "run.jsonl"
    write(path, events)
    intact = path.read_bytes()
    torn = b'{"arch": "|op~9|", "event": "ask", "tri'
    path.write_bytes(intact + torn)
    with caplog.at_level(logging.WARNING, logger="bonas.journal"):
        contents = Journal(path).read()
    assert contents.torn_tail and contents.torn_bytes == len(torn)
    assert f"line {len(events) + 1}" in caplog.text and "incomplete" in caplog.text
    assert contents.events == [{"v": FORMAT_VERSION, **event} for event in events]
    assert path.read_bytes() == intact + torn, "reading must not change the file"
    extra = {"event": "ask", "trial": max(event.get("trial", -1) for event in events) + 1, "arch": "new"}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bonas.journal"):
        Journal(path).append(extra)
    assert f"cutting an incomplete last line of {len(torn)} bytes" in caplog.text
    assert path.read_bytes() == intact + json.dumps({"v": 1, **extra}, sort_keys=True).encode() + b"\n"
    repaired = Journal(path).read()
    assert not repaired.torn_tail and repaired.events[-1]["arch"] == "new" and len(repaired.events) == len(events) + 1


def test_a_complete_last_event_without_its_newline_is_kept_and_the_newline_added(tmp_path):
    path = tmp_path / "run.jsonl"
    write(path, [CREATE])
    last = b'{"event": "ask", "trial": 0, "arch": "a", "v": 1}'
    path.write_bytes(path.read_bytes() + last)
    contents = Journal(path).read()
    assert not contents.torn_tail and contents.missing_newline and contents.events[-1]["arch"] == "a"
    assert Journal(path).repair_tail() == 0
    assert path.read_bytes().endswith(last + b"\n")
    Journal(path).append({"event": "tell", "trial": 0, "value": 1.0})
    assert [event["event"] for event in Journal(path).read().events] == ["create", "ask", "tell"]


@pytest.mark.parametrize("torn", [b'{"event": "ask", "trial": 0, "arch": "a", "v": 1', b'{"event": "ask"', b'{'])
def test_a_last_line_that_is_not_a_whole_event_is_torn(tmp_path, torn):
    path = tmp_path / "run.jsonl"
    write(path, [CREATE])
    intact = path.read_bytes()
    path.write_bytes(intact + torn)
    contents = Journal(path).read()
    assert contents.torn_tail and len(contents.events) == 1
    assert Journal(path).repair_tail() == len(torn)
    assert path.read_bytes() == intact


@pytest.mark.parametrize("last, message", [(b'{"v": 1, "event": "delete"}', "unknown event 'delete'"),
                                           (b'{"v": 2, "event": "ask"}', "format version 2"), (b"[1]", "expected a JSON object, got list")])
def test_a_whole_last_line_that_is_no_event_is_corruption_not_cut(tmp_path, last, message):
    path = tmp_path / "run.jsonl"
    write(path, [CREATE])
    path.write_bytes(path.read_bytes() + last)
    before = path.read_bytes()
    with pytest.raises(JournalCorruptError, match=f"line 2: {message}"):
        Journal(path).read()
    with pytest.raises(JournalCorruptError, match=message):
        Journal(path).append({"event": "ask", "trial": 0, "arch": "a"})
    assert path.read_bytes() == before


def test_a_file_that_is_only_a_torn_line(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_bytes(b'{"event": "cre')
    assert Journal(path).read().events == []
    Journal(path).append(CREATE)
    assert Journal(path).read().events == [{"v": 1, **CREATE}]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"v": 1, "event": "tell", "trial": 0, "value": NaN}', "not valid JSON.*NaN"),
        (b'{"v": 1, "event": "tell", "trial": 0, "value": 1e999}', "not valid JSON.*1e999"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"v": 1, "event": "delete"}', "unknown event 'delete'"),
        (b'{"event": "ask"}', "format version None is not supported"),
        (b'{"v": 2, "event": "ask"}', "format version 2 is not supported"),
    ],
)
def test_a_bad_line_in_the_middle_is_corruption_naming_the_line(tmp_path, bad_line, message):
    path = tmp_path / "run.jsonl"
    write(path, study_events(5))
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([*lines[:2], bad_line, *lines[2:]]))
    with pytest.raises(JournalCorruptError, match=f"run.jsonl, line 3: {message}"):
        Journal(path).read()


@pytest.mark.parametrize(
    "event, field",
    [
        ({"event": "tell", "trial": 0, "value": math.nan}, "tell event.value is nan"),
        ({"event": "tell", "trial": 0, "value": -math.inf}, "tell event.value is -inf"),
        ({"event": "tell", "trial": 0, "value": 1.0, "info": {"curve": [1.0, math.inf]}}, r"tell event.info.curve\[1\] is inf"),
        ({"event": "tell", "trial": 0, "value": 1.0, "info": {"loss": np.float32(0.5)}}, "tell event.info.loss is a float32"),
        ({"event": "tell", "trial": 0, "value": 1.0, "info": {3: "x"}}, "tell event.info has key 3"),
        ({"event": "delete", "trial": 0}, "unknown event 'delete'"),
        ({"event": "tell", "trial": 0, "value": 1.0, "v": 2}, "format version 2 is not supported"),
    ],
)
def test_bad_events_are_refused_naming_the_field_and_nothing_is_written(tmp_path, event, field):
    path = tmp_path / "run.jsonl"
    journal = write(path, [CREATE, {"event": "ask", "trial": 0, "arch": "a"}])
    before = path.read_bytes()
    with pytest.raises(ValueError, match=field):
        journal.append(event)
    assert path.read_bytes() == before


KILLED_WRITER = textwrap.dedent(
    """
    import sys, types
    package = types.ModuleType("bonas")  # the journal alone, without importing torch
    package.__path__ = [sys.argv[2]]
    sys.modules["bonas"] = package
    from bonas.journal import Journal
    journal = Journal(sys.argv[1])
    journal.append({"event": "create", "settings": {"space": "nb201", "seed": 0}})
    print("ready", flush=True)
    padding = "x" * 100_000
    for seq in range(10**9):
        if seq % 2 == 0:
            event = {"event": "ask", "trial": seq // 2, "arch": str(seq), "info": {"pad": padding}}
        else:
            event = {"event": "tell", "trial": seq // 2, "value": seq / 7, "info": {"pad": padding}}
        journal.append(event)
        print(seq, flush=True)
    """
)


def test_sigkill_mid_write_leaves_every_complete_line_and_at_most_one_torn(tmp_path):
    path = tmp_path / "run.jsonl"
    package_dir = str(Path(bonas.__file__).parent)
    process = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path), package_dir],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    acknowledged = [int(line) for line in process.stdout.read().split()]
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert acknowledged, "the writer appended nothing before it was killed"
    contents = Journal(path).read()
    assert contents.torn_bytes < len(json.dumps({"pad": "x" * 100_000}))
    events = contents.events[1:]
    assert len(events) >= len(acknowledged), "an acknowledged (fsynced) event was lost"
    assert [event["trial"] * 2 + (event["event"] == "tell") for event in events] == list(range(len(events)))
    last = events[-1] if events else {"event": "tell", "trial": -1}
    follow_up = ({"event": "tell", "trial": last["trial"], "value": 1.0} if last["event"] == "ask"
                 else {"event": "ask", "trial": last["trial"] + 1, "arch": "after"})
    Journal(path).append(follow_up)
    reread = Journal(path).read()
    assert not reread.torn_tail and reread.events == contents.events + [{"v": 1, **follow_up}]
