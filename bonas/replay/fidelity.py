"""Multi-fidelity replays on NAS-Bench-201: regret against training epochs spent.

``bonas replay --fidelities 12,200`` evaluates each cell at one of two real fidelities of the table: 12 epochs
(the value is the 12-epoch *validation* accuracy, cost 12 epochs) or 200 epochs (the 200-epoch *test*
accuracy, cost 200 epochs, as ``--objective test``). A promotion (a cell evaluated at 12 epochs, then at 200) is
charged the full 200: the table's 12-epoch figure comes from its own 12-epoch schedule, so there are no weights
to continue from. The recommendation of a method is the best cell it evaluated at 200 epochs; the regret is the
table's best 200-epoch test accuracy minus the recommendation's, recorded after every evaluation and read on a
grid of *full-training equivalents* (200 epochs each): the regret at ``q`` is that of the recommendation once
at most ``200 q`` epochs are spent (NaN before the first 200-epoch result).

What this protocol is not: the standard NAS protocol (``--objective val12``) never shows the search a test
accuracy; here the 200-epoch figure is a test accuracy, as in ``--objective test``, and the 12-epoch one a
validation accuracy.

Methods (each a *fidelity strategy*: ``ask() -> (arch, fidelity)``, ``tell(arch, fidelity, value)``,
``recommend() -> arch | None``):

* a registered encoding (``tw``, ...): multi-fidelity bonas (:class:`~bonas.Optimizer` with ``fidelities``);
* ``<encoding>-sf``: single-fidelity bonas, every trial at 200 epochs (``deterministic``, as ``--objective
  test``);
* ``hyperband`` and ``bohb``: :mod:`bonas.replay.hyperband` (Hyperband with random cells; the same brackets
  with bonas's GP proposing each bracket's cells).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from gpytorch.utils.warnings import NumericalWarning

from bonas.encoders import ENCODINGS
from bonas.nasbench.nb201 import NASBench201Table
from bonas.optimizer import Optimizer
from bonas.replay.benchmark import DATASET_NAMES
from bonas.replay.figures import FigureOptions
from bonas.replay.hyperband import FIDELITY_BASELINES
from bonas.replay.report import plot_regret, summarize, write_csv
from bonas.spaces.base import Space
from bonas.surrogate import check_refit_growth

NB201_FIDELITIES = (12, 200)
"""The fidelities NAS-Bench-201's tables hold for every cell: 12 and 200 training epochs."""
SINGLE_FIDELITY_SUFFIX = "-sf"
CHECKPOINTS = (10, 25, 50, 100)
"""Full-training equivalents (200 epochs each) at which replays are summarised."""
OUTPUT_NAMES = ("trials.csv", "summary.csv", "regret.png")
TRIAL_COLUMNS = ("method", "seed", "step", "arch", "fidelity", "value", "promoted", "epochs", "recommended",
                 "regret", "step_wall_s")
"""The columns of a multi-fidelity ``trials.csv``: one row per evaluation."""


@dataclass(frozen=True)
class MultiFidelitySpec:
    """A multi-fidelity NB201 replay: the dataset, the fidelities, the budget in full trainings (200 epochs) and
    bonas's ``refit_growth`` (:class:`~bonas.settings.OptimizerSettings`; the baselines do not fit a GP)."""

    dataset: str = "cifar10"
    fidelities: tuple[int, ...] = NB201_FIDELITIES
    full_trainings: int = 100
    refit_growth: float = 0.0
    space = "nb201"
    """The space of every multi-fidelity replay (a class attribute, not a field)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fidelities", tuple(sorted(self.fidelities)))
        if self.fidelities != NB201_FIDELITIES:
            raise ValueError(f"--fidelities {','.join(map(str, self.fidelities))}: NAS-Bench-201's tables hold "
                             f"{','.join(map(str, NB201_FIDELITIES))} epochs for every cell")
        if not isinstance(self.full_trainings, int) or self.full_trainings < 1:
            raise ValueError(f"full_trainings must be a positive integer, got {self.full_trainings!r}")
        object.__setattr__(self, "refit_growth", check_refit_growth(self.refit_growth, "--refit-growth"))

    @property
    def budget_epochs(self) -> int:
        """The epochs a replay may spend."""
        return self.full_trainings * self.fidelities[-1]

    @property
    def title(self) -> str:
        """The replay in words, for figure titles."""
        return (f"NAS-Bench-201 {DATASET_NAMES.get(self.dataset, self.dataset)}, 12-epoch validation and "
                "200-epoch test accuracy")


@dataclass(frozen=True)
class FidelityTable:
    """A dataset's value of every cell at each fidelity, and its best 200-epoch test accuracy."""

    space: Space
    table: NASBench201Table
    optimum: float

    def value(self, arch: Any, fidelity: int) -> float:
        """The 12-epoch validation accuracy (fidelity 12) or the 200-epoch test accuracy (fidelity 200)."""
        record = self.table.query(arch)
        return float(record.val_accuracy_12ep if fidelity == NB201_FIDELITIES[0] else record.test_accuracy)


