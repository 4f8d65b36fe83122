"""Answers from an exploration's rows: the Pareto front, the crossover with the CPU
copy, what limits a point, and which parameter matters.

Rows are the explorer's (:mod:`sim.explore.explorer`): one per point and
workload, in a pandas DataFrame.
"""
import math

import numpy as np

#: A device-side resource is the limit when it is this busy over the copy phase.
SATURATED = 0.75


def _oriented(values, directions):
    """The objectives as an (n, k) array to minimize (max objectives negated)."""
    array = np.asarray(values, dtype=float).reshape(len(values), len(directions))
    # Figures that differ only by floating-point rounding are equal.
    array = np.vectorize(lambda v: float(f"{v:.9g}"))(array) if array.size else array
    signs = np.array([-1.0 if d == "max" else 1.0 for d in directions])
    return array * signs


def pareto_mask(values, directions):
    """Per row of ``values`` (n rows, one column per objective), whether no other row
    dominates it: at least as good in every objective and better in one. Rows with a
    NaN are never on the front."""
    cost = _oriented(values, directions)
    n = len(cost)
    valid = ~np.isnan(cost).any(axis=1)
    mask = valid.copy()
    for start in range(0, n, 512):
        block = cost[start:start + 512, None, :]
        no_worse = (cost[None, valid, :] <= block).all(axis=2)
        better = (cost[None, valid, :] < block).any(axis=2)
        mask[start:start + 512] &= ~(no_worse & better).any(axis=1)
    return mask


def near_front_mask(values, directions, tolerance):
    """Per row, whether it is within ``tolerance`` (a fraction) of the front: no other row
    is better than it by more than that factor in every objective. Values are taken as
    positive magnitudes (GB/s, LUTs, seconds)."""
    array = np.asarray(values, dtype=float).reshape(len(values), len(directions))
    valid = ~np.isnan(array).any(axis=1)
    near = valid.copy()
    factor = 1.0 + tolerance
    for i in np.flatnonzero(valid):
        beats = np.ones(len(array), dtype=bool) & valid
        for k, direction in enumerate(directions):
            if direction == "max":
                beats &= array[:, k] > array[i, k] * factor
            else:
                beats &= array[:, k] * factor < array[i, k]
        near[i] = not beats.any()
    return near


# ---- what limits a point ---------------------------------------------------------------
def channels_used(driver, nr_dma_chan, folios_per_batch):
    """The channels dcbm spreads a batch over (sw_driver.dcbm): v1 one, v2 and v3
    min(nr_dma_chan, folios, 16)."""
    from sw_driver.dcbm import MAX_DMA_CHAN
    if driver == "v1":
        return 1
    return max(1, min(nr_dma_chan, folios_per_batch, MAX_DMA_CHAN))


