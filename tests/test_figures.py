"""Replay figures: formats, sizes, which methods, the regret band near 0, one look per method, the cells drawn."""

import struct

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from bonas.cli import main
from bonas.replay.figures import PNG_DPI, FigureOptions, in_format, method_styles, seeds_in_words
from bonas.replay.front_plot import plot_fronts
from bonas.replay.report import OP_LABELS, TRIAL_COLUMNS, plot_best_cells, plot_regret, read_trials, write_csv
from bonas.spaces import NASBench101Space, NASBench201Space

NB201 = NASBench201Space()
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
SEVEN = ("tw", "path", "wl", "random", "rea", "ls", "bananas")


def replay_rows(curves: dict[str, np.ndarray], arch: str = CELL) -> list[dict]:
    """Trial rows from per-method ``seeds x queries`` regret arrays (one cell, no simulated time)."""
    return [{"method": method, "seed": seed, "query": query, "arch": arch, "objective": 90.0 - regret,
             "best_objective": 90.0 - regret, "best_reported": 90.0 - regret, "regret": float(regret),
             "step_wall_s": 0.0, "sim_time_s": float("nan")}
            for method, regrets in curves.items() for seed, run in enumerate(regrets)
            for query, regret in enumerate(run, start=1)]


def decaying(scale: float, seeds: int = 4, queries: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return scale * np.minimum.accumulate(rng.uniform(0.5, 1.5, (seeds, queries)) / np.arange(1, queries + 1), axis=1)


def bands(figure) -> list[PolyCollection]:
    return [child for child in figure.axes[0].get_children() if isinstance(child, PolyCollection)]


def legend_labels(figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


@pytest.mark.parametrize(("suffix", "header"), [("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF-"), ("svg", b"<?xml")])
def test_each_format_is_written_with_its_own_header(tmp_path, suffix, header):
    rows = replay_rows({"tw": decaying(2.0)})
    plot_regret(rows, tmp_path / f"regret.{suffix}", "test")
    plot_best_cells(rows, NB201, tmp_path / f"cells.{suffix}")
    for name in ("regret", "cells"):
        data = (tmp_path / f"{name}.{suffix}").read_bytes()
        assert data.startswith(header)
        if suffix == "svg":
            assert b"<svg" in data[:2000]


def test_an_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"expected a suffix among \['png', 'pdf', 'svg'\]"):
        plot_regret(replay_rows({"tw": decaying(2.0)}), tmp_path / "regret.jpg", "test")


def test_the_size_is_the_one_asked_for_in_inches(tmp_path):
    rows = replay_rows({"tw": decaying(2.0), "random": decaying(3.0, seed=1)})
    figure = plot_regret(rows, tmp_path / "regret.png", "test", size=(3.4, 2.6))
    assert tuple(figure.get_size_inches()) == (3.4, 2.6)
    width, height = struct.unpack(">II", (tmp_path / "regret.png").read_bytes()[16:24])
    assert (width, height) == (round(3.4 * PNG_DPI), round(2.6 * PNG_DPI))
    cells = plot_best_cells(rows, NB201, tmp_path / "cells.pdf", width=3.4)
    assert cells.get_size_inches()[0] == 3.4


def test_only_the_methods_asked_for_are_drawn_in_their_order(tmp_path):
    rows = replay_rows({method: decaying(1.0 + index, seed=index) for index, method in enumerate(SEVEN)})
    figure = plot_regret(rows, tmp_path / "regret.svg", "test", methods=["rea", "tw"])
    assert [line.get_label() for line in figure.axes[0].get_lines() if not line.get_label().startswith("_")] == \
        ["rea", "tw"]
    assert [label for label in legend_labels(figure) if label in SEVEN] == ["rea", "tw"]
    assert len(bands(figure)) == 2
    cells = plot_best_cells(rows, NB201, tmp_path / "cells.png", methods=["ls"])
    assert [axis.get_title().split(":")[0] for axis in cells.axes if axis.get_title()] == ["ls"]
    with pytest.raises(ValueError, match=r"cannot draw methods \['nope'\]"):
        plot_regret(rows, tmp_path / "bad.png", "test", methods=["tw", "nope"])


def test_seven_methods_get_seven_different_colour_and_style_pairs(tmp_path):
    rows = replay_rows({method: decaying(1.0 + index, seed=index) for index, method in enumerate(SEVEN)})
    figure = plot_regret(rows, tmp_path / "regret.png", "test")
    lines = [line for line in figure.axes[0].get_lines() if line.get_label() in SEVEN]
    assert len(lines) == 7
    assert len({(line.get_color(), line.get_linestyle()) for line in lines}) == 7
    assert len({line.get_color() for line in lines}) == 7
    assert "#F0E442" not in {line.get_color() for line in lines}, "yellow, the palette's weakest on white, is last"
    styles = method_styles([f"m{index}" for index in range(40)])
    assert len({(style.color, style.linestyle) for style in styles.values()}) == 40


def test_a_band_on_a_log_axis_stays_above_zero(tmp_path):
    noisy = decaying(1.0, seeds=6)
    noisy[0] *= 8  # a wide band, still all positive
    figure = plot_regret(replay_rows({"tw": noisy, "rea": decaying(2.0, seed=3)}), tmp_path / "regret.png", "test")
    axis = figure.axes[0]
    assert axis.get_yscale() == "log"
    for band in bands(figure):
        assert min(path.vertices[:, 1].min() for path in band.get_paths()) > 0


def test_a_band_reaching_zero_is_cut_at_zero_on_an_axis_that_shows_zero(tmp_path):
    one_seed_left = np.zeros((6, 10))
    one_seed_left[0] = 0.5  # mean 0.083, standard error 0.083: the band's lower edge is exactly 0
    figure = plot_regret(replay_rows({"ls": one_seed_left}), tmp_path / "regret.png", "test")
    axis = figure.axes[0]
    assert axis.get_yscale() == "symlog" and axis.get_ylim()[0] < 0
    (band,) = bands(figure)
    assert min(path.vertices[:, 1].min() for path in band.get_paths()) == 0
    assert "regret 0 on\nevery seed" not in legend_labels(figure), "no mean is 0"


def test_a_method_at_exactly_zero_regret_is_shown_on_the_axis(tmp_path):
    reaches = decaying(1.0)
    reaches[:, 12:] = 0.0  # every seed finds the optimum at query 13
    rows = replay_rows({"tw": reaches, "random": decaying(3.0, seed=2)})
    figure = plot_regret(rows, tmp_path / "regret.png", "test")
    axis = figure.axes[0]
    assert axis.get_yscale() == "symlog"
    bottom, _ = axis.get_ylim()
    assert bottom < 0, "0 is inside the axes, not its edge"
    tw_line = next(line for line in axis.get_lines() if line.get_label() == "tw")
    assert np.all(tw_line.get_ydata()[12:] == 0)
    zero_markers = [line for line in axis.get_lines() if list(line.get_ydata()) == [0.0] and line.get_markersize() > 6]
    assert [list(line.get_xdata()) for line in zero_markers] == [[13]]
    assert "regret 0 on\nevery seed" in legend_labels(figure)
    for band in bands(figure):
        assert min(path.vertices[:, 1].min() for path in band.get_paths()) >= 0


def test_the_caption_says_the_band_is_one_standard_error_and_the_title_names_the_seeds(tmp_path):
    figure = plot_regret(replay_rows({"tw": decaying(1.0, seeds=3)}), tmp_path / "regret.png",
                         "NAS-Bench-201 CIFAR-100, 200-epoch test accuracy")
    assert "± 1 standard\nerror" in legend_labels(figure)
    assert " ".join(figure.get_suptitle().split()) == "NAS-Bench-201 CIFAR-100, 200-epoch test accuracy, seeds 0-2 (3)"


def test_seeds_are_named_as_runs():
    rows = [{"method": "a", "seed": seed} for seed in (0, 1, 2, 5)] + [{"method": "b", "seed": 0}]
    assert seeds_in_words(rows, ["a"]) == "seeds 0-2, 5 (4)"
    assert seeds_in_words(rows, ["a", "b"]) == "seeds 0-2, 5 (1-4 per method)"
    assert seeds_in_words(rows, ["b"]) == "seed 0 (1)"


def test_an_nb201_cell_names_the_op_of_every_edge_and_the_legend_only_the_ops_it_uses(tmp_path):
    rows = replay_rows({method: decaying(1.0) for method in SEVEN})
    figure = plot_best_cells(rows, NB201, tmp_path / "cells.png")
    first = figure.axes[0]
    edge_labels = sorted(text.get_text() for text in first.texts if not text.get_text().isdigit())
    assert edge_labels == sorted(["conv\n3×3", "conv\n3×3", "skip", "avg pool\n3×3", "conv\n1×1", "none"])
    assert sorted(text.get_text() for text in first.texts if text.get_text().isdigit()) == ["0", "1", "2", "3"]
    assert legend_labels(figure) == ["none", "skip (skip_connect)", "conv 1×1 (nor_conv_1x1)",
                                     "conv 3×3 (nor_conv_3x3)", "avg pool 3×3 (avg_pool_3x3)"]
    only_convs = plot_best_cells(replay_rows({"tw": decaying(1.0)}, arch="|nor_conv_3x3~0|+|nor_conv_3x3~0|"
                                             "nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"),
                                 NB201, tmp_path / "convs.png")
    assert legend_labels(only_convs) == ["conv 3×3 (nor_conv_3x3)"]


def test_cells_wrap_into_rows_that_fit_the_width(tmp_path):
    rows = replay_rows({method: decaying(1.0) for method in SEVEN})
    page = plot_best_cells(rows, NB201, tmp_path / "page.png")
    column = plot_best_cells(rows, NB201, tmp_path / "column.png", width=3.4)
    four = plot_best_cells(replay_rows({method: decaying(1.0) for method in SEVEN[:4]}), NB201, tmp_path / "4.png")
    assert page.axes[0].get_subplotspec().get_gridspec().get_geometry() == (3, 3)
    assert column.axes[0].get_subplotspec().get_gridspec().get_geometry() == (4, 2)
    assert four.axes[0].get_subplotspec().get_gridspec().get_geometry() == (2, 2)
    assert column.get_size_inches()[1] > page.get_size_inches()[1], "as tall as its rows need"


def test_a_node_op_cell_names_the_op_of_every_node(tmp_path):
    space = NASBench101Space()
    arch = next(arch for arch in space.sample(20, np.random.default_rng(0)) if len(space.to_graph(arch)) >= 5)
    figure = plot_best_cells(replay_rows({"tw": decaying(1.0)}, arch=space.to_str(arch)), space,
                             tmp_path / "cells.png")
    graph = space.to_graph(arch)
    names = sorted(text.get_text() for text in figure.axes[0].texts if text.get_text())
    assert names == sorted(OP_LABELS[graph.nodes[node]["op"]].replace("\n", " ") for node in graph)
    arrows = [text for text in figure.axes[0].texts if not text.get_text() and text.arrow_patch is not None]
    assert len(arrows) == graph.number_of_edges()


def test_fronts_take_the_same_options(tmp_path):
    rng = np.random.default_rng(0)
    found = {method: rng.uniform(size=(30, 2)) for method in ("tw", "random", "nsga2")}
    figure = plot_fronts(found, rng.uniform(size=(50, 2)), ["accuracy (%)", "params"], tmp_path / "fronts.pdf",
                         "test", size=(7.0, 3.0), methods=["nsga2", "tw"])
    assert (tmp_path / "fronts.pdf").read_bytes().startswith(b"%PDF-")
    assert tuple(figure.get_size_inches()) == (7.0, 3.0)
    assert [axis.get_title() for axis in figure.axes if axis.get_visible()] == ["nsga2", "tw"]
    colours = [next(line.get_color() for line in axis.get_lines() if line.get_label() == "found front")
               for axis in figure.axes if axis.get_visible()]
    assert len(set(colours)) == 2


def test_figure_options_are_checked_in_one_place(tmp_path):
    assert FigureOptions(format="svg").path(tmp_path, "regret") == tmp_path / "regret.svg"
    assert in_format(["trials.csv", "regret.png"], "pdf") == ["trials.csv", "regret.pdf"]
    for bad, message in [({"format": "jpg"}, "unknown figure format 'jpg'"), ({"size": (3.0, 0.0)}, "both positive"),
                         ({"size": (3.0,)}, "both positive"), ({"methods": ("tw", "tw")}, "different methods")]:
        with pytest.raises(ValueError, match=message):
            FigureOptions(**bad)


def test_the_cli_redraws_a_replay_folder_without_running_it(tmp_path, capsys):
    rows = replay_rows({"tw": decaying(1.0), "rea": decaying(2.0, seed=1), "random": decaying(3.0, seed=2)})
    write_csv(tmp_path / "trials.csv", rows, TRIAL_COLUMNS)
    read = read_trials(tmp_path / "trials.csv")
    assert [{key: row[key] for key in TRIAL_COLUMNS[:-1]} for row in read] == \
        [{key: row[key] for key in TRIAL_COLUMNS[:-1]} for row in rows]
    assert main(["replay", "--dataset", "cifar100", "--out", str(tmp_path), "--plot-only", "--plot-format", "pdf",
                 "--plot-size", "3.4,2.8", "--plot-methods", "tw,rea"]) == 0
    assert "redrew regret.pdf, best_cells.pdf" in capsys.readouterr().out
    assert (tmp_path / "regret.pdf").read_bytes().startswith(b"%PDF-")
    assert not (tmp_path / "regret.png").exists()
    assert main(["replay", "--out", str(tmp_path / "empty"), "--plot-only"]) == 2
    assert "cannot redraw the figures" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--plot-size", "3.4"], "--plot-size: expected the figure's width,height in inches"),
    (["--plot-size", "3.4,-1"], "--plot-size: expected the figure's width,height in inches"),
    (["--plot-format", "jpg"], "invalid choice: 'jpg'"),
    (["--plot-methods", "tw,tw"], "--plot-methods: the methods drawn must be one or more different methods"),
])
def test_bad_figure_options_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_plot_methods_outside_the_replayed_ones_are_refused_before_any_compute(tmp_path, capsys):
    assert main(["replay", "--methods", "tw,rea", "--plot-methods", "tw,ls", "--out", str(tmp_path)]) == 2
    assert "--plot-methods names ['ls'], which --methods does not replay (tw,rea)" in capsys.readouterr().out
    assert not (tmp_path / "trials.csv").exists()
