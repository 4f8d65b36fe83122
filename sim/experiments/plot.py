"""The commands' figures, drawn with matplotlib: the stacked bars of ``foliodma
migrate --plot`` (where the time goes), the grouped bars of ``foliodma reproduce
--plot`` (each cell's error against its band) and the lines of ``foliodma sweep
--plot`` (a measure against one option, on a numeric axis when the values are
numbers, with the SD as error bars).

:func:`stacked_bars`, :func:`grouped_bars` and :func:`line_chart` return a
``matplotlib.figure.Figure`` (made without pyplot: no display is needed);
:func:`write_figure` writes it as SVG or PNG, by the path's extension.
"""
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

#: Formats by file extension.
FORMATS = {".svg": "svg", ".png": "png"}
FIGSIZE = (9.0, 4.6)
BAND_COLOR = "#e5efe5"
# The same figure gives the same SVG bytes (ids are hashed from this salt, not random),
# and its text stays text (searchable, smaller) rather than glyph outlines.
matplotlib.rcParams["svg.hashsalt"] = "foliodma"
matplotlib.rcParams["svg.fonttype"] = "none"


class PlotError(ValueError):
    """A figure that cannot be drawn or written (bad path, no data)."""


def _figure(title, ylabel):
    figure = Figure(figsize=FIGSIZE, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, fontweight="bold")
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", color="#dddddd")
    axes.set_axisbelow(True)
    return figure, axes


def _colors(names):
    """A color per name, in order, from matplotlib's default cycle."""
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return {name: cycle[i % len(cycle)] for i, name in enumerate(names)}


def stacked_bars(title, ylabel, bars, parts):
    """One stacked bar per (label, {part: value}) in ``bars``, parts in ``parts`` order
    from the bottom, each bar's total written on top; negative values are refused."""
    if not bars:
        raise PlotError("no bars to draw")
    for label, values in bars:
        bad = [p for p in parts if values.get(p, 0) < 0]
        if bad:
            raise PlotError(f"bar {label!r}: negative {', '.join(bad)}")
    figure, axes = _figure(title, ylabel)
    colors = _colors(parts)
    positions = range(len(bars))
    base = [0.0] * len(bars)
    for part in parts:
        heights = [values.get(part, 0.0) for _, values in bars]
        axes.bar(positions, heights, 0.6, bottom=base, color=colors[part], label=part)
        base = [b + h for b, h in zip(base, heights)]
    for x, total in zip(positions, base):
        axes.annotate(f"{total:,.0f}", (x, total), textcoords="offset points", xytext=(0, 3),
                      ha="center", fontsize=9)
    axes.set_xticks(list(positions), [label for label, _ in bars], fontsize=9)
    axes.set_ylim(0, max(base) * 1.08 or 1.0)
    handles, labels = axes.get_legend_handles_labels()
    axes.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1))
    return figure


def grouped_bars(title, ylabel, groups, series, bands=(), band_name="band"):
    """Side-by-side bars: per (label, {series: value}) in ``groups``, one bar per series
    (missing or None: no bar). ``bands``: (first group, last group, low, high, label)
    areas shaded behind the bars, e.g. the tolerance of each run of cells, labelled
    under the group labels; the legend calls them ``band_name``."""
    if not groups:
        raise PlotError("no groups to draw")
    figure, axes = _figure(title, ylabel)
    colors = _colors(series)
    width = 0.8 / len(series)
    for n, name in enumerate(series):
        xs = [i - 0.4 + (n + 0.5) * width for i, (_, row) in enumerate(groups)
              if row.get(name) is not None]
        heights = [row[name] for _, row in groups if row.get(name) is not None]
        axes.bar(xs, heights, width * 0.9, color=colors[name], label=name)
    for first, last, low, high, label in bands:
        axes.fill_between([first - 0.5, last + 0.5], low, high, color=BAND_COLOR, zorder=0,
                          label=band_name if first == bands[0][0] else None)
        axes.annotate(label, ((first + last) / 2, 0), xycoords=("data", "axes fraction"),
                      xytext=(0, -30), textcoords="offset points", ha="center",
                      fontweight="bold")
        if first:
            axes.axvline(first - 0.5, color="#999999", linewidth=0.8)
    axes.axhline(0, color="#333333", linewidth=0.8)
    axes.set_xticks(range(len(groups)), [label for label, _ in groups])
    axes.set_xlim(-0.5, len(groups) - 0.5)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return figure


