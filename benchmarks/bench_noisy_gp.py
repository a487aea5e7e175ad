"""Which noisy-objective GP searches best under the standard NAS protocol? Variants of the fit on NB201 val12.

Each run is the optimizer (TW encoding, LogEI, local candidates, learned noise: ``deterministic=False``) searching
the 12-epoch validation accuracy of NAS-Bench-201 (one noisy training run) for ``--queries`` asks; the report is
the validation regret (the table's best 12-epoch validation accuracy minus the best found) and the test regret of
the best-by-validation cell (200-epoch test accuracy), at 50 / 100 / 150 queries, and how many seeds stalled (best
validation accuracy more than 1 point short of the table's best at the last query). Variants:

- ``no-noise-prior``: a GaussianLikelihood without a noise prior (bonas before issue 18);
- ``noise-prior``: botorch's default likelihood for ``SingleTaskGP``, a LogNormal(-4, 1) prior on the noise
  variance (Hvarfner et al. 2024) with the same 1e-4 floor;
- ``cold``: no warm start (every fit starts from the kernel's defaults);
- ``noise-prior-cold``: both;
- ``plug-in-best-f``: the noise prior, and LogEI improves on the largest posterior mean at the observed cells
  (the plug-in incumbent for noisy observations) instead of the largest observed value, which noise inflates;
- ``global-top``: the noise prior, and the local pool joined by the ``GLOBAL_TOP`` unseen cells of the whole
  (enumerable) space with the highest posterior mean, so the acquisition can leave a local optimum that the
  model already knows to be beaten elsewhere;
- ``wide-pool``: the noise prior, and a local pool of 2,000 candidates of which 1,000 are random cells (the
  default: 1,000 with 100 random), so the acquisition can leave a local optimum the neighbourhoods trap.
- ``restart``: the noise prior, and every fit run twice, from the warm start and from the kernel's defaults,
  keeping the one with the higher marginal likelihood (a lengthscale the warm start left in a flat region,
  ~1e4, can come back when the data want it).
- ``lengthscale-prior``: the noise prior, and botorch's dimension-scaled LogNormal(sqrt(2) + log(d) / 2, sqrt(3))
  prior (Hvarfner et al. 2024) on the kernel's lengthscales, ``d`` the number of lengthscales (TW: 3 groups).
- ``bounded-lengthscale``: the noise prior, and every lengthscale of the kernel bounded above by
  ``LENGTHSCALE_BOUND`` (TW distances are at most 1 per structure part, about 2 for the op part), so that no part
  of the kernel can be switched off (a lengthscale of 1e4 makes its factor 1 for every pair of cells).
- ``structure-average``: the noise prior, and two GPs fitted to the same results, the free one (as
  ``noise-prior``) and the ``bounded-lengthscale`` one (each warm-started from its own last fit); a single ask
  scores each candidate by the expected improvement under their mixture, weighted by their marginal likelihoods
  (``sum_k w_k EI_k``, ``w_k`` proportional to ``exp`` of the model's total log marginal likelihood: Bayesian
  model averaging of "structure off" and "structure on").

One JSON line per run goes to ``--out`` (runs already there are skipped, so a long job resumes).

    python benchmarks/bench_noisy_gp.py --datasets cifar100 --seeds 100-119 --variants no-noise-prior noise-prior \\
        --jobs 2 --out benchmarks/results/noisy_gp.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch

VARIANTS = ("no-noise-prior", "noise-prior", "cold", "noise-prior-cold", "plug-in-best-f", "wide-pool", "global-top",
            "restart", "lengthscale-prior", "bounded-lengthscale", "structure-average")
GLOBAL_TOP = 200
WIDE_POOL = {"pool_size": 2000, "n_random": 1000}
CHECKPOINTS = (50, 100, 150)
STALL_POINTS = 1.0
LENGTHSCALE_BOUND = 2.0


def _apply_variant(variant: str) -> None:
    """Patch the fit for ``variant`` in this (worker) process."""
    import bonas.surrogate as surrogate
    from bonas.posterior import posterior_marginals
    from botorch.models.transforms.outcome import Standardize
    from botorch.models.utils.gpytorch_modules import get_gaussian_likelihood_with_lognormal_prior
    from gpytorch.constraints import GreaterThan
    from gpytorch.likelihoods import GaussianLikelihood

    prior = variant != "no-noise-prior" and variant != "cold"
    built = surrogate._build

    def build(train_X, train_Y, kernel, deterministic, mean=None, standardize=True):
        if deterministic:
            return built(train_X, train_Y, kernel, deterministic, mean, standardize)
        likelihood = (get_gaussian_likelihood_with_lognormal_prior() if prior
                      else GaussianLikelihood(noise_constraint=GreaterThan(surrogate.NOISE_FLOOR)))
        return surrogate.ArchitectureGP(train_X, train_Y, likelihood=likelihood, covar_module=kernel,
                                        mean_module=mean, outcome_transform=Standardize(m=1) if standardize else None)

    surrogate._build = build
    fit = surrogate.fit_surrogate
    if variant.endswith("cold"):
        surrogate.fit_surrogate = lambda *args, warm_start=None, **kwargs: fit(*args, warm_start=None, **kwargs)
    if variant == "plug-in-best-f":
        def plug_in(train_X, *args, **kwargs):
            result = fit(train_X, *args, **kwargs)
            result.best_f = float(posterior_marginals(result.model, train_X)[0].max())
            return result

        surrogate.fit_surrogate = plug_in
    if variant == "global-top":
        import bonas.optimizer as optimizer_module
        import bonas.proposal as proposal

        def propose_with_global_top(surrogate_, acquisition, settings, candidates, n, batch, rng, *, observed,
                                    pending, cache_candidates):
            space = surrogate_.encoder.space
            result = surrogate_.fit([arch for arch, _ in observed], [value for _, value in observed])
            seen = {space.canonical_key(arch) for arch in [*(a for a, _ in observed), *pending, *candidates]}
            rest = [arch for arch in space.enumerate() if space.canonical_key(arch) not in seen]
            mean, _ = posterior_marginals(result.model, surrogate_.encode(rest))
            top = [rest[index] for index in mean.argsort(descending=True)[:GLOBAL_TOP].tolist()]
            candidates = [*candidates, *top]
            candidates_X = surrogate_.encode(candidates)
            pending_X = surrogate_.encode(pending) if pending else None
            seed = int(rng.integers(2**31))
            rule = proposal.BATCH_RULES[batch].make(acquisition, settings)
            chosen, how = proposal.select_or_fall_back(batch, rule, result.model, candidates_X, n, pending_X,
                                                       result.best_f, seed)
            return proposal.Proposal([candidates[index] for index in chosen], result.how,
                                     batch if how == "rule" else how)

        optimizer_module.propose = propose_with_global_top
    if variant == "lengthscale-prior":
        import math

        from gpytorch.priors import LogNormalPrior

        def with_prior(train_X, train_Y, kernel, deterministic, *args):
            base = kernel.base_kernel
            n_lengthscales = base.raw_lengthscale.shape[-1]
            base.register_prior("lengthscale_prior",
                                LogNormalPrior(math.sqrt(2) + math.log(n_lengthscales) / 2, math.sqrt(3)),
                                lambda module: module.lengthscale, lambda module, value: module._set_lengthscale(value))
            return build(train_X, train_Y, kernel, deterministic, *args)

        surrogate._build = with_prior
    if variant == "bounded-lengthscale":
        from gpytorch.constraints import Interval

        def bounded(train_X, train_Y, kernel, deterministic, *args):
            base = kernel.base_kernel
            base.register_constraint("raw_lengthscale", Interval(1e-4, LENGTHSCALE_BOUND))
            return build(train_X, train_Y, kernel, deterministic, *args)

        surrogate._build = bounded
    if variant == "structure-average":
        _structure_average()
    if variant == "restart":
        from gpytorch.mlls import ExactMarginalLogLikelihood

        def marginal_likelihood(model):
            model.train()
            mll = ExactMarginalLogLikelihood(model.likelihood, model)
            with torch.no_grad():
                value = float(mll(model(*model.train_inputs), model.train_targets))
            model.eval()
            return value

        def restarted(train_X, train_Y, make_kernel, deterministic=False, warm_start=None):
            result = fit(train_X, train_Y, make_kernel, deterministic, warm_start=warm_start)
            if warm_start is None:
                return result
            cold = fit(train_X, train_Y, make_kernel, deterministic, warm_start=None)
            return cold if marginal_likelihood(cold.model) > marginal_likelihood(result.model) else result

        surrogate.fit_surrogate = restarted
    if variant == "wide-pool":
        import functools

        import bonas.candidates as candidates

        candidates.local_pool = functools.partial(candidates.local_pool, n_random=WIDE_POOL["n_random"])


def _structure_average() -> None:
    """Patch single asks to score by the evidence-weighted mixture of the free and the bounded GP."""
    from gpytorch.constraints import Interval

    import bonas.optimizer as optimizer_module
    import bonas.proposal as proposal
    import bonas.surrogate as surrogate
    from bonas.acquisition import acquisition_values
    from diagnose_structure_evidence import total_log_likelihood

    plain = proposal.propose

    def bounded_kernel(make_kernel):
        kernel = make_kernel()
        kernel.base_kernel.register_constraint("raw_lengthscale", Interval(1e-4, LENGTHSCALE_BOUND))
        return kernel

    def averaged(surrogate_, acquisition, settings, candidates, n, batch, rng, *, observed, pending,
                 cache_candidates):
        if n != 1 or pending or acquisition.kind != "ei":
            return plain(surrogate_, acquisition, settings, candidates, n, batch, rng, observed=observed,
                         pending=pending, cache_candidates=cache_candidates)
        archs = [arch for arch, _ in observed]
        free = surrogate_.fit(archs, [value for _, value in observed])
        train_X = surrogate_.encode(archs)
        train_Y = free.model.train_targets.new_tensor([[value] for _, value in observed])
        state = getattr(surrogate_, "_bounded_state", None)
        bounded = surrogate.fit_surrogate(train_X, train_Y, lambda: bounded_kernel(lambda: surrogate_.new_kernel()
                                                                                  .to(train_X)),
                                          deterministic=False, warm_start=state)
        if bounded.how == "fit":
            surrogate_._bounded_state = {name: value.detach().clone()
                                         for name, value in bounded.model.covar_module.named_parameters()}
        candidates_X = surrogate_.encode(candidates, cache=cache_candidates)
        rng.integers(2**31)
        evidence = torch.tensor([total_log_likelihood(free.model), total_log_likelihood(bounded.model)])
        log_weights = evidence - torch.logsumexp(evidence, 0)
        scores = torch.stack([acquisition_values(free.model, candidates_X, "ei", free.best_f) + log_weights[0],
                              acquisition_values(bounded.model, candidates_X, "ei", free.best_f) + log_weights[1]])
        chosen = int(torch.argmax(torch.logsumexp(scores, 0)))
        return proposal.Proposal([candidates[chosen]], free.how, batch)

    optimizer_module.propose = averaged


def one_run(dataset: str, variant: str, seed: int, queries: int) -> dict:
    torch.set_num_threads(1)
    _apply_variant(variant)
    import bonas

    table = bonas.NASBench201Table(dataset)
    validation = table.metric("val_accuracy_12ep")
    test = table.metric("test_accuracy")
    pool_size = WIDE_POOL["pool_size"] if variant == "wide-pool" else 1000
    optimizer = bonas.Optimizer(table.space, encoding="tw", seed=seed, deterministic=False, pool_size=pool_size)
    start = time.perf_counter()
    best_val, best_test, record = -1.0, 0.0, {}
    for query in range(1, queries + 1):
        trial = optimizer.ask(1)[0]
        row = table.index(trial.arch)
        optimizer.tell(trial, float(validation[row]))
        if validation[row] > best_val:
            best_val, best_test = float(validation[row]), float(test[row])
        if query in CHECKPOINTS or query == queries:
            record[f"val{query}"] = float(validation.max()) - best_val
            record[f"test{query}"] = float(test.max()) - best_test
    return {"dataset": dataset, "variant": variant, "seed": seed, "queries": queries, **record,
            "s": time.perf_counter() - start}


def _seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def report(records: list[dict], queries: int) -> None:
    groups = defaultdict(list)
    for record in records:
        groups[record["dataset"], record["variant"]].append(record)
    print(f"{'dataset':16} {'variant':18} {'n':>3} " + " ".join(f"val@{q:<4} test@{q:<3}" for q in CHECKPOINTS)
          + "  stalled  s/run")
    for (dataset, variant), rows in sorted(groups.items()):
        cells = " ".join(f"{statistics.mean(r[f'val{q}'] for r in rows):8.3f} {statistics.mean(r[f'test{q}'] for r in rows):8.3f}"
                         for q in CHECKPOINTS if all(f"val{q}" in r for r in rows))
        stalled = [r["seed"] for r in rows if r[f"val{queries}"] > STALL_POINTS]
        print(f"{dataset:16} {variant:18} {len(rows):3d} {cells}  {stalled}  {statistics.mean(r['s'] for r in rows):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["cifar10", "cifar100", "ImageNet16-120"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seeds", type=_seeds, default=_seeds("100-119"), help="a range, e.g. 100-119")
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("noisy_gp.jsonl"))
    args = parser.parse_args()
    done = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    have = {(r["dataset"], r["variant"], r["seed"]) for r in done if r["queries"] == args.queries}
    tasks = [(d, v, s) for d in args.datasets for s in args.seeds for v in args.variants if (d, v, s) not in have]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as log, ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(one_run, d, v, s, args.queries) for d, v, s in tasks]
        for future in as_completed(futures):
            record = future.result()
            done.append(record)
            log.write(json.dumps(record) + "\n")
            log.flush()
            print(json.dumps(record), flush=True)
    wanted = [r for r in done if r["dataset"] in args.datasets and r["variant"] in args.variants
              and r["seed"] in args.seeds and r["queries"] == args.queries]
    report(wanted, args.queries)


if __name__ == "__main__":
    main()
