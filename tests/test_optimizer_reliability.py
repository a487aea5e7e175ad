"""Issue 19, cases 2, 3, 4 and 10: what a careless or hostile journal, value or request does to an optimizer."""

import json
import logging

import numpy as np
import pytest
import torch

from bonas.journal import JournalCorruptError
from bonas.nasbench import NASBench201Table
from bonas.optimizer import Optimizer
from bonas.spaces import NASBench201Space

SPACE = NASBench201Space()
TABLE = NASBench201Table("cifar10")


def lines_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def rewrite(path, events):
    path.write_text("".join(json.dumps(event) + "\n" for event in events))


def told_journal(path, n_told=3):
    opt = Optimizer(SPACE, n_initial=2, seed=0, storage=path, deterministic=True)
    for trial in opt.ask(n_told):
        opt.tell(trial, TABLE.query(trial.arch).test_accuracy)
    opt.close()
    return opt


def test_a_complete_last_tell_without_its_newline_is_kept(tmp_path, caplog):
    path = tmp_path / "a.jsonl"
    opt = told_journal(path)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    with caplog.at_level(logging.WARNING):
        loaded = Optimizer.load(path)
    assert "incomplete" not in caplog.text
    assert [t.value for t in loaded.completed] == [t.value for t in opt.completed] and not loaded.pending
    loaded.tell(loaded.ask(1)[0], 90.0)
    assert [e["event"] for e in lines_of(path)] == ["create", "ask", "ask", "ask", "tell", "tell", "tell", "ask", "tell"]
    assert [t.value for t in Optimizer.load(path).completed] == [t.value for t in opt.completed] + [90.0]


@pytest.mark.parametrize("huge", [1e308, 1e160, -1e308])
def test_a_huge_told_value_does_not_poison_later_asks(tmp_path, huge):
    path = tmp_path / "a.jsonl"
    opt = Optimizer(SPACE, n_initial=2, seed=0, storage=path)
    first, second, third, in_flight = opt.ask(4)
    opt.tell(first, 93.1)
    opt.tell(second, 93.0)
    opt.tell(third, huge)
    for _ in range(2):
        asked = opt.ask(2)
        assert len({SPACE.canonical_key(t.arch) for t in asked}) == 2
    opt.close()
    resumed = Optimizer.load(path)
    assert len(resumed.ask(2)) == 2 and resumed.last_fit in ("fit", "learned-noise")
    assert resumed.best_trial.value == max(93.1, huge)


def test_a_batch_rule_that_fails_falls_back_and_says_so(monkeypatch, caplog):
    opt = Optimizer(SPACE, n_initial=4, seed=1, deterministic=True)
    for trial in opt.ask(6):
        opt.tell(trial, TABLE.query(trial.arch).test_accuracy)

    def broken(*args, **kwargs):
        raise torch.linalg.LinAlgError("linalg.eigh: The algorithm failed to converge")

    monkeypatch.setattr("bonas.batch.rules.select_kdpp_batch", broken)
    with caplog.at_level(logging.WARNING, logger="bonas.batch.rules"):
        asked = opt.ask(4)
    assert len({SPACE.canonical_key(t.arch) for t in asked}) == 4
    assert opt.last_selection == "posterior-mean" and "batch selection 'kdpp' failed (_LinAlgError" in caplog.text
    opt.ask(1)
    assert opt.last_selection == "greedy"


