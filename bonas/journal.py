"""An append-only JSON Lines journal: the only state of an optimizer, safe to open from anyone's disk.

One event per line (``create``, ``ask``, ``tell``, ``fail``, ``abandon``,
``attach``), each a plain JSON object with a format version ``"v"``; the first
is ``create`` with the study's settings. Every append is flushed and
``fsync``ed before it returns, so a process killed at any instant loses at most
the line it was writing. Reading tells such a torn last line apart from
corruption in the middle of the file: the first is reported and cut off before
the next append, the second raises :class:`JournalCorruptError` naming the
line. :class:`JournalState` holds the rules an event must satisfy (a tell only
for a running trial, ids increasing), so a writer checks an event before it
appends it and a reader checks the file when it replays it. No pickle: JSON only.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bonas.trial import Trial, TrialState

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
EVENTS = ("create", "ask", "tell", "fail", "abandon", "attach")
OUTCOME_EVENTS = {"tell": TrialState.COMPLETE, "fail": TrialState.FAILED, "abandon": TrialState.ABANDONED}
_TAIL_BLOCK_BYTES = 1 << 16


class JournalCorruptError(ValueError):
    """A journal line that is not a valid event (other than a torn last line)."""


@dataclass
class JournalContents:
    """The events of a journal, and whether a torn last line (of ``torn_bytes`` bytes) was dropped."""

    events: list[dict[str, Any]]
    torn_tail: bool
    torn_bytes: int = 0


def check_json(value: Any, where: str) -> None:
    """Raise ``ValueError`` naming the field unless ``value`` is plain JSON with finite numbers only."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}; the journal stores finite numbers only")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has key {key!r}; the journal takes string keys only")
            check_json(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            check_json(item, f"{where}[{position}]")
    else:
        raise ValueError(f"{where} is a {type(value).__name__} ({value!r}), not a JSON value")


def check_event(event: Any, where: str) -> None:
    """Raise :class:`JournalCorruptError` unless ``event`` is an object of a known event type and this format version."""
    if not isinstance(event, dict):
        raise JournalCorruptError(f"{where}: expected a JSON object, got {type(event).__name__}")
    if event.get("v") != FORMAT_VERSION:
        raise JournalCorruptError(f"{where}: format version {event.get('v')!r} is not supported (expected {FORMAT_VERSION})")
    if event.get("event") not in EVENTS:
        raise JournalCorruptError(f"{where}: unknown event {event.get('event')!r}; expected one of {list(EVENTS)}")


def check_compatible(create_event: dict[str, Any], space_name: str, source: str = "the journal") -> None:
    """Raise ``ValueError`` naming both spaces unless ``create_event`` created a study of ``space_name``."""
    if not isinstance(create_event, dict) or create_event.get("event") != "create":
        found = create_event.get("event") if isinstance(create_event, dict) else create_event
        raise ValueError(f"{source} does not start with a 'create' event (found {found!r})")
    settings = create_event.get("settings")
    theirs = settings.get("space") if isinstance(settings, dict) else None
    if theirs != space_name:
        raise ValueError(f"{source} is a journal of space {theirs!r}, not {space_name!r}")


def _parse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


def _parse_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} overflows to {number}")
    return number


