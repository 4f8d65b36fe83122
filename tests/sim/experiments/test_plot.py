"""The figures: bars and points where the numbers put them, the commands' figures, bad
paths refused."""
import pytest

from sim.cli.main import main
from sim.experiments.plot import (CATEGORY_NAMES, PlotError, grouped_bars, line_chart,
                                  migrate_figure, reproduce_figure, stacked_bars, write_figure)
from sim.kernel.modes import CATEGORIES


def _bars(figure):
    """{(legend label, x position rounded): (bottom, height)} of the data bars."""
    axes = figure.axes[0]
    out = {}
    for container in axes.containers:
        if not hasattr(container, "patches"):
            continue
        for patch in container.patches:
            x = round(patch.get_x() + patch.get_width() / 2, 3)
            out[(container.get_label(), x)] = (patch.get_y(), patch.get_height())
    return out


def _legend(figure):
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


def test_stacked_bars_heights_are_the_values_stacked():
    figure = stacked_bars("t", "cycles", [("a", {"x": 100.0, "y": 300.0}), ("b", {"x": 50.0})],
                          ["x", "y"])
    bars = _bars(figure)
    assert bars[("x", 0)] == (0.0, 100.0) and bars[("y", 0)] == (100.0, 300.0)
    assert bars[("x", 1)] == (0.0, 50.0) and bars[("y", 1)] == (50.0, 0.0)
    assert _legend(figure) == ["y", "x"]                   # top part first, as stacked
    totals = [text.get_text() for text in figure.axes[0].texts]
    assert totals == ["400", "50"]
    assert figure.axes[0].get_ylabel() == "cycles"


def test_grouped_bars_go_both_ways_from_zero_over_their_bands():
    figure = grouped_bars("t", "%", [("g1", {"m": -28.0, "f": 5.0}),
                                     ("g2", {"m": None, "f": 9.0})],
                          ("m", "f"), bands=[(0, 1, -20.0, 20.0, "all")], band_name="criterion")
    bars = _bars(figure)
    assert sorted((name, bottom, height) for (name, _), (bottom, height) in bars.items()) == \
        [("f", 0.0, 5.0), ("f", 0.0, 9.0), ("m", 0.0, -28.0)]
    (band,) = figure.axes[0].collections
    extent = band.get_paths()[0].get_extents()
    assert (extent.y0, extent.y1) == (-20.0, 20.0)
    assert _legend(figure) == ["criterion", "m", "f"]


def test_line_chart_numeric_axis_error_bars_and_categories():
    figure = line_chart("t", "GB/s", "channels", ["1", "2", "4"],
                        {"dma": [5.0, 10.0, None], "cpu": [8.0, 8.0, 8.0]},
                        errors={"dma": [0.5, 1.0, None]})
    axes = figure.axes[0]
    series = {container.get_label(): container for container in axes.containers}
    dma, cpu = series["dma"].lines[0], series["cpu"].lines[0]
    assert list(dma.get_xdata()) == [1.0, 2.0] and list(dma.get_ydata()) == [5.0, 10.0]
    assert list(cpu.get_xdata()) == [1.0, 2.0, 4.0]
    assert series["dma"].has_yerr and not series["cpu"].has_yerr
    assert axes.get_ylim()[0] == 0 and axes.get_xlabel() == "channels"
    named = line_chart("t", "y", "driver", ["v1", "v2"], {"dma": [3.0, 2.0]})
    assert list(named.axes[0].get_lines()[0].get_xdata()) == [0, 1]
    assert [t.get_text() for t in named.axes[0].get_xticklabels()] == ["v1", "v2"]
    with pytest.raises(PlotError, match="2 values for 3 x"):
        line_chart("t", "y", "x", ["1", "2", "3"], {"a": [1.0, 2.0]})


