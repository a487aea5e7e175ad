"""NAS-Bench-301 look-ups from the bundled 725 DARTS cells (no NB301 surrogate needed).

The table holds the 725 DARTS-space architectures of NASLib's zero-cost
benchmark (NAS-Bench-Suite-Zero, ``naslib/data/zc_nasbench301.json``): each
cell's CIFAR-10 validation accuracy (%), FLOPs and parameter count and ten
zero-cost proxy scores. The accuracies are probably NAS-Bench-301 surrogate
predictions rather than trainings (``data/README.md``). Rows keep the source's
order; the 725 cells are 725 distinct isomorphism classes, and a cell proposed by
a search is looked up by :meth:`DARTSSpace.canonical_key`, so any isomorph of a
row finds it. See ``data/README.md`` for source, conversion and licence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bonas.nasbench.nb201 import read_packaged_csv
from bonas.spaces.darts import DARTSArch, DARTSSpace

_FILE = "nb301_cells.csv.gz"
ZERO_COST_PROXIES = ("epe_nas", "fisher", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "plain", "snip", "synflow")
"""The zero-cost proxy columns of the table, as NAS-Bench-Suite-Zero names them."""
_METRICS = ("val_accuracy", "flops", "params", *ZERO_COST_PROXIES)


@dataclass(frozen=True)
class NB301Record:
    """One cell's results: CIFAR-10 validation accuracy (%), FLOPs and parameters (counts), and the cell."""

    index: int
    arch_str: str
    val_accuracy: float
    flops: int
    params: int
    arch: DARTSArch


@lru_cache(maxsize=None)
def _load() -> dict[str, np.ndarray]:
    rows = read_packaged_csv(_FILE)
    if [int(row["index"]) for row in rows] != list(range(len(rows))):
        raise RuntimeError(f"{_FILE} rows are not numbered 0..{len(rows) - 1} in order")
    columns = {
        "arch_str": np.array([row["arch_str"] for row in rows]),
        "val_accuracy": np.array([float(row["val_accuracy"]) for row in rows]),
        "flops": np.array([round(float(row["flops_M"]) * 1e6) for row in rows], dtype=np.int64),
        "params": np.array([round(float(row["params_M"]) * 1e6) for row in rows], dtype=np.int64),
    }
    for proxy in ZERO_COST_PROXIES:
        columns[proxy] = np.array([float(row[proxy]) for row in rows])
    return columns


@lru_cache(maxsize=None)
def _archs() -> tuple[DARTSArch, ...]:
    space = DARTSSpace()
    return tuple(space.from_str(text) for text in _load()["arch_str"])


@lru_cache(maxsize=None)
def _row_index() -> dict[str, int]:
    space = DARTSSpace()
    return {space.canonical_key(arch): row for row, arch in enumerate(_archs())}


class NASBench301Table:
    """The bundled 725 NAS-Bench-301 (DARTS) cells, CIFAR-10, in the source's row order."""

    def __init__(self) -> None:
        self.space = DARTSSpace()

    def __len__(self) -> int:
        return len(_load()["arch_str"])

    def __contains__(self, arch: DARTSArch | str) -> bool:
        return self._key(arch) in _row_index()

    def _key(self, arch: DARTSArch | str) -> str:
        return self.space.canonical_key(self.space.from_str(arch) if isinstance(arch, str) else arch)

    def index(self, arch: DARTSArch | str) -> int:
        """The row of a cell (or of its string form, ``DARTSSpace.to_str``), found up to isomorphism."""
        row = _row_index().get(self._key(arch))
        if row is None:
            shown = self.space.to_str(arch) if isinstance(arch, DARTSArch) else arch
            raise KeyError(f"cell {shown!r} is not among the {len(self)} bundled NAS-Bench-301 cells")
        return row

    def query(self, arch: DARTSArch | str) -> NB301Record:
        """The record of a cell; ``KeyError`` naming it if the table lacks it."""
        row = self.index(arch)
        columns = _load()
        return NB301Record(
            index=row,
            arch_str=str(columns["arch_str"][row]),
            val_accuracy=float(columns["val_accuracy"][row]),
            flops=int(columns["flops"][row]),
            params=int(columns["params"][row]),
            arch=_archs()[row],
        )

    def architectures(self) -> list[DARTSArch]:
        """Every row's cell, in row order."""
        return list(_archs())

    def metric(self, name: str) -> np.ndarray:
        """A whole column in row order (a copy): ``val_accuracy``, ``flops``, ``params`` or a zero-cost proxy."""
        if name not in _METRICS:
            raise ValueError(f"unknown NAS-Bench-301 metric {name!r}; expected one of {list(_METRICS)}")
        return _load()[name].copy()

    def optimum(self, metric: str = "val_accuracy") -> float:
        """The best value of ``metric`` over the table (default: validation accuracy)."""
        return float(self.metric(metric).max())

    def __repr__(self) -> str:
        return "NASBench301Table()"
