"""Calibration of the PTDMA platforms on the points of the later postings they may use.

``python -m sim.experiments.calibrate_ptdma [--platform NAME]`` prints each calibrated
value with the points that fix it, the residuals, and whether the platform file
holds the same values. Every other value of these platforms comes from public facts
(the files say which), and every other point of the later postings
(:data:`sim.seed.LATER_SCALING`, and everything after RFC V3 that the four points of
:data:`sim.seed.LATER_KERNEL_POSTING` leave out) is a prediction, never an input.

The CPU side: the model's time of a move is linear in a factor on each group of
costs, a factor on the seed's values (sim/host/seed_derived.py). The columns are
measured by running the model itself; as many CPU points as groups, solved
exactly, then rounded.

- ``zen3-ptdma`` (the RFC V3 kernel): two CPU points (upstream kernel, 1 GiB with
  move_pages(): 3.73 GB/s with 4 KiB folios, 10.67 GB/s with 2 MiB folios), two
  groups: every per-folio migration step, and every CPU copy's time. Then the
  engine clock, from the one DMA point (dcbm v3, 1 channel, 2 MiB folios: 12.50
  GB/s): AMD publishes no PTDMA clock. Secant steps on the clock, each a full
  simulation of the 1 GiB move on the compiled back-end.
- ``zen3-ptdma-v7`` (the v7.0 kernel of RFC v4, on the same machine): three CPU
  points (3.55, 6.16 and 10.88 GB/s with 4 KiB, 64 KiB and 2 MiB folios), three
  groups: the steps paid per folio or mapping, the steps paid per page-table entry
  (16 for a 64 KiB mTHP, one PMD for a THP: only the 64 KiB point sees them apart),
  and every CPU copy's time. The engine is the same hardware, so its clock stays
  zen3-ptdma's; the DMA point (dcbm, 1 channel, 2 MiB: 12.64 GB/s) is met, not fitted.

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
from sim.host.costs import PER_ENTRY, PER_FOLIO, PER_MAPPING, CostTable, DEFAULT_COSTS
from sim.host.seed_derived import CORE_STEP_ESTIMATES_NS
from sim.kernel.request import MigrateRequest, run_request
from sim.machine import load_machine

#: The migration core's per-folio steps (each paid per folio, mapping or entry).
CORE_FIELDS = tuple(CORE_STEP_ESTIMATES_NS)
#: The steps paid per page-table entry, and the others.
ENTRY_FIELDS = CostTable.steps_per(PER_ENTRY)
FOLIO_FIELDS = CostTable.steps_per(PER_FOLIO) + CostTable.steps_per(PER_MAPPING)
#: The CPU copy bandwidths the copy scale divides.
COPY_FIELDS = tuple(f.name for f in dataclasses.fields(CostTable)
                    if f.name.startswith(("copy_bw_", "llc_copy_bw_")))
#: Digits the platform file keeps: ns and bytes/ns to 0.01 and 0.0001, MHz to 0.1.
CORE_DIGITS, COPY_DIGITS, MHZ_DIGITS = 2, 4, 1
#: The clock search stops when the model is this close to the DMA point.
CLOCK_TOLERANCE = 0.002
MAX_CLOCK_STEPS = 8


@dataclasses.dataclass(frozen=True)
class Group:
    """Cost fields one factor scales: times (ns) multiplied, or bandwidths divided."""
    name: str
    fields: tuple
    what: str
    divides: bool = False


CORE = Group("core_scale", CORE_FIELDS, "the seed's per-folio migration steps")
COPY = Group("copy_time_scale", COPY_FIELDS, "the seed's CPU copy times", divides=True)
PER_FOLIO_STEPS = Group("folio_scale", FOLIO_FIELDS,
                        "the seed's steps paid per folio and per mapping")
PER_ENTRY_STEPS = Group("entry_scale", ENTRY_FIELDS,
                        "the seed's steps paid per page-table entry (PTE or PMD)")


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A platform, the points it is calibrated on, the cost groups they fix, and
    whether the DMA point fits the engine clock (or only checks it)."""
    platform: str
    points: tuple
    groups: tuple
    fit_clock: bool
    posting: str

    @property
    def cpu_points(self):
        return {p["folio_bytes"]: p["gbps"] for p in self.points if p["copy"] == "cpu"}

    @property
    def dma_point(self):
        point, = (p for p in self.points if p["copy"] == "dma")
        return point


CALIBRATIONS = {
    "zen3-ptdma": Calibration("zen3-ptdma", seed.LATER_POSTING, (CORE, COPY), True,
                              "RFC V3 (the 6.14-6.16 kernel)"),
    "zen3-ptdma-v7": Calibration("zen3-ptdma-v7", seed.LATER_KERNEL_POSTING,
                                 (PER_FOLIO_STEPS, PER_ENTRY_STEPS, COPY), False,
                                 "RFC v4 (the v7.0 kernel)"),
}
PLATFORM = "zen3-ptdma"


def cost_values(groups, scales):
    """{"costs.field": value} of the CPU side with each group at its scale, rounded as
    the file keeps them."""
    values = {}
    for group, scale in zip(groups, scales, strict=True):
        for name in group.fields:
            default = getattr(DEFAULT_COSTS, name)
            values[f"costs.{name}"] = round(float(default / scale), COPY_DIGITS) \
                if group.divides else round(float(default * scale), CORE_DIGITS)
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


def dma_gbps(machine, point, backend="verilator"):
    """dcbm's end-to-end GB/s of a DMA point (its driver, one channel), on machine."""
    return _gbps(_point_request(machine, point["folio_bytes"], point["driver"], 1, backend))


