"""KNAS on NAS-Bench-201: how well the gradient Gram mean ranks cells, against NAS-Bench-Suite-Zero's proxies.

Scores the cells of ``benchmarks/bench_naswot.py`` (same seed, same draws: the
``n`` uniform random NB201 cells and the ``n`` cells of NAS-Bench-Suite-Zero's
725-cell subset, ``shared/data/nasbench201/nb201_naslib_zc_subset.json.gz``)
on the same data (scikit-learn's 8x8 digits, the NB201 skeleton with C=16,
N=5, one channel in, the same seeded batch of 128, here with its labels) with
:func:`bonas.evaluators.knas_score`, and prints Spearman's rank correlation
with the table's 200-epoch CIFAR-10 test accuracy for

* ours: the mean of the per-example gradient Gram matrix over all parameters;
* the authors' selection (github.com/Jingjing-NLP/KNAS,
  ``exps/NAS-Bench-201/functions.py``): the first 50 entries of the first 11
  parameter tensors with at least 50 entries, over the first 50 images, as
  the Gram mean (``authors' entries``) and as the statistic their code
  computes (products of centred gradients of image ``k`` and ``k + 25``,
  ``authors' statistic``);
* on the subset cells, each of the suite's ten proxies (computed on CIFAR-10
  images; it has no KNAS score, ``grad_norm`` is the closest), with the
  correlation between ours and each.

Then float32 against float64 scores on the first 20 uniform cells. A proxy's
``-inf`` ranks last and a missing value drops that cell for it.
Usage: ``python benchmarks/bench_knas.py [n] [seed] [limit]`` (draws ``n``
cells per set as bench_naswot does, scores the first ``limit``, default all);
run it niced on a shared machine (one thread).
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

from bonas.evaluators import digits, knas_score
from bonas.evaluators.knas import per_example_gradients
from bonas.nasbench import NASBench201Table
from bonas.networks import build_network
from bonas.spaces import NASBench201Space

ZC_SUBSET = Path(__file__).resolve().parents[2] / "shared" / "data" / "nasbench201" / "nb201_naslib_zc_subset.json.gz"
PROXIES = ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacov", "nwot", "epe_nas", "plain", "l2_norm")
AUTHORS_TENSORS, AUTHORS_ENTRIES, AUTHORS_IMAGES = 11, 50, 50


def network_of(arch, space: NASBench201Space, seed: int, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_network(space, arch, 10, in_channels=1).to(dtype)


def authors_scores(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """(Gram mean, the authors' centred cross-half statistic) on the authors' gradient entries."""
    names = [name for name, param in network.named_parameters() if param.numel() >= AUTHORS_ENTRIES]
    names = names[:AUTHORS_TENSORS]
    gradients = per_example_gradients(network, images[:AUTHORS_IMAGES], labels[:AUTHORS_IMAGES], names)
    entries = torch.cat([gradients[name].flatten(1)[:, :AUTHORS_ENTRIES] for name in names], dim=1).double()
    half = AUTHORS_IMAGES // 2
    first, second = entries[:half] - entries[:half].mean(0), entries[half:] - entries[half:].mean(0)
    return float(entries.mean(0).square().sum()), float((first * second).sum() / AUTHORS_IMAGES ** 2)


def score_cells(archs: list, images: torch.Tensor, labels: torch.Tensor, space: NASBench201Space,
                seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """``n`` KNAS scores, ``n x 2`` authors' scores, and KNAS seconds per cell."""
    ours, theirs, seconds = [], [], 0.0
    for arch in archs:
        network = network_of(arch, space, seed)
        start = time.perf_counter()
        ours.append(knas_score(network, images, labels))
        seconds += time.perf_counter() - start
        theirs.append(authors_scores(network, images, labels))
    return np.array(ours), np.array(theirs), seconds / len(archs)


def proxy_values(reference: dict, texts: list[str], proxy: str) -> np.ndarray:
    """The suite's ``proxy`` score of each cell string (NaN where it has none)."""
    return np.array([reference[text].get(proxy, np.nan) for text in texts], dtype=float)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho over the pairs where ``x`` is not NaN, ``-inf`` ranked last (ties shared)."""
    keep = ~np.isnan(x)
    x, y = x[keep], y[keep]
    finite_floor = np.min(x[np.isfinite(x)]) - 1
    return float(spearmanr(np.where(np.isfinite(x), x, finite_floor), y).statistic)


def main(n: int = 200, seed: int = 0, limit: int | None = None) -> None:
    torch.set_num_threads(1)
    space, table = NASBench201Space(), NASBench201Table("cifar10")
    train, _ = digits(seed=seed)
    rng = np.random.default_rng(seed)
    picks = torch.from_numpy(rng.choice(len(train), 128, replace=False))
    images, labels = train.x[picks], train.y[picks]
    with gzip.open(ZC_SUBSET) as handle:
        reference = json.load(handle)["cifar10"]

    uniform = space.sample(n, rng)[:limit]
    ours, theirs, per_cell_s = score_cells(uniform, images, labels, space, seed)
    accuracy = np.array([table.query(arch).test_accuracy for arch in uniform])
    print(f"{len(uniform)} uniform random NB201 cells: Spearman with CIFAR-10 test acc: KNAS (ours) "
          f"{spearman(ours, accuracy):.3f}, authors' entries {spearman(theirs[:, 0], accuracy):.3f}, authors' "
          f"statistic {spearman(theirs[:, 1], accuracy):.3f}  ({per_cell_s:.2f} s per cell for KNAS)")
    overlap = [i for i, arch in enumerate(uniform) if space.to_str(arch) in reference]
    if overlap:
        grad_norm = proxy_values(reference, [space.to_str(uniform[i]) for i in overlap], "grad_norm")
        print(f"  {len(overlap)} of them are in the 725-cell subset: Spearman(KNAS, grad_norm) on those "
              f"{spearman(ours[overlap], grad_norm):.3f}")

    subset = sorted(reference)
    picked = [subset[i] for i in rng.choice(len(subset), min(n, len(subset)), replace=False)][:limit]
    archs = [space.from_str(text) for text in picked]
    ours_subset, theirs_subset, per_cell_s = score_cells(archs, images, labels, space, seed)
    accuracy = np.array([table.query(arch).test_accuracy for arch in archs])
    print(f"{len(picked)} cells of the 725-cell subset: Spearman with CIFAR-10 test acc: KNAS (ours) "
          f"{spearman(ours_subset, accuracy):.3f}, authors' entries {spearman(theirs_subset[:, 0], accuracy):.3f}, "
          f"authors' statistic {spearman(theirs_subset[:, 1], accuracy):.3f}  ({per_cell_s:.2f} s per cell)")
    print("  NAS-Bench-Suite-Zero proxy | Spearman with test acc | Spearman with our KNAS")
    for proxy in PROXIES:
        values = proxy_values(reference, picked, proxy)
        print(f"  {proxy:>26} | {spearman(values, accuracy):22.3f} | {spearman(values, ours_subset):.3f}"
              + (f"  ({np.isnan(values).sum()} missing)" if np.isnan(values).any() else ""))

    checked = uniform[:20]
    single = np.array([knas_score(network_of(arch, space, seed), images, labels) for arch in checked])
    double = np.array([knas_score(network_of(arch, space, seed, torch.float64), images.double(), labels)
                       for arch in checked])
    relative = np.abs(single - double) / double
    print(f"float32 vs float64 on {len(checked)} uniform cells: Spearman {spearman(single, double):.4f}, relative "
          f"difference median {np.median(relative):.1e}, max {relative.max():.1e}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:4]))
