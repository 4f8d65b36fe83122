"""An exploration's answers as a person reads them: tables, a self-contained HTML
report to hover over, and a static figure.
"""
import html
import json
import math

from sim.explore.analysis import crossover_groups, crossovers, mark_front, sensitivities
from sim.explore.space import OBJECTIVES, check_objectives

#: Columns that say what a point is (in this order), before its figures.
CONFIG_COLUMNS = ("platform", "driver", "channels", "engines", "engines_per_port", "clock",
                  "engine_mhz", "data_width", "rings", "max_burst", "outstanding_reads",
                  "outstanding_writes", "buffer_depth", "prefetch_depth")


def groups_of(space):
    """The columns rows compete within: the workload, and the platform when it varies."""
    return ["workload"] + (["platform"] if "platform" in space.varied else [])


class Answers:
    """The rows with their front marked, the crossovers and the sensitivities."""

    def __init__(self, exploration, objectives=None):
        self.exploration = exploration
        space = exploration.space
        self.objectives = check_objectives(objectives or exploration.info["objectives"])
        self.groups = groups_of(space)
        self.varied = [a for a in space.varied if a != "platform" or "platform" not in
                       self.groups]
        self.frame = mark_front(exploration.frame(), self.groups, self.objectives)
        self.crossover_groups = crossover_groups(self.groups, space.varied)
        self.crossovers = crossovers(self.frame, self.crossover_groups)
        self.sensitivity = sensitivities(self.frame, self.varied, self.groups)

    def configuration(self, row):
        """The point's varied values (the group's left out), as a short text."""
        shown = [f"{axis}={_value(row, axis)}" for axis in self.varied]
        return ", ".join(shown) or row["point"]

    def as_dict(self):
        """Everything, as JSON-able data (the --json document's body)."""
        def clean(value):
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if hasattr(value, "item"):
                return clean(value.item())
            return value
        rows = [clean(row) for row in self.frame.to_dict(orient="records")]
        return {"space": self.exploration.space.name, "source": self.exploration.space.source,
                "objectives": [f"{k}:{d}" for k, d in self.objectives],
                "groups": self.groups, "info": self.exploration.info,
                "invalid": [{"point": p.label, "why": why}
                            for p, why in self.exploration.invalid],
                "crossovers": clean(self.crossovers),
                "sensitivity": {"gbps": {g: {a: {"swing": s, "share": h}
                                             for a, (s, h) in axes.items()}
                                         for g, axes in self.sensitivity["gbps"].items()},
                                "luts": {a: {"swing": s, "share": h}
                                         for a, (s, h) in self.sensitivity["luts"].items()}},
                "rows": rows}


def _value(row, axis):
    if axis == "engine_mhz":
        mhz = f"{row['engine_mhz']:.4g}"
        return mhz if row.get("clock") == "given" else f"{row['clock']} {mhz}"
    value = row.get(axis)
    return f"{value:g}" if isinstance(value, float) else value


def _gbps(value):
    return "-" if value is None or value != value else f"{value:.2f}"


def _int(value):
    return "-" if value is None or value != value else f"{int(value):,}"


def crossover_table(answers):
    """Rows of the crossover table: per group, the smallest winner or the best loser."""
    out = []
    for entry in answers.crossovers:
        row = entry.get("winner") or entry["best"]
        out.append({
            **{g: entry[g] for g in answers.crossover_groups},
            "source": entry["source"], "cpu": _gbps(entry["cpu_gbps"]),
            "verdict": f"{entry['winners']} of {entry['points']} win" if entry["winners"]
            else f"none of {entry['points']} wins; the fastest:",
            "engine": answers.configuration(row),
            "luts": _int(row.get("device_luts")),
            "fmax": "-" if row.get("fmax_mhz") is None or row.get("fmax_mhz") != row.get(
                "fmax_mhz") else f"{row['fmax_mhz']:.1f}",
            "dma": _gbps(row["dma_gbps"]), "margin": f"x{row['speedup']:.2f}",
            "cpu_time": f"{row['dma_cpu_s_per_gib']:.3f} / {row['cpu_cpu_s_per_gib']:.3f}",
            "limiter": row["limiter"]})
    return out


