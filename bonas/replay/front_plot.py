"""``fronts.png`` of a two-objective replay: per method, the points found and their front beside the true front."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from bonas.replay.figures import method_styles, save_figure, select_methods, wrapped
from bonas.replay.pareto import is_negated, pareto_mask

PANEL_SIZE = (3.6, 3.4)
"""Width and height (inches) of one method's panel."""


def _staircase(front: np.ndarray) -> np.ndarray:
    """The boundary of the region that ``front`` (``m x 2``, maximised, mutually non-dominated) dominates:
    its points joined by steps, ``(2m - 1) x 2``."""
    front = front[np.lexsort((-front[:, 1], front[:, 0]))]
    corners = np.column_stack([front[:-1, 0], front[1:, 1]])
    vertices = np.empty((2 * len(front) - 1, 2))
    vertices[0::2], vertices[1::2] = front, corners
    return vertices


def plot_fronts(found: dict[str, np.ndarray], true_Y: np.ndarray | None, labels: Sequence[str], path: Path,
                title: str, minimised: Sequence[bool] | None = None, *, size: tuple[float, float] | None = None,
                methods: Sequence[str] | None = None) -> Figure:
    """One panel per method: every point found (grey), its non-dominated ones as a step line, the true front.

    Each method's front has its colour and marker of :func:`bonas.replay.figures.method_styles`, as in
    ``regret.png``; panels wrap into rows of up to four (or as many as fit ``size``).

    :param found: per method, the ``n x 2`` points found (one seed, or all seeds stacked), maximised.
    :param true_Y: the table's ``N x 2`` objective matrix, maximised; ``None`` when there is no table (a real
        search), and no true front is drawn.
    :param labels: the two objectives' labels; a negated cost (``latency...``, ``params``, ``flops``) is drawn
        in its own units, un-negated.
    :param path: where the figure goes; its suffix (``.png``, ``.pdf``, ``.svg``) is the format.
    :param minimised: which objectives are negated costs, drawn un-negated; ``None`` reads it from the labels.
    :param size: ``(width, height)`` in inches; default 3.6 x 3.4 per panel.
    :param methods: the methods drawn, in this order; default every method of ``found``.
    :returns: the figure.
    :raises ValueError: not two objectives; a method of ``methods`` not in ``found``; an unknown suffix.
    """
    if len(labels) != 2 or (true_Y is not None and np.shape(true_Y)[1:] != (2,)):
        raise ValueError(f"a front plot needs two objectives; got labels {list(labels)} and a table of shape "
                         f"{np.shape(true_Y)}")
    drawn = select_methods(list(found), methods)
    styles = method_styles(drawn)
    minimised = [is_negated(label) for label in labels] if minimised is None else list(minimised)
    signs = np.array([-1.0 if negated else 1.0 for negated in minimised])
    true_front = None if true_Y is None else _staircase(true_Y[pareto_mask(true_Y)]) * signs
    n_panels = max(len(drawn), 1)
    per_row = min(n_panels, 4 if size is None else max(1, int(size[0] // PANEL_SIZE[0])))
    n_rows = math.ceil(n_panels / per_row)
    width, height = size or (PANEL_SIZE[0] * per_row, PANEL_SIZE[1] * n_rows + 0.4)
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(n_rows, per_row, squeeze=False, sharex=True, sharey=True).ravel()
    for axis, method in zip(axes, drawn):
        points = np.asarray(found[method], dtype=float).reshape(-1, 2)
        axis.scatter(*(points * signs).T, s=6, color="#C8C8C8", label="found", rasterized=len(points) > 2000)
        if true_front is not None:
            axis.plot(*true_front.T, color="black", linestyle="--", linewidth=1, label="true front")
        if len(points):
            style = styles[method]
            axis.plot(*(_staircase(points[pareto_mask(points)]) * signs).T, color=style.color, marker=style.marker,
                      markersize=3.5, linewidth=1.4, label="found front")
        axis.set_title(method, fontsize=9)
        axis.set_xlabel(labels[0], fontsize=8.5)
        axis.set_ylabel(labels[1], fontsize=8.5)
        axis.tick_params(labelsize=8)
        axis.grid(True, alpha=0.3)
    for axis in axes[len(drawn):]:
        axis.set_visible(False)
    axes[0].legend(fontsize=7.5)
    figure.suptitle(wrapped(title, width, 10), fontsize=10)
    save_figure(figure, path)
    return figure
