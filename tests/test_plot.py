"""SVG figures: bars where the numbers put them, the commands' figures, bad paths refused."""
import xml.etree.ElementTree as ET

import pytest

from sim.cli.main import main
from sim.kernel.folios import CATEGORIES
from sim.experiments.plot import (CATEGORY_NAMES, PlotError, grouped_bars, line_chart,
                                  migrate_figure, nice_ticks, reproduce_figure, stacked_bars,
                                  write_svg)

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg):
    """(tooltip, y, height) of every data bar (rects with a tooltip, bands excluded)."""
    root = ET.fromstring(svg)
    out = []
    for rect in root.iter(f"{SVG}rect"):
        tip = rect.find(f"{SVG}title")
        if tip is not None and not tip.text.startswith("band"):
            out.append((tip.text, float(rect.get("y")), float(rect.get("height"))))
    return out


def _axis(svg):
    """y pixel of each labelled tick value."""
    root = ET.fromstring(svg)
    ticks = {}
    for text in root.iter(f"{SVG}text"):
        if text.get("text-anchor") == "end":
            ticks[float(text.text.replace(",", ""))] = float(text.get("y")) - 4
    return ticks


def _value_of(pixels, ticks):
    """The value a pixel height stands for, from two tick labels."""
    (v0, y0), (v1, y1) = sorted(ticks.items())[:2]
    return pixels * (v1 - v0) / (y0 - y1)


@pytest.mark.parametrize("low, high", [(0, 1), (0, 60388), (-28.1, 20), (3.2, 3.3)])
def test_ticks_cover_the_range_in_round_steps(low, high):
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1 and 3 <= len(ticks) <= 12


def test_stacked_bars_heights_are_the_values():
    svg = stacked_bars("t", "cycles", [("a", {"x": 100.0, "y": 300.0}), ("b", {"x": 50.0})],
                       ["x", "y"])
    bars = {tip: height for tip, _, height in _bars(svg)}
    assert set(bars) == {"a: x 100", "a: y 300", "b: x 50"}
    ticks = _axis(svg)
    assert _value_of(bars["a: y 300"], ticks) == pytest.approx(300, rel=1e-3)
    assert _value_of(bars["b: x 50"], ticks) == pytest.approx(50, rel=1e-3)
    # Stacked: y sits on top of x.
    (_, x_top, _), (_, y_top, y_height) = sorted(
        (b for b in _bars(svg) if b[0].startswith("a:")), key=lambda b: -b[1])
    assert y_top + y_height == pytest.approx(x_top)


def test_grouped_bars_go_both_ways_from_zero_over_their_bands():
    svg = grouped_bars("t", "%", [("g1", {"m": -28.0, "f": 5.0}), ("g2", {"m": None, "f": 9.0})],
                       ("m", "f"), bands=[(0, 1, -20.0, 20.0, "all")])
    bars = {tip: (y, height) for tip, y, height in _bars(svg)}
    assert set(bars) == {"all g1: m -28.0", "all g1: f +5.0", "all g2: f +9.0"}
    ticks = _axis(svg)
    zero = ticks[0.0]
    y, height = bars["all g1: m -28.0"]
    assert y == pytest.approx(zero) and _value_of(height, ticks) == pytest.approx(28.0, rel=1e-3)
    y, height = bars["all g2: f +9.0"]
    assert y + height == pytest.approx(zero)
    root = ET.fromstring(svg)
    assert any(r.find(f"{SVG}title") is not None and r.find(f"{SVG}title").text == "band -20 .. 20"
               for r in root.iter(f"{SVG}rect"))


def test_bad_figures_and_paths_are_refused(tmp_path):
    with pytest.raises(PlotError, match="no bars"):
        stacked_bars("t", "y", [], ["x"])
    with pytest.raises(PlotError, match="negative x"):
        stacked_bars("t", "y", [("a", {"x": -1.0})], ["x"])
    with pytest.raises(PlotError, match="ending in .svg"):
        write_svg(tmp_path / "figure.png", "<svg/>")


ROW = {"mode": "dma", "driver": "v1",
       "breakdown_cycles_per_page": dict(zip(CATEGORIES, (1000.0, 2000.0, 500.0, 700.0, 0.0))),
       "copy_breakdown_cycles_per_page": dict(zip(CATEGORIES, (0.0, 900.0, 500.0, 700.0, 0.0)))}


def test_migrate_figure_stacks_every_category():
    assert set(CATEGORY_NAMES) == set(CATEGORIES)
    bars = _bars(migrate_figure([ROW], "4K"))
    tips = {tip for tip, _, _ in bars}
    assert "dma (v1) migrate_pages: cold start 2,000" in tips
    assert "dma (v1) folio_copy: driver and MMIO 700" in tips
    assert len(bars) == 4 + 3          # zero categories draw nothing


def test_reproduce_figure_bands_follow_the_criteria():
    report = {"table1": [], "checks": {"cpu": {"limit": 0.10}, "dma": {"limit": 0.20}}}
    for mode, error in (("dma", -0.281), ("cpu", 0.05)):
        report["table1"].append({"mode": mode, "workload": "4K", "cells": {
            "migrate_pages": {"error": error / 2}, "folio_copy": {"error": error}}})
    svg = reproduce_figure(report, ("cpu", "batch-cpu", "dma"))
    tips = [tip for tip, _, _ in _bars(svg)]
    assert tips == ["cpu (±10%) 4K: migrate_pages +2.5", "cpu (±10%) 4K: folio_copy +5.0",
                    "dma (±20%) 4K: migrate_pages -14.1", "dma (±20%) 4K: folio_copy -28.1"]
    assert "band -10 .. 10" in svg and "band -20 .. 20" in svg
    assert "cpu (±10%)" in svg and "dma (±20%)" in svg


def test_migrate_plot_option(tmp_path, capsys):
    figure = tmp_path / "time.svg"
    assert main(["migrate", "--workload", "8K", "--copy", "cpu", "--copy", "batch-cpu",
                 "--repeat", "2", "--quiet", "--plot", str(figure)]) == 0
    tips = {tip for tip, _, _ in _bars(figure.read_text())}
    assert any(tip.startswith("batch-cpu folio_copy: CPU copy") for tip in tips)
    assert f"figure: {figure}" in capsys.readouterr().err


def test_plot_option_wants_an_svg_path(capsys):
    with pytest.raises(SystemExit):
        main(["migrate", "--plot", "time.png"])
    assert "ending in .svg" in capsys.readouterr().err


def test_line_chart_places_points_by_value():
    svg = line_chart("t", "GB/s", "--channels", ["1", "2", "4"],
                     {"dma": [5.0, 10.0, None], "cpu": [8.0, 8.0, 8.0]})
    root = ET.fromstring(svg)
    points = {c.find(f"{SVG}title").text: float(c.get("cy")) for c in root.iter(f"{SVG}circle")}
    assert set(points) == {"dma at 1: 5", "dma at 2: 10", "cpu at 1: 8", "cpu at 2: 8",
                           "cpu at 4: 8"}
    ticks = _axis(svg)
    assert ticks[0.0] - points["dma at 2: 10"] == pytest.approx(
        2 * (ticks[0.0] - points["dma at 1: 5"]))
    assert len(list(root.iter(f"{SVG}polyline"))) == 2
    with pytest.raises(PlotError, match="2 values for 3 x"):
        line_chart("t", "y", "x", ["1", "2", "3"], {"a": [1.0, 2.0]})
