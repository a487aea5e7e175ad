"""The ask/tell optimizer: a GP surrogate over architecture encodings, with a crash-safe journal.

``ask(n)`` proposes architectures never told nor in flight; ``tell`` records a
value (maximised unless ``maximize=False``) or a failed/abandoned state;
``attach`` adds results obtained elsewhere. Every event is appended to a JSON
Lines journal before the call returns, and :meth:`Optimizer.load` rebuilds the
optimizer from that journal alone. The components it holds (a
:class:`~bonas.surrogate.Surrogate`, an :class:`~bonas.acquisition.Acquisition`,
the batch rules of :data:`~bonas.batch.BATCH_RULES`) are looked up by name once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bonas.acquisition import Acquisition
from bonas.batch.rules import BATCH_RULES, KDPP_POOL_PER_PICK
from bonas.candidates import Feasibility, SpaceExhaustedError, candidate_pool, random_unseen, what_is_left
from bonas.device import resolve_device
from bonas.encoders import ENCODINGS
from bonas.fidelity import rank_across_fidelities
from bonas.fidelity_proposal import FidelityChoice, propose_fidelity
from bonas.journal import Journal
from bonas.outcome_proposal import propose_outcomes
from bonas.outcomes import Outcomes, pareto_indices, rank_and_crowding
from bonas.persistence import create_journal, load_journal
from bonas.prior import TOURNAMENT_SIZE, CheapSignals, tournament
from bonas.proposal import propose
from bonas.settings import OptimizerSettings
from bonas.spaces.base import Space
from bonas.surrogate import MAX_FIT_POINTS, Surrogate
from bonas.trial import Trial, TrialRegistry, TrialState
from bonas.validation import check_choice, check_int

MIN_OBSERVATIONS = 2
"""The GP is never fitted on fewer results than this, whatever ``n_initial``."""
BATCH_METHODS = tuple(BATCH_RULES)
"""The batch rules bonas ships (:data:`~bonas.batch.BATCH_RULES` holds those registered since too)."""
__all__ = ["BATCH_METHODS", "ENCODINGS", "KDPP_POOL_PER_PICK", "MIN_OBSERVATIONS", "Optimizer", "SpaceExhaustedError"]


class Optimizer:
    """Bayesian optimisation over a search space, driven by ``ask`` and ``tell``.

    :param space: the search space (``bonas.spaces``).
    :param storage: path of the JSON Lines journal, or ``None`` to keep state in memory.
    :param device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    :param feasible: a constraint known before training, ``feasible(arch) -> bool`` (e.g. params, FLOPs or a
        latency table under a limit): asks, candidate pools and random cells hold only feasible architectures,
        and :attr:`best_trial` is the best feasible trial. The journal records its name; pass it again to
        :meth:`load`. On an enumerable space, one that rejects every architecture is refused here (the space is
        scanned up to its first feasible cell; answers are cached per architecture).
    :param objectives: named objectives, e.g. ``{"accuracy": "max", "latency_ms": "min"}``: ``tell`` then takes a
        dict of them. Each gets a GP on the same encoding; with two or more, asks maximise botorch's hypervolume
        improvement (``qLogNoisyExpectedHypervolumeImprovement``; ``qLogExpectedHypervolumeImprovement`` for a
        ``deterministic`` objective with nothing pending, see :mod:`bonas.outcome_proposal`) and
        :meth:`pareto_front` holds the result (:attr:`best_trial` raises). ``None``: one unnamed value per tell.
    :param constraints: constraints measured with the result, e.g. ``{"latency_ms": ("<=", 14.0)}`` (bounds
        inclusive), told in the same dict as the objectives (so they need ``objectives``). Each constrained metric
        gets its own GP on the same encoding, and asks weigh the acquisition by the probability of feasibility
        (botorch's ``LogConstrainedExpectedImprovement`` for one objective).

    :param prior: cheap signals known before training, ``prior(arch) -> float | sequence of floats`` (params,
        FLOPs, a zero-cost proxy; each a number where higher is expected to be better): the GP's prior mean is
        a learned linear function of them and each initial cell is the best of ``TOURNAMENT_SIZE`` random ones
        by them (:mod:`bonas.prior`). Off by default (``benchmarks/RESULTS.md`` says what it buys). The journal
        records its name; pass it again to :meth:`load`. Not with ``fidelities``.
    :param fidelities: the fidelities of a multi-fidelity search, e.g. ``(12, 200)`` training epochs, with
        ``target_fidelity`` (default the largest) and ``fidelity_costs`` (default the fidelities themselves):
        every trial then has a ``fidelity``; the first ``n_initial`` asks are random cells at the cheapest one,
        then one GP over (architecture, fidelity) chooses a new cell or a promotion of an evaluated one, and its
        fidelity (:mod:`bonas.fidelity_proposal`); :meth:`promote` asks for a promotion by hand; ``tell`` records
        the value at the trial's fidelity and :attr:`best_trial` is the best trial at the target fidelity.

    Every other parameter is a field of :class:`~bonas.settings.OptimizerSettings` (``encoding``,
    ``acquisition``, ``n_initial``, ``seed``, ``maximize``, ``candidates``, ``pool_size``,
    ``outcome_transform``, ``deterministic``, ``kdpp_pool``, ``kdpp_temperature``, ``checkpoint``,
    ``evaluator``, ``fidelity_acquisition``, ``max_fit_points``, ``refit_growth``), documented there and kept,
    validated, as :attr:`settings`; the journal records them.
    """

    def __init__(self, space: Space, encoding: str = "tw", acquisition: str = "ei", n_initial: int = 10,
                 seed: int = 0, storage: str | Path | None = None, maximize: bool = True, candidates: str = "local",
                 pool_size: int = 1000, outcome_transform: str = "standardize", deterministic: bool = False,
                 device: str = "auto", kdpp_pool: int | None = None, kdpp_temperature: float = 1.0,
                 checkpoint: str | Path | None = None, feasible: Callable[[Any], bool] | None = None,
                 prior: Callable[[Any], Any] | None = None, objectives: Mapping[str, str] | None = None,
                 constraints: Mapping[str, tuple[str, float]] | None = None, evaluator: str | None = None,
                 fidelities: Sequence[float] | None = None, target_fidelity: float | None = None,
                 fidelity_costs: Sequence[float] | None = None, fidelity_acquisition: str = "ei",
                 max_fit_points: int | None = MAX_FIT_POINTS, refit_growth: float = 0.0, _journal: Journal | None = None,
                 _settings: OptimizerSettings | None = None) -> None:
        self._feasible = None if feasible is None else Feasibility(feasible, space)
        self._prior = None if prior is None else CheapSignals(prior, space)
        # a journal being loaded passes its settings, read and checked once (persistence.load_journal)
        outcomes = None if _settings is not None else Outcomes.from_arguments(objectives, constraints)
        settings = _settings or OptimizerSettings(
            space=space.name, encoding=encoding, acquisition=acquisition, n_initial=n_initial, seed=seed,
            maximize=maximize, candidates=candidates, pool_size=pool_size, outcome_transform=outcome_transform,
            deterministic=deterministic, kdpp_pool=kdpp_pool, kdpp_temperature=kdpp_temperature,
            checkpoint=None if checkpoint is None else str(checkpoint),
            feasible=None if self._feasible is None else self._feasible.name,
            prior=None if self._prior is None else self._prior.name,
            objectives=None if outcomes is None else outcomes.objectives,
            constraints=None if outcomes is None or not outcomes.constraints else outcomes.constraints,
            evaluator=evaluator, fidelities=None if fidelities is None else tuple(fidelities),
            target_fidelity=target_fidelity, fidelity_costs=None if fidelity_costs is None else tuple(fidelity_costs),
            fidelity_acquisition=fidelity_acquisition, max_fit_points=max_fit_points, refit_growth=refit_growth)
        if settings.space != space.name:
            raise ValueError(f"settings of space {settings.space!r} for space {space.name!r}")
        if settings.candidates == "all" and not space.is_enumerable:
            raise ValueError(f"candidates='all' needs an enumerable space; {space.name!r} is not")
        if self._feasible is not None:
            self._feasible.check_satisfiable()
        self.space = space
        self.settings = settings
        self.device = resolve_device(device)
        self.fidelities = settings.fidelity_levels
        self.surrogate = Surrogate.for_encoding(
            settings.encoding, space, settings.outcome_transform, settings.deterministic, self.device,
            n_fidelities=1 if self.fidelities is None else len(self.fidelities.levels),
            target_fidelity_index=None if self.fidelities is None else self.fidelities.target_index,
            max_fit_points=settings.max_fit_points, prior=self._prior, refit_growth=settings.refit_growth,
            **settings.encoder_options())
        self.outcomes = settings.outcomes
        self.surrogates = {} if self.outcomes is None else {
            metric: self.surrogate if index == 0 else self.surrogate.sibling()
            for index, metric in enumerate(self.outcomes.metrics)}
        self.acquisition = Acquisition.named(self.settings.acquisition)
        self._registry = TrialRegistry(space)
        self._n_asks = 0
        self.last_fit = ""
        self.last_selection = ""
        self.read_only = False
        self._journal = _journal if _journal is not None else (
            create_journal(Path(storage), settings) if storage is not None else None)

    def close(self) -> None:
        """Release the journal's one-writer lock; this optimizer cannot write it any more. Idempotent.

        The lock is also released when the optimizer is garbage-collected or its process ends, however it ends.
        """
        if self._journal is not None:
            self._journal.close()

    def __enter__(self) -> "Optimizer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def trials(self) -> list[Trial]:
        """Every trial so far, in the order asked or attached."""
        return list(self._registry)

    @property
    def pending(self) -> list[Trial]:
        """Trials asked and not yet told."""
        return self._registry.in_state(TrialState.RUNNING)

    @property
    def completed(self) -> list[Trial]:
        """Trials with a value."""
        return self._registry.in_state(TrialState.COMPLETE)

    @property
    def best_trial(self) -> Trial | None:
        """The completed trial with the best value, ``None`` before the first; with ``feasible`` or
        ``constraints``, the best feasible one (``None`` until one exists: an attached result may be infeasible,
        and a measured constraint is known only once told). An optimizer with two or more objectives has no best
        trial: ``ValueError``, use :meth:`pareto_front`. A multi-fidelity search's best trial is the best at the
        target fidelity (``None`` before one is told)."""
        if self.outcomes is not None and self.outcomes.is_multi_objective:
            raise ValueError(f"this optimizer has {len(self.outcomes.objectives)} objectives "
                             f"{list(self.outcomes.names)}: there is no single best trial; use pareto_front()")
        done = self.feasible_completed()
        if self.fidelities is not None:
            done = [trial for trial in done if trial.fidelity == self.fidelities.target]
        return max(done, key=lambda trial: self._sign * trial.value, default=None)

    def feasible_completed(self) -> list[Trial]:
        """Completed trials meeting ``feasible`` and every measured constraint, in id order."""
        return [trial for trial in self.completed
                if (self._feasible is None or self._feasible(trial.arch))
                and (self.outcomes is None or self.outcomes.is_feasible(trial.values))]

    def pareto_front(self) -> list[Trial]:
        """The non-dominated feasible completed trials (every objective at once; ties all kept), in id order.

        With one objective, the trials sharing the best value.
        """
        done = self.feasible_completed()
        if self.outcomes is None:
            signed = torch.tensor([[self._sign * trial.value] for trial in done], dtype=torch.double)
        else:
            signed = self.outcomes.signed([trial.values for trial in done])
        return [done[index] for index in pareto_indices(signed)]

    @property
    def _sign(self) -> float:
        """+1 when the (first) objective is maximised, -1 when it is minimised."""
        if self.outcomes is not None:
            return 1.0 if self.outcomes.objectives[0][1] == "max" else -1.0
        return 1.0 if self.settings.maximize else -1.0

    def ask(self, n: int = 1, batch: str | None = None) -> list[Trial]:
        """Propose ``n`` architectures, none of them told or in flight; each becomes a running trial.

        :param batch: how a batch is chosen once the GP has taken over: a rule of :data:`~bonas.batch.BATCH_RULES`
            (``"kdpp"``, the default for ``n > 1``; ``"kdpp-anchored"``; ``"kdpp-map"``; ``"greedy"``, the default
            for ``n = 1``; ``"kriging-believer"``; ``"ts"``; each class in :mod:`bonas.batch.rules` says what it
            does). The k-DPP is the default because no other rule earned the place: over seeds 0-99 of NB201's
            three datasets, batches of 8, greedy and the Kriging believer are within noise of it in queries to a
            near-optimal cell except the believer on ImageNet16-120 (p = 0.04), the believer misses the final
            regret on CIFAR-10 and its ask(8) is 1.8x slower at 2,000 results; Thompson needs more queries
            (``benchmarks/RESULTS.md``, "The restated batch targets"). In-flight architectures are never
            proposed and, for every rule but ``"ts"``, lower the value of their look-alikes. With ``constraints``
            or several ``objectives`` a batch is always greedy (each pick pending for the next, see
            :mod:`bonas.outcome_proposal`); another rule is refused.
        """
        check_int(n, "ask(n)", minimum=1)
        self.check_writable()
        if batch is None:
            batch = "kdpp" if n > 1 else "greedy"
        elif check_choice(batch, "batch", BATCH_RULES) != "greedy" and self._outcome_asks:
            raise ValueError(f"batch={batch!r}: an optimizer with constraints or several objectives chooses batches "
                             "greedily, each pick pending for the next (batch='greedy' or None)")
        # a fixed function of the seed and the number of asks so far: the same after a resume
        rng = np.random.default_rng([self.settings.seed, self._n_asks])
        kernel_state = None
        if len(self.completed) < max(self.settings.n_initial, MIN_OBSERVATIONS):
            archs = what_is_left(self.space, self._initial(n, rng), n, self._feasible)
            lowest = None if self.fidelities is None else self.fidelities.lowest
            choices = [FidelityChoice(arch, lowest) for arch in archs]
        else:
            choices = (self._model_based_fidelity(n, rng) if self.fidelities is not None else
                       [FidelityChoice(arch, None) for arch in self._model_based(n, batch, rng)])
            # journalled so that a resumed optimizer warm-starts its next fit exactly as this one would
            kernel_state = self._kernel_states()
        return self._start(choices, kernel_state)

    def _initial(self, n: int, rng: np.random.Generator) -> list[Any]:
        """``n`` cells of the initial design: random unseen (feasible) cells, or with a prior each the best of
        ``TOURNAMENT_SIZE`` of them by its cheap signals."""
        if self._prior is None:
            return random_unseen(self.space, n, rng, self._registry.owner, feasible=self._feasible)
        pool = random_unseen(self.space, n * TOURNAMENT_SIZE, rng, self._registry.owner, feasible=self._feasible)
        return tournament(pool, n, self._prior)

    def _start(self, choices: Sequence[FidelityChoice], kernel_state: dict[str, Any] | None) -> list[Trial]:
        """Record one ask of ``choices`` (each becomes a running trial) with the kernel state it was chosen by."""
        ask_number = self._n_asks + 1
        trials = []
        for choice in choices:
            trial = Trial(id=self._registry.next_id, arch=choice.arch, arch_str=self.space.to_str(choice.arch),
                          state=TrialState.RUNNING, value=None, asked_at=time.time(), fidelity=choice.fidelity,
                          promoted_from=choice.promoted_from)
            event = {"event": "ask", "trial": trial.id, "arch": trial.arch_str, "ask": ask_number,
                     "asked_at": trial.asked_at}
            if trial.fidelity is not None:
                event["fidelity"] = trial.fidelity
            if trial.promoted_from is not None:
                event["promoted_from"] = trial.promoted_from
            event.update(kernel_state or {})
            self._record(event)
            self._n_asks = ask_number
            self._registry.add(trial)
            trials.append(trial)
        return trials

    def promote(self, trial: Trial | int, fidelity: float | None = None) -> Trial:
        """Ask for completed ``trial``'s cell again at a higher ``fidelity`` (default the next one up): a new
        running trial whose ``promoted_from`` is ``trial``'s id (an evaluator that kept its weights continues
        from them). ``ValueError`` for a single-fidelity optimizer, a trial not completed, a fidelity not
        declared or not above the trial's, or one the cell already holds; the journal is unchanged then."""
        self.check_writable()
        if self.fidelities is None:
            raise ValueError("promote is for a multi-fidelity optimizer (Optimizer(fidelities=...))")
        source = self._registry.get(trial)
        if source.state != TrialState.COMPLETE:
            raise ValueError(f"cannot promote trial {source.id} ({source.arch_str}): it is {source.state.value}, "
                             "not complete; a promotion continues a cell that was evaluated")
        levels = self.fidelities.levels
        if fidelity is None:
            above = [level for level in levels if level > source.fidelity]
            if not above:
                raise ValueError(f"trial {source.id} is at the highest fidelity {source.fidelity}; nothing to "
                                 "promote it to")
            fidelity = above[0]
        fidelity = self.fidelities.check(fidelity, "promotion fidelity")
        if fidelity <= source.fidelity:
            raise ValueError(f"promotion fidelity {fidelity} is not above trial {source.id}'s fidelity "
                             f"{source.fidelity}")
        self._registry.refuse_held(source.arch, fidelity)
        return self._start([FidelityChoice(source.arch, fidelity, source.id)], None)[0]

    def _model_based_fidelity(self, n: int, rng: np.random.Generator) -> list[FidelityChoice]:
        """A multi-fidelity ask: new cells of the local (or whole-space) pool at any fidelity, or promotions of
        cells whose highest trial is complete and below the top fidelity."""
        done = self.completed
        candidates = candidate_pool(self.space, self.settings.candidates, [trial.arch for trial in self._ranked(done)],
                                    self._registry.owner, rng, self.settings.pool_size, minimum=n,
                                    feasible=self._feasible)
        top = self.fidelities.levels[-1]
        promotable = []
        for trial in done:
            held = self._registry.held_fidelities(trial.arch)
            highest = max(held)
            if held[highest] is trial and highest < top:
                promotable.append((trial.arch, trial.id, highest))
        proposal = propose_fidelity(
            self.surrogate, self.fidelities, candidates, n, seed=int(rng.integers(2**31)),
            observed=[(trial.arch, trial.fidelity, self._sign * trial.value) for trial in done],
            promotable=promotable, pending=[(trial.arch, trial.fidelity) for trial in self.pending],
            cache_candidates=self.space.is_enumerable, rule=self.settings.fidelity_acquisition)
        self.last_fit, self.last_selection = proposal.fit, proposal.selection
        return proposal.choices

    @property
    def _outcome_asks(self) -> bool:
        """Whether asks go through :func:`~bonas.outcome_proposal.propose_outcomes` (constraints, or several
        objectives) rather than an acquisition and a batch rule."""
        return self.outcomes is not None and (self.outcomes.is_multi_objective or bool(self.outcomes.constraints))

    def _kernel_states(self) -> dict[str, Any]:
        """The journal's record of the fitted kernels: ``{"kernel": ...}``, or ``{"kernels": {metric: ...}}``
        with named outcomes; empty before the first successful fit."""
        if self.outcomes is None:
            state = self.surrogate.kernel_state_json()
            return {} if state is None else {"kernel": state}
        states = {metric: surrogate.kernel_state_json() for metric, surrogate in self.surrogates.items()}
        return {"kernels": {metric: state for metric, state in states.items() if state is not None}}

    def _ranked(self, done: list[Trial]) -> list[Trial]:
        """``done`` best first, the parents of the local pool: feasible before infeasible (by how far they miss,
        :meth:`Outcomes.violation`), then by value; with several objectives by Pareto layer (non-dominated first)
        and, within a layer, by NSGA-II's crowding distance, so that the parents spread along the front (its two
        ends first) instead of crowding at the end of the first objective."""
        if self.fidelities is not None:
            return rank_across_fidelities(done, self._sign)
        if self.outcomes is None:
            return sorted(done, key=lambda trial: -self._sign * trial.value)
        violation = [self.outcomes.violation(trial.values) for trial in done]
        signed = self.outcomes.signed([trial.values for trial in done]).numpy()
        if not self.outcomes.is_multi_objective:
            order = sorted(range(len(done)), key=lambda i: (violation[i], -signed[i, 0]))
            return [done[index] for index in order]
        layer, crowding = rank_and_crowding(signed)
        order = sorted(range(len(done)), key=lambda i: (violation[i], layer[i], -crowding[i], -signed[i, 0]))
        return [done[index] for index in order]

    def _model_based(self, n: int, batch: str, rng: np.random.Generator) -> list[Any]:
        done = self.completed
        ranked = self._ranked(done)
        candidates = candidate_pool(self.space, self.settings.candidates, [trial.arch for trial in ranked],
                                    self._registry.owner, rng, self.settings.pool_size, minimum=2 * n,
                                    feasible=self._feasible)
        if len(candidates) <= n:
            self.last_selection = "all-left"
            return what_is_left(self.space, candidates, n, self._feasible)
        pending = [trial.arch for trial in self.pending]
        if self._outcome_asks:
            feasible = [(self._feasible is None or self._feasible(trial.arch))
                        and self.outcomes.is_feasible(trial.values) for trial in done]
            proposal = propose_outcomes(self.surrogates, self.outcomes, candidates, n, rng,
                                        observed=[(trial.arch, trial.values) for trial in done], feasible=feasible,
                                        pending=pending, cache_candidates=self.space.is_enumerable)
        else:
            proposal = propose(self.surrogate, self.acquisition, self.settings, candidates, n, batch, rng,
                               observed=[(trial.arch, self._sign * trial.value) for trial in done],
                               pending=pending, cache_candidates=self.space.is_enumerable)
        self.last_fit, self.last_selection = proposal.fit, proposal.selection
        return proposal.archs

    def check_writable(self) -> None:
        """Raise unless ``ask``, ``tell`` and ``attach`` can record: ``RuntimeError`` for a ``read_only`` load,
        :class:`~bonas.journal_lock.JournalLockedError` for a journal closed, handed over or of a parent process."""
        if self.read_only:
            raise RuntimeError("this optimizer was loaded with read_only=True; load the journal without it to "
                               "ask, tell or attach")
        if self._journal is not None:
            self._journal.check_writable()

    def _record(self, event: dict[str, Any]) -> None:
        if self._journal is not None:
            self._journal.append(event)

    def tell(self, trial: Trial | int, value: float | Mapping[str, float] | None = None, state: str = "complete",
             info: dict[str, Any] | None = None) -> Trial:
        """Record the outcome of a running trial: a finite ``value``, or ``state="failed"`` / ``"abandoned"``.

        With named ``objectives``, ``value`` is a dict of every objective and constrained metric (one objective
        without constraints also takes a bare number).
        Raises ``KeyError`` for an unknown trial and ``ValueError`` for a trial
        already told, a value that is not a finite number, or a dict missing a metric or holding an unknown one;
        the journal is unchanged then.
        """
        self.check_writable()
        target = self._registry.get(trial)
        new_state = TrialState(check_choice(state, "state", ("complete", "failed", "abandoned")))
        if target.state != TrialState.RUNNING:
            raise ValueError(f"trial {target.id} ({target.arch_str}) was already told: it is {target.state.value}")
        info = dict(info or {})
        values = None
        if new_state == TrialState.COMPLETE:
            value, values = self._checked(value, f"value told for trial {target.id}")
        elif value is not None:
            raise ValueError(f"a {new_state.value} trial takes no value; got {value!r} for trial {target.id}")
        event = {"complete": "tell", "failed": "fail", "abandoned": "abandon"}[new_state.value]
        told_at = time.time()
        self._record({"event": event, "trial": target.id, "value": value, **({"values": values} if values else {}),
                      "info": info, "told_at": told_at})
        target.state, target.value, target.values, target.info, target.told_at = new_state, value, values, info, told_at
        if new_state == TrialState.ABANDONED:
            self._registry.release(target)
        return target

    def _checked(self, told: Any, label: str) -> tuple[float | None, dict[str, float] | None]:
        """A told result as ``(value, values)``: the objective's value (``None`` with several objectives) and,
        with named outcomes, every metric by name; ``ValueError`` naming what is wrong."""
        if self.outcomes is None:
            if isinstance(told, Mapping):
                raise ValueError(f"{label} is a dict; this optimizer has one unnamed objective and takes a number "
                                 "(name objectives with Optimizer(objectives=...) to tell several metrics)")
            return self.settings.check_value(told, label), None
        values = self.outcomes.check(told, label)
        return (None if self.outcomes.is_multi_objective else values[self.outcomes.names[0]]), values

    def attach(self, arch: Any, value: float | Mapping[str, float], info: dict[str, Any] | None = None,
               fidelity: float | None = None) -> Trial:
        """Add a result obtained elsewhere (a warm start) as a completed trial (a dict with named outcomes, as
        :meth:`tell`). A multi-fidelity optimizer needs its ``fidelity`` (a cell may be attached at several)."""
        self.check_writable()
        self.space.validate(arch)
        value, values = self._checked(value, "attached value")
        if self.fidelities is None:
            if fidelity is not None:
                raise ValueError(f"fidelity={fidelity!r}: this optimizer has no fidelities")
            self._registry.refuse_seen(arch)
        else:
            if fidelity is None:
                raise ValueError(f"attach needs fidelity= one of {list(self.fidelities.levels)}: this optimizer "
                                 "is multi-fidelity")
            fidelity = self.fidelities.check(fidelity, "attached fidelity")
            self._registry.refuse_held(arch, fidelity)
        now = time.time()
        trial = Trial(id=self._registry.next_id, arch=arch, arch_str=self.space.to_str(arch),
                      state=TrialState.COMPLETE, value=value, values=values, info=dict(info or {}), asked_at=now,
                      told_at=now, fidelity=fidelity)
        self._record({"event": "attach", "trial": trial.id, "arch": trial.arch_str, "value": value,
                      **({"values": values} if values else {}), **({} if fidelity is None else {"fidelity": fidelity}),
                      "info": trial.info, "told_at": now})
        self._registry.add(trial)
        return trial

    @classmethod
    def load(cls, path: str | Path, in_flight: str = "keep", device: str = "auto",
             space: Space | None = None, read_only: bool = False,
             feasible: Callable[[Any], bool] | None = None, prior: Callable[[Any], Any] | None = None
             ) -> "Optimizer":
        """Rebuild an optimizer from its journal and keep appending to it.

        A journal has one writer: the optimizer holds its lock (a ``<path>.lock`` file) until
        :meth:`close`, garbage collection or the end of its process. Loading a journal that another
        process has open raises :class:`bonas.journal_lock.JournalLockedError` naming that process;
        loading one that an optimizer of this process has open hands the writing over to the new
        optimizer (the old one's ``ask`` and ``tell`` raise from then on).

        :param in_flight: trials asked but never told stay running (``"keep"``: tell them later) or are recorded
            as abandoned (``"abandon"``: their architectures can be asked again).
        :param space: the search space, needed for a space bonas cannot build by name (a
            ``CellSpace``, a ``SubsetSpace``, your own ``Space``); its name must be the journal's.
        :param read_only: read the journal without its lock (e.g. while a run writes it): the
            trials, ``best_trial`` and :meth:`pareto_front` are there, ``ask``, ``tell`` and ``attach`` raise.
        :param feasible: the feasibility predicate the journal was written with (its settings name it).
        :param prior: the cheap signals the journal was written with (its settings name them).
        """
        return load_journal(cls, path, in_flight=in_flight, device=device, space=space, read_only=read_only,
                            feasible=feasible, prior=prior)

    def __repr__(self) -> str:
        return (f"Optimizer(space={self.space.name!r}, encoding={self.settings.encoding!r}, "
                f"trials={len(self._registry)}, pending={len(self.pending)})")
