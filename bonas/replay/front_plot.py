"""``fronts.png`` of a two-objective replay: per method, the points found and their front beside the true front."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from bonas.replay.pareto import is_negated, pareto_mask
from bonas.replay.report import _save_figure


def _staircase(front: np.ndarray) -> np.ndarray:
    """The boundary of the region that ``front`` (``m x 2``, maximised, mutually non-dominated) dominates:
    its points joined by steps, ``(2m - 1) x 2``."""
    front = front[np.lexsort((-front[:, 1], front[:, 0]))]
    corners = np.column_stack([front[:-1, 0], front[1:, 1]])
    vertices = np.empty((2 * len(front) - 1, 2))
    vertices[0::2], vertices[1::2] = front, corners
    return vertices


def plot_fronts(found: dict[str, np.ndarray], true_Y: np.ndarray | None, labels: Sequence[str], path: Path,
                title: str, minimised: Sequence[bool] | None = None) -> None:
    """One panel per method: every point found (grey), its non-dominated ones as a step line, the true front.

    :param found: per method, the ``n x 2`` points found (one seed, or all seeds stacked), maximised.
    :param true_Y: the table's ``N x 2`` objective matrix, maximised; ``None`` when there is no table (a real
        search), and no true front is drawn.
    :param labels: the two objectives' labels; a negated cost (``latency...``, ``params``, ``flops``) is drawn
        in its own units, un-negated.
    :param minimised: which objectives are negated costs, drawn un-negated; ``None`` reads it from the labels.
    :raises ValueError: not two objectives.
    """
    if len(labels) != 2 or (true_Y is not None and np.shape(true_Y)[1:] != (2,)):
        raise ValueError(f"a front plot needs two objectives; got labels {list(labels)} and a table of shape "
                         f"{np.shape(true_Y)}")
    minimised = [is_negated(label) for label in labels] if minimised is None else list(minimised)
    signs = np.array([-1.0 if negated else 1.0 for negated in minimised])
    true_front = None if true_Y is None else _staircase(true_Y[pareto_mask(true_Y)]) * signs
    figure = Figure(figsize=(4.2 * max(len(found), 1), 4))
    axes = figure.subplots(1, max(len(found), 1), squeeze=False, sharex=True, sharey=True)[0]
    for axis, (method, points) in zip(axes, found.items()):
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        axis.scatter(*(points * signs).T, s=8, color="lightgrey", label="found")
        if true_front is not None:
            axis.plot(*true_front.T, color="black", linestyle="--", linewidth=1, label="true front")
        if len(points):
            axis.plot(*(_staircase(points[pareto_mask(points)]) * signs).T, marker="o", markersize=4,
                      color="tab:blue", label="found front")
        axis.set_title(method, fontsize=10)
        axis.set_xlabel(labels[0])
        axis.set_ylabel(labels[1])
        axis.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    _save_figure(figure, path, dpi=110)