def fit_cpu(platform, calibration):
    """The scales solving the CPU points; with the model's figures at the stored
    (rounded) values and their residuals."""
    groups, points = calibration.groups, calibration.cpu_points
    if len(groups) != len(points):
        raise ValueError(f"{len(groups)} cost groups need as many CPU points, not "
                         f"{len(points)}")

    def times(scales):
        machine = platform.with_values(cost_values(groups, scales))
        return np.array([WORKLOAD_BYTES / cpu_gbps(machine, size) for size in points])

    ones = np.ones(len(groups))
    base = times(ones)
    columns = np.array([times(ones + np.eye(len(groups))[i]) - base
                        for i in range(len(groups))]).T
    fixed = base - columns.sum(axis=1)           # the time with every group at zero
    target = np.array([WORKLOAD_BYTES / gbps for gbps in points.values()])
    scales = np.linalg.solve(columns, target - fixed)
    values = cost_values(groups, scales)
    machine = platform.with_values(values)
    model = {size: cpu_gbps(machine, size) for size in points}
    return {"scales": {group.name: float(scale) for group, scale in zip(groups, scales)},
            "values": values, "machine": machine, "model": model,
            "residuals": {size: model[size] / points[size] - 1 for size in points}}


def fit_clock(machine, point, backend="verilator", progress=None):
    """The engine clock (MHz, rounded) at which dcbm on one channel moves the DMA
    point's folios at its GB/s; secant steps from the machine's clock.
    Returns the clock, the model's GB/s there and each step taken."""
    target = point["gbps"]

    def gbps_at(mhz):
        gbps = dma_gbps(machine.with_values({"clocks.engine_mhz": mhz}), point, backend)
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
            "steps": steps, "fitted": True}


def check_clock(machine, point, backend="verilator"):
    """The DMA point at the machine's own engine clock (the same hardware): met, not
    fitted."""
    gbps = dma_gbps(machine, point, backend)
    return {"engine_mhz": machine.engine_mhz, "model_gbps": gbps,
            "residual": gbps / point["gbps"] - 1, "steps": [(machine.engine_mhz, gbps)],
            "fitted": False}


def calibrate(platform=PLATFORM, backend="verilator", progress=None):
    """Everything the report prints, as a dict."""
    calibration = CALIBRATIONS[platform]
    stored = load_machine(platform)
    cpu = fit_cpu(stored, calibration)
    machine = cpu["machine"].with_values({"clocks.engine_mhz": stored.engine_mhz})
    if calibration.fit_clock:
        clock = fit_clock(machine, calibration.dma_point, backend, progress)
        fitted = {**cpu["values"], "clocks.engine_mhz": clock["engine_mhz"]}
    else:
        clock = check_clock(machine, calibration.dma_point, backend)
        fitted = cpu["values"]
    stored_values = stored.values()
    return {"platform": platform, "cpu": {k: v for k, v in cpu.items() if k != "machine"},
            "clock": clock, "fitted": fitted,
            "differs": {key: (value, stored_values[key]) for key, value in fitted.items()
                        if stored_values[key] != value}}


def _size(folio_bytes):
    return f"{folio_bytes >> 20} MiB" if folio_bytes >= 1 << 20 else f"{folio_bytes >> 10} KiB"


def report(result, out=None):
    w = (sys.stdout if out is None else out).write
    calibration = CALIBRATIONS[result["platform"]]
    cpu, clock, name = result["cpu"], result["clock"], result["platform"]
    point = calibration.dma_point
    w(f"Calibration of the {name} platform (sim/machines/{name}.toml) on "
      f"{len(calibration.points)} points of {calibration.posting};\n"
      f"every other point of the postings is a prediction.\n\n")
    w("1. CPU side (upstream kernel, 1 GiB, move_pages(), node 1 -> 0):\n")
    width = max(len(group.name) for group in calibration.groups)
    for group in calibration.groups:
        w(f"   {group.name:<{width}s} = {cpu['scales'][group.name]:.4f} x {group.what}\n")
    w("   folio size  measured GB/s  model GB/s  residual\n")
    for size, gbps in calibration.cpu_points.items():
        w(f"   {_size(size):>10s}  {gbps:13.2f}  {cpu['model'][size]:10.3f}  "
          f"{cpu['residuals'][size]:+8.2%}\n")
    what = f"dcbm {point['driver']}, 1 channel, {_size(point['folio_bytes'])} folios"
    if clock["fitted"]:
        w(f"\n2. Engine clock ({what}):\n")
        for mhz, gbps in clock["steps"]:
            w(f"   {mhz:7.1f} MHz -> {gbps:.3f} GB/s\n")
        w(f"   engine_mhz = {clock['engine_mhz']:g}: ")
    else:
        w(f"\n2. DMA point ({what}), the engine clock not fitted (the same hardware):\n"
          f"   engine_mhz = {clock['engine_mhz']:g}: ")
    w(f"{clock['model_gbps']:.3f} GB/s against {point['gbps']:.2f} measured, residual "
      f"{clock['residual']:+.2%}\n\n")
    if result["differs"]:
        w(f"sim/machines/{name}.toml DIFFERS:\n")
        for key, (fitted, stored) in result["differs"].items():
            w(f"   {key} = {fitted}   (file: {stored})\n")
    else:
        w(f"sim/machines/{name}.toml holds these values (matches).\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sim.experiments.calibrate_ptdma",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", default=PLATFORM, choices=sorted(CALIBRATIONS),
                        help=f"the platform to calibrate (default {PLATFORM})")
    parser.add_argument("--backend", default="verilator",
                        help="simulator of the DMA runs (default verilator)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    progress = None if args.quiet else (lambda text: print(text, file=sys.stderr))
    result = calibrate(args.platform, args.backend, progress)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        report(result)
    return 1 if result["differs"] else 0


if __name__ == "__main__":
    sys.exit(main())
