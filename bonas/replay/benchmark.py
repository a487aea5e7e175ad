"""What a replay evaluates: a tabular benchmark turned into an objective and a regret.

A replay treats each table look-up as a training run. The *objective* is what
the search sees and maximises; the *reported* metric is what the regret is
measured on: the reported value of the architecture that is best by the
objective so far, against the reported metric's optimum over the table.

NAS-Bench-201 objectives:

* ``test``: the 200-epoch test accuracy (mean over training seeds, so
  noise-free); reported as itself.
* ``val12``: the 12-epoch validation accuracy, a noisy low-fidelity signal;
  reported as the 200-epoch test accuracy of the best-by-objective cell, the
  protocol of NAS papers.
* ``test12``: the 12-epoch test accuracy, reported as itself; the setting of
  the TW-NAS paper's NB201 experiments (optimum about 89.16 %, 10.84 % error
  on CIFAR-10).

NAS-Bench-101 (``space="nb101"``): the bundled table's 20,001 cells are the
whole search space (a :class:`~bonas.spaces.SubsetSpace` of NB101: neighbours
and mutations stay among them); the objective is the 108-epoch validation
accuracy of one training run, so it is noisy (NB101's repeats differ by about
0.3 to 0.5 points), reported as itself; each look-up's simulated cost is the
table's TPU training time.

``ReplaySpec(prior=...)`` names table columns known before training (params, FLOPs) that bonas's methods get
as cheap signals (:mod:`bonas.prior`, the log of each column); the baselines ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from bonas.nasbench.nb101 import NASBench101Table
from bonas.nasbench.nb201 import NASBench201Table, check_dataset
from bonas.replay.constraints import TableConstraint
from bonas.spaces.base import Space
from bonas.spaces.registry import declared, space_names
from bonas.spaces.subset import SubsetSpace

NB201_OBJECTIVES = {"test": "test_accuracy", "val12": "val_accuracy_12ep", "test12": "test_accuracy_12ep"}
NB201_REPORTED = {"test": "test_accuracy", "val12": "test_accuracy", "test12": "test_accuracy_12ep"}
NB101_OBJECTIVES = {"val": "val_accuracy"}
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet16-120"}
"""How papers write the datasets, for figure titles."""
OBJECTIVE_WORDS = {
    "test": "200-epoch test accuracy", "val12": "12-epoch validation accuracy, regret in 200-epoch test accuracy",
    "test12": "12-epoch test accuracy", "val": "108-epoch validation accuracy (one training run)",
}
"""What each objective searches and reports, in words, for figure titles."""


@dataclass(frozen=True)
class ReplaySpec:
    """Everything that defines a replay run except the method and the seed."""

    space: str = "nb201"
    dataset: str = "cifar10"
    objective: str | None = None
    """``None``: the space's default, ``test`` for NB201, ``val`` for NB101."""
    queries: int = 150
    batch_size: int = 1
    asynchronous: bool = False
    """``False``: ``batch_size`` cells are asked, all looked up, then told (batch-synchronous).
    ``True``: ``batch_size`` cells are in flight at once and each is told when its simulated training
    ends, a new one being asked at once (as :func:`bonas.run` keeps a cluster busy). NAS-Bench-101 gives
    the training times; the NAS-Bench-201 tables bonas ships have none, so there every evaluation
    takes one time unit and cells are told in the order asked."""
    constraint: str | None = None
    """A constraint known before evaluation (NB201: ``params<=N``, ``flops<=N``, ``latency:<device><=ms``, see
    :mod:`bonas.replay.constraints`): every method proposes only feasible cells, and the regret is against the
    constrained optimum."""
    prior: str | None = None
    """Cheap signals bonas's methods get (``Optimizer(prior=...)``): table columns known before training, comma
    separated (NB201: ``params``, ``flops``; NB101: ``params``), each as its log."""


class TableSignals:
    """The logs of a table's columns known before training (params, FLOPs) for a cell: a prior's cheap signals.

    :param columns: every signal column of the table by name, in row order, positive.
    :param row_of: a cell's row.
    :param names: the columns wanted, in order; ``ValueError`` naming an unknown one.
    """

    def __init__(self, columns: dict[str, np.ndarray], row_of: Any, names: tuple[str, ...]) -> None:
        unknown = [name for name in names if name not in columns]
        if unknown or not names:
            raise ValueError(f"unknown cheap signal(s) {unknown or list(names)} for the replay prior; this table "
                             f"has {list(columns)}")
        self.name = "table-log:" + ",".join(names)
        self._logs = np.stack([np.log(np.maximum(columns[name], 1)) for name in names], axis=1)
        self._row_of = row_of

    def __call__(self, arch: Any) -> list[float]:
        return self._logs[self._row_of(arch)].tolist()