def _numeric(values):
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def line_chart(title, ylabel, xlabel, xvalues, series, errors=None, baselines=None,
               measured=None, dashed=()):
    """One line per {name: [value or None per x]} in ``series``, dashed for the names in
    ``dashed``. ``xvalues`` that are
    all numbers go on a numeric axis (logarithmic when they span more than 10x);
    others are equally spaced categories. ``errors``: {name: [SD or None per x]},
    drawn as error bars. ``baselines``: {name: value}, each a dashed horizontal line.
    ``measured``: {name of a series or baseline: [value or None per x] or a value},
    what was measured for it, drawn in its color: open markers on a dotted line, or
    a dotted horizontal line. The y axis starts at 0 for positive data."""
    if not len(xvalues) or not series:
        raise PlotError("no points to draw")
    for name, values in series.items():
        if len(values) != len(xvalues):
            raise PlotError(f"series {name!r}: {len(values)} values for {len(xvalues)} x")
    if all(v is None for values in series.values() for v in values):
        raise PlotError("no points to draw")
    figure, axes = _figure(title, ylabel)
    numbers = _numeric(xvalues)
    xs = numbers if numbers is not None else list(range(len(xvalues)))
    baselines = baselines or {}
    colors = _colors([*series, *baselines])
    for name, value in baselines.items():
        axes.axhline(value, linestyle="--", color=colors[name], label=name)
    for name, values in series.items():
        sds = (errors or {}).get(name) or [None] * len(values)
        points = [(x, v, sd or 0.0) for x, v, sd in zip(xs, values, sds) if v is not None]
        px, py, pe = zip(*points)
        axes.errorbar(px, py, yerr=pe if any(pe) else None, marker="o", capsize=3,
                      color=colors[name], label=name,
                      linestyle="--" if name in dashed else "-")
    measured_values = []
    for name, values in (measured or {}).items():
        if name not in colors:
            raise PlotError(f"measured {name!r} is not one of the series or baselines")
        label = f"{name}, measured"
        if name in baselines:
            axes.axhline(values, linestyle=":", color=colors[name], label=label)
            measured_values.append(values)
            continue
        points = [(x, v) for x, v in zip(xs, values) if v is not None]
        if points:
            px, py = zip(*points)
            axes.plot(px, py, linestyle=":", marker="o", markerfacecolor="none",
                      color=colors[name], label=label)
            measured_values += py
    if numbers is None:
        axes.set_xticks(xs, [str(v) for v in xvalues])
    else:
        if min(numbers) > 0 and max(numbers) / min(numbers) > 10:
            axes.set_xscale("log", base=2)
        axes.set_xticks(numbers, [str(v) for v in xvalues])
    axes.set_xlabel(xlabel)
    low = min([v for values in series.values() for v in values if v is not None]
              + list(baselines.values()) + measured_values)
    if low >= 0:
        axes.set_ylim(bottom=0)
    # The legend: each line, then what was measured for it.
    handles, labels = axes.get_legend_handles_labels()
    order = list(colors)
    entries = sorted(zip(handles, labels), key=lambda entry: (
        order.index(entry[1].removesuffix(", measured")), entry[1].endswith(", measured")))
    axes.legend(*zip(*entries), loc="upper left", bbox_to_anchor=(1.01, 1))
    return figure


def write_figure(path, figure):
    """Write the figure to path, as SVG or PNG by its extension; returns the path."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PlotError(f"{str(path)!r}: figures are written as SVG or PNG; give a path "
                        f"ending in .svg or .png")
    metadata = {"Date": None} if fmt == "svg" else {}
    figure.savefig(path, format=fmt, metadata=metadata, dpi=150)
    return path


# --------------------------------------------------------------------------------------
# The figures of the commands
# --------------------------------------------------------------------------------------

#: migrate's time categories (sim.kernel.modes.CATEGORIES), as the legend names them.
CATEGORY_NAMES = {"core": "migration core", "cold": "cold start", "copy": "CPU copy",
                  "driver": "driver and MMIO", "wait": "waiting on the device"}


def migrate_figure(rows, subtitle=""):
    """Stacked bars of ``foliodma migrate`` rows: per mode, the migrate_pages and the
    folio_copy cycles per page (noise-free), by time category."""
    bars = []
    for row in rows:
        name = row["mode"] + (f" ({row['driver']})" if row.get("driver") else "")
        for measure, key in (("migrate_pages", "breakdown_cycles_per_page"),
                             ("folio_copy", "copy_breakdown_cycles_per_page")):
            bars.append((f"{name}\n{measure}",
                         {CATEGORY_NAMES[k]: v for k, v in row[key].items()}))
    title = "Where the time goes" + (f": {subtitle}" if subtitle else "")
    return stacked_bars(title, "CPU cycles per 4 KiB page (noise-free)", bars,
                        list(CATEGORY_NAMES.values()))


def reproduce_figure(report, modes):
    """Grouped bars of ``foliodma reproduce``: each table 1 cell's error (%), per mode
    (in ``modes`` order) and workload, over its criterion's band."""
    groups, bands = [], []
    for mode in modes:
        mine = [r for r in report["table1"] if r["mode"] == mode]
        if not mine:
            continue
        limit = 100 * report["checks"][mode]["limit"]
        bands.append((len(groups), len(groups) + len(mine) - 1, -limit, limit,
                      f"{mode} (±{limit:g}%)"))
        groups += [(r["workload"],
                    {column: 100 * r["cells"][column]["error"]
                     for column in ("migrate_pages", "folio_copy")}) for r in mine]
    return grouped_bars("foliodma reproduce: model against the seed's table 1",
                        "error of the model, % of the seed's mean", groups,
                        ("migrate_pages", "folio_copy"), bands, band_name="criterion")

