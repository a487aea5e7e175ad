"""Replays: objective and regret, determinism across processes, outputs, and the CLI."""

import csv

import numpy as np
import pytest

from bonas import NASBench201Table
from bonas.cli import main
from bonas.replay.benchmark import ReplaySpec, make_benchmark
from bonas.replay.report import summarize
from bonas.backends import LocalBackend
from bonas.replay.runner import replay, run_replays

SHORT = ReplaySpec(dataset="cifar100", queries=14)


def test_regret_is_optimum_minus_reported_value_of_best_by_objective():
    spec = ReplaySpec(dataset="cifar10", objective="val12", queries=20)
    rows = replay("random", 0, spec)
    table = NASBench201Table("cifar10")
    optimum = table.optimum()
    best = max(rows, key=lambda row: row["objective"])
    assert rows[-1]["best_objective"] == best["objective"]
    assert rows[-1]["best_reported"] == table.query(best["arch"]).test_accuracy
    assert rows[-1]["regret"] == pytest.approx(optimum - rows[-1]["best_reported"])
    assert all(row["objective"] == table.query(row["arch"]).val_accuracy_12ep for row in rows)
    assert [row["query"] for row in rows] == list(range(1, 21))
    assert np.all(np.diff([row["best_objective"] for row in rows]) >= 0)


def test_test12_objective_is_the_tw_nas_setting():
    benchmark = make_benchmark(ReplaySpec(objective="test12"))
    assert 100 - benchmark.optimum == pytest.approx(10.84, abs=0.01)


def test_parallel_runs_match_serial_runs():
    serial = run_replays(SHORT, ["tw", "ls"], [0, 1], jobs=1, show_progress=False)
    parallel = run_replays(SHORT, ["tw", "ls"], [0, 1], jobs=2, show_progress=False)
    columns = ("method", "seed", "query", "arch", "objective", "regret")
    assert [[row[c] for c in columns] for row in serial] == [[row[c] for c in columns] for row in parallel]


def test_batches_never_repeat_a_cell():
    rows = replay("tw", 3, ReplaySpec(queries=24, batch_size=8))
    assert len({row["arch"] for row in rows}) == 24
    assert len({row["step_wall_s"] for row in rows[10:]}) <= 3


def test_summary_statistics():
    rows = [{"method": "m", "seed": seed, "query": q, "regret": r, "best_reported": 90 - r}
            for seed, regrets in enumerate([[3.0, 1.0], [1.0, 0.0]]) for q, r in enumerate(regrets, start=1)]
    (entry,) = summarize(rows, checkpoints=(2, 5))
    assert entry["mean_regret"] == 0.5 and entry["median_regret"] == 0.5 and entry["n_seeds"] == 2
    assert entry["se_regret"] == pytest.approx(np.std([1.0, 0.0], ddof=1) / np.sqrt(2))


def test_cli_writes_every_output(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["replay", "--dataset", "cifar10", "--methods", "random,rea,tw", "--queries", "12", "--seeds", "2",
                 "--out", str(out)])
    assert code == 0
    for name in ("trials.csv", "summary.csv", "regret.png", "best_cells.png"):
        assert (out / name).stat().st_size > 0
    with open(out / "trials.csv") as handle:
        trials = list(csv.DictReader(handle))
    assert len(trials) == 3 * 2 * 12
    with open(out / "summary.csv") as handle:
        summary = list(csv.DictReader(handle))
    assert {(row["method"], row["queries"]) for row in summary} == {(m, q) for m in ("random", "rea", "tw")
                                                                   for q in ("10", "12")}
    printed = " ".join(capsys.readouterr().out.split())
    assert "regret @10" in printed
    for method in ("random", "rea", "tw"):
        assert f"│ {method} " in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--methods", "tw,bogus"], "unknown replay method 'bogus'"),
        (["--methods", "tw:bogus"], "unknown replay method 'tw:bogus'"),
        (["--backend", "slurm"], "invalid choice: 'slurm'"),
        (["--dataset", "mnist"], "unknown NAS-Bench-201 dataset 'mnist'"),
        (["--queries", "0"], "expected a positive integer"),
        (["--objective", "train"], "invalid choice: 'train'"),
        (["--space", "nb999"], "invalid choice: 'nb999'"),
    ],
)
def test_cli_bad_values_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    text = capsys.readouterr().out
    for option in ("--space", "--dataset", "--objective", "--methods", "--queries", "--seeds", "--first-seed",
                   "--batch-size", "--asynchronous", "--jobs", "--backend", "--ray-address", "--out"):
        assert option in text


