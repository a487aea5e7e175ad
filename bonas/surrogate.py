"""The GP surrogate: a botorch ``SingleTaskGP`` over architecture encodings, fitted so that it never crashes an ask.

:class:`Surrogate` is the whole of it (encoder, kernel, outcome transform, fit fallbacks, warm start), used
by the optimizer and the benchmarks alike; :func:`fit_surrogate` is its fit on tensors. Inputs are encodings
(``n x d`` rows from :mod:`bonas.encoders`), not points of a unit cube, so the model skips botorch's
input-scaling check for every column, the way ``MixedSingleTaskGP`` does for its categorical ones. Outcomes are
maximised and standardised, optionally after a rank-based Gaussian copula or
a log-error transform (see :func:`transform_outcomes`; plain standardisation
gave the lowest replay regret on NAS-Bench-201, ``benchmarks/RESULTS.md``).
Noisy objectives learn their noise under botorch's default LogNormal(-4, 1) prior on it.
Fitting falls back step by step when botorch fails (see :func:`fit_surrogate`).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from botorch.exceptions.errors import ModelFittingError
from botorch.exceptions.warnings import OptimizationWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import (
    MIN_INFERRED_NOISE_LEVEL,
    get_gaussian_likelihood_with_lognormal_prior,
)
from gpytorch.kernels import Kernel
from gpytorch.means import Mean
from gpytorch.utils.warnings import NumericalWarning
from gpytorch.mlls import ExactMarginalLogLikelihood
from linear_operator.utils.errors import NanError, NotPSDError
from torch import Tensor

from bonas.encoders import ENCODINGS
from bonas.encoders.base import GraphEncoder
from bonas.fidelity import FidelityMean, fidelity_kernel
from bonas.kernels import make_kernel
from bonas.prior import CheapSignalMean, CheapSignals
from bonas.spaces.base import Space
from bonas.validation import check_choice, check_finite

logger = logging.getLogger(__name__)

OUTCOME_TRANSFORMS = ("standardize", "copula", "log-error")
NOISE_FLOOR = MIN_INFERRED_NOISE_LEVEL
"""Smallest learned noise variance (in standardised units): botorch's floor, 1e-4."""
SAFE_MAGNITUDE = 1e100
"""Largest outcome magnitude standardised as is: the variance of any number of such values is finite."""
MEAN_PREFIX = "mean."
"""Names of the prior mean's parameters in a kernel state (a multi-fidelity GP's per-fidelity constants)."""
MAX_FIT_POINTS = 250
"""Results a GP's hyperparameters are fitted on at most (a random subset beyond; :func:`_fit_on_subset`)."""
DETERMINISTIC_NOISE = 1e-6
"""Fixed noise variance (standardised units) when the objective is noise-free."""
MODEL_PREFIX = "model."
"""Names of the likelihood's and the mean's parameters in a kernel state kept for fits skipped between refits
(``Surrogate(refit_growth > 0)``), each the model's own parameter name after the prefix."""
KEPT_PARTS = ("likelihood.", "mean_module.")
"""What a kept state holds beside the kernel: the parts of the model :data:`MODEL_PREFIX` names may name."""
FITTED_ON = "fitted_on"
"""The entry of a journalled kernel state that counts the results its hyperparameters were fitted on."""


def check_refit_growth(value: Any, name: str = "refit_growth") -> float:
    """``value`` as a ``float`` if it is a finite fraction of at least 0 (``Surrogate``'s ``refit_growth``)."""
    growth = check_finite(value, name)
    if growth < 0:
        raise ValueError(f"{name} is a fraction of the results, at least 0; got {value!r}")
    return growth


class ArchitectureGP(SingleTaskGP):
    """``SingleTaskGP`` over encodings: no unit-cube check on the ``n x d`` inputs."""

    def __init__(self, train_X: Tensor, train_Y: Tensor, **kwargs) -> None:
        self._ignore_X_dims_scaling_check = list(range(train_X.shape[-1]))
        super().__init__(train_X, train_Y, **kwargs)


