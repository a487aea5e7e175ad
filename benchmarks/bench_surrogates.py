"""How well does each encoder/kernel GP predict held-out architectures? Spearman and NLPD on NB201, NB101, NB301.

For each dataset (NAS-Bench-201 CIFAR-10, CIFAR-100, ImageNet16-120 200-epoch test accuracy; NAS-Bench-101
108-epoch validation accuracy of the 20,001 bundled cells; ``nb301``, the CIFAR-10 validation accuracy of the 725
bundled NAS-Bench-301 DARTS cells, probably NB301-surrogate predictions), encoder/kernel pair, outcome
transform, training size ``n`` and seed, a GP is fitted as the optimizer fits it (a :class:`bonas.Surrogate` with
learned noise, ``deterministic=False``, each fit started cold) on ``n`` random cells, and its
posterior is scored on held-out cells:

* Spearman rank correlation between the posterior mean and the true accuracy (any outcome transform: all are
  monotone);
* NLPD, the mean over test cells of ``-log N(y | mu, sigma^2 + noise)`` with the predictive including the learned
  likelihood noise, in the ORIGINAL units of accuracy (percent). It is reported for ``standardize`` (the GP's
  ``Standardize`` outcome transform maps its posterior back to percent) and for ``log-error`` (density of
  ``-log(100 - y)`` moved to percent with the Jacobian, ``+ log(100 - y)``); it is left empty for ``copula``,
  whose rank transform of the training values has no density on unseen values.

Splits (one per dataset and seed, shared by every pair and transform, so comparisons are paired): the table's rows
are shuffled and only the first row of each canonical (isomorphism) class is kept, so no test cell is an isomorph
of a training cell. Train on the first ``n``; test on the 1,000 cells after the first ``max(sizes)`` (the same test
set for every ``n``; on ``nb301`` all 725 - ``max(sizes)`` remaining cells, 525 for the default sizes). A split
depends on the seed and the dataset, not on which other datasets are run. Each surrogate encodes a space's cells
once; ``--checkpoint`` names the CATE checkpoint of the ``cate`` encoder (default: the one bonas ships for the
space). One CSV row per fit goes to ``--out``; a markdown table of mean ± standard error over
seeds is printed at the end.

    python benchmarks/bench_surrogates.py --seeds 10 --sizes 50 100 200 --out benchmarks/results/surrogates.csv
    python benchmarks/bench_surrogates.py --seeds 1 --sizes 200 --datasets cifar10 --pairs tw/tw path/tanimoto
    python benchmarks/bench_surrogates.py --datasets nb301 --transforms standardize \
        --pairs tw/tw path/tanimoto wl/tanimoto cate/matern-iso --out benchmarks/results/nb301_encodings_surrogates.csv
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

import bonas
from bonas.encoders import make_encoder
from bonas.nasbench import NASBench301Table
from bonas.surrogate import OUTCOME_TRANSFORMS, Surrogate

DATASETS = ("cifar10", "cifar100", "ImageNet16-120", "nb101", "nb301")
PAIRS = ("tw/tw", "path/tanimoto", "wl/tanimoto", "adjacency/tanimoto", "path/matern", "wl/matern", "adjacency/matern")
N_TEST = 1000
FIELDS = ("dataset", "encoder", "kernel", "transform", "n", "seed", "n_test", "spearman", "nlpd", "fit", "fit_s")


def load(dataset: str):
    """``(space, cells, accuracies)`` of one dataset, rows in table order."""
    if dataset == "nb101":
        table = bonas.NASBench101Table()
        cells = table.architectures()
        return table.space, cells, np.array([table.query(cell).val_accuracy for cell in cells])
    if dataset == "nb301":
        table = NASBench301Table()
        return table.space, table.architectures(), table.metric("val_accuracy")
    table = bonas.NASBench201Table(dataset)
    return table.space, list(table.architectures()), table.metric("test_accuracy")


def split(keys: list[str], seed: int, n: int, sizes: list[int], dataset_id: int):
    """Train and test row indices: shuffled rows, one per canonical class; train first ``n``, test after the first
    ``max(sizes)``."""
    order = np.random.default_rng([seed, dataset_id]).permutation(len(keys))
    seen, unique = set(), []
    for row in order:
        if keys[row] not in seen:
            seen.add(keys[row])
            unique.append(int(row))
    if len(unique) <= max(sizes):
        raise ValueError(f"{len(unique)} canonical classes leave no test cells after training on {max(sizes)}; "
                         "use smaller --sizes")
    return np.array(unique[:n]), np.array(unique[max(sizes):max(sizes) + N_TEST])


def score(model, test_X: torch.Tensor, y: np.ndarray, transform: str) -> tuple[float, float]:
    """Spearman of the posterior mean and NLPD in percent (NaN where the transform has no density)."""
    with torch.no_grad():
        posterior = model.posterior(test_X, observation_noise=True)
        mean = posterior.mean.reshape(-1).numpy()
        var = posterior.variance.reshape(-1).clamp_min(1e-12).numpy()
    rho = float(spearmanr(mean, y).statistic) if np.ptp(mean) > 0 else float("nan")
    if transform == "standardize":
        target, jacobian = y, 0.0
    elif transform == "log-error":
        target, jacobian = -np.log(100.0 - y), np.log(100.0 - y)
    else:
        return rho, float("nan")
    nll = 0.5 * np.log(2 * math.pi * var) + 0.5 * (target - mean) ** 2 / var + jacobian
    return rho, float(nll.mean())


def mean_se(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) / math.sqrt(len(values)):.3f}"


def table(rows: list[dict], sizes: list[int]) -> str:
    groups = defaultdict(lambda: defaultdict(lambda: {"spearman": [], "nlpd": []}))
    for row in rows:
        key = (row["dataset"], f"{row['encoder']}/{row['kernel']}", row["transform"])
        groups[key][row["n"]]["spearman"].append(row["spearman"])
        groups[key][row["n"]]["nlpd"].append(row["nlpd"])
    header = ["dataset", "encoder/kernel", "transform"]
    header += [f"Spearman n={n}" for n in sizes] + [f"NLPD n={n}" for n in sizes]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (dataset, pair, transform), by_n in groups.items():
        cells = [dataset, pair, transform]
        cells += [mean_se(by_n[n]["spearman"]) for n in sizes] + [mean_se(by_n[n]["nlpd"]) for n in sizes]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def winners(rows: list[dict]) -> str:
    """Per dataset and overall: the pair with the highest mean Spearman (any transform, all sizes)."""
    per = defaultdict(list)
    for row in rows:
        if not math.isnan(row["spearman"]):
            per[(row["dataset"], f"{row['encoder']}/{row['kernel']}/{row['transform']}")].append(row["spearman"])
    lines, overall = [], defaultdict(list)
    for dataset in dict.fromkeys(d for d, _ in per):
        ranked = sorted(((np.mean(v), name) for (d, name), v in per.items() if d == dataset), reverse=True)
        lines.append(f"{dataset}: " + ", ".join(f"{name} {rho:.3f}" for rho, name in ranked[:3]))
        for rho, name in ranked:
            overall[name].append(rho)
    ranked = sorted(((np.mean(v), name) for name, v in overall.items()), reverse=True)
    lines.append("overall (mean over datasets): " + ", ".join(f"{name} {rho:.3f}" for rho, name in ranked[:3]))
    return "\n".join(lines)


def encoder_options(name: str, checkpoint: Path | None) -> dict:
    """The options of encoder ``name``: the CATE checkpoint, when one is given, for ``cate``."""
    return {"checkpoint": checkpoint} if name == "cate" and checkpoint is not None else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), help="encoder/kernel, e.g. tw/tw path/tanimoto")
    parser.add_argument("--transforms", nargs="+", default=["standardize", "copula"], choices=OUTCOME_TRANSFORMS)
    parser.add_argument("--second-transform-default-only", action="store_true",
                        help="run transforms after the first only for the optimizer's default pairs "
                             "(tw/tw, path/tanimoto, wl/tanimoto, adjacency/tanimoto)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="CATE checkpoint (.pt) for the cate encoder; default: the one bonas ships for the space")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/surrogates.csv"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    logging.getLogger("bonas.surrogate").setLevel(logging.ERROR)
    pairs = [tuple(pair.split("/")) for pair in args.pairs]
    sizes = sorted(args.sizes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    start = time.perf_counter()
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for dataset in args.datasets:
            dataset_id = DATASETS.index(dataset)
            space, cells, accuracy = load(dataset)
            keys = [space.canonical_key(cell) for cell in cells]
            encoders = {name: make_encoder(name, space, **encoder_options(name, args.checkpoint))
                        for name in dict.fromkeys(encoder for encoder, _ in pairs)}
            surrogates = {}
            for encoder_name, kernel_name in pairs:
                for transform in args.transforms:
                    surrogate = Surrogate(encoders[encoder_name], kernel_name, transform, warm_start=False)
                    surrogate.encode(cells)
                    surrogates[encoder_name, kernel_name, transform] = surrogate
            print(f"[{time.perf_counter() - start:7.1f} s] {dataset}: {len(cells)} cells, "
                  f"{len(set(keys))} canonical classes, encoded", flush=True)
            for seed in range(args.seeds):
                for n in sizes:
                    train, test = split(keys, seed, n, sizes, dataset_id)
                    train_cells, test_cells = [cells[row] for row in train], [cells[row] for row in test]
                    for pair_id, (encoder_name, kernel_name) in enumerate(pairs):
                        default_pair = kernel_name == {"tw": "tw"}.get(encoder_name, "tanimoto")
                        for transform in args.transforms:
                            if transform != args.transforms[0] and args.second_transform_default_only and not default_pair:
                                continue
                            torch.manual_seed(seed * 1000 + pair_id)
                            began = time.perf_counter()
                            surrogate = surrogates[encoder_name, kernel_name, transform]
                            result = surrogate.fit(train_cells, accuracy[train])
                            fit_s = time.perf_counter() - began
                            rho, nlpd = score(result.model, surrogate.encode(test_cells), accuracy[test], transform)
                            row = {"dataset": dataset, "encoder": encoder_name, "kernel": kernel_name,
                                   "transform": transform, "n": n, "seed": seed, "n_test": len(test),
                                   "spearman": rho, "nlpd": nlpd, "fit": result.how, "fit_s": fit_s}
                            rows.append(row)
                            writer.writerow({**row, "spearman": f"{rho:.4f}", "nlpd": f"{nlpd:.4f}",
                                             "fit_s": f"{fit_s:.2f}"})
                    handle.flush()
                    print(f"[{time.perf_counter() - start:7.1f} s] {dataset} seed {seed} n {n} done", flush=True)
    total = time.perf_counter() - start
    failures = defaultdict(int)
    for row in rows:
        if row["fit"] != "fit":
            failures[(row["dataset"], row["encoder"], row["kernel"], row["transform"], row["fit"])] += 1
    print()
    print(table(rows, sizes))
    print()
    print("NLPD: mean -log N(y | mu, sigma^2 + noise) over test cells in percent accuracy; "
          "standardize (and log-error, Jacobian-corrected) only; copula has no density on unseen values.")
    print("Best by mean Spearman (over sizes and seeds):")
    print(winners(rows))
    print(f"fits: {len(rows)}, not 'fit': {sum(failures.values())}")
    for key, count in sorted(failures.items()):
        print(f"  {'/'.join(map(str, key))}: {count}")
    print(f"total wall time: {total:.1f} s; per-fit rows in {args.out}")


if __name__ == "__main__":
    main()