def device_capacities(machine, driver, workload):
    """GB/s each device-side resource can move in each direction for this migration:
    {name: (read GB/s or None, write GB/s or None)}; None: not crossed or no limit."""
    from sim.kernel.folios import PAGE
    folios_per_batch = max(1, workload.max_batch_pages * PAGE // workload.folio_bytes)
    used = channels_used(driver, machine.dcbm_channels, folios_per_batch)
    engines = min(machine.engines, math.ceil(used / machine.engine.channels))
    peak = engines * machine.engine.beat_bytes * machine.engine_mhz / 1000
    out = {"engine data path": (peak, peak)}
    nodes = {node.node_id: node for node in (machine.local, machine.remote, machine.cxl)}
    links = {machine.remote.node_id: ("socket link", machine.socket_link),
             machine.cxl.node_id: ("CXL link", machine.cxl_link)}
    src, dst = nodes[workload.from_node], nodes[workload.to_node]
    out["memory node"] = (src.read_gbps, dst.write_gbps) if src is not dst else \
        (src.read_gbps, src.write_gbps)
    for node_id, (name, link) in links.items():
        read = link.read_gbps if workload.from_node == node_id else None
        write = link.write_gbps if workload.to_node == node_id else None
        if read or write:
            out[name] = (read, write)
    ports = machine.engine_ports
    if ports.limited:
        count = math.ceil(engines / ports.engines_per_port)
        out["I/O port"] = tuple(None if gbps is None else count * gbps
                                for gbps in (ports.read_gbps, ports.write_gbps))
    return out


def limiter(row, machine, driver, workload):
    """(what limits this DMA migration, {resource: share busy}) from the model's time
    categories and the device's capacities: the CPU's per-folio work when the
    migrating CPU's own time (core, cold start, driver, CPU copies) is longer than
    its wait for the device; else the busiest device-side resource over the copy
    phase, if it is at least SATURATED busy; else the device's latency: too little in
    flight (its buffer, its reads, the provider's descriptors) to fill the path."""
    breakdown = row["breakdown_cycles_per_page"]
    cpu_side = sum(v for k, v in breakdown.items() if k != "wait")
    if cpu_side >= breakdown["wait"]:
        return "CPU per-folio work", {"CPU": cpu_side / sum(breakdown.values())}
    window_ns = row["folio_copy_ns"]
    nbytes = row["workload_bytes"]
    busy = {}
    for name, rates in device_capacities(machine, driver, workload).items():
        shares = [nbytes / (gbps * window_ns) for gbps in rates if gbps]
        if shares:
            busy[name] = max(shares)
    name = max(busy, key=busy.get)
    if busy[name] >= SATURATED:
        return name, busy
    engine = machine.engine
    inflight = f"{engine.buffer_depth}-beat buffer, {engine.outstanding_reads} reads" + (
        ", 1 descriptor" if machine.max_inflight == 1 else "")
    return f"device latency (in flight: {inflight})", busy


# ---- which parameter matters ---------------------------------------------------------
def main_effects(frame, axes, measure, log=False):
    """Per axis, how much ``measure`` moves with it: (swing, share), where swing is
    the largest over the smallest mean of the measure across the axis' values and
    share the first-order share of its variance (Var of the per-value means over Var
    of the measure, weighted by count: a first-order Sobol index on a grid)."""
    data = frame[[*axes, measure]].dropna(subset=[measure])
    y = np.log(data[measure].astype(float)) if log else data[measure].astype(float)
    total = float(y.var(ddof=0))
    out = {}
    for axis in axes:
        key = data[axis].astype(str)
        groups = y.groupby(key)
        means, counts = groups.mean(), groups.size()
        if len(means) < 2:
            continue
        spread = float(((means - y.mean()) ** 2 * counts).sum() / counts.sum())
        level = np.exp(means) if log else means
        low, high = float(level.min()), float(level.max())
        out[axis] = (high / low if low > 0 else math.inf, spread / total if total > 0 else 0.0)
    return out


# ---- the answers, as tables ----------------------------------------------------------
def mark_front(frame, groups, objectives):
    """``frame`` with ``on_front``: whether each ok row is on the Pareto front of its
    group (``groups``: the columns rows compete within) over ``objectives``."""
    frame = frame.copy()
    frame["on_front"] = False
    ok = frame[frame["status"] == "ok"]
    keys = [key for key, _ in objectives]
    if ok.empty or not set(keys) <= set(ok.columns):
        return frame
    directions = [d for _, d in objectives]
    for _, members in ok.groupby(groups, sort=False):
        mask = pareto_mask(members[keys].astype(float).to_numpy(), directions)
        frame.loc[members.index[mask], "on_front"] = True
    return frame


def size_of(row):
    """How big a point's device is, to find the smallest winner: its LUTs over every
    engine where area was measured, else its peak bandwidth (engines x bus width x
    clock)."""
    if "device_luts" in row and row["device_luts"] == row["device_luts"]:
        return row["device_luts"]
    return row["engines"] * row["data_width"] * row["engine_mhz"]


def crossover_groups(groups, varied):
    """A crossover is answered per group, and per kind of clock when the clock varies
    (the FPGA build at its Fmax, the platform's own clock, a given one)."""
    return groups + (["clock"] if "engine_mhz" in varied else [])


def crossovers(frame, groups):
    """Per group (platform and workload): the smallest device whose DMA migration beats
    the CPU copy (``winner``: its row), or, when none does, the fastest one
    (``best``), with how many points were compared."""
    out = []
    ok = frame[frame["status"] == "ok"]
    for key, members in ok.groupby(groups, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        winners = members[members["beats_cpu"]]
        entry = {**dict(zip(groups, key)), "points": len(members),
                 "winners": len(winners), "cpu_gbps": members["cpu_gbps"].iloc[0],
                 "source": members["source"].iloc[0]}
        if len(winners):
            order = winners.assign(_size=winners.apply(size_of, axis=1)) \
                .sort_values(["_size", "speedup"], ascending=[True, False])
            entry["winner"] = order.iloc[0].drop("_size").to_dict()
        else:
            entry["best"] = members.sort_values("speedup", ascending=False).iloc[0].to_dict()
        out.append(entry)
    return out


def sensitivities(frame, axes, groups):
    """Which parameter matters: per axis (its values as the space gives them, in the
    rows' ``axes``), main_effects of GB/s (log) per group and of LUTs:
    {"gbps": {group: {axis: (swing, share)}}, "luts": {axis: (swing, share)}} (an axis
    that does not change the engine moves its LUTs by nothing)."""
    import pandas
    ok = frame[frame["status"] == "ok"]
    given = pandas.DataFrame(ok["axes"].tolist(), index=ok.index)
    axes = [axis for axis in axes if axis in given.columns]
    ok = pandas.concat([given[axes], ok.drop(columns=[c for c in axes if c in ok.columns])],
                       axis=1)
    out = {"gbps": {}, "luts": {}}
    for key, members in ok.groupby(groups, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        out["gbps"][" / ".join(map(str, key))] = main_effects(members, axes, "dma_gbps",
                                                              log=True)
    if "luts" in ok.columns and ok["luts"].notna().any():
        out["luts"] = main_effects(ok, axes, "luts", log=True)
    return out
