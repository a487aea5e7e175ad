"""Replay outputs: ``trials.csv``, ``summary.csv``, ``regret.png``, ``best_cells.png`` and a printed table.

The figures can also be PDF or SVG, of another size or of some methods only
(:class:`~bonas.replay.figures.FigureOptions`), and redrawn later from ``trials.csv`` (:func:`read_trials`,
:func:`write_figures`).

The output folder is checked before a replay computes anything
(:func:`check_output_folder`); should writing still fail at the end,
:func:`write_fallback` keeps the computed rows in a new temporary folder.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch
from rich.console import Console
from rich.table import Table

from bonas.files import atomic_write
from bonas.replay.figures import (OKABE_ITO, FigureOptions, method_styles, save_figure, seeds_in_words, select_methods,
                                  wrapped)
from bonas.spaces.base import Space
from bonas.spaces.graph import INPUT, OUTPUT
from bonas.spaces.nb201 import NB201_EDGES, NB201Arch

TRIAL_COLUMNS = ("method", "seed", "query", "arch", "objective", "best_objective", "best_reported", "regret",
                 "step_wall_s", "sim_time_s")
"""The columns of a (single-objective) replay's ``trials.csv``: one row per query."""
CHECKPOINTS = (10, 25, 50, 100, 150)
SUMMARY_COLUMNS = ("method", "queries", "n_seeds", "mean_regret", "median_regret", "se_regret", "mean_best_reported")
ZERO_REGION = 1e-3
"""The linear region (0 up to it) of a regret axis whose every mean is 0."""
OUTPUT_NAMES = ("trials.csv", "summary.csv", "regret.png", "best_cells.png")
NO_OP = "none"
"""The op that is no connection (NB201's zero): drawn as a faint dotted edge."""
OP_LABELS = {
    "none": "none", "skip_connect": "skip", "nor_conv_1x1": "conv\n1×1", "nor_conv_3x3": "conv\n3×3",
    "avg_pool_3x3": "avg pool\n3×3", "conv3x3-bn-relu": "conv\n3×3", "conv1x1-bn-relu": "conv\n1×1",
    "maxpool3x3": "max pool\n3×3", "max_pool_3x3": "max pool\n3×3", "sep_conv_3x3": "sep conv\n3×3",
    "sep_conv_5x5": "sep conv\n5×5", "dil_conv_3x3": "dil conv\n3×3", "dil_conv_5x5": "dil conv\n5×5",
    INPUT: "in", OUTPUT: "out",
}
"""Short names of the known ops, drawn in the cells (the legend names the op in full too); others are drawn as
they are named."""
CELL_SIZE = (1.9, 1.45)
"""Width and height (inches) of one drawn cell at full scale: a page-wide figure (7 in) holds three a row."""
MIN_CELL_SCALE = 0.85
"""The smallest a cell is drawn, as a share of :data:`CELL_SIZE`: its labels stay apart down to it."""
LEGEND_HEIGHT = 0.55
"""Inches below the cells for the legend of their ops."""
_EDGE_BEND = {(0, 1): 0.0, (1, 2): 0.0, (2, 3): 0.0, (0, 2): -0.45, (1, 3): 0.55, (0, 3): -0.75}
"""How far each NB201 edge bends (matplotlib's ``arc3`` radius; negative: above): the chain 0-1-2-3 straight,
the skips as arcs, 0->2 and 0->3 above and 1->3 below, so that no two cross."""


