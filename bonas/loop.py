"""The asynchronous run loop: keep ``max_in_flight`` evaluations busy, tell each result as it arrives."""

from __future__ import annotations

import logging
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bonas.backends.base import Backend, Evaluate, Outcome
from bonas.backends.local import LocalBackend
from bonas.journal import check_json
from bonas.optimizer import Optimizer
from bonas.trial import Trial, TrialState

logger = logging.getLogger(__name__)


def run(
    opt: Optimizer,
    evaluate: Evaluate,
    backend: Backend | None = None,
    n_trials: int = 200,
    max_in_flight: int = 8,
    batch: str | None = None,
    show_progress: bool = True,
) -> Optimizer:
    """Drive ``opt`` until ``n_trials`` trials are told (completed or failed), evaluating on ``backend``.

    Asks as many architectures as fit under ``max_in_flight`` (as one batch,
    selected by ``batch``; see :meth:`Optimizer.ask`), tells each result as soon
    as it arrives (not batch-synchronously), and records an evaluation that
    raised, died ``max_retries`` times or timed out as a failed trial with the
    reason in its info. Trials of a resumed optimizer that are still running
    are evaluated again first. Every event goes to the optimizer's journal, so
    a crashed run resumes with ``run(Optimizer.load(path), ...)``.

    :param evaluate: ``arch -> float`` or ``arch -> {"value": float, ...}``; picklable for process backends.
    :param backend: where evaluations run (default: ``LocalBackend(max_in_flight)``, shut down at the end).
    """
    if n_trials < 1 or max_in_flight < 1:
        raise ValueError(f"n_trials and max_in_flight must be at least 1, got {n_trials} and {max_in_flight}")
    own_backend = backend is None
    backend = backend if backend is not None else LocalBackend(n_workers=max_in_flight)
    trials = {trial.id: trial for trial in opt.pending}
    try:
        for trial in trials.values():
            backend.submit(trial.id, evaluate, trial.arch)
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn())
        with Progress(*columns, disable=not show_progress) as progress:
            bar = progress.add_task("bonas run", total=n_trials, completed=_n_told(opt))
            while _n_told(opt) < n_trials:
                room = min(max_in_flight - len(trials), n_trials - _n_told(opt) - len(trials))
                if room > 0:
                    for trial in opt.ask(room, batch=batch):
                        trials[trial.id] = trial
                        backend.submit(trial.id, evaluate, trial.arch)
                for outcome in backend.wait():
                    _tell(opt, trials.pop(outcome.trial_id), outcome)
                    best = opt.best_trial
                    progress.update(bar, completed=_n_told(opt),
                                    description=f"bonas run, best {best.value:.4g}" if best else "bonas run")
    finally:
        if own_backend:
            backend.shutdown()
    return opt


def _tell(opt: Optimizer, trial: Trial, outcome: Outcome) -> None:
    """Tell ``outcome``; a result the optimizer refuses (e.g. 100 under ``log-error``) fails the trial, naming why."""
    info = outcome.info | {"attempts": outcome.attempts}
    error = outcome.error
    if error is None:
        try:
            opt.tell(trial, outcome.value, info=info)
            return
        except ValueError as refusal:
            error = f"the optimizer refused the result {outcome.value!r}: {refusal}"
    logger.warning("trial %d (%s) failed: %s", trial.id, trial.arch_str, error)
    opt.tell(trial, state="failed", info=_journalable(info) | {"error": error})


def _journalable(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` if a journal can hold it, else only its ``attempts`` (a backend's info may be what was refused)."""
    try:
        check_json(info, "info")
    except ValueError:
        return {"attempts": info["attempts"]}
    return info


def _n_told(opt: Optimizer) -> int:
    return sum(trial.state in (TrialState.COMPLETE, TrialState.FAILED) for trial in opt.trials)
