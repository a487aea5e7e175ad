"""Cheap signals before training: ``Optimizer(prior=...)``, the linear prior mean and the tournament design."""

import math
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bonas import NASBench201Space, NASBench201Table, Optimizer
from bonas.encoders import ENCODINGS
from bonas.prior import CheapSignalMean, CheapSignals, tournament
from bonas.replay.benchmark import ReplaySpec, make_benchmark
from bonas.replay.runner import replay
from bonas.surrogate import Surrogate
from bonas.cli import main

SPACE = NASBench201Space()
TABLE = NASBench201Table("cifar10")


def log_params(arch):
    return math.log(TABLE.query(arch).params)


def test_signals_are_checked_and_kept_per_architecture():
    calls = []
    arch = SPACE.sample(1, np.random.default_rng(0))[0]

    def counted(a):
        calls.append(a)
        return [1.0, 2.0]

    signals = CheapSignals(counted, SPACE)
    assert signals(arch) == (1.0, 2.0) and signals(arch) == (1.0, 2.0) and len(calls) == 1
    assert signals.matrix([arch, arch]).shape == (2, 2)
    with pytest.raises(ValueError, match=r"prior \(.*<lambda>\) returned nan for .*; expected finite numbers"):
        CheapSignals(lambda a: float("nan"), SPACE)(arch)
    with pytest.raises(ValueError, match="expected finite numbers"):
        CheapSignals(lambda a: "big", SPACE)(arch)
    with pytest.raises(ValueError, match="returned no signal"):
        CheapSignals(lambda a: [], SPACE)(arch)
    widths = iter([[1.0], [1.0, 2.0]])
    uneven = CheapSignals(lambda a: next(widths), SPACE)
    first, second = SPACE.sample(2, np.random.default_rng(1))
    uneven(first)
    with pytest.raises(ValueError, match="returned 2 signals for .*, 1 for earlier cells"):
        uneven(second)
    with pytest.raises(ValueError, match="prior must be a callable"):
        CheapSignals("params", SPACE)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=12), st.floats(-5, 5), st.floats(-5, 5))
def test_the_mean_is_a_constant_plus_weights_on_standardised_signals(signals, constant, weight):
    train = torch.tensor(signals, dtype=torch.double).reshape(-1, 1)
    inputs = torch.cat([torch.zeros(len(train), 3, dtype=torch.double), train], dim=-1)
    mean = CheapSignalMean(train, dim=3)
    assert torch.equal(mean(inputs), torch.zeros(len(train), dtype=torch.double))
    with torch.no_grad():
        mean.constant.fill_(constant)
        mean.weights.fill_(weight)
    scale = train.std() if float(train.std()) > 0 else torch.tensor(1.0, dtype=torch.double)
    expected = constant + weight * (train[:, 0] - train.mean()) / scale
    assert torch.allclose(mean(inputs), expected, atol=1e-9)
    assert mean(inputs.expand(2, -1, -1)).shape == (2, len(train))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=60), st.integers(1, 8), st.integers(1, 12))
