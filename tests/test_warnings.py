"""Users see only warnings that mean something: the harmless ones bonas knows of are silenced where they arise."""

from __future__ import annotations

import subprocess
import sys
import warnings

from bonas import NASBench201Table, Optimizer


def test_importing_bonas_prints_no_torch_jit_deprecation() -> None:
    result = subprocess.run([sys.executable, "-W", "default", "-c", "import bonas"], capture_output=True, text=True,
                            check=True)
    assert "torch.jit.script" not in result.stderr


def test_a_noise_free_search_does_not_warn_about_its_pinned_noise_but_other_warnings_still_show() -> None:
    table = NASBench201Table("cifar10")
    opt = Optimizer(table.space, deterministic=True, n_initial=4, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(6):
            trial = opt.ask(1)[0]
            opt.tell(trial, table.query(trial.arch).test_accuracy)
        warnings.warn("a warning bonas does not know", UserWarning)
    messages = [str(w.message) for w in caught]
    assert opt.last_fit == "fit"
    assert not [m for m in messages if "Very small noise values" in m]
    assert "a warning bonas does not know" in messages
