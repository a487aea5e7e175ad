"""An append-only JSON Lines journal: the only state of an optimizer, safe to open from anyone's disk.

One event per line (``create``, ``ask``, ``tell``, ``fail``, ``abandon``,
``attach``), each a plain JSON object with a format version ``"v"``. Every
append is flushed and ``fsync``ed before it returns, so a process killed at any
instant loses at most the line it was writing. Reading tells such a torn last
line apart from corruption in the middle of the file: the first is reported
and cut off before the next append, the second raises
:class:`JournalCorruptError` naming the line. No pickle: JSON only.
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


class JournalCorruptError(ValueError):
    """A journal line that is not a valid event (other than a torn last line)."""


@dataclass
class JournalContents:
    """The events of a journal, and whether a torn last line was dropped."""

    events: list[dict[str, Any]]
    torn_tail: bool


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value}; the journal stores finite numbers only")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            _check_finite(item, f"{where}[{position}]")


def check_event(event: Any, where: str) -> None:
    """Raise :class:`JournalCorruptError` unless ``event`` is a known event of this format version."""
    if not isinstance(event, dict):
        raise JournalCorruptError(f"{where}: expected a JSON object, got {type(event).__name__}")
    if event.get("v") != FORMAT_VERSION:
        raise JournalCorruptError(f"{where}: format version {event.get('v')!r} is not supported (expected {FORMAT_VERSION})")
    if event.get("event") not in EVENTS:
        raise JournalCorruptError(f"{where}: unknown event {event.get('event')!r}; expected one of {list(EVENTS)}")


class Journal:
    """The journal file at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._checked_tail = False

    def exists(self) -> bool:
        """Whether the file exists and holds at least one byte."""
        return self.path.exists() and self.path.stat().st_size > 0

    def read(self) -> JournalContents:
        """Every complete event, in order; a torn last line is dropped and reported."""
        if not self.path.exists():
            raise FileNotFoundError(f"no journal at {self.path}")
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        tail = lines.pop()
        torn = bool(tail)
        events = []
        for number, line in enumerate(lines, start=1):
            where = f"{self.path}, line {number}"
            try:
                event = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise JournalCorruptError(f"{where}: not valid JSON ({error})") from None
            check_event(event, where)
            events.append(event)
        if torn:
            logger.warning("%s: the last line (%d bytes) is incomplete, as a crash mid-write leaves it; it is ignored",
                           self.path, len(tail))
        return JournalContents(events, torn)

    def _repair_tail(self) -> None:
        """Cut an incomplete last line, so the next event starts on a line of its own."""
        self._checked_tail = True
        if not self.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            logger.warning("%s: cutting an incomplete last line of %d bytes before appending", self.path, len(data) - end)
            with open(self.path, "r+b") as handle:
                handle.truncate(end)
                handle.flush()
                os.fsync(handle.fileno())

    def append(self, event: dict[str, Any]) -> None:
        """Write one event as a line, flushed and fsynced; refuse NaN and infinity, writing nothing."""
        record = {"v": FORMAT_VERSION, **event}
        check_event(record, "new event")
        _check_finite(record, record["event"])
        line = json.dumps(record, allow_nan=False, sort_keys=True) + "\n"
        if not self._checked_tail:
            self._repair_tail()
        new_file = not self.path.exists()
        if new_file:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        if new_file:
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
