"""``foliodma reproduce``: every row of the seed's two tables, model against measurement.

Table 1 (cover letter): migrate_pages and folio_copy cycles per page and F, for
4KB, 2MB, 256MB and 1GB promoted from node 1 to node 0 with 4 KiB folios, in
three modes: Generic Kernel (``cpu``: the upstream flow), Offload disabled
(``batch-cpu``: the batched flow, CPU copy), Offload enabled (``dma``: the
batched flow, dcbm ``v1`` on the RTL, one channel, as the seed measured).

Table 2 (follow-up): post_move_access, cycles per page of a read stream over
the moved pages right after the move (4KB, 2MB, 512MB, 1GB), from the cache
model when there is one.

The later posting's calibration points (1 GiB with move_pages(), THP on):
end-to-end GB/s of the CPU with 4 KiB and 2 MiB folios and of dcbm v3 with
2 MiB folios; the model's figure is bytes / migrate_pages() time.

Errors compare the model's expected value (the noise-free simulation; the
per-run noise has mean 1) with the seed's mean; the model's mean and SD over
``repeat`` noisy runs are shown beside the seed's.

Criteria (the issue's "Done when"): within 10 % on every migrate_pages and
folio_copy cell of table 1 for the CPU modes, within 20 % for the DMA rows,
within 20 % for post_move_access.
"""
import concurrent.futures
import copy
import json
import math
import sys
import time

from sim import seed
from sim.kernel.folios import DEFAULT_REPEAT, PAGE, Plan, folio_sizes
from sim.kernel.measure import measure, post_move_access
from sim.kernel.request import MigrateRequest, figure_fields, run_request
from sim.machine import DEFAULT_MACHINE
from sim.seed import LATER_POSTING, MODE_NAMES, MODES, TABLE1_WORKLOADS, TABLE2_WORKLOADS
from sw_driver.dcbm import DEFAULT_STRATEGY

LIMITS = {"cpu": 0.10, "batch-cpu": 0.10, "dma": 0.20, "post_move_access": 0.20}
WORKLOAD_BYTES = {workload: pages * PAGE for workload, pages in seed.PAGES.items()}
#: Row entries that total a whole simulated run (not carried over to a reused row).
RUN_TOTALS = ("iommu_walks", "iommu_walk_reads", "iotlb_invalidations", "simulated_cycles",
              "skipped_cycles", "dma_copied_folios", "dma_failed_folios")
#: The offload penalty: dma minus batch-cpu (same flow, the copy offloaded or not).
OFFLOAD_PAIR = ("dma", "batch-cpu")


def _request(mode, workload_bytes, *, folio_bytes=PAGE, driver="v1", backend="pysim",
             repeat=DEFAULT_REPEAT, seed=0, v1_double_copy=True, machine=DEFAULT_MACHINE):
    driver = driver if mode == "dma" else DEFAULT_STRATEGY
    return MigrateRequest(mode=mode, workload_bytes=workload_bytes, folio_bytes=folio_bytes,
                          driver=driver, backend=backend, repeat=repeat, seed=seed,
                          v1_double_copy=v1_double_copy and driver == "v1", machine=machine)


def _deterministic(row, request):
    """The noise-free figures of a row (its expected value)."""
    raw = row["_raw"]
    plan_pages = row["pages"]
    return measure(raw, request.machine.costs, pages=plan_pages, nbytes=row["workload_bytes"],
                   repeat=1, cpu_ghz=request.machine.cpu_ghz)


def reuse_simulation(row, request):
    """The row of a smaller workload whose batches are a prefix of a simulated row's:
    the same single run of identical batches, only fewer of them extrapolated."""
    plan = Plan.build(folio_sizes(request.workload_bytes, request.folio_bytes),
                      max_batch_pages=request.max_batch_pages,
                      llc_bytes=int(request.machine.costs.llc_bytes))
    raw = copy.deepcopy(row["_raw"])
    runs = plan.runs()
    groups = raw["groups"]
    if len(runs) != 1 or groups[-1]["simulated"] is not False or \
            len(plan.batches) <= raw["simulated_batches"]:
        return None
    groups[-1]["count"] = len(plan.batches) - raw["simulated_batches"]
    raw["extrapolated_batches"] = groups[-1]["count"]
    figures = measure(raw, request.machine.costs, pages=plan.pages, nbytes=sum(plan.sizes),
                      repeat=request.repeat, seed=request.seed, cpu_ghz=request.machine.cpu_ghz)
    # The longer run's totals are not this one's: left out.
    shorter = {key: value for key, value in row.items() if key not in RUN_TOTALS}
    return dict(shorter, workload_bytes=sum(plan.sizes), folios=len(plan.sizes),
                pages=plan.pages, batches=len(plan.batches),
                extrapolated_batches=raw["extrapolated_batches"], _raw=raw,
                reused_from=row["workload_bytes"], wall_seconds=0.0,
                post_move_access_cycles_per_page=post_move_access(
                    request.spec(), request.mode, request.v1_double_copy,
                    cache=request.machine.cache),
                **figure_fields(figures))