def test_each_tournament_pick_is_the_best_of_its_group(scores, n, size):
    pool = list(range(len(scores)))
    signals = CheapSignals(lambda index: scores[index], SPACE)
    picks = tournament(pool, n, signals, size)
    used = max(1, min(size, len(pool) // n))
    assert len(picks) == min(n, math.ceil(len(pool) / used))
    assert len(set(picks)) == len(picks)
    for pick in picks:
        group = pool[pick // used * used:(pick // used + 1) * used]
        assert scores[pick] == max(scores[index] for index in group)


def test_the_prior_mean_learns_a_signal_the_kernel_cannot_see():
    # the objective is the signal itself: with the prior the GP predicts unseen cells from it
    rng = np.random.default_rng(3)
    train, test = SPACE.sample(12, rng), SPACE.sample(200, rng)
    values = [log_params(arch) for arch in train]
    truth = np.array([log_params(arch) for arch in test])
    correlations = {}
    for prior in (None, CheapSignals(log_params, SPACE)):
        surrogate = Surrogate.for_encoding("tw", SPACE, deterministic=True, prior=prior)
        model = surrogate.fit(train, values).model
        with torch.no_grad():
            predicted = model.posterior(surrogate.encode(test, cache=False)).mean.squeeze(-1).numpy()
        correlations[prior is None] = np.corrcoef(predicted, truth)[0, 1]
    assert correlations[False] > 0.95
    assert correlations[False] > correlations[True] + 0.05


def test_the_kernel_reads_only_the_encoding_columns():
    prior = CheapSignals(lambda arch: [log_params(arch), 1.0], SPACE)
    surrogate = Surrogate.for_encoding("tw", SPACE, prior=prior)
    archs = SPACE.sample(5, np.random.default_rng(4))
    X = surrogate.encode(archs)
    assert X.shape == (5, surrogate.encoder.dim + 2)
    shifted = X.clone()
    shifted[:, surrogate.encoder.dim:] += 7.0
    kernel = surrogate.new_kernel().to(X)
    assert torch.allclose(kernel(X).to_dense(), kernel(shifted).to_dense())


def test_the_initial_design_is_better_than_random_by_the_signals():
    means = {}
    for prior in (None, log_params):
        opt = Optimizer(SPACE, n_initial=10, seed=5, deterministic=True, prior=prior)
        initial = opt.ask(10)
        means[prior is None] = np.mean([log_params(trial.arch) for trial in initial])
        assert len({SPACE.canonical_key(trial.arch) for trial in initial}) == 10
    assert means[False] > means[True]


def test_searches_with_a_prior_resume_from_the_journal_and_refuse_a_missing_one(tmp_path):
    path = tmp_path / "run.jsonl"
    live = Optimizer(SPACE, n_initial=4, seed=6, deterministic=True, prior=log_params, storage=path)
    for _ in range(6):
        trial = live.ask()[0]
        live.tell(trial, TABLE.query(trial.arch).test_accuracy)
    assert live.last_fit == "fit"
    live.close()
    before = path.read_bytes()
    with pytest.raises(ValueError, match="written with the cheap signals .log_params.; pass it again"):
        Optimizer.load(path)
    assert path.read_bytes() == before
    copy = tmp_path / "copy.jsonl"
    shutil.copy(path, copy)
    twin, resumed = Optimizer.load(copy, prior=log_params), Optimizer.load(path, prior=log_params)
    assert [t.arch_str for t in twin.ask(2)] == [t.arch_str for t in resumed.ask(2)]
    assert resumed.settings.prior == "log_params"
    plain = tmp_path / "plain.jsonl"
    Optimizer(SPACE, storage=plain).close()
    with pytest.raises(ValueError, match="written without the cheap signals"):
        Optimizer.load(plain, prior=log_params)


def test_a_prior_is_refused_with_fidelities():
    with pytest.raises(ValueError, match="a prior of cheap signals is for a single-fidelity search"):
        Optimizer(SPACE, prior=log_params, fidelities=(12, 200))
    with pytest.raises(ValueError, match="a prior of cheap signals is for a single-fidelity search"):
        Surrogate(ENCODINGS["tw"].build(SPACE, "cpu"), "tw", prior=CheapSignals(log_params, SPACE), n_fidelities=2)


def test_a_replay_with_the_table_prior_runs_and_bad_names_are_refused(tmp_path, capsys):
    rows = replay("tw", 0, ReplaySpec(dataset="cifar10", queries=14, prior="params,flops"))
    assert len(rows) == 14 and all(row["regret"] >= 0 for row in rows)
    signals = make_benchmark(ReplaySpec(dataset="cifar10")).prior("params,flops")
    arch = rows[0]["arch"]
    assert signals(SPACE.from_str(arch)) == pytest.approx(
        [math.log(TABLE.query(arch).params), math.log(TABLE.query(arch).flops)])
    with pytest.raises(ValueError, match=r"unknown cheap signal\(s\) \['latency'\]"):
        make_benchmark(ReplaySpec(space="nb101")).prior("latency")
    assert main(["replay", "--prior", "params,latency", "--methods", "tw", "--queries", "5", "--seeds", "1",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "unknown cheap signal(s) ['latency']" in " ".join(capsys.readouterr().out.split())
    assert not (tmp_path / "bad").exists()


def test_size_signals_count_the_untrained_network_and_name_themselves_in_the_journal(tmp_path):
    from functools import partial

    from bonas import SizeSignals, build_network, count_params
    from scipy.stats import spearmanr

    build = partial(build_network, SPACE, num_classes=10)
    signals = SizeSignals(build, (3, 32, 32))
    archs = SPACE.sample(12, np.random.default_rng(7))
    values = np.array([signals(arch) for arch in archs])
    assert values[:, 0] == pytest.approx([math.log(count_params(build(arch))) for arch in archs])
    assert spearmanr(values[:, 0], [TABLE.query(arch).params for arch in archs])[0] > 0.95
    assert spearmanr(values[:, 1], [TABLE.query(arch).flops for arch in archs])[0] > 0.95
    opt = Optimizer(SPACE, n_initial=3, seed=0, prior=signals, storage=tmp_path / "run.jsonl")
    assert opt.settings.prior == "log-params,log-flops@3x32x32"
    assert SizeSignals(build)(archs[0]) == [values[0, 0]] and SizeSignals(build).name == "log-params"
    with pytest.raises(ValueError, match=r"image_shape must be \(c, h, w\)"):
        SizeSignals(build, (32, 32))


def test_bonas_search_takes_the_size_prior_and_resumes_only_with_it(tmp_path, capsys):
    from bonas.settings import OptimizerSettings
    import json

    out = tmp_path / "out"
    assert main(["search", "--trials", "3", "--n-initial", "2", "--workers", "1", "--size-prior", "--channels", "4",
                 "--cells-per-stage", "1", "--out",
                 str(out)]) == 0
    with open(out / "journal.jsonl") as handle:
        settings = OptimizerSettings.from_json(json.loads(handle.readline())["settings"])
    assert settings.prior == "log-params"
    before = (out / "journal.jsonl").read_bytes()
    small = ["--channels", "4", "--cells-per-stage", "1"]
    assert main(["search", "--trials", "4", "--workers", "1", *small, "--out", str(out)]) == 2
    assert "give --size-prior" in " ".join(capsys.readouterr().out.split())
    assert (out / "journal.jsonl").read_bytes() == before
    assert main(["search", "--trials", "4", "--workers", "1", "--size-prior", *small, "--out", str(out)]) == 0