CROSSOVER_COLUMNS = (("source of the copy", "source", "{}"), ("CPU GB/s", "cpu", "{}"),
                     ("winners", "verdict", "{}"), ("smallest winner (or fastest)", "engine", "{}"),
                     ("device LUTs", "luts", "{}"), ("Fmax MHz", "fmax", "{}"),
                     ("DMA GB/s", "dma", "{}"), ("vs CPU", "margin", "{}"),
                     ("CPU s/GiB DMA / CPU", "cpu_time", "{}", "optional"),
                     ("what limits it", "limiter", "{}"))


def front_table(answers):
    """Rows of the Pareto fronts, best first in the first objective."""
    key, direction = answers.objectives[0]
    front = answers.frame[answers.frame["on_front"]]
    front = front.sort_values(answers.groups + [key], ascending=[True] * len(answers.groups)
                              + [direction == "min"])
    out = []
    for _, row in front.iterrows():
        out.append({**{g: row[g] for g in answers.groups},
                    "engine": answers.configuration(row),
                    **{k: _format_objective(k, row.get(k)) for k, _ in answers.objectives},
                    "speedup": f"x{row['speedup']:.2f}", "limiter": row["limiter"],
                    "stage": row["stage"]})
    return out


def _format_objective(key, value):
    if value is None or value != value:
        return "-"
    if key in ("luts", "device_luts", "ffs", "bram"):
        return f"{int(value):,}"
    return f"{value:.3f}" if key.endswith("per_gib") else f"{value:.2f}"


def sensitivity_table(answers):
    """Rows: per axis, its GB/s swing and share per group, and its LUT swing and share."""
    out = []
    for axis in answers.varied:
        row = {"axis": axis}
        for group, effects in answers.sensitivity["gbps"].items():
            swing, share = effects.get(axis, (1.0, 0.0))
            row[f"gbps:{group}"] = f"x{swing:.2f} ({share:.0%})"
        if answers.sensitivity["luts"]:
            swing, share = answers.sensitivity["luts"].get(axis, (1.0, 0.0))
            row["luts"] = f"x{swing:.2f} ({share:.0%})"
        out.append(row)
    return out


def text_report(answers, format_table):
    """The tables, as ``foliodma explore`` prints them."""
    groups = [(g, g, "{}") for g in answers.groups]
    by = [(g, g, "{}") for g in answers.crossover_groups]
    lines = ["Crossover: per " + ", ".join(answers.crossover_groups) + ", the smallest device "
             "whose migrate_pages() beats the CPU copy on the same machine",
             format_table(crossover_table(answers), (*by, *CROSSOVER_COLUMNS)), ""]
    objectives = ", ".join(f"{OBJECTIVES[k][1]} ({d})" for k, d in answers.objectives)
    lines += [f"Pareto front per {' and '.join(answers.groups)}: {objectives}",
              format_table(front_table(answers), (
                  *groups, ("configuration", "engine", "{}"),
                  *((k, k, "{}") for k, _ in answers.objectives),
                  ("vs CPU", "speedup", "{}"), ("what limits it", "limiter", "{}"),
                  ("stage", "stage", "{}", "optional"))), ""]
    table = sensitivity_table(answers)
    if table:
        columns = [("axis", "axis", "{}")]
        columns += [(f"GB/s {g}", f"gbps:{g}", "{}") for g in answers.sensitivity["gbps"]]
        if answers.sensitivity["luts"]:
            columns.append(("LUTs", "luts", "{}"))
        lines += ["Which parameter matters: the largest over the smallest mean across the "
                  "axis' values (its share of the variance of log GB/s or log LUTs)",
                  format_table(table, columns), ""]
    return "\n".join(lines)