@lru_cache(maxsize=4)
def fidelity_table(dataset: str) -> FidelityTable:
    """The table of ``dataset`` (cached per process)."""
    table = NASBench201Table(dataset)
    return FidelityTable(table.space, table, table.optimum())


def check_fidelity_method(method: str) -> str:
    """``method`` if a multi-fidelity replay can run it; ``ValueError`` naming the known ones otherwise."""
    encoding = method.removesuffix(SINGLE_FIDELITY_SUFFIX)
    if encoding in ENCODINGS or method in FIDELITY_BASELINES:
        return method
    known = [*ENCODINGS, *(f"{name}{SINGLE_FIDELITY_SUFFIX}" for name in ENCODINGS), *FIDELITY_BASELINES]
    raise ValueError(f"unknown multi-fidelity replay method {method!r}; expected one of {known}")


class _BonasMultiFidelity:
    """bonas's optimizer with ``fidelities``, as a fidelity strategy (noise learned: 12-epoch values are noisy)."""

    def __init__(self, space: Space, seed: int, encoding: str, fidelities: Sequence[int],
                 refit_growth: float = 0.0) -> None:
        self.optimizer = Optimizer(space, encoding=encoding, seed=seed, fidelities=fidelities,
                                   refit_growth=refit_growth)
        self._trial = None

    def ask(self) -> tuple[Any, int]:
        self._trial = self.optimizer.ask()[0]
        return self._trial.arch, self._trial.fidelity

    def tell(self, arch: Any, fidelity: int, value: float) -> None:
        self.optimizer.tell(self._trial, value)

    def recommend(self) -> Any | None:
        best = self.optimizer.best_trial
        return None if best is None else best.arch


class _BonasSingleFidelity(_BonasMultiFidelity):
    """bonas's single-fidelity optimizer, every trial at the top fidelity (noise-free, as ``--objective test``)."""

    def __init__(self, space: Space, seed: int, encoding: str, fidelities: Sequence[int],
                 refit_growth: float = 0.0) -> None:
        self.optimizer = Optimizer(space, encoding=encoding, seed=seed, deterministic=True, refit_growth=refit_growth)
        self.top = max(fidelities)
        self._trial = None

    def ask(self) -> tuple[Any, int]:
        self._trial = self.optimizer.ask()[0]
        return self._trial.arch, self.top


def make_strategy(method: str, space: Space, seed: int, fidelities: Sequence[int], refit_growth: float = 0.0) -> Any:
    """The fidelity strategy of ``method`` (see the module docstring); bonas's methods get ``refit_growth``."""
    if method in FIDELITY_BASELINES:
        return FIDELITY_BASELINES[method](space, seed, fidelities=tuple(fidelities))
    if method.endswith(SINGLE_FIDELITY_SUFFIX):
        return _BonasSingleFidelity(space, seed, method.removesuffix(SINGLE_FIDELITY_SUFFIX), fidelities,
                                    refit_growth)
    return _BonasMultiFidelity(space, seed, method, fidelities, refit_growth)


