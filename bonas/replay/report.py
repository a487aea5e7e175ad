"""Replay outputs: ``trials.csv``, ``summary.csv``, ``regret.png``, ``best_cells.png`` and a printed table.

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

import matplotlib
import networkx as nx
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from rich.console import Console
from rich.table import Table

from bonas.files import atomic_write
from bonas.spaces.base import Space

TRIAL_COLUMNS = ("method", "seed", "query", "arch", "objective", "best_objective", "best_reported", "regret",
                 "step_wall_s", "sim_time_s")
"""The columns of a (single-objective) replay's ``trials.csv``: one row per query."""
CHECKPOINTS = (10, 25, 50, 100, 150)
SUMMARY_COLUMNS = ("method", "queries", "n_seeds", "mean_regret", "median_regret", "se_regret", "mean_best_reported")
REGRET_FLOOR = 1e-3
OUTPUT_NAMES = ("trials.csv", "summary.csv", "regret.png", "best_cells.png")


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


def _save_figure(figure: Figure, path: Path, dpi: int) -> None:
    """``figure`` as a PNG at ``path``, atomically."""
    image = io.BytesIO()
    figure.savefig(image, dpi=dpi, format="png")
    atomic_write(path, image.getvalue())


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


def plot_regret(rows: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """Mean regret (log y, floored at ``REGRET_FLOOR``) with a standard-error band, per method.

    A second panel plots it against simulated training time when the table knows it.
    """
    curves = _by_method(rows)
    times: dict[str, list[list[float]]] = defaultdict(list)
    for row in rows:
        if row["query"] == 1:
            times[row["method"]].append([])
        times[row["method"]][-1].append(row["sim_time_s"])
    has_time = all(not math.isnan(value) for row in rows for value in [row["sim_time_s"]])
    figure = Figure(figsize=(11 if has_time else 6, 4.2))
    axes = figure.subplots(1, 2 if has_time else 1, squeeze=False)
    for method, regrets in curves.items():
        mean = regrets.mean(axis=0)
        se = regrets.std(axis=0, ddof=1) / math.sqrt(len(regrets)) if len(regrets) > 1 else np.zeros_like(mean)
        queries = np.arange(1, len(mean) + 1)
        panels = [(axes[0][0], queries)]
        if has_time:
            panels.append((axes[0][1], np.mean(times[method], axis=0) / 3600))
        for axis, x in panels:
            line, = axis.plot(x, np.maximum(mean, REGRET_FLOOR), label=method)
            axis.fill_between(x, np.maximum(mean - se, REGRET_FLOOR), np.maximum(mean + se, REGRET_FLOOR),
                              color=line.get_color(), alpha=0.2)
    axes[0][0].set_xlabel("queries")
    if has_time:
        axes[0][1].set_xlabel("simulated training time (h)")
    for axis in axes[0]:
        axis.set_yscale("log")
        axis.set_ylabel("mean regret (%)")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].legend()
    figure.suptitle(title)
    figure.tight_layout()
    _save_figure(figure, path, dpi=110)


def _layered_positions(graph: nx.DiGraph) -> dict[int, tuple[float, float]]:
    layers: dict[int, int] = {}
    for node in nx.topological_sort(graph):
        layers[node] = max((layers[parent] + 1 for parent in graph.predecessors(node)), default=0)
    for node, layer in layers.items():
        graph.nodes[node]["layer"] = layer
    return nx.multipartite_layout(graph, subset_key="layer")


def plot_best_cells(rows: Sequence[dict[str, Any]], space: Space, path: Path) -> None:
    """Per method, the best cell it found over all seeds (by reported value), drawn with nodes coloured by op."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["objective"] == row["best_objective"]:
            current = best.get(row["method"])
            if current is None or row["best_reported"] > current["best_reported"]:
                best[row["method"]] = row
    ops = ["input", *space.ops, "output"]
    colours = dict(zip(ops, matplotlib.colormaps["tab10"].colors))
    figure = Figure(figsize=(3.4 * len(best), 3.4))
    axes = figure.subplots(1, len(best), squeeze=False)
    for axis, (method, row) in zip(axes[0], best.items()):
        graph = space.to_graph(space.from_str(row["arch"]))
        node_ops = [graph.nodes[node]["op"] for node in graph]
        nx.draw_networkx(graph, pos=_layered_positions(graph), ax=axis, with_labels=False, node_size=220,
                         node_color=[colours[op] for op in node_ops], arrowsize=10)
        axis.set_title(f"{method}: {row['best_reported']:.2f} %", fontsize=10)
        axis.axis("off")
    handles = [Line2D([], [], marker="o", linestyle="", color=colours[op], label=op) for op in ops]
    figure.legend(handles=handles, loc="lower center", ncol=min(len(ops), 7), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    _save_figure(figure, path, dpi=100)


def write_outputs(rows: Sequence[dict[str, Any]], space: Space, out: Path, title: str) -> list[dict[str, Any]]:
    """Write the four outputs of a replay into ``out`` and return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    write_csv(out / "trials.csv", rows, TRIAL_COLUMNS)
    write_csv(out / "summary.csv", summary, SUMMARY_COLUMNS)
    plot_regret(rows, out / "regret.png", title)
    plot_best_cells(rows, space, out / "best_cells.png")
    return summary


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


def write_fallback(rows: Sequence[dict[str, Any]], space: Space, title: str) -> Path:
    """Write the outputs of ``rows`` into a new temporary folder, at least ``trials.csv``; return the folder.

    For when :func:`write_outputs` failed on the folder asked for, so that no computed replay is lost.
    """
    folder = Path(tempfile.mkdtemp(prefix="bonas-replay-"))
    try:
        write_outputs(rows, space, folder, title)
    except Exception:  # the plots or the summary may be what failed; the rows alone are what must survive
        write_csv(folder / "trials.csv", rows, TRIAL_COLUMNS)
    return folder
