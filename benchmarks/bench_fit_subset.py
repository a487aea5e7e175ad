"""Hyperparameters fitted on a subset, the GP conditioned on all results: held-out quality and fit time.

For ``n`` random NAS-Bench-201 cells (one per isomorphism class) with their 12-epoch validation accuracy
(the noisy objective a real search sees), the TW-GP's hyperparameters are fitted on all ``n`` or on a random
subset of ``m`` (``Surrogate(max_fit_points=m)``); either way the posterior conditions on all ``n``. Scored on
2,000 other cells: Spearman rank correlation of the posterior mean with the truth, and the mean log predictive
density. Usage: ``python benchmarks/bench_fit_subset.py --sizes 1000 2000 --subsets 250 500 --seeds 3``.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np
import torch
from gpytorch.utils.warnings import NumericalWarning
from scipy.stats import spearmanr

from bonas.nasbench import NASBench201Table
from bonas.posterior import posterior_marginals
from bonas.spaces import NASBench201Space
from bonas.surrogate import Surrogate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--subsets", type=int, nargs="+", default=[250, 500])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--full-up-to", type=int, default=2000, help="largest n also fitted on all results")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=NumericalWarning)
    space = NASBench201Space()
    table = NASBench201Table(args.dataset)
    classes: dict = {}
    for arch in space.enumerate():
        classes.setdefault(space.canonical_key(arch), arch)
    cells = list(classes.values())
    print("n,subset,seed,spearman,log_density,fit_s", flush=True)
    for seed in range(args.seeds):
        order = np.random.default_rng(seed).permutation(len(cells))
        held_out = [cells[i] for i in order[-2000:]]
        truth = np.array([table.query(arch).val_accuracy_12ep for arch in held_out])
        for n in args.sizes:
            train = [cells[i] for i in order[:n]]
            values = [table.query(arch).val_accuracy_12ep for arch in train]
            for subset in [None, *args.subsets] if n <= args.full_up_to else args.subsets:
                surrogate = Surrogate.for_encoding("tw", space)
                surrogate.max_fit_points = subset
                start = time.perf_counter()
                model = surrogate.fit(train, values).model
                seconds = time.perf_counter() - start
                mean, variance = posterior_marginals(model, surrogate.encode(held_out))
                noise = float(model.likelihood.noise.mean() * model.outcome_transform.stdvs.squeeze() ** 2)
                total = variance.numpy() + noise
                log_density = float(np.mean(-0.5 * (np.log(2 * math.pi * total) + (truth - mean.numpy()) ** 2 / total)))
                rho = spearmanr(mean.numpy(), truth).statistic
                print(f"{n},{subset or 'all'},{seed},{rho:.4f},{log_density:.4f},{seconds:.2f}", flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
