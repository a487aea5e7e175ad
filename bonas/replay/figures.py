"""What every replay figure shares: a colour-blind-safe look per method, the file formats, sizes and titles.

Methods are told apart three ways at once: a colour of Okabe and Ito's palette (distinct under the common
colour-vision deficiencies), a line style and a marker, so that seven or more curves stay apart in colour, in
grey print and for a reader who cannot see the colours. :class:`FigureOptions` is what a user chooses (format,
size, which methods); the plotting functions of :mod:`bonas.replay.report` and :mod:`bonas.replay.front_plot`
take the same choices as keyword arguments and write the format their path's suffix names.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from bonas.files import atomic_write

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#000000", "#56B4E9", "#F0E442")
"""Okabe and Ito's colour-blind-safe palette, ordered so that the first colours contrast most on white
(blue, vermillion, bluish green, reddish purple, orange, black, sky blue, yellow) and so that the two
methods sharing a line style among the first seven (the 1st and 6th, the 2nd and 7th) differ most in colour."""
LINE_STYLES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)))
"""Line styles cycled beside the colours: a (colour, line style) pair repeats only after 40 methods."""
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
FIGURE_FORMATS = ("png", "pdf", "svg")
PNG_DPI = 200
"""Resolution of PNG figures; PDF and SVG are vector graphics."""
_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None}, "svg": {"Date": None}}
"""No dates or versions in the files, so that redrawing the same rows writes the same bytes."""


@dataclass(frozen=True)
class MethodStyle:
    """How one method is drawn: its colour, line style and marker."""

    color: str
    linestyle: Any
    marker: str

    def line(self) -> dict[str, Any]:
        """The keyword arguments of ``Axes.plot`` for this method's line."""
        return {"color": self.color, "linestyle": self.linestyle, "marker": self.marker}


def method_styles(methods: Sequence[str]) -> dict[str, MethodStyle]:
    """Per method, in the order given, the next colour, line style and marker (each cycled)."""
    return {method: MethodStyle(OKABE_ITO[index % len(OKABE_ITO)], LINE_STYLES[index % len(LINE_STYLES)],
                                MARKERS[index % len(MARKERS)])
            for index, method in enumerate(methods)}


@dataclass(frozen=True)
class FigureOptions:
    """What the figures of a replay look like: their format, their size and the methods they draw.

    :param format: ``png``, ``pdf`` or ``svg``.
    :param size: ``(width, height)`` in inches of the regret and front figures; the best cells take its width
        and are as tall as their rows need. ``None``: each figure's own, sized by what it draws.
    :param methods: the methods drawn, in this order; ``None``: every method of the rows, in their order.
    :raises ValueError: an unknown format, a size that is not two positive numbers, a method named twice.
    """

    format: str = "png"
    size: tuple[float, float] | None = None
    methods: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.format not in FIGURE_FORMATS:
            raise ValueError(f"unknown figure format {self.format!r}; expected one of {list(FIGURE_FORMATS)}")
        if self.size is not None:
            size = tuple(float(side) for side in self.size)
            if len(size) != 2 or not all(math.isfinite(side) and side > 0 for side in size):
                raise ValueError(f"a figure size is (width, height) in inches, both positive; got {self.size!r}")
            object.__setattr__(self, "size", size)
        if self.methods is not None:
            methods = tuple(self.methods)
            if not methods or len(set(methods)) != len(methods):
                raise ValueError(f"the methods drawn must be one or more different methods; got {list(methods)}")
            object.__setattr__(self, "methods", methods)

    def path(self, folder: Path, stem: str) -> Path:
        """Where the figure ``stem`` (``regret``, ``best_cells``, ``fronts``) goes in ``folder``."""
        return folder / f"{stem}.{self.format}"


def in_format(names: Sequence[str], figure_format: str) -> list[str]:
    """Output file names with every PNG figure renamed to ``figure_format`` (``regret.png`` -> ``regret.pdf``)."""
    return [f"{name[:-4]}.{figure_format}" if name.endswith(".png") else name for name in names]


def select_methods(present: Sequence[str], methods: Sequence[str] | None) -> list[str]:
    """The methods to draw: ``methods`` in their order, or all of ``present`` when ``None``.

    :raises ValueError: a method of ``methods`` is not among ``present``.
    """
    if methods is None:
        return list(present)
    missing = [method for method in methods if method not in present]
    if missing:
        raise ValueError(f"cannot draw methods {missing}: the rows hold only {list(present)}")
    return list(methods)


def seeds_in_words(rows: Sequence[dict[str, Any]], methods: Sequence[str]) -> str:
    """``seeds 0-29 (30)``: the seeds of ``methods`` in ``rows`` as runs, and how many each method has."""
    seeds_of: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        if row["method"] in methods:
            seeds_of[row["method"]].add(int(row["seed"]))
    runs: list[list[int]] = []
    for seed in sorted(set().union(*seeds_of.values())):
        if runs and seed == runs[-1][1] + 1:
            runs[-1][1] = seed
        else:
            runs.append([seed, seed])
    counts = sorted({len(seeds) for seeds in seeds_of.values()})
    count = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]} per method"
    listed = ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in runs)
    return f"seed{'s' if len(runs) > 1 or runs[0][0] != runs[0][1] else ''} {listed} ({count})"


def wrapped(title: str, width: float, fontsize: float) -> str:
    """``title`` broken into lines that fit a figure ``width`` inches wide at ``fontsize`` points."""
    return textwrap.fill(title, width=max(24, int(width * 72 / (0.6 * fontsize))))


def save_figure(figure: Figure, path: Path) -> None:
    """``figure`` in the format of ``path``'s suffix (png, pdf or svg), written atomically.

    :raises ValueError: another suffix.
    """
    figure_format = path.suffix.lstrip(".").lower()
    if figure_format not in FIGURE_FORMATS:
        raise ValueError(f"cannot write a figure to {path}: expected a suffix among {list(FIGURE_FORMATS)}")
    image = io.BytesIO()
    figure.savefig(image, format=figure_format, dpi=PNG_DPI, metadata=_METADATA[figure_format])
    atomic_write(path, image.getvalue())
