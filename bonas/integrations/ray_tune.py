"""A Ray Tune searcher backed by a bonas :class:`~bonas.Optimizer`: Tune runs and stops trials, bonas proposes cells.

``tune.Tuner(trainable, tune_config=tune.TuneConfig(search_alg=BonasSearch(space, metric="accuracy", mode="max"),
scheduler=ASHAScheduler(max_t=...), num_samples=...))``: each :meth:`BonasSearch.suggest` is one ``ask(1)`` and
each :meth:`BonasSearch.on_trial_complete` one ``tell``. A Tune trial in flight is a running bonas trial, so the
next ask treats it as pending (its cell is never proposed twice and the acquisition conditions on it) however many
trials Tune's ``max_concurrent_trials`` (a :class:`~ray.tune.search.ConcurrencyLimiter`) lets run at once.

What a trial's config holds (:func:`cell_config`): ``"arch"``, the space's string of the cell (``space.from_str``
turns it back into the architecture), and the fields of the architecture value as JSON lists: for NAS-Bench-201
``"ops"``, the six edge ops in the standard string's edge order (0->1, 0->2, 1->2, 0->3, 1->3, 2->3); for a
``CellSpace`` (NAS-Bench-101) ``"matrix"`` and ``"ops"``; for DARTS ``"normal"`` and ``"reduce"``, eight
``[op, input node]`` pairs each. Constant entries of the Tuner's ``param_space`` are merged in by Tune.

Ray Tune is an optional extra (``pip install "bonas[tune]"``), imported with this module.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ray.tune.search import Searcher
from ray.tune.search.variant_generator import parse_spec_vars

from bonas.candidates import SpaceExhaustedError
from bonas.files import atomic_write
from bonas.optimizer import Optimizer
from bonas.spaces.base import Space
from bonas.trial import Trial
from bonas.validation import check_choice, check_int, is_finite

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "bonas-ray-tune"
CHECKPOINT_VERSION = 1
__all__ = ["BonasSearch", "cell_config"]
_SET_HERE = {"maximize": "pass mode= instead", "storage": "pass journal= instead",
             "objectives": "it tells one metric, its metric=", "constraints": "it tells one metric, its metric="}


def cell_config(space: Space, arch: Any) -> dict[str, Any]:
    """The Tune config of ``arch``: ``{"arch": space.to_str(arch), <field>: [...], ...}`` (module docstring).

    The fields of a dataclass architecture (every space bonas ships) come as nested lists; a space whose
    architecture is not a dataclass gives ``{"arch": ...}`` alone.
    """
    space.validate(arch)
    parts = {} if not dataclasses.is_dataclass(arch) else {
        field.name: _as_lists(getattr(arch, field.name)) for field in dataclasses.fields(arch)}
    return {"arch": space.to_str(arch), **parts}


def _as_lists(value: Any) -> Any:
    return [_as_lists(item) for item in value] if isinstance(value, (tuple, list)) else value


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (for the journal's JSON); anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


class BonasSearch(Searcher):
    """A :class:`ray.tune.search.Searcher` whose suggestions are a bonas optimizer's asks.

    :param space: the search space (``bonas.spaces``); every suggestion is one of its cells (:func:`cell_config`).
    :param metric: the result key told to the optimizer (one metric; Tune's ``TuneConfig(metric=...)``, if given
        too, must agree).
    :param mode: ``"max"`` or ``"min"``: the optimizer maximises or minimises ``metric``.
    :param journal: path of the optimizer's JSON Lines journal. A new one is created. One that exists is resumed
        when first needed (its settings must agree with ``optimizer_options``; its trials in flight are abandoned,
        as this Tune run does not know them), unless :meth:`restore` comes first. ``None``: the optimizer journals
        to a temporary file of this searcher (:attr:`journal_path`, deleted with it), so that :meth:`save` and
        :meth:`restore` work the same either way.
    :param max_t: the ``time_attr`` value of a fully trained trial, as ASHA's ``max_t``; ``None``: every trial
        that ends is fully trained (a FIFO scheduler, or trials that report once).
    :param time_attr: the result key counting a trial's training progress, as ASHA's ``time_attr``.
    :param optimizer_options: any other argument of :class:`~bonas.Optimizer` (``encoding``, ``seed``,
        ``n_initial``, ``deterministic``, ``feasible``, ``device``, ...), except ``maximize`` and ``storage``
        (``mode`` and ``journal`` here) and ``objectives`` and ``constraints`` (one metric is told).

    How a finished Tune trial is told (:meth:`on_trial_complete`):

    * it reached ``max_t`` (or ``max_t`` is ``None``): ``tell(value)`` with its last reported ``metric``;
    * **stopped early by a scheduler** (its last ``time_attr`` is below ``max_t``): recorded as *pruned*, a failed
      trial with ``info={"pruned": True, <metric>: last value, <time_attr>: where it stopped, "error": ...}``.
      Its last value is the accuracy of a shorter training, biased low against the fully trained values the GP
      holds (on NAS-Bench-201 CIFAR-100 the 12-epoch test accuracy is 21 points below the 200-epoch one on average):
      told as a result it would read as a bad cell with a large error, and one GP over both fidelities would be
      mis-fitted. Failed, the cell stays taken (it is never proposed again, the scheduler already judged it) and
      the GP sees only fully trained values. ASHA stops most trials at its first rungs, so only the trials that
      reach ``max_t`` inform the model: the price of keeping it on one fidelity. (Tune marks a trial stopped by a
      scheduler ``done`` as well, so ``max_t`` is how a searcher can tell the two apart.)
    * the trainable raised (``error=True``), or its last ``metric`` is NaN or infinite: failed, the cell taken.
    * removed before it reported anything (Tune ends an experiment with trials pending): abandoned, its cell can
      be proposed again.

    :meth:`save` writes a JSON checkpoint (the journal's text and which Tune trial is which bonas trial);
    :meth:`restore` rebuilds the optimizer from it (``Tuner.restore`` calls both through Tune's searcher state;
    pickling, as Tune pickles its Tuner, keeps the same state). ``set_max_concurrency`` is Tune's default (the
    ``ConcurrencyLimiter`` limits): concurrency needs nothing of bonas beyond the pending trials every ask sees.
    """

    def __init__(self, space: Space, metric: str, mode: str = "max", journal: str | Path | None = None,
                 max_t: int | None = None, time_attr: str = "training_iteration", **optimizer_options: Any) -> None:
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"metric must name one result key (a non-empty string), got {metric!r}")
        check_choice(mode, "mode", ("max", "min"))
        if max_t is not None:
            check_int(max_t, "max_t", minimum=1)
        if not isinstance(time_attr, str) or not time_attr:
            raise ValueError(f"time_attr must name a result key (a non-empty string), got {time_attr!r}")
        for name, instead in _SET_HERE.items():
            if name in optimizer_options:
                raise ValueError(f"BonasSearch does not take the optimizer's {name!r}: {instead}")
        super().__init__(metric=metric, mode=mode)
        self.space = space
        self.journal = None if journal is None else Path(journal)
        self.max_t = max_t
        self.time_attr = time_attr
        self.optimizer_options = dict(optimizer_options)
        self._reset()
        if self.journal is None or not self.journal.exists():
            self._open()

    def _reset(self) -> None:
        """No optimizer open yet (:meth:`_open` makes it), no Tune trial known."""
        self._optimizer: Optimizer | None = None
        self._temporary: tempfile.TemporaryDirectory | None = None
        self._pickled: dict[str, Any] | None = None
        self._tune_trials: dict[str, int] = {}
        self._first_budget: Any = None
        self._warned_budgets = False

    def _open(self) -> None:
        """Make the optimizer: from the pickled state, by resuming ``journal``, or anew."""
        if self._pickled is not None:
            self._restore_state(self._pickled, "the pickled BonasSearch")
        elif self.journal is not None and self.journal.exists():
            self._optimizer = self._load(in_flight="abandon")
            logger.info("%s: resumed with %d trial(s)", self.journal, len(self._optimizer.trials))
        else:
            self._optimizer = Optimizer(self.space, maximize=self.mode == "max", storage=self._new_journal_path(),
                                        **self.optimizer_options)

    def _load(self, in_flight: str) -> Optimizer:
        """The optimizer of :attr:`journal_path`; ``ValueError`` if its settings contradict this searcher's."""
        optimizer = Optimizer.load(self.journal_path, in_flight=in_flight, space=self.space,
                                   device=self.optimizer_options.get("device", "auto"),
                                   feasible=self.optimizer_options.get("feasible"))
        given = {"maximize": self.mode == "max"} | {
            name: str(value) if name == "checkpoint" and value is not None else value
            for name, value in self.optimizer_options.items() if name not in ("device", "feasible")}
        differ = {name: (value, getattr(optimizer.settings, name, None)) for name, value in given.items()
                  if getattr(optimizer.settings, name, None) != value}
        if differ:
            optimizer.close()
            raise ValueError(f"{self.journal_path} was written with other settings: "
                             + ", ".join(f"{name}={journal!r} (given {value!r})"
                                         for name, (value, journal) in differ.items()))
        return optimizer

    @property
    def optimizer(self) -> Optimizer:
        """The bonas optimizer this searcher asks and tells (made, resumed or unpickled on first use)."""
        if self._optimizer is None:
            self._open()
        return self._optimizer

    @property
    def journal_path(self) -> Path:
        """Where the optimizer journals: ``journal``, or this searcher's temporary file."""
        return self.journal if self._temporary is None else Path(self._temporary.name) / "journal.jsonl"

    @property
    def tune_trials(self) -> dict[str, int]:
        """Tune trial id -> bonas trial id, for every trial suggested (a copy)."""
        return dict(self._tune_trials)

    def _new_journal_path(self) -> Path:
        if self.journal is not None:
            return self.journal
        self._temporary = tempfile.TemporaryDirectory(prefix="bonas-tune-")
        return self.journal_path

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        """Tune's ``TuneConfig(metric=, mode=)`` and ``param_space``, as Tune passes them.

        ``metric`` and ``mode`` must be this searcher's (its optimizer was made for them). ``config`` may hold
        constants, merged into every trial's config by Tune, but no search domains (bonas proposes the cell only)
        and no key of the cell's config.
        """
        for name, given, own in (("metric", metric, self.metric), ("mode", mode, self.mode)):
            if given is not None and given != own:
                raise ValueError(f"TuneConfig({name}={given!r}) disagrees with BonasSearch({name}={own!r}); give "
                                 "the same, or give it once")
        _, domains, grids = parse_spec_vars(config or {})
        searched = ["/".join(map(str, path)) for path, _ in (*domains, *grids)]
        if searched:
            raise ValueError(f"param_space searches {searched}: BonasSearch proposes only the cell; fix these to "
                             "constants (or search them in an outer loop)")
        example = self.space.sample(1, np.random.default_rng(0))[0]
        clash = sorted(set(config or {}) & set(cell_config(self.space, example)))
        if clash:
            raise ValueError(f"param_space keys {clash} are the cell's config keys; rename them")
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str:
        """Ask the optimizer for one cell, its config (:func:`cell_config`); ``Searcher.FINISHED`` once every
        cell of the space has been asked."""
        if trial_id in self._tune_trials:
            raise ValueError(f"Tune trial {trial_id!r} was suggested already (bonas trial "
                             f"{self._tune_trials[trial_id]})")
        try:
            (trial,) = self.optimizer.ask(1)
        except SpaceExhaustedError as exhausted:
            logger.info("%s: BonasSearch is finished", exhausted)
            return Searcher.FINISHED
        self._tune_trials[trial_id] = trial.id
        return cell_config(self.space, trial.arch)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Tell the optimizer how Tune trial ``trial_id`` ended (the class docstring says which state, and why).

        ``KeyError`` for a trial this searcher did not suggest, ``ValueError`` for a result that reported
        progress but not ``metric`` (or, with ``max_t``, not ``time_attr``).
        """
        if trial_id not in self._tune_trials:
            raise KeyError(f"Tune trial {trial_id!r} was not suggested by this BonasSearch "
                           f"({len(self._tune_trials)} were)")
        optimizer = self.optimizer
        trial = optimizer.trials[self._tune_trials[trial_id]]
        if trial.state.is_finished:
            # restored from a journal that had this trial's outcome before Tune re-ran it
            logger.info("Tune trial %s (bonas trial %d) is %s already; keeping that", trial_id, trial.id,
                        trial.state.value)
            return
        info: dict[str, Any] = {"tune_trial_id": trial_id}
        if error:
            optimizer.tell(trial, state="failed", info=info | {"error": "the Ray Tune trial raised"})
            return
        result = dict(result or {})
        if self.metric not in result:
            if self.time_attr not in result:
                optimizer.tell(trial, state="abandoned", info=info | {"reason": "ended before reporting"})
                return
            raise ValueError(f"Tune trial {trial_id!r} reported no {self.metric!r} (the metric of this "
                             f"BonasSearch); its result holds {sorted(result)}")
        value, budget = result[self.metric], result.get(self.time_attr)
        if self.max_t is not None and budget is None:
            raise ValueError(f"Tune trial {trial_id!r} reported no {self.time_attr!r}, which max_t={self.max_t} "
                             f"counts; its result holds {sorted(result)}")
        info[self.time_attr] = _plain(budget)
        value = float(value) if is_finite(value) else None
        if self.max_t is not None and budget < self.max_t:
            optimizer.tell(trial, state="failed", info=info | {
                "pruned": True, self.metric: value,
                "error": f"stopped early by the scheduler at {self.time_attr}={budget} (max_t={self.max_t})"})
            return
        if self.max_t is None:
            self._warn_mixed_budgets(budget)
        if value is None:
            optimizer.tell(trial, state="failed",
                           info=info | {"error": f"reported {self.metric}={result[self.metric]!r}"})
            return
        optimizer.tell(trial, value, info=info)

    def _warn_mixed_budgets(self, budget: Any) -> None:
        """Warn once when trials end at different ``time_attr`` values without ``max_t`` (a scheduler stops some)."""
        if self._first_budget is None:
            self._first_budget = budget
        elif budget != self._first_budget and not self._warned_budgets:
            logger.warning("trials ended at %s=%s and %s=%s: if a scheduler stops trials early, pass "
                           "BonasSearch(max_t=...) so that they are recorded as pruned rather than told a value of a "
                           "shorter training", self.time_attr, self._first_budget, self.time_attr, budget)
            self._warned_budgets = True

    def add_evaluated_point(self, parameters: dict, value: float, error: bool = False, pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> Trial | None:
        """Attach a cell evaluated outside this search (``parameters`` holds its ``"arch"`` string, and may hold
        the rest of its :func:`cell_config`, which must agree) as a completed trial; returns it.

        A point that raised or was pruned is not recorded (logged): ``attach`` records completed results only, and
        a pruned value is a shorter training's (class docstring). ``intermediate_values`` are not used.
        """
        if not isinstance(parameters, Mapping) or not isinstance(parameters.get("arch"), str):
            raise ValueError(f"an evaluated point's parameters need the cell's 'arch' string; got {parameters!r}")
        arch = self.space.from_str(parameters["arch"])
        expected = cell_config(self.space, arch)
        disagree = sorted(key for key in expected if key in parameters and _as_lists(parameters[key]) != expected[key])
        if disagree:
            raise ValueError(f"parameters {disagree} disagree with 'arch' {parameters['arch']!r}: expected "
                             f"{ {key: expected[key] for key in disagree} }")
        if error or pruned:
            logger.info("not attaching %s: it %s", parameters["arch"], "raised" if error else "was pruned")
            return None
        return self.optimizer.attach(arch, value, info={"source": "add_evaluated_point"})

    def save(self, checkpoint_path: str) -> None:
        """Write this searcher's state to ``checkpoint_path`` as JSON: the journal's text and the Tune trial ids."""
        atomic_write(checkpoint_path, json.dumps(self._state()).encode("ascii"))

    def _state(self) -> dict[str, Any]:
        if self._optimizer is None:
            if self._pickled is not None:
                return self._pickled
            self._open()
        return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "metric": self.metric, "mode": self.mode,
                "journal": str(self.journal_path), "journal_text": self.journal_path.read_text(encoding="ascii"),
                "tune_trials": self._tune_trials}

    def restore(self, checkpoint_path: str) -> None:
        """Rebuild the optimizer from a checkpoint of :meth:`save`; Tune's trials in flight then stay pending.

        With ``journal``, the optimizer loads that journal when it continues the checkpoint's text (it may hold
        trials the checkpoint does not: those in flight are abandoned, Tune does not know them) and writes the
        checkpoint's text there when it is missing or holds no trial yet; without, it loads the checkpoint's text
        from a new temporary file. The settings are the journal's (``optimizer_options`` given must agree).
        ``ValueError`` for a checkpoint of another metric or mode, a ``journal`` that does not continue the
        checkpoint, or settings that disagree.
        """
        try:
            state = json.loads(Path(checkpoint_path).read_text(encoding="ascii"))
        except ValueError as error:
            raise ValueError(f"{checkpoint_path} is not a BonasSearch checkpoint: {error}") from None
        self._restore_state(state, str(checkpoint_path))

    def _restore_state(self, state: Any, where: str) -> None:
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{where} is not a BonasSearch checkpoint")
        if state.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"{where} has checkpoint version {state.get('version')!r}; this bonas reads "
                             f"{CHECKPOINT_VERSION}")
        if (state["metric"], state["mode"]) != (self.metric, self.mode):
            raise ValueError(f"{where} is a search for metric={state['metric']!r}, mode={state['mode']!r}; this "
                             f"BonasSearch has metric={self.metric!r}, mode={self.mode!r}")
        saved = state["journal_text"]
        live = self.journal.read_text(encoding="ascii") if self.journal is not None and self.journal.exists() else ""
        # a journal holding its create event alone is this searcher's own, made for nothing yet: replaced
        keep = live.count("\n") > 1
        if keep and not live.startswith(saved):
            raise ValueError(f"{self.journal} does not continue the journal of {where} (written to "
                             f"{state['journal']}); restore with the journal that search wrote, or journal=None")
        if self._optimizer is not None:
            self._optimizer.close()
        if self.journal is None:
            self._new_journal_path()
        if not keep:
            atomic_write(self.journal_path, saved.encode("ascii"))
        self._optimizer, self._pickled = self._load(in_flight="keep"), None
        self._tune_trials = {str(tune_id): int(bonas_id) for tune_id, bonas_id in state["tune_trials"].items()}
        known = set(self._tune_trials.values())
        for trial in self._optimizer.pending:
            if trial.id not in known:
                self._optimizer.tell(trial, state="abandoned", info={"reason": "asked after the Tune checkpoint"})

    def __getstate__(self) -> dict[str, Any]:
        """What pickling keeps (Tune pickles its searcher with the Tuner): the arguments and a :meth:`save` state,
        from which unpickling rebuilds the optimizer as :meth:`restore` does."""
        return {"space": self.space, "metric": self.metric, "mode": self.mode, "journal": self.journal,
                "max_t": self.max_t, "time_attr": self.time_attr, "optimizer_options": self.optimizer_options,
                "state": self._state()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        Searcher.__init__(self, metric=state["metric"], mode=state["mode"])
        self.space, self.journal = state["space"], state["journal"]
        self.max_t, self.time_attr = state["max_t"], state["time_attr"]
        self.optimizer_options = state["optimizer_options"]
        self._reset()
        self._pickled = state["state"]

    def __repr__(self) -> str:
        return (f"BonasSearch(space={self.space.name!r}, metric={self.metric!r}, mode={self.mode!r}, "
                f"journal={str(self.journal_path)!r}, tune_trials={len(self._tune_trials)})")
