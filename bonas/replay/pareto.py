"""Pareto fronts and hypervolume regret of multi-objective replays on a tabular benchmark.

A multi-objective replay has ``k`` objectives, each oriented to be maximised
(a cost such as latency in ms, parameters or FLOPs is negated), so every array
here is ``n x k`` in that orientation. The *hypervolume regret* that a
multi-objective ``summary.csv`` reports is defined on the whole table:

* every objective is min-max normalised over the table's ``N`` cells,
  ``(Y - worst) / (best - worst)``, so every cell lies in ``[0, 1]^k``;
* the reference point is fixed: the origin of that normalised space, i.e. the
  table's worst value in every objective;
* the hypervolume of a set of points is the volume of the normalised region
  above the origin that they dominate (botorch computes it);
* the regret of the points found is the hypervolume of the true Pareto front
  (all the table) minus theirs: in ``[0, 1]``, ``0`` exactly when the found
  points dominate the whole true front.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume

from bonas.nasbench.nb201 import NASBench201Table, check_device
from bonas.outcomes import pareto_indices

NEGATED_PREFIXES = ("latency", "params", "flops")
"""Objective names (and labels) that start with one of these are costs, negated to be maximised."""
OBJECTIVE_FORMS = ("accuracy", "latency:<device>", "params", "flops")


def pareto_mask(Y: np.ndarray) -> np.ndarray:
    """Which rows of ``Y`` (``n x k``, maximised) no other row dominates: a boolean array of length ``n``.

    Every copy of a non-dominated point counts as non-dominated (botorch's ``deduplicate=False``).
    """
    Y = _as_matrix(Y)
    mask = np.zeros(len(Y), dtype=bool)
    mask[pareto_indices(torch.as_tensor(Y, dtype=torch.double))] = True
    return mask


def true_front(table_Y: np.ndarray) -> np.ndarray:
    """Indices of the Pareto-optimal rows of ``table_Y`` (``N x k``, maximised), ascending."""
    return np.flatnonzero(pareto_mask(table_Y))


@dataclass(frozen=True, eq=False)
class HypervolumeScale:
    """The normalisation, reference point and true hypervolume of one table (see the module docstring).

    :param table_Y: every cell's objectives, ``N x k``, maximised.
    :raises ValueError: ``table_Y`` is empty or not finite, or an objective takes one value over the table.
    """

    table_Y: np.ndarray = field(repr=False)
    worst: np.ndarray = field(init=False)
    best: np.ndarray = field(init=False)
    true_hypervolume: float = field(init=False)

    def __post_init__(self) -> None:
        table_Y = _as_matrix(self.table_Y)
        if len(table_Y) == 0 or not np.isfinite(table_Y).all():
            raise ValueError(f"a hypervolume scale needs a non-empty, finite table; got shape {table_Y.shape}")
        worst, best = table_Y.min(0), table_Y.max(0)
        constant = np.flatnonzero(best == worst)
        if len(constant):
            raise ValueError(f"objective columns {constant.tolist()} take one value over the table; "
                             "they cannot be normalised")
        object.__setattr__(self, "table_Y", table_Y)
        object.__setattr__(self, "worst", worst)
        object.__setattr__(self, "best", best)
        object.__setattr__(self, "true_hypervolume", self.hypervolume(table_Y))

    @property
    def k(self) -> int:
        """The number of objectives."""
        return self.table_Y.shape[1]

    def normalise(self, Y: np.ndarray) -> np.ndarray:
        """``Y`` (``n x k``) mapped so the table spans ``[0, 1]^k``: ``(Y - worst) / (best - worst)``."""
        return (self._check(Y) - self.worst) / (self.best - self.worst)

    def hypervolume(self, Y: np.ndarray) -> float:
        """The normalised hypervolume that ``Y`` (``n x k``) dominates above the origin; ``0`` for no points."""
        Y = self._check(Y)
        if len(Y) == 0:
            return 0.0
        front = self.normalise(Y[pareto_mask(Y)])
        ref_point = torch.zeros(self.k, dtype=torch.double)
        return float(Hypervolume(ref_point).compute(torch.as_tensor(front, dtype=torch.double)))

    def regret(self, Y: np.ndarray) -> float:
        """The true front's hypervolume minus that of ``Y`` (``n x k``), in ``[0, 1]``."""
        return max(self.true_hypervolume - self.hypervolume(Y), 0.0)

    def _check(self, Y: np.ndarray) -> np.ndarray:
        Y = _as_matrix(Y, self.k)
        if Y.shape[1] != self.k:
            raise ValueError(f"expected points with {self.k} objectives, got shape {Y.shape}")
        return Y


def hypervolume_trajectory(scale: HypervolumeScale, Y_in_query_order: np.ndarray) -> np.ndarray:
    """The hypervolume regret after each query: length ``n`` for ``Y_in_query_order`` (``n x k``).

    The hypervolume is recomputed only when a query is not weakly dominated by the front so far, so the
    trajectory is non-increasing and cheap (a few front updates in a 150-query replay).
    """
    Y = scale._check(Y_in_query_order)
    regrets = np.empty(len(Y))
    front = np.empty((0, scale.k))
    regret = scale.true_hypervolume
    for query, point in enumerate(Y):
        if not (front >= point).all(axis=1).any():
            front = np.vstack([front[~(point >= front).all(axis=1)], point])
            regret = scale.regret(front)
        regrets[query] = regret
    return regrets


def is_negated(name: str) -> bool:
    """Whether an objective name or label (``"latency:pixel2"``, ``"params"``, ...) is a negated cost."""
    return name.startswith(NEGATED_PREFIXES)


def nb201_objectives(dataset: str, objectives: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """The NAS-Bench-201 objective matrix of ``dataset``, ``15625 x k`` in table row order, and column labels.

    :param objectives: each ``"accuracy"`` (200-epoch test accuracy, %), ``"latency:<device>"`` (ms on one of
        :data:`bonas.nasbench.LATENCY_DEVICES`), ``"params"`` or ``"flops"`` (counts); costs are negated.
    :raises ValueError: an unknown dataset or objective name, or no objectives.
    :raises KeyError: an unknown latency device, naming the known ones.
    """
    if isinstance(objectives, str) or len(objectives) == 0:
        raise ValueError(f"expected a sequence of objective names, each one of {list(OBJECTIVE_FORMS)}; "
                         f"got {objectives!r}")
    table = NASBench201Table(dataset)
    columns, labels = [], []
    for name in objectives:
        kind, _, device = name.partition(":") if isinstance(name, str) else (name, "", "")
        if name == "accuracy":
            columns.append(table.metric("test_accuracy"))
            labels.append("accuracy (%)")
        elif kind == "latency" and device:
            check_device(device)
            columns.append(-table.latency_column(device))
            labels.append(f"latency:{device} (ms)")
        elif name in ("params", "flops"):
            columns.append(-table.metric(name).astype(float))
            labels.append(name)
        else:
            raise ValueError(f"unknown NAS-Bench-201 objective {name!r}; expected one of {list(OBJECTIVE_FORMS)}")
    return np.column_stack(columns), labels


def _as_matrix(Y: np.ndarray, k: int | None = None) -> np.ndarray:
    """``Y`` as a float ``n x k`` array (an empty input becomes ``0 x k``)."""
    Y = np.asarray(Y, dtype=float)
    if Y.size == 0 and k is not None:
        return Y.reshape(0, k)
    if Y.ndim != 2:
        raise ValueError(f"expected an n x k array of objective values, got shape {Y.shape}")
    return Y
