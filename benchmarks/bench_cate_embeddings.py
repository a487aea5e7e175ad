"""Do CATE embeddings put architectures of similar accuracy together? 1-nearest-neighbour prediction, per encoding.

Cells are one per isomorphism class of NB201 (three datasets, 200-epoch test
accuracy), of the 20,001-cell NB101 table (108-epoch validation accuracy) and of
the 725 bundled NAS-Bench-301 DARTS cells (``nb301``, CIFAR-10 validation
accuracy, probably NB301-surrogate predictions). Two regimes, each scored by the
Spearman correlation of prediction and truth: ``all``, every cell predicted by
its nearest other cell in an encoding's Euclidean space; ``n=R``, random test
cells predicted from their nearest among R other random cells (a search's view:
few cells evaluated), mean and standard deviation over seeds ``0..seeds-1``. The
test cells are 1,000, or on a smaller table all cells but ``max(R)`` (``nb301``:
525 test cells, R = 50, 100, 200 by default; elsewhere R = 100, 1,000). Binary
encodings (path, adjacency) have many equidistant neighbours: the prediction is
then the mean accuracy of all of them. ``--checkpoint`` names the CATE checkpoint
(default: the one bonas ships for the space).

``python benchmarks/bench_cate_embeddings.py [--encodings cate path adjacency] [--out CSV]``
``python benchmarks/bench_cate_embeddings.py --datasets nb301 --encodings path wl tw cate --out CSV``
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
from bench_surrogates import encoder_options, load
from scipy.stats import spearmanr

from bonas.encoders import make_encoder

DATASETS = ("cifar10", "cifar100", "ImageNet16-120", "nb101", "nb301")
N_TEST = 1000
DEFAULT_REFERENCES = {"nb301": [50, 100, 200]}
"""Reference counts R of the ``n=R`` regimes where a dataset's default is not ``[100, 1000]``."""


def unique_cells(dataset: str):
    """``(space, cells, accuracies)`` of :func:`bench_surrogates.load`, one cell per canonical class, first in table order."""
    space, cells, accuracy = load(dataset)
    seen, rows = set(), []
    for row, cell in enumerate(cells):
        key = space.canonical_key(cell)
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return space, [cells[row] for row in rows], accuracy[rows]


def nearest_neighbour_prediction(X: torch.Tensor, y: np.ndarray, references: torch.Tensor | None = None,
                                 reference_y: np.ndarray | None = None, chunk: int = 1024) -> np.ndarray:
    """Each row's prediction: the mean target of its nearest reference rows (ties within 1e-9 averaged).

    Without ``references`` the rows are their own references, each excluding itself.
    """
    X = X.to(torch.float64)
    own = references is None
    references = X if own else references.to(torch.float64)
    targets = torch.as_tensor(y if own else reference_y, dtype=torch.float64)
    predictions = []
    for start in range(0, len(X), chunk):
        distances = torch.cdist(X[start:start + chunk], references)
        if own:
            rows = torch.arange(start, min(start + chunk, len(X)))
            distances[rows - start, rows] = float("inf")
        nearest = distances <= distances.min(dim=1, keepdim=True).values + 1e-9
        predictions.append((nearest.double() @ targets) / nearest.sum(dim=1))
    return torch.cat(predictions).numpy()


def sampled_split(n_cells: int, seed: int, n_references: int, max_references: int) -> tuple[np.ndarray, np.ndarray]:
    """Test rows (the first ``min(1000, n_cells - max_references)`` of a seeded permutation) and the
    ``n_references`` rows after them."""
    n_test = min(N_TEST, n_cells - max_references)
    if n_test < 1:
        raise ValueError(f"{n_cells} cells leave no test cells beside {max_references} references; "
                         "use smaller --references")
    order = np.random.default_rng(seed).permutation(n_cells)
    return order[:n_test], order[n_test:n_test + n_references]


def shown(row: dict) -> str:
    """A result row's Spearman for the table: the mean, and ``± std`` over seeds where there are several."""
    return f"{row['spearman_1nn']} ± {row['spearman_std']}" if row["spearman_std"] else row["spearman_1nn"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encodings", nargs="+", default=["cate", "path", "adjacency"])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--references", type=int, nargs="+", default=None,
                        help="reference counts R of the n=R regimes (default: 100 1000; nb301: 50 100 200)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="CATE checkpoint (.pt) for the cate encoding; default: the one bonas ships for the space")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cate_embeddings.csv"))
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets:
        space, cells, accuracy = unique_cells(dataset)
        references = args.references or DEFAULT_REFERENCES.get(dataset, [100, 1000])
        for name in args.encodings:
            began = time.perf_counter()
            X = make_encoder(name, space, **encoder_options(name, args.checkpoint)).encode(cells)
            encode_s = time.perf_counter() - began
            scores = {"all": (float(spearmanr(nearest_neighbour_prediction(X, accuracy), accuracy).statistic), [])}
            for n in references:
                rhos = []
                for seed in range(args.seeds):
                    test, reference = sampled_split(len(cells), seed, n, max(references))
                    predicted = nearest_neighbour_prediction(X[test], accuracy[test], X[reference], accuracy[reference])
                    rhos.append(float(spearmanr(predicted, accuracy[test]).statistic))
                scores[f"n={n}"] = (float(np.mean(rhos)), rhos)
            for regime, (rho, rhos) in scores.items():
                rows.append({"dataset": dataset, "encoding": name, "regime": regime, "cells": len(cells),
                             "dim": X.shape[1], "spearman_1nn": f"{rho:.4f}",
                             "spearman_std": f"{np.std(rhos, ddof=1):.4f}" if len(rhos) > 1 else "",
                             "seeds": len(rhos), "encode_s": f"{encode_s:.2f}"})
            print(f"{dataset} {name} (dim {X.shape[1]}, encoded in {encode_s:.1f} s): "
                  + ", ".join(f"{k} {v:.3f}" for k, (v, _) in scores.items())
                  + f" ({time.perf_counter() - began:.1f} s)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print("| dataset | regime | " + " | ".join(args.encodings) + " |")
    print("|---|---|" + "---|" * len(args.encodings))
    for dataset in args.datasets:
        for regime in dict.fromkeys(row["regime"] for row in rows if row["dataset"] == dataset):
            values = {row["encoding"]: shown(row) for row in rows
                      if row["dataset"] == dataset and row["regime"] == regime}
            print(f"| {dataset} | {regime} | " + " | ".join(values[name] for name in args.encodings) + " |")

if __name__ == "__main__":
    main()
