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
        parsed = []
        for metric, rule in dict(constraints or {}).items():
            if not isinstance(rule, Sequence) or isinstance(rule, str) or len(rule) != 2:
                raise ValueError(f"constraint on {metric!r} is {rule!r}; expected (operator, bound), e.g. ('<=', 14.0)")
            operator, bound = rule
            parsed.append((metric, operator, check_finite(bound, f"bound of the constraint on {metric!r}")))
        return cls(tuple(objectives.items()), tuple(parsed))

    @classmethod
    def from_json(cls, objectives: Any, constraints: Any) -> "Outcomes | None":
        """The outcomes as :meth:`to_json` wrote them (lists), ``None`` for a journal without them."""
        if objectives is None:
            return None
        return cls(tuple((str(name), str(direction)) for name, direction in objectives),
                   tuple((str(metric), str(operator), float(bound)) for metric, operator, bound in constraints or ()))

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
        """How far one told dict is outside its constraints (the sum of the amounts by which bounds are missed)."""
        return sum(max(0.0, values[metric] - bound if operator == "<=" else bound - values[metric])
                   for metric, operator, bound in self.constraints)

    def to_json(self) -> tuple[list[list[Any]], list[list[Any]]]:
        """``(objectives, constraints)`` as JSON lists, for the journal's settings."""
        return [list(item) for item in self.objectives], [list(item) for item in self.constraints]


def pareto_indices(signed_values: Tensor) -> list[int]:
    """Indices of the non-dominated rows of ``n x k`` signed values (larger is better); ties all count."""
    if len(signed_values) == 0:
        return []
    return torch.nonzero(is_non_dominated(signed_values, deduplicate=False)).flatten().tolist()


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a {what} name must be a non-empty string; got {name!r}")
