"""benchmarks/fidelity_promotions.py: which of the table's best cells a multi-fidelity run screened and promoted."""

from __future__ import annotations

import csv

import pytest
from benchmark_scripts import load_benchmark

from bonas.nasbench.nb201 import NASBench201Table
from bonas.replay.fidelity import TRIAL_COLUMNS


@pytest.fixture(scope="module")
def promotions():
    return load_benchmark("fidelity_promotions")


def test_a_run_that_screens_the_best_cell_without_promoting_it_is_told_apart(promotions, tmp_path):
    table = NASBench201Table("cifar100")
    cells = promotions.best_cells(table, 2)
    test = table.metric("test_accuracy")
    assert cells[0]["regret"] == 0.0 and cells[1]["regret"] == pytest.approx(test.max() - sorted(test)[-2])
    assert cells[0]["val12_rank"] == int((table.metric("val_accuracy_12ep") > cells[0]["val12"]).sum())
    archs = list(table.architectures())
    best, other = str(archs[cells[0]["row"]]), str(archs[0])
    evaluations = {0: [(best, 12, 1.0), (best, 200, 0.0)], 1: [(best, 12, 1.0), (other, 12, 1.0), (other, 200, 2.5)]}
    with (tmp_path / "trials.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, TRIAL_COLUMNS)
        writer.writeheader()
        for seed, rows in evaluations.items():
            for step, (arch, fidelity, regret) in enumerate(rows, start=1):
                writer.writerow({"method": "tw", "seed": seed, "step": step, "arch": arch, "fidelity": fidelity,
                                 "value": 0.0, "promoted": int(fidelity == 200), "epochs": 0, "recommended": "",
                                 "regret": regret, "step_wall_s": 0.0})
    records = promotions.run_outcomes([tmp_path], table, cells)
    assert [(r["seed"], r["screened"][0], r["promoted"][0], r["regret"]) for r in records] == [
        (0, True, True, 0.0), (1, True, False, 2.5)]
    assert [r["promotions"] for r in records] == [1, 1] and [r["evaluations"] for r in records] == [2, 3]
    assert promotions.run_outcomes([tmp_path, tmp_path], table, cells) == records  # a run read twice counts once
    text = promotions.report(records, cells)
    assert "best cell #1 (regret 0.000" in text and "screened in 2, promoted in 1" in text
    assert text.endswith("final regret (runs): 0.000 (1), 2.500 (1)")
