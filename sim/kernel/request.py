"""One migrate run as a request: its settings checked, run, and its figures as a row.
"""
import dataclasses
import math
import time
from dataclasses import dataclass, field

from sim.backends import AUTO_BACKEND, BACKEND_CHOICES, chosen_backend
from sim.host.cache import DEFAULT_TOUCHER
from sim.kernel.folios import DEFAULT_REPEAT, MigrateError, NR_MAX_BATCHED_MIGRATION, PAGE
from sim.kernel.modes import DEFAULT_FLOW, ENGINE_MODES, THREAD_MODES
from sim.kernel.measure import measure, post_move_access, usable_after
from sim.kernel.mtcopy import path_gbps
from sim.kernel.scenario import core_config, plan_of, run_cpu, run_dma
from sim.machine import DEFAULT_MACHINE, Machine
from sw_driver.dcbm import DEFAULT_STRATEGY
from sw_driver.migrate_offload import MR_SYSCALL


@dataclass(frozen=True)
class MigrateRequest:
    """One row of ``foliodma migrate``: what to migrate, how, and on which machine.

    Immutable, and made of plain values and frozen dataclasses, so that it goes
    unchanged to a worker process and into the JSON output (:meth:`settings`).
    Everything about the modelled computer (clocks, engine, memory nodes, IOMMU
    mode, cache, costs) is its ``machine``. ``backend`` simulates the engine RTL of a dma
    row; ``auto`` is resolved when it runs (:func:`run_request`)."""
    mode: str
    workload_bytes: int = 2 << 20
    folio_bytes: int = PAGE
    sizes: list = None
    flow: str = None
    driver: str = DEFAULT_STRATEGY
    from_node: int = 1
    to_node: int = 0
    max_batch_pages: int = NR_MAX_BATCHED_MIGRATION
    remote_cpus: int = 0
    mappings: int = 1
    full: bool = False
    dma_fail: tuple = ()
    poison: tuple = ()
    repeat: int = DEFAULT_REPEAT
    seed: int = 0
    backend: str = AUTO_BACKEND
    latency_ns: float = None
    v1_double_copy: bool = True
    toucher: str = DEFAULT_TOUCHER
    idle_skip: bool = True
    vcd: object = None
    threads: int = 1
    reason: str = MR_SYSCALL
    machine: Machine = field(default=DEFAULT_MACHINE)

    def settings(self):
        """Every setting as plain data (the machine nested by section), for JSON."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "machine"}
        out["vcd"] = None if self.vcd is None else str(self.vcd)
        out["machine"] = self.machine.as_dict()
        return out

    def spec(self):
        spec = {"mode": self.mode, "workload_bytes": self.workload_bytes,
                "folio_bytes": self.folio_bytes, "flow": self.flow,
                "from_node": self.from_node, "to_node": self.to_node,
                "max_batch_pages": self.max_batch_pages, "remote_cpus": self.remote_cpus,
                "mappings": self.mappings, "full": self.full, "dma_fail": list(self.dma_fail),
                "poison": list(self.poison), "seed": self.seed, "threads": self.threads,
                "reason": self.reason}
        if self.sizes is not None:
            spec["sizes"] = list(self.sizes)
            spec["workload_bytes"] = sum(self.sizes)
        return spec


#: When the folios became usable again (PTEs restored), µs from the call's start,
#: noise-free: the first, the median and the last folio.
USABLE_FIELDS = ("first_folio_us", "median_folio_us", "last_folio_us")


def figure_fields(figures):
    """measure()'s figures under a row's names: mean and SD, ns totals, breakdowns."""
    row = {}
    for key, figure in (("migrate_pages_cycles_per_page", "migrate_pages"),
                        ("folio_copy_cycles_per_page", "folio_copy"), ("F", "F"),
                        ("copy_gbps", "copy_gbps"), ("migrate_gbps", "migrate_gbps"),
                        ("cpu_seconds_per_gib", "cpu_seconds_per_gib")):
        row[key] = figures[figure]
        row[key + "_sd"] = figures[figure + "_sd"]
    for key in ("migrate_pages_ns", "folio_copy_ns", "breakdown_cycles_per_page",
                "copy_breakdown_cycles_per_page"):
        row[key] = figures[key]
    return row


def _finite_at_least(value, minimum, strictly=False):
    """Whether value is a finite number >= minimum (> minimum if strictly)."""
    return (isinstance(value, (int, float)) and math.isfinite(value)
            and (value > minimum if strictly else value >= minimum))


def prepare_request(req):
    """(spec, plan) of a request checked before anything runs: MigrateError names what
    is wrong."""
    if not isinstance(req.machine, Machine):
        raise MigrateError(f"machine={req.machine!r}: expected a sim.machine.Machine")
    if req.backend not in BACKEND_CHOICES:
        raise MigrateError(f"backend={req.backend!r}: expected one of "
                           f"{', '.join(BACKEND_CHOICES)}")
    if not isinstance(req.repeat, int) or req.repeat < 1:
        raise MigrateError(f"repeat={req.repeat!r}: expected an int >= 1")
    if req.latency_ns is not None and not _finite_at_least(req.latency_ns, 0):
        raise MigrateError(f"latency_ns={req.latency_ns!r}: a memory latency must be a number "
                           f">= 0 ns")
    spec = req.spec()
    core_config(spec)
    return spec, plan_of(spec, req.machine.costs)


def run_request(req, progress=None, keep_raw=False):
    """Run one row: the raw simulation result and the measured figures, as a row dict
    (with the raw result under ``_raw`` if keep_raw); a dma row names the back-end it
    ran on (``auto`` resolved, see :func:`sim.backends.chosen_backend`)."""
    spec, plan = prepare_request(req)
    machine = req.machine
    backend = chosen_backend(req.backend, machine.engine) if req.mode in ENGINE_MODES \
        else "none"
    started = time.perf_counter()
    if req.mode in ENGINE_MODES:
        raw = run_dma(spec, machine, backend=backend, driver=req.driver,
                      idle_skip=req.idle_skip, v1_double_copy=req.v1_double_copy,
                      latency_ns=req.latency_ns, progress=progress, vcd=req.vcd)
    else:
        raw = run_cpu(spec, machine.costs,
                      path_gbps(machine, req.from_node, req.to_node))
    wall = time.perf_counter() - started
    figures = measure(raw, machine.costs, pages=plan.pages, nbytes=sum(plan.sizes),
                      repeat=req.repeat, seed=req.seed, cpu_ghz=machine.cpu_ghz)
    uniform = len(set(plan.sizes)) == 1
    row = {
        "mode": req.mode,
        "driver": req.driver if req.mode in ENGINE_MODES else None,
        "flow": spec["flow"] or DEFAULT_FLOW[req.mode],
        "threads": req.threads if req.mode in THREAD_MODES else None,
        "backend": backend,
        "workload_bytes": sum(plan.sizes),
        "folio_bytes": plan.sizes[0] if uniform else None,
        "folios": len(plan.sizes),
        "pages": plan.pages,
        "batches": len(plan.batches),
        **figure_fields(figures),
        "post_move_access_cycles_per_page": post_move_access(
            spec, req.mode, req.mode == "dma" and req.driver == "v1" and req.v1_double_copy,
            toucher=req.toucher, cache=machine.cache),
        "simulated_batches": raw["simulated_batches"],
        "extrapolated_batches": raw["extrapolated_batches"],
        "integrity": raw["integrity"],
        **dict(zip(USABLE_FIELDS, (ns / 1e3 for ns in usable_after(raw)))),
        "repeat": req.repeat,
        "iommu_mode": machine.iommu.mode if req.mode in ENGINE_MODES else None,
        "v1_double_copy": req.v1_double_copy if req.mode == "dma" and req.driver == "v1"
        else None,
        "toucher": req.toucher,
        "dma_allocates_in_llc": machine.cache.dma_allocates_in_llc,
        "llc_bytes": int(machine.cache.llc_bytes_per_ccx),
        "wall_seconds": wall,
    }
    for key in ("dma_copied_folios", "dma_failed_folios", "simulated_cycles", "skipped_cycles",
                "iommu_walks", "iommu_walk_reads", "iotlb_invalidations", "restarts",
                "restart_gap_ns"):
        if key in raw:
            row[key] = raw[key]
    if keep_raw:
        row["_raw"] = raw
    return row