def fidelity_replay(method: str, seed: int, spec: MultiFidelitySpec) -> list[dict[str, Any]]:
    """One search until ``spec.budget_epochs`` are spent (the last evaluation may cross it); a row per
    evaluation (:data:`TRIAL_COLUMNS`)."""
    with warnings.catch_warnings():
        # the single-fidelity method pins its noise at gpytorch's floor on purpose, as --objective test replays
        warnings.filterwarnings("ignore", category=NumericalWarning)
        return _fidelity_replay(check_fidelity_method(method), seed, spec)


def _fidelity_replay(method: str, seed: int, spec: MultiFidelitySpec) -> list[dict[str, Any]]:
    table = fidelity_table(spec.dataset)
    strategy = make_strategy(method, table.space, seed, spec.fidelities, spec.refit_growth)
    rows: list[dict[str, Any]] = []
    spent = 0
    evaluated: set[str] = set()
    while spent < spec.budget_epochs:
        start = time.perf_counter()
        arch, fidelity = strategy.ask()
        value = table.value(arch, fidelity)
        strategy.tell(arch, fidelity, value)
        wall = time.perf_counter() - start
        spent += fidelity
        arch_str = table.space.to_str(arch)
        recommended = strategy.recommend()
        rows.append({"method": method, "seed": seed, "step": len(rows) + 1, "arch": arch_str, "fidelity": fidelity,
                     "value": value, "promoted": int(arch_str in evaluated), "epochs": spent,
                     "recommended": "" if recommended is None else table.space.to_str(recommended),
                     "regret": (float("nan") if recommended is None
                                else table.optimum - table.value(recommended, spec.fidelities[-1])),
                     "step_wall_s": wall})
        evaluated.add(arch_str)
    return rows


def regret_by_full_trainings(rows: Sequence[dict[str, Any]], spec: MultiFidelitySpec) -> list[dict[str, Any]]:
    """Per (method, seed), the regret after ``q`` full-training equivalents for ``q = 1 .. full_trainings``: rows
    with ``query`` = ``q`` (so that :func:`~bonas.replay.report.summarize` and
    :func:`~bonas.replay.report.plot_regret` apply), ``regret`` and ``best_reported`` (the recommendation's
    200-epoch test accuracy), ``sim_time_s`` NaN."""
    table = fidelity_table(spec.dataset)
    unit = spec.fidelities[-1]
    grouped: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["method"], row["seed"]), []).append(row)
    grid = []
    for (method, seed), runs in grouped.items():
        epochs = np.array([row["epochs"] for row in runs])
        for q in range(1, spec.full_trainings + 1):
            last = int(np.searchsorted(epochs, q * unit, side="right")) - 1
            regret = float("nan") if last < 0 else float(runs[last]["regret"])
            grid.append({"method": method, "seed": seed, "query": q, "regret": regret,
                         "best_reported": table.optimum - regret, "sim_time_s": float("nan")})
    return grid


def write_fidelity_outputs(rows: Sequence[dict[str, Any]], spec: MultiFidelitySpec, out: Path, title: str,
                           figures: FigureOptions = FigureOptions()) -> list[dict[str, Any]]:
    """``trials.csv`` (every evaluation), ``summary.csv`` (regret at :data:`CHECKPOINTS` full-training
    equivalents) and the regret-vs-epochs figure into ``out``; return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "trials.csv", rows, TRIAL_COLUMNS)
    summary = summarize(regret_by_full_trainings(rows, spec), CHECKPOINTS)
    write_csv(out / "summary.csv", summary, list(summary[0]) if summary else ["method"])
    write_fidelity_figures(rows, spec, out, title, figures)
    return summary


def write_fidelity_figures(rows: Sequence[dict[str, Any]], spec: MultiFidelitySpec, out: Path, title: str,
                           figures: FigureOptions = FigureOptions()) -> list[Path]:
    """The regret of each method's recommendation against epochs spent (in full trainings), into ``out``."""
    path = figures.path(out, "regret")
    plot_regret(regret_by_full_trainings(rows, spec), path, title, size=figures.size, methods=figures.methods,
                x_label=f"epochs spent, in full trainings ({spec.fidelities[-1]} epochs)")
    return [path]