@pytest.mark.parametrize("edit, message", [
    (lambda events: events[1].update(ask=-5), r"line 2: 'ask' event field 'ask' is -5, not an ask number"),
    (lambda events: events[2].update(ask=7), r"line 3: cannot replay 'ask': ask number 7 out of order"),
    (lambda events: events[4].update(value=10**400), r"line 5: 'tell' event field 'value' is 1000.*\(401 characters\), "
                                                     "not a finite number"),
    (lambda events: events[4].update(value="93.1"), r"line 5: 'tell' event field 'value' is '93.1', not a finite"),
    (lambda events: events[4].update(trial=True), r"line 5: 'tell' event field 'trial' is True, not a trial id"),
    (lambda events: events[4].pop("value"), r"line 5: 'tell' event field 'value' is missing"),
    (lambda events: events[1].update(asked_at=10**400), r"line 2: 'ask' event field 'asked_at' .* not a finite number"),
    (lambda events: events.append(dict(events[1], trial=3, ask=2)),
     r"line 8: cannot replay 'ask': .* is already trial 0 \(complete\)"),
])
def test_journal_lines_that_would_break_later_are_refused_on_load_naming_the_line(tmp_path, edit, message):
    path = tmp_path / "a.jsonl"
    told_journal(path)
    events = lines_of(path)
    edit(events)
    rewrite(path, events)
    before = path.read_bytes()
    with pytest.raises(JournalCorruptError, match=message):
        Optimizer.load(path)
    assert path.read_bytes() == before


def test_a_400_digit_value_is_refused_at_tell_with_a_message():
    opt = Optimizer(SPACE, n_initial=2)
    trial = opt.ask(1)[0]
    with pytest.raises(ValueError, match="an integer of 401 digits overflows a float"):
        opt.tell(trial, 10**400)
    assert opt.pending == [trial]


def test_ask_beyond_what_is_left_in_the_random_phase_returns_what_is_left(caplog):
    opt = Optimizer(SPACE, n_initial=10**6, seed=0)
    opt.tell(opt.ask(1)[0], 1.0)
    with caplog.at_level(logging.WARNING, logger="bonas.optimizer"):
        asked = opt.ask(10**6)
    assert len(asked) == 8765 - 1
    assert f"only {8765 - 1} unseen architecture(s) are left in space 'nb201'" in caplog.text
    assert len({SPACE.canonical_key(t.arch) for t in opt.trials}) == 8765
    with pytest.raises(RuntimeError, match="every architecture of space 'nb201' has been asked"):
        opt.ask(1)


def test_ask_9000_on_nb201_returns_every_class_once():
    opt = Optimizer(SPACE, n_initial=10, seed=3)
    asked = opt.ask(9000)
    assert len(asked) == 8765 == len({SPACE.canonical_key(t.arch) for t in asked})


def test_ask_beyond_the_pool_in_the_model_phase_is_truthful(caplog):
    opt = Optimizer(SPACE, n_initial=4, seed=2, deterministic=True)
    for trial in opt.ask(4):
        opt.tell(trial, TABLE.query(trial.arch).test_accuracy)
    with caplog.at_level(logging.WARNING, logger="bonas.optimizer"):
        asked = opt.ask(10**6)
    assert len(asked) == 8765 - 4 and opt.last_selection == "all-left"
    assert f"only {8765 - 4} unseen architecture(s) are left in space 'nb201'" in caplog.text


def test_a_batch_larger_than_the_local_pool_is_topped_up_with_random_cells():
    opt = Optimizer(SPACE, n_initial=4, seed=2, deterministic=True, pool_size=50)
    for trial in opt.ask(4):
        opt.tell(trial, TABLE.query(trial.arch).test_accuracy)
    asked = opt.ask(80, batch="kdpp")
    assert len({SPACE.canonical_key(t.arch) for t in asked}) == 80 and opt.last_selection == "kdpp"


def test_same_seed_gives_the_same_random_phase_as_before():
    """The random phase samples as it always did (``4 n`` per round), so replays of earlier seeds stand."""
    opt = Optimizer(SPACE, n_initial=10, seed=5)
    rng = np.random.default_rng([5, 0])
    expected = []
    for arch in SPACE.sample(40, rng):
        if SPACE.canonical_key(arch) not in {SPACE.canonical_key(a) for a in expected}:
            expected.append(arch)
    assert [t.arch for t in opt.ask(10)] == expected[:10]
