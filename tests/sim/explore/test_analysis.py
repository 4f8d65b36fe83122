"""The answers from rows: Pareto fronts, nearness to them, limiters, main effects."""
import math

import numpy as np
import pandas
import pytest

from sim.explore.analysis import (crossovers, device_capacities, limiter, main_effects,
                                  mark_front, near_front_mask, pareto_mask)
from sim.explore.space import Workload
from sim.machine import DEFAULT_MACHINE, load_machine


def test_pareto_front_of_a_known_set():
    # (GB/s to maximize, LUTs to minimize)
    points = [(10, 100), (20, 200), (15, 300), (5, 50), (20, 250), (30, 400), (25, 400),
              (5, 60)]
    mask = pareto_mask(points, ["max", "min"])
    assert [tuple(p) for p, keep in zip(points, mask) if keep] == \
        [(10, 100), (20, 200), (5, 50), (30, 400)]


def test_pareto_front_treats_rounding_differences_as_ties_and_nan_as_off():
    points = [(1.0, 2.0), (1.0 + 1e-15, 2.0), (0.5, 1.0), (math.nan, 0.1)]
    mask = pareto_mask(points, ["max", "min"])
    assert list(mask) == [True, True, True, False]


def test_pareto_front_in_three_objectives_agrees_with_brute_force():
    rng = np.random.default_rng(5)
    points = rng.integers(0, 6, size=(200, 3)).astype(float)
    directions = ["max", "min", "min"]
    mask = pareto_mask(points, directions)
    sign = np.array([-1, 1, 1])
    for i, p in enumerate(points):
        dominated = any((sign * q <= sign * p).all() and (sign * q < sign * p).any()
                        for q in points)
        assert mask[i] == (not dominated)


def test_near_front_keeps_points_within_the_tolerance():
    # Near: improved by the tolerance in every objective, no point would beat it in all.
    points = [(100, 10), (95, 10.5), (80, 12), (100, 10.4), (50, 9)]
    assert list(near_front_mask(points, ["max", "min"], 0.1)) == [True, True, False, True,
                                                                  True]
    # With no tolerance, only points no other beats in every objective.
    assert list(near_front_mask(points, ["max", "min"], 0.0)) == [True, False, False, True,
                                                                  True]


def _row(wait, core, nbytes, copy_ns):
    return {"breakdown_cycles_per_page": {"core": core, "cold": 0, "copy": 0, "driver": 0,
                                          "wait": wait},
            "folio_copy_ns": copy_ns, "workload_bytes": nbytes}


def test_limiter_names_the_cpu_when_its_own_work_is_longer_than_the_wait():
    name, _ = limiter(_row(wait=10, core=30, nbytes=1 << 20, copy_ns=1e6), DEFAULT_MACHINE, "v3",
                      Workload(4096, 1 << 20))
    assert name == "CPU per-folio work"


def test_limiter_names_the_busiest_device_side_resource():
    workload = Workload(2 << 20, 64 << 20, max_batch_pages=16384)
    # The seed's engine: 32 bytes at 1 GHz = 32 GB/s; 64 MiB in 2.2 ms is 30.5 GB/s.
    name, busy = limiter(_row(wait=100, core=1, nbytes=64 << 20, copy_ns=2.2e6),
                         DEFAULT_MACHINE, "v3", workload)
    assert name == "engine data path" and busy[name] == pytest.approx((64 << 20) / 2.2e6 / 32)
    # 16 PTDMAs of 64 bytes at 201.2 MHz: the 100 GB/s socket link comes first.
    ptdma = load_machine("zen3-ptdma")
    capacities = device_capacities(ptdma, "v3", workload)
    assert capacities["engine data path"][0] == pytest.approx(16 * 64 * 0.2012)
    assert capacities["socket link"] == (100.0, None)
    name, _ = limiter(_row(wait=100, core=1, nbytes=64 << 20, copy_ns=(64 << 20) / 95),
                      ptdma, "v3", workload)
    assert name == "socket link"
    # Far from every limit: the device's latency (PTDMA: one descriptor in flight).
    name, _ = limiter(_row(wait=100, core=1, nbytes=64 << 20, copy_ns=(64 << 20) / 10),
                      ptdma, "v3", workload)
    assert name == "device latency (in flight: 512-beat buffer, 8 reads, 1 descriptor)"


def test_capacities_count_only_the_engines_a_batch_can_use():
    ptdma = load_machine("zen3-ptdma")
    # Batches of one 2 MiB folio: v3 uses one channel, so one engine.
    one = device_capacities(ptdma, "v3", Workload(2 << 20, 64 << 20, max_batch_pages=512))
    assert one["engine data path"][0] == pytest.approx(64 * 0.2012)
    paired = ptdma.with_values({"dma.engines_per_port": 2, "dma.port_read_gbps": 12.9,
                                "dma.port_write_gbps": 12.9})
    ports = device_capacities(paired, "v3", Workload(2 << 20, 64 << 20, max_batch_pages=16384))
    assert ports["I/O port"] == (pytest.approx(8 * 12.9), pytest.approx(8 * 12.9))


def test_main_effects_on_a_grid():
    # y = 2^a * 3^[b == "x"], c has no effect.
    rows = [{"a": a, "b": b, "c": c, "y": 2.0 ** a * (3.0 if b == "x" else 1.0)}
            for a in (0, 1, 2) for b in ("x", "y") for c in (1, 2)]
    effects = main_effects(pandas.DataFrame(rows), ["a", "b", "c"], "y", log=True)
    assert effects["a"][0] == pytest.approx(4.0) and effects["b"][0] == pytest.approx(3.0)
    assert effects["c"] == (pytest.approx(1.0), pytest.approx(0.0))
    # Additive in log: the shares add up to one.
    assert effects["a"][1] + effects["b"][1] == pytest.approx(1.0)


def test_front_and_crossover_per_group():
    rows = []
    for workload, cpu in (("4K", 3.0), ("2M", 10.0)):
        for width, gbps, luts in ((64, 2.0, 1000), (128, 4.0, 1500), (256, 8.0, 2500),
                                  (512, 16.0, 4000)):
            scale = 1 if workload == "4K" else 5
            rows.append({"workload": workload, "status": "ok", "data_width": width,
                         "dma_gbps": gbps * scale / 2 if workload == "4K" else gbps * scale,
                         "device_luts": luts, "engines": 1, "engine_mhz": 1000.0,
                         "cpu_gbps": cpu, "source": "node 1 DRAM", "limiter": "x"})
    frame = pandas.DataFrame(rows)
    frame["speedup"] = frame["dma_gbps"] / frame["cpu_gbps"]
    frame["beats_cpu"] = frame["speedup"] > 1
    marked = mark_front(frame, ["workload"], (("dma_gbps", "max"), ("device_luts", "min")))
    assert marked["on_front"].all()
    answers = {entry["workload"]: entry for entry in crossovers(marked, ["workload"])}
    # 4K: 1, 2, 4, 8 GB/s against 3: the 256-bit engine is the smallest winner.
    assert answers["4K"]["winner"]["data_width"] == 256 and answers["4K"]["winners"] == 2
    # 2M: even the 64-bit engine (10 GB/s) does not beat 10: the 128-bit one does.
    assert answers["2M"]["winner"]["data_width"] == 128
    losers = frame[frame["workload"] == "4K"].assign(beats_cpu=False)
    (entry,) = crossovers(losers, ["workload"])
    assert "winner" not in entry and entry["best"]["data_width"] == 512
