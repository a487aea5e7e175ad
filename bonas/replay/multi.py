"""Multi-objective replays on NAS-Bench-201: find the accuracy-cost trade-off, scored by hypervolume regret.

``bonas replay --objectives accuracy,latency:eyeriss`` runs each method against the table with the objectives
of :func:`bonas.replay.pareto.nb201_objectives` (the 200-epoch test accuracy, maximised; a latency, parameter or
FLOP count, minimised). After every query the *hypervolume regret* of the cells found so far is recorded
(:mod:`bonas.replay.pareto`: every objective min-max normalised over the table, the reference point the table's
worst value in every objective, the regret the true front's hypervolume minus the found one's, in ``[0, 1]``).

Methods: a registered encoding (``tw``, ``path``, ...) is bonas's :class:`~bonas.Optimizer` with one GP per
objective and ``qLogNoisyExpectedHypervolumeImprovement``; ``random`` and ``nsga2`` are the baselines of
:mod:`bonas.replay.mo_baselines`. Rows carry ``regret`` (the hypervolume regret) and ``best_reported`` (the
hypervolume found so far), so
:func:`bonas.replay.report.summarize` and :func:`bonas.replay.report.plot_regret` apply unchanged.
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
from bonas.replay.figures import FigureOptions, seeds_in_words
from bonas.replay.front_plot import plot_fronts
from bonas.replay.mo_baselines import MO_BASELINES
from bonas.replay.pareto import HypervolumeScale, hypervolume_trajectory, is_negated, nb201_objectives
from bonas.replay.report import plot_regret, summarize, write_csv
from bonas.spaces.base import Space

OUTPUT_NAMES = ("trials.csv", "summary.csv", "regret.png", "fronts.png")


@dataclass(frozen=True)
class MultiObjectiveSpec:
    """A multi-objective NB201 replay: the dataset, the objectives (see :func:`nb201_objectives`), the budget."""

    dataset: str = "cifar10"
    objectives: tuple[str, ...] = ("accuracy", "latency:eyeriss")
    queries: int = 150
    batch_size: int = 1
    space = "nb201"
    """The space of every multi-objective replay (a class attribute, not a field)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "objectives", tuple(self.objectives))
        if len(self.objectives) < 2:
            raise ValueError(f"a multi-objective replay needs two or more objectives; got {list(self.objectives)}")

    @property
    def title(self) -> str:
        """The replay in words, for figure titles: ``NAS-Bench-201 CIFAR-10, 200-epoch test accuracy vs latency
        on titan_rtx_1``."""
        words = {"accuracy": "200-epoch test accuracy", "params": "parameters", "flops": "FLOPs"}
        objectives = [words.get(name, name.replace("latency:", "latency on ")) for name in self.objectives]
        return f"NAS-Bench-201 {DATASET_NAMES.get(self.dataset, self.dataset)}, {' vs '.join(objectives)}"


@dataclass(frozen=True)
class MultiObjectiveTable:
    """The table a spec names: its space, the ``N x k`` maximised objective matrix, labels and the HV scale."""

    space: Space
    table: NASBench201Table
    Y: np.ndarray
    labels: list[str]
    scale: HypervolumeScale

    def point(self, arch: Any) -> np.ndarray:
        """The ``k`` maximised objectives of one cell."""
        return self.Y[self.table.index(arch)]

    def told(self, arch: Any, names: Sequence[str]) -> dict[str, float]:
        """One cell's objectives in their own units (costs positive), keyed by objective name."""
        point = self.point(arch)
        return {name: float(-value if is_negated(name) else value) for name, value in zip(names, point)}


@lru_cache(maxsize=8)
def multi_objective_table(spec: MultiObjectiveSpec) -> MultiObjectiveTable:
    """The table of ``spec`` (cached per process); ``ValueError`` / ``KeyError`` naming a bad objective."""
    Y, labels = nb201_objectives(spec.dataset, spec.objectives)
    table = NASBench201Table(spec.dataset)
    return MultiObjectiveTable(table.space, table, Y, labels, HypervolumeScale(Y))


def check_multi_objective_method(method: str) -> str:
    """``method`` if a multi-objective replay can run it: a registered encoding, ``random`` or ``nsga2``."""
    if method in ENCODINGS or method in MO_BASELINES:
        return method
    raise ValueError(f"unknown multi-objective replay method {method!r}; expected one of "
                     f"{[*ENCODINGS, *MO_BASELINES]}")


