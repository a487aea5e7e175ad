"""The asynchronous run loop: keep ``max_in_flight`` evaluations busy, tell each result as it arrives.

A run whose first ``fail_fast`` (default :data:`FAIL_FAST`) told evaluations
all fail with the same error (exception type and message, tracebacks aside)
is stopped with an :class:`EvaluationError`: such an error is systematic (a
missing file, a bad import, a wrong signature), and the remaining trials
would only repeat it.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bonas.backends.base import Backend, Evaluate, Outcome, error_summary
from bonas.backends.local import LocalBackend
from bonas.interrupts import remembered_interrupts
from bonas.optimizer import Optimizer, SpaceExhaustedError
from bonas.progress import Progress
from bonas.trial import Trial, TrialState
from bonas.validation import check_int, is_integer

logger = logging.getLogger(__name__)

FAIL_FAST = 3
"""How many first evaluations of a run failing with one same error stop it (``run``'s ``fail_fast``)."""


class EvaluationError(RuntimeError):
    """A run stopped because its first evaluations all failed with the same error.

    :ivar error: the first failure's full error (with its traceback when ``evaluate`` raised).
    :ivar trial_ids: the failed trials.
    """

    def __init__(self, message: str, error: str, trial_ids: list[int]) -> None:
        super().__init__(message)
        self.error = error
        self.trial_ids = trial_ids


def run(
    opt: Optimizer,
    evaluate: Evaluate,
    backend: Backend | None = None,
    n_trials: int = 200,
    max_in_flight: int = 8,
    batch: str | None = None,
    show_progress: bool = True,
    fail_fast: int | None = FAIL_FAST,
    checkpoints: str | Path | None = None,
) -> Optimizer:
    """Drive ``opt`` until ``n_trials`` trials are told (completed or failed), evaluating on ``backend``.

    Asks as many architectures as fit under ``max_in_flight`` (as one batch,
    selected by ``batch``; see :meth:`Optimizer.ask`), tells each result as soon
    as it arrives (not batch-synchronously), and records an evaluation that
    raised, died ``max_retries`` times or timed out as a failed trial with the
    reason in its info. Trials of a resumed optimizer that are still running
    are evaluated again first. Every event goes to the optimizer's journal, so
    a crashed run resumes with ``run(Optimizer.load(path), ...)``. A space with
    nothing left to ask ends the run once the trials in flight are told (logged),
    with fewer than ``n_trials`` told.

    :param evaluate: ``arch -> float`` or ``arch -> {"value": float, ...}`` (for an optimizer with named
        ``objectives``, ``{"value": {metric: float, ...}, ...}``, e.g. :class:`~bonas.WithParams`). Process
        backends pickle it (``LocalBackend`` with cloudpickle: lambdas and closures too); one that cannot be is
        refused with a ``TypeError`` before any trial is asked.
    :param backend: where evaluations run (default: ``LocalBackend(max_in_flight)``, shut down at the end).
    :param show_progress: a rich bar in a terminal; elsewhere (a log file) a plain line every
        ``BONAS_PROGRESS_INTERVAL`` seconds (default 30) with trials told, the best value, elapsed time and ETA
        (:class:`bonas.progress.Progress`).
    :param fail_fast: stop when the first this many evaluations told in this run all fail with the same
        error: the backend is shut down and :class:`EvaluationError` raised; the failures are told, trials
        still in flight stay so in the journal, and resuming re-runs them. ``None`` never stops.
    :param checkpoints: for a multi-fidelity optimizer, the folder of per-trial checkpoints (``trial-<id>.pt``):
        each evaluation is called ``evaluate(arch, fidelity=..., save_path=..., resume_path=...)``, a promotion's
        ``resume_path`` its source trial's checkpoint, so that an evaluator that keeps weights
        (:class:`~bonas.evaluators.TrainingEvaluator`) continues from them. Default: ``<journal>.checkpoints``
        beside the optimizer's journal, none (``evaluate(arch, fidelity=...)`` only) without one.
    :raises RuntimeError: the optimizer cannot write its journal (read-only, closed or handed over), before
        anything is submitted.
    :raises TypeError: ``evaluate`` cannot run on ``backend``, or takes no ``fidelity`` for a multi-fidelity
        optimizer. A trial whose ``submit`` raised, and the rest
        of its batch, are recorded as abandoned with the reason before the error propagates.
    """
    check_int(n_trials, "n_trials", minimum=1)
    check_int(max_in_flight, "max_in_flight", minimum=1)
    if fail_fast is not None and not (is_integer(fail_fast) and fail_fast >= 1):
        raise ValueError(f"fail_fast must be at least 1 or None, got {fail_fast}")
    own_backend = backend is None
    backend = backend if backend is not None else LocalBackend(n_workers=max_in_flight)
    trials: dict[int, Trial] = {}
    first_failures: list[tuple[int, str | None]] = []
    exhausted = False
    try:
        opt.check_writable()
        backend.check(evaluate)
        evaluate = _at_fidelity(opt, evaluate, checkpoints)
        _submit(opt, backend, evaluate, opt.pending, trials)
        with Progress("bonas run", n_trials, completed=_n_told(opt), enabled=show_progress) as progress, \
                remembered_interrupts() as pressed:
            while _n_told(opt) < n_trials and not (exhausted and not trials):
                room = min(max_in_flight - len(trials), n_trials - _n_told(opt) - len(trials))
                if room > 0 and not exhausted:
                    try:
                        _submit(opt, backend, evaluate, opt.ask(room, batch=batch), trials)
                    except SpaceExhaustedError as error:
                        exhausted = True
                        logger.warning("%s; the %d trial(s) in flight finish and the run ends", error, len(trials))
                        continue
                for outcome in backend.wait():
                    error = _tell(opt, trials.pop(outcome.trial_id), outcome)
                    if fail_fast is not None and len(first_failures) < fail_fast:
                        first_failures.append((outcome.trial_id, error))
                    progress.update(_n_told(opt), status=_progress_status(opt))
                if pressed():  # a Ctrl-C whose own KeyboardInterrupt Python dropped (bonas.interrupts)
                    raise KeyboardInterrupt
                if fail_fast is not None and _systematic(first_failures, fail_fast):
                    backend.shutdown()
                    raise _stopped(opt, first_failures[:fail_fast], len(trials))
    finally:
        if own_backend:
            backend.shutdown()
    return opt


class _FidelityEvaluation:
    """``evaluate`` of a multi-fidelity run: ``trial -> evaluate(arch, fidelity=..., [save_path, resume_path])``."""

    def __init__(self, evaluate: Evaluate, checkpoints: Path | None) -> None:
        self.evaluate, self.checkpoints = evaluate, checkpoints

    def __call__(self, trial: Trial) -> Callable[[Any], Any]:
        options: dict[str, Any] = {"fidelity": trial.fidelity}
        if self.checkpoints is not None:
            options["save_path"] = str(self.checkpoints / f"trial-{trial.id}.pt")
            if trial.promoted_from is not None:
                options["resume_path"] = str(self.checkpoints / f"trial-{trial.promoted_from}.pt")
        return functools.partial(self.evaluate, **options)


def _at_fidelity(opt: Optimizer, evaluate: Evaluate,
                 checkpoints: str | Path | None) -> Evaluate | _FidelityEvaluation:
    """``evaluate`` as is for a single-fidelity optimizer; else a :class:`_FidelityEvaluation` (``TypeError``
    when ``evaluate`` takes no ``fidelity``)."""
    if opt.fidelities is None:
        return evaluate
    try:
        parameters = inspect.signature(evaluate).parameters
    except (TypeError, ValueError):
        parameters = {}
    takes_any = any(parameter.kind == parameter.VAR_KEYWORD for parameter in parameters.values())
    if "fidelity" not in parameters and not takes_any:
        raise TypeError(f"a multi-fidelity optimizer calls evaluate(arch, fidelity=...); {evaluate!r} takes no "
                        "fidelity (TrainingEvaluator does: it trains that many epochs)")
    if checkpoints is None and opt._journal is not None:
        checkpoints = opt._journal.path.with_name(opt._journal.path.name + ".checkpoints")
    return _FidelityEvaluation(evaluate, None if checkpoints is None else Path(checkpoints))


def _submit(opt: Optimizer, backend: Backend, evaluate: Evaluate | _FidelityEvaluation, new_trials: list[Trial],
            trials: dict[int, Trial]) -> None:
    """Submit ``new_trials``, adding them to ``trials``; if a submit raises, abandon it and the rest, and re-raise."""
    for index, trial in enumerate(new_trials):
        try:
            call = evaluate(trial) if isinstance(evaluate, _FidelityEvaluation) else evaluate
            backend.submit(trial.id, call, trial.arch)
        except Exception as error:
            for unsent in new_trials[index:]:
                opt.tell(unsent, state="abandoned", info={"reason": f"not submitted: {type(error).__name__}: {error}"})
            raise
        trials[trial.id] = trial


def _systematic(first: list[tuple[int, str | None]], fail_fast: int) -> bool:
    """Whether the first ``fail_fast`` outcomes (trial id, error) all failed with one same error."""
    if len(first) < fail_fast or any(error is None for _, error in first[:fail_fast]):
        return False
    return len({error_summary(error) for _, error in first[:fail_fast]}) == 1


def _stopped(opt: Optimizer, failures: list[tuple[int, str]], n_in_flight: int) -> EvaluationError:
    """The error that stops a run whose first evaluations all failed alike, saying how to resume it."""
    trial_ids = [trial_id for trial_id, _ in failures]
    journal = getattr(opt._journal, "path", None)
    resume = (f"bonas.run(bonas.Optimizer.load({str(journal)!r}), ...) resumes the journal" if journal is not None
              else "bonas.run(opt, ...) on this optimizer goes on")
    message = (f"stopped: the first {len(failures)} evaluations of this run (trials {trial_ids}) all failed with "
               f"{error_summary(failures[0][1])!r}. Fix evaluate, then {resume} and re-runs the {n_in_flight} "
               f"trial(s) left in flight; run(..., fail_fast=None) never stops.\nFirst failure: {failures[0][1]}")
    return EvaluationError(message, failures[0][1], trial_ids)


def _tell(opt: Optimizer, trial: Trial, outcome: Outcome) -> str | None:
    """Tell ``outcome``; a result the optimizer refuses (e.g. 100 under ``log-error``) fails the trial, naming why.

    An info its journal refuses (a backend that hands on an evaluator's dict as it is) fails the trial with only
    ``attempts`` and the error: the journal's check is the one that decides. Returns the trial's error, ``None``
    when it completed.
    """
    info = outcome.info | {"attempts": outcome.attempts}
    error = outcome.error
    if error is None:
        try:
            opt.tell(trial, outcome.value, info=info)
            return None
        except ValueError as refusal:
            error = f"the optimizer refused the result {outcome.value!r}: {refusal}"
    logger.warning("trial %d (%s) failed: %s", trial.id, trial.arch_str, error)
    try:
        opt.tell(trial, state="failed", info=info | {"error": error})
    except ValueError:  # the journal refused the info itself; the journal is unchanged, the trial still running
        opt.tell(trial, state="failed", info={"attempts": outcome.attempts, "error": error})
    return error


def _n_told(opt: Optimizer) -> int:
    return sum(trial.state in (TrialState.COMPLETE, TrialState.FAILED) for trial in opt.trials)


def _progress_status(opt: Optimizer) -> str:
    """The progress status: the best value so far, or the Pareto front's size with several objectives."""
    if opt.outcomes is not None and opt.outcomes.is_multi_objective:
        return f"Pareto front of {len(opt.pareto_front())}"
    best = opt.best_trial
    return f"best {best.value:.4g}" if best else "no value yet"