def _error(model, measured):
    if model is None or measured is None:
        return None
    return (model - measured) / measured


def run_all(*, backend="pysim", repeat=DEFAULT_REPEAT, seed=0, jobs=2, progress=None,
            workloads=TABLE1_WORKLOADS, later=True, v1_double_copy=True,
            machine=DEFAULT_MACHINE):
    """Every row (of ``workloads``; the later posting's points with ``later``); returns
    the report as a dict. ``progress(key, total)`` is called as each of the ``total``
    RTL runs finishes."""
    started = time.perf_counter()
    requests = {}
    for workload in workloads:
        for mode in MODES:
            requests[("t1", mode, workload)] = _request(mode, WORKLOAD_BYTES[workload],
                                                        backend=backend, repeat=repeat,
                                                        seed=seed,
                                                        v1_double_copy=v1_double_copy,
                                                        machine=machine)
    for point in LATER_POSTING if later else ():
        key = ("later", point["copy"], point["folio_bytes"])
        requests[key] = _request(point["copy"], 1 << 30, folio_bytes=point["folio_bytes"],
                                 driver=point["driver"] or DEFAULT_STRATEGY, backend=backend,
                                 repeat=repeat, seed=seed, machine=machine)
    # The 256MB DMA row is the 1GB row's first 128 batches (one run of identical
    # batches): its simulation is reused, not repeated.
    reuse = {key: source for key, source in {("t1", "dma", "256M"): ("t1", "dma", "1G")}.items()
             if key in requests and source in requests}
    dma_keys = [k for k, r in requests.items() if r.mode == "dma" and k not in reuse]
    rows = {}
    for key, request in requests.items():
        if request.mode != "dma":
            rows[key] = _run_keep_raw(request)
    dma_keys.sort(key=lambda k: -requests[k].workload_bytes)     # longest first
    if jobs > 1 and len(dma_keys) > 1:
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_run_keep_raw, requests[k]): k for k in dma_keys}
            for future in concurrent.futures.as_completed(futures):
                rows[futures[future]] = future.result()
                if progress:
                    progress(futures[future], len(dma_keys))
    else:
        for key in dma_keys:
            rows[key] = _run_keep_raw(requests[key])
            if progress:
                progress(key, len(dma_keys))
    for key, source in reuse.items():
        reused = reuse_simulation(rows[source], requests[key])
        rows[key] = reused if reused is not None else _run_keep_raw(requests[key])
    report = _report(rows, requests, time.perf_counter() - started, workloads,
                     v1_double_copy)
    report["iommu_mode"] = machine.iommu.mode
    report["machine"] = machine.as_dict()
    return report


def _run_keep_raw(request):
    """One row, with its raw simulation result (for the expected values and reuse)."""
    return run_request(request, keep_raw=True)


def _table1(rows, requests, workloads):
    """Table 1's rows: per workload and mode, each column's model against the seed."""
    table1 = []
    for workload in workloads:
        for mode in MODES:
            key = ("t1", mode, workload)
            row, request = rows[key], requests[key]
            exact = _deterministic(row, request)
            cells = {}
            for column, model_key in (("migrate_pages", "migrate_pages_cycles_per_page"),
                                      ("folio_copy", "folio_copy_cycles_per_page"),
                                      ("F", "F")):
                mean, sd = seed.table1(mode, workload, column)
                cells[column] = {
                    "model": exact[column], "model_mean": row[model_key],
                    "model_sd": row[model_key + "_sd"], "seed": mean, "seed_sd": sd,
                    "error": _error(exact[column], mean)}
            table1.append({"mode": mode, "workload": workload, "cells": cells,
                           "simulated_batches": row["simulated_batches"],
                           "extrapolated_batches": row["extrapolated_batches"],
                           "integrity_ok": row["integrity"]["ok"],
                           "reused_from": row.get("reused_from"),
                           "copy_gbps": row["copy_gbps"]})
    return table1


def _table2(cache, v1_double_copy):
    """Table 2's post_move_access rows; for dma also the other reading of v1's copy."""
    table2 = []
    for workload in TABLE2_WORKLOADS:
        for mode in MODES:
            spec = _request(mode, WORKLOAD_BYTES[workload]).spec()
            model = post_move_access(spec, mode, v1_double_copy, cache=cache)
            other = post_move_access(spec, mode, not v1_double_copy, cache=cache) \
                if mode == "dma" else None
            mean, sd = seed.table2(mode, workload, "post_move_access")
            table2.append({"mode": mode, "workload": workload, "model": model, "seed": mean,
                           "seed_sd": sd, "error": _error(model, mean),
                           "other_reading": other, "other_error": _error(other, mean)})
    return table2


