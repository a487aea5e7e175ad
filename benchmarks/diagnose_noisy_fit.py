"""What the GP believes during one NB201 val12 search: the fitted noise and kernel after every ask of one seed.

Prints, every ``--every`` queries, the value told, the best so far, how the fit went and the fitted noise variance,
output scale and lengthscales (standardised units), so that a search that stalls shows why. ``--no-noise-prior``
fits as bonas did before issue 18 (a likelihood without a prior on the noise).

    python benchmarks/diagnose_noisy_fit.py --dataset cifar100 --seed 12 --queries 100
"""

from __future__ import annotations

import argparse

import torch
from botorch.models.transforms.outcome import Standardize
from gpytorch.constraints import GreaterThan
from gpytorch.likelihoods import GaussianLikelihood

import bonas
import bonas.surrogate as surrogate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--deterministic", action="store_true", help="pin the noise near zero instead")
    parser.add_argument("--no-noise-prior", action="store_true", help="fit without botorch's noise prior")
    args = parser.parse_args()
    if args.no_noise_prior:
        built = surrogate._build

        def build(train_X, train_Y, kernel, deterministic):
            if deterministic:
                return built(train_X, train_Y, kernel, deterministic)
            return surrogate.ArchitectureGP(train_X, train_Y, covar_module=kernel, outcome_transform=Standardize(m=1),
                                            likelihood=GaussianLikelihood(noise_constraint=GreaterThan(surrogate.NOISE_FLOOR)))
        surrogate._build = build
    table = bonas.NASBench201Table(args.dataset)
    validation = table.metric("val_accuracy_12ep")
    opt = bonas.Optimizer(table.space, encoding="tw", seed=args.seed, deterministic=args.deterministic)
    fits = []
    fit = opt.surrogate.fit

    def recording_fit(archs, values):
        result = fit(archs, values)
        fits.append(result)
        return result
    opt.surrogate.fit = recording_fit
    print(f"{args.dataset} val12, seed {args.seed}; the table's best validation accuracy {validation.max():.2f}")
    print("query  told   best   fit    noise     outputscale  lengthscales (op, in-degree, out-degree)")
    for query in range(1, args.queries + 1):
        trial = opt.ask(1)[0]
        opt.tell(trial, float(validation[table.index(trial.arch)]))
        if query % args.every or not fits:
            continue
        model = fits[-1].model
        with torch.no_grad():
            noise = float(model.likelihood.noise.mean())
            kernel = model.covar_module
            lengthscales = [round(float(x), 3) for x in kernel.base_kernel.lengthscale.reshape(-1)]
            print(f"{query:5d} {trial.value:6.2f} {opt.best_trial.value:6.2f} {fits[-1].how:6} {noise:9.3g} "
                  f"{float(kernel.outputscale):11.3g}  {lengthscales}")


if __name__ == "__main__":
    main()
