"""Typed, versioned optimizer settings, and journals written before they existed."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from bonas import NASBench201Space, Optimizer
from bonas.journal import JournalCorruptError
from bonas.settings import SETTINGS_VERSION, OptimizerSettings

OLD_JOURNAL = Path(__file__).parent / "data" / "journal_a786222.jsonl"
"""Written by bonas at commit a786222, before settings were versioned: an attach, asks, tells, a failure, an
abandon, three trials in flight (``tests/data/README.md`` says how)."""
OLD_NEXT_ASK = [
    "|none~0|+|none~0|nor_conv_1x1~1|+|none~0|nor_conv_1x1~1|nor_conv_1x1~2|",
    "|skip_connect~0|+|none~0|nor_conv_1x1~1|+|nor_conv_1x1~0|none~1|nor_conv_1x1~2|",
]
"""What bonas at a786222 asked next (``ask(2)``) after loading that journal."""


def test_an_old_journal_loads_and_asks_what_the_old_code_asked(tmp_path):
    path = tmp_path / "old.jsonl"
    shutil.copy(OLD_JOURNAL, path)
    opt = Optimizer.load(path)
    assert opt.settings == OptimizerSettings(space="nb201", encoding="tw", n_initial=4, seed=7, deterministic=True,
                                             kdpp_pool=12)
    states = [trial.state.value for trial in opt.trials]
    assert len(states) == 13 and states.count("running") == 3
    assert states.count("failed") == 1 and states.count("abandoned") == 1
    assert opt.best_trial.value == pytest.approx(94.24)
    assert [trial.arch_str for trial in opt.ask(2)] == OLD_NEXT_ASK


@pytest.mark.parametrize("field, value, message", [
    ("encoding", "nope", r"unknown encoding 'nope'; expected one of \['tw'"),
    ("n_initial", True, "n_initial must be an integer >= 1, got True"),
    ("seed", -1, "seed must be an integer >= 0"),
    ("kdpp_temperature", 0.0, "kdpp_temperature must be a positive finite number"),
    ("kdpp_pool", 2.5, "kdpp_pool must be an integer >= 1"),
    ("checkpoint", "x.pt", "checkpoint is for encoding='cate'"),
])
def test_bad_settings_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        OptimizerSettings(space="nb201", **{field: value})


def test_settings_round_trip_through_json_with_their_version():
    settings = OptimizerSettings(space="nb201", encoding="path", seed=3, kdpp_pool=7, kdpp_temperature=0.5)
    written = json.loads(json.dumps(settings.to_json()))
    assert written["settings_version"] == SETTINGS_VERSION
    assert OptimizerSettings.from_json(written) == settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 4


def test_a_journal_of_a_newer_settings_version_or_unknown_field_is_refused(tmp_path):
    path = tmp_path / "run.jsonl"
    Optimizer(NASBench201Space(), storage=path).close()
    created = json.loads(path.read_text())
    for edit, message in (({"settings_version": SETTINGS_VERSION + 1}, "newer than this bonas reads"),
                          ({"shiny": 1}, r"unknown setting\(s\) \['shiny'\]")):
        changed = {**created, "settings": {**created["settings"], **edit}}
        path.write_text(json.dumps(changed) + "\n")
        with pytest.raises(JournalCorruptError, match=message):
            Optimizer.load(path)
