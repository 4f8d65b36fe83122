"""The seed's measures from a run: totals per category, seeded per-run noise,
mean and SD, the CPU time per GiB moved, and the post-move access cost from the cache
model.
"""
import math

import numpy as np

from sim.host.cache import DEFAULT_TOUCHER
from sim.kernel.clock import add_times, zero_times
from sim.kernel.folios import PAGE
from sim.kernel.modes import CATEGORIES
from sim.seed import CPU_GHZ


#: Bytes in a GiB, the unit of cpu_seconds_per_gib.
GIB = 1 << 30


def totals(raw):
    """(migrate_pages ns by tally, copy ns by tally) of one call, noise-free (tallies:
    :data:`sim.kernel.modes.TALLIES`)."""
    total, copy = dict(raw["call"]), zero_times()
    for group in raw["groups"]:
        add_times(total, group["total"], group["count"])
        add_times(copy, group["copy"], group["count"])
    return total, copy


def noise_factors(costs, repeat, seed):
    """Per run, a factor per category (mean 1); all 1 for a single run."""
    sigma = {"core": costs.jitter_core, "driver": costs.jitter_core, "cold": costs.jitter_cold,
             "copy": costs.jitter_copy, "wait": costs.jitter_device}
    if repeat == 1:
        return [dict.fromkeys(CATEGORIES, 1.0)]
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(repeat):
        z = rng.standard_normal(len(CATEGORIES))
        runs.append({k: max(0.05, 1.0 + sigma[k] * zk) for k, zk in zip(CATEGORIES, z)})
    return runs


def measure(raw, costs, *, pages, nbytes, repeat, seed=0, cpu_ghz=CPU_GHZ):
    """The seed's figures, mean and SD over ``repeat`` noisy runs, and
    cpu_seconds_per_gib: the CPU-seconds the migration occupies per GiB moved, its whole
    time but the migrating thread's sleep (the "sleep" and "copy_sleep" tallies, noisy
    as the wait and the copy they are part of), plus mt-cpu's workers' CPU time on
    other CPUs ("helper_cpu", noisy as the copy)."""
    total, copy = totals(raw)
    samples = {"migrate_pages": [], "folio_copy": [], "F": [], "copy_gbps": [],
               "migrate_gbps": [], "cpu_seconds_per_gib": []}
    for factors in noise_factors(costs, repeat, seed):
        t = sum(total[k] * factors[k] for k in CATEGORIES)
        c = sum(copy[k] * factors[k] for k in CATEGORIES)
        cpu = (t - total["sleep"] * factors["wait"]
               + (total["helper_cpu"] - total["copy_sleep"]) * factors["copy"])
        samples["migrate_pages"].append(t * cpu_ghz / pages)
        samples["folio_copy"].append(c * cpu_ghz / pages)
        samples["F"].append(c / t if t else 0.0)
        samples["copy_gbps"].append(nbytes / c if c else math.inf)
        samples["migrate_gbps"].append(nbytes / t if t else math.inf)
        samples["cpu_seconds_per_gib"].append(cpu * 1e-9 / (nbytes / GIB))
    out = {}
    for name, values in samples.items():
        values = np.asarray(values)
        out[name] = float(values.mean())
        out[name + "_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    out["migrate_pages_ns"] = sum(total[k] for k in CATEGORIES)
    out["folio_copy_ns"] = sum(copy[k] for k in CATEGORIES)
    out["breakdown_cycles_per_page"] = {k: total[k] * cpu_ghz / pages for k in CATEGORIES}
    out["copy_breakdown_cycles_per_page"] = {k: copy[k] * cpu_ghz / pages for k in CATEGORIES}
    return out


def usable_after(raw):
    """When the folios became usable again (their PTEs restored), in ns from the call's
    start, noise-free: (first, median, last) over every folio, extrapolated batches
    repeating their template's timing back to back."""
    start = sum(raw["call"][k] for k in CATEGORIES)
    times = []
    for group in raw["groups"]:
        duration = sum(group["total"][k] for k in CATEGORIES)
        offsets = np.asarray(group["usable_ns"], dtype=float)
        starts = start + duration * np.arange(group["count"])
        times.append((starts[:, None] + offsets[None, :]).ravel())
        start += duration * group["count"]
    times = np.concatenate(times)
    return float(times.min()), float(np.median(times)), float(times.max())


def post_move_access(spec, mode, v1_double_copy=False, *, toucher=DEFAULT_TOUCHER, cache=None):
    """Cycles per page of the seed's read loop over the moved pages right after the
    move (its second table), from the cache model (:mod:`sim.host.cache`): a CPU (by
    default the migrating one, ``toucher``: see sim.host.cache.TOUCHERS) reads the pages
    moved to the migrating CPU's node. The copier is the CPU (cpu, batch-cpu), the
    engine (dma), or the engine then the CPU (dma with dcbm v1's extra CPU copy).
    ``cache`` is the cache hierarchy (a :class:`sim.host.cache_params.CacheHierarchy`; None:
    the seed's). None when the pages did not move to node 0 (the migrating CPU's), and
    for dma+mt-cpu, whose two copiers the cache model does not mix."""
    from sim.host.cache import DEFAULT_HIERARCHY, CacheModel
    if spec.get("to_node", 0) != 0 or mode == "dma+mt-cpu":
        return None
    copier = "cpu" if mode != "dma" else ("dma_then_cpu" if v1_double_copy else "dma")
    pages = spec["workload_bytes"] // PAGE
    return CacheModel(cache or DEFAULT_HIERARCHY).post_move_access_cycles_per_page(
        pages, PAGE, copier=copier, toucher=toucher)
