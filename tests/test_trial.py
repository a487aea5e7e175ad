import json

import pytest

from bonas.trial import Trial, TrialState


def test_states_are_the_strings_the_journal_stores():
    assert [state.value for state in TrialState] == ["running", "complete", "failed", "abandoned"]
    assert TrialState.COMPLETE == "complete"
    assert json.dumps({"state": TrialState.FAILED}) == '{"state": "failed"}'
    assert [state.is_finished for state in TrialState] == [False, True, True, True]


def test_trial_defaults_and_state_from_string():
    first = Trial(id=0, arch=("a",), arch_str="a")
    second = Trial(id=1, arch=("b",), arch_str="b", state="complete", value=93.1)
    assert (first.state, first.value, first.asked_at, first.told_at) == (TrialState.RUNNING, None, None, None)
    assert second.state is TrialState.COMPLETE
    first.info["error"] = "boom"
    assert second.info == {}


def test_unknown_state_is_refused():
    with pytest.raises(ValueError, match="'done' is not a valid TrialState"):
        Trial(id=0, arch=None, arch_str="a", state="done")
