"""What a search did, read from its journal alone: its state, ``trials.csv``, ``progress.png`` and ``front.png``.

:func:`read_report` reads a journal as :meth:`bonas.Journal.read` does: without its lock, so it works while an
optimizer (of this process or another) is appending to it, and a torn last line (one being written, or left by a
crash) is left out and reported. It needs neither the space nor the evaluator: the trials are the journal's
events, the architectures their strings. :func:`print_report` prints the state (trials by state, the best so far
and when it was found, failures grouped by error); :func:`write_report` writes

* ``trials.csv``: one row per trial (:data:`TRIAL_COLUMNS`, then one column per named metric, ``feasible`` with
  measured constraints, and one ``info.<key>`` column per info field any trial has);
* ``progress.png``: the best value so far against trials told and against wall-clock time since the first ask
  (with several objectives: the hypervolume of the front so far, each objective scaled to the range observed and
  the reference point the worst value observed of each);
* ``front.png``: with two objectives, every cell found and its Pareto front (:func:`bonas.replay.front_plot.
  plot_fronts`).

A trial's best-so-far counts only completed trials meeting the journal's measured constraints; a feasibility
predicate known before training (``Optimizer(feasible=...)``) is code the journal only names, so an attached
result is taken as feasible.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bonas.backends.base import error_summary
from bonas.console import print_table
from bonas.files import atomic_write
from bonas.journal import Journal, JournalCorruptError, check_event_fields
from bonas.outcomes import Outcomes, pareto_indices
from bonas.progress import format_duration
from bonas.replay.figures import save_figure
from bonas.replay.front_plot import plot_fronts
from bonas.replay.pareto import HypervolumeScale, hypervolume_trajectory
from bonas.trial import TrialState

TRIAL_COLUMNS = ("trial", "state", "ask", "value", "asked_at", "told_at", "duration_s", "arch")
"""The first columns of ``trials.csv``: the trial id, its state, the ask that proposed it (empty when attached),
its value (empty unless complete; with several objectives see the metric columns), when it was asked and told
(ISO 8601, local time with its UTC offset), the seconds between, and the architecture string."""
TRIALS_CSV, PROGRESS_PNG, FRONT_PNG = "trials.csv", "progress.png", "front.png"


@dataclass
class JournalTrial:
    """One trial as its journal records it; ``arch`` is the architecture string, ``ask`` ``None`` when attached."""

    id: int
    arch: str
    state: TrialState
    ask: int | None
    value: float | None = None
    values: dict[str, float] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    asked_at: float | None = None
    told_at: float | None = None
    fidelity: int | float | None = None

    @property
    def duration_s(self) -> float | None:
        """Seconds from ask to tell; ``None`` while running or when the journal has no times."""
        if self.asked_at is None or self.told_at is None:
            return None
        return self.told_at - self.asked_at


@dataclass
class JournalReport:
    """The trials of one journal and its settings.

    :ivar trials: every trial, in id order.
    :ivar told: the completed and failed trials, in the order they were told (abandoned ones are not counted).
    :ivar outcomes: the named objectives and constraints, ``None`` for one unnamed value.
    :ivar torn_bytes: the size of an incomplete last line left out (0 when there is none).
    """

    path: Path
    settings: dict[str, Any]
    outcomes: Outcomes | None
    trials: list[JournalTrial]
    told: list[JournalTrial]
    torn_bytes: int = 0

    @property
    def is_multi_objective(self) -> bool:
        """Whether the journal has two or more objectives (a front instead of a best trial)."""
        return self.outcomes is not None and self.outcomes.is_multi_objective

    @property
    def maximize(self) -> bool:
        """Whether the (first) objective is maximised."""
        if self.outcomes is not None:
            return self.outcomes.objectives[0][1] == "max"
        return bool(self.settings.get("maximize", True))

    def in_state(self, state: TrialState) -> list[JournalTrial]:
        """The trials in ``state``, in id order."""
        return [trial for trial in self.trials if trial.state == state]

    def is_feasible(self, trial: JournalTrial) -> bool:
        """Whether a completed trial counts toward the best: it meets the journal's measured constraints and, in a
        multi-fidelity journal, was evaluated at the target fidelity."""
        target = self.settings.get("target_fidelity")
        if target is not None and trial.fidelity != target:
            return False
        return self.outcomes is None or self.outcomes.is_feasible(trial.values)

    def feasible_completed(self) -> list[JournalTrial]:
        """Completed trials meeting the measured constraints, in id order."""
        return [trial for trial in self.in_state(TrialState.COMPLETE) if self.is_feasible(trial)]

    def ranked(self) -> list[JournalTrial]:
        """One objective: the feasible completed trials, best first (ties in id order)."""
        sign = 1.0 if self.maximize else -1.0
        return sorted(self.feasible_completed(), key=lambda trial: -sign * trial.value)

    def front(self) -> list[JournalTrial]:
        """Several objectives: the non-dominated feasible completed trials (ties all kept), in id order."""
        done = self.feasible_completed()
        return [done[index] for index in pareto_indices(self.outcomes.signed([trial.values for trial in done]))]

    def signed(self, trials: Sequence[JournalTrial]) -> np.ndarray:
        """``n x k`` objective values of ``trials`` (several objectives), each oriented so that larger is better."""
        return self.outcomes.signed([trial.values for trial in trials]).numpy()

    @property
    def start_time(self) -> float | None:
        """Unix time of the first ask (or attach), ``None`` when the journal holds no times."""
        times = [trial.asked_at if trial.asked_at is not None else trial.told_at for trial in self.trials]
        return min((when for when in times if when is not None), default=None)


@dataclass(frozen=True)
class ProgressCurve:
    """The best so far after each told trial.

    :ivar told: the told trials in order (length ``n``).
    :ivar best: length ``n``: the best feasible value so far (several objectives: the normalised hypervolume of
        the front so far), NaN before the first.
    :ivar label: what ``best`` is.
    """

    told: list[JournalTrial]
    best: np.ndarray
    label: str
    improved: list[int] = field(default_factory=list)
    """The indices into :attr:`told` of the trials that improved the best so far (the first result included)."""

    def last_improvement(self) -> int | None:
        """The index into :attr:`told` of the trial that last improved the best so far, ``None`` before any."""
        return self.improved[-1] if self.improved else None


def read_report(path: str | Path) -> JournalReport:
    """The trials of the journal at ``path``, read without its lock (an optimizer may be writing it).

    :raises FileNotFoundError: no file at ``path``.
    :raises bonas.JournalCorruptError: a line (other than a torn last one) is not a valid event, or the events do
        not fit together (a tell of an unknown trial, ids out of order), naming the line.
    """
    path = Path(path)
    contents = Journal(path).read()
    events = contents.events
    if not events or events[0]["event"] != "create" or not isinstance(events[0].get("settings"), dict):
        raise JournalCorruptError(f"{path}: the first event must be 'create' with the optimizer's settings"
                                  + ("" if events else " (the file holds no complete event yet)"))
    settings = events[0]["settings"]
    try:
        outcomes = (None if settings.get("objectives") is None
                    else Outcomes.from_json(settings["objectives"], settings.get("constraints")))
    except ValueError as error:
        raise JournalCorruptError(f"{path}, line 1: invalid settings: {error}") from None
    trials: list[JournalTrial] = []
    told: list[JournalTrial] = []
    for number, event in enumerate(events[1:], start=2):
        where = f"{path}, line {number}"
        check_event_fields(event, where)
        kind = event["event"]
        if kind == "create":
            raise JournalCorruptError(f"{where}: a second 'create' event")
        if kind in ("ask", "attach"):
            if event["trial"] != len(trials):
                raise JournalCorruptError(f"{where}: trial id {event['trial']} out of order; expected {len(trials)}")
            attached = kind == "attach"
            trial = JournalTrial(id=event["trial"], arch=event["arch"], ask=None if attached else event["ask"],
                                 state=TrialState.COMPLETE if attached else TrialState.RUNNING,
                                 asked_at=event.get("told_at") if attached else event.get("asked_at"),
                                 fidelity=event.get("fidelity"))
            trials.append(trial)
            if not attached:
                continue
        else:
            if not 0 <= event["trial"] < len(trials) or trials[event["trial"]].state != TrialState.RUNNING:
                raise JournalCorruptError(f"{where}: {kind!r} of trial {event['trial']}, which is not a running "
                                          f"trial")
            trial = trials[event["trial"]]
            trial.state = {"tell": TrialState.COMPLETE, "fail": TrialState.FAILED,
                           "abandon": TrialState.ABANDONED}[kind]
        trial.value, trial.values = event.get("value"), event.get("values")
        trial.info, trial.told_at = dict(event.get("info") or {}), event.get("told_at")
        if trial.state == TrialState.COMPLETE and not _told_in_full(trial, outcomes):
            raise JournalCorruptError(f"{where}: the result of trial {trial.id} does not hold every metric of "
                                      f"the journal's settings")
        if trial.state != TrialState.ABANDONED:
            told.append(trial)
    return JournalReport(path, settings, outcomes, trials, told, torn_bytes=contents.torn_bytes)


def _told_in_full(trial: JournalTrial, outcomes: Outcomes | None) -> bool:
    """Whether a completed trial holds what the report reads: its value, or every named metric."""
    if outcomes is None:
        return trial.value is not None
    return trial.values is not None and all(metric in trial.values for metric in outcomes.metrics)


def progress_curve(report: JournalReport) -> ProgressCurve:
    """The best so far after each told trial (:class:`ProgressCurve`)."""
    told = report.told
    best = np.full(len(told), math.nan)
    counted = [index for index, trial in enumerate(told)
               if trial.state == TrialState.COMPLETE and report.is_feasible(trial)]
    improved: list[int] = []
    if not report.is_multi_objective:
        sign = 1.0 if report.maximize else -1.0
        running = -math.inf
        for index in counted:
            if sign * told[index].value > running:
                running = sign * told[index].value
                improved.append(index)
            best[index] = sign * running
        name = "value" if report.outcomes is None else report.outcomes.names[0]
        label = f"best {name} so far ({'max' if report.maximize else 'min'}imised)"
    else:
        label = "hypervolume of the front so far"
        Y = report.signed([told[index] for index in counted])
        try:
            scale = HypervolumeScale(Y)
        except ValueError:  # no point yet, or an objective with one value: nothing to scale by
            return ProgressCurve(told, best, label + " (needs two different values of each objective)")
        hypervolume = scale.true_hypervolume - hypervolume_trajectory(scale, Y)
        best[counted] = hypervolume
        improved = [index for index, gain in zip(counted, np.diff(hypervolume, prepend=0.0)) if gain > 0]
        label += " (objectives scaled to the range observed)"
    for index in range(1, len(best)):  # a failed or infeasible trial keeps the best before it
        if math.isnan(best[index]):
            best[index] = best[index - 1]
    return ProgressCurve(told, best, label, improved)


def failures_by_error(report: JournalReport) -> list[tuple[str, list[int]]]:
    """The failed trials grouped by error (exception type and message, tracebacks aside), most frequent first."""
    groups: dict[str, list[int]] = defaultdict(list)
    for trial in report.in_state(TrialState.FAILED):
        error = trial.info.get("error")
        groups[error_summary(error) if isinstance(error, str) else "(no error recorded)"].append(trial.id)
    return sorted(groups.items(), key=lambda group: -len(group[1]))


def metric_column(name: str) -> str:
    """The ``trials.csv`` column of a named metric: its name, or ``value.<name>`` where that is a fixed column."""
    return f"value.{name}" if name in (*TRIAL_COLUMNS, "feasible") else name


def trial_rows(report: JournalReport) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows of ``trials.csv``: one row per trial, in id order (see :data:`TRIAL_COLUMNS`)."""
    metrics = () if report.outcomes is None else report.outcomes.metrics
    info_keys = sorted({key for trial in report.trials for key in trial.info})
    multi_fidelity = report.settings.get("fidelities") is not None
    columns = [*TRIAL_COLUMNS, *(["fidelity"] if multi_fidelity else []), *(metric_column(name) for name in metrics),
               *(["feasible"] if report.outcomes is not None and report.outcomes.constraints else []),
               *(f"info.{key}" for key in info_keys)]
    rows = []
    for trial in report.trials:
        complete = trial.state == TrialState.COMPLETE
        row = {"trial": trial.id, "state": trial.state.value, "ask": trial.ask, "value": trial.value,
               "asked_at": _timestamp(trial.asked_at), "told_at": _timestamp(trial.told_at),
               "duration_s": None if trial.duration_s is None else round(trial.duration_s, 3), "arch": trial.arch}
        if multi_fidelity:
            row["fidelity"] = trial.fidelity
        for name in metrics:
            row[metric_column(name)] = trial.values[name] if complete else None
        if "feasible" in columns:
            row["feasible"] = report.is_feasible(trial) if complete else None
        for key in info_keys:
            value = trial.info.get(key)
            row[f"info.{key}"] = json.dumps(value) if isinstance(value, (dict, list)) else value
        rows.append(row)
    return columns, rows


