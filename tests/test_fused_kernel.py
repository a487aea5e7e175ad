"""A stale torch-extension lock must not hang a multi-objective search (bonas.fused_kernel)."""

from __future__ import annotations

import threading

import pytest
from botorch.acquisition.multi_objective import logei

from bonas import NASBench201Table, Optimizer
from bonas import fused_kernel


def test_a_load_that_never_finishes_warns_and_the_ask_goes_on(monkeypatch) -> None:
    release = threading.Event()

    def stuck_load() -> None:  # botorch's loader when a stale lock makes torch's FileBaton.wait() spin forever
        if logei._load_attempted:
            return
        logei._load_attempted = True
        release.wait()

    monkeypatch.setattr(logei, "_try_load_fused_kernel", stuck_load)
    monkeypatch.setattr(logei, "_load_attempted", False)
    monkeypatch.setattr(fused_kernel, "_checked", False)
    monkeypatch.setattr(fused_kernel, "LOAD_TIMEOUT_S", 0.2)
    table = NASBench201Table("cifar10")
    opt = Optimizer(table.space, objectives={"accuracy": "max", "latency_ms": "min"}, n_initial=4, seed=0)
    try:
        for _ in range(4):
            trial = opt.ask(1)[0]
            record = table.query(trial.arch)
            opt.tell(trial, {"accuracy": record.test_accuracy, "latency_ms": table.latency(trial.arch, "pixel3")})
        with pytest.warns(RuntimeWarning, match="stale 'lock' file"):
            trial = opt.ask(1)[0]
        assert opt.last_selection == "qlognehvi"
        assert fused_kernel.load_fused_kernel() is True  # once per process: no second wait
    finally:
        release.set()


def test_a_load_that_finishes_returns_true_without_a_warning(monkeypatch, recwarn) -> None:
    calls = []
    monkeypatch.setattr(logei, "_try_load_fused_kernel", lambda: calls.append(1))
    monkeypatch.setattr(fused_kernel, "_checked", False)
    assert fused_kernel.load_fused_kernel(timeout_s=5.0) is True
    assert fused_kernel.load_fused_kernel(timeout_s=5.0) is True
    assert calls == [1] and not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
