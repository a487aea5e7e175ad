"""NAS-Bench-201 look-ups from the bundled tables (no NATS-Bench API needed).

Three compressed CSV files ship with bonas (see ``data/README.md`` for sources
and licences): the 200-epoch test accuracy with parameter and FLOP counts of
all 15,625 cells, the 12-epoch validation and test accuracy, and the inference
latency (ms) of every cell on the devices of ``LATENCY_DEVICES`` (from HELP and
HW-NAS-Bench). The accuracy tables are read on first use into a few numpy
arrays per dataset (under 2 MB in memory); the latency table, the same for every
dataset, only on the first latency look-up, once per process (3.4 MB).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Sequence
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
_LATENCY_FILE = "nb201_latency_ms.csv.gz"
LATENCY_DEVICES = (
    "1080ti_1", "1080ti_256", "1080ti_32", "2080ti_1", "2080ti_256", "2080ti_32",
    "essential_ph_1", "eyeriss", "fpga", "gold_6226", "gold_6240", "pixel2", "pixel3", "raspi4",
    "samsung_a50", "samsung_s7", "silver_4114", "silver_4210r",
    "titan_rtx_1", "titan_rtx_256", "titan_rtx_32", "titanx_1", "titanx_256", "titanx_32",
    "titanxp_1", "titanxp_256", "titanxp_32",
)
"""Devices of the latency table, in its column order: GPUs as ``<gpu>_<batch size>``,
Intel server CPUs (``gold_*``, ``silver_*``), phones, a Raspberry Pi 4, the
Eyeriss ASIC and an FPGA."""


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


@lru_cache(maxsize=None)
def _load_latency() -> np.ndarray:
    """Latency (ms) of every cell, ``15625 x len(LATENCY_DEVICES)``, checked against the accuracy table."""
    arch_strs = [row["arch_str"] for row in read_packaged_csv("nb201_test_acc.csv.gz")]
    source = resources.files("bonas.nasbench.data").joinpath(_LATENCY_FILE)
    with source.open("rb") as raw, gzip.open(raw, "rt", newline="") as handle:
        return _parse_latency(csv.reader(handle), arch_strs)


def _parse_latency(lines: Iterator[list[str]], arch_strs: Sequence[str]) -> np.ndarray:
    """The latency rows as an ``n x len(LATENCY_DEVICES)`` array; ``RuntimeError`` at the first disagreement."""
    header = next(lines)
    if header != ["arch_index", "arch_str", *LATENCY_DEVICES]:
        raise RuntimeError(
            f"{_LATENCY_FILE} has columns {header}; expected arch_index, arch_str, then {list(LATENCY_DEVICES)}"
        )
    latency = np.empty((len(arch_strs), len(LATENCY_DEVICES)))
    n_rows = 0
    for row, fields in enumerate(lines):
        if row >= len(arch_strs):
            raise RuntimeError(f"{_LATENCY_FILE} has more than the {len(arch_strs)} rows of the accuracy table")
        if fields[0] != str(row):
            raise RuntimeError(f"{_LATENCY_FILE} row {row} has arch_index {fields[0]!r}; expected {row}")
        if fields[1] != arch_strs[row]:
            raise RuntimeError(
                f"{_LATENCY_FILE} row {row} has arch_str {fields[1]!r}; the accuracy table has {arch_strs[row]!r}"
            )
        latency[row] = [float(value) for value in fields[2:]]
        n_rows += 1
    if n_rows != len(arch_strs):
        raise RuntimeError(f"{_LATENCY_FILE} has {n_rows} rows; the accuracy table has {len(arch_strs)}")
    return latency


def check_device(device: str) -> int:
    """The column of ``device`` in the latency table; ``KeyError`` naming the known devices otherwise."""
    if device not in LATENCY_DEVICES:
        raise KeyError(f"unknown latency device {device!r}; expected one of {list(LATENCY_DEVICES)}")
    return LATENCY_DEVICES.index(device)


def check_dataset(dataset: str) -> str:
    """The canonical dataset name; ``ValueError`` naming the valid ones otherwise."""
    for name in DATASETS:
        if dataset.lower().replace("_", "-") == name.lower():
            return name
    raise ValueError(f"unknown NAS-Bench-201 dataset {dataset!r}; expected one of {list(DATASETS)}")


class NASBench201Table:
    """Results of all 15,625 NAS-Bench-201 cells on one dataset.

    Row ``i`` is NAS-Bench-201 / NATS-Bench-tss architecture index ``i``.
    Latency is a property of the cell alone, so ``latency`` and
    ``latency_column`` give the same numbers for every dataset.
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

    def latency(self, arch: NB201Arch | str, device: str) -> float:
        """Inference latency (ms) of a cell on ``device``, one of ``LATENCY_DEVICES``.

        ``KeyError`` naming the known devices for any other ``device``, or
        naming the cell if the table lacks it.
        """
        column = check_device(device)
        return float(_load_latency()[self.index(arch), column])

    def latency_column(self, device: str) -> np.ndarray:
        """Latency (ms) of all 15,625 cells on ``device``, in index order (a copy), shape ``15625``."""
        return _load_latency()[:, check_device(device)].copy()

    def optimum(self, metric: str = "test_accuracy") -> float:
        """The best value of ``metric`` over the table (default: 200-epoch test accuracy)."""
        return float(self.metric(metric).max())

    def __repr__(self) -> str:
        return f"NASBench201Table(dataset={self.dataset!r})"


_METRICS = ("test_accuracy", "val_accuracy_12ep", "test_accuracy_12ep", "params", "flops")


@lru_cache(maxsize=None)
def _row_index(dataset: str) -> dict[str, int]:
    return {str(key): row for row, key in enumerate(_load(dataset)["op_indices"])}