def copula_transform(values: Tensor) -> Tensor:
    """Map values to normal quantiles of their ranks (ties share the mean rank).

    :param values: ``n`` or ``n x 1`` observed values.
    :returns: a tensor of the same shape, ``Phi^-1((rank + 0.5) / n)``.
    """
    flat = values.reshape(-1)
    order = torch.argsort(flat, stable=True)
    ranks = torch.empty_like(flat)
    ranks[order] = torch.arange(flat.numel(), dtype=flat.dtype, device=flat.device)
    for value in torch.unique(flat):
        tied = flat == value
        ranks[tied] = ranks[tied].mean()
    quantiles = (ranks + 0.5) / flat.numel()
    return torch.special.ndtri(quantiles).reshape(values.shape)


def log_error_transform(values: Tensor) -> Tensor:
    """``-log(100 - values)`` for maximised accuracies in percent (NAS-BOWL models the log error).

    :raises ValueError: when a value is not below 100 (not an accuracy in percent, or minimised).
    """
    if bool((values >= 100).any()):
        raise ValueError("outcome_transform='log-error' needs maximised accuracies in percent, below 100; "
                         f"got a value of {float(values.max()):g}")
    return -torch.log(100 - values)


def transform_outcomes(values: Tensor, kind: str) -> Tensor:
    """The targets the GP sees: ``values`` (``n x 1``, maximised) as is, copula- or log-error-transformed.

    Under ``"standardize"`` values of a magnitude whose squares overflow (``Standardize``'s variance: a told
    1e308) are first divided by the largest magnitude, which standardisation undoes for every other value.
    """
    if kind == "standardize":
        scale = float(values.abs().max()) if values.numel() else 0.0
        return values / scale if scale > SAFE_MAGNITUDE else values
    if kind == "copula":
        return copula_transform(values)
    if kind == "log-error":
        return log_error_transform(values)
    raise ValueError(f"unknown outcome transform {kind!r}; expected one of {list(OUTCOME_TRANSFORMS)}")


@dataclass
class FitResult:
    """A fitted model, how it was obtained (``"fit"``, ``"learned-noise"``, ``"previous"``, ``"prior"``) and
    the best of the targets it was fitted to (``best_f`` of an improvement-based acquisition)."""

    model: ArchitectureGP
    how: str
    best_f: float


def _build(train_X: Tensor, train_Y: Tensor, kernel: Kernel, deterministic: bool,
           mean: Mean | None = None, standardize: bool = True) -> ArchitectureGP:
    if deterministic:
        train_Yvar = torch.full_like(train_Y, DETERMINISTIC_NOISE) * train_Y.var().clamp_min(1e-12)
        with warnings.catch_warnings():
            # The pinned noise, standardised, is DETERMINISTIC_NOISE up to rounding, which gpytorch's fixed-noise
            # likelihood rounds up to its own floor (1e-6 in double) with a NumericalWarning: on every fit of
            # every noise-free search. The rounding is intended, so that one warning is silenced, here only.
            warnings.filterwarnings("ignore", message="Very small noise values detected", category=NumericalWarning)
            return ArchitectureGP(train_X, train_Y, train_Yvar=train_Yvar, covar_module=kernel, mean_module=mean,
                                  outcome_transform=Standardize(m=1) if standardize else None)
    # botorch's default likelihood: a LogNormal(-4, 1) prior on the noise variance (Hvarfner et al. 2024). Without
    # it, fits on 12-epoch validation accuracies found the mode "everything is noise" (outputscale 1e-7, noise 0.93)
    # and the warm start kept every later fit there: CIFAR-100 seeds stalled (benchmarks/RESULTS.md, issue 18)
    likelihood = get_gaussian_likelihood_with_lognormal_prior()
    return ArchitectureGP(train_X, train_Y, likelihood=likelihood, covar_module=kernel, mean_module=mean,
                          outcome_transform=Standardize(m=1) if standardize else None)


def _fit(model: ArchitectureGP) -> None:
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizationWarning)
        fit_gpytorch_mll(mll)
    model.eval()


