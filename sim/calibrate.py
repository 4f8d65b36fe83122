"""Calibration of the migration core's fitted constants against the seed's CPU rows.

``python -m sim.calibrate`` prints each fitted constant with where it comes from,
the residual of every cell it was fitted to, and whether ``sim/costs.py`` holds
the same values. Only the CPU rows of the seed's first table are used (Generic
Kernel = mode ``cpu``, Offload disabled = mode ``batch-cpu``); the DMA rows are
never an input (they are an outcome, compared by ``foliodma reproduce``).

The fit. The CPU-mode model (:func:`sim.migrate.run_cpu`) is linear in five
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
fixed beforehand (``sim/costs.py``). The run-to-run noise (``jitter_*``) is
the RMS of the seed's relative standard deviations of the same rows.
"""
import argparse
import json
import math
import sys

import numpy as np

from sim import costs as costs_module
from sim.costs import DEFAULT_COSTS, SEED_GHZ

# ---------------------------------------------------------------------------------------
# The seed's measurements (../shared/seed/000_3cb86562fd58bc19.txt), cycles per page
# ---------------------------------------------------------------------------------------

#: Table 1 (cover letter): (mode, workload) -> mean and SD of migrate_pages,
#: folio_copy (cycles per page) and F. cpu = Generic Kernel, batch-cpu = patched
#: kernel with offload disabled, dma = offload enabled (dcbm v1, 4 KiB pages).
SEED_TABLE1 = {
    ("cpu", "4K"): (17799.00, 4278.25, 794.00, 232.87, 0.0478, 0.0199),
    ("cpu", "2M"): (3478.42, 94.93, 493.84, 28.21, 0.1418, 0.0050),
    ("cpu", "256M"): (3668.56, 158.47, 815.40, 171.76, 0.2206, 0.0371),
    ("cpu", "1G"): (3769.98, 55.79, 804.68, 60.07, 0.2132, 0.0134),
    ("batch-cpu", "4K"): (14941.60, 2556.53, 799.60, 211.66, 0.0554, 0.0190),
    ("batch-cpu", "2M"): (3448.44, 83.74, 533.34, 37.81, 0.1545, 0.0085),
    ("batch-cpu", "256M"): (3723.56, 132.93, 907.64, 132.63, 0.2427, 0.0270),
    ("batch-cpu", "1G"): (3788.20, 46.65, 888.46, 49.50, 0.2344, 0.0107),
    ("dma", "4K"): (46739.80, 4827.15, 32222.40, 3543.42, 0.6904, 0.0423),
    ("dma", "2M"): (13798.10, 205.33, 10971.60, 202.50, 0.7951, 0.0033),
    ("dma", "256M"): (13217.20, 163.99, 10431.20, 167.25, 0.7891, 0.0029),
    ("dma", "1G"): (13309.70, 113.93, 10410.00, 117.77, 0.7821, 0.0023),
}
TABLE1_FIELDS = ("migrate_pages", "migrate_pages_sd", "folio_copy", "folio_copy_sd", "F", "F_sd")

#: Table 2 (Shivank Garg, 2024-06-25): move_pages(2) from node 1 to node 0 and a read
#: stream over the pages; (mode, workload) -> (move_pages, uncached_access,
#: cached_access, post_move_access), each (mean, SD), cycles per page.
SEED_TABLE2 = {
    ("cpu", "4K"): ((193154.40, 50519.59), (1269.40, 163.11), (383.00, 31.92), (420.40, 77.04)),
    ("cpu", "2M"): ((4930.36, 100.74), (793.46, 82.39), (208.59, 2.07), (181.34, 11.55)),
    ("cpu", "512M"): ((4498.93, 146.95), (656.43, 23.08), (801.93, 111.80), (402.37, 15.26)),
    ("cpu", "1G"): ((4419.88, 203.91), (627.85, 13.24), (776.01, 94.27), (384.24, 7.33)),
    ("batch-cpu", "4K"): ((206370.20, 28303.18), (1265.20, 141.38), (385.40, 54.32),
                          (407.80, 52.60)),
    ("batch-cpu", "2M"): ((5110.16, 188.60), (794.05, 72.25), (208.65, 1.75), (177.48, 9.93)),
    ("batch-cpu", "512M"): ((4548.00, 188.91), (658.23, 23.63), (777.34, 113.15),
                            (403.48, 17.27)),
    ("batch-cpu", "1G"): ((4521.19, 195.13), (628.85, 14.72), (750.85, 98.22), (387.79, 9.49)),
    ("dma", "4K"): ((222818.00, 22710.80), (1277.80, 145.74), (405.20, 101.85),
                    (427.60, 130.13)),
    ("dma", "2M"): ((15590.80, 288.89), (799.36, 76.60), (208.79, 2.11), (183.21, 11.67)),
    ("dma", "512M"): ((14154.06, 197.59), (649.93, 20.35), (814.10, 109.81), (403.43, 13.79)),
    ("dma", "1G"): ((14415.04, 303.83), (629.03, 14.83), (731.16, 97.67), (385.08, 7.62)),
}
TABLE2_FIELDS = ("move_pages", "uncached_access", "cached_access", "post_move_access")

