"""Fidelities of a multi-fidelity search, and the GP pieces over (architecture, fidelity).

A multi-fidelity optimizer (``Optimizer(space, fidelities=(12, 200))``) evaluates a cell at a few declared
fidelities: training epochs, or any budget the user names. :class:`Fidelities` holds them (ascending), the
target (the fidelity whose value is the result: the recommendation is the best cell evaluated there) and the
cost of one evaluation at each (by default the fidelity itself: epochs cost epochs).

The surrogate is one GP over every result: inputs are an encoding with the fidelity's index appended
(``n x (d + 1)``), the kernel the architecture kernel times a correlation between the fidelity indices
(:class:`FidelityCorrelationKernel`, an intrinsic coregionalisation model whose ``k x k`` correlation is a
non-negative rank-one factor plus a diagonal, so no two fidelities can be anti-correlated), and the mean a
constant per fidelity (:class:`FidelityMean`: a 12-epoch accuracy sits well below a 200-epoch one, which one
shared constant could not hold). A discrete index kernel rather than botorch's
``DownsamplingKernel`` / ``LinearTruncatedFidelityKernel``: those assume values that approach the target
monotonically as a continuous fidelity grows, while NAS-Bench-201's 12-epoch figure comes from its own
12-epoch schedule and a validation split, a different measurement rather than an earlier point of the same
curve; the index kernel learns however the fidelities relate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from botorch.models.kernels.positive_index import PositiveIndexKernel
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import Kernel, ProductKernel
from gpytorch.means import Mean
from torch import Tensor

from bonas.validation import check_finite

# IndexKernel builds sparse interpolation matrices, and torch warns once per process that their invariant checks are
# "implicitly disabled" unless told; saying so explicitly keeps torch's default and silences only that warning
torch.sparse.check_sparse_tensor_invariants.disable()

__all__ = ["Fidelities", "FidelityMean", "fidelity_kernel", "rank_across_fidelities"]


def _plain(number: float) -> int | float:
    """``12.0`` as ``12``: fidelities that are whole numbers read as epochs."""
    return int(number) if float(number).is_integer() else float(number)


@dataclass(frozen=True)
class Fidelities:
    """The declared fidelities (ascending, two or more), the target among them, and the cost of each.

    :param levels: the fidelities, e.g. ``(12, 200)`` epochs; given in any order, kept ascending.
    :param target: the fidelity of the result (default the largest).
    :param costs: the cost of one evaluation at each level, in the order of ``levels`` as given (default the
        levels themselves).
    """

    levels: tuple[int | float, ...]
    target: int | float | None = None
    costs: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.levels, (str, bytes)) or not isinstance(self.levels, Sequence):
            raise ValueError(f"fidelities must be a sequence of numbers, e.g. (12, 200); got {self.levels!r}")
        given = [_plain(check_finite(level, "a fidelity")) for level in self.levels]
        if len(given) < 2:
            raise ValueError(f"fidelities needs two or more levels; got {list(self.levels)}")
        if any(level <= 0 for level in given) or len(set(given)) != len(given):
            raise ValueError(f"fidelities must be distinct positive numbers; got {list(self.levels)}")
        costs = given if self.costs is None else self.costs
        if isinstance(costs, (str, bytes)) or not isinstance(costs, Sequence) or len(costs) != len(given):
            raise ValueError(f"fidelity_costs needs one cost per fidelity {given}; got {self.costs!r}")
        costs = [check_finite(cost, "a fidelity cost") for cost in costs]
        if any(cost <= 0 for cost in costs):
            raise ValueError(f"fidelity costs must be positive; got {list(costs)}")
        order = sorted(range(len(given)), key=given.__getitem__)
        object.__setattr__(self, "levels", tuple(given[i] for i in order))
        object.__setattr__(self, "costs", tuple(float(costs[i]) for i in order))
        target = self.levels[-1] if self.target is None else self.target
        object.__setattr__(self, "target", self.check(target, "target_fidelity"))

    def check(self, fidelity: Any, label: str = "fidelity") -> int | float:
        """``fidelity`` as declared (``12.0`` reads as ``12``); ``ValueError`` naming the declared ones."""
        try:
            value = _plain(check_finite(fidelity, label))
        except ValueError:
            raise ValueError(f"{label} {fidelity!r} is not one of the declared fidelities {list(self.levels)}") \
                from None
        if value not in self.levels:
            raise ValueError(f"{label} {fidelity!r} is not one of the declared fidelities {list(self.levels)}")
        return value

    def index(self, fidelity: Any) -> int:
        """The position of ``fidelity`` among the (ascending) levels."""
        return self.levels.index(self.check(fidelity))

    def cost(self, fidelity: Any) -> float:
        """The cost of one evaluation at ``fidelity``."""
        return self.costs[self.index(fidelity)]

    @property
    def target_index(self) -> int:
        """The target's position among the levels."""
        return self.levels.index(self.target)

    @property
    def lowest(self) -> int | float:
        """The cheapest fidelity (of the smallest cost; ties: the lowest level)."""
        return min(self.levels, key=lambda level: (self.cost(level), level))


