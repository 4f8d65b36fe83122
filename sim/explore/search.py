"""Which points an exploration evaluates, and how deeply: every combination (a grid) or
a multi-objective search under a budget (Optuna's NSGA-II), cheap evaluations
before expensive ones.

Cheap before expensive (``search.screen``, always on in a search): every
candidate gets the cheap evaluation (its engine's synthesis without place and
route; its migrations on the workload's ``screen_size`` where that is shown to
agree with the full size), and only the candidates within ``search.near_front``
of the cheap front get the expensive one (place and route for Fmax, the full
workload). "Shown to agree": before screening, a few points spread over the
space run both sizes; if a DMA or CPU GB/s differs by more than
``search.agreement`` or a verdict (DMA beats the CPU) flips, the screen size is
not used and every candidate runs the full size.
"""
import math
from dataclasses import dataclass, field

from sim.explore.analysis import near_front_mask
from sim.explore.space import SpaceError, check_point
from sim.machine import MachineError


@dataclass
class Exploration:
    """What an exploration found: a row per evaluated point and workload, the points
    found invalid, and how it went (``info``)."""
    space: object
    rows: list
    invalid: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def frame(self):
        import pandas
        return pandas.DataFrame(self.rows)


def valid_points(space, points):
    """(valid points, [(point, why)] invalid ones): each point's machine checked."""
    valid, invalid = [], []
    for point in points:
        try:
            check_point(space, point)
            valid.append(point)
        except (SpaceError, MachineError) as error:
            invalid.append((point, str(error)))
    return valid, invalid


def group_of(row, space):
    """Rows compete within a group: the same workload, and platform when it varies."""
    return (row["workload"],) + ((row["platform"],) if "platform" in space.varied else ())


def objective_values(rows, objectives):
    """An (n, k) list of the rows' objective values (NaN where missing or failed)."""
    return [[row.get(key) if row.get("status") == "ok" and row.get(key) is not None
             else math.nan for key, _ in objectives] for row in rows]


def near_front_points(rows, space, objectives, tolerance):
    """Labels of the points within ``tolerance`` of the front of any group."""
    groups = {}
    for row in rows:
        groups.setdefault(group_of(row, space), []).append(row)
    near = set()
    directions = [d for _, d in objectives]
    for members in groups.values():
        mask = near_front_mask(objective_values(members, objectives), directions, tolerance)
        near |= {row["point"] for row, keep in zip(members, mask) if keep}
    return near