#: A later posting of the series (../shared/reference/dcbm-lineage.md section 1): 1 GiB
#: moved with move_pages(), THP on, same machine family; end-to-end GB/s.
LATER_POSTING = (
    {"copy": "cpu", "driver": None, "folio_bytes": 4 << 10, "gbps": 3.73},
    {"copy": "cpu", "driver": None, "folio_bytes": 2 << 20, "gbps": 10.67},
    {"copy": "dma", "driver": "v3", "folio_bytes": 2 << 20, "gbps": 12.50},
)

WORKLOAD_ORDER = ("4K", "2M", "256M", "1G")
CPU_MODES = ("cpu", "batch-cpu")
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
#: Where each lives in sim/costs.py, and how it is stored there (rounding).
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
    values["llc_copy_bw_0"] = 4096 / max(llc_ns, 1e-9)
    return base.with_overrides(**values)


def model_cells(table):
    """{(mode, workload, column): cycles/page} of the CPU model for the 16 cells."""
    from sim.migrate import WORKLOADS, measure, run_cpu
    cells = {}
    for mode in CPU_MODES:
        for workload in WORKLOAD_ORDER:
            nbytes = WORKLOADS[workload]
            raw = run_cpu({"mode": mode, "workload_bytes": nbytes, "folio_bytes": 4096}, table)
            fig = measure(raw, table, pages=nbytes // 4096, nbytes=nbytes, repeat=1)
            cells[(mode, workload, "migrate_pages")] = fig["migrate_pages"]
            cells[(mode, workload, "folio_copy")] = fig["folio_copy"]
    return cells


def measured_cells():
    cells = {}
    for mode in CPU_MODES:
        for workload in WORKLOAD_ORDER:
            row = SEED_TABLE1[(mode, workload)]
            cells[(mode, workload, "migrate_pages")] = row[0]
            cells[(mode, workload, "folio_copy")] = row[2]
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
    """RMS relative SDs of the CPU rows (the per-run noise of sim/migrate.py)."""
    def rms(values):
        return math.sqrt(sum(v * v for v in values) / len(values))
    core = [SEED_TABLE1[(m, w)][1] / SEED_TABLE1[(m, w)][0] for m in CPU_MODES for w in LARGE]
    copy = [SEED_TABLE1[(m, w)][3] / SEED_TABLE1[(m, w)][2] for m in CPU_MODES for w in LARGE]
    cold = [SEED_TABLE1[(m, "4K")][1] / SEED_TABLE1[(m, "4K")][0] for m in CPU_MODES]
    return {"jitter_core": (rms(core), core), "jitter_copy": (rms(copy), copy),
            "jitter_cold": (rms(cold), cold)}


def stored_values():
    """The fitted constants as sim/costs.py holds them, in the fit's units."""
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
        w(f"  {name:18s} = {theta[name]:10.4f} {UNITS[name]:12s} sim/costs.py {const} = "
          f"{in_costs} ({same})\n      from: {SOURCES[name]}\n")
    w("\n  per-folio steps (estimate x core_scale -> value in ns):\n")
    for field, estimate in costs_module.CORE_STEP_ESTIMATES_NS.items():
        w(f"    {field:20s} {estimate:6.1f} x {theta['core_scale']:.4f} = "
          f"{estimate * theta['core_scale']:7.2f}\n")
    w(f"\n  linearity check: the model at the fitted values differs from the linear "
      f"prediction by at most {result['linearity_error']:.2e} cycles/page\n")
    w("\nFixed beforehand, not fitted (sim/costs.py, sourced there): DRAM copy 1->0 "
      f"{2 * 4096 / DEFAULT_COSTS.copy_bw_1_0:.2f} cycles/page (seed 256MB/1GB Generic "
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
          f"sim/costs.py {JITTER_STORED[name]} = {in_costs} ({same})\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sim.calibrate", description=__doc__.split(
        "\n\n")[0])
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