def _offload_penalty(table1, workloads):
    """dma's migrate_pages less batch-cpu's, against both seed tables' difference."""
    penalty = []
    model_mp = {(r["mode"], r["workload"]): r["cells"]["migrate_pages"]["model"] for r in table1}
    for workload, workload2 in zip(workloads, TABLE2_WORKLOADS):
        if ("dma", workload) not in model_mp:
            continue
        model = model_mp[("dma", workload)] - model_mp[("batch-cpu", workload)]
        entry = {"workload": workload, "table2_workload": workload2, "model": model}
        for table, (dma, cpu) in (
                ("table1", [seed.table1(m, workload, "migrate_pages") for m in OFFLOAD_PAIR]),
                ("table2", [seed.table2(m, workload2, "move_pages") for m in OFFLOAD_PAIR])):
            # One run's difference: the seed's two SDs combined (independent runs).
            mean, sd = dma[0] - cpu[0], math.hypot(dma[1], cpu[1])
            entry.update({f"seed_{table}": mean, f"seed_{table}_sd": sd,
                          f"error_{table}": _error(model, mean),
                          f"sds_{table}": (model - mean) / sd})
        penalty.append(entry)
    return penalty


def _later_posting(rows, requests):
    """The later posting's points that were run: model GB/s against the posting's."""
    later = []
    for point in LATER_POSTING:
        key = ("later", point["copy"], point["folio_bytes"])
        if key not in rows:
            continue
        row = rows[key]
        exact = _deterministic(row, requests[key])
        gbps = row["workload_bytes"] / exact["migrate_pages_ns"]
        later.append({"copy": point["copy"], "driver": point["driver"],
                      "folio_bytes": point["folio_bytes"], "model_gbps": gbps,
                      "seed_gbps": point["gbps"], "error": _error(gbps, point["gbps"]),
                      "simulated_batches": row["simulated_batches"],
                      "extrapolated_batches": row["extrapolated_batches"],
                      "integrity_ok": row["integrity"]["ok"]})
    return later


def _summary_and_checks(table1, table2):
    """The largest error per mode and column (and of post_move_access), and whether
    each mode is within its limit."""
    summary = {}
    for mode in MODES:
        for column in ("migrate_pages", "folio_copy", "F"):
            errors = [r["cells"][column]["error"] for r in table1 if r["mode"] == mode]
            summary[f"{mode}/{column}"] = max(errors, key=abs)
    pma = [r["error"] for r in table2 if r["error"] is not None]
    summary["post_move_access"] = max(pma, key=abs) if pma else None
    checks = {}
    for mode in MODES:
        worst = max(abs(summary[f"{mode}/migrate_pages"]), abs(summary[f"{mode}/folio_copy"]))
        checks[mode] = {"largest_error": worst, "limit": LIMITS[mode],
                        "ok": worst <= LIMITS[mode]}
    checks["post_move_access"] = {
        "largest_error": None if summary["post_move_access"] is None
        else abs(summary["post_move_access"]),
        "limit": LIMITS["post_move_access"],
        "ok": None if summary["post_move_access"] is None
        else abs(summary["post_move_access"]) <= LIMITS["post_move_access"]}
    return summary, checks


def _report(rows, requests, wall, workloads=TABLE1_WORKLOADS, v1_double_copy=True):
    """Everything ``reproduce`` reports, from the runs' rows."""
    table1 = _table1(rows, requests, workloads)
    table2 = _table2(next(iter(requests.values())).machine.cache, v1_double_copy)
    later = _later_posting(rows, requests)
    summary, checks = _summary_and_checks(table1, table2)
    integrity = all(r["integrity_ok"] for r in table1) and all(r["integrity_ok"] for r in later)
    return {"table1": table1, "table2": table2,
            "offload_penalty": _offload_penalty(table1, workloads),
            "later_posting": later, "summary": summary,
            "checks": checks, "integrity_ok": integrity, "wall_seconds": wall,
            "v1_double_copy": v1_double_copy}


def _pct(value):
    return "n/a" if value is None else f"{value:+.1%}"


