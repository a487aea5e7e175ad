"""What a trial's result holds when it is more than one number: named objectives and measured constraints.

An optimizer made with ``objectives={"accuracy": "max", "latency_ms": "min"}`` and/or
``constraints={"latency_ms": ("<=", 14.0)}`` is told a dict of named metrics, ``tell(trial, {"accuracy": 93.1,
"latency_ms": 12.0})``: every objective and every constrained metric, each a finite number, nothing else.
:class:`Outcomes` holds that declaration, checks what is told against it, and turns told dicts into the tensors
the models are fitted to (objectives *signed*, so that larger is better for each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from botorch.utils.multi_objective.pareto import is_non_dominated
from torch import Tensor

from bonas.validation import check_finite

DIRECTIONS = ("max", "min")
CONSTRAINT_OPERATORS = ("<=", ">=")


@dataclass(frozen=True)
class Outcomes:
    """Named objectives (``(name, "max" | "min")``, in order) and measured constraints (``(metric, "<=" | ">=",
    bound)``) of an optimizer's results.

    A constrained metric is either an objective (e.g. maximise accuracy, and accuracy >= 70) or a metric told
    only for its constraint (e.g. ``latency_ms``).
    """

    objectives: tuple[tuple[str, str], ...]
    constraints: tuple[tuple[str, str, float], ...] = ()

    def __post_init__(self) -> None:
        if not self.objectives:
            raise ValueError("objectives is empty; name at least one, e.g. objectives={'accuracy': 'max'}")
        for name, direction in self.objectives:
            _check_name(name, "objective")
            if direction not in DIRECTIONS:
                raise ValueError(f"objective {name!r} has direction {direction!r}; expected 'max' or 'min'")
        names = [name for name, _ in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objectives name a metric twice: {names}")
        for metric, operator, bound in self.constraints:
            _check_name(metric, "constrained metric")
            if operator not in CONSTRAINT_OPERATORS:
                raise ValueError(f"constraint on {metric!r} has operator {operator!r}; expected '<=' or '>='")
            check_finite(bound, f"bound of the constraint on {metric!r}")
        # bounds as floats, so that settings compare and serialise alike whatever number type was given
        object.__setattr__(self, "constraints", tuple((metric, operator, float(bound))
                                                      for metric, operator, bound in self.constraints))
        constrained = [metric for metric, _, _ in self.constraints]
        if len(set(constrained)) != len(constrained):
            raise ValueError(f"constraints name a metric twice: {constrained}")

    @classmethod
    def from_arguments(cls, objectives: Mapping[str, str] | None,
                       constraints: Mapping[str, tuple[str, float]] | None) -> "Outcomes | None":
        """The outcomes of ``Optimizer(objectives=..., constraints=...)``, ``None`` when both are ``None`` (one
        unnamed value per tell, as before); ``ValueError`` naming what is malformed."""
        if objectives is None and constraints is None:
            return None
        if objectives is None:
            raise ValueError("constraints= needs objectives= naming the objective told beside them, e.g. "
                             "objectives={'accuracy': 'max'}, constraints={'latency_ms': ('<=', 14.0)}")
        if not isinstance(objectives, Mapping):
            raise ValueError(f"objectives is {objectives!r}; expected a dict of name -> 'max' or 'min'")
        if constraints is not None and not isinstance(constraints, Mapping):
            raise ValueError(f"constraints is {constraints!r}; expected a dict of metric -> (operator, bound), e.g. "
                             "{'latency_ms': ('<=', 14.0)}")
        parsed = []
        for metric, rule in dict(constraints or {}).items():
            if not isinstance(rule, Sequence) or isinstance(rule, str) or len(rule) != 2:
                raise ValueError(f"constraint on {metric!r} is {rule!r}; expected (operator, bound), e.g. ('<=', 14.0)")
            parsed.append((metric, *rule))
        return cls(tuple(objectives.items()), tuple(parsed))

    @classmethod
    def from_json(cls, objectives: Any, constraints: Any) -> "Outcomes":
        """The outcomes as settings hold them (tuples, or the lists a journal holds); ``ValueError`` naming a
        malformed entry."""
        return cls(_entries(objectives, 2, "objectives", "(name, 'max' | 'min')"),
                   _entries(constraints or (), 3, "constraints", "(metric, '<=' | '>=', bound)"))

    @property
    def names(self) -> tuple[str, ...]:
        """The objectives' names, in order."""
        return tuple(name for name, _ in self.objectives)

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric a tell must hold: the objectives, then the metrics told only for a constraint."""
        return (*self.names, *(metric for metric, _, _ in self.constraints if metric not in self.names))

    @property
    def is_multi_objective(self) -> bool:
        """Whether there are two or more objectives (a Pareto front instead of a best trial)."""
        return len(self.objectives) > 1

    def check(self, told: Any, label: str) -> dict[str, float]:
        """``told`` as a dict of every metric (finite floats, in :attr:`metrics` order); ``ValueError`` naming a
        missing, unknown or non-finite metric. One objective and no constraint also takes a bare number."""
        if not isinstance(told, Mapping):
            if len(self.metrics) == 1 and not isinstance(told, (str, bytes)):
                told = {self.metrics[0]: told}
            else:
                raise ValueError(f"{label} is {told!r}; expected a dict with {list(self.metrics)}")
        missing = [metric for metric in self.metrics if metric not in told]
        unknown = sorted(str(key) for key in told if key not in self.metrics)
        if missing or unknown:
            raise ValueError(f"{label}: {f'missing {missing}' if missing else ''}"
                             f"{'; ' if missing and unknown else ''}{f'unknown {unknown}' if unknown else ''}; "
                             f"expected exactly {list(self.metrics)}")
        return {metric: check_finite(told[metric], f"{label}[{metric!r}]") for metric in self.metrics}

    def signs(self) -> Tensor:
        """``k``: +1 for a maximised objective, -1 for a minimised one."""
        return torch.tensor([1.0 if direction == "max" else -1.0 for _, direction in self.objectives],
                            dtype=torch.double)

    def signed(self, values: Sequence[Mapping[str, float]]) -> Tensor:
        """``n x k`` objective values of ``n`` told dicts, each column oriented so that larger is better."""
        matrix = torch.tensor([[row[name] for name in self.names] for row in values], dtype=torch.double)
        return matrix.reshape(len(values), len(self.objectives)) * self.signs()

    def is_feasible(self, values: Mapping[str, float]) -> bool:
        """Whether one told dict meets every measured constraint (bounds inclusive)."""
        return all(values[metric] <= bound if operator == "<=" else values[metric] >= bound
                   for metric, operator, bound in self.constraints)

    def violation(self, values: Mapping[str, float]) -> float:
        """How far one told dict is outside its constraints: the sum over constraints of the amount by which the
        bound is missed, relative to the bound's size (``|bound|``, or 1 for a bound of 0), so that constraints in
        different units weigh alike."""
        return sum(max(0.0, values[metric] - bound if operator == "<=" else bound - values[metric])
                   / (abs(bound) or 1.0) for metric, operator, bound in self.constraints)


def pareto_indices(signed_values: Tensor) -> list[int]:
    """Indices of the non-dominated rows of ``n x k`` signed values (larger is better); ties all count."""
    if len(signed_values) == 0:
        return []
    return torch.nonzero(is_non_dominated(signed_values, deduplicate=False)).flatten().tolist()


def non_dominated_sort(Y: np.ndarray | Tensor) -> np.ndarray:
    """The non-domination rank of each row of ``Y`` (``n x k``, maximised): ``0`` for the Pareto front,
    ``1`` for the front of the rest, and so on (fronts peeled with :func:`pareto_indices`)."""
    Y = torch.as_tensor(np.asarray(Y, dtype=float))
    ranks = np.full(len(Y), -1)
    remaining = np.arange(len(Y))
    rank = 0
    while len(remaining):
        front = np.zeros(len(remaining), dtype=bool)
        front[pareto_indices(Y[remaining])] = True
        ranks[remaining[front]] = rank
        remaining = remaining[~front]
        rank += 1
    return ranks


def crowding_distance(Y: np.ndarray | Tensor) -> np.ndarray:
    """NSGA-II's crowding distance of each row of ``Y`` (``n x k``, one front), Deb et al. 2002.

    Per objective, the rows are sorted by it; the two boundary rows get infinity and every interior row
    adds the gap between its two neighbours divided by the objective's range (nothing when the range is 0).
    """
    Y = np.asarray(Y, dtype=float)
    distance = np.zeros(len(Y))
    for column in Y.T:
        order = np.argsort(column, kind="stable")
        distance[order[[0, -1]]] = np.inf
        span = column[order[-1]] - column[order[0]]
        if len(Y) > 2 and span > 0:
            distance[order[1:-1]] += (column[order[2:]] - column[order[:-2]]) / span
    return distance


def rank_and_crowding(Y: np.ndarray | Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Each row's non-domination rank (:func:`non_dominated_sort`) and its crowding distance within its own
    front (:func:`crowding_distance`)."""
    Y = np.asarray(Y, dtype=float)
    ranks = non_dominated_sort(Y)
    crowding = np.zeros(len(ranks))
    for rank in np.unique(ranks):
        members = ranks == rank
        crowding[members] = crowding_distance(Y[members])
    return ranks, crowding


def _entries(value: Any, width: int, what: str, form: str) -> tuple[tuple[Any, ...], ...]:
    """``value`` as a tuple of ``width``-tuples; ``ValueError`` naming ``what`` and the entry otherwise."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ValueError(f"{what} is {value!r}; expected a sequence of {form}")
    entries = []
    for entry in value:
        if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence) or len(entry) != width:
            raise ValueError(f"an entry of {what} is {entry!r}; expected {form}")
        entries.append(tuple(entry))
    return tuple(entries)


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a {what} name must be a non-empty string; got {name!r}")