def html_report(answers, path):
    """A self-contained HTML page: per group, the chosen objectives as a scatter plot,
    the front in color, dominated points faint, the CPU copy as a dashed line when GB/s
    is drawn; hovering over a point shows its whole configuration and figures."""
    import plotly.graph_objects as go
    (xkey, _), (ykey, _) = answers.objectives[1], answers.objectives[0]
    parts = []
    for index, (key, members) in enumerate(answers.frame[answers.frame["status"] == "ok"]
                                           .groupby(answers.groups, sort=False)):
        key = key if isinstance(key, tuple) else (key,)
        figure = go.Figure()
        for on_front, name, opacity in ((False, "dominated", 0.25), (True, "Pareto front", 1)):
            chosen = members[members["on_front"] == on_front]
            figure.add_trace(go.Scatter(
                x=chosen[xkey], y=chosen[ykey], mode="markers", name=name, opacity=opacity,
                marker={"size": 9 if on_front else 7},
                text=[_hover(answers, row) for _, row in chosen.iterrows()],
                hovertemplate="%{text}<extra></extra>"))
        if ykey == "dma_gbps":
            figure.add_hline(y=members["cpu_gbps"].iloc[0], line_dash="dash",
                             annotation_text="CPU copy")
        figure.update_layout(title=" / ".join(map(str, key)),
                             xaxis_title=OBJECTIVES[xkey][1], yaxis_title=OBJECTIVES[ykey][1],
                             height=480)
        parts.append(figure.to_html(full_html=False,
                                    include_plotlyjs="inline" if index == 0 else False))
    space = answers.exploration.space
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>foliodma explore: "
            f"{html.escape(space.name)}</title></head><body>"
            f"<h1>foliodma explore: {html.escape(space.name)}</h1>"
            f"<p>{html.escape(json.dumps(answers.exploration.info.get('objectives')))}; "
            "hover over a point for its configuration and figures.</p>"
            + "".join(parts) + "</body></html>")
    path.write_text(page)


def _hover(answers, row):
    shown = [f"{c}: {row[c]}" for c in CONFIG_COLUMNS if c in row and row[c] == row[c]]
    shown += [f"{c}: {row[c]}" for c in row.index if "." in c]
    figures = [f"DMA GB/s: {row['dma_gbps']:.2f} (CPU {row['cpu_gbps']:.2f}, "
               f"x{row['speedup']:.2f})", f"limited by: {row['limiter']}",
               f"CPU s/GiB: DMA {row['dma_cpu_s_per_gib']:.3f}, CPU "
               f"{row['cpu_cpu_s_per_gib']:.3f}"]
    for key in ("luts", "ffs", "bram", "fmax_mhz"):
        if key in row and row[key] == row[key] and row[key] is not None:
            figures.append(f"{key}: {row[key]:g}")
    return "<br>".join(html.escape(str(t)) for t in shown + figures)


def figure(answers):
    """A static figure: per group, the first objective against the second, the front
    in color, dominated points faint, the CPU copy dashed when GB/s is drawn."""
    from matplotlib.figure import Figure
    (xkey, _), (ykey, _) = answers.objectives[1], answers.objectives[0]
    ok = answers.frame[answers.frame["status"] == "ok"]
    grouped = list(ok.groupby(answers.groups, sort=False))
    columns = min(2, len(grouped)) or 1
    rows = math.ceil(len(grouped) / columns) or 1
    fig = Figure(figsize=(6.4 * columns, 4.2 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, (key, members) in zip(axes.flat, grouped):
        key = key if isinstance(key, tuple) else (key,)
        back, front = members[~members["on_front"]], members[members["on_front"]]
        ax.scatter(back[xkey], back[ykey], color="0.6", alpha=0.3, s=14, label="dominated")
        front = front.sort_values(xkey)
        ax.plot(front[xkey], front[ykey], "o-", color="C0", label="Pareto front",
                drawstyle="steps-post")
        if ykey == "dma_gbps":
            ax.axhline(members["cpu_gbps"].iloc[0], color="C3", linestyle="--",
                       label="CPU copy")
        ax.set_title(" / ".join(map(str, key)), fontsize=10)
        ax.set_xlabel(OBJECTIVES[xkey][1], fontsize=9)
        ax.set_ylabel(OBJECTIVES[ykey][1], fontsize=9)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(grouped):]:
        ax.set_visible(False)
    fig.suptitle(f"foliodma explore: {answers.exploration.space.name}")
    return fig
