"""Constraints a replay can put on NAS-Bench-201 cells before they are evaluated: params, FLOPs, latency.

``"params<=1000000"``, ``"flops<=2e8"`` or ``"latency:pixel2<=14"`` (milliseconds on one of
:data:`bonas.nasbench.LATENCY_DEVICES`; the limit is inclusive, as in HELP's latency-constrained NAS). Every
method of the replay sees the same feasibility and proposes only feasible cells; the regret is taken against
the constrained optimum of the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bonas.nasbench.nb201 import NASBench201Table, check_device
from bonas.validation import check_finite

METRICS = ("params", "flops", "latency")
_PATTERN = re.compile(r"^\s*(?P<metric>[a-z]+)(?::(?P<device>[A-Za-z0-9_]+))?\s*<=\s*(?P<limit>\S+)\s*$")


@dataclass(frozen=True)
class TableConstraint:
    """``metric(arch) <= limit`` for a metric the table knows before training.

    :param metric: ``"params"`` (a count), ``"flops"`` (a count) or ``"latency"`` (ms on ``device``).
    :param limit: the largest allowed value, inclusive.
    :param device: for ``"latency"``, the device, one of :data:`bonas.nasbench.LATENCY_DEVICES`.
    """

    metric: str
    limit: float
    device: str | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown constrained metric {self.metric!r}; expected one of {list(METRICS)}")
        if (self.metric == "latency") != (self.device is not None):
            raise ValueError("a latency constraint names its device (latency:<device><=ms), and only it does; got "
                             f"metric {self.metric!r} with device {self.device!r}")
        if self.device is not None:
            try:
                check_device(self.device)
            except KeyError as error:
                raise ValueError(error.args[0]) from None
        object.__setattr__(self, "limit", check_finite(self.limit, f"the limit of {self.metric}"))

    @classmethod
    def parse(cls, text: str) -> "TableConstraint":
        """``"params<=1e6"``, ``"flops<=2e8"``, ``"latency:pixel2<=14"``; ``ValueError`` saying what is wrong."""
        match = _PATTERN.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"cannot read constraint {text!r}; expected METRIC<=LIMIT with METRIC one of params, "
                             "flops, latency:DEVICE (e.g. latency:pixel2<=14)")
        try:
            limit = float(match["limit"])
        except ValueError:
            raise ValueError(f"constraint {text!r}: the limit {match['limit']!r} is not a number") from None
        return cls(match["metric"], limit, match["device"])

    def values(self, table: NASBench201Table) -> np.ndarray:
        """The constrained metric of every cell, in NB201 index order."""
        if self.metric == "latency":
            return table.latency_column(self.device)
        return table.metric(self.metric).astype(float)

    def feasible_rows(self, table: NASBench201Table) -> np.ndarray:
        """A boolean mask of the cells that satisfy the constraint; ``ValueError`` if none does."""
        feasible = self.values(table) <= self.limit
        if not feasible.any():
            raise ValueError(f"no NAS-Bench-201 cell satisfies {self} (the smallest value is "
                             f"{self.values(table).min():g})")
        return feasible

    def __str__(self) -> str:
        name = self.metric if self.device is None else f"latency:{self.device}"
        return f"{name}<={self.limit:g}"
