"""NAS-Bench-101 look-ups from the bundled 20,001-cell sample.

The sample holds the 20,001 lexicographically smallest module hashes of the
423,624 NAS-Bench-101 cells (an effectively uniform sample), with one training
run's validation accuracy after 4, 12, 36 and 108 epochs, the 108-epoch
training time (TPU seconds) and the parameter count. Every row carries its
cell (the first 1,000 from the source, the others recovered by enumerating the
space, ``benchmarks/recover_nb101.py``); a cell proposed by a search is looked
up by :meth:`NASBench101Space.canonical_key`. See ``data/README.md`` for source
and licence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from bonas.nasbench.nb201 import read_packaged_csv
from bonas.spaces.cell import NB101_OPS, CellArch, NASBench101Space
from bonas.spaces.graph import INPUT, OUTPUT

_FILE = "nb101_vis_20k_val.csv.gz"
_NEIGHBOURS_FILE = "nb101_neighbours.npz"
_EPOCHS = (4, 12, 36, 108)
_OP_NAMES = (INPUT, *NB101_OPS, OUTPUT)
_MAX_NODES = 7


@dataclass(frozen=True)
class NB101Record:
    """One cell's results: validation accuracy (%) after 108 epochs and earlier, from a single run, and the cell."""

    hash: str
    val_accuracy: float
    val_accuracy_4ep: float
    val_accuracy_12ep: float
    val_accuracy_36ep: float
    train_time_s: float
    params: int
    arch: CellArch


@lru_cache(maxsize=None)
def _load() -> dict[str, np.ndarray]:
    rows = read_packaged_csv(_FILE)
    columns: dict[str, np.ndarray] = {"hash": np.array([row["hash"] for row in rows])}
    for epochs in _EPOCHS:
        columns[f"val_{epochs}"] = np.array([float(row[f"val_acc_{epochs}ep"]) for row in rows])
    columns["train_time_s"] = np.array([float(row["train_time_108ep_s"]) for row in rows])
    columns["params"] = np.array([int(row["params"]) for row in rows], dtype=np.int64)
    columns["n_nodes"] = np.zeros(len(rows), dtype=np.int8)
    columns["matrix"] = np.zeros((len(rows), _MAX_NODES, _MAX_NODES), dtype=np.int8)
    columns["ops"] = np.zeros((len(rows), _MAX_NODES), dtype=np.int8)
    for index, row in enumerate(rows):
        _store_structure(columns, index, row)
    return columns


def _store_structure(columns: dict[str, np.ndarray], index: int, row: dict[str, str]) -> None:
    """Put a row's cell into the compact ``n_nodes``, ``matrix`` (padded) and ``ops`` (op codes) columns."""
    if not row["ops"]:
        raise RuntimeError(f"the bundled NAS-Bench-101 table has no structure for hash {row['hash']}")
    ops = row["ops"].split(",")
    n = len(ops)
    columns["n_nodes"][index] = n
    columns["matrix"][index][np.triu_indices(n, k=1)] = [int(bit) for bit in row["adjacency"]]
    columns["ops"][index, :n] = [_OP_NAMES.index(op) for op in ops]


@lru_cache(maxsize=None)
def _row_index() -> dict[str, int]:
    return {str(key): row for row, key in enumerate(_load()["hash"])}


def _arch(columns: dict[str, np.ndarray], row: int) -> CellArch:
    """The cell of one row, from the compact columns."""
    n = int(columns["n_nodes"][row])
    return CellArch.from_matrix(columns["matrix"][row, :n, :n], [_OP_NAMES[code] for code in columns["ops"][row, :n]])


class NASBench101Table:
    """The bundled NAS-Bench-101 sample, keyed by the official module hash."""

    def __init__(self) -> None:
        self.space = NASBench101Space()

    def __len__(self) -> int:
        return len(_load()["hash"])

    def __contains__(self, arch: CellArch | str) -> bool:
        return self._hash(arch) in _row_index()

    def _hash(self, arch: CellArch | str) -> str:
        if isinstance(arch, str):
            return arch.lower() if "|" not in arch else self.space.canonical_key(self.space.from_str(arch))
        return self.space.canonical_key(arch)

    def query(self, arch: CellArch | str) -> NB101Record:
        """The record of a cell, its string form or its hash; ``KeyError`` naming it if the sample lacks it."""
        key = self._hash(arch)
        row = _row_index().get(key)
        if row is None:
            shown = self.space.to_str(arch) if isinstance(arch, CellArch) else arch
            raise KeyError(f"cell {shown!r} (hash {key}) is not in the bundled NAS-Bench-101 sample")
        columns = _load()
        return NB101Record(
            hash=key,
            val_accuracy=float(columns["val_108"][row]),
            val_accuracy_4ep=float(columns["val_4"][row]),
            val_accuracy_12ep=float(columns["val_12"][row]),
            val_accuracy_36ep=float(columns["val_36"][row]),
            train_time_s=float(columns["train_time_s"][row]),
            params=int(columns["params"][row]),
            arch=_arch(columns, row),
        )

    def architectures(self) -> list[CellArch]:
        """Every row's cell (pruned, as the table stores it), in row order."""
        columns = _load()
        return [_arch(columns, row) for row in range(len(columns["hash"]))]

    def neighbour_rows(self) -> list[np.ndarray]:
        """For each row, the rows of the cells at most two elementary changes away (either way), sorted.

        Precomputed by ``benchmarks/nb101_table_neighbours.py`` and shipped: a
        table replay's local moves stay among the cells the table can answer for.
        """
        with resources.files("bonas.nasbench.data").joinpath(_NEIGHBOURS_FILE).open("rb") as handle:
            arrays = np.load(handle)
            indptr, indices = arrays["indptr"], arrays["indices"]
        if len(indptr) != len(self) + 1:
            raise RuntimeError(f"{_NEIGHBOURS_FILE} has {len(indptr) - 1} rows, the table {len(self)}; regenerate it "
                               f"with benchmarks/nb101_table_neighbours.py")
        return np.split(indices, indptr[1:-1])

    def hashes(self) -> list[str]:
        """Every hash of the sample, in row order (sorted)."""
        return _load()["hash"].tolist()

    def metric(self, name: str) -> np.ndarray:
        """A whole column in row order: ``val_accuracy``, ``val_accuracy_12ep``, ``params``, ..."""
        names = {"val_accuracy": "val_108", "val_accuracy_4ep": "val_4", "val_accuracy_12ep": "val_12",
                 "val_accuracy_36ep": "val_36", "train_time_s": "train_time_s", "params": "params"}
        if name not in names:
            raise ValueError(f"unknown NAS-Bench-101 metric {name!r}; expected one of {list(names)}")
        return _load()[names[name]].copy()

    def optimum(self, metric: str = "val_accuracy") -> float:
        """The best value of ``metric`` over the sample (default: 108-epoch validation accuracy)."""
        return float(self.metric(metric).max())

    def __repr__(self) -> str:
        return "NASBench101Table()"