class FidelityMean(Mean):
    """A constant prior mean per fidelity: ``mean(x) = c[x[..., column]]`` for ``... x n x (d + 1)`` inputs whose
    ``column`` holds fidelity indices ``0 .. k - 1``.

    :param n_levels: ``k``, the number of fidelities.
    :param column: the input column of the fidelity index (the last by default).
    """

    def __init__(self, n_levels: int, column: int = -1) -> None:
        super().__init__()
        self.column = column
        self.register_parameter("constants", torch.nn.Parameter(torch.zeros(n_levels)))

    def forward(self, x: Tensor) -> Tensor:
        """``... x n`` prior means."""
        return self.constants[x[..., self.column].round().long()]


class FidelityCorrelationKernel(PositiveIndexKernel):
    """A correlation between discrete fidelities: ``B = D^-1/2 (f f^T + diag(v)) D^-1/2``, ``D = diag(f f^T +
    diag(v))``, with ``f`` a positive ``n_levels x 1`` factor and ``v >= 1e-4``: unit diagonal, every correlation
    in ``[0, 1]``. botorch's ``PositiveIndexKernel`` holds the positive factor; it scales ``B`` by one fidelity's
    entry at most, so the normalisation is ours.

    Every fidelity gets the architecture kernel's outputscale (the outcome is standardised over all results, and
    the per-fidelity constants of :class:`FidelityMean` take the offsets). Results at one fidelity alone then
    carry no gradient to ``B`` at all: the correlation stays where it started (or where the last fit left it)
    until cells have results at two fidelities.
    """

    def __init__(self, n_levels: int, column: int, correlation: float = 0.9) -> None:
        super().__init__(num_tasks=n_levels, rank=1, unit_scale_for_target=False, active_dims=[column],
                         var_constraint=GreaterThan(1e-4))
        with torch.no_grad():
            # f f^T + v I with f = 1 and v = 1/correlation - 1: every off-diagonal correlation is ``correlation``
            self.covar_factor = torch.ones(n_levels, 1)
            self.var = torch.full((n_levels,), 1.0 / correlation - 1.0)

    def _eval_covar_matrix(self) -> Tensor:
        """``... x n_levels x n_levels`` correlations."""
        covariance = super()._eval_covar_matrix()
        scale = covariance.diagonal(dim1=-2, dim2=-1).rsqrt()
        return covariance * scale.unsqueeze(-1) * scale.unsqueeze(-2)


def fidelity_kernel(architecture_kernel: Kernel, dim: int, n_levels: int) -> ProductKernel:
    """The kernel over ``n x (dim + 1)`` inputs (an encoding, then a fidelity index): ``architecture_kernel`` on
    the first ``dim`` columns times a :class:`FidelityCorrelationKernel` on the last.

    ``architecture_kernel`` must have been built with ``active_dims`` the first ``dim`` columns
    (:func:`bonas.kernels.make_kernel`'s ``active_dims``). The correlation starts at 0.9 between every two
    fidelities, not at a draw from torch's global generator, so that a fit, and an ask, is a function of the data
    and the seed alone.

    Why this covariance (measured, ``benchmarks/RESULTS.md``, issue 22):

    - not a free one (gpytorch's ``IndexKernel``): on CIFAR-100 seeds 6 and 8 it learned a 12/200-epoch
      correlation of -1 after a first promotion scored 1 %, and the search then promoted the worst screened
      cells. Training longer does not reverse which cells are good; a correlation near 0 still says, when the
      data say so, that one fidelity tells little about another.
    - not a scale per fidelity (``PositiveIndexKernel`` as it is): with ``unit_scale_for_target=True`` fits on
      CIFAR-100 development seeds found the outputscale 1e-17 and the low fidelity's scale 1e16, a target
      predicted flat; with free scales, a fit after the first promotion shrank the target's scale to 1e-43 and
      one on 12-epoch results alone shrank the factor to 0.002 (correlation 0): no promotion in 120 evaluations.
    """
    return ProductKernel(architecture_kernel, FidelityCorrelationKernel(n_levels, dim))


def rank_across_fidelities(trials: Sequence[Any], sign: float) -> list[Any]:
    """Completed trials of a multi-fidelity search best first, one per cell: each cell by its value at the
    highest fidelity it holds, as a z-score among the values told at that fidelity (so that a cell evaluated only
    at 12 epochs and one at 200 compare by how far each stands above its peers), ties by trial id.

    :param trials: completed trials (``fidelity`` and ``value`` set), in id order.
    :param sign: ``+1`` when values are maximised, ``-1`` when minimised.
    """
    by_fidelity: dict[Any, list[float]] = {}
    for trial in trials:
        by_fidelity.setdefault(trial.fidelity, []).append(sign * trial.value)
    spread = {fidelity: (float(np.mean(values)), float(np.std(values)) or 1.0)
              for fidelity, values in by_fidelity.items()}
    highest: dict[str, Any] = {}
    for trial in trials:
        kept = highest.get(trial.arch_str)
        if kept is None or trial.fidelity > kept.fidelity:
            highest[trial.arch_str] = trial

    def score(trial: Any) -> float:
        mean, std = spread[trial.fidelity]
        return (sign * trial.value - mean) / std
    return sorted(highest.values(), key=lambda trial: (-score(trial), trial.id))
