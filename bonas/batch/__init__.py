"""Batch selection: the batch rules (one class each, one signature) and the quality k-DPP they can use."""

from bonas.batch.kdpp import condition_kernel, greedy_map_kdpp, numerical_rank, quality_kernel, sample_kdpp, select_kdpp_batch
from bonas.batch.rules import (
    BATCH_RULES,
    KDPP,
    BatchRule,
    BatchRuleEntry,
    Greedy,
    KrigingBeliever,
    Thompson,
    register_batch_rule,
    seed_of,
    unregister_batch_rule,
)

__all__ = [
    "BATCH_RULES",
    "KDPP",
    "BatchRule",
    "BatchRuleEntry",
    "Greedy",
    "KrigingBeliever",
    "Thompson",
    "condition_kernel",
    "greedy_map_kdpp",
    "numerical_rank",
    "quality_kernel",
    "register_batch_rule",
    "sample_kdpp",
    "seed_of",
    "select_kdpp_batch",
    "unregister_batch_rule",
]