def test_line_chart_baselines_and_measured_values_in_their_lines_colors():
    figure = line_chart("t", "GB/s", "channels", [1, 2, 4], {"dma": [5.0, 10.0, 20.0]},
                        baselines={"cpu": 8.0},
                        measured={"dma": [4.0, None, 12.0], "cpu": 7.5})
    axes = figure.axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    dma = next(c for c in axes.containers if c.get_label() == "dma").lines[0]
    assert lines["cpu"].get_linestyle() == "--" and list(lines["cpu"].get_ydata()) == [8.0, 8.0]
    assert lines["dma, measured"].get_linestyle() == ":"
    assert list(lines["dma, measured"].get_xdata()) == [1.0, 4.0]
    assert lines["dma, measured"].get_color() == dma.get_color()
    assert lines["cpu, measured"].get_color() == lines["cpu"].get_color()
    # The legend lists each line, then what was measured for it.
    assert [t.get_text() for t in axes.get_legend().get_texts()] == [
        "dma", "dma, measured", "cpu", "cpu, measured"]
    with pytest.raises(PlotError, match="measured 'gpu' is not one of"):
        line_chart("t", "y", "x", [1, 2], {"dma": [1.0, 2.0]}, measured={"gpu": [1.0, 2.0]})


def test_bad_figures_and_paths_are_refused(tmp_path):
    with pytest.raises(PlotError, match="no bars"):
        stacked_bars("t", "y", [], ["x"])
    with pytest.raises(PlotError, match="negative x"):
        stacked_bars("t", "y", [("a", {"x": -1.0})], ["x"])
    with pytest.raises(PlotError, match="ending in .svg or .png"):
        write_figure(tmp_path / "figure.pdf", stacked_bars("t", "y", [("a", {"x": 1.0})], ["x"]))


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG")])
def test_written_by_the_extension_and_svg_reproducible(tmp_path, suffix, magic):
    figure = stacked_bars("t", "y", [("a", {"x": 1.0})], ["x"])
    path = write_figure(tmp_path / f"f{suffix}", figure)
    assert path.read_bytes().startswith(magic)
    if suffix == ".svg":
        again = write_figure(tmp_path / "g.svg",
                             stacked_bars("t", "y", [("a", {"x": 1.0})], ["x"]))
        assert again.read_bytes() == path.read_bytes()


ROW = {"mode": "dma", "driver": "v1",
       "breakdown_cycles_per_page": dict(zip(CATEGORIES, (1000.0, 2000.0, 500.0, 700.0, 0.0))),
       "copy_breakdown_cycles_per_page": dict(zip(CATEGORIES, (0.0, 900.0, 500.0, 700.0, 0.0)))}


def test_migrate_figure_stacks_every_category():
    assert set(CATEGORY_NAMES) == set(CATEGORIES)
    figure = migrate_figure([ROW], "4K")
    bars = _bars(figure)
    assert bars[("cold start", 0)] == (1000.0, 2000.0)
    assert bars[("driver and MMIO", 1)] == (1400.0, 700.0)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == \
        ["dma (v1)\nmigrate_pages", "dma (v1)\nfolio_copy"]
    assert figure.axes[0].get_title() == "Where the time goes: 4K"


def test_reproduce_figure_bands_follow_the_criteria():
    report = {"table1": [], "checks": {"cpu": {"limit": 0.10}, "dma": {"limit": 0.20}}}
    for mode, error in (("dma", -0.281), ("cpu", 0.05)):
        report["table1"].append({"mode": mode, "workload": "4K", "cells": {
            "migrate_pages": {"error": error / 2}, "folio_copy": {"error": error}}})
    figure = reproduce_figure(report, ("cpu", "batch-cpu", "dma"))
    heights = sorted((name, round(height, 2)) for (name, _), (_, height) in _bars(figure).items())
    assert heights == [("folio_copy", -28.1), ("folio_copy", 5.0), ("migrate_pages", -14.05),
                       ("migrate_pages", 2.5)]
    bands = [c.get_paths()[0].get_extents() for c in figure.axes[0].collections]
    assert [(round(b.y0), round(b.y1)) for b in bands] == [(-10, 10), (-20, 20)]
    labels = [t.get_text() for t in figure.axes[0].texts]
    assert labels == ["cpu (±10%)", "dma (±20%)"]


def test_migrate_plot_option(tmp_path, capsys):
    figure = tmp_path / "time.png"
    assert main(["migrate", "--workload", "8K", "--copy", "cpu", "--copy", "batch-cpu",
                 "--repeat", "2", "--quiet", "--plot", str(figure)]) == 0
    assert figure.read_bytes().startswith(b"\x89PNG")
    assert f"figure: {figure}" in capsys.readouterr().err


def test_plot_option_wants_an_svg_or_png_path(capsys):
    with pytest.raises(SystemExit):
        main(["migrate", "--plot", "time.pdf"])
    assert "ending in .svg or .png" in capsys.readouterr().err
