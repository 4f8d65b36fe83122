"""The migration core: ``migrate_pages()`` over a folio list, on the one ns timeline.

What is modelled (``../shared/reference/dcbm-lineage.md`` section 1):

* a folio list (4 KiB to 2 MiB folios, any mix) split into batches of at most
  ``max_batch_pages`` base pages (``NR_MAX_BATCHED_MIGRATION``, 512); a folio
  bigger than the limit goes alone;
* per batch: **unmap** (allocate the destination on the target node, replace
  every PTE of every mapping by a migration entry: a per-folio, a per-mapping
  and a per-entry cost), **one batched TLB flush** (local flush plus IPIs to
  ``remote_cpus`` other CPUs), then **move** in one of three flows:

  - ``upstream``: folio by folio: metadata, CPU copy, restore PTEs;
  - ``batched`` (the RFC): metadata loop, one batch copy (the registered
    migrator, i.e. dcbm on the RTL, or the CPU), PTE-restore loop;
  - ``early-copy`` (v4+): the batch copy right after the TLB flush, then the
    metadata and PTE-restore loops;

* failures as in v6+: a folio whose content the offload did not copy is
  copied by the CPU (``folio_mc_copy``); one whose CPU copy fails too (a
  machine check on poisoned memory) is undone: its PTEs point at the source
  again, the destination is freed;
* the seed's measurements: t1/t4 around the call, t2/t3 around each copy (the
  per-folio copy upstream, the batch copy otherwise), summed.

Every cost comes from :class:`sim.host.costs.CostTable` (the same table the driver
is charged from). Two mechanisms beyond plain per-step costs, both fitted to
the seed's CPU rows by :mod:`sim.experiments.calibrate`:

* **cold start**: in each call, the first run of every distinct kernel routine
  (a migration-core step, or a driver operation :class:`sw_driver.port.Op`)
  costs ``cold_routine_ns`` more, its code and data being cold; the first CPU
  copy costs ``cold_copy_ns`` more. MMIO, device time and copies' data are
  not routines.
* **LLC residency of the source** (the test program wrote the pages just
  before): copying page i of N (in copy order), LRU keeps its source lines in
  the copying CPU's LLC iff the distinct lines touched since it was written,
  ``N - 1 + i`` pages (the later source pages, the earlier sources re-read,
  the earlier destinations written), fit in ``llc_bytes``. Resident sources
  copy at ``llc_copy_bw_*``; the others at ``copy_bw_*`` and, in a batched
  (back-to-back) copy, pay ``copy_writeback_ns`` per page for the write-back
  of the previous destinations.

Large workloads: batches with the same *signature* (folio sizes, LLC
residency, injected faults) repeat exactly. Each run of consecutive
equal-signature batches is simulated until two consecutive batches have the
same warm timing (all time but cold start, per category, within one engine
cycle); the rest of the run is then extrapolated from the last simulated
batch. ``full=True`` simulates every batch. One piece of platform state does
not repeat with the batches: the IOMMU's lazy flush queue, which invalidates
the IOTLB every 256 unmap calls. Batches are compared without their
invalidation waits, allowing each invalidation a bounded IOTLB refill
(``sim.platform.iommu.REFILL_READS_PER_INVALIDATION`` page-table reads); an
extrapolated run gets the CPU wait of the invalidations its unmap calls
cause instead of the template batch's, while the template's device time,
with the refills after its own invalidations, is repeated as it was.

Run-to-run variation: the simulation is deterministic; repeated runs differ by
seeded per-run factors (mean 1, relative SD ``jitter_*`` from the cost table)
applied to each category of simulated time: kernel software (core and
driver), cold start, CPU copy, and waiting for the device (latency jitter).
Only the content of simulated folios is real; the integrity check covers
every simulated folio.
"""
import asyncio
import dataclasses
import hashlib
import math
import time
from dataclasses import dataclass, field

import numpy as np

from sim.host.costs import DEFAULT_COSTS, CostTable
from sim.host.cache import DEFAULT_TOUCHER
from sim.platform.iommu import DEFAULT_MODE as IOMMU_DEFAULT_MODE
from sim.platform.memory_system import (CXL_MEMORY, DEFAULT_ENGINE_MHZ, LOCAL_DRAM, REMOTE_DRAM,
                                        zen3_two_socket)
from sim.seed import CPU_GHZ, MODES as SEED_MODES, PAGES as SEED_PAGES, TABLE1_WORKLOADS
from sw_driver.dcbm import DEFAULT_STRATEGY
from sw_driver.folio import PAGE_SIZE, Folio, is_folio_size

PAGE = PAGE_SIZE
NR_MAX_BATCHED_MIGRATION = 512
#: A folio this big is mapped by one PMD entry (a THP); smaller ones by PTEs.
PMD_BYTES = 2 << 20
MAX_FOLIO_BYTES = PMD_BYTES
#: The seed's workloads of table 1 (total bytes migrated) and its three modes.
WORKLOADS = {workload: SEED_PAGES[workload] * PAGE for workload in TABLE1_WORKLOADS}
MODES = SEED_MODES
FLOWS = ("upstream", "batched", "early-copy")
DEFAULT_FLOW = {"cpu": "upstream", "batch-cpu": "batched", "dma": "batched"}
#: Categories of simulated time (ns); the noise acts per category.
CATEGORIES = ("core", "cold", "copy", "driver", "wait")
#: Nodes: 0 the migrating CPU's, 1 the other socket, 2 the CXL tier (sim.platform.memory_system).
NODES = tuple(node.node_id for node in (LOCAL_DRAM, REMOTE_DRAM, CXL_MEMORY))
#: Simulate at most this many batches of one run of equal batches before giving up
#: proving repetition (then the run is simulated in full only with ``full``).
MAX_SIMULATED_PER_RUN = 4
#: Noisy runs behind each mean ± SD.
DEFAULT_REPEAT = 10


