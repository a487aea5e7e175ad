"""benchmarks/batch_targets.py: the medians, reach fractions and paired comparison it reports for issue 24."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "batch_targets.py"
spec = importlib.util.spec_from_file_location("batch_targets", SCRIPT)
batch_targets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(batch_targets)

FIELDS = ("method", "seed", "query", "regret", "sim_time_s")


def write_trials(path: Path, method: str, regrets_by_seed: dict[int, list[float]], gzipped: bool = False) -> Path:
    """A replay's ``trials.csv``: per seed, the regret of the best cell after each query."""
    opener = gzip.open if gzipped else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for seed, regrets in regrets_by_seed.items():
            for query, regret in enumerate(regrets, start=1):
                writer.writerow({"method": method, "seed": seed, "query": query, "regret": regret,
                                 "sim_time_s": 10.0 * query})
    return path


def test_queries_rounds_and_reach_are_counted_per_seed(tmp_path):
    # seed 0 within 0.1 at query 3 and optimal at 4; seed 1 within 0.1 at 2, never optimal; seed 2 never within 0.1
    regrets = {0: [1.0, 0.5, 0.05, 0.0], 1: [0.3, 0.1, 0.1, 0.1], 2: [0.9, 0.9, 0.5, 0.2]}
    label, seeds = batch_targets.load(f"{write_trials(tmp_path / 'trials.csv', 'tw:kdpp', regrets)}:tw:kdpp")
    assert label == f"{tmp_path.name}:tw:kdpp"  # a trials.csv is named by its folder
    row = batch_targets.summarise(label, seeds, q=2)
    assert row["budget"] == 4
    assert row["near_by_seed"] == {0: 3, 1: 2, 2: 5}  # never there: the budget + 1
    assert row["near_queries"] == "3" and row["near_rounds"] == "2"  # rounds: ceil(3 / 2), ceil(2 / 2), never
    assert row["near_fraction"] == pytest.approx(2 / 3)
    assert row["optimum_queries"] == ">4" and math.isinf(row["optimum_median_value"])
    assert row["optimum_fraction"] == pytest.approx(1 / 3)
    assert row["final_regret"] == pytest.approx((0.0 + 0.1 + 0.2) / 3)


def test_a_gzipped_file_and_a_folder_read_alike_and_other_methods_are_left_out(tmp_path):
    regrets = {0: [0.5, 0.0], 1: [0.2, 0.2]}
    write_trials(tmp_path / "trials.csv", "tw", regrets)
    gzipped = write_trials(tmp_path / "batch_targets_x-seq.trials.csv.gz", "tw", regrets, gzipped=True)
    label, from_folder = batch_targets.load(f"{tmp_path}:tw")
    gz_label, from_gz = batch_targets.load(f"{gzipped}:tw")
    assert from_folder == from_gz and gz_label == "x-seq:tw" and label == f"{tmp_path.name}:tw"
    with pytest.raises(SystemExit, match="no rows of method 'ts'"):
        batch_targets.load(f"{gzipped}:ts")


def test_the_paired_comparison_counts_wins_and_reports_identical_runs(tmp_path):
    reference = {seed: [1.0] * seed + [0.0] * (10 - seed) for seed in range(1, 9)}  # optimal at query seed + 1
    slower = {seed: [1.0] * (seed + 1) + [0.0] * (9 - seed) for seed in range(1, 9)}  # one query later each
    ref = batch_targets.summarise(*batch_targets.load(f"{write_trials(tmp_path / 'a.csv', 'a', reference)}:a"), 1)
    other = batch_targets.summarise(*batch_targets.load(f"{write_trials(tmp_path / 'b.csv', 'b', slower)}:b"), 1)
    text = batch_targets.paired(ref, other)
    assert "mean difference +1.0 queries over 8 seeds, fewer on 0, more on 8" in text
    p_value = float(text.rsplit("p = ", 1)[1])
    assert 0 < p_value < 0.01
    assert batch_targets.paired(ref, ref) == "identical on all 8 shared seeds"


def test_simulated_time_to_the_sequential_final_regret(tmp_path):
    sequential = {0: [0.5, 0.3, 0.2, 0.1]}  # 40 simulated seconds to reach 0.1
    faster = {0: [0.5, 0.1, 0.1, 0.0]}  # there at 20 s
    never = {0: [0.5, 0.5, 0.5, 0.5]}
    seq = batch_targets.load(f"{write_trials(tmp_path / 's.csv', 's', sequential)}:s")[1]
    target, sequential_time, fraction = batch_targets.time_fraction(
        seq, batch_targets.load(f"{write_trials(tmp_path / 'f.csv', 'f', faster)}:f")[1])
    assert (target, sequential_time, fraction) == (pytest.approx(0.1), 40.0, pytest.approx(0.5))
    assert math.isinf(batch_targets.time_fraction(
        seq, batch_targets.load(f"{write_trials(tmp_path / 'n.csv', 'n', never)}:n")[1])[2])