def screen_sizes(space, explorer, points):
    """({workload: screen size} for the workloads whose screen run agrees with the full
    one on a sample of points, and the agreement report)."""
    candidates = [w for w in space.workloads if w.screen_size]
    if not candidates or not points:
        return {}, []
    sample = list(dict.fromkeys(points[i] for i in (0, len(points) // 2, len(points) - 1)))
    full = explorer.evaluate(sample, "full", label="explore (agreement, full size)")
    short = explorer.evaluate(sample, "screen", {w: w.screen_size for w in candidates},
                              label="explore (agreement, screen size)")
    report, sizes = [], {}
    for workload in candidates:
        worst, flips, ok = 0.0, 0, True
        for a, b in zip(full, short):
            if a["workload"] != workload.label:
                continue
            if a["status"] != "ok" or b["status"] != "ok":
                ok = False
                continue
            for key in ("dma_gbps", "cpu_gbps"):
                worst = max(worst, abs(b[key] - a[key]) / a[key])
            flips += a["beats_cpu"] != b["beats_cpu"]
        agrees = ok and flips == 0 and worst <= space.search.agreement
        report.append({"workload": workload.label, "screen_size": workload.screen_size,
                       "points": len(sample), "largest_difference": worst,
                       "verdicts_flipped": flips, "agrees": agrees})
        if agrees:
            sizes[workload] = workload.screen_size
    return sizes, report


def staged(space, explorer, points, objectives, info):
    """Rows of ``points``: the cheap stage for all, the expensive one near the front."""
    sizes, info["agreement"] = screen_sizes(space, explorer, points)
    cheap = explorer.evaluate(points, "screen", sizes, label="explore (screen)")
    near = near_front_points(cheap, space, objectives, space.search.near_front)
    chosen = [p for p in points if p.label in near]
    full = explorer.evaluate(chosen, "full", label="explore (near the front, full)")
    info.update(screened=len(points), fully_evaluated=len(chosen))
    done = {row["point"] for row in full}
    return full + [row for row in cheap if row["point"] not in done]


def grid(space, explorer, points, objectives, info):
    """Every valid point; staged if the space asks for screening."""
    if space.search.screen:
        return staged(space, explorer, points, objectives, info)
    info.update(fully_evaluated=len(points))
    return explorer.evaluate(points, "full")


def _point_score(rows, objectives):
    """A point's objective vector over its workloads (geometric mean of each), or None
    if any of its rows failed."""
    if any(row["status"] != "ok" for row in rows):
        return None
    out = []
    for key, _ in objectives:
        values = [row.get(key) for row in rows]
        if any(v is None or not v > 0 for v in values):
            return None
        out.append(math.exp(sum(math.log(v) for v in values) / len(values)))
    return out


def nsga2(space, explorer, points, objectives, info, budget=None):
    """A budgeted multi-objective search (Optuna's NSGA-II) over the valid points, each
    asked-for point evaluated cheaply, the ones near the front then fully. ``info``
    gets the order in which points were first evaluated."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = space.search
    budget = budget or search.budget
    by_values = {tuple(str(p[a]) for a in space.varied): p for p in points}
    distributions = {axis: optuna.distributions.CategoricalDistribution(
        [str(v) for v in space.axes[axis]]) for axis in space.varied}
    study = optuna.create_study(
        directions=["maximize" if d == "max" else "minimize" for _, d in objectives],
        sampler=optuna.samplers.NSGAIISampler(population_size=search.population,
                                              seed=search.seed))
    sizes, info["agreement"] = screen_sizes(space, explorer, points)
    scores, order, rows_of, stale = {}, [], {}, 0
    while len(order) < min(budget, len(points)) and stale < 20:
        trials = [study.ask(distributions) for _ in range(search.population)]
        asked = [by_values.get(tuple(t.params[a] for a in space.varied)) for t in trials]
        new = [p for p in dict.fromkeys(asked) if p is not None and p.label not in scores]
        new = new[:budget - len(order)]
        stale = 0 if new else stale + 1
        for row in explorer.evaluate(new, "screen", sizes, label="explore (search)"):
            rows_of.setdefault(row["point"], []).append(row)
        for point in new:
            order.append(point.label)
            scores[point.label] = _point_score(rows_of[point.label], objectives)
        for trial, point in zip(trials, asked):
            score = None if point is None else scores.get(point.label)
            if score is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, score)
    info.update(search="nsga2", budget=budget, evaluation_order=order, screened=len(order))
    cheap = [row for rows in rows_of.values() for row in rows]
    near = near_front_points(cheap, space, objectives, search.near_front)
    chosen = [p for p in points if p.label in near]
    full = explorer.evaluate(chosen, "full", label="explore (near the front, full)")
    info["fully_evaluated"] = len(chosen)
    done = {row["point"] for row in full}
    return full + [row for row in cheap if row["point"] not in done]


def explore_space(space, explorer, *, method=None, budget=None, objectives=None):
    """Run an exploration of ``space`` with ``explorer``: its Exploration."""
    objectives = space.objectives(objectives)
    points, invalid = valid_points(space, space.points())
    if invalid and not space.search.skip_invalid:
        shown = "; ".join(f"{p.label}: {why}" for p, why in invalid[:3])
        raise SpaceError(f"{len(invalid)} of {space.size} combinations are not valid "
                         f"machines ({shown}{'; ...' if len(invalid) > 3 else ''}); change "
                         f"the axes, or set search.skip_invalid = true to leave them out")
    if not points:
        raise SpaceError("no valid point in the space")
    info = {"points": space.size, "valid": len(points), "invalid": len(invalid),
            "objectives": [f"{k}:{d}" for k, d in objectives], "search": "grid"}
    method = method or space.search.method
    if method == "grid":
        rows = grid(space, explorer, points, objectives, info)
    else:
        rows = nsga2(space, explorer, points, objectives, info, budget)
    info.update(evaluations=dict(explorer.evaluated), cache_hits=dict(explorer.hits),
                failed_rows=sum(row["status"] != "ok" for row in rows))
    return Exploration(space, rows, invalid, info)
