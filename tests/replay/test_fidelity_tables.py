"""benchmarks/fidelity_tables.py: merging multi-fidelity replays of different budgets, and issue 22's criteria."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

from bonas.replay.fidelity import TRIAL_COLUMNS


@pytest.fixture(scope="module")
def tables():
    return load_benchmark("fidelity_tables")


def write_run(folder: Path, runs: dict[tuple[str, int], list[tuple[int, float]]]) -> Path:
    """A ``trials.csv`` of evaluations ``(fidelity, regret after it)`` per ``(method, seed)``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "trials.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, TRIAL_COLUMNS)
        writer.writeheader()
        for (method, seed), evaluations in runs.items():
            spent = 0
            for step, (fidelity, regret) in enumerate(evaluations, start=1):
                spent += fidelity
                writer.writerow({"method": method, "seed": seed, "step": step, "arch": f"cell{step}",
                                 "fidelity": fidelity, "value": 0.0, "promoted": 0, "epochs": spent,
                                 "recommended": "", "regret": regret, "step_wall_s": 0.0})
    return folder


def full_trainings(count: int, regrets: list[float]) -> list[tuple[int, float]]:
    """``count`` 200-epoch evaluations, the regret after the ``i``-th being ``regrets[i]`` (last one repeated)."""
    return [(200, regrets[min(i, len(regrets) - 1)]) for i in range(count)]


def test_a_longer_rerun_replaces_its_beginning_and_a_different_run_is_an_error(tables, tmp_path):
    short = write_run(tmp_path / "short", {("tw", 0): full_trainings(2, [3.0, 1.0])})
    long = write_run(tmp_path / "long", {("tw", 0): full_trainings(4, [3.0, 1.0, 0.5, 0.0])})
    runs = tables.read_runs([short, long])
    assert [row["regret"] for row in runs["tw", 0]] == [3.0, 1.0, 0.5, 0.0]
    assert len(tables.read_runs([long, short])["tw", 0]) == 4  # order of the folders does not matter
    other = write_run(tmp_path / "other", {("tw", 0): [(12, float("nan")), (200, 2.0)]})
    with pytest.raises(ValueError, match="'tw' seed 0 is in both"):
        tables.read_runs([short, other])


def test_a_run_settled_at_zero_counts_zero_later_and_an_unsettled_short_run_cuts_its_method(tables, tmp_path):
    folder = write_run(tmp_path / "runs", {
        ("tw", 0): full_trainings(2, [1.0, 0.0]),  # settled at 0 after 2 full trainings
        ("tw", 1): full_trainings(4, [2.0, 1.0, 1.0, 0.5]),
        ("bohb", 0): full_trainings(2, [1.0, 0.5]),  # stopped at 2, not settled: bohb ends at 2
        ("bohb", 1): full_trainings(4, [1.0]),
    })
    runs = tables.read_runs([folder])
    grid = tables.regret_grid(runs, "cifar10")
    tw = {(row["seed"], row["query"]): row["regret"] for row in grid if row["method"] == "tw"}
    assert tw[0, 4] == 0.0 and tw[1, 4] == 0.5
    assert max(row["query"] for row in grid if row["method"] == "bohb") == 2
    assert tables.settled_early(runs) == {"tw": 1}
    stats = tables.statistics_at(grid)
    assert stats["tw", 4][0] == pytest.approx(0.25)


def test_the_criteria_of_issue_22_are_read_from_the_table(tables, tmp_path):
    folder = write_run(tmp_path / "runs", {
        ("tw", 0): full_trainings(100, [4.0] * 9 + [0.4] * 30 + [0.04]),
        ("tw-sf", 0): full_trainings(100, [5.0] * 49 + [0.1] * 50 + [0.05]),
        ("hyperband", 0): full_trainings(100, [3.0]),
        ("bohb", 0): full_trainings(100, [3.0] * 9 + [0.3]),
    })
    grid = tables.regret_grid(tables.read_runs([folder]), "cifar10")
    lines = tables.comparisons(tables.statistics_at(grid), grid, "tw")
    assert lines[0].startswith("@50: tw 0.040 vs tw-sf 0.100 (ratio 0.40") and lines[0].endswith(": met")
    assert "reached at 40 full trainings" in lines[1] and lines[1].endswith(": met")
    assert lines[2].endswith("@100: all")
    assert lines[3].endswith("NOT at @10, @20, @25")  # bohb's 0.3 from 10 on beats tw's 0.4 until 40


def test_a_shorter_multi_fidelity_run_is_bounded_by_its_last_checkpoint_against_longer_baselines(tables, tmp_path):
    folder = write_run(tmp_path / "runs", {
        ("tw", 0): full_trainings(50, [1.0] * 9 + [0.2]),  # 50 full trainings, not settled at 0
        ("bohb", 0): full_trainings(100, [3.0] * 99 + [0.3]),
        ("hyperband", 0): full_trainings(100, [3.0] * 99 + [0.1]),
    })
    grid = tables.regret_grid(tables.read_runs([folder]), "cifar10")
    lines = tables.comparisons(tables.statistics_at(grid), grid, "tw")
    assert lines[0].endswith("@50: all")
    assert lines[1] == "tw @100 <= its @50 mean 0.200 (regret never rises) vs hyperband @100 0.100: not shown below"
    assert lines[3] == "tw @100 <= its @50 mean 0.200 (regret never rises) vs bohb @100 0.300: below"
    alone = write_run(tmp_path / "alone", {("tw", 0): full_trainings(10, [1.0])})
    grid = tables.regret_grid(tables.read_runs([alone]), "cifar10")
    assert tables.comparisons(tables.statistics_at(grid), grid, "tw") == [
        "tw below hyperband at no shared checkpoint", "tw below bohb at no shared checkpoint"]
