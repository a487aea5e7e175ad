"""Rich output that a user can copy from: architecture strings are never wrapped or cut, in a terminal or a log.

rich fits a table to the console's width by wrapping or cropping its widest cells, and a console writing to a file
(every cluster log) is 80 columns wide. :func:`print_table` prints a table at its natural width instead (a terminal
narrower than that wraps the lines itself, without breaking a cell's text), and :func:`command_console` is the
console of the ``bonas`` command: in a log it never wraps a line.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

_UNBOUNDED_WIDTH = 1 << 16
"""The width a table is measured in: wide enough that no cell is squeezed."""


def command_console(stream: TextIO | None = None) -> Console:
    """The console of the ``bonas`` command on ``stream`` (default ``sys.stdout``): rich's own in a terminal;
    elsewhere one that never wraps a line (a log keeps every line whole, however long)."""
    console = Console(file=stream)
    return console if is_interactive(console) else Console(file=stream, soft_wrap=True)


def is_interactive(console: Console) -> bool:
    """Whether ``console`` shows live displays (a terminal or a notebook) rather than appending to a file."""
    return console.is_terminal or console.is_jupyter


def print_table(table: Table, console: Console) -> None:
    """Print ``table`` on ``console`` with every cell whole: at its natural width when the console is narrower."""
    natural = Measurement.get(console, console.options.update_width(_UNBOUNDED_WIDTH), table).maximum
    width = console.width
    console.width = max(width, natural)
    try:
        console.print(table, crop=False)
    finally:
        console.width = width
