"""NASWOT on NAS-Bench-201: how well our zero-cost score ranks cells, against NAS-Bench-Suite-Zero's ``nwot``.

Scores ``n`` (default 200) random NB201 cells with :class:`bonas.NASWOT` on
scikit-learn's 8x8 digits (the NB201 skeleton, C=16, N=5, one channel in, a
batch of 128) and prints Spearman's rank correlation with the table's
200-epoch CIFAR-10 test accuracy, for

* ``n`` cells drawn uniformly from the 15,625;
* ``n`` cells drawn from the 725 of NAS-Bench-Suite-Zero's subset
  (``shared/data/nasbench201/nb201_naslib_zc_subset.json.gz``), where its
  ``nwot`` (computed on CIFAR-10 images) is scored on the same cells, with the
  correlation between the two scores;
* all 725 cells of the subset, ``nwot`` alone.

Cells with a singular kernel (score ``-inf``) rank last, as in the reference
data. Usage: ``python benchmarks/bench_naswot.py [n] [seed]``; run it niced
on a shared machine (one thread).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from bonas.evaluators import digits, naswot_score
from bonas.nasbench import NASBench201Table
from bonas.networks import build_network
from bonas.spaces import NASBench201Space

ZC_SUBSET = Path(__file__).resolve().parents[2] / "shared" / "data" / "nasbench201" / "nb201_naslib_zc_subset.json.gz"


def score_cells(archs: list, images: torch.Tensor, space: NASBench201Space, seed: int) -> np.ndarray:
    """Our NASWOT score of each cell (``-inf`` where the kernel is singular)."""
    scores = []
    for arch in archs:
        torch.manual_seed(seed)
        scores.append(naswot_score(build_network(space, arch, 10, in_channels=1), images))
    return np.array(scores)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho, ``-inf`` scores ranked last (ties shared)."""
    finite_floor = np.min(x[np.isfinite(x)]) - 1
    return float(spearmanr(np.where(np.isfinite(x), x, finite_floor), y).statistic)


def main(n: int = 200, seed: int = 0) -> None:
    torch.set_num_threads(1)
    space, table = NASBench201Space(), NASBench201Table("cifar10")
    train, _ = digits(seed=seed)
    rng = np.random.default_rng(seed)
    images = train.x[torch.from_numpy(rng.choice(len(train), 128, replace=False))]

    uniform = space.sample(n, rng)
    start = time.perf_counter()
    ours = score_cells(uniform, images, space, seed)
    per_cell_s = (time.perf_counter() - start) / n
    accuracy = np.array([table.query(arch).test_accuracy for arch in uniform])
    print(f"{n} uniform random NB201 cells: Spearman(our NASWOT on digits, CIFAR-10 test acc) = "
          f"{spearman(ours, accuracy):.3f}  ({np.isinf(ours).sum()} singular; {per_cell_s:.2f} s per cell)")

    reference = json.load(gzip.open(ZC_SUBSET))["cifar10"]
    subset = sorted(reference)
    picked = [subset[i] for i in rng.choice(len(subset), min(n, len(subset)), replace=False)]
    archs = [space.from_str(text) for text in picked]
    ours = score_cells(archs, images, space, seed)
    theirs = np.array([reference[text]["nwot"] for text in picked])
    accuracy = np.array([table.query(arch).test_accuracy for arch in archs])
    print(f"{len(picked)} cells of the 725-cell subset: Spearman with CIFAR-10 test acc: ours "
          f"{spearman(ours, accuracy):.3f}, NAS-Bench-Suite-Zero nwot {spearman(theirs, accuracy):.3f}; ours vs nwot "
          f"{spearman(ours, theirs):.3f}")
    all_nwot = np.array([reference[text]["nwot"] for text in subset])
    all_accuracy = np.array([table.query(space.from_str(text)).test_accuracy for text in subset])
    print(f"all {len(subset)} cells of the subset: Spearman(nwot, CIFAR-10 test acc) = "
          f"{spearman(all_nwot, all_accuracy):.3f}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