def _timestamp(when: float | None) -> str | None:
    return None if when is None else datetime.fromtimestamp(when).astimezone().isoformat(timespec="seconds")


def write_trials_csv(report: JournalReport, path: Path) -> None:
    """``trials.csv`` at ``path``, atomically (:func:`trial_rows`; an empty cell for ``None``)."""
    columns, rows = trial_rows(report)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, text.getvalue().encode())


def plot_progress(report: JournalReport, path: Path) -> None:
    """``progress.png``: the best so far against trials told (left) and wall-clock time since the first ask (right).

    One objective also shows every completed trial's value as a dot; failed trials are marked along the bottom.
    """
    curve = progress_curve(report)
    figure = Figure(figsize=(11, 4.2))
    by_trials, by_time = figure.subplots(1, 2, sharey=True)
    told_index = np.arange(1, len(curve.told) + 1)
    start = report.start_time
    timed = [index for index, trial in enumerate(curve.told) if trial.told_at is not None]
    span = max((curve.told[index].told_at - start for index in timed), default=0.0)
    unit, seconds = ("h", 3600.0) if span > 2 * 3600 else ("min", 60.0) if span > 120 else ("s", 1.0)
    elapsed = np.array([(curve.told[index].told_at - start) / seconds for index in timed])
    panels = [(by_trials, told_index, list(range(len(curve.told))), "trials told"),
              (by_time, elapsed, timed, f"wall-clock time since the first ask ({unit})")]
    for axis, x, rows, xlabel in panels:
        if not report.is_multi_objective:
            values = [(x[i], curve.told[row].value) for i, row in enumerate(rows)
                      if curve.told[row].state == TrialState.COMPLETE]
            if values:
                axis.scatter(*zip(*values), s=10, color="lightgrey", label="each trial")
        failed = [x[i] for i, row in enumerate(rows) if curve.told[row].state == TrialState.FAILED]
        if failed:
            axis.scatter(failed, np.zeros(len(failed)), marker="x", s=18, color="tab:red", clip_on=False,
                         transform=axis.get_xaxis_transform(), label="failed")
        if len(rows):
            axis.plot(x, curve.best[rows], drawstyle="steps-post", color="tab:blue", label="best so far")
        else:
            axis.text(0.5, 0.5, "no trial told yet" if not curve.told else "the journal holds no times",
                      transform=axis.transAxes, ha="center", va="center", color="grey")
        axis.set_xlabel(xlabel)
        axis.grid(True, alpha=0.3)
    by_trials.set_ylabel(curve.label if len(curve.label) < 40 else curve.label.replace(" (", "\n("))
    if curve.told:
        by_trials.legend(fontsize=8)
    figure.suptitle(f"{report.path}: {_describe(report)}, {len(curve.told)} trials told")
    figure.tight_layout()
    save_figure(figure, path)


