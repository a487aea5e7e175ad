"""Progress of a long job that shows in a terminal and survives a log file.

In a terminal (or a notebook) :class:`Progress` is a rich bar. Anywhere else (stdout redirected to a file, a
cluster's job log) a bar would print nothing until the end, so it writes one plain line every ``interval_s``
seconds, whether or not anything finished since, and one when the job ends::

    bonas run: 37/200 (18%), best 1523.4, elapsed 4m12s, eta 18m30s

The interval defaults to the ``BONAS_PROGRESS_INTERVAL`` environment variable (seconds), else
:data:`DEFAULT_INTERVAL_S`; ``0`` writes a line at every update instead. ``bonas.run``, ``bonas replay``,
``bonas search`` and ``bonas pretrain-cate`` report through it.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from bonas.console import is_interactive

DEFAULT_INTERVAL_S = 30.0
"""Seconds between two plain progress lines when ``BONAS_PROGRESS_INTERVAL`` is not set."""
INTERVAL_VARIABLE = "BONAS_PROGRESS_INTERVAL"


def interval_from_environment() -> float:
    """The plain-line interval in seconds: ``BONAS_PROGRESS_INTERVAL`` when set, else :data:`DEFAULT_INTERVAL_S`.

    :raises ValueError: the variable is not a number of seconds, 0 or more.
    """
    text = os.environ.get(INTERVAL_VARIABLE)
    if text is None or not text.strip():
        return DEFAULT_INTERVAL_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"{INTERVAL_VARIABLE}={text!r}; expected a number of seconds, 0 or more (0: a line at "
                         f"every update)")
    return seconds


def format_duration(seconds: float) -> str:
    """``seconds`` in the largest two units: ``12s``, ``4m12s``, ``3h05m``, ``2d04h``."""
    seconds = max(0, int(round(seconds)))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """``completed`` of ``total`` units of work, with a status (the best value so far, a loss), shown as it goes.

    Use it as a context manager and call :meth:`update`; leaving the block writes the last line (also when the
    job stopped early or raised). The estimated time left counts only the work done since the block began, so a
    resumed job's earlier work does not make it look fast.

    :param description: what is running, e.g. ``"bonas run"``.
    :param total: units of work in all (trials, replays, steps).
    :param completed: units done before this block began (a resumed run).
    :param enabled: ``False`` shows nothing.
    :param interval_s: seconds between plain lines; ``None`` reads :func:`interval_from_environment`.
    :param stream: where to write (default ``sys.stdout``); a terminal gets a rich bar.
    """

    def __init__(self, description: str, total: int, *, completed: int = 0, enabled: bool = True,
                 interval_s: float | None = None, stream: TextIO | None = None) -> None:
        self.description, self.total, self.completed, self.status = description, total, completed, ""
        self.enabled = enabled
        self.interval_s = interval_from_environment() if interval_s is None else interval_s
        if not self.interval_s >= 0:
            raise ValueError(f"interval_s must be 0 or more seconds, got {interval_s}")
        self._stream = sys.stdout if stream is None else stream
        console = Console(file=self._stream)
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[status]}"), console=console,
        ) if enabled and is_interactive(console) else None
        self._task = None
        self._started = self._first_completed = 0.0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> "Progress":
        self._started, self._first_completed = time.monotonic(), self.completed
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, completed=self.completed, status="")
        elif self.enabled and self.interval_s > 0:
            self._ticker = threading.Thread(target=self._tick, name="bonas-progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
            return
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.enabled:
            self._write_line()

    def update(self, completed: int | None = None, *, advance: int = 0, status: str | None = None) -> None:
        """Set the units done (``completed``) or add ``advance`` to them, and the status text (if given)."""
        with self._lock:
            self.completed = (self.completed if completed is None else completed) + advance
            if status is not None:
                self.status = status
        if self._bar is not None:
            self._bar.update(self._task, completed=self.completed, status=self.status)
        elif self.enabled and self.interval_s == 0:
            self._write_line()

    def line(self) -> str:
        """The plain progress line as of now: done/total, status, elapsed time and the estimated time left."""
        with self._lock:
            completed, status = self.completed, self.status
        elapsed = time.monotonic() - self._started
        share = f" ({100 * completed / self.total:.0f}%)" if self.total else ""
        parts = [f"{self.description}: {completed}/{self.total}{share}", *([status] if status else []),
                 f"elapsed {format_duration(elapsed)}"]
        if completed < self.total:
            done_here = completed - self._first_completed
            parts.append(f"eta {format_duration(elapsed / done_here * (self.total - completed))}" if done_here > 0
                         else "eta unknown")
        return ", ".join(parts)

    def _write_line(self) -> None:
        text = self.line() + "\n"
        with self._lock:
            self._stream.write(text)
            self._stream.flush()

    def _tick(self) -> None:
        while not self._stopped.wait(self.interval_s):
            self._write_line()