def print_report(report, out=None):
    out = sys.stdout if out is None else out
    w = out.write
    reading = "with" if report.get("v1_double_copy", True) else "without"
    w(f"Model: dma rows with dcbm v1 {reading} its extra CPU copy of every page; IOMMU "
      f"{report.get('iommu_mode', 'lazy')} (sim/memsys/iommu.py)\n\n")
    w("Seed table 1: migrate_pages() of N pages, node 1 -> node 0, 4 KiB folios, cycles per "
      "page (model: expected value [mean ± SD of noisy runs]; seed: mean ± SD)\n")
    w("modes: " + ", ".join(f"{m} = {name}" for m, name in MODE_NAMES.items()) + "\n")
    header = (f"{'mode':9s} {'workload':8s} | {'migrate_pages model':>20s} {'seed':>17s} "
              f"{'err':>7s} | {'folio_copy model':>18s} {'seed':>16s} {'err':>7s} | "
              f"{'F model':>7s} {'seed':>6s} {'err':>7s} | batches sim+extrap")
    w(header + "\n" + "-" * len(header) + "\n")
    for r in report["table1"]:
        mp, fc, f = r["cells"]["migrate_pages"], r["cells"]["folio_copy"], r["cells"]["F"]
        note = f"{r['simulated_batches']}+{r['extrapolated_batches']}"
        if r["reused_from"]:
            note += " (1GB run's batches)"
        if not r["integrity_ok"]:
            note += " INTEGRITY FAILED"
        w(f"{r['mode']:9s} {r['workload']:8s} | {mp['model']:9.0f} [±{mp['model_sd']:6.0f}] "
          f"{mp['seed']:9.0f} ±{mp['seed_sd']:6.0f} {_pct(mp['error']):>7s} | "
          f"{fc['model']:7.0f} [±{fc['model_sd']:6.0f}] {fc['seed']:8.0f} ±{fc['seed_sd']:6.0f} "
          f"{_pct(fc['error']):>7s} | {f['model']:7.4f} {f['seed']:6.4f} "
          f"{_pct(f['error']):>7s} | {note}\n")
    w("\nSeed table 2: post_move_access, cycles per page (read stream right after "
      "move_pages)\n")
    w(f"(dma: the copy as simulated in table 1, dcbm v1 {reading} the extra CPU copy; "
      f"in brackets the other reading)\n")
    for r in report["table2"]:
        model = "n/a (no cache model: sim/host/cache.py)" if r["model"] is None else \
            f"{r['model']:8.1f}"
        other = "" if r.get("other_reading") is None else \
            f"  [other reading {r['other_reading']:6.1f} {_pct(r['other_error'])}]"
        w(f"  {r['mode']:9s} {r['workload']:5s} model {model:>10s}  seed {r['seed']:7.2f} "
          f"± {r['seed_sd']:6.2f}  {_pct(r['error']):>7s}{other}\n")
    if report.get("offload_penalty"):
        w("\nOffload's extra cycles per page over the batched CPU flow (dma minus "
          "batch-cpu), which the seed measured twice:\ntable 1 (migrate_pages) and table 2 "
          "(move_pages), each ± the SD of one run's difference (the two rows' SDs combined);\n"
          "not a criterion, a measure of how far the seed's own figures agree\n")
        for r in report["offload_penalty"]:
            cells = [f"{r[f'seed_{t}']:6.0f} ± {r[f'seed_{t}_sd']:5.0f} "
                     f"{_pct(r[f'error_{t}']):>7s} ({r[f'sds_{t}']:+.1f} SD)"
                     for t in ("table1", "table2")]
            table2 = f"table 2 ({r['table2_workload']}):"
            w(f"  {r['workload']:5s} model {r['model']:6.0f} | table 1: {cells[0]} | "
              f"{table2:15s} {cells[1]}\n")
    w("\nLater posting (1 GiB, move_pages(), THP on), end-to-end GB/s (model: bytes / "
      "migrate_pages time)\n")
    for r in report["later_posting"]:
        name = "CPU" if r["copy"] == "cpu" else f"DMA dcbm {r['driver']}, 1 channel"
        w(f"  {name:24s} {r['folio_bytes'] // 1024:5d} KiB folios: model "
          f"{r['model_gbps']:6.2f}  seed {r['seed_gbps']:6.2f}  {_pct(r['error'])}  "
          f"({r['simulated_batches']} batches simulated, {r['extrapolated_batches']} "
          f"extrapolated)\n")
    w("\nLargest error per column: " + ", ".join(
        f"{k} {_pct(v)}" for k, v in report["summary"].items()) + "\n")
    parts = []
    for name, check in report["checks"].items():
        if check["ok"] is None:
            parts.append(f"{name}: not computed (limit {check['limit']:.0%})")
        else:
            parts.append(f"{name}: {check['largest_error']:.1%} "
                         f"{'<=' if check['ok'] else '>'} {check['limit']:.0%} "
                         f"{'ok' if check['ok'] else 'MISSED'}")
    w("Summary: " + "; ".join(parts) + f"; integrity {'ok' if report['integrity_ok'] else 'FAILED'}"
      f"; wall {report['wall_seconds']:.0f} s\n")


def to_json(report):
    return json.dumps(report, indent=2)
