"""Which bundled NAS-Bench-101 cells are near each other: the neighbour lists a table replay searches over.

Two table cells are neighbours when they are at most two elementary changes
apart (an edge flip or an op change of :class:`bonas.NASBench101Space`): one is
a one-change neighbour of the other, or both are one *reversible* change away
from a common cell. A change is reversible when it prunes no node (so the
common cell changes back in one step); without that condition, cells that
collapse to the same tiny pruned cell when one edge is cut would all count as
neighbours (a first version of this script found 950 per row on average).
Only 4.7 % of NB101 cells are in the table, so the two-change rule is what
gives most table cells table neighbours. Computing this takes minutes (every
cell's one-change neighbours are validated, pruned and hashed), so it is done
once here and shipped as ``bonas/nasbench/data/nb101_neighbours.npz`` (CSR
arrays ``indptr``, ``indices`` of table rows).

    python benchmarks/nb101_table_neighbours.py [--out bonas/nasbench/data/nb101_neighbours.npz]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.progress import track

from bonas.nasbench import NASBench101Table

OUT = Path(__file__).resolve().parents[1] / "bonas" / "nasbench" / "data" / "nb101_neighbours.npz"


def neighbour_rows(table: NASBench101Table) -> list[list[int]]:
    """For each table row, the other rows within two changes, sorted."""
    space = table.space
    row_of = {key: row for row, key in enumerate(table.hashes())}
    direct: list[set[int]] = [set() for _ in range(len(table))]
    reversible_keys: list[set[str]] = []
    for row, arch in enumerate(track(table.architectures(), description="one-change neighbours")):
        size = len(space.pruned(arch)[1])
        keys = {space.canonical_key(arch)}
        for cell in space.neighbours(arch):
            key = space.canonical_key(cell)
            if key in row_of:
                direct[row].add(row_of[key])
                direct[row_of[key]].add(row)
            if len(space.pruned(cell)[1]) == size:
                keys.add(key)
        reversible_keys.append(keys)
    rows_touching: dict[str, set[int]] = defaultdict(set)
    for row, keys in enumerate(reversible_keys):
        for key in keys:
            rows_touching[key].add(row)
    result = []
    for row, keys in enumerate(reversible_keys):
        near = direct[row].union(*(rows_touching[key] for key in keys))
        near.discard(row)
        result.append(sorted(near))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = neighbour_rows(NASBench101Table())
    counts = np.array([len(near) for near in rows])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.array([row for near in rows for row in near], dtype=np.int32)
    np.savez_compressed(args.out, indptr=indptr, indices=indices)
    print(f"{len(rows):,} rows, {len(indices):,} neighbour entries; per row mean {counts.mean():.2f}, "
          f"median {np.median(counts):.0f}, none {int((counts == 0).sum()):,}; {time.perf_counter() - start:.0f} s; "
          f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