def _warm_start(model: ArchitectureGP, state: dict[str, Tensor]) -> bool:
    """Load a previous kernel's parameters (and those of the mean, named with :data:`MEAN_PREFIX`) into ``model``;
    ``False`` (logged) when they do not fit it."""
    kernel = {name: value for name, value in state.items() if not name.startswith((MEAN_PREFIX, MODEL_PREFIX))}
    mean = {name[len(MEAN_PREFIX):]: value for name, value in state.items() if name.startswith(MEAN_PREFIX)}
    try:
        model.covar_module.load_state_dict(kernel, strict=False)
        if mean:
            model.mean_module.load_state_dict(mean, strict=False)
    except RuntimeError as error:
        logger.warning("ignoring a warm start that does not fit the kernel: %s", error)
        return False
    return True


def fit_surrogate(
    train_X: Tensor,
    train_Y: Tensor,
    make_kernel: Callable[[], Kernel],
    deterministic: bool = False,
    warm_start: dict[str, Tensor] | None = None,
    make_mean: Callable[[], Mean | None] = lambda: None,
    max_fit_points: int | None = None,
    strata: Tensor | None = None,
) -> FitResult:
    """Fit a GP to ``n x d`` encodings and ``n x 1`` (transformed) outcomes; never raises on a failed fit.

    Tries, in order: the requested model (noise fixed near zero when
    ``deterministic``) started from ``warm_start`` (a previous kernel's
    named parameters); a model with learned noise above ``NOISE_FLOOR``; the
    previous kernel hyperparameters without fitting; the kernel's defaults.
    Each fallback is logged. ``make_mean`` builds the prior mean (``None``: botorch's constant mean).

    With more than ``max_fit_points`` results the hyperparameters are fitted on that many of them, drawn at
    random (see :func:`_fit_on_subset`; ``strata``, ``n`` labels such as each result's fidelity, are each
    represented in proportion), and the returned model conditions on all ``n``.
    """
    if max_fit_points is not None and len(train_X) > max_fit_points:
        return _fit_on_subset(train_X, train_Y, make_kernel, deterministic, warm_start, make_mean, max_fit_points,
                              strata)
    return _fit_all(train_X, train_Y, make_kernel, deterministic, warm_start, make_mean)


def _fit_all(train_X: Tensor, train_Y: Tensor, make_kernel: Callable[[], Kernel], deterministic: bool,
             warm_start: dict[str, Tensor] | None, make_mean: Callable[[], Mean | None],
             standardize: bool = True) -> FitResult:
    best_f = float(train_Y.max())
    attempts = [("fit", deterministic)]
    if deterministic:
        attempts.append(("learned-noise", False))
    for how, pinned in attempts:
        model = _build(train_X, train_Y, make_kernel(), pinned, make_mean(), standardize)
        if warm_start is not None and not _warm_start(model, warm_start):
            warm_start = None
        try:
            _fit(model)
            return FitResult(model, how, best_f)
        except (ModelFittingError, NotPSDError, NanError, RuntimeError) as error:
            logger.warning("GP fit (%s) on %d points failed: %s: %s", how, len(train_X), type(error).__name__, error)
    model = _build(train_X, train_Y, make_kernel(), False, make_mean(), standardize)
    how = "prior"
    if warm_start is not None and _warm_start(model, warm_start):
        how = "previous"
    logger.warning("using the %s kernel hyperparameters without fitting", how)
    model.eval()
    return FitResult(model, how, best_f)


def _fit_on_subset(train_X: Tensor, train_Y: Tensor, make_kernel: Callable[[], Kernel], deterministic: bool,
                   warm_start: dict[str, Tensor] | None, make_mean: Callable[[], Mean | None],
                   size: int, strata: Tensor | None = None) -> FitResult:
    """Hyperparameters fitted on ``size`` of the ``n`` results, the model conditioned on all of them.

    An exact GP's marginal likelihood costs a Cholesky factor per optimiser step, ``O(n^3)``: at 1,000 results a
    fit took over 10 s on two cores, at 5,000 minutes (``benchmarks/bench_ask.py``). The hyperparameters (a
    handful of lengthscales, an outputscale, a noise level and a constant) are estimated about as well from a
    few hundred results, so they are fitted on a random subset (seeded by ``n``: the same data give the same
    fit) whose outcomes are standardised with the statistics of all ``n`` - the units the full model's own
    ``Standardize`` gives -, and copied into the GP over all results, whose posterior is exact.
    """
    standardize = Standardize(m=1)
    standardized = standardize(train_Y)[0].detach()
    rows = subset_rows(len(train_X), size, strata).to(train_X.device)
    subset = _fit_all(train_X[rows], standardized[rows], make_kernel, deterministic, warm_start, make_mean,
                      standardize=False)
    pinned = deterministic and subset.how == "fit"
    model = _build(train_X, train_Y, make_kernel(), pinned, make_mean())
    fitted = subset.model.state_dict()
    copied = ("covar_module.", "mean_module.") if pinned else ("covar_module.", "mean_module.", "likelihood.")
    model.load_state_dict({name: value for name, value in fitted.items() if name.startswith(copied)}, strict=False)
    model.eval()
    return FitResult(model, subset.how, float(train_Y.max()))


