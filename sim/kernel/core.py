"""``migrate_pages()``: unmap, the batched TLB flush and move per batch, in the
upstream, batched or early-copy flow; CPU fallback and undo per folio; the
extrapolation of repeated batches (see :mod:`sim.kernel`).
"""
import hashlib
from dataclasses import dataclass

import numpy as np

from sim.kernel.clock import add_times, time_delta, zero_times
from sim.kernel.folios import MAX_SIMULATED_PER_RUN, MigrateError, PAGE, PMD_BYTES
from sim.kernel.modes import (CATEGORIES, COPY_MODES, DEFAULT_FLOW, ENGINE_MODES, FLOWS,
                              NODES, THREAD_MODES)
from sim.kernel.mtcopy import MAX_THREADS, MtCopy, hybrid_split
from sim.kernel.frames import FolioState, NodeFrames
from sw_driver.folio import Folio
# The port's CPU copy is copy_mc: it reports a machine check, as Linux's folio_mc_copy.
from sw_driver.folios_copy import folio_copy as folio_mc_copy
from sw_driver.migrate_offload import MIGRATE_REASONS, MR_SYSCALL, migrate_folios_content


async def batched_mc_copy(port, dst, src):
    """folio_mc_copy inside a batch copy (priced with the write-back of the batch's
    earlier destinations, :meth:`sim.kernel.clock.CoreClock.copy_cost_ns`)."""
    port.batched_copy = True
    try:
        return await folio_mc_copy(port, dst, src)
    finally:
        port.batched_copy = False


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
    threads: int = 1
    reason: str = MR_SYSCALL
    path_gbps: float = None
    dma_channels: int = 1

    def __post_init__(self):
        if self.mode not in COPY_MODES:
            raise MigrateError(f"mode {self.mode!r}: expected one of {COPY_MODES}")
        self.flow = self.flow or DEFAULT_FLOW[self.mode]
        if self.flow not in FLOWS:
            raise MigrateError(f"flow {self.flow!r}: expected one of {FLOWS}")
        if self.mode in ENGINE_MODES + THREAD_MODES and self.flow == "upstream":
            raise MigrateError(f"the upstream flow copies folio by folio on the CPU: {self.mode} "
                               f"needs the batched or early-copy flow")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) \
                or not 1 <= self.threads <= MAX_THREADS:
            raise MigrateError(f"threads={self.threads!r}: expected an int in 1..{MAX_THREADS}")
        if self.threads != 1 and self.mode not in THREAD_MODES:
            raise MigrateError(f"threads={self.threads}: only the {' and '.join(THREAD_MODES)} "
                               f"copies have worker threads, not {self.mode}")
        if self.reason not in MIGRATE_REASONS:
            raise MigrateError(f"reason {self.reason!r}: expected one of "
                               f"{', '.join(MIGRATE_REASONS)}")
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

    def __init__(self, port, plan, config, layout):
        self.port = port
        self.plan = plan
        self.cfg = config
        self.costs = port.costs
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
        self._usable = []           # per folio of the batch: ns from its start to usable
        self._batch_start = 0.0
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
        # The test program writes the batch's folios: random bytes, drawn at once.
        content = self.rng.integers(0, 256, size=sum(self.plan.sizes[start:end]),
                                    dtype=np.uint8)
        at = 0
        for i in range(start, end):
            size = self.plan.sizes[i]
            if i in self._reserved:
                src = self._reserved[i]
                self.allocated[src] = size
            else:
                src = self._alloc(self.cfg.from_node, size)
            data, at = content[at:at + size], at + size
            memory.write(src, data)
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

    def _elapsed_ns(self):
        """Time so far of the port, all categories (noise-free)."""
        snapshot = self.port.snapshot()
        return sum(snapshot[k] for k in CATEGORIES)

    async def _finish(self, folio, copied):
        """The folio mapped again, at its destination (copied) or its source (undone):
        from then on the process can use it."""
        c, m = self.costs, self.cfg.mappings
        restore = m * c.restore_mapping_ns + m * self._entries(folio) * c.restore_pte_ns
        if copied:
            await self.port.routine("remove_migration_ptes", restore)
            self._usable.append(self._elapsed_ns() - self._batch_start)
            await self.port.routine("migrate_folio_done", c.putback_folio_ns)
            self._set_ptes(folio, "present", folio.dst)
            self._free(self.cfg.from_node, folio.src)
            self.port.resident.discard(folio.src)
            folio.status = "migrated"
        else:
            # Undo: the source is mapped again, the destination freed.
            await self.port.routine("migrate_folio_undo", restore + c.putback_folio_ns)
            self._usable.append(self._elapsed_ns() - self._batch_start)
            self._set_ptes(folio, "present", folio.src)
            self._free(self.cfg.to_node, folio.dst)
            folio.dst = None
            folio.status = "kept"

    def _lists(self, folios):
        src = [Folio(f.src, f.size) for f in folios]
        dst = [Folio(f.dst, f.size) for f in folios]
        return dst, src

    async def _batch_copy(self, folios):
        """The batch copy: the registered migrator, then the CPU for what it left
        (:func:`sw_driver.migrate_offload.migrate_folios_content`, its CPU copies priced
        as a batched copy); or, mt-cpu, the copy on kernel worker threads; or,
        dma+mt-cpu, the workers' share queued first, then the migrator's, then the
        wait for the workers (:func:`sim.kernel.mtcopy.hybrid_split`)."""
        dst_list, src_list = self._lists(folios)
        mode, threads = self.cfg.mode, self.cfg.threads
        if mode == "mt-cpu":
            self.port.batched_copy = True
            try:
                return await self.port.mt_copy(list(zip(dst_list, src_list)),
                                               MtCopy(threads, self.cfg.path_gbps))
            finally:
                self.port.batched_copy = False
        offload = hybrid_split(len(folios), self.cfg.dma_channels, threads) \
            if mode == "dma+mt-cpu" else len(folios)
        workers, by_workers = None, []
        if offload < len(folios):
            workers, by_workers = await self.port.start_mt_copy(
                list(zip(dst_list[offload:], src_list[offload:])), MtCopy(threads))
        offloaded = (await migrate_folios_content(self.port, dst_list[:offload],
                                                  src_list[:offload],
                                                  fallback=batched_mc_copy,
                                                  reason=self.cfg.reason)).copied \
            if offload else []
        if workers is not None:
            await self.port.join_mt_copy(workers)
        return offloaded + by_workers

    async def _batch(self, folios):
        """One batch; its time by category, that of its copies (t2..t3), and when each
        folio became usable again (ns from the batch's start, ``usable_ns``)."""
        port, flow = self.port, self.cfg.flow
        before = port.snapshot()
        self._usable, self._batch_start = [], self._elapsed_ns()
        copy = zero_times()
        for folio in folios:
            await self._unmap(folio)
        await port.routine("try_to_unmap_flush", self.costs.tlb_flush_ns(self.cfg.remote_cpus))
        if flow == "upstream":
            for folio in folios:
                await self._move_metadata(folio)
                t2 = port.snapshot()
                dst, src = self._lists([folio])
                ok = await folio_mc_copy(port, dst[0], src[0])
                add_times(copy, time_delta(port.snapshot(), t2))
                await self._finish(folio, ok)
        else:
            if flow == "batched":
                for folio in folios:
                    await self._move_metadata(folio)
            t2 = port.snapshot()
            oks = await self._batch_copy(folios)
            add_times(copy, time_delta(port.snapshot(), t2))
            if flow == "early-copy":
                for folio, ok in zip(folios, oks):
                    if ok:
                        await self._move_metadata(folio)
            for folio, ok in zip(folios, oks):
                await self._finish(folio, ok)
        return {"total": time_delta(port.snapshot(), before), "copy": copy,
                "usable_ns": self._usable}

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
            from sim.memsys.iommu import REFILL_READS_PER_INVALIDATION
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
        call = time_delta(port.snapshot(), t1)
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
                                        count=0, simulated=False,
                                        usable_ns=record["usable_ns"])
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
        migrated = kept = bytes_lost = 0
        for folio in self.folios.values():
            where = {"migrated": folio.dst, "kept": folio.src}.get(folio.status)
            if where is None:
                errors.append(f"folio {folio.index}: left {folio.status}")
                bytes_lost += folio.size
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
                bytes_lost += folio.size
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
                "kept_at_source": kept, "lost": lost, "bytes_lost": bytes_lost,
                "errors": errors[:20]}
