"""``bonas search``: a whole NASWOT search from the command line; bad options exit 2."""

import pytest

import bonas
from bonas.cli import main


def test_search_with_naswot_on_digits_runs_and_resumes(tmp_path, capsys):
    journal = tmp_path / "search.jsonl"
    assert main(["search", "--space", "nb201", "--evaluator", "naswot", "--data", "digits", "--trials", "6",
                 "--journal", str(journal)]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "best NASWOT score" in printed and "6 trials in" in printed
    assert main(["search", "--trials", "8", "--journal", str(journal)]) == 0
    told = [t for t in bonas.Optimizer.load(journal).trials if t.state != bonas.TrialState.RUNNING]
    assert len(told) == 8
    assert main(["search", "--space", "nb101", "--trials", "8", "--journal", str(journal)]) == 2
    assert "is a journal of space 'nb201', not 'nb101'" in " ".join(capsys.readouterr().out.split())


def test_a_resume_with_another_evaluator_is_refused_unless_forced_and_the_journal_is_kept(tmp_path, capsys):
    journal = tmp_path / "search.jsonl"
    assert main(["search", "--evaluator", "naswot", "--data", "digits", "--trials", "3", "--journal",
                 str(journal)]) == 0
    assert bonas.Optimizer.load(journal, read_only=True).settings.evaluator == "naswot data=digits seed=0"
    before = journal.read_bytes()
    capsys.readouterr()
    assert main(["search", "--evaluator", "train", "--epochs", "1", "--trials", "4", "--journal", str(journal)]) == 2
    printed = " ".join(capsys.readouterr().out.split())
    assert "its values come from 'naswot data=digits seed=0', not 'train data=digits epochs=1 seed=0'" in printed
    assert journal.read_bytes() == before
    assert main(["search", "--evaluator", "naswot", "--batch-size", "32", "--trials", "4", "--journal",
                 str(journal)]) == 2
    assert "not 'naswot data=digits seed=0 batch_size=32'" in " ".join(capsys.readouterr().out.split())
    assert main(["search", "--evaluator", "naswot", "--seed", "1", "--trials", "4", "--journal", str(journal),
                 "--force"]) == 0
    assert "(--force)" in " ".join(capsys.readouterr().out.split())
    assert len([t for t in bonas.Optimizer.load(journal, read_only=True).trials if t.state.name == "COMPLETE"]) == 4


@pytest.mark.parametrize("arguments, message", [
    (["--trials", "0"], "--trials: expected a positive integer, got 0"),
    (["--evaluator", "synflow"], "--evaluator: invalid choice: 'synflow'"),
    (["--space", "nasbench500"], "--space: unknown space 'nasbench500'"),
    (["--space", "no_such_module:space"], "--space: cannot import module 'no_such_module'"),
    (["--data", "/no/such/folder"], "--data: expected 'digits' or a CIFAR-10 folder"),
    (["--workers", "-1"], "--workers: expected a positive integer"),
    (["--lr", "0"], "--lr: expected a positive number, got 0"),
    (["--timeout", "nan"], "--timeout: expected a positive number, got nan"),
    (["--n-initial", "0"], "--n-initial: expected a positive integer, got 0"),
])
def test_bad_search_options_exit_2_naming_them(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["search", *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_max_params_searches_only_cells_under_the_budget_and_resumes_only_with_it(tmp_path, capsys):
    journal = tmp_path / "small.jsonl"
    budget = 300_000
    assert main(["search", "--space", "nb201", "--evaluator", "naswot", "--data", "digits", "--trials", "5",
                 "--workers", "1", "--max-params", str(budget), "--journal", str(journal)]) == 0
    opt = bonas.Optimizer.load(journal, read_only=True, feasible=lambda arch: True)
    assert opt.settings.feasible == f"params<={budget}"
    told = [t for t in opt.trials if t.state == bonas.TrialState.COMPLETE]
    assert len(told) == 5 and all(t.info["params"] <= budget for t in told)
    capsys.readouterr()
    assert main(["search", "--trials", "6", "--journal", str(journal)]) == 2
    assert "written with the feasibility predicate 'params<=300000'" in " ".join(capsys.readouterr().out.split())
    assert main(["search", "--trials", "6", "--workers", "1", "--max-params", str(budget),
                 "--journal", str(journal)]) == 0


def test_search_with_objectives_prints_and_plots_the_front_and_resumes_only_with_them(tmp_path, capsys):
    out = tmp_path / "front"
    journal, plot = out / "journal.jsonl", out / "front.png"
    assert main(["search", "--space", "nb201", "--evaluator", "naswot", "--data", "digits", "--trials", "5",
                 "--workers", "1", "--objectives", "score,params", "--out", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "Pareto front:" in printed and plot.stat().st_size > 0
    opt = bonas.Optimizer.load(journal, read_only=True)
    assert dict(opt.outcomes.objectives) == {"score": "max", "params": "min"}
    told = opt.completed
    assert len(told) == 5 and all(t.values["params"] == t.info["params"] > 0 for t in told)
    front = opt.pareto_front()
    assert front and all(not any(o.values["score"] >= f.values["score"] and o.values["params"] <= f.values["params"]
                                 and o.values != f.values for o in told) for f in front)
    assert main(["search", "--trials", "6", "--journal", str(journal)]) == 2
    assert "written with objectives" in " ".join(capsys.readouterr().out.split())
    assert main(["search", "--trials", "6", "--workers", "1", "--objectives", "score,params",
                 "--out", str(out)]) == 0
    assert len(bonas.Optimizer.load(journal, read_only=True).completed) == 6


def test_with_params_tells_the_value_and_the_parameter_count():
    space = bonas.NASBench201Space()
    arch = space.sample(1, __import__("numpy").random.default_rng(0))[0]
    build = lambda arch: bonas.build_network(space, arch, num_classes=10)  # noqa: E731
    count = bonas.networks.count_params(build(arch))
    assert bonas.WithParams(lambda arch: 91.5, build)(arch) == {"value": {"accuracy": 91.5, "params": count}}
    assert bonas.WithParams(lambda arch: {"value": 3.0, "epochs": 2}, build, objective="score")(arch) == {
        "epochs": 2, "value": {"score": 3.0, "params": count}}
    with pytest.raises(ValueError, match="without a 'value' entry"):
        bonas.WithParams(lambda arch: {"epochs": 2}, build)(arch)