class _BonasMultiObjective:
    """bonas's optimizer with one named objective per column, told each cell's objectives in their own units."""

    def __init__(self, space: Space, seed: int, encoding: str, table: MultiObjectiveTable,
                 names: Sequence[str]) -> None:
        self.names, self.table = list(names), table
        directions = {name: "min" if is_negated(name) else "max" for name in names}
        self.optimizer = Optimizer(space, encoding=encoding, seed=seed, deterministic=True, objectives=directions)
        self._trials: dict[str, Any] = {}

    def ask(self, n: int) -> list[Any]:
        trials = self.optimizer.ask(n)
        self._trials.update((trial.arch_str, trial) for trial in trials)
        return [trial.arch for trial in trials]

    def tell(self, archs: Sequence[Any], values: Sequence[Sequence[float]]) -> None:
        """Tell each architecture's maximised objectives, in their own units (costs un-negated) and by name."""
        for arch, point in zip(archs, values):
            told = {name: float(-value if is_negated(name) else value) for name, value in zip(self.names, point)}
            self.optimizer.tell(self._trials.pop(self.optimizer.space.to_str(arch)), told)


def multi_objective_replay(method: str, seed: int, spec: MultiObjectiveSpec) -> list[dict[str, Any]]:
    """One search of ``spec.queries`` look-ups; a row per query with the cell's objectives (own units) and the
    hypervolume ``regret`` of everything found so far."""
    with warnings.catch_warnings():
        # noise pinned at gpytorch's floor on purpose, as in single-objective replays
        warnings.filterwarnings("ignore", category=NumericalWarning)
        return _multi_objective_replay(check_multi_objective_method(method), seed, spec)


def _multi_objective_replay(method: str, seed: int, spec: MultiObjectiveSpec) -> list[dict[str, Any]]:
    table = multi_objective_table(spec)
    if method in MO_BASELINES:
        strategy = MO_BASELINES[method](table.space, seed)
    else:
        strategy = _BonasMultiObjective(table.space, seed, method, table, spec.objectives)
    archs, walls = [], []
    while len(archs) < spec.queries:
        start = time.perf_counter()
        asked = strategy.ask(min(spec.batch_size, spec.queries - len(archs)))
        strategy.tell(asked, [table.point(arch) for arch in asked])
        wall = time.perf_counter() - start
        archs.extend(asked)
        walls.extend([wall] * len(asked))
    points = np.array([table.point(arch) for arch in archs])
    regrets = hypervolume_trajectory(table.scale, points)
    return [{"method": method, "seed": seed, "query": query, "arch": table.space.to_str(arch),
             **table.told(arch, spec.objectives), "best_reported": table.scale.true_hypervolume - float(regret),
             "regret": float(regret), "step_wall_s": wall,
             "sim_time_s": float("nan")}
            for query, (arch, regret, wall) in enumerate(zip(archs, regrets, walls), start=1)]


def trial_columns(spec: MultiObjectiveSpec) -> tuple[str, ...]:
    """The columns of a multi-objective ``trials.csv``."""
    return ("method", "seed", "query", "arch", *spec.objectives, "best_reported", "regret", "step_wall_s",
            "sim_time_s")


def write_multi_objective_figures(rows: Sequence[dict[str, Any]], spec: MultiObjectiveSpec, out: Path, title: str,
                                  figures: FigureOptions = FigureOptions()) -> list[Path]:
    """``regret`` (hypervolume regret) and, for two objectives, ``fronts`` (one panel per method, every seed's
    points, the true front) into ``out``, as ``figures`` says; return their paths."""
    paths = [figures.path(out, "regret")]
    plot_regret(rows, paths[0], title, size=figures.size, methods=figures.methods, regret_label="hypervolume regret")
    if len(spec.objectives) == 2:
        table = multi_objective_table(spec)
        found: dict[str, list[np.ndarray]] = {}
        for row in rows:
            found.setdefault(row["method"], []).append(table.Y[table.table.index(table.space.from_str(row["arch"]))])
        paths.append(figures.path(out, "fronts"))
        plot_fronts({method: np.array(points) for method, points in found.items()}, table.Y, table.labels,
                    paths[1], f"{title}; points of all {seeds_in_words(rows, list(found))}", size=figures.size,
                    methods=figures.methods)
    return paths


def write_multi_objective_outputs(rows: Sequence[dict[str, Any]], spec: MultiObjectiveSpec, out: Path,
                                  title: str, figures: FigureOptions = FigureOptions()) -> list[dict[str, Any]]:
    """``trials.csv``, ``summary.csv`` (hypervolume regret per checkpoint) and the figures of
    :func:`write_multi_objective_figures` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "trials.csv", rows, trial_columns(spec))
    summary = summarize(rows)
    write_csv(out / "summary.csv", summary, list(summary[0]) if summary else ["method"])
    write_multi_objective_figures(rows, spec, out, title, figures)
    return summary
