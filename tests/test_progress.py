"""Progress that survives a log file: plain lines with done/total, status, elapsed and ETA when stdout is not a
terminal, from the class itself and from the four long jobs that use it (bonas.run, replays, CATE pretraining)."""

import io
import re
import time

import numpy as np
import pytest

import bonas
from bonas.encoders.base import graph_vocabulary, max_graph_nodes
from bonas.encoders.cate.model import CATEConfig
from bonas.encoders.cate.tokens import Tokenizer
from bonas.pretraining.cate import prepare_data, pretrain
from bonas.progress import DEFAULT_INTERVAL_S, INTERVAL_VARIABLE, Progress, format_duration, interval_from_environment
from bonas.replay.benchmark import ReplaySpec
from bonas.replay.runner import run_replays
from inline_backend import InlineBackend

LINE = re.compile(r"^(?P<description>.+): (?P<done>\d+)/(?P<total>\d+) \(\d+%\)(, .+)?, elapsed \S+(, eta \S+)?$")


def progress_lines(text, description):
    lines = [LINE.match(line) for line in text.splitlines() if line.startswith(description + ":")]
    assert lines and all(lines), text
    return lines


def test_a_line_at_every_update_with_interval_zero_carries_done_total_status_and_eta():
    stream = io.StringIO()
    with Progress("job", 4, interval_s=0, stream=stream) as progress:
        for step in range(1, 5):
            progress.update(advance=1, status=f"best {step * 1.5:g}")
    lines = progress_lines(stream.getvalue(), "job")
    assert [(int(m["done"]), int(m["total"])) for m in lines] == [(1, 4), (2, 4), (3, 4), (4, 4), (4, 4)]
    assert "best 1.5" in lines[0].group(0) and "eta " in lines[0].group(0)
    assert "eta" not in lines[-1].group(0) and "best 6" in lines[-1].group(0)


def test_with_a_long_interval_only_the_last_line_is_written_also_when_the_job_raises():
    stream = io.StringIO()
    with pytest.raises(RuntimeError), Progress("job", 10, interval_s=3600, stream=stream) as progress:
        progress.update(3)
        raise RuntimeError("stopped")
    [line] = progress_lines(stream.getvalue(), "job")
    assert (line["done"], line["total"]) == ("3", "10") and "eta" in line.group(0)


def test_lines_keep_coming_while_nothing_finishes():
    stream = io.StringIO()
    with Progress("slow trial", 2, interval_s=0.05, stream=stream):
        time.sleep(0.4)
    lines = progress_lines(stream.getvalue(), "slow trial")
    assert len(lines) >= 3 and all(line["done"] == "0" for line in lines)
    assert "eta unknown" in lines[0].group(0)


def test_the_eta_counts_only_the_work_of_this_block():
    stream = io.StringIO()
    with Progress("resumed", 100, completed=90, interval_s=3600, stream=stream) as progress:
        time.sleep(0.05)
        progress.update(91)
        assert progress.line().endswith("eta " + format_duration(9 * (time.monotonic() - progress._started)))


def test_disabled_progress_writes_nothing():
    stream = io.StringIO()
    with Progress("job", 3, interval_s=0, stream=stream, enabled=False) as progress:
        progress.update(advance=3)
    assert stream.getvalue() == ""


def test_the_interval_comes_from_the_environment_and_a_bad_one_is_named(monkeypatch):
    monkeypatch.delenv(INTERVAL_VARIABLE, raising=False)
    assert interval_from_environment() == DEFAULT_INTERVAL_S
    monkeypatch.setenv(INTERVAL_VARIABLE, "2.5")
    assert interval_from_environment() == 2.5 and Progress("job", 1).interval_s == 2.5
    for bad in ("soon", "-1", "inf"):
        monkeypatch.setenv(INTERVAL_VARIABLE, bad)
        with pytest.raises(ValueError, match=f"{INTERVAL_VARIABLE}='{bad}'"):
            interval_from_environment()


def test_durations_read_in_two_units():
    assert [format_duration(s) for s in (0, 12.4, 252, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == [
        "0s", "12s", "4m12s", "3h05m", "2d04h"]


def test_bonas_run_writes_progress_lines_to_a_log(monkeypatch, capsys):
    monkeypatch.setenv(INTERVAL_VARIABLE, "0")
    space = bonas.NASBench201Space()
    opt = bonas.Optimizer(space, n_initial=10, seed=0)
    bonas.run(opt, lambda arch: float(len(space.to_str(arch))), backend=InlineBackend(), n_trials=5,
              max_in_flight=2)
    lines = progress_lines(capsys.readouterr().out, "bonas run")
    assert lines[-1]["done"] == lines[-1]["total"] == "5"
    assert f"best {opt.best_trial.value:.4g}" in lines[-1].group(0)


def test_replays_write_progress_lines_to_a_log(monkeypatch, capsys):
    monkeypatch.setenv(INTERVAL_VARIABLE, "0")
    rows = run_replays(ReplaySpec(queries=3), ["random"], [0, 1])
    lines = progress_lines(capsys.readouterr().out, "replay nb201 cifar10")
    assert (lines[-1]["done"], lines[-1]["total"]) == ("2", "2")
    assert f"random seed 1 done, final regret {rows[-1]['regret']:.4g}" in lines[-1].group(0)


def test_cate_pretraining_writes_progress_lines_to_a_log(monkeypatch, capsys):
    monkeypatch.setenv(INTERVAL_VARIABLE, "0")
    space = bonas.NASBench201Space()
    archs = space.sample(40, np.random.default_rng(0))
    data = prepare_data(space, archs, np.arange(len(archs), dtype=float), "index", k=2, window=5.0, seed=0)
    tokenizer = Tokenizer(graph_vocabulary(space), max_graph_nodes(space))
    config = CATEConfig(n_tokens=tokenizer.n_tokens, max_nodes=tokenizer.max_nodes, d_model=8, n_heads=2, graph_layers=1, cross_layers=1, d_ff=16)
    pretrain(data, config, epochs=2, batch_size=32, device="cpu")
    lines = progress_lines(capsys.readouterr().out, "pretrain CATE steps")
    assert lines[-1]["done"] == lines[-1]["total"] and "epoch 2/2, loss " in lines[-1].group(0)
