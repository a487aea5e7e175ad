"""An append-only JSON Lines journal: the only state of an optimizer, safe to open from anyone's disk.

One event per line (``create``, ``ask``, ``tell``, ``fail``, ``abandon``,
``attach``), each a plain JSON object with a format version ``"v"``; the first
is ``create`` with the study's settings. Every append is flushed and
``fsync``ed before it returns, so a process killed at any instant loses at most
the line it was writing. Reading tells such a torn last line apart from
corruption in the middle of the file: the first is reported and cut off before
the next append, the second raises :class:`JournalCorruptError` naming the
line. What an event may say about the trials (a tell only for a running trial,
ids in order) is checked by the ``Optimizer``, which writes and replays the
journal. No pickle: JSON only.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