def _by_method(rows: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Per method, regret as a ``seeds x queries`` array (seeds in first-seen order)."""
    curves: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        curves[row["method"]][row["seed"]].append(row["regret"])
    return {method: np.array(list(seeds.values())) for method, seeds in curves.items()}


def summarize(rows: Sequence[dict[str, Any]], checkpoints: Sequence[int] = CHECKPOINTS) -> list[dict[str, Any]]:
    """Mean, median and standard error of regret over seeds at each checkpoint and at the last query, per method."""
    best: dict[tuple[str, int], list[float]] = defaultdict(list)
    for row in rows:
        best[row["method"], row["query"]].append(row["best_reported"])
    summary = []
    for method, regrets in _by_method(rows).items():
        n_seeds, n_queries = regrets.shape
        for queries in sorted({q for q in checkpoints if q <= n_queries} | {n_queries}):
            column = regrets[:, queries - 1]
            se = float(column.std(ddof=1) / math.sqrt(n_seeds)) if n_seeds > 1 else float("nan")
            summary.append({
                "method": method, "queries": queries, "n_seeds": n_seeds, "mean_regret": float(column.mean()),
                "median_regret": float(np.median(column)), "se_regret": se,
                "mean_best_reported": float(np.mean(best[method, queries])),
            })
    return summary


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` with a header of ``columns``, atomically."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, text.getvalue().encode())


def print_summary(summary: Sequence[dict[str, Any]], title: str, console: Console | None = None) -> None:
    """The summary as a rich table: mean ± standard error of regret per method and checkpoint."""
    checkpoints = sorted({entry["queries"] for entry in summary})
    table = Table(title=title)
    table.add_column("method")
    for queries in checkpoints:
        table.add_column(f"regret @{queries}", justify="right")
    cells: dict[str, dict[int, str]] = defaultdict(dict)
    for entry in summary:
        se = "" if math.isnan(entry["se_regret"]) else f" ± {entry['se_regret']:.3f}"
        cells[entry["method"]][entry["queries"]] = f"{entry['mean_regret']:.3f}{se}"
    for method, by_queries in cells.items():
        table.add_row(method, *(by_queries.get(queries, "") for queries in checkpoints))
    (console or Console()).print(table)


def _mean_and_se(regrets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds and its standard error (0 for one seed), per query, of a ``seeds x queries`` array."""
    mean = regrets.mean(axis=0)
    if len(regrets) < 2:
        return mean, np.zeros_like(mean)
    return mean, regrets.std(axis=0, ddof=1) / math.sqrt(len(regrets))


def _mean_hours(rows: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Per method, the simulated training time (h) after each query, averaged over seeds."""
    times: dict[str, list[list[float]]] = defaultdict(list)
    for row in rows:
        if row["query"] == 1:
            times[row["method"]].append([])
        times[row["method"]][-1].append(row["sim_time_s"])
    return {method: np.mean(runs, axis=0) / 3600 for method, runs in times.items()}


def plot_regret(rows: Sequence[dict[str, Any]], path: Path, title: str, *, size: tuple[float, float] | None = None,
                methods: Sequence[str] | None = None, regret_label: str = "regret (% points)",
                x_label: str = "queries") -> Figure:
    """Mean regret over seeds per method against queries, shaded ± 1 standard error, written to ``path``.

    A second panel plots it against simulated training time when the table knows it. The y axis is
    logarithmic; when a band reaches 0 (mean minus standard error at most 0) or a mean is 0 (every seed
    found the optimum), it is symmetric-logarithmic instead: linear from 0 up to the decade below the
    smallest positive mean, logarithmic above. Regret 0 is then on the axis, a band is cut at 0 (regret is
    never negative) rather than at an arbitrary floor, and a large marker shows where a method's mean first
    reaches 0. Each method has its own colour (Okabe-Ito), line style and marker
    (:func:`bonas.replay.figures.method_styles`).

    :param rows: replay rows (:data:`TRIAL_COLUMNS`; ``regret``, ``query``, ``seed``, ``method``, ``sim_time_s``).
    :param path: where the figure goes; its suffix (``.png``, ``.pdf``, ``.svg``) is the format.
    :param title: what was replayed, in words (benchmark, dataset, objective); the seeds the rows hold are
        appended, e.g. ``seeds 0-29 (30)``.
    :param size: ``(width, height)`` in inches; default 6.4 x 4 (11 x 4 with the time panel).
    :param methods: the methods drawn, in this order; default every method of ``rows``.
    :param regret_label: what the regret is, for the y axis.
    :param x_label: what ``query`` counts, for the x axis.
    :returns: the figure, for a caller that wants to restyle or inspect it.
    :raises ValueError: a method of ``methods`` is not in ``rows``; an unknown suffix.
    """
    curves = _by_method(rows)
    drawn = select_methods(list(curves), methods)
    styles = method_styles(drawn)
    stats = {method: _mean_and_se(curves[method]) for method in drawn}
    has_time = all(not math.isnan(row["sim_time_s"]) for row in rows if row["method"] in drawn)
    hours = _mean_hours(rows) if has_time else {}
    width, height = size or ((11.0, 4.0) if has_time else (6.4, 4.0))
    beside = width >= 5  # a narrower (column-wide) figure keeps its width for the axes and puts the legend below
    fontsize = 9.5 if beside else 7.5
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(1, 2 if has_time else 1, squeeze=False, sharey=True)[0]
    reaches_zero = any(np.any(mean - se <= 0) for mean, se in stats.values())
    for index, method in enumerate(drawn):
        mean, se = stats[method]
        style = styles[method]
        step = max(1, len(mean) // 6)
        panels = [(axes[0], np.arange(1, len(mean) + 1))] + ([(axes[1], hours[method])] if has_time else [])
        for axis, x in panels:
            axis.plot(x, mean, label=method, linewidth=1.4, markersize=4,
                      markevery=(index * step // len(drawn), step), **style.line())
            axis.fill_between(x, np.maximum(mean - se, 0.0), mean + se, color=style.color, alpha=0.15, linewidth=0)
            zeros = np.flatnonzero(mean == 0)
            if zeros.size:
                axis.plot(x[zeros[0]], 0.0, marker=style.marker, markersize=9, color=style.color,
                          markeredgecolor="black", linestyle="none", clip_on=False, zorder=5)
    positive = [float(mean[mean > 0].min()) for mean, _ in stats.values() if np.any(mean > 0)]
    linear_below = 10.0 ** math.floor(math.log10(min(positive))) if positive else ZERO_REGION
    for axis in axes:
        if reaches_zero:
            axis.set_yscale("symlog", linthresh=linear_below, linscale=0.5)
            axis.set_ylim(bottom=-0.1 * linear_below)
            axis.axhline(0.0, color="grey", linewidth=0.6)
        else:
            axis.set_yscale("log")
        axis.grid(True, which="major", alpha=0.35)
        axis.grid(True, which="minor", alpha=0.12)
        axis.tick_params(labelsize=fontsize - 1)
    axes[0].set_xlabel(x_label, fontsize=fontsize)
    axes[0].set_ylabel(f"mean {regret_label}", fontsize=fontsize)
    if has_time:
        axes[1].set_xlabel("simulated training time (h)", fontsize=fontsize)
    handles, labels = axes[0].get_legend_handles_labels()
    if any(np.any(mean == 0) for mean, _ in stats.values()):
        handles.append(Line2D([], [], marker="o", markersize=8, color="white", markeredgecolor="black",
                              linestyle="none"))
        labels.append("regret 0 on\nevery seed")
    handles.append(Patch(facecolor="grey", alpha=0.3))
    labels.append("± 1 standard\nerror")
    figure.legend(handles, labels, loc="outside right center" if beside else "outside lower center",
                  ncol=1 if beside else 3, fontsize=fontsize - 1, frameon=False)
    figure.suptitle(wrapped(f"{title}, {seeds_in_words(rows, drawn)}", width, fontsize + 1), fontsize=fontsize + 1)
    save_figure(figure, path)
    return figure


def _legend_label(op: str) -> str:
    """``conv 3×3 (nor_conv_3x3)``: the short name drawn in the cells, then the op's own name."""
    short = OP_LABELS.get(op, op).replace("\n", " ")
    return op if short == op else f"{short} ({op})"


def _op_colours(space: Space) -> dict[str, str]:
    ops = [op for op in space.ops if op != NO_OP]
    return {NO_OP: "#999999"} | dict(zip(ops, (OKABE_ITO * (len(ops) // len(OKABE_ITO) + 1))))


def _draw_nb201_cell(axis: Any, arch: NB201Arch, colours: dict[str, str], fontsize: float) -> None:
    """The cell as NAS-Bench-201 draws it: its four feature maps 0-3 as nodes, an op on each edge."""
    axis.set_aspect("equal")
    for (source, target), op in zip(NB201_EDGES, arch.ops):
        bend = _EDGE_BEND[source, target]
        axis.add_patch(FancyArrowPatch((source, 0.0), (target, 0.0), connectionstyle=f"arc3,rad={bend}",
                                       arrowstyle="-|>", mutation_scale=7, shrinkA=6, shrinkB=6,
                                       color=colours[op], linewidth=1.6 if op != NO_OP else 0.9,
                                       linestyle=":" if op == NO_OP else "-"))
        axis.text((source + target) / 2, -0.5 * bend * (target - source), OP_LABELS.get(op, op), ha="center",
                  va="center", fontsize=fontsize, color="#000000" if op != NO_OP else "#666666", linespacing=0.9,
                  bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": colours[op],
                        "linewidth": 0.8})
    for node in range(4):
        axis.plot(node, 0.0, marker="o", markersize=1.7 * fontsize, color="white", markeredgecolor="black", zorder=3)
        axis.text(node, 0.0, str(node), ha="center", va="center", fontsize=fontsize, zorder=4)
    axis.set_xlim(-0.35, 3.35)
    axis.set_ylim(-0.85, 1.35)


def _draw_node_cell(axis: Any, graph: nx.DiGraph, colours: dict[str, str], fontsize: float,
                    inches: tuple[float, float]) -> None:
    """A node-op cell (NB101, DARTS, a user's cell) top to bottom, as NAS-Bench-101 draws it: each node a box
    naming its op, in layers by depth from the input; the text shrinks when a wide or deep cell needs it to fit
    ``inches`` (the panel's width and height)."""
    layers = _layers(graph)
    labels = {node: OP_LABELS.get(graph.nodes[node]["op"], graph.nodes[node]["op"]).replace("\n", " ")
              for node in graph}
    widest = max(len(nodes) for nodes in layers)
    box = (0.05 * max(map(len, labels.values())) + 0.15, 0.24)  # inches a box and its gap take at 6.5 pt
    fontsize *= min(1.0, inches[0] / (widest * box[0]), inches[1] / (len(layers) * box[1]))
    positions = {node: (rank - (len(nodes) - 1) / 2, -depth)
                 for depth, nodes in enumerate(layers) for rank, node in enumerate(nodes)}
    boxes = {}
    for node, (x, y) in positions.items():
        boxes[node] = axis.text(x, y, labels[node], ha="center", va="center", fontsize=fontsize, zorder=3,
                                bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "linewidth": 1.4,
                                      "edgecolor": colours.get(graph.nodes[node]["op"], "#BBBBBB")})
    for source, target in graph.edges:
        # an edge past a layer bends outwards, away from the boxes in between
        outwards = 0.5 if positions[source][0] + positions[target][0] <= 0 else -0.5
        bend = outwards if positions[source][1] - positions[target][1] > 1 else 0.0
        axis.annotate("", xy=positions[target], xytext=positions[source], zorder=2,
                      arrowprops={"arrowstyle": "-|>", "mutation_scale": 7, "linewidth": 0.8, "color": "#444444",
                                  "patchA": boxes[source].get_bbox_patch(), "patchB": boxes[target].get_bbox_patch(),
                                  "shrinkA": 1, "shrinkB": 1, "connectionstyle": f"arc3,rad={bend}"})
    axis.set_xlim(-widest / 2, widest / 2)
    axis.set_ylim(-len(layers) + 0.5, 0.5)


def _layers(graph: nx.DiGraph) -> list[list[int]]:
    """The nodes of ``graph`` by their longest distance from a source, each layer in node order."""
    depth: dict[int, int] = {}
    for node in nx.topological_sort(graph):
        depth[node] = max((depth[parent] + 1 for parent in graph.predecessors(node)), default=0)
    layers: list[list[int]] = [[] for _ in range(max(depth.values()) + 1)]
    for node in sorted(depth):
        layers[depth[node]].append(node)
    return layers


def _cell_grid(n_cells: int, width: float | None) -> tuple[int, int, float]:
    """Cells a row, rows, and the scale of :data:`CELL_SIZE` they are drawn at, for a figure ``width`` inches
    wide: as many a row as fit at no less than :data:`MIN_CELL_SCALE`; without a width, up to three a row at
    full scale, the rows as even as they can be (four cells: two and two)."""
    if width is None:
        n_rows = math.ceil(n_cells / 3)
        return math.ceil(n_cells / n_rows), n_rows, 1.0
    per_row = max(1, min(n_cells, int(width // (CELL_SIZE[0] * MIN_CELL_SCALE))))
    return per_row, math.ceil(n_cells / per_row), min(1.0, width / per_row / CELL_SIZE[0])


def _best_by_method(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method, the row of the best cell it found over all seeds (by reported value)."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["objective"] == row["best_objective"]:
            current = best.get(row["method"])
            if current is None or row["best_reported"] > current["best_reported"]:
                best[row["method"]] = row
    return best


def plot_best_cells(rows: Sequence[dict[str, Any]], space: Space, path: Path, *,
                    width: float | None = None, methods: Sequence[str] | None = None) -> Figure:
    """Per method, the best cell it found over all seeds (by reported value), written to ``path``.

    An NB201 cell is drawn as the field draws it: its four feature maps as nodes 0-3 and an op on each edge,
    named in text and coloured; other spaces' cells as their node-op graphs (:meth:`Space.to_graph`), each
    node a box naming its op. The legend lists the ops that occur in the cells drawn, and the cells wrap into
    rows of as many as fit the width (:data:`CELL_SIZE`).

    :param width: of the figure, in inches (e.g. 3.4 for a column: two cells a row); default up to three cells a
        row at full size. The figure is as tall as its rows need.
    :param methods: the methods drawn, in this order; default every method of ``rows``.
    :returns: the figure.
    :raises ValueError: a method of ``methods`` is not in ``rows``; an unknown suffix.
    """
    best = _best_by_method(rows)
    drawn = select_methods(list(best), methods)
    archs = {method: space.from_str(best[method]["arch"]) for method in drawn}
    per_row, n_rows, scale = _cell_grid(len(drawn), width)
    width = width or CELL_SIZE[0] * per_row
    height = CELL_SIZE[1] * scale * n_rows + LEGEND_HEIGHT
    fontsize = 6.5 * scale
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(n_rows, per_row, squeeze=False).ravel()
    colours = _op_colours(space)
    used: set[str] = set()
    for axis, method in zip(axes, drawn):
        arch = archs[method]
        if isinstance(arch, NB201Arch):
            _draw_nb201_cell(axis, arch, colours, fontsize)
            used.update(arch.ops)
        else:
            graph = space.to_graph(arch)
            panel = (width / per_row, (height - LEGEND_HEIGHT) / n_rows - 0.3)  # inches, less the title
            _draw_node_cell(axis, graph, colours, fontsize, panel)
            used.update(graph.nodes[node]["op"] for node in graph)
        axis.set_title(f"{method}: {best[method]['best_reported']:.2f} %", fontsize=fontsize + 1.5)
    for axis in axes:
        axis.axis("off")
    handles = [Line2D([], [], color=colours[op], linestyle=":" if op == NO_OP else "-", linewidth=2,
                      label=_legend_label(op)) for op in space.ops if op in used]
    figure.legend(handles=handles, loc="outside lower center",
                  ncol=max(1, min(len(handles), int(width // CELL_SIZE[0]))),
                  fontsize=fontsize,
                  frameon=False, handlelength=1.5, columnspacing=1.0)
    save_figure(figure, path)
    return figure


def write_figures(rows: Sequence[dict[str, Any]], space: Space, out: Path, title: str,
                  figures: FigureOptions = FigureOptions()) -> list[Path]:
    """``regret`` and ``best_cells`` of ``rows`` into ``out``, as ``figures`` says; return their paths."""
    paths = [figures.path(out, "regret"), figures.path(out, "best_cells")]
    plot_regret(rows, paths[0], title, size=figures.size, methods=figures.methods)
    plot_best_cells(rows, space, paths[1], width=None if figures.size is None else figures.size[0],
                    methods=figures.methods)
    return paths


def write_outputs(rows: Sequence[dict[str, Any]], space: Space, out: Path, title: str,
                  figures: FigureOptions = FigureOptions()) -> list[dict[str, Any]]:
    """Write the four outputs of a replay into ``out`` (the figures as ``figures`` says) and return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    write_csv(out / "trials.csv", rows, TRIAL_COLUMNS)
    write_csv(out / "summary.csv", summary, SUMMARY_COLUMNS)
    write_figures(rows, space, out, title, figures)
    return summary


def read_trials(path: Path) -> list[dict[str, Any]]:
    """The rows of a replay's ``trials.csv`` (single- or multi-objective, or multi-fidelity), numbers parsed, for
    redrawing."""
    texts, counts = ("method", "arch", "recommended"), ("seed", "query", "step", "promoted")
    with path.open(newline="") as handle:
        return [{key: value if key in texts else int(value) if key in counts else float(value)
                 for key, value in row.items()} for row in csv.DictReader(handle)]


def check_output_folder(out: Path) -> None:
    """Create ``out`` if needed and prove it writable with a probe file, before any replay is computed.

    :raises ValueError: ``out`` is a file, cannot be created or written, or holds a folder where an output goes.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} is an existing file; expected a folder (or a path to create one)")
    existing = next((parent for parent in out.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ValueError(f"output folder {out} cannot be created: {existing} is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".bonas-write-check-"):
            pass
    except OSError as error:
        raise ValueError(f"cannot write to output folder {out}: {error.strerror or error}") from None
    blocked = [name for name in OUTPUT_NAMES if (out / name).is_dir()]
    if blocked:
        raise ValueError(f"output folder {out} holds folders named {blocked}, where the outputs are written")


def write_fallback(rows: Sequence[dict[str, Any]], space: Space, title: str,
                   figures: FigureOptions = FigureOptions()) -> Path:
    """Write the outputs of ``rows`` into a new temporary folder, at least ``trials.csv``; return the folder.

    For when :func:`write_outputs` failed on the folder asked for, so that no computed replay is lost.
    """
    folder = Path(tempfile.mkdtemp(prefix="bonas-replay-"))
    try:
        write_outputs(rows, space, folder, title, figures)
    except Exception:  # the plots or the summary may be what failed; the rows alone are what must survive
        write_csv(folder / "trials.csv", rows, TRIAL_COLUMNS)
    return folder
