"""Calibration of the zen3-ptdma platform on the three points of the later posting it may use.

``python -m sim.experiments.calibrate_ptdma`` prints each calibrated value with the
point that fixes it, the residuals, and whether ``sim/machines/zen3-ptdma.toml``
holds the same values. Every other value of that platform comes from public facts
(the file says which); every other point of the later postings
(:data:`sim.seed.LATER_SCALING`) is a prediction, never an input.

1. The CPU side of the postings' kernel, from its two CPU points (upstream
   kernel, 1 GiB moved with move_pages(): 3.73 GB/s with 4 KiB folios, 10.67 GB/s
   with 2 MiB folios). The model's time is linear in two unknowns: ``core_scale``,
   a factor on the seed's per-folio migration steps (sim/host/seed_derived.py),
   and ``copy_time_scale``, a factor on the time of every CPU copy (the seed's copy
   bandwidths divided by it). Their columns are measured by running the model
   itself; two points, two unknowns: solved exactly, then rounded.
2. The engine clock, from the one DMA point: dcbm v3, 1 channel, 1 GiB of 2 MiB
   folios: 12.50 GB/s. AMD publishes no PTDMA clock. Secant steps on the clock,
   each a full simulation of the 1 GiB move on the compiled back-end.

Both on the experiment's shape (:mod:`sim.experiments.channel_scaling`: node 1 -> 0,
one batch of up to 262,144 pages), the figure its end-to-end GB/s.
"""
import argparse
import dataclasses
import json
import sys

import numpy as np

from sim import seed
from sim.experiments.channel_scaling import (MAX_BATCH_PAGES, WORKLOAD_BYTES, Point,
                                             scaling_request)
from sim.host.costs import CostTable, DEFAULT_COSTS
from sim.host.seed_derived import CORE_STEP_ESTIMATES_NS
from sim.kernel.request import MigrateRequest, run_request
from sim.machine import load_machine

PLATFORM = "zen3-ptdma"
#: The migration core's per-folio steps the core scale multiplies.
CORE_FIELDS = tuple(CORE_STEP_ESTIMATES_NS)
#: The CPU copy bandwidths the copy scale divides.
COPY_FIELDS = tuple(f.name for f in dataclasses.fields(CostTable)
                    if f.name.startswith(("copy_bw_", "llc_copy_bw_")))
#: Digits the platform file keeps: ns and bytes/ns to 0.01 and 0.0001, MHz to 0.1.
CORE_DIGITS, COPY_DIGITS, MHZ_DIGITS = 2, 4, 1
#: The calibration points (sim.seed.LATER_POSTING).
CPU_POINTS = {p["folio_bytes"]: p["gbps"] for p in seed.LATER_POSTING if p["copy"] == "cpu"}
DMA_POINT, = (p for p in seed.LATER_POSTING if p["copy"] == "dma")
#: The clock search stops when the model is this close to the DMA point.
CLOCK_TOLERANCE = 0.002
MAX_CLOCK_STEPS = 8


def cost_values(core_scale, copy_time_scale):
    """{"costs.field": value} of the CPU side at the two scales, rounded as the file
    keeps them."""
    values = {}
    for name in CORE_FIELDS:
        values[f"costs.{name}"] = round(float(getattr(DEFAULT_COSTS, name) * core_scale),
                                        CORE_DIGITS)
    for name in COPY_FIELDS:
        values[f"costs.{name}"] = round(float(getattr(DEFAULT_COSTS, name) / copy_time_scale),
                                        COPY_DIGITS)
    return values


def _gbps(request):
    return run_request(dataclasses.replace(request, repeat=1))["migrate_gbps"]


def _point_request(machine, folio_bytes, driver=None, channels=None, backend="verilator"):
    base = MigrateRequest(mode="dma", workload_bytes=WORKLOAD_BYTES,
                          max_batch_pages=MAX_BATCH_PAGES, repeat=1, backend=backend,
                          machine=machine)
    return scaling_request(Point(folio_bytes, driver, channels), base, machine)


def cpu_gbps(machine, folio_bytes):
    """The upstream CPU copy's end-to-end GB/s of the experiment's move, on machine."""
    return _gbps(_point_request(machine, folio_bytes))


def fit_cpu(platform):
    """The two scales solving the two CPU points; with the model's figures at the
    stored (rounded) values and their residuals."""
    def times(core_scale, copy_time_scale):
        machine = platform.with_values(cost_values(core_scale, copy_time_scale))
        return np.array([WORKLOAD_BYTES / cpu_gbps(machine, size) for size in CPU_POINTS])

    base = times(1.0, 1.0)
    columns = np.array([times(2.0, 1.0) - base, times(1.0, 2.0) - base]).T
    fixed = base - columns.sum(axis=1)           # time at zero core and zero copy time
    target = np.array([WORKLOAD_BYTES / gbps for gbps in CPU_POINTS.values()])
    core_scale, copy_time_scale = np.linalg.solve(columns, target - fixed)
    values = cost_values(core_scale, copy_time_scale)
    machine = platform.with_values(values)
    model = {size: cpu_gbps(machine, size) for size in CPU_POINTS}
    return {"core_scale": float(core_scale), "copy_time_scale": float(copy_time_scale),
            "values": values, "machine": machine, "model": model,
            "residuals": {size: model[size] / CPU_POINTS[size] - 1 for size in CPU_POINTS}}


