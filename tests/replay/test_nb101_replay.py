"""NAS-Bench-101 replays: the table's 20,001 cells are the space; moves stay among them."""

import numpy as np
import pytest

from bonas import NASBench101Table
from bonas.cli import main
from bonas.replay.benchmark import ReplaySpec, make_benchmark
from bonas.replay.runner import replay

SPEC = ReplaySpec(space="nb101", queries=24)


@pytest.fixture(scope="module")
def table():
    return NASBench101Table()


def test_benchmark_is_the_table_as_a_space(table):
    benchmark = make_benchmark(SPEC)
    assert len(benchmark.space) == len(table) == 20_001
    assert benchmark.optimum == table.optimum() and not benchmark.noise_free
    arch = table.architectures()[123]
    assert benchmark.objective(arch) == table.query(arch).val_accuracy
    assert benchmark.train_time(arch) == table.query(arch).train_time_s


def test_neighbour_rows_are_symmetric_and_match_their_definition(table):
    rows = table.neighbour_rows()
    assert len(rows) == len(table)
    rng = np.random.default_rng(0)
    for row in rng.choice(len(rows), size=200, replace=False):
        assert row not in rows[row]
        for other in rows[row]:
            assert row in rows[other]
    space, archs = table.space, table.architectures()
    row = int(np.argmax([len(near) for near in rows[:50]]))

    def closed(arch):
        return {space.canonical_key(arch)} | {space.canonical_key(cell) for cell in space.neighbours(arch)}

    mine = closed(archs[row])
    for other in rows[row][:5]:
        assert mine & closed(archs[other]), f"row {other} shares no one-change neighbour with row {row}"
    assert np.mean([len(near) for near in rows]) > 5


@pytest.mark.parametrize("method", ["random", "rea", "ls", "bananas", "tw"])
def test_every_method_queries_only_table_cells_and_never_twice(method, table):
    rows = replay(method, 0, SPEC)
    hashes = [table.query(row["arch"]).hash for row in rows]
    assert len(set(hashes)) == len(rows) == SPEC.queries
    assert np.all(np.diff([row["sim_time_s"] for row in rows]) > 0)
    assert rows[-1]["regret"] == pytest.approx(table.optimum() - max(row["objective"] for row in rows))


def test_simulated_time_is_the_wall_clock_of_the_workers(table):
    """Sequential: the sum of training times; a synchronous batch lasts its longest training; asynchronous
    workers start a training as soon as one is free, so each result comes back at its start plus its time."""
    times = lambda rows: np.array([table.query(row["arch"]).train_time_s for row in rows])  # noqa: E731
    sequential = replay("random", 0, SPEC)
    assert np.allclose([row["sim_time_s"] for row in sequential], np.cumsum(times(sequential)))
    batched = replay("random", 0, ReplaySpec(space="nb101", queries=24, batch_size=4))
    ends = np.cumsum(times(batched).reshape(6, 4).max(axis=1))
    assert np.allclose([row["sim_time_s"] for row in batched], np.repeat(ends, 4))
    rows = replay("random", 0, ReplaySpec(space="nb101", queries=24, batch_size=4, asynchronous=True))
    clock, durations = np.array([row["sim_time_s"] for row in rows]), times(rows)
    assert np.all(np.diff(clock) >= 0) and clock[-1] < durations.sum() / 2  # four at a time
    # four workers, each free again when its result comes back: the first four start at 0, later ones at a tell
    starts = clock - durations
    assert np.allclose(np.sort(starts)[:4], 0.0)
    assert all(np.isclose(start, 0.0) or np.isclose(clock, start).any() for start in starts)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--space", "nb101", "--objective", "test"], "unknown NAS-Bench-101 objective 'test'"),
        (["--space", "nb101", "--dataset", "cifar100"], "NAS-Bench-101 has one dataset, cifar10"),
    ],
)
def test_cli_rejects_what_nb101_lacks(argv, message, tmp_path, capsys):
    assert main(["replay", *argv, "--queries", "5", "--seeds", "1", "--out", str(tmp_path)]) == 2
    assert message in " ".join(capsys.readouterr().out.split())