def test_a_backend_gives_the_same_replay_as_inline_look_ups():
    spec = ReplaySpec(dataset="cifar10", queries=8, batch_size=4)
    inline = replay("tw:greedy", 0, spec)
    with LocalBackend(n_workers=2) as backend:
        on_backend = replay("tw:greedy", 0, spec, backend)
    columns = ("query", "arch", "objective", "regret")
    assert [[row[c] for c in columns] for row in inline] == [[row[c] for c in columns] for row in on_backend]


def test_batch_method_suffix_reaches_the_optimizer():
    greedy = replay("tw:greedy", 1, ReplaySpec(queries=16, batch_size=4))
    kdpp = replay("tw:kdpp", 1, ReplaySpec(queries=16, batch_size=4))
    assert [row["arch"] for row in greedy[:8]] == [row["arch"] for row in kdpp[:8]], "same random initial design"
    assert [row["arch"] for row in greedy[8:]] != [row["arch"] for row in kdpp[8:]]


def test_backend_with_several_jobs_is_refused(tmp_path, capsys):
    assert main(["replay", "--backend", "local", "--jobs", "2", "--queries", "4", "--seeds", "1",
                 "--out", str(tmp_path)]) == 2
    assert "use --jobs 1" in capsys.readouterr().out


def test_an_asynchronous_replay_tells_each_cell_when_its_simulated_training_ends():
    """NB101 has training times: the 8 cells in flight are told shortest training first. NB201 has none: first asked,
    first told."""
    spec = ReplaySpec(space="nb101", queries=8, batch_size=8)
    benchmark = make_benchmark(spec)
    first_batch = [row["arch"] for row in replay("random", 0, spec)]
    rows = replay("random", 0, ReplaySpec(space="nb101", queries=8, batch_size=8, asynchronous=True))
    durations = {arch: benchmark.train_time(benchmark.space.from_str(arch)) for arch in first_batch}
    assert len(set(durations.values())) == 8
    assert [row["arch"] for row in rows] == sorted(first_batch, key=durations.__getitem__)
    assert [row["query"] for row in rows] == list(range(1, 9))
    nb201 = ReplaySpec(dataset="cifar10", queries=12, batch_size=4)
    synchronous = [row["arch"] for row in replay("random", 0, nb201)]
    asynchronous = replay("random", 0, ReplaySpec(dataset="cifar10", queries=12, batch_size=4, asynchronous=True))
    assert [row["arch"] for row in asynchronous] == synchronous


def test_an_asynchronous_tw_replay_keeps_its_cells_distinct_and_refuses_a_backend():
    spec = ReplaySpec(dataset="cifar10", queries=16, batch_size=4, asynchronous=True)
    rows = replay("tw", 0, spec)
    assert len(rows) == 16 and len({row["arch"] for row in rows}) == 16
    assert np.all(np.diff([row["best_objective"] for row in rows]) >= 0)
    with LocalBackend(n_workers=2) as backend, pytest.raises(ValueError, match="asynchronous replay .* use no backend"):
        replay("tw", 0, spec, backend)


def test_asynchronous_cli_refuses_a_backend(tmp_path, capsys):
    assert main(["replay", "--asynchronous", "--backend", "local", "--queries", "4", "--seeds", "1",
                 "--out", str(tmp_path)]) == 2
    assert "--asynchronous simulates" in capsys.readouterr().out
