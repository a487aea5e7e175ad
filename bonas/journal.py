"""An append-only JSON Lines journal: the only state of an optimizer, safe to open from anyone's disk.

One event per line (``create``, ``ask``, ``tell``, ``fail``, ``abandon``,
``attach``), each a plain JSON object with a format version ``"v"``; the first
is ``create`` with the study's settings. Every append is flushed and
``fsync``ed before it returns, so a process killed at any instant loses at most
the line it was writing. Reading tells such a torn last line apart from
corruption in the middle of the file: the first is reported and cut off before
the next append, the second raises :class:`JournalCorruptError` naming the
line. A last line that is a complete event without its newline (an editor
strips it; a crash between the line and its newline cannot, one ``write``
holds both) is kept, and the newline is added before the next append.
:func:`check_event_fields` checks each event's fields; what an event may say
about the trials (a tell only for a running trial, ids in order) is checked by
the ``Optimizer``, which writes and replays the journal. No pickle: JSON only.

An optimizer holds the journal's lock (:mod:`bonas.journal_lock`) while it is
open, so a journal has one writer at a time; :meth:`Journal.read` needs no lock.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bonas.journal_lock import JournalLock
from bonas.validation import check_json, is_finite, is_integer

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
EVENTS = ("create", "ask", "tell", "fail", "abandon", "attach")
_TAIL_BLOCK_BYTES = 1 << 16


class JournalCorruptError(ValueError):
    """A journal line that is not a valid event (other than a torn last line)."""


@dataclass
class JournalContents:
    """The events of a journal, and whether a torn last line (of ``torn_bytes`` bytes) was dropped."""

    events: list[dict[str, Any]]
    torn_tail: bool
    torn_bytes: int = 0
    missing_newline: bool = False


def check_event(event: Any, where: str) -> None:
    """Raise :class:`JournalCorruptError` unless ``event`` is an object of a known event type and this format version."""
    if not isinstance(event, dict):
        raise JournalCorruptError(f"{where}: expected a JSON object, got {type(event).__name__}")
    if event.get("v") != FORMAT_VERSION:
        raise JournalCorruptError(f"{where}: format version {event.get('v')!r} is not supported (expected {FORMAT_VERSION})")
    if event.get("event") not in EVENTS:
        raise JournalCorruptError(f"{where}: unknown event {event.get('event')!r}; expected one of {list(EVENTS)}")


def _field_problem(event: dict[str, Any], name: str, rule: str) -> str | None:
    """What is wrong with ``event[name]`` under ``rule``, or ``None``; a missing field is wrong unless optional."""
    if name not in event:
        return None if rule.endswith("?") else "is missing"
    value, rule = event[name], rule.rstrip("?")
    if rule == "id":
        return None if is_integer(value) and value >= 0 else f"is {value!r}, not a trial id (an integer >= 0)"
    if rule == "count":
        return None if is_integer(value) and value >= 1 else f"is {value!r}, not an ask number (an integer >= 1)"
    if rule == "number":
        return None if is_finite(value) else f"is {_short(value)}, not a finite number"
    if rule == "number-or-null":
        return None if value is None or is_finite(value) else f"is {_short(value)}, not a finite number or null"
    if rule == "null":
        return None if value is None else f"is {_short(value)}; a failed or abandoned trial has no value"
    if rule == "text":
        return None if isinstance(value, str) else f"is {_short(value)}, not a string"
    if rule == "object":
        return None if isinstance(value, dict) else f"is {_short(value)}, not an object"
    raise ValueError(f"unknown field rule {rule!r}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


EVENT_FIELDS: dict[str, dict[str, str]] = {
    "create": {"settings": "object"},
    "ask": {"trial": "id", "arch": "text", "ask": "count", "asked_at": "number-or-null?", "kernel": "object?",
            "kernels": "object?", "fidelity": "number?", "promoted_from": "id?"},
    "tell": {"trial": "id", "value": "number-or-null", "values": "object?", "info": "object?",
             "told_at": "number-or-null?"},
    "fail": {"trial": "id", "value": "null?", "info": "object?", "told_at": "number-or-null?"},
    "abandon": {"trial": "id", "value": "null?", "info": "object?", "told_at": "number-or-null?"},
    "attach": {"trial": "id", "arch": "text", "value": "number-or-null", "values": "object?", "info": "object?",
               "told_at": "number-or-null?", "fidelity": "number?"},
}
"""The fields each event of an optimizer's journal holds, and what each must be (``?``: optional)."""