def subset_rows(n: int, size: int, strata: Tensor | None = None) -> Tensor:
    """``size`` of ``range(n)``, ascending, drawn at random seeded by ``n`` (the same data give the same rows).

    With ``strata`` (``n`` labels, e.g. each result's fidelity index), each label first gets
    ``floor(size * its share)`` of its rows and the rest of the subset is drawn from the rows left, so that a
    scarce fidelity (the few results at the target) is not left to chance.
    """
    generator = torch.Generator().manual_seed(n)
    if strata is None:
        return torch.randperm(n, generator=generator)[:size].sort().values
    labels = strata.reshape(-1).cpu()
    taken, left = [], []
    for label in torch.unique(labels):
        members = torch.nonzero(labels == label).reshape(-1)
        members = members[torch.randperm(len(members), generator=generator)]
        quota = size * len(members) // n
        taken.append(members[:quota])
        left.append(members[quota:])
    rest = torch.cat(left)
    chosen = torch.cat([*taken, rest[torch.randperm(len(rest), generator=generator)]])[:size]
    return chosen.sort().values


class Surrogate:
    """An encoding's GP over architectures: encodes them, transforms the outcomes, fits, warm-starts the next fit.

    :param encoder: maps architectures to ``n x d`` encodings (``bonas.encoders``).
    :param kernel: the name of the GP kernel (:func:`bonas.kernels.make_kernel`); it gets the encoder's
        column ``groups`` when the encoder has them (tree-Wasserstein).
    :param outcome_transform: see :func:`transform_outcomes`.
    :param deterministic: the objective is noise-free: noise pinned near zero (see :func:`fit_surrogate`).
    :param device: where encodings, the GP and its posterior live.
    :param warm_start: each successful :meth:`fit` keeps the kernel's hyperparameters (:attr:`kernel_state`)
        to start the next one; ``False`` starts every fit from the kernel's defaults.
    :param n_fidelities: ``k > 1`` for a multi-fidelity search: inputs are encodings with a fidelity index
        ``0 .. k - 1`` appended (:meth:`encode_at`), the kernel the architecture kernel times an index kernel over
        the fidelities and the prior mean a constant per fidelity (:mod:`bonas.fidelity`).
    :param target_fidelity_index: the target among them (default the last), whose scale the architecture
        kernel's outputscale is.
    :param max_fit_points: with more results, the hyperparameters are fitted on this many of them drawn at random
        and the GP conditions on all (:func:`fit_surrogate`); ``None`` fits on every result.
    :param prior: cheap signals of each architecture (:class:`bonas.prior.CheapSignals`): inputs are then
        encodings with the ``k`` signals appended (``n x (d + k)``), the kernel reads the encoding columns only
        and the prior mean is :class:`bonas.prior.CheapSignalMean` on the signals. Not with ``n_fidelities > 1``.
    :param refit_growth: ``g > 0`` refits the hyperparameters only once the results have grown by the fraction
        ``g`` since the last fit (:attr:`fitted_on` of them); a fit in between builds the GP on every result at
        the last fit's hyperparameters (kernel, noise, mean) without optimising them (``how="kept"``), so that
        a search of ``N`` results fits about ``log(N / n_initial) / log(1 + g)`` times instead of ``N``. ``0``
        (the default) refits at every fit.
    """

    def __init__(self, encoder: GraphEncoder, kernel: str, outcome_transform: str = "standardize",
                 deterministic: bool = False, device: torch.device | str = "cpu", warm_start: bool = True,
                 n_fidelities: int = 1, target_fidelity_index: int | None = None,
                 max_fit_points: int | None = MAX_FIT_POINTS, prior: CheapSignals | None = None,
                 refit_growth: float = 0.0) -> None:
        if prior is not None and n_fidelities > 1:
            raise ValueError("a prior of cheap signals is for a single-fidelity search; a multi-fidelity GP's prior "
                             "mean is a constant per fidelity")
        self.prior = prior
        self.encoder = encoder
        self.max_fit_points = max_fit_points
        self.kernel = kernel
        self.outcome_transform = check_choice(outcome_transform, "outcome transform", OUTCOME_TRANSFORMS)
        self.deterministic = deterministic
        self.device = torch.device(device)
        self.warm_start = warm_start
        self.n_fidelities = n_fidelities
        self.target_fidelity_index = n_fidelities - 1 if target_fidelity_index is None else target_fidelity_index
        self.refit_growth = check_refit_growth(refit_growth)
        self.kernel_state: dict[str, Tensor] | None = None
        self.fitted_on: int | None = None
        """How many results the kept hyperparameters were fitted on (``refit_growth > 0``), ``None`` before."""
        self._encoding_cache: dict[Any, Tensor] = {}

    @classmethod
    def for_encoding(cls, encoding: str, space: Space, outcome_transform: str = "standardize",
                     deterministic: bool = False, device: torch.device | str = "cpu", n_fidelities: int = 1,
                     target_fidelity_index: int | None = None, max_fit_points: int | None = MAX_FIT_POINTS,
                     prior: CheapSignals | None = None, refit_growth: float = 0.0,
                     **options: Any) -> "Surrogate":
        """The surrogate of the registered ``encoding`` (:data:`bonas.encoders.ENCODINGS`): its encoder for
        ``space``, built with ``options`` (CATE: ``checkpoint``), and its kernel."""
        entry = ENCODINGS[encoding]
        return cls(entry.build(space, device, **options), entry.kernel, outcome_transform, deterministic, device,
                   n_fidelities=n_fidelities, target_fidelity_index=target_fidelity_index,
                   max_fit_points=max_fit_points, prior=prior, refit_growth=refit_growth)

    def sibling(self) -> "Surrogate":
        """A surrogate for another metric of the same architectures: the same encoder, encoding cache, kernel,
        device and noise setting, standardised outcomes, and a kernel state of its own."""
        other = Surrogate(self.encoder, self.kernel, "standardize", self.deterministic, self.device, self.warm_start,
                          self.n_fidelities, self.target_fidelity_index, self.max_fit_points, self.prior,
                          self.refit_growth)
        other._encoding_cache = self._encoding_cache
        return other

    def encode(self, archs: Sequence[Any], cache: bool = True) -> Tensor:
        """``n x d`` encodings on :attr:`device` (``n x (d + k)`` with a prior's ``k`` signals appended); with
        ``cache``, rows are kept for later calls."""
        if not cache:
            return self._rows(list(archs)).to(self.device)
        missing = [arch for arch in dict.fromkeys(archs) if arch not in self._encoding_cache]
        if missing:
            for arch, row in zip(missing, self._rows(missing)):
                self._encoding_cache[arch] = row
        return torch.stack([self._encoding_cache[arch] for arch in archs]).to(self.device)

    def _rows(self, archs: list[Any]) -> Tensor:
        encodings = self.encoder.encode(archs)
        if self.prior is None:
            return encodings
        return torch.cat([encodings, self.prior.matrix(archs).to(encodings)], dim=-1)

    def encode_at(self, archs: Sequence[Any], fidelity_indices: Sequence[int], cache: bool = True) -> Tensor:
        """``n x (d + 1)`` inputs of a multi-fidelity GP: each encoding with its fidelity's index appended."""
        encodings = self.encode(archs, cache=cache)
        column = torch.tensor([[float(index)] for index in fidelity_indices], dtype=encodings.dtype,
                              device=encodings.device).reshape(len(archs), 1)
        return torch.cat([encodings, column], dim=-1)

    def new_kernel(self) -> Kernel:
        """The kernel over this surrogate's inputs, at its default hyperparameters."""
        dim = self.encoder.dim
        if self.n_fidelities == 1:
            columns = None if self.prior is None else list(range(dim))
            return make_kernel(self.kernel, dim, groups=self.encoder.groups, active_dims=columns)
        architecture = make_kernel(self.kernel, dim, groups=self.encoder.groups, active_dims=list(range(dim)))
        return fidelity_kernel(architecture, dim, self.n_fidelities)

    def new_mean(self, like: Tensor) -> Mean | None:
        """The prior mean, on ``like``'s device and dtype: a constant per fidelity when there are several, a linear
        mean on the cheap signals of ``like`` (the training inputs) with a prior, else ``None`` (botorch's constant
        mean)."""
        if self.n_fidelities > 1:
            return FidelityMean(self.n_fidelities).to(like)
        if self.prior is not None:
            return CheapSignalMean(like[:, self.encoder.dim:], self.encoder.dim).to(like)
        return None

    def fit(self, archs: Sequence[Any], values: Sequence[float],
            fidelity_indices: Sequence[int] | None = None) -> FitResult:
        """Fit to ``n`` architectures and their maximised ``values``; never raises on a failed fit.

        With ``warm_start``, starts from the last successful fit's kernel hyperparameters and keeps the new ones
        when this fit succeeds. A multi-fidelity surrogate takes each value's ``fidelity_indices``. With
        ``refit_growth > 0`` and fewer than ``fitted_on * (1 + refit_growth)`` results, the GP keeps the last
        fit's hyperparameters instead (``how="kept"``).
        """
        if (fidelity_indices is None) != (self.n_fidelities == 1):
            raise ValueError("fidelity_indices are for a multi-fidelity surrogate (n_fidelities > 1), and it "
                             "needs them")
        train_X = self.encode(archs) if fidelity_indices is None else self.encode_at(archs, fidelity_indices)
        observed = torch.tensor([[float(value)] for value in values], dtype=train_X.dtype, device=self.device)
        train_Y = transform_outcomes(observed, self.outcome_transform)
        if self._keeps_hyperparameters(len(values)):
            kept = self._kept(train_X, train_Y)
            if kept is not None:
                return kept
        with self._seeded_retries(len(values)):
            result = fit_surrogate(train_X, train_Y, lambda: self.new_kernel().to(train_X),
                                   deterministic=self.deterministic, warm_start=self.kernel_state,
                                   make_mean=lambda: self.new_mean(train_X), max_fit_points=self.max_fit_points,
                                   strata=None if fidelity_indices is None else train_X[:, -1])
        if self.warm_start and result.how in ("fit", "learned-noise"):
            self.kernel_state = {name: value.detach().clone() for name, value in self._hyperparameters(result.model)}
            # a learned-noise fallback of a noise-free GP is not the model a kept fit builds: refit next time
            self.fitted_on = len(values) if self.refit_growth > 0 and result.how == "fit" else None
        return result

    def _keeps_hyperparameters(self, n: int) -> bool:
        """Whether a fit to ``n`` results keeps the last fit's hyperparameters (see ``refit_growth``)."""
        return (self.refit_growth > 0 and self.fitted_on is not None and self.kernel_state is not None
                and self.fitted_on <= n < self.fitted_on * (1 + self.refit_growth))

    def _kept(self, train_X: Tensor, train_Y: Tensor) -> FitResult | None:
        """The GP on every result at the kept hyperparameters, without fitting; ``None`` (logged) when the kept
        state does not cover the model's parameters or does not fit them."""
        model = _build(train_X, train_Y, self.new_kernel().to(train_X), self.deterministic, self.new_mean(train_X))
        state = {}
        for name, value in self.kernel_state.items():
            if name.startswith(MODEL_PREFIX):
                state[name[len(MODEL_PREFIX):]] = value
            elif name.startswith(MEAN_PREFIX):
                state["mean_module." + name[len(MEAN_PREFIX):]] = value
            else:
                state["covar_module." + name] = value
        missing = sorted({name for name, _ in model.named_parameters()} - set(state))
        try:
            if missing:
                raise RuntimeError(f"no kept value for {missing}")
            model.load_state_dict(state, strict=False)
        except RuntimeError as error:
            logger.warning("refitting: the kept hyperparameters do not fit the GP: %s", error)
            return None
        model.eval()
        return FitResult(model, "kept", float(train_Y.max()))

    def _seeded_retries(self, seed: int) -> contextlib.AbstractContextManager:
        """For a multi-fidelity fit, torch's generator forked and seeded: botorch's fit retries from
        hyperparameters drawn from their priors when an attempt fails (the fidelity kernel's prior makes that
        common on few results), and a fit must be a function of its data. A single-fidelity fit is left as is."""
        if self.n_fidelities == 1:
            return contextlib.nullcontext()
        forked = torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else [])
        stack = contextlib.ExitStack()
        stack.enter_context(forked)
        torch.manual_seed(seed)
        return stack

    def _hyperparameters(self, model: ArchitectureGP) -> list[tuple[str, Tensor]]:
        """What a warm start carries: the kernel's parameters, and a multi-fidelity mean's (``mean.`` names)."""
        named = list(model.covar_module.named_parameters())
        if self.n_fidelities > 1:
            named += [(MEAN_PREFIX + name, value) for name, value in model.mean_module.named_parameters()]
        if self.refit_growth > 0:
            # a multi-fidelity mean is carried under MEAN_PREFIX already (its warm start), so kept once
            kept = ("likelihood.",) if self.n_fidelities > 1 else KEPT_PARTS
            named += [(MODEL_PREFIX + name, value) for name, value in model.named_parameters()
                      if name.startswith(kept)]
        return named

    @cached_property
    def _kernel_shapes(self) -> dict[str, torch.Size]:
        shapes = {name: parameter.shape for name, parameter in self.new_kernel().named_parameters()}
        if self.n_fidelities > 1:
            shapes.update((MEAN_PREFIX + name, parameter.shape)
                          for name, parameter in FidelityMean(self.n_fidelities).named_parameters())
        return shapes

    def load_kernel_state(self, state: Any) -> None:
        """Set :attr:`kernel_state` (and :attr:`fitted_on`, its ``"fitted_on"`` entry) from plain lists (a
        journal's); ``ValueError`` if they do not fit the kernel. Likelihood and mean parameters (``model.`` names)
        are checked when a fit keeps them (:meth:`fit`), which refits when they do not fit the GP."""
        if not isinstance(state, dict):
            raise ValueError(f"kernel state is a {type(state).__name__}, not an object")
        state = dict(state)
        fitted_on = state.pop(FITTED_ON, None)
        if fitted_on is not None and (isinstance(fitted_on, bool) or not isinstance(fitted_on, int) or fitted_on < 1):
            raise ValueError(f"kernel state's {FITTED_ON!r} counts results, a positive integer; got {fitted_on!r}")
        tensors = {name: torch.tensor(value, dtype=torch.float64, device=self.device) for name, value in state.items()}
        for name, tensor in tensors.items():
            if name.startswith(MODEL_PREFIX):
                if not name[len(MODEL_PREFIX):].startswith(KEPT_PARTS):
                    raise ValueError(f"kept parameter {name!r} is not the likelihood's or the mean's")
                continue
            if name not in self._kernel_shapes:
                raise ValueError(f"the {self.kernel} kernel has no parameter {name!r}")
            if tensor.shape != self._kernel_shapes[name]:
                raise ValueError(f"kernel parameter {name!r} of shape {tuple(tensor.shape)} does not fit the "
                                 f"{self.kernel} kernel (expected {tuple(self._kernel_shapes[name])})")
        self.kernel_state = tensors
        self.fitted_on = fitted_on

    def kernel_state_json(self) -> dict[str, Any] | None:
        """:attr:`kernel_state` as plain lists (with :attr:`fitted_on` when set), for a journal; ``None`` before the
        first successful fit."""
        if self.kernel_state is None:
            return None
        state: dict[str, Any] = {name: value.tolist() for name, value in self.kernel_state.items()}
        if self.fitted_on is not None:
            state[FITTED_ON] = self.fitted_on
        return state