def fit_clock(machine, backend="verilator", progress=None):
    """The engine clock (MHz, rounded) at which dcbm v3 on one channel moves the
    2 MiB folios at the DMA point's GB/s; secant steps from the machine's clock.
    Returns the clock, the model's GB/s there and each step taken."""
    target = DMA_POINT["gbps"]

    def gbps_at(mhz):
        at = machine.with_values({"clocks.engine_mhz": mhz})
        gbps = _gbps(_point_request(at, DMA_POINT["folio_bytes"], DMA_POINT["driver"], 1,
                                    backend))
        steps.append((mhz, gbps))
        if progress:
            progress(f"engine at {mhz:g} MHz: {gbps:.3f} GB/s")
        return gbps

    steps = []
    previous = round(machine.engine_mhz, MHZ_DIGITS)
    error = gbps_at(previous) - target
    # GB/s grows about as the clock: the first step scales it, then secant steps.
    mhz = round(previous * target / (error + target), MHZ_DIGITS)
    while abs(error) > CLOCK_TOLERANCE * target and mhz != previous \
            and len(steps) < MAX_CLOCK_STEPS:
        last_error, error = error, gbps_at(mhz) - target
        if error == last_error:
            break
        previous, mhz = mhz, round(mhz - error * (mhz - previous) / (error - last_error),
                                   MHZ_DIGITS)
    mhz, gbps = min(steps, key=lambda step: abs(step[1] - target))
    return {"engine_mhz": mhz, "model_gbps": gbps, "residual": gbps / target - 1,
            "steps": steps}


def calibrate(backend="verilator", progress=None):
    """Everything the report prints, as a dict."""
    stored = load_machine(PLATFORM)
    cpu = fit_cpu(stored)
    clock = fit_clock(cpu["machine"].with_values({"clocks.engine_mhz": stored.engine_mhz}),
                      backend, progress)
    stored_values = stored.values()
    fitted = {**cpu["values"], "clocks.engine_mhz": clock["engine_mhz"]}
    return {"cpu": {k: v for k, v in cpu.items() if k != "machine"}, "clock": clock,
            "fitted": fitted,
            "differs": {key: (value, stored_values[key]) for key, value in fitted.items()
                        if stored_values[key] != value}}


def _size(folio_bytes):
    return f"{folio_bytes >> 20} MiB" if folio_bytes >= 1 << 20 else f"{folio_bytes >> 10} KiB"


def report(result, out=None):
    w = (sys.stdout if out is None else out).write
    cpu, clock = result["cpu"], result["clock"]
    w(f"Calibration of the {PLATFORM} platform (sim/machines/{PLATFORM}.toml) on the later "
      f"posting's three points;\nevery other point of the postings is a prediction.\n\n")
    w("1. CPU side (upstream kernel, 1 GiB, move_pages(), node 1 -> 0):\n")
    w(f"   core_scale      = {cpu['core_scale']:.4f} x the seed's per-folio migration steps\n")
    w(f"   copy_time_scale = {cpu['copy_time_scale']:.4f} x the seed's CPU copy times\n")
    w("   folio size  measured GB/s  model GB/s  residual\n")
    for size, gbps in CPU_POINTS.items():
        w(f"   {_size(size):>10s}  {gbps:13.2f}  {cpu['model'][size]:10.3f}  "
          f"{cpu['residuals'][size]:+8.2%}\n")
    w("\n2. Engine clock (dcbm v3, 1 channel, 2 MiB folios):\n")
    for mhz, gbps in clock["steps"]:
        w(f"   {mhz:7.1f} MHz -> {gbps:.3f} GB/s\n")
    w(f"   engine_mhz = {clock['engine_mhz']:g}: {clock['model_gbps']:.3f} GB/s against "
      f"{DMA_POINT['gbps']:.2f} measured, residual {clock['residual']:+.2%}\n\n")
    if result["differs"]:
        w(f"sim/machines/{PLATFORM}.toml DIFFERS:\n")
        for key, (fitted, stored) in result["differs"].items():
            w(f"   {key} = {fitted}   (file: {stored})\n")
    else:
        w(f"sim/machines/{PLATFORM}.toml holds these values (matches).\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sim.experiments.calibrate_ptdma",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="verilator",
                        help="simulator of the DMA runs (default verilator)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    progress = None if args.quiet else (lambda text: print(text, file=sys.stderr))
    result = calibrate(args.backend, progress)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        report(result)
    return 1 if result["differs"] else 0


if __name__ == "__main__":
    sys.exit(main())
