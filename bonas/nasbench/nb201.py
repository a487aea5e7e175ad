"""NAS-Bench-201 look-ups from the bundled tables (no NATS-Bench API needed).

Two compressed CSV files ship with bonas (see ``data/README.md`` for sources
and licences): the 200-epoch test accuracy with parameter and FLOP counts of
all 15,625 cells, and the 12-epoch validation and test accuracy. They are read
on first use into a few numpy arrays per dataset (under 2 MB in memory).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from bonas.spaces.nb201 import NASBench201Space, NB201Arch

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
_COLUMN_PREFIX = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet16_120"}
_VAL_12EP_COLUMN = {
    "cifar10": "cifar10valid_val_acc_12ep",
    "cifar100": "cifar100_val_acc_12ep",
    "ImageNet16-120": "imagenet16_120_val_acc_12ep",
}


@dataclass(frozen=True)
class NB201Record:
    """One cell's results on one dataset.

    ``test_accuracy`` is the 200-epoch test accuracy (%, mean over seeds);
    ``val_accuracy_12ep`` / ``test_accuracy_12ep`` the 12-epoch ones (a cheap,
    noisier signal; for CIFAR-10 the validation figure is from the
    ``cifar10-valid`` split); ``params`` a count; ``flops`` a count in NASLib's
    convention (batch-norm included).
    """

    index: int
    arch_str: str
    test_accuracy: float
    val_accuracy_12ep: float
    test_accuracy_12ep: float
    params: int
    flops: int


@lru_cache(maxsize=None)
def read_packaged_csv(name: str) -> tuple[dict[str, str], ...]:
    """Rows of a gzipped CSV shipped in ``bonas/nasbench/data``."""
    payload = resources.files("bonas.nasbench.data").joinpath(name).read_bytes()
    with gzip.open(io.BytesIO(payload), "rt", newline="") as handle:
        return tuple(csv.DictReader(handle))


@lru_cache(maxsize=None)
def _load(dataset: str) -> dict[str, np.ndarray]:
    main_rows = read_packaged_csv("nb201_test_acc.csv.gz")
    low_fidelity_rows = read_packaged_csv("nb201_12epoch_acc.csv.gz")
    prefix = _COLUMN_PREFIX[dataset]
    if [row["arch_str"] for row in main_rows] != [row["arch_str"] for row in low_fidelity_rows]:
        raise RuntimeError("the bundled NAS-Bench-201 tables disagree on the cell order")
    return {
        "arch_str": np.array([row["arch_str"] for row in main_rows]),
        "op_indices": np.array([row["op_indices"] for row in main_rows]),
        "test_accuracy": np.array([float(row[f"{prefix}_test_acc"]) for row in main_rows]),
        "val_accuracy_12ep": np.array([float(row[_VAL_12EP_COLUMN[dataset]]) for row in low_fidelity_rows]),
        "test_accuracy_12ep": np.array([float(row[f"{prefix}_test_acc_12ep"]) for row in low_fidelity_rows]),
        "params": np.array([round(float(row[f"params_{prefix}_M"]) * 1e6) for row in main_rows], dtype=np.int64),
        "flops": np.array([round(float(row[f"flops_naslib_{prefix}_M"]) * 1e6) for row in main_rows], dtype=np.int64),
    }


def check_dataset(dataset: str) -> str:
    """The canonical dataset name; ``ValueError`` naming the valid ones otherwise."""
    for name in DATASETS:
        if dataset.lower().replace("_", "-") == name.lower():
            return name
    raise ValueError(f"unknown NAS-Bench-201 dataset {dataset!r}; expected one of {list(DATASETS)}")


class NASBench201Table:
    """Results of all 15,625 NAS-Bench-201 cells on one dataset.

    Row ``i`` is NAS-Bench-201 / NATS-Bench-tss architecture index ``i``.
    """

    def __init__(self, dataset: str = "cifar10") -> None:
        self.dataset = check_dataset(dataset)
        self.space = NASBench201Space()

    @property
    def _columns(self) -> dict[str, np.ndarray]:
        return _load(self.dataset)

    @property
    def _row_of(self) -> dict[str, int]:
        return _row_index(self.dataset)

    def __len__(self) -> int:
        return len(self._columns["arch_str"])

    def index(self, arch: NB201Arch | str) -> int:
        """The NAS-Bench-201 index of a cell (or of its standard string)."""
        if isinstance(arch, str):
            arch = self.space.from_str(arch)
        self.space.validate(arch)
        key = self.space.to_indices(arch)
        if key not in self._row_of:
            raise KeyError(f"cell {self.space.to_str(arch)!r} is not in the NAS-Bench-201 table")
        return self._row_of[key]

    def query(self, arch: NB201Arch | str) -> NB201Record:
        """The record of a cell; ``KeyError`` naming it if the table lacks it."""
        row = self.index(arch)
        columns = self._columns
        return NB201Record(
            index=row,
            arch_str=str(columns["arch_str"][row]),
            test_accuracy=float(columns["test_accuracy"][row]),
            val_accuracy_12ep=float(columns["val_accuracy_12ep"][row]),
            test_accuracy_12ep=float(columns["test_accuracy_12ep"][row]),
            params=int(columns["params"][row]),
            flops=int(columns["flops"][row]),
        )

    def architectures(self) -> Iterator[NB201Arch]:
        """Every cell of the table, in NAS-Bench-201 index order."""
        for op_indices in self._columns["op_indices"]:
            yield self.space.from_indices(op_indices)

    def metric(self, name: str) -> np.ndarray:
        """A whole column in index order: ``test_accuracy``, ``val_accuracy_12ep``, ..."""
        if name not in _METRICS:
            raise ValueError(f"unknown NAS-Bench-201 metric {name!r}; expected one of {list(_METRICS)}")
        return self._columns[name].copy()

    def optimum(self, metric: str = "test_accuracy") -> float:
        """The best value of ``metric`` over the table (default: 200-epoch test accuracy)."""
        return float(self.metric(metric).max())

    def __repr__(self) -> str:
        return f"NASBench201Table(dataset={self.dataset!r})"


_METRICS = ("test_accuracy", "val_accuracy_12ep", "test_accuracy_12ep", "params", "flops")


@lru_cache(maxsize=None)
def _row_index(dataset: str) -> dict[str, int]:
    return {str(key): row for row, key in enumerate(_load(dataset)["op_indices"])}
