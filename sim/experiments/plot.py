"""Figures as SVG, drawn without a plotting library: the bar charts of
``foliodma migrate --plot`` (where the time goes) and ``foliodma reproduce
--plot`` (each cell's error against its band), the lines of ``foliodma sweep
--plot`` (a measure against one parameter).

:func:`stacked_bars`, :func:`grouped_bars` and :func:`line_chart` return the SVG text;
:func:`write_svg` writes it, refusing any path that does not end in ``.svg``.
"""
import math
from pathlib import Path
from xml.sax.saxutils import escape

COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")
BAND_COLOR = "#e5efe5"
WIDTH, HEIGHT = 900, 460
LEFT, RIGHT, TOP, BOTTOM = 80, 170, 50, 90      # margins: axis labels, legend, title, x labels


class PlotError(ValueError):
    """A figure that cannot be drawn or written (bad path, no data)."""


def nice_ticks(low, high, count=6):
    """Round tick values covering [low, high], about ``count`` of them."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise PlotError(f"cannot scale an axis over [{low}, {high}]")
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count - 1)
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if raw <= m * step)
    ticks = [math.floor(low / step) * step]
    while ticks[-1] < high - 1e-9 * step:
        ticks.append(ticks[-1] + step)
    return [round(tick, 10) for tick in ticks]


class _Canvas:
    """One plot area with a linear y axis from ticks[0] to ticks[-1]."""

    def __init__(self, title, ylabel, ticks, groups):
        self.ticks, self.groups = ticks, groups
        self.items = []
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = HEIGHT - TOP - BOTTOM
        self.text(WIDTH / 2, TOP / 2, title, size=15, anchor="middle", weight="bold")
        self.text(18, TOP + self.plot_h / 2, ylabel, size=12, anchor="middle",
                  rotate=-90)
        for tick in ticks:
            y = self.y(tick)
            self.line(LEFT, y, LEFT + self.plot_w, y, color="#dddddd")
            self.text(LEFT - 6, y + 4, _format_tick(tick), size=11, anchor="end")
        self.line(LEFT, TOP, LEFT, TOP + self.plot_h, color="#333333")

    def y(self, value):
        low, high = self.ticks[0], self.ticks[-1]
        return TOP + self.plot_h * (1 - (value - low) / (high - low))

    def slot(self, index):
        """(left x, width) of group ``index``."""
        width = self.plot_w / self.groups
        return LEFT + index * width, width

    def rect(self, x, y0, width, y1, color, tip=None):
        top, bottom = sorted((self.y(y0), self.y(y1)))
        title = f"<title>{escape(tip)}</title>" if tip else ""
        self.items.append(f'<rect x="{x:.2f}" y="{top:.2f}" width="{width:.2f}" '
                          f'height="{bottom - top:.2f}" fill="{color}">{title}</rect>')

    def line(self, x0, y0, x1, y1, color, width=1, dash=None):
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        self.items.append(f'<line x1="{x0:.2f}" y1="{y0:.2f}" x2="{x1:.2f}" y2="{y1:.2f}" '
                          f'stroke="{color}" stroke-width="{width}"{dashes}/>')

    def text(self, x, y, text, size=11, anchor="start", weight="normal", rotate=None):
        turn = f' transform="rotate({rotate} {x:.2f} {y:.2f})"' if rotate else ""
        self.items.append(f'<text x="{x:.2f}" y="{y:.2f}" font-size="{size}" '
                          f'text-anchor="{anchor}" font-weight="{weight}"{turn}>'
                          f'{escape(str(text))}</text>')

    def x_labels(self, labels):
        for index, label in enumerate(labels):
            left, width = self.slot(index)
            for n, part in enumerate(str(label).split("\n")):
                self.text(left + width / 2, TOP + self.plot_h + 16 + 13 * n, part, size=11,
                          anchor="middle")

    def legend(self, entries):
        x = LEFT + self.plot_w + 16
        for n, (name, color) in enumerate(entries):
            y = TOP + 10 + 20 * n
            self.items.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" '
                              f'fill="{color}"/>')
            self.text(x + 18, y, name, size=12)

    def svg(self):
        body = "\n".join(self.items)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
                f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">\n'
                f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>\n{body}\n</svg>\n')


def _format_tick(value):
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:g}"


def _format_value(value):
    """A data value in a tooltip: whole above 100, else three significant digits."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _colors(names):
    """A color per name, in order, cycling through COLORS."""
    return {name: COLORS[i % len(COLORS)] for i, name in enumerate(names)}


def stacked_bars(title, ylabel, bars, parts):
    """One stacked bar per (label, {part: value}) in ``bars``, parts in ``parts`` order
    from the bottom; negative values are not allowed."""
    if not bars:
        raise PlotError("no bars to draw")
    for label, values in bars:
        bad = [p for p in parts if values.get(p, 0) < 0]
        if bad:
            raise PlotError(f"bar {label!r}: negative {', '.join(bad)}")
    top = max(sum(values.get(p, 0) for p in parts) for _, values in bars)
    canvas = _Canvas(title, ylabel, nice_ticks(0.0, top * 1.05), len(bars))
    colors = _colors(parts)
    for index, (label, values) in enumerate(bars):
        left, width = canvas.slot(index)
        base = 0.0
        for part in parts:
            value = values.get(part, 0.0)
            if value > 0:
                canvas.rect(left + width * 0.2, base, width * 0.6, base + value, colors[part],
                            tip=f"{label.replace(chr(10), ' ')}: {part} {value:,.0f}")
            base += value
        canvas.text(left + width / 2, canvas.y(base) - 5, f"{base:,.0f}", size=11,
                    anchor="middle")
    canvas.line(LEFT, canvas.y(0), LEFT + canvas.plot_w, canvas.y(0), color="#333333")
    canvas.x_labels([label for label, _ in bars])
    canvas.legend([(part, colors[part]) for part in reversed(parts)])
    return canvas.svg()


