"""Calibration of the migration core's fitted constants against the seed's CPU rows.

``python -m sim.experiments.calibrate`` prints each fitted constant with where it comes from,
the residual of every cell it was fitted to, and whether ``sim/host/seed_derived.py`` holds
the same values. Only the CPU rows of the seed's first table are used (Generic
Kernel = mode ``cpu``, Offload disabled = mode ``batch-cpu``); the DMA rows are
never an input (they are an outcome, compared by ``foliodma reproduce``).

The fit. The CPU-mode model (:func:`sim.kernel.scenario.run_cpu`) is linear in five
unknowns, so their columns are measured by running the model itself with
each unknown at one unit and the others at zero:

=====================  ===============================================  ==============
unknown                mechanism                                        cells that fix it
=====================  ===============================================  ==============
``cold_routine_ns``    first run of each distinct routine in a call     4KB migrate_pages
``core_scale``         scales the per-folio step estimates              2MB..1GB migrate_pages
``llc_copy_cycles``    copy with the source still in the LLC            2MB folio_copy
``cold_copy_ns``       first CPU copy of a call                         4KB folio_copy
``copy_writeback_ns``  batched copy beyond the LLC: write-backs         256MB/1GB folio_copy
=====================  ===============================================  ==============

All sixteen CPU cells (``migrate_pages`` and ``folio_copy``, four workloads,
two modes) enter one weighted least-squares fit on relative errors. Every
other constant the model uses (DRAM copy bandwidth, TLB flush, call cost) is
fixed beforehand (``sim/host/costs.py``). The run-to-run noise (``jitter_*``) is
the RMS of the seed's relative standard deviations of the same rows.
"""
import argparse
import json
import math
import sys

import numpy as np

from sim.host import seed_derived as costs_module
from sim import seed
from sim.host.costs import DEFAULT_COSTS
from sim.host.seed_derived import PAGE, SEED_GHZ

CPU_MODES = seed.MODES[:2]              # cpu, batch-cpu
#: Relative SD columns behind the noise constants.
LARGE = ("2M", "256M", "1G")

# ---------------------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------------------

UNKNOWNS = ("cold_routine_ns", "core_scale", "llc_copy_cycles", "cold_copy_ns",
            "copy_writeback_ns")
SOURCES = {
    "cold_routine_ns": "4KB rows (1 page per call) against the 512+ page rows, migrate_pages",
    "core_scale": "2MB, 256MB, 1GB rows, migrate_pages minus folio_copy (per-folio steps)",
    "llc_copy_cycles": "2MB rows, folio_copy (source lines still in the LLC)",
    "cold_copy_ns": "4KB rows, folio_copy, against the LLC-resident copy of the 2MB rows",
    "copy_writeback_ns": "256MB and 1GB rows, Offload disabled minus Generic Kernel "
                         "folio_copy (batched copies beyond the LLC)",
}
UNITS = {"cold_routine_ns": "ns", "core_scale": "x estimates", "llc_copy_cycles": "cycles/page",
         "cold_copy_ns": "ns", "copy_writeback_ns": "ns/page"}
#: Where each lives in sim/host/seed_derived.py, and how it is stored there (rounding).
STORED = {
    "cold_routine_ns": ("COLD_ROUTINE_NS", 1),
    "core_scale": ("CORE_STEP_SCALE", 4),
    "llc_copy_cycles": ("LLC_COPY_CYCLES", 2),
    "cold_copy_ns": ("COLD_COPY_NS", 1),
    "copy_writeback_ns": ("COPY_WRITEBACK_CYCLES", 2),     # stored in cycles (x 2 GHz)
}
JITTER_STORED = {"jitter_core": "JITTER_CORE", "jitter_copy": "JITTER_COPY",
                 "jitter_cold": "JITTER_COLD"}


