"""Batch rules: one signature, found by name, their answers checked before the optimizer uses them."""

import logging

import numpy as np
import pytest
import torch
from bonas.encoders import make_encoder

from bonas import Acquisition
from bonas.batch import (
    BATCH_RULES,
    KDPP,
    BatchRuleEntry,
    register_batch_rule,
    select_kdpp_batch,
    unregister_batch_rule,
)
from bonas.batch.rules import select_or_fall_back
from bonas.nasbench import NASBench201Table
from bonas.optimizer import Optimizer
from bonas.settings import OptimizerSettings
from bonas.spaces import NASBench201Space
from bonas.surrogate import Surrogate

SPACE = NASBench201Space()
TABLE = NASBench201Table("cifar10")


@pytest.fixture(scope="module")
def fitted():
    """A GP fitted on 12 NB201 cells, and 60 other cells as candidates."""
    cells = SPACE.sample(72, np.random.default_rng(3))
    surrogate = Surrogate(make_encoder("tw", SPACE), "tw", deterministic=True)
    result = surrogate.fit(cells[:12], [TABLE.query(cell).test_accuracy for cell in cells[:12]])
    return result, surrogate.encode(cells[12:])


@pytest.mark.parametrize("name", list(BATCH_RULES))
def test_every_rule_returns_q_distinct_indices_and_repeats_itself_from_the_same_seed(fitted, name):
    result, candidates_X = fitted
    rule = BATCH_RULES[name].make(Acquisition("ei"), OptimizerSettings(space="nb201"))
    picks = [rule.select(result.model, candidates_X, 4, pending_X=candidates_X[:2], best_f=result.best_f,
                         generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert picks[0] == picks[1]
    assert len(set(picks[0])) == 4 and all(0 <= index < len(candidates_X) for index in picks[0])


def test_the_kdpp_rule_is_the_kdpp_on_the_believed_model_scored_by_its_acquisition(fitted):
    result, candidates_X = fitted
    rule = KDPP(Acquisition("ucb"), pool=12, temperature=0.5)
    chosen = rule.select(result.model, candidates_X, 3, pending_X=None, best_f=result.best_f,
                         generator=torch.Generator().manual_seed(1))
    scores = Acquisition("ucb")(result.model, candidates_X, result.best_f)
    direct = select_kdpp_batch(result.model, candidates_X, 3, pool_limit=12, scores=scores, temperature=0.5,
                               generator=torch.Generator().manual_seed(1))
    assert chosen == direct


class Returns:
    def __init__(self, answer):
        self.answer = answer

    def select(self, model, candidates_X, q, *, pending_X, best_f, generator):
        return self.answer


@pytest.mark.parametrize("answer, message", [
    ([0, 1.5], "expected a list of integer indices"),
    (torch.tensor([True, False]), "expected a list of integer indices"),
    ([0, 60], r"expected each in 0..59"),
    ([-1, 2], r"expected each in 0..59"),
    ("ab", "expected a list of integer indices"),
])
def test_a_rule_that_returns_no_indices_is_a_bug_named_not_a_fallback(fitted, answer, message):
    result, candidates_X = fitted
    with pytest.raises(ValueError, match=f"batch rule 'mine' returned .*{message}"):
        select_or_fall_back("mine", Returns(answer), result.model, candidates_X, 2, None, result.best_f, 0)


def test_a_rule_with_too_few_distinct_picks_falls_back_logged(fitted, caplog):
    result, candidates_X = fitted
    with caplog.at_level(logging.WARNING, logger="bonas.batch.rules"):
        chosen, how = select_or_fall_back("mine", Returns(torch.tensor([3, 3])), result.model, candidates_X, 2,
                                          None, result.best_f, 0)
    assert how == "posterior-mean" and len(set(chosen)) == 2 and "batch selection 'mine' failed" in caplog.text


def test_a_registered_rule_is_asked_by_name_and_a_taken_name_is_refused():
    first = BatchRuleEntry("first-q", lambda acquisition, settings: Returns([0, 1]), "the first q")
    register_batch_rule(first)
    try:
        with pytest.raises(ValueError, match="batch 'first-q' is already registered"):
            register_batch_rule(first)
        opt = Optimizer(SPACE, n_initial=2, seed=0, deterministic=True, pool_size=20)
        for trial in opt.ask(2):
            opt.tell(trial, TABLE.query(trial.arch).test_accuracy)
        assert len(opt.ask(2, batch="first-q")) == 2 and opt.last_selection == "first-q"
    finally:
        unregister_batch_rule("first-q")
    with pytest.raises(ValueError, match="unknown batch 'first-q'"):
        Optimizer(SPACE, n_initial=2, seed=0).ask(1, batch="first-q")