class Journal:
    """The journal file at ``path``: :meth:`read` replays it, :meth:`append` adds one durable line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._tail_checked = False

    def exists(self) -> bool:
        """Whether the file exists and holds at least one byte."""
        return self.path.exists() and self.path.stat().st_size > 0

    def read(self) -> JournalContents:
        """Every complete event, in order; a torn last line (no final newline) is dropped and reported.

        Raises :class:`JournalCorruptError` naming the file and line for any
        other line that is not valid JSON, not an object, of an unknown event
        type or of another format version.
        """
        if not self.path.exists():
            raise FileNotFoundError(f"no journal at {self.path}")
        lines = self.path.read_bytes().split(b"\n")
        tail = lines.pop()
        events = []
        for number, line in enumerate(lines, start=1):
            where = f"{self.path}, line {number}"
            try:
                event = json.loads(line, parse_constant=_parse_constant, parse_float=_parse_float)
            except ValueError as error:
                raise JournalCorruptError(f"{where}: not valid JSON ({error})") from None
            check_event(event, where)
            events.append(event)
        if tail:
            logger.warning("%s, line %d: the last line (%d bytes) is incomplete, as a crash mid-write leaves it; "
                           "it is ignored and cut off before the next append", self.path, len(lines) + 1, len(tail))
        return JournalContents(events, torn_tail=bool(tail), torn_bytes=len(tail))

    def repair_tail(self) -> int:
        """Cut an incomplete last line, so the next event starts a line of its own; the bytes cut."""
        self._tail_checked = True
        if not self.exists():
            return 0
        with open(self.path, "r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            end = size
            while end > 0:
                start = max(0, end - _TAIL_BLOCK_BYTES)
                handle.seek(start)
                newline = handle.read(end - start).rfind(b"\n")
                if newline >= 0:
                    end = start + newline + 1
                    break
                end = start
            if end == size:
                return 0
            logger.warning("%s: cutting an incomplete last line of %d bytes before appending", self.path, size - end)
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
        return size - end

    def append(self, event: dict[str, Any]) -> None:
        """Write ``event`` (stamped with ``"v"``) as one line, flushed and fsynced before returning.

        Raises ``ValueError`` naming the field, and writes nothing, for an
        unknown event type, another format version, NaN, infinity or a value
        JSON cannot hold. A torn last line left by a crash is cut off first.
        """
        record = {"v": FORMAT_VERSION, **event}
        try:
            check_event(record, f"new event for {self.path}")
        except JournalCorruptError as error:
            raise ValueError(str(error)) from None
        check_json(record, f"{record['event']} event")
        line = (json.dumps(record, allow_nan=False, sort_keys=True) + "\n").encode("ascii")
        if not self._tail_checked:
            self.repair_tail()
        new_file = not self.path.exists()
        if new_file:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = 0
            while written < len(line):
                written += os.write(descriptor, line[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if new_file:
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)


def _trial_id(event: dict[str, Any]) -> int:
    trial_id = event.get("trial")
    if isinstance(trial_id, bool) or not isinstance(trial_id, int) or trial_id < 0:
        raise ValueError(f"{event['event']!r} event: 'trial' must be a non-negative integer id, got {trial_id!r}")
    return trial_id


def _finite_value(event: dict[str, Any], trial_id: int) -> float:
    value = event.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{event['event']!r} event for trial {trial_id}: value must be a finite number, got {value!r}")
    return float(value)


def _arch_str(event: dict[str, Any], trial_id: int) -> str:
    arch_str = event.get("arch")
    if not isinstance(arch_str, str):
        raise ValueError(f"{event['event']!r} event for trial {trial_id}: 'arch' must be the space's string, got {arch_str!r}")
    return arch_str


def _info(event: dict[str, Any], trial_id: int) -> dict[str, Any]:
    info = event.get("info", {})
    if info is None:
        return {}
    if not isinstance(info, dict):
        raise ValueError(f"{event['event']!r} event for trial {trial_id}: 'info' must be an object, got {info!r}")
    return dict(info)


class JournalState:
    """The study a sequence of events describes, and the rules the next event must satisfy.

    A writer calls :meth:`check` before appending an event (so a bad one raises
    and the journal stays unchanged), then :meth:`apply`; a reader applies each
    event of the file in turn (:func:`replay`). ``parse_arch`` turns an
    ``arch_str`` into the space's architecture (``space.from_str``); without it
    a trial's ``arch`` is its string.
    """

    def __init__(self, parse_arch: Callable[[str], Any] | None = None) -> None:
        self.parse_arch = parse_arch
        self.settings: dict[str, Any] | None = None
        self.trials: dict[int, Trial] = {}
        self.next_id = 0
        """The smallest id a new trial may take (ids strictly increase)."""

    @property
    def running(self) -> list[Trial]:
        """Trials asked and not yet told: in flight."""
        return [trial for trial in self.trials.values() if trial.state == TrialState.RUNNING]

    def check(self, event: dict[str, Any]) -> None:
        """Raise ``ValueError`` naming the trial and its state unless ``event`` may follow the events so far."""
        if not isinstance(event, dict):
            raise ValueError(f"expected an event object, got {type(event).__name__}")
        kind = event.get("event")
        if kind not in EVENTS:
            raise ValueError(f"unknown event {kind!r}; expected one of {list(EVENTS)}")
        if kind == "create":
            if self.settings is not None:
                raise ValueError("a second 'create' event; a journal holds one study")
            settings = event.get("settings")
            if not isinstance(settings, dict) or not isinstance(settings.get("space"), str):
                raise ValueError(f"'create' event: 'settings' must be an object naming the 'space', got {settings!r}")
            return
        if self.settings is None:
            raise ValueError(f"{kind!r} event before the 'create' event; a journal starts with 'create'")
        trial_id = _trial_id(event)
        if kind in ("ask", "attach"):
            if trial_id < self.next_id:
                raise ValueError(f"{kind!r} event: trial id {trial_id} is not above the last id {self.next_id - 1}")
            _arch_str(event, trial_id)
            if kind == "attach":
                _finite_value(event, trial_id)
        else:
            trial = self.trials.get(trial_id)
            if trial is None:
                known = f"0..{self.next_id - 1}" if self.trials else "none yet"
                raise ValueError(f"{kind!r} event: unknown trial {trial_id}; trial ids known: {known}")
            if trial.state != TrialState.RUNNING:
                raise ValueError(f"{kind!r} event: trial {trial_id} ({trial.arch_str}) was already told: it is "
                                 f"{trial.state.value}, not running")
            if kind == "tell":
                _finite_value(event, trial_id)
            elif event.get("value") is not None:
                raise ValueError(f"{kind!r} event for trial {trial_id}: a {OUTCOME_EVENTS[kind].value} trial takes "
                                 f"no value, got {event['value']!r}")
        _info(event, trial_id)

    def apply(self, event: dict[str, Any]) -> Trial | None:
        """Check ``event``, then record it; the trial it created or changed (``None`` for ``create``)."""
        self.check(event)
        kind = event["event"]
        if kind == "create":
            self.settings = dict(event["settings"])
            return None
        trial_id = event["trial"]
        if kind in ("ask", "attach"):
            arch_str = event["arch"]
            arch = self.parse_arch(arch_str) if self.parse_arch is not None else arch_str
            asked_at = event.get("asked_at", event.get("told_at"))
            trial = Trial(id=trial_id, arch=arch, arch_str=arch_str, asked_at=asked_at)
            self.trials[trial_id] = trial
            self.next_id = trial_id + 1
            if kind == "ask":
                return trial
        else:
            trial = self.trials[trial_id]
        trial.state = OUTCOME_EVENTS.get(kind, TrialState.COMPLETE)
        trial.value = float(event["value"]) if trial.state == TrialState.COMPLETE else None
        trial.info = _info(event, trial_id)
        trial.told_at = event.get("told_at")
        return trial


def replay(
    events: Iterable[dict[str, Any]],
    parse_arch: Callable[[str], Any] | None = None,
    source: str = "journal",
) -> JournalState:
    """The state ``events`` (one per line of ``source``) describe; :class:`JournalCorruptError` naming the line otherwise.

    ``state.trials`` maps each trial id to its :class:`~bonas.trial.Trial`,
    ``state.settings`` holds the ``create`` event's settings.
    """
    state = JournalState(parse_arch)
    count = 0
    for count, event in enumerate(events, start=1):
        try:
            state.apply(event)
        except ValueError as error:
            kind = event.get("event") if isinstance(event, dict) else event
            raise JournalCorruptError(f"{source}, line {count}: cannot replay {kind!r}: {error}") from None
    if count == 0:
        raise JournalCorruptError(f"{source}: no events; a journal starts with a 'create' event")
    return state