def _table(theta, base=DEFAULT_COSTS):
    """The cost table with the unknowns set to theta (a dict over UNKNOWNS)."""
    values = {"cold_routine_ns": theta["cold_routine_ns"],
              "cold_copy_ns": theta["cold_copy_ns"],
              "copy_writeback_ns": theta["copy_writeback_ns"]}
    for name, estimate in costs_module.CORE_STEP_ESTIMATES_NS.items():
        values[name] = estimate * theta["core_scale"]
    llc_ns = theta["llc_copy_cycles"] / SEED_GHZ
    values["llc_copy_bw_0"] = PAGE / max(llc_ns, 1e-9)
    return base.with_overrides(**values)


def model_cells(table):
    """{(mode, workload, column): cycles/page} of the CPU model for the 16 cells."""
    from sim.kernel.folios import WORKLOADS
    from sim.kernel.measure import measure
    from sim.kernel.scenario import run_cpu
    cells = {}
    for mode in CPU_MODES:
        for workload in seed.TABLE1_WORKLOADS:
            nbytes = WORKLOADS[workload]
            raw = run_cpu({"mode": mode, "workload_bytes": nbytes, "folio_bytes": PAGE}, table)
            fig = measure(raw, table, pages=nbytes // PAGE, nbytes=nbytes, repeat=1)
            cells[(mode, workload, "migrate_pages")] = fig["migrate_pages"]
            cells[(mode, workload, "folio_copy")] = fig["folio_copy"]
    return cells


def measured_cells():
    cells = {}
    for mode in CPU_MODES:
        for workload in seed.TABLE1_WORKLOADS:
            for column in ("migrate_pages", "folio_copy"):
                cells[(mode, workload, column)] = seed.table1(mode, workload, column)[0]
    return cells


def fit():
    """Least squares on relative errors; returns the fitted values and diagnostics."""
    zero = dict.fromkeys(UNKNOWNS, 0.0)
    base = model_cells(_table(zero))
    keys = list(base)
    columns = []
    for name in UNKNOWNS:
        unit = dict(zero, **{name: 1.0})
        cells = model_cells(_table(unit))
        columns.append([cells[k] - base[k] for k in keys])
    measured = measured_cells()
    a = np.array(columns).T / np.array([[measured[k]] for k in keys])
    b = np.array([(measured[k] - base[k]) / measured[k] for k in keys])
    solution, *_ = np.linalg.lstsq(a, b, rcond=None)
    theta = dict(zip(UNKNOWNS, (float(x) for x in solution)))
    model = model_cells(_table(theta))
    linear = {k: base[k] + sum(theta[n] * col[i] for n, col in zip(UNKNOWNS, columns))
              for i, k in enumerate(keys)}
    residuals = {k: (model[k] - measured[k]) / measured[k] for k in keys}
    return {"theta": theta, "model": model, "measured": measured, "residuals": residuals,
            "linearity_error": max(abs(model[k] - linear[k]) for k in keys)}


def jitter():
    """RMS relative SDs of the CPU rows (the per-run noise of sim/kernel/measure.py)."""
    def rms(values):
        return math.sqrt(sum(v * v for v in values) / len(values))
    def relative_sd(mode, workload, column):
        mean, sd = seed.table1(mode, workload, column)
        return sd / mean
    core = [relative_sd(m, w, "migrate_pages") for m in CPU_MODES for w in LARGE]
    copy = [relative_sd(m, w, "folio_copy") for m in CPU_MODES for w in LARGE]
    cold = [relative_sd(m, "4K", "migrate_pages") for m in CPU_MODES]
    return {"jitter_core": (rms(core), core), "jitter_copy": (rms(copy), copy),
            "jitter_cold": (rms(cold), cold)}


def stored_values():
    """The fitted constants as sim/host/seed_derived.py holds them, in the fit's units."""
    out = {}
    for name, (const, _) in STORED.items():
        value = getattr(costs_module, const)
        out[name] = value / SEED_GHZ if name == "copy_writeback_ns" else value
    return out


def _stored_form(name, value):
    const, digits = STORED[name]
    shown = value * SEED_GHZ if name == "copy_writeback_ns" else value
    return const, round(shown, digits)


def calibrate():
    """Everything the report prints, as a dict."""
    result = fit()
    result["jitter"] = jitter()
    result["stored"] = stored_values()
    return result


def report(result, out=None):
    out = sys.stdout if out is None else out
    theta, stored = result["theta"], result["stored"]
    w = out.write
    w("Calibration of the migration core against the seed's CPU rows (table 1: Generic "
      "Kernel = cpu, Offload disabled = batch-cpu). The DMA rows are not used.\n\n")
    w("Fitted constants (weighted least squares on the relative errors of 16 cells):\n")
    for name in UNKNOWNS:
        const, shown = _stored_form(name, theta[name])
        in_costs = _stored_form(name, stored[name])[1]
        same = "matches" if math.isclose(shown, in_costs, rel_tol=0, abs_tol=1e-9) else "DIFFERS"
        w(f"  {name:18s} = {theta[name]:10.4f} {UNITS[name]:12s} sim/host/seed_derived.py {const} = "
          f"{in_costs} ({same})\n      from: {SOURCES[name]}\n")
    w("\n  per-folio steps (estimate x core_scale -> value in ns):\n")
    for field, estimate in costs_module.CORE_STEP_ESTIMATES_NS.items():
        w(f"    {field:20s} {estimate:6.1f} x {theta['core_scale']:.4f} = "
          f"{estimate * theta['core_scale']:7.2f}\n")
    w(f"\n  linearity check: the model at the fitted values differs from the linear "
      f"prediction by at most {result['linearity_error']:.2e} cycles/page\n")
    w("\nFixed beforehand, not fitted (sim/host/costs.py, sourced there): DRAM copy 1->0 "
      f"{SEED_GHZ * PAGE / DEFAULT_COSTS.copy_bw_1_0:.2f} cycles/page (seed 256MB/1GB Generic "
      f"folio_copy), TLB flush {DEFAULT_COSTS.tlb_flush_ns(0):.0f} ns per batch (no remote "
      f"CPU), migrate_pages() call {DEFAULT_COSTS.migrate_call_ns:.0f} ns, LLC "
      f"{DEFAULT_COSTS.llc_bytes / (1 << 20):.0f} MiB.\n")
    w("\nResiduals (cycles per page):\n")
    w(f"  {'mode':10s} {'workload':8s} {'column':14s} {'measured':>10s} {'model':>10s} "
      f"{'error':>8s}\n")
    for (mode, workload, column), error in result["residuals"].items():
        cell = (mode, workload, column)
        w(f"  {mode:10s} {workload:8s} {column:14s} {result['measured'][cell]:10.2f} "
          f"{result['model'][cell]:10.2f} {error:+8.2%}\n")
    worst = max(result["residuals"].items(), key=lambda kv: abs(kv[1]))
    w(f"  largest: {worst[1]:+.2%} ({' '.join(worst[0])})\n")
    w("\nRun-to-run noise (RMS of the seed's relative SDs):\n")
    for name, (value, parts) in result["jitter"].items():
        in_costs = getattr(costs_module, JITTER_STORED[name])
        same = "matches" if round(value, 4) == in_costs else "DIFFERS"
        w(f"  {name:13s} = {value:.4f}  from {', '.join(f'{p:.1%}' for p in parts)}; "
          f"sim/host/seed_derived.py {JITTER_STORED[name]} = {in_costs} ({same})\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sim.experiments.calibrate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = calibrate()
    if args.json:
        def key(k):
            return "/".join(k) if isinstance(k, tuple) else k
        printable = {k: ({key(kk): vv for kk, vv in v.items()} if isinstance(v, dict) else v)
                     for k, v in result.items()}
        print(json.dumps(printable, indent=2, default=str))
    else:
        report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