class MigrateError(ValueError):
    """A migration request that cannot be modelled; the message says why."""


# --------------------------------------------------------------------------------------
# The folio list and its batches
# --------------------------------------------------------------------------------------

def check_folio_size(size):
    if not (is_folio_size(size) and size <= MAX_FOLIO_BYTES):
        raise MigrateError(f"folio size {size!r}: expected a power-of-two number of 4 KiB "
                           f"pages, 4 KiB to 2 MiB")


def folio_sizes(workload_bytes=None, folio_bytes=PAGE, sizes=None):
    """The folio list: ``sizes`` as given, or ``workload_bytes / folio_bytes`` folios."""
    if sizes is not None:
        sizes = list(sizes)
        for size in sizes:
            check_folio_size(size)
        if not sizes:
            raise MigrateError("the folio list is empty")
        if workload_bytes is not None and sum(sizes) != workload_bytes:
            raise MigrateError(f"folio sizes add up to {sum(sizes)} bytes, not the workload's "
                               f"{workload_bytes}")
        return sizes
    check_folio_size(folio_bytes)
    if not isinstance(workload_bytes, int) or workload_bytes <= 0 or \
            workload_bytes % folio_bytes:
        raise MigrateError(f"workload {workload_bytes!r} bytes is not a positive multiple of "
                           f"the {folio_bytes}-byte folio")
    return [folio_bytes] * (workload_bytes // folio_bytes)


def plan_batches(sizes, max_batch_pages=NR_MAX_BATCHED_MIGRATION):
    """(start, end) folio index ranges: batches of at most max_batch_pages base pages.

    (The kernel cuts its list after the folio that reaches the limit; with folio
    sizes that divide the limit, as in every workload here, the two agree.)
    """
    if not isinstance(max_batch_pages, int) or max_batch_pages < 1:
        raise MigrateError(f"max_batch_pages={max_batch_pages!r}: expected an int >= 1")
    batches, start, pages = [], 0, 0
    for i, size in enumerate(sizes):
        n = size // PAGE
        if pages and pages + n > max_batch_pages:
            batches.append((start, i))
            start, pages = i, 0
        pages += n
    batches.append((start, len(sizes)))
    return batches


def llc_resident(sizes, llc_bytes):
    """Per folio: is its source still in the LLC when it is copied (see module doc)."""
    total = sum(sizes) // PAGE
    out, first = [], 0
    for size in sizes:
        last = first + size // PAGE - 1
        out.append((total + last) * PAGE <= llc_bytes)
        first = last + 1
    return out


@dataclass
class Plan:
    """The folio list, its batches and what makes batches alike."""
    sizes: list
    batches: list
    resident: list
    dma_fail: frozenset = frozenset()
    poison: frozenset = frozenset()

    @classmethod
    def build(cls, sizes, *, max_batch_pages, llc_bytes, dma_fail=(), poison=()):
        for name, indices in (("dma_fail", dma_fail), ("poison", poison)):
            for i in indices:
                if not (isinstance(i, int) and 0 <= i < len(sizes)):
                    raise MigrateError(f"{name} folio {i!r} is not an index into the "
                                       f"{len(sizes)} folios")
        return cls(list(sizes), plan_batches(sizes, max_batch_pages),
                   llc_resident(sizes, llc_bytes), frozenset(dma_fail), frozenset(poison))

    @property
    def pages(self):
        return sum(self.sizes) // PAGE

    def signature(self, batch):
        start, end = batch
        return (tuple(self.sizes[start:end]), tuple(self.resident[start:end]),
                tuple(i for i in range(start, end) if i in self.dma_fail),
                tuple(i for i in range(start, end) if i in self.poison))

    def runs(self):
        """Maximal runs of consecutive batches with the same signature: lists of batches."""
        runs, last = [], None
        for batch in self.batches:
            sig = self.signature(batch)
            if runs and sig == last:
                runs[-1].append(batch)
            else:
                runs.append([batch])
                last = sig
        return runs

    def simulated_bound(self, full):
        """Upper bound of the bytes of folios that get simulated (for memory sizing)."""
        total = 0
        for run in self.runs():
            for start, end in (run if full else run[:MAX_SIMULATED_PER_RUN]):
                total += sum(self.sizes[start:end])
        return total


# --------------------------------------------------------------------------------------
# Memory layout, frames and page tables
# --------------------------------------------------------------------------------------

def _align(value, alignment):
    return -(-value // alignment) * alignment


def node_layout(plan, *, from_node, to_node, base, full):
    """{node: (start, size)} of the frames each node can hand out, from ``base`` on.

    The source node's region holds the simulated sources (and fixed slots for the
    folios with injected faults), the target node's the destinations.
    """
    bound = plan.simulated_bound(full)
    slack = 2 * MAX_FOLIO_BYTES
    faulty = len(plan.dma_fail | plan.poison) * MAX_FOLIO_BYTES
    need = {from_node: bound + slack + faulty}
    need[to_node] = need.get(to_node, 0) + bound + slack
    layout, start = {}, _align(base, MAX_FOLIO_BYTES)
    for node in sorted(need):
        size = _align(need[node], MAX_FOLIO_BYTES)
        layout[node] = (start, size)
        start += size
    return layout


class NodeFrames:
    """Frames of one node: size-aligned folios from a region, freed ones reused."""

    def __init__(self, node, start, size):
        self.node, self.start, self.end = node, start, start + size
        self._top = self.end
        self._next = start
        self._free = {}

    def alloc(self, size):
        free = self._free.get(size)
        if free:
            return free.pop()
        addr = _align(self._next, size)
        if addr + size > self.end:
            raise MemoryError(f"node {self.node}: no {size}-byte frame left in "
                              f"[{self.start:#x}, {self.end:#x})")
        self._next = addr + size
        return addr

    def reserve_top(self, size, slot):
        """A fixed frame at the top of the region (slot 0, 1, ...): injected faults."""
        addr = self._top - (slot + 1) * MAX_FOLIO_BYTES
        if addr < self._next:
            raise MemoryError(f"node {self.node}: no room for reserved slot {slot}")
        self.end = min(self.end, addr)
        return addr

    def free(self, addr, size):
        self._free.setdefault(size, []).append(addr)


@dataclass
class FolioState:
    index: int
    size: int
    vaddr: int
    src: int
    digest: bytes
    dst: int = None
    status: str = "mapped"          # mapped -> unmapped -> migrated | kept


# --------------------------------------------------------------------------------------
# The CPU side common to both platforms: time categories, cold start, the copy model
# --------------------------------------------------------------------------------------

class CoreClock:
    """Mixin: migration-core time by category, cold start per call, the CPU copy.

    A platform provides ``_advance(ns, category, what)`` (let ns pass, charged to
    the category), ``node_of(addr)`` and ``memory``.
    """

    def _init_core(self, costs):
        self.costs = costs
        self.cat = dict.fromkeys(CATEGORIES, 0.0)
        self._seen = set()
        self._copied = False
        self.resident = set()            # source addresses whose lines are in the LLC
        self.poisoned = set()            # source addresses whose read machine-checks
        self.machine_checks = []
        self.batched_copy = False        # set by the core around a batch copy

    def begin_call(self):
        """A new migrate_pages() call: every routine is cold again."""
        self._seen.clear()
        self._copied = False

    async def _cold(self, name):
        if name not in self._seen:
            self._seen.add(name)
            await self._advance(self.costs.cold_routine_ns, "cold", "cold_start")

    async def routine(self, name, ns):
        """The CPU runs migration-core routine ``name`` for ns (plus cold start)."""
        await self._cold(name)
        await self._advance(ns, "core", name)

    def copy_cost_ns(self, dst, src, nbytes):
        c = self.costs
        if src in self.resident:
            return c.llc_copy_ns(nbytes, self.node_of(dst))
        ns = c.copy_ns(nbytes, self.node_of(src), self.node_of(dst))
        if self.batched_copy:
            ns += c.copy_writeback_ns * (nbytes / PAGE)
        return ns

    async def cpu_copy(self, dst, src, nbytes):
        if not self._copied:
            self._copied = True
            await self._advance(self.costs.cold_copy_ns, "cold", "cold_start")
        ns = self.copy_cost_ns(dst, src, nbytes)
        if src in self.poisoned:
            # copy_mc: the read of the poisoned line machine-checks half way on
            # average; nothing is written.
            self.machine_checks.append(src)
            ns /= 2
        else:
            self.memory.write(dst, self.memory.read(src, nbytes))
        await self._advance(ns, "copy", "cpu_copy")

    def snapshot(self):
        return dict(self.cat)


class SoftPort(CoreClock):
    """The CPU alone (no device): CPU-copy modes, no RTL needed."""

    def __init__(self, memory, *, costs, numa_nodes):
        self.memory = memory
        self._numa = tuple(numa_nodes)
        self._now = 0.0
        self._init_core(costs)

    @property
    def now_ns(self):
        return self._now

    def node_of(self, addr):
        from sim.host.port import numa_node
        return numa_node(self._numa, addr)

    async def _advance(self, ns, category, what):
        self.cat[category] += ns
        self._now += ns

    async def cpu(self, op, count=1):
        await self._cold(op.value)
        await self._advance(self.costs.op_ns(op) * count, "driver", op.value)

    def mem_read(self, addr, nbytes):
        return self.memory.read(addr, nbytes)

    def mem_write(self, addr, data):
        self.memory.write(addr, data)


def _host_port_class():
    from sim.host.port import HostPort

    class MigrationHostPort(CoreClock, HostPort):
        """HostPort (driver, RTL, one timeline) plus the migration core's clock."""

        def __init__(self, dev, *, costs, **kwargs):
            HostPort.__init__(self, dev, costs=costs, **kwargs)
            self.memory = dev.memory
            self._init_core(costs)

        async def _advance(self, ns, category, what):
            self.cat[category] += ns
            await self.spend(ns, "copy" if category == "copy" else "cpu", what)

        async def cpu(self, op, count=1):
            await self._cold(op.value)
            await HostPort.cpu(self, op, count)

        async def poll(self, condition, timeout_ns, ops=None):
            # A busy-poll loop runs its operations' code too (dma_sync_wait: tx_status
            # and cpu_relax): cold on its first turn in a call.
            from sw_driver.port import Op
            ops = (Op.POLL_ITERATION,) if ops is None else ops
            for op in ops:
                await self._cold(Op(op).value)
            return await HostPort.poll(self, condition, timeout_ns, ops)

        async def cpu_copy(self, dst, src, nbytes):
            await CoreClock.cpu_copy(self, dst, src, nbytes)

        def snapshot(self):
            snap = dict(self.cat)
            # HostPort's "cpu" holds the core and cold time too; the rest is the driver's
            # operations and MMIO. "wait": polling and sleeping on the device.
            snap["driver"] = self.time_ns["cpu"] - self.cat["core"] - self.cat["cold"]
            snap["wait"] = self.time_ns["wait"]
            return snap

    return MigrationHostPort


def _delta(after, before):
    return {k: after[k] - before[k] for k in CATEGORIES}


def _add(into, more, times=1):
    for k in CATEGORIES:
        into[k] += more[k] * times


def _zero():
    return dict.fromkeys(CATEGORIES, 0.0)


async def folio_mc_copy(port, dst, src):
    """The CPU copies one folio; False if the read machine-checked (nothing written)."""
    before = len(port.machine_checks)
    await port.cpu_copy(dst.address, src.address, src.size)
    return len(port.machine_checks) == before


# --------------------------------------------------------------------------------------
# The core
# --------------------------------------------------------------------------------------

@dataclass
class CoreConfig:
    mode: str = "cpu"
    flow: str = None
    from_node: int = 1
    to_node: int = 0
    remote_cpus: int = 0
    mappings: int = 1
    full: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.mode not in MODES:
            raise MigrateError(f"mode {self.mode!r}: expected one of {MODES}")
        self.flow = self.flow or DEFAULT_FLOW[self.mode]
        if self.flow not in FLOWS:
            raise MigrateError(f"flow {self.flow!r}: expected one of {FLOWS}")
        if self.mode == "dma" and self.flow == "upstream":
            raise MigrateError("the upstream flow copies folio by folio on the CPU: the DMA "
                               "offload needs the batched or early-copy flow")
        if self.mode == "cpu" and self.flow != "upstream":
            raise MigrateError(f"mode cpu is the upstream flow; use batch-cpu for {self.flow}")
        for name in ("from_node", "to_node"):
            if getattr(self, name) not in NODES:
                raise MigrateError(f"{name}={getattr(self, name)!r}: the model has nodes 0 "
                                   f"(the migrating CPU's), 1 (the other socket) and 2 "
                                   f"(the CXL tier)")
        if not isinstance(self.remote_cpus, int) or self.remote_cpus < 0:
            raise MigrateError(f"remote_cpus={self.remote_cpus!r}: expected an int >= 0")
        if not isinstance(self.mappings, int) or self.mappings < 1:
            raise MigrateError(f"mappings={self.mappings!r}: expected an int >= 1")


class MigrationCore:
    """migrate_pages() on a platform port (SoftPort or the HostPort subclass)."""

    def __init__(self, port, plan, config, layout, offload):
        self.port = port
        self.plan = plan
        self.cfg = config
        self.costs = port.costs
        self.offload = offload
        self.frames = {node: NodeFrames(node, start, size)
                       for node, (start, size) in layout.items()}
        self.rng = np.random.default_rng(config.seed)
        self.folios = {}             # simulated folios by index
        self.pte = {}                # (mapping, vpage) -> ("present" | "migration", frame)
        self.allocated = {}          # frame address -> size
        self._vaddr = []
        vaddr = 0
        for size in plan.sizes:
            self._vaddr.append(vaddr)
            vaddr += size
        self._reserved = {}
        for slot, index in enumerate(sorted(plan.dma_fail | plan.poison)):
            self._reserved[index] = self.frames[config.from_node].reserve_top(
                plan.sizes[index], slot)

    # --- folios coming into existence: the test program writes them ---
    def _alloc(self, node, size):
        addr = self.frames[node].alloc(size)
        self.allocated[addr] = size
        return addr

    def _free(self, node, addr):
        size = self.allocated.pop(addr)
        self.frames[node].free(addr, size)

    def _materialize(self, start, end):
        port, memory = self.port, self.port.memory
        out = []
        for i in range(start, end):
            size = self.plan.sizes[i]
            if i in self._reserved:
                src = self._reserved[i]
                self.allocated[src] = size
            else:
                src = self._alloc(self.cfg.from_node, size)
            data = memory.fill_random(src, size, self.rng)
            folio = FolioState(i, size, self._vaddr[i], src, hashlib.blake2b(data).digest())
            for m in range(self.cfg.mappings):
                for k in range(size // PAGE):
                    self.pte[(m, folio.vaddr // PAGE + k)] = ("present", src + k * PAGE)
            if self.plan.resident[i]:
                port.resident.add(src)
            if i in self.plan.poison:
                port.poisoned.add(src)
            self.folios[i] = folio
            out.append(folio)
        return out

    # --- the steps ---
    def _entries(self, folio):
        """Page-table entries per mapping: one PMD for a THP, else one PTE per page."""
        return 1 if folio.size >= PMD_BYTES else folio.size // PAGE

    def _set_ptes(self, folio, kind, frame):
        for m in range(self.cfg.mappings):
            for k in range(folio.size // PAGE):
                self.pte[(m, folio.vaddr // PAGE + k)] = (kind, frame + k * PAGE)

    async def _unmap(self, folio):
        c, m = self.costs, self.cfg.mappings
        folio.dst = self._alloc(self.cfg.to_node, folio.size)
        await self.port.routine("migrate_folio_unmap", c.unmap_folio_ns)
        await self.port.routine("try_to_migrate", m * c.unmap_mapping_ns
                                + m * self._entries(folio) * c.unmap_pte_ns)
        self._set_ptes(folio, "migration", folio.src)
        folio.status = "unmapped"

    async def _move_metadata(self, folio):
        await self.port.routine("migrate_folio_move", self.costs.move_folio_ns)

    async def _finish(self, folio, copied):
        c, m = self.costs, self.cfg.mappings
        restore = m * c.restore_mapping_ns + m * self._entries(folio) * c.restore_pte_ns
        if copied:
            await self.port.routine("remove_migration_ptes", restore)
            await self.port.routine("migrate_folio_done", c.putback_folio_ns)
            self._set_ptes(folio, "present", folio.dst)
            self._free(self.cfg.from_node, folio.src)
            self.port.resident.discard(folio.src)
            folio.status = "migrated"
        else:
            # Undo: the source is mapped again, the destination freed.
            await self.port.routine("migrate_folio_undo", restore + c.putback_folio_ns)
            self._set_ptes(folio, "present", folio.src)
            self._free(self.cfg.to_node, folio.dst)
            folio.dst = None
            folio.status = "kept"

    def _lists(self, folios):
        src = [Folio(f.src, f.size) for f in folios]
        dst = [Folio(f.dst, f.size) for f in folios]
        return dst, src

    async def _batch_copy(self, folios):
        """The batch copy: the registered migrator, then the CPU for what it left."""
        dst_list, src_list = self._lists(folios)
        if self.offload:
            from sw_driver.dcbm import migrate_folios_copy
            copied = await migrate_folios_copy(dst_list, src_list)
        else:
            copied = [False] * len(folios)
        self.port.batched_copy = True
        ok = []
        try:
            for dst, src, done in zip(dst_list, src_list, copied):
                ok.append(done or await folio_mc_copy(self.port, dst, src))
        finally:
            self.port.batched_copy = False
        return ok

    async def _batch(self, folios):
        """One batch; its time by category, and that of its copies (t2..t3)."""
        port, flow = self.port, self.cfg.flow
        before = port.snapshot()
        copy = _zero()
        for folio in folios:
            await self._unmap(folio)
        await port.routine("try_to_unmap_flush", self.costs.tlb_flush_ns(self.cfg.remote_cpus))
        if flow == "upstream":
            for folio in folios:
                await self._move_metadata(folio)
                t2 = port.snapshot()
                dst, src = self._lists([folio])
                ok = await folio_mc_copy(port, dst[0], src[0])
                _add(copy, _delta(port.snapshot(), t2))
                await self._finish(folio, ok)
        else:
            if flow == "batched":
                for folio in folios:
                    await self._move_metadata(folio)
            t2 = port.snapshot()
            oks = await self._batch_copy(folios)
            _add(copy, _delta(port.snapshot(), t2))
            if flow == "early-copy":
                for folio, ok in zip(folios, oks):
                    if ok:
                        await self._move_metadata(folio)
            for folio, ok in zip(folios, oks):
                await self._finish(folio, ok)
        return {"total": _delta(port.snapshot(), before), "copy": copy}

    def _same(self, a, b, tol_ns):
        """Whether batches a and b took the same warm time, per category. With a lazy
        IOMMU, their IOTLB invalidations (which follow the flush queue, not the
        batches) are taken out, and each may leave a bounded refill
        (REFILL_READS_PER_INVALIDATION)."""
        inv_ns, refill_ns = 0.0, 0.0
        iommu = getattr(self.port, "iommu", None)
        if iommu is not None and iommu.mode == "lazy":
            # Strict invalidations come with every unmap, the same in every batch:
            # nothing to take out.
            from sim.platform.iommu import REFILL_READS_PER_INVALIDATION
            inv_ns = self.costs.iotlb_invalidation_ns
            refill_ns = (REFILL_READS_PER_INVALIDATION * iommu.walk_read_cycles
                         * self.port.cycle_ns)
        inv_a, inv_b = a.get("invalidations", 0), b.get("invalidations", 0)
        allowed = tol_ns + refill_ns * (inv_a + inv_b)
        for part in ("total", "copy"):
            for k in CATEGORIES:
                if k == "cold":
                    continue
                x, y = a[part][k], b[part][k]
                if k == "driver":
                    x, y = x - inv_a * inv_ns, y - inv_b * inv_ns
                if abs(x - y) > allowed + 1e-9 * max(abs(x), abs(y)):
                    return False
        return True

    async def migrate_pages(self, tol_ns=1.0):
        """The call: t1 .. t4. Returns the JSON-friendly result (see run_core)."""
        port = self.port
        t1 = port.snapshot()
        port.begin_call()
        await port.routine("migrate_pages", self.costs.migrate_call_ns)
        call = _delta(port.snapshot(), t1)
        groups = []        # simulated batches, and runs of extrapolated ones ("count")
        iommu = getattr(port, "iommu", None)
        for run in self.plan.runs():
            sims, extrapolated = [], None
            for n, (start, end) in enumerate(run):
                if extrapolated is not None:
                    extrapolated["count"] += 1
                    continue
                if not self.cfg.full and len(sims) >= MAX_SIMULATED_PER_RUN:
                    raise MigrateError(
                        f"{len(sims)} batches in a row with the same signature did not "
                        f"repeat their timing; simulate all of them with full=True")
                counts = (iommu.unmap_calls, iommu.invalidations) if iommu else (0, 0)
                record = await self._batch(self._materialize(start, end))
                record.update(pages=sum(self.plan.sizes[start:end]) // PAGE,
                              folios=end - start, count=1, simulated=True)
                if iommu:
                    record["unmap_calls"] = iommu.unmap_calls - counts[0]
                    record["invalidations"] = iommu.invalidations - counts[1]
                groups.append(record)
                if sims and not self.cfg.full and n + 1 < len(run) and \
                        self._same(record, sims[-1], tol_ns):
                    # Proven repeated: the rest of the run is this batch's warm time.
                    extrapolated = {part: dict(record[part], cold=0.0)
                                    for part in ("total", "copy")}
                    extrapolated.update(pages=record["pages"], folios=record["folios"],
                                        count=0, simulated=False)
                    groups.append(extrapolated)
                sims.append(record)
            if extrapolated is not None and iommu:
                self._account_invalidations(iommu, sims[-1], extrapolated)
        integrity = self.check_integrity()
        return {
            "call": call,
            "groups": groups,
            "simulated_batches": sum(1 for g in groups if g["simulated"]),
            "extrapolated_batches": sum(g["count"] for g in groups if not g["simulated"]),
            "integrity": integrity,
        }

    def _account_invalidations(self, iommu, template, extrapolated):
        """The IOMMU's flush queue does not repeat with the batches: an extrapolated run
        has the invalidations its unmap calls would cause, not count x the template's.
        The difference is added as CPU wait in the driver's time (the unmaps are
        in the copy); the IOTLB refills stay the template's (a few walks each)."""
        count = extrapolated["count"]
        caused = iommu.account_unmap_calls(count * template["unmap_calls"])
        extra = caused - count * template["invalidations"]
        extrapolated["invalidations_added"] = extra
        if extra and count:
            ns = extra * self.costs.iotlb_invalidation_ns / count
            for part in ("total", "copy"):
                extrapolated[part]["driver"] += ns

    # --- the integrity check ---
    def check_integrity(self):
        """Every simulated folio at its destination, identical and mapped there, or intact
        and mapped at its source; nothing lost, nothing duplicated, nothing leaked."""
        errors = []
        memory = self.port.memory
        mapped_frames = {}
        for (m, vpage), (kind, frame) in self.pte.items():
            if kind != "present":
                errors.append(f"mapping {m} page {vpage:#x}: still a {kind} entry")
            mapped_frames.setdefault(frame, []).append((m, vpage))
        migrated = kept = 0
        for folio in self.folios.values():
            where = {"migrated": folio.dst, "kept": folio.src}.get(folio.status)
            if where is None:
                errors.append(f"folio {folio.index}: left {folio.status}")
                continue
            migrated += folio.status == "migrated"
            kept += folio.status == "kept"
            for m in range(self.cfg.mappings):
                for k in range(folio.size // PAGE):
                    entry = self.pte.get((m, folio.vaddr // PAGE + k))
                    if entry != ("present", where + k * PAGE):
                        errors.append(f"folio {folio.index} page {k} mapping {m}: mapped to "
                                      f"{entry}, expected {where + k * PAGE:#x}")
                        break
            if hashlib.blake2b(memory.read(where, folio.size)).digest() != folio.digest:
                errors.append(f"folio {folio.index}: content at "
                              f"{'destination' if folio.status == 'migrated' else 'source'} "
                              f"differs from what was written")
            other = folio.src if folio.status == "migrated" else folio.dst
            if other is not None and other in self.allocated:
                errors.append(f"folio {folio.index}: the "
                              f"{'source' if folio.status == 'migrated' else 'destination'} "
                              f"frame {other:#x} is still allocated (duplicated)")
        for frame, users in mapped_frames.items():
            if len(users) != self.cfg.mappings:
                errors.append(f"frame {frame:#x} mapped {len(users)} times "
                              f"(expected {self.cfg.mappings})")
        page_frames = {addr + k * PAGE for addr, size in self.allocated.items()
                       for k in range(size // PAGE)}
        leaked = page_frames - set(mapped_frames)
        if leaked:
            errors.append(f"{len(leaked)} allocated frame(s) mapped by nobody (leaked)")
        lost = len(self.folios) - migrated - kept
        return {"ok": not errors, "folios_checked": len(self.folios), "migrated": migrated,
                "kept_at_source": kept, "lost": lost, "errors": errors[:20]}


# --------------------------------------------------------------------------------------
# Running the core: on the CPU alone, or as a scenario on the RTL back-ends
# --------------------------------------------------------------------------------------

def _plan_from(spec, costs):
    sizes = folio_sizes(spec.get("workload_bytes"), spec.get("folio_bytes", PAGE),
                        spec.get("sizes"))
    return Plan.build(sizes, max_batch_pages=spec.get("max_batch_pages",
                                                      NR_MAX_BATCHED_MIGRATION),
                      llc_bytes=int(costs.llc_bytes), dma_fail=spec.get("dma_fail", ()),
                      poison=spec.get("poison", ()))


def _config_from(spec):
    return CoreConfig(mode=spec["mode"], flow=spec.get("flow"),
                      from_node=spec.get("from_node", 1), to_node=spec.get("to_node", 0),
                      remote_cpus=spec.get("remote_cpus", 0), mappings=spec.get("mappings", 1),
                      full=spec.get("full", False), seed=spec.get("seed", 0))


def run_cpu(spec, costs=DEFAULT_COSTS):
    """A CPU-copy mode (cpu, batch-cpu) on the CPU alone; the raw result."""
    from sim.platform.memory import Memory
    config = _config_from(spec)
    if config.mode == "dma":
        raise MigrateError("run_cpu runs the CPU modes; dma runs on the RTL (run_dma)")
    plan = _plan_from(spec, costs)
    layout = node_layout(plan, from_node=config.from_node, to_node=config.to_node,
                         base=0, full=config.full)
    end = max(start + size for start, size in layout.values())
    memory = Memory(0, end)
    numa = [(start, start + size, node) for node, (start, size) in layout.items()]
    port = SoftPort(memory, costs=costs, numa_nodes=numa)
    core = MigrationCore(port, plan, config, layout, offload=False)
    return asyncio.run(core.migrate_pages())


# --- the RTL scenario ---
def dma_memory_config(spec, costs=DEFAULT_COSTS, *, engine_mhz=DEFAULT_ENGINE_MHZ,
                      latency_ns=None, iommu_mode=IOMMU_DEFAULT_MODE):
    """(memory_config, layout) for the DMA scenario: node regions, NUMA latencies, the
    IOMMU's invalidation mode."""
    from sim.platform.address_map import DATA, MEM_BASE
    config = _config_from(spec)
    plan = _plan_from(spec, costs)
    layout = node_layout(plan, from_node=config.from_node, to_node=config.to_node,
                         base=DATA, full=config.full)
    end = max(start + size for start, size in layout.values())
    memory = {"base": MEM_BASE, "size": end - MEM_BASE, "iommu_mode": iommu_mode}
    if latency_ns is None:
        ranges = {node: [(start, start + size)] for node, (start, size) in layout.items()}
        memory["memory_system"] = zen3_two_socket(
            remote=ranges.get(REMOTE_DRAM.node_id, ()), cxl=ranges.get(CXL_MEMORY.node_id, ()),
            engine_mhz=engine_mhz).to_config()
    else:                          # one flat latency instead of the nodes'
        cycles = max(1, math.ceil(latency_ns * engine_mhz / 1000))
        memory.update(read_latency=cycles, write_latency=cycles)
    faulty = sorted(plan.dma_fail | plan.poison)
    if faulty:
        # The reserved source frames of the faulty folios (see MigrationCore): the
        # engine's reads there get SLVERR (poisoned or failing memory).
        frames = NodeFrames(config.from_node, *layout[config.from_node])
        regions = []
        for slot, index in enumerate(faulty):
            addr = frames.reserve_top(plan.sizes[index], slot)
            regions.append([addr, addr + plan.sizes[index], "read", "SLVERR"])
        memory["error_regions"] = regions
    return memory, {str(k): list(v) for k, v in layout.items()}


async def migrate_scenario(dev, *, spec, costs, layout, driver=DEFAULT_STRATEGY, nr_dma_chan=1,
                           engine_mhz=DEFAULT_ENGINE_MHZ, idle_skip=True,
                           v1_double_copy=True):
    """Scenario (either back-end): dcbm registered, migrate_pages() with the DMA copy."""
    from sim.platform.address_map import COHERENT, DRIVER_RING_ENTRIES
    from sw_driver.dcbm import Dcbm
    from sw_driver.foliodma import foliodma_probe, foliodma_remove
    table = CostTable(**costs)
    layout = {int(k): tuple(v) for k, v in layout.items()}
    config = _config_from(spec)
    plan = _plan_from(spec, table)
    numa = [(start, start + size, node) for node, (start, size) in layout.items()]
    port = _host_port_class()(dev, costs=table, engine_mhz=engine_mhz, idle_skip=idle_skip,
                              coherent=COHERENT,
                              numa_nodes=numa)
    dma = await foliodma_probe(port, ring_entries=DRIVER_RING_ENTRIES)
    dcbm = Dcbm(dma, strategy=driver, nr_dma_chan=nr_dma_chan, v1_double_copy=v1_double_copy)
    await dcbm.set_offloading(1)
    started = dev.cycle
    try:
        core = MigrationCore(port, plan, config, layout, offload=True)
        result = await core.migrate_pages(tol_ns=port.cycle_ns)
    finally:
        await dcbm.set_offloading(0)
    await foliodma_remove(dma)
    result.update(dma_copied_folios=dcbm.folios_migrated, dma_failed_folios=dcbm.folios_failures,
                  simulated_cycles=dev.cycle - started, skipped_cycles=dev.skipped_cycles,
                  iommu_walks=port.iommu.walks, iommu_walk_reads=port.iommu.walk_reads,
                  iotlb_invalidations=port.iommu.invalidations)
    return result


def run_dma(spec, costs=DEFAULT_COSTS, *, params=None, backend="pysim", driver=DEFAULT_STRATEGY,
            engine_mhz=DEFAULT_ENGINE_MHZ, idle_skip=True, v1_double_copy=True,
            latency_ns=None, iommu_mode=IOMMU_DEFAULT_MODE, progress=None, vcd=None):
    """The dma mode on an RTL back-end; the raw result."""
    from hw.engine import DmaEngine
    from hw.params import EngineParams
    from sim.backends import get_runner
    params = params or EngineParams()
    memory, layout = dma_memory_config(spec, costs, engine_mhz=engine_mhz, latency_ns=latency_ns,
                                       iommu_mode=iommu_mode)
    kwargs = {"spec": spec, "costs": costs.as_dict(), "layout": layout, "driver": driver,
              "nr_dma_chan": params.channels, "engine_mhz": engine_mhz,
              "idle_skip": idle_skip, "v1_double_copy": v1_double_copy}
    return get_runner(backend)(DmaEngine(params), "sim.kernel.migrate:migrate_scenario", kwargs,
                            memory_config=memory, progress=progress, vcd=vcd)


# --------------------------------------------------------------------------------------
# Measurements: totals, per-run noise, the seed's figures
# --------------------------------------------------------------------------------------

def totals(raw):
    """(migrate_pages ns by category, copy ns by category) of one call, noise-free."""
    total, copy = dict(raw["call"]), _zero()
    for group in raw["groups"]:
        _add(total, group["total"], group["count"])
        _add(copy, group["copy"], group["count"])
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
    """The seed's figures, mean and SD over ``repeat`` noisy runs."""
    total, copy = totals(raw)
    samples = {"migrate_pages": [], "folio_copy": [], "F": [], "copy_gbps": []}
    for factors in noise_factors(costs, repeat, seed):
        t = sum(total[k] * factors[k] for k in CATEGORIES)
        c = sum(copy[k] * factors[k] for k in CATEGORIES)
        samples["migrate_pages"].append(t * cpu_ghz / pages)
        samples["folio_copy"].append(c * cpu_ghz / pages)
        samples["F"].append(c / t if t else 0.0)
        samples["copy_gbps"].append(nbytes / c if c else math.inf)
    out = {}
    for name, values in samples.items():
        values = np.asarray(values)
        out[name] = float(values.mean())
        out[name + "_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    out["migrate_pages_ns"] = sum(total.values())
    out["folio_copy_ns"] = sum(copy.values())
    out["breakdown_cycles_per_page"] = {k: total[k] * cpu_ghz / pages for k in CATEGORIES}
    out["copy_breakdown_cycles_per_page"] = {k: copy[k] * cpu_ghz / pages for k in CATEGORIES}
    return out


def post_move_access(spec, mode, v1_double_copy=False, *, toucher=DEFAULT_TOUCHER,
                     dma_allocates_in_llc=None, llc_bytes=None):
    """Cycles per page of the seed's read loop over the moved pages right after the
    move (its second table), from the cache model (:mod:`sim.host.cache`): a CPU (by
    default the migrating one, ``toucher``: see sim.host.cache.TOUCHERS) reads the pages
    moved to the migrating CPU's node. The copier is the CPU (cpu, batch-cpu), the
    engine (dma), or the engine then the CPU (dma with dcbm v1's extra CPU copy).
    ``dma_allocates_in_llc`` (None: the platform's, no on Zen 3) and ``llc_bytes``
    (per CCX; None: the platform's 32 MiB) change the platform. None when the pages
    did not move to node 0 (the migrating CPU's)."""
    from sim.host.cache import DEFAULT_PLATFORM, CacheModel
    if spec.get("to_node", 0) != 0:
        return None
    copier = "cpu" if mode != "dma" else ("dma_then_cpu" if v1_double_copy else "dma")
    pages = spec["workload_bytes"] // PAGE
    platform = DEFAULT_PLATFORM if llc_bytes is None else \
        DEFAULT_PLATFORM.replace(llc_bytes_per_ccx=llc_bytes)
    return CacheModel(platform).post_move_access_cycles_per_page(
        pages, PAGE, copier=copier, toucher=toucher, dma_allocates_in_llc=dma_allocates_in_llc)


@dataclass
class MigrateRequest:
    """One row of ``foliodma migrate``."""
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
    backend: str = "pysim"
    params: object = None
    engine_mhz: float = DEFAULT_ENGINE_MHZ
    cpu_ghz: float = CPU_GHZ
    latency_ns: float = None
    v1_double_copy: bool = True
    iommu_mode: str = IOMMU_DEFAULT_MODE
    toucher: str = DEFAULT_TOUCHER
    dma_allocates_in_llc: bool = None
    llc_bytes: int = None
    idle_skip: bool = True
    vcd: object = None
    costs: CostTable = field(default=DEFAULT_COSTS)

    def spec(self):
        spec = {"mode": self.mode, "workload_bytes": self.workload_bytes,
                "folio_bytes": self.folio_bytes, "flow": self.flow,
                "from_node": self.from_node, "to_node": self.to_node,
                "max_batch_pages": self.max_batch_pages, "remote_cpus": self.remote_cpus,
                "mappings": self.mappings, "full": self.full, "dma_fail": list(self.dma_fail),
                "poison": list(self.poison), "seed": self.seed}
        if self.sizes is not None:
            spec["sizes"] = list(self.sizes)
            spec["workload_bytes"] = sum(self.sizes)
        return spec


def figure_fields(figures):
    """measure()'s figures under a row's names: mean and SD, ns totals, breakdowns."""
    row = {}
    for key, figure in (("migrate_pages_cycles_per_page", "migrate_pages"),
                        ("folio_copy_cycles_per_page", "folio_copy"), ("F", "F"),
                        ("copy_gbps", "copy_gbps")):
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
    """(request, spec, plan) of a request checked before anything runs: MigrateError
    names what is wrong. The request returned carries its LLC size in its costs."""
    for name in ("engine_mhz", "cpu_ghz"):
        value = getattr(req, name)
        if not _finite_at_least(value, 0, strictly=True):
            raise MigrateError(f"{name}={value!r}: a clock frequency must be a positive number")
    if not isinstance(req.repeat, int) or req.repeat < 1:
        raise MigrateError(f"repeat={req.repeat!r}: expected an int >= 1")
    if req.latency_ns is not None and not _finite_at_least(req.latency_ns, 0):
        raise MigrateError(f"latency_ns={req.latency_ns!r}: a memory latency must be a number "
                           f">= 0 ns")
    if req.llc_bytes is not None:
        from sim.host.cache import DEFAULT_PLATFORM, CacheModelError
        try:
            DEFAULT_PLATFORM.replace(llc_bytes_per_ccx=req.llc_bytes)
        except CacheModelError as error:
            raise MigrateError(f"LLC size {req.llc_bytes!r} bytes (llc_bytes, --llc-size): "
                               f"{error}") from None
        # One LLC for both: which copy sources are still cached, and the cache model.
        req = dataclasses.replace(req, costs=req.costs.with_overrides(llc_bytes=req.llc_bytes))
    spec = req.spec()
    _config_from(spec)
    return req, spec, _plan_from(spec, req.costs)


def run_request(req, progress=None, keep_raw=False):
    """Run one row: the raw simulation result and the measured figures, as a row dict
    (with the raw result under ``_raw`` if keep_raw)."""
    req, spec, plan = prepare_request(req)
    started = time.perf_counter()
    if req.mode == "dma":
        raw = run_dma(spec, req.costs, params=req.params, backend=req.backend, driver=req.driver,
                      engine_mhz=req.engine_mhz, idle_skip=req.idle_skip,
                      v1_double_copy=req.v1_double_copy, latency_ns=req.latency_ns,
                      iommu_mode=req.iommu_mode, progress=progress, vcd=req.vcd)
    else:
        raw = run_cpu(spec, req.costs)
    wall = time.perf_counter() - started
    figures = measure(raw, req.costs, pages=plan.pages, nbytes=sum(plan.sizes),
                      repeat=req.repeat, seed=req.seed, cpu_ghz=req.cpu_ghz)
    uniform = len(set(plan.sizes)) == 1
    row = {
        "mode": req.mode,
        "driver": req.driver if req.mode == "dma" else None,
        "flow": spec["flow"] or DEFAULT_FLOW[req.mode],
        "backend": req.backend if req.mode == "dma" else "none",
        "workload_bytes": sum(plan.sizes),
        "folio_bytes": plan.sizes[0] if uniform else None,
        "folios": len(plan.sizes),
        "pages": plan.pages,
        "batches": len(plan.batches),
        **figure_fields(figures),
        "post_move_access_cycles_per_page": post_move_access(
            spec, req.mode, req.mode == "dma" and req.driver == "v1" and req.v1_double_copy,
            toucher=req.toucher, dma_allocates_in_llc=req.dma_allocates_in_llc,
            llc_bytes=req.llc_bytes),
        "simulated_batches": raw["simulated_batches"],
        "extrapolated_batches": raw["extrapolated_batches"],
        "integrity": raw["integrity"],
        "repeat": req.repeat,
        "iommu_mode": req.iommu_mode if req.mode == "dma" else None,
        "v1_double_copy": req.v1_double_copy if req.mode == "dma" and req.driver == "v1"
        else None,
        "toucher": req.toucher,
        "dma_allocates_in_llc": req.dma_allocates_in_llc,
        "llc_bytes": int(req.costs.llc_bytes),
        "wall_seconds": wall,
    }
    for key in ("dma_copied_folios", "dma_failed_folios", "simulated_cycles", "skipped_cycles",
                "iommu_walks", "iommu_walk_reads", "iotlb_invalidations"):
        if key in raw:
            row[key] = raw[key]
    if keep_raw:
        row["_raw"] = raw
    return row