def plot_front(report: JournalReport, path: Path) -> None:
    """``front.png`` of a two-objective journal: every feasible cell found and their Pareto front.

    :raises ValueError: the journal does not have exactly two objectives.
    """
    if not report.is_multi_objective or len(report.outcomes.names) != 2:
        raise ValueError(f"a front plot needs two objectives; {report.path} has "
                         f"{list(report.outcomes.names) if report.outcomes else 'one unnamed value'}")
    done = report.feasible_completed()
    plot_fronts({str(report.settings.get("encoding", "found")): report.signed(done)}, None,
                list(report.outcomes.names), path,
                f"{report.path}: {len(done)} {'feasible ' if report.outcomes.constraints else ''}cells",
                minimised=[direction == "min" for _, direction in report.outcomes.objectives])


def write_report(report: JournalReport, out: str | Path) -> list[Path]:
    """Write ``trials.csv``, ``progress.png`` and, with two objectives, ``front.png`` into the folder ``out``
    (created if need be); returns the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / TRIALS_CSV, out / PROGRESS_PNG]
    write_trials_csv(report, written[0])
    plot_progress(report, written[1])
    if report.is_multi_objective and len(report.outcomes.names) == 2:
        written.append(out / FRONT_PNG)
        plot_front(report, written[-1])
    return written


def _describe(report: JournalReport) -> str:
    settings = report.settings
    return f"space {settings.get('space')}, encoding {settings.get('encoding', 'tw')}, seed {settings.get('seed', 0)}"


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() and abs(value) >= 1e4 else f"{value:.6g}"


def _when(when: float | None, now: float) -> str:
    if when is None:
        return "at an unrecorded time"
    return (f"at {datetime.fromtimestamp(when).astimezone().isoformat(sep=' ', timespec='seconds')} "
            f"({format_duration(now - when)} ago)")


def print_report(report: JournalReport, console: Console, value_name: str | None = None, top: int = 5) -> None:
    """Print the state of the journal: trials by state, the best ``top`` (or the Pareto front) with their
    architecture strings whole, the last improvement, the trials running and the failures grouped by error.

    :param value_name: what one unnamed value is (e.g. ``"NASWOT score"``); default the objective's name, or
        ``"value"``.
    """
    now = time.time()
    counts = {state: len(report.in_state(state)) for state in TrialState}
    name = value_name or (report.outcomes.names[0] if report.outcomes is not None else "value")
    aim = (" and ".join(f"{direction}imising {metric}" for metric, direction in report.outcomes.objectives)
           if report.outcomes is not None else f"{'max' if report.maximize else 'min'}imising {name}")
    _say(console, f"journal {report.path}: {_describe(report)}; {aim}")
    _say(console, f"trials: {len(report.told)} told ({counts[TrialState.COMPLETE]} complete, "
                  f"{counts[TrialState.FAILED]} failed), {counts[TrialState.RUNNING]} running, "
                  f"{counts[TrialState.ABANDONED]} abandoned")
    if report.is_multi_objective:
        _print_front(report, console)
    else:
        _print_best(report, console, name, top)
    curve = progress_curve(report)
    last = curve.last_improvement()
    if last is not None:
        trial = curve.told[last]
        _say(console, f"last improvement: trial {trial.id}, the {_ordinal(last + 1)} of {len(curve.told)} told, "
                      f"{_when(trial.told_at, now)}")
    running = report.in_state(TrialState.RUNNING)
    if running:
        oldest = min((trial.asked_at for trial in running if trial.asked_at is not None), default=None)
        _say(console, f"running: trials {', '.join(str(trial.id) for trial in running)}"
                      + (f"; the oldest asked {format_duration(now - oldest)} ago" if oldest is not None else ""))
    for error, trial_ids in failures_by_error(report):
        _say(console, f"failed {len(trial_ids)}x: {error} (trials {', '.join(map(str, trial_ids))})")
    if report.torn_bytes:
        _say(console, f"the last line ({report.torn_bytes} bytes) is incomplete (being written, or left by a "
                      f"crash); it is not counted")


def _say(console: Console, text: str) -> None:
    """One line as it is: no markup, no highlighting, never wrapped."""
    console.print(text, soft_wrap=True, highlight=False, markup=False)


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _print_best(report: JournalReport, console: Console, name: str, top: int) -> None:
    ranked = report.ranked()
    if not ranked:
        _say(console, f"no completed{' feasible' if report.outcomes and report.outcomes.constraints else ''} "
                      f"trial yet")
        return
    shown = Table(title=f"best {min(top, len(ranked))} of {len(ranked)} completed cells "
                        f"({len(report.in_state(TrialState.FAILED))} failed)")
    for column in ("trial", name):
        shown.add_column(column, justify="right")
    shown.add_column("cell")
    for trial in ranked[:top]:
        shown.add_row(str(trial.id), _number(trial.value), Text(trial.arch))
    print_table(shown, console)
    best = ranked[0]
    _say(console, f"best {name}: {_number(best.value)}  {best.arch}  (trial {best.id})")


def _print_front(report: JournalReport, console: Console) -> None:
    names = report.outcomes.names
    front = sorted(report.front(), key=lambda trial: trial.values[names[0]])
    shown = Table(title=f"Pareto front: {len(front)} of {len(report.in_state(TrialState.COMPLETE))} completed cells "
                        f"({len(report.in_state(TrialState.FAILED))} failed)")
    for column in ("trial", *names):
        shown.add_column(column, justify="right")
    shown.add_column("cell")
    for trial in front:
        shown.add_row(str(trial.id), *(_number(trial.values[metric]) for metric in names), Text(trial.arch))
    print_table(shown, console)
