"""An optimizer's settings: one frozen, validated, versioned object, which the journal writes and reads back.

The journal's ``create`` event holds :meth:`OptimizerSettings.to_json`; :meth:`OptimizerSettings.from_json`
reads it back and refuses what this bonas cannot honour (unknown fields, a newer ``settings_version``). Journals
written before the version field existed are version 1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bonas.acquisition import ACQUISITIONS
from bonas.candidates import CANDIDATE_STRATEGIES
from bonas.encoders import ENCODINGS
from bonas.fidelity import Fidelities
from bonas.fidelity_proposal import FIDELITY_ACQUISITIONS
from bonas.outcomes import Outcomes
from bonas.surrogate import MAX_FIT_POINTS, OUTCOME_TRANSFORMS, check_refit_growth
from bonas.validation import check_choice, check_finite, check_int, check_positive

SETTINGS_VERSION = 1
"""The version :meth:`OptimizerSettings.to_json` writes; a journal of a later version is refused."""


@dataclass(frozen=True)
class OptimizerSettings:
    """Everything an :class:`~bonas.Optimizer` needs to be rebuilt from its journal, validated when made.

    :param space: the name of the search space.
    :param encoding: a registered encoding (:data:`bonas.encoders.ENCODINGS`): ``"tw"`` (tree-Wasserstein),
        ``"path"``, ``"wl"``, ``"adjacency"`` or ``"cate"`` (a pretrained CATE transformer's embeddings
        under an isotropic Matern 5/2 kernel).
    :param acquisition: ``"ei"`` (botorch LogEI), ``"ucb"`` or ``"ts"`` (Thompson sampling). With ``"ts"``
        a single ask draws from the posterior; a batch chosen by ``kdpp``, ``greedy`` or
        ``kriging-believer`` scores its candidates by UCB, and ``ask(n, batch="ts")`` draws once per pick.
    :param n_initial: results told before the GP takes over; until then every ask is random. In-flight
        architectures do not count: a GP fitted on the first two or three results of a busy cluster
        chose worse than random cells would (``benchmarks/RESULTS.md``, asynchronous replays), so a
        cluster of ``w`` workers asks up to ``n_initial + w - 1`` random architectures.
    :param seed: seeds every random choice; the same seed and tells give the same asks.
    :param maximize: ``False`` to minimise the told values.
    :param candidates: ``"local"`` (neighbourhoods of the best plus random cells) or ``"all"``
        (every unseen class of an enumerable space).
    :param pool_size: size of the local candidate pool.
    :param outcome_transform: ``"standardize"`` (the default: it gave the lowest replay regret,
        see ``benchmarks/RESULTS.md``), ``"copula"`` (ranks to normal quantiles) or ``"log-error"``
        (``-log(100 - value)``, for accuracies in percent, as NAS-BOWL).
    :param deterministic: the objective is noise-free (a table replay): noise is pinned near zero.
    :param kdpp_pool: how many candidates, best by acquisition, a k-DPP batch is drawn from;
        ``None`` is ``4 q`` for a batch of ``q``.
    :param kdpp_temperature: quality temperature of the k-DPP, ``q_i = exp(z_i / T)`` for the
        standardised posterior mean ``z``; smaller is greedier.
    :param checkpoint: with ``encoding="cate"``, a checkpoint from ``bonas pretrain-cate``;
        ``None`` is the one bonas ships for the space.
    :param feasible: the name of the optimizer's feasibility predicate (a constraint known before training,
        ``Optimizer(feasible=...)``), ``None`` without one. The journal records the name; the predicate itself
        is code, passed again to ``Optimizer.load``.
    :param prior: the name of the optimizer's cheap signals (``Optimizer(prior=...)``, :mod:`bonas.prior`),
        ``None`` without them. As with ``feasible``, the journal records the name and the function is passed
        again to ``Optimizer.load``.
    :param objectives: named objectives, ``((name, "max" | "min"), ...)``, or ``None`` (one unnamed value per
        tell, maximised unless ``maximize=False``). With names, ``tell`` takes a dict of them.
    :param constraints: measured constraints, ``((metric, "<=" | ">=", bound), ...)``, told with the objectives
        in the same dict; needs ``objectives``.
    :param evaluator: what produces the told values, in words (``bonas search`` writes e.g. ``"naswot data=digits
        seed=0"``), or ``None``. The journal records it so that a resumed search can refuse to mix the values of
        two evaluators (NASWOT scores with accuracies); the optimizer itself does not use it.
    :param fidelities: the fidelities of a multi-fidelity search (e.g. ``(12, 200)`` training epochs), ascending,
        or ``None``. Trials then carry a fidelity, one GP models every result at every fidelity and asks choose
        the cell and the fidelity (:mod:`bonas.fidelity_proposal`); random initial cells are at the cheapest.
    :param target_fidelity: the fidelity of the result (default the largest): :attr:`Optimizer.best_trial` is
        the best trial evaluated there.
    :param fidelity_costs: the cost of an evaluation at each fidelity, in their order (default the fidelities
        themselves: epochs cost epochs).
    :param fidelity_acquisition: how a multi-fidelity ask chooses cell and fidelity: ``"ei"`` (target LogEI,
        each cell one fidelity up at a time) or ``"gibbon"`` (information about the target maximum per cost);
        see :mod:`bonas.fidelity_proposal`.
    :param max_fit_points: a GP's hyperparameters are fitted on at most this many results, drawn at random, and
        its posterior conditions on all of them (``None``: every result, an ``O(n^3)`` step per optimiser
        iteration). With thousands of results this keeps an ask to seconds at no measured loss of ranking
        (``benchmarks/RESULTS.md``); searches of up to this many results are unaffected.
    :param refit_growth: ``0`` (the default) refits the GP's hyperparameters at every ask; ``g > 0`` refits them
        only once the results have grown by the fraction ``g`` since the last fit, and in between the GP
        conditions on every result at the last fit's hyperparameters (:class:`~bonas.surrogate.Surrogate`). The
        journal records how many results each kept fit was made on, so a resumed search asks the same.
    """

    space: str
    encoding: str = "tw"
    acquisition: str = "ei"
    n_initial: int = 10
    seed: int = 0
    maximize: bool = True
    candidates: str = "local"
    pool_size: int = 1000
    outcome_transform: str = "standardize"
    deterministic: bool = False
    kdpp_pool: int | None = None
    kdpp_temperature: float = 1.0
    checkpoint: str | None = None
    feasible: str | None = None
    prior: str | None = None
    objectives: tuple[tuple[str, str], ...] | None = None
    constraints: tuple[tuple[str, str, float], ...] | None = None
    evaluator: str | None = None
    fidelities: tuple[int | float, ...] | None = None
    target_fidelity: int | float | None = None
    fidelity_costs: tuple[float, ...] | None = None
    fidelity_acquisition: str = "ei"
    max_fit_points: int | None = MAX_FIT_POINTS
    refit_growth: float = 0.0

    def __post_init__(self) -> None:
        check = object.__setattr__
        check(self, "encoding", check_choice(self.encoding, "encoding", ENCODINGS))
        check(self, "acquisition", check_choice(self.acquisition, "acquisition", ACQUISITIONS))
        check(self, "n_initial", check_int(self.n_initial, "n_initial", minimum=1))
        check(self, "seed", check_int(self.seed, "seed", minimum=0))
        check(self, "maximize", bool(self.maximize))
        check(self, "candidates", check_choice(self.candidates, "candidates", CANDIDATE_STRATEGIES))
        check(self, "pool_size", check_int(self.pool_size, "pool_size", minimum=1))
        check(self, "outcome_transform", check_choice(self.outcome_transform, "outcome_transform", OUTCOME_TRANSFORMS))
        check(self, "deterministic", bool(self.deterministic))
        if self.kdpp_pool is not None:
            check(self, "kdpp_pool", check_int(self.kdpp_pool, "kdpp_pool", minimum=1))
        check(self, "kdpp_temperature", check_positive(self.kdpp_temperature, "kdpp_temperature"))
        check(self, "refit_growth", check_refit_growth(self.refit_growth))
        if self.max_fit_points is not None:
            check(self, "max_fit_points", check_int(self.max_fit_points, "max_fit_points", minimum=2))
        if self.checkpoint is not None:
            if "checkpoint" not in ENCODINGS[self.encoding].options:
                raise ValueError(f"checkpoint is for encoding='cate'; encoding is {self.encoding!r}")
            check(self, "checkpoint", str(self.checkpoint))
        if self.feasible is not None and (not isinstance(self.feasible, str) or not self.feasible):
            raise ValueError(f"feasible names the feasibility predicate; got {self.feasible!r}")
        if self.prior is not None and (not isinstance(self.prior, str) or not self.prior):
            raise ValueError(f"prior names the cheap signals' function; got {self.prior!r}")
        if self.evaluator is not None and (not isinstance(self.evaluator, str) or not self.evaluator.strip()):
            raise ValueError(f"evaluator describes what produces the told values in words; got {self.evaluator!r}")
        outcomes = Outcomes.from_json(self.objectives, self.constraints) if self.objectives is not None else None
        if outcomes is None and self.constraints is not None:
            raise ValueError("constraints need objectives naming the objective told beside them")
        if outcomes is not None:
            check(self, "objectives", outcomes.objectives)
            check(self, "constraints", outcomes.constraints or None)
            if not self.maximize:
                raise ValueError("maximize=False is for one unnamed objective; with objectives= each objective "
                                 "names its direction ('max' or 'min')")
            if self.outcome_transform != "standardize":
                raise ValueError(f"outcome_transform={self.outcome_transform!r} is for one unnamed objective; with "
                                 "objectives= every metric's GP standardises its values")
            if outcomes.is_multi_objective or outcomes.constraints:
                # their asks are botorch's constrained EI or hypervolume improvement, batches greedy
                chosen = {"acquisition": (self.acquisition, "ei"), "kdpp_pool": (self.kdpp_pool, None),
                          "kdpp_temperature": (self.kdpp_temperature, 1.0)}
                for name, (value, default) in chosen.items():
                    if value != default:
                        raise ValueError(f"{name}={value!r} is for one objective without constraints; with "
                                         "constraints or several objectives asks maximise botorch's constrained EI "
                                         "or hypervolume improvement and batches are greedy")
        self._check_fidelities(outcomes)
        if self.outcome_transform == "log-error" and not self.maximize:
            raise ValueError("outcome_transform='log-error' models maximised accuracies; it needs maximize=True")

    def _check_fidelities(self, outcomes: Outcomes | None) -> None:
        check_choice(self.fidelity_acquisition, "fidelity_acquisition", FIDELITY_ACQUISITIONS)
        if self.fidelities is None:
            if self.fidelity_acquisition != "ei":
                raise ValueError("fidelity_acquisition is for a multi-fidelity search; declare fidelities=(...) too")
            for name in ("target_fidelity", "fidelity_costs"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is for a multi-fidelity search; declare fidelities=(...) too")
            return
        declared = Fidelities(self.fidelities, self.target_fidelity, self.fidelity_costs)
        object.__setattr__(self, "fidelities", declared.levels)
        object.__setattr__(self, "target_fidelity", declared.target)
        object.__setattr__(self, "fidelity_costs", declared.costs)
        if self.prior is not None:
            raise ValueError("a prior of cheap signals is for a single-fidelity search; leave out prior= or "
                             "fidelities=")
        if outcomes is not None:
            raise ValueError("fidelities are for one unnamed objective; a multi-fidelity search with named "
                             "objectives or constraints is not supported")
        if self.acquisition != "ei":
            raise ValueError(f"acquisition={self.acquisition!r}: a multi-fidelity search chooses cell and fidelity "
                             "by multi-fidelity max-value entropy per cost; leave acquisition at 'ei'")

    @property
    def fidelity_levels(self) -> Fidelities | None:
        """The declared fidelities, target and costs, ``None`` for a single-fidelity search."""
        if self.fidelities is None:
            return None
        return Fidelities(self.fidelities, self.target_fidelity, self.fidelity_costs)

    def check_value(self, value: Any, label: str) -> float:
        """``value`` as a finite ``float`` (``ValueError`` naming ``label`` otherwise), below 100 when the log-error
        transform needs accuracies in percent."""
        value = check_finite(value, label)
        if self.outcome_transform == "log-error" and value >= 100:
            raise ValueError(f"{label} is {value!r}; outcome_transform='log-error' takes accuracies in percent, "
                             "below 100")
        return value

    @property
    def outcomes(self) -> Outcomes | None:
        """The named objectives and measured constraints, ``None`` for one unnamed value per tell."""
        return None if self.objectives is None else Outcomes(self.objectives, self.constraints or ())

    def encoder_options(self) -> dict[str, Any]:
        """The encoder options these settings set (``checkpoint``), for :meth:`EncodingEntry.build`."""
        return {} if self.checkpoint is None else {"checkpoint": self.checkpoint}

    def to_json(self) -> dict[str, Any]:
        """The settings as the journal's ``create`` event holds them, with ``settings_version``."""
        fields = dataclasses.asdict(self)
        # left out when unset, so that a journal without named outcomes reads as before in earlier versions
        for name in ("prior", "objectives", "constraints", "evaluator", "fidelities", "target_fidelity",
                     "fidelity_costs"):
            if fields[name] is None:
                del fields[name]
        if self.fidelities is None:
            del fields["fidelity_acquisition"]
        if self.max_fit_points == MAX_FIT_POINTS:
            del fields["max_fit_points"]
        if self.refit_growth == 0:
            del fields["refit_growth"]
        return {**fields, "settings_version": SETTINGS_VERSION}

    @classmethod
    def from_json(cls, settings: Any) -> "OptimizerSettings":
        """Settings from a journal's ``create`` event; ``ValueError`` naming what is missing, unknown or invalid."""
        if not isinstance(settings, dict) or "space" not in settings:
            raise ValueError("the 'create' event has no settings with a space")
        fields = dict(settings)
        version = fields.pop("settings_version", 1)
        check_int(version, "settings_version", minimum=1)
        if version > SETTINGS_VERSION:
            raise ValueError(f"settings_version {version} is newer than this bonas reads ({SETTINGS_VERSION}); "
                             "upgrade bonas to load this journal")
        unknown = sorted(set(fields) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; written by another bonas version?")
        return cls(**fields)
