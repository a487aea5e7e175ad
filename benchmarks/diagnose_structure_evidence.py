"""How strongly do the results choose between the TW kernel's structure parts on and off? Along one default search.

Runs bonas's default for a noisy objective (TW encoding, learned noise) on NB201's 12-epoch validation accuracy and,
every ``--every`` queries from ``--start``, fits two GPs to the same results: the free fit (the default's, warm
started as the search does) and one whose lengthscales are bounded above by ``--bound`` (so the in- and
out-degree parts cannot be switched off; ``bench_noisy_gp.py``'s ``bounded-lengthscale``). Prints each fit's
lengthscales (op, in-degree, out-degree) and the difference of their log marginal likelihoods summed over the
results (with the priors; gpytorch's ``ExactMarginalLogLikelihood`` is a mean, multiplied back by ``n``): the log
Bayes factor of "structure free" over "structure on" at the fitted hyperparameters.

    python benchmarks/diagnose_structure_evidence.py --dataset cifar10 --seed 27 --queries 60
"""

from __future__ import annotations

import argparse

import torch
from gpytorch.constraints import Interval
from gpytorch.mlls import ExactMarginalLogLikelihood

import bonas
import bonas.surrogate as surrogate


def total_log_likelihood(model) -> float:
    """The model's log marginal likelihood with its priors, summed over its results."""
    model.train()
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with torch.no_grad():
        value = float(mll(model(*model.train_inputs), model.train_targets)) * len(model.train_targets)
    model.eval()
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--start", type=int, default=12)
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--bound", type=float, default=2.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = bonas.NASBench201Table(args.dataset)
    validation, test = table.metric("val_accuracy_12ep"), table.metric("test_accuracy")
    opt = bonas.Optimizer(table.space, encoding="tw", seed=args.seed, deterministic=False)

    def bounded_kernel(like):
        kernel = opt.surrogate.new_kernel().to(like)
        kernel.base_kernel.register_constraint("raw_lengthscale", Interval(1e-4, args.bound))
        return kernel

    print(f"{args.dataset} val12, seed {args.seed}; table's best validation accuracy {float(validation.max()):.2f}")
    print("query best_val test_regret log_BF(free:on)  free lengthscales  bounded lengthscales")
    archs, values, best, best_test = [], [], -1.0, 0.0
    for query in range(1, args.queries + 1):
        trial = opt.ask(1)[0]
        row = table.index(trial.arch)
        opt.tell(trial, float(validation[row]))
        archs.append(trial.arch)
        values.append(float(validation[row]))
        if validation[row] > best:
            best, best_test = float(validation[row]), float(test[row])
        if query < args.start or (query - args.start) % args.every:
            continue
        train_X = opt.surrogate.encode(archs)
        train_Y = torch.tensor([[value] for value in values], dtype=train_X.dtype)
        free = surrogate.fit_surrogate(train_X, train_Y, lambda: opt.surrogate.new_kernel().to(train_X),
                                       warm_start=opt.surrogate.kernel_state)
        on = surrogate.fit_surrogate(train_X, train_Y, lambda: bounded_kernel(train_X))
        gap = total_log_likelihood(free.model) - total_log_likelihood(on.model)
        lengths = [[round(float(x), 3) for x in fit.model.covar_module.base_kernel.lengthscale.reshape(-1)]
                   for fit in (free, on)]
        print(f"{query:5d} {best:8.2f} {float(test.max()) - best_test:11.2f} {gap:15.2f}  {lengths[0]}  {lengths[1]}",
              flush=True)


if __name__ == "__main__":
    main()