class ReplayBenchmark:
    """A NAS-Bench table as a black box: ``objective(arch)``, ``reported(arch)``, ``optimum``.

    With ``feasible_rows`` (a boolean mask over the table's rows), ``feasible(arch)`` says whether a cell meets
    the replay's constraint and ``optimum`` is the best reported value among the feasible cells.
    """

    def __init__(self, space: Space, objective_values: np.ndarray, reported_values: np.ndarray,
                 row_of: Any, name: str, noise_free: bool, train_time_s: np.ndarray | None = None,
                 feasible_rows: np.ndarray | None = None, title: str | None = None,
                 signals: dict[str, np.ndarray] | None = None) -> None:
        self.space = space
        self.name = name
        self.title = title or name
        """The benchmark in words, for figure titles (``NAS-Bench-201 CIFAR-100, 200-epoch test accuracy``)."""
        self.noise_free = noise_free
        self._objective = objective_values
        self._reported = reported_values
        self._train_time_s = train_time_s
        self._row_of = row_of
        self._feasible_rows = feasible_rows
        self._signals = signals or {}
        self.optimum = float((reported_values if feasible_rows is None else reported_values[feasible_rows]).max())

    def objective(self, arch: Any) -> float:
        """The value the search maximises (%)."""
        return float(self._objective[self._row_of(arch)])

    def reported(self, arch: Any) -> float:
        """The value the regret is measured on (%)."""
        return float(self._reported[self._row_of(arch)])

    def feasible(self, arch: Any) -> bool:
        """Whether ``arch`` meets the replay's constraint (always, without one)."""
        return self._feasible_rows is None or bool(self._feasible_rows[self._row_of(arch)])

    @property
    def feasible_or_none(self) -> Any:
        """:meth:`feasible`, or ``None`` when the replay has no constraint (methods then run unfiltered)."""
        return None if self._feasible_rows is None else self.feasible

    def prior(self, names: str | None) -> TableSignals | None:
        """The cheap signals called ``names`` (``"params,flops"``), ``None`` for ``None``."""
        if names is None:
            return None
        return TableSignals(self._signals, self._row_of, tuple(name.strip() for name in names.split(",")))

    def train_time(self, arch: Any) -> float | None:
        """Simulated training time of one evaluation (s), or ``None`` when the table lacks it."""
        return None if self._train_time_s is None else float(self._train_time_s[self._row_of(arch)])


@dataclass(frozen=True)
class TableObjective:
    """``arch -> objective`` of a replay as a picklable callable, for evaluation backends (Ray, processes).

    A worker builds the benchmark once (:func:`make_benchmark` is cached per
    process), so a long-lived Ray worker loads the table only on its first task.
    """

    spec: ReplaySpec

    def __call__(self, arch: Any) -> float:
        return make_benchmark(self.spec).objective(arch)


@lru_cache(maxsize=8)
def make_benchmark(spec: ReplaySpec) -> ReplayBenchmark:
    """The benchmark a spec names, by its space's replay tables in the space registry.

    Raises ``ValueError`` naming a bad space, dataset or objective.
    """
    tables = declared(spec.space, "replay_tables")
    if tables is None:
        raise ValueError(f"unknown replay space {spec.space!r}; expected one of {list(space_names('replay_tables'))}")
    return tables(spec)


def nb201_benchmark(spec: ReplaySpec) -> ReplayBenchmark:
    """The NAS-Bench-201 table of ``spec.dataset`` under ``spec.objective`` (default ``test``)."""
    objective = spec.objective or "test"
    if objective not in NB201_OBJECTIVES:
        raise ValueError(f"unknown NAS-Bench-201 objective {objective!r}; expected one of {list(NB201_OBJECTIVES)}")
    table = NASBench201Table(check_dataset(spec.dataset))
    constraint = None if spec.constraint is None else TableConstraint.parse(spec.constraint)
    return ReplayBenchmark(
        space=table.space,
        objective_values=table.metric(NB201_OBJECTIVES[objective]),
        reported_values=table.metric(NB201_REPORTED[objective]),
        row_of=table.index,
        name=f"nb201-{table.dataset}-{objective}" + ("" if constraint is None else f"-{constraint}"),
        title=f"NAS-Bench-201 {DATASET_NAMES[table.dataset]}, {OBJECTIVE_WORDS[objective]}"
              + ("" if constraint is None else f", cells with {constraint}"),
        noise_free=objective != "val12",
        feasible_rows=None if constraint is None else constraint.feasible_rows(table),
        signals={name: table.metric(name) for name in ("params", "flops")},
    )


def nb101_benchmark(spec: ReplaySpec) -> ReplayBenchmark:
    """The bundled NAS-Bench-101 table as a whole space under ``spec.objective`` (default ``val``)."""
    objective = spec.objective or "val"
    if objective not in NB101_OBJECTIVES:
        raise ValueError(f"unknown NAS-Bench-101 objective {objective!r}; expected one of {list(NB101_OBJECTIVES)}")
    if spec.dataset != "cifar10":
        raise ValueError(f"NAS-Bench-101 has one dataset, cifar10; got {spec.dataset!r}")
    if spec.constraint is not None:
        raise ValueError(f"replay constraints are for NAS-Bench-201 (params, flops, latency); got {spec.constraint!r} "
                         "on nb101")
    table = NASBench101Table()
    row_of = {key: row for row, key in enumerate(table.hashes())}
    accuracy = table.metric(NB101_OBJECTIVES[objective])
    return ReplayBenchmark(
        space=SubsetSpace(table.space, table.architectures(), name="nb101-table",
                          neighbour_rows=table.neighbour_rows()),
        objective_values=accuracy,
        reported_values=accuracy,
        row_of=lambda arch: row_of[table.space.canonical_key(arch)],
        name=f"nb101-{objective}",
        title=f"NAS-Bench-101 CIFAR-10, {OBJECTIVE_WORDS[objective]}",
        noise_free=False,
        train_time_s=table.metric("train_time_s"),
        signals={"params": table.metric("params")},
    )
