"""Constrained replays: every method proposes only feasible cells; regret against the constrained optimum."""

import numpy as np
import pytest

from bonas import NASBench201Table
from bonas.cli import main
from bonas.replay.benchmark import ReplaySpec, make_benchmark
from bonas.replay.constraints import TableConstraint
from bonas.replay.runner import replay

TABLE = NASBench201Table("cifar100")


@pytest.mark.parametrize("text, parsed", [
    ("params<=1000000", TableConstraint("params", 1e6)),
    (" flops <= 2e8 ", TableConstraint("flops", 2e8)),
    ("latency:pixel2<=14", TableConstraint("latency", 14.0, "pixel2")),
])
def test_constraints_parse(text, parsed):
    assert TableConstraint.parse(text) == parsed
    assert TableConstraint.parse(str(parsed)) == parsed


@pytest.mark.parametrize("text, message", [
    ("params>=5", "expected METRIC<=LIMIT"),
    ("depth<=3", "unknown constrained metric 'depth'"),
    ("latency<=3", "a latency constraint names its device"),
    ("params:pixel2<=3", "a latency constraint names its device"),
    ("latency:pixel9<=3", r"unknown latency device 'pixel9'; expected one of \['1080ti_1'"),
    ("params<=abc", "the limit 'abc' is not a number"),
    ("params<=nan", "must be a finite number"),
])
def test_bad_constraints_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        TableConstraint.parse(text)


def test_the_regret_is_against_the_constrained_optimum():
    benchmark = make_benchmark(ReplaySpec(dataset="cifar100", constraint="latency:pixel2<=14"))
    latency = TABLE.latency_column("pixel2")
    assert benchmark.optimum == pytest.approx(TABLE.metric("test_accuracy")[latency <= 14].max())
    assert round(benchmark.optimum, 2) == 71.52
    with pytest.raises(ValueError, match="no NAS-Bench-201 cell satisfies params<=10"):
        make_benchmark(ReplaySpec(constraint="params<=10"))
    with pytest.raises(ValueError, match="replay constraints are for NAS-Bench-201"):
        make_benchmark(ReplaySpec(space="nb101", constraint="params<=10"))


@pytest.mark.parametrize("method", ["tw", "random", "rea", "ls", "bananas", "tw:kdpp"])
def test_every_method_proposes_only_feasible_cells(method):
    limit = float(np.quantile(TABLE.metric("params"), 0.1))
    spec = ReplaySpec(dataset="cifar100", queries=24, constraint=f"params<={limit:g}",
                      batch_size=4 if method == "tw:kdpp" else 1)
    rows = replay(method, 0, spec)
    assert len(rows) == 24
    assert all(TABLE.query(row["arch"]).params <= float(f"{limit:g}") for row in rows)
    assert all(row["regret"] >= 0 for row in rows)


def test_the_cli_takes_a_constraint_and_refuses_a_bad_one(tmp_path, capsys):
    assert main(["replay", "--dataset", "cifar100", "--constraint", "latency:eyeriss<=5", "--methods", "random",
                 "--queries", "10", "--seeds", "1", "--out", str(tmp_path / "out")]) == 0
    assert "nb201-cifar100-test-latency:eyeriss<=5" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", "--constraint", "latency:pixel9<=5"])
    assert exit_info.value.code == 2
    assert "unknown latency device 'pixel9'" in capsys.readouterr().err
