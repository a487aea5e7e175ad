"""Batch selection: quality k-DPPs over a finite candidate pool."""

from bonas.batch.kdpp import condition_kernel, greedy_map_kdpp, numerical_rank, quality_kernel, sample_kdpp, select_kdpp_batch

__all__ = ["condition_kernel", "greedy_map_kdpp", "numerical_rank", "quality_kernel", "sample_kdpp", "select_kdpp_batch"]