def check_event_fields(event: dict[str, Any], where: str) -> None:
    """Raise :class:`JournalCorruptError` naming ``where`` and the field unless ``event``'s fields are as written.

    ``event`` has passed :func:`check_event`. Checked on load so that a line which parses but could not have been
    written by bonas (an ask number of -5, a 400-digit value) is refused with its line instead of breaking a
    later ask.
    """
    for name, rule in EVENT_FIELDS[event["event"]].items():
        problem = _field_problem(event, name, rule)
        if problem is not None:
            raise JournalCorruptError(f"{where}: {event['event']!r} event field {name!r} {problem}")


def _parse_line(line: bytes, where: str) -> dict[str, Any]:
    """One journal line as a checked event; :class:`JournalCorruptError` naming ``where`` otherwise."""
    try:
        event = json.loads(line, parse_constant=_parse_constant, parse_float=_parse_float)
    except ValueError as error:
        raise JournalCorruptError(f"{where}: not valid JSON ({error})") from None
    check_event(event, where)
    return event


def _tail_event(line: bytes, where: str) -> dict[str, Any] | None:
    """A last line without its newline as the whole event it is, or ``None`` for a torn prefix (not JSON at all).

    A prefix of a JSON object is never JSON, so a tail that parses is whole; if it is not a valid event, it is
    corruption like any other line (:class:`JournalCorruptError` naming ``where``), not something to cut.
    """
    try:
        event = json.loads(line, parse_constant=_parse_constant, parse_float=_parse_float)
    except ValueError:
        return None
    check_event(event, where)
    return event


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
        self._lock: JournalLock | None = None

    def lock(self) -> None:
        """Take the journal's one-writer lock (shared with a journal of this process that holds it already).

        :raises bonas.journal_lock.JournalLockedError: naming the holder, when another process holds it.
        """
        if self._lock is None:
            self._lock = JournalLock.acquire(self.path)

    def claim(self) -> "Journal | None":
        """Become the journal of this process that appends; an older one sharing the lock is refused from now on.

        :returns: the journal that could append until now, if any, for :meth:`hand_back`.
        """
        self.lock()
        return self._lock.claim(self)

    def hand_back(self, previous: "Journal | None") -> None:
        """Give up a claim (a load that failed): ``previous`` appends again, or the lock is released."""
        if self._lock is not None:
            self._lock.hand_back(self, previous)

    def check_writable(self) -> None:
        """Raise :class:`~bonas.journal_lock.JournalLockedError` if this journal holds a lock it may not write under."""
        if self._lock is not None:
            self._lock.check_writer(self)

    def close(self) -> None:
        """Release the lock (unless a newer journal of this process has claimed it); later appends are refused."""
        if self._lock is not None:
            self._lock.release(self)

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
        events = [_parse_line(line, f"{self.path}, line {number}") for number, line in enumerate(lines, start=1)]
        last = _tail_event(tail, f"{self.path}, line {len(lines) + 1}") if tail else None
        if last is not None:
            events.append(last)
            logger.info("%s, line %d: a complete last event without its newline; the newline is added before the "
                        "next append", self.path, len(lines) + 1)
            return JournalContents(events, torn_tail=False, missing_newline=True)
        if tail:
            logger.warning("%s, line %d: the last line (%d bytes) is incomplete, as a crash mid-write leaves it; "
                           "it is ignored and cut off before the next append", self.path, len(lines) + 1, len(tail))
        return JournalContents(events, torn_tail=bool(tail), torn_bytes=len(tail))

    def repair_tail(self) -> int:
        """Cut an incomplete last line, so the next event starts a line of its own; the bytes cut.

        A last line that is a complete event without its newline is kept: the newline is added.
        """
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
            handle.seek(end)
            if _tail_event(handle.read(size - end), f"{self.path}, last line") is not None:
                handle.seek(size)
                handle.write(b"\n")
                handle.flush()
                os.fsync(handle.fileno())
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
        self.check_writable()
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


def check_not_bootstrapping(storage: Path) -> None:
    """Refuse to open a journal while multiprocessing re-runs a main script that lacks a main guard."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(
            f"an Optimizer with storage {str(storage)!r} is being opened while a child process starts: "
            "multiprocessing re-runs the main script in every child it spawns, and this script has no "
            "`if __name__ == \"__main__\":` guard. Put the code that builds the optimizer and runs the "
            "search under that guard.")
