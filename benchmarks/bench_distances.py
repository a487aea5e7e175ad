"""All-pairs tree-Wasserstein distances over the 15,625 NAS-Bench-201 cells, against POT per pair.

Prints wall time and peak RSS of the vectorised path (chunked ``torch.cdist``,
blocks reduced and dropped so memory stays bounded), the time of ``ot.emd2``
per pair in a Python loop (how TW-NAS computes its matrices) on a random
sample of pairs, extrapolated to all pairs, and the ratio of the two, all
measured in this one run. Usage: ``python benchmarks/bench_distances.py [n_pairs]``.
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import ot
import torch

from bonas.encoders import TreeWassersteinEncoder
from bonas.encoders.tw import op_tree_metric
from bonas.spaces import NASBench201Space


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(n_pairs: int = 2000) -> None:
    space = NASBench201Space()
    encoder = TreeWassersteinEncoder(space, device="auto")
    archs = list(space.enumerate())
    start = time.perf_counter()
    X = encoder.encode(archs).to(torch.float32)
    encode_s = time.perf_counter() - start
    n = len(X)
    start = time.perf_counter()
    checksum = 0.0
    chunk = 1024
    for begin in range(0, n, chunk):
        rows = X[begin:begin + chunk]
        block = sum(torch.cdist(rows[:, columns], X[:, columns], p=1) for columns in encoder.groups.values())
        checksum += float(block.sum())
    vectorised_s = time.perf_counter() - start
    total_pairs = n * n
    print(f"cells: {n}, encoding width {encoder.dim}, device {encoder.device}")
    print(f"encode all cells: {encode_s:.1f} s")
    print(f"all {total_pairs:,} ordered pairs, 3 distances, chunked cdist: {vectorised_s:.1f} s "
          f"(peak RSS {peak_rss_gb():.2f} GB, checksum {checksum:.4g})")

    metric = op_tree_metric(encoder)
    chain = np.linspace(0.0, 1.0, encoder.n_slots).reshape(-1, 1)
    chain_metric = ot.dist(chain, chain, metric="euclidean")
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, n, size=(n_pairs, 2))
    graphs = {int(i): space.to_graph(archs[int(i)]) for i in np.unique(pairs)}
    start = time.perf_counter()
    for i, j in pairs:
        gi, gj = graphs[int(i)], graphs[int(j)]
        ot.emd2(encoder.op_masses(gi), encoder.op_masses(gj), metric)
        for degree in ("in", "out"):
            ot.emd2(encoder.layer_masses(gi, degree), encoder.layer_masses(gj, degree), chain_metric)
    per_pair_s = (time.perf_counter() - start) / n_pairs
    extrapolated_s = per_pair_s * total_pairs
    print(f"POT ot.emd2 per pair (3 distances): {per_pair_s * 1e6:.0f} us over {n_pairs} random pairs; "
          f"all pairs extrapolated: {extrapolated_s / 3600:.1f} h")
    print(f"ratio per-pair POT / vectorised: {extrapolated_s / vectorised_s:,.0f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
