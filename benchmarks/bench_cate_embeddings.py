"""Do CATE embeddings put architectures of similar accuracy together? 1-nearest-neighbour prediction, per encoding.

Cells are one per isomorphism class of NB201 (three datasets, 200-epoch test
accuracy) and of the 20,001-cell NB101 table (108-epoch validation accuracy).
Two regimes, each scored by the Spearman correlation of prediction and truth:
``all``, every cell predicted by its nearest other cell in an encoding's
Euclidean space; ``n=R``, 1,000 random cells predicted from their nearest
among R other random cells (a search's view: few cells evaluated), mean over
seeds. Binary encodings (path, adjacency) have many equidistant neighbours: the
prediction is then the mean accuracy of all of them.

``python benchmarks/bench_cate_embeddings.py [--encodings cate path adjacency] [--out CSV]``
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
from bench_surrogates import load
from scipy.stats import spearmanr

from bonas.encoders import make_encoder

DATASETS = ("cifar10", "cifar100", "ImageNet16-120", "nb101")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encodings", nargs="+", default=["cate", "path", "adjacency"])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--references", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cate_embeddings.csv"))
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets:
        space, cells, accuracy = unique_cells(dataset)
        for name in args.encodings:
            began = time.perf_counter()
            X = make_encoder(name, space).encode(cells)
            scores = {"all": float(spearmanr(nearest_neighbour_prediction(X, accuracy), accuracy).statistic)}
            for n in args.references:
                rhos = []
                for seed in range(args.seeds):
                    order = np.random.default_rng(seed).permutation(len(cells))
                    test, reference = order[:1000], order[1000:1000 + n]
                    predicted = nearest_neighbour_prediction(X[test], accuracy[test], X[reference], accuracy[reference])
                    rhos.append(float(spearmanr(predicted, accuracy[test]).statistic))
                scores[f"n={n}"] = float(np.mean(rhos))
            for regime, rho in scores.items():
                rows.append({"dataset": dataset, "encoding": name, "regime": regime, "cells": len(cells),
                             "dim": X.shape[1], "spearman_1nn": f"{rho:.4f}"})
            print(f"{dataset} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
                  + f" ({time.perf_counter() - began:.1f} s)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    regimes = list(dict.fromkeys(row["regime"] for row in rows))
    print("| dataset | regime | " + " | ".join(args.encodings) + " |")
    print("|---|---|" + "---|" * len(args.encodings))
    for dataset in args.datasets:
        for regime in regimes:
            values = {row["encoding"]: row["spearman_1nn"] for row in rows
                      if row["dataset"] == dataset and row["regime"] == regime}
            print(f"| {dataset} | {regime} | " + " | ".join(values[name] for name in args.encodings) + " |")

if __name__ == "__main__":
    main()