def grouped_bars(title, ylabel, groups, series, bands=(), band_name="band"):
    """Side-by-side bars: per (label, {series: value}) in ``groups``, one bar per series
    (missing or None: no bar). ``bands``: (first group, last group, low, high, label)
    areas shaded behind the bars, e.g. the tolerance of each run of cells, labelled
    under the group labels; the legend calls them ``band_name``."""
    if not groups:
        raise PlotError("no groups to draw")
    values = [v for _, row in groups for v in row.values() if v is not None]
    limits = [edge for _, _, low, high, _ in bands for edge in (low, high)]
    low = min(values + limits + [0.0])
    high = max(values + limits + [0.0])
    margin = 0.05 * (high - low or 1.0)
    canvas = _Canvas(title, ylabel, nice_ticks(low - margin, high + margin), len(groups))
    for first, last, band_low, band_high, label in bands:
        left, _ = canvas.slot(first)
        right, width = canvas.slot(last)
        canvas.rect(left, band_low, right + width - left, band_high, BAND_COLOR,
                    tip=f"band {band_low:g} .. {band_high:g}")
        canvas.text((left + right + width) / 2, TOP + canvas.plot_h + 36, label, size=12,
                    anchor="middle", weight="bold")
        if first:
            canvas.line(left, TOP + canvas.plot_h, left, TOP + canvas.plot_h + 40,
                        color="#999999")
    colors = _colors(series)
    band_of = {index: label for first, last, _, _, label in bands
               for index in range(first, last + 1)}
    for index, (label, row) in enumerate(groups):
        left, width = canvas.slot(index)
        bar = width * 0.8 / len(series)
        where = " ".join(filter(None, (band_of.get(index), label.replace("\n", " "))))
        for n, name in enumerate(series):
            value = row.get(name)
            if value is None:
                continue
            canvas.rect(left + width * 0.1 + n * bar, 0.0, bar * 0.9, value, colors[name],
                        tip=f"{where}: {name} {value:+.1f}")
    canvas.line(LEFT, canvas.y(0), LEFT + canvas.plot_w, canvas.y(0), color="#333333")
    canvas.x_labels([label for label, _ in groups])
    canvas.legend([(name, colors[name]) for name in series] +
                  ([(band_name, BAND_COLOR)] if bands else []))
    return canvas.svg()


def line_chart(title, ylabel, xlabel, xlabels, series):
    """One line per {name: [value or None per x]} in ``series`` over the categories
    ``xlabels`` (equally spaced, in order); the y axis starts at 0 for positive data."""
    if not xlabels or not series:
        raise PlotError("no points to draw")
    for name, values in series.items():
        if len(values) != len(xlabels):
            raise PlotError(f"series {name!r}: {len(values)} values for {len(xlabels)} x")
    values = [v for row in series.values() for v in row if v is not None]
    if not values:
        raise PlotError("no points to draw")
    low, high = min(values + [0.0]), max(values + [0.0])
    canvas = _Canvas(title, ylabel, nice_ticks(low, high + 0.05 * (high - low or 1.0)),
                     len(xlabels))
    colors = _colors(series)
    for name, row in series.items():
        points = []
        for index, value in enumerate(row):
            if value is None:
                continue
            left, width = canvas.slot(index)
            points.append((left + width / 2, canvas.y(value), xlabels[index], value))
        if len(points) > 1:
            path = " ".join(f"{x:.2f},{y:.2f}" for x, y, _, _ in points)
            canvas.items.append(f'<polyline points="{path}" fill="none" '
                                f'stroke="{colors[name]}" stroke-width="2"/>')
        for x, y, label, value in points:
            canvas.items.append(f'<circle cx="{x:.2f}" cy="{y:.2f}" r="4" '
                                f'fill="{colors[name]}"><title>{escape(name)} at '
                                f'{escape(str(label))}: {_format_value(value)}</title>'
                                f'</circle>')
    canvas.line(LEFT, canvas.y(0), LEFT + canvas.plot_w, canvas.y(0), color="#333333")
    canvas.x_labels(xlabels)
    canvas.text(LEFT + canvas.plot_w / 2, TOP + canvas.plot_h + 40, xlabel, size=12,
                anchor="middle", weight="bold")
    canvas.legend([(name, colors[name]) for name in series])
    return canvas.svg()


def write_svg(path, svg):
    """Write svg to path, which must end in .svg; returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".svg":
        raise PlotError(f"{str(path)!r}: plots are written as SVG; give a path ending in .svg")
    path.write_text(svg)
    return path


# --------------------------------------------------------------------------------------
# The figures of the commands
# --------------------------------------------------------------------------------------

#: migrate's time categories (sim.kernel.folios.CATEGORIES), as the legend names them.
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
    return stacked_bars(title, "CPU cycles per page (noise-free)", bars,
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
