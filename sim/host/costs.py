"""The one documented table of host (CPU-side) costs, in nanoseconds.

Every CPU cost the platform charges comes from here: the kernel operations the
driver names (:class:`sw_driver.port.Op`), MMIO register reads and writes,
interrupt delivery, CPU copies between NUMA nodes, and the migration core's
steps (``sim/kernel/``: unmap, TLB shootdown, move, cold start, the LLC
and its run-to-run noise). Each default carries its
source in the field's metadata (``source``) and whether it is a public
measurement, derived from the seed's measured tables, or an estimate
(``kind``). ``docs/costs.md`` presents the table with the reasoning and
arithmetic behind each value; a test keeps the two in step.

Rules the defaults follow (see docs/costs.md):

* each value is justified on its own (public measurement, datasheet, or a
  first-principles estimate with the arithmetic shown);
* only the CPU copy bandwidth and the migration core's constants are derived
  from the seed, from its CPU rows only (``folio_copy``, access costs; the
  migration core's by ``sim/experiments/calibrate.py``, which prints the fit); nothing is
  fitted to the seed's DMA rows, whose reproduction is an *outcome* of the
  model, not an input.

Units: nanoseconds, and bytes per nanosecond (= GB/s) for copy bandwidth; the
LLC size in bytes and the noise as a ratio (relative SD). The
model's CPU clock (2 GHz by default) is a parameter elsewhere; the seed's
cycle counts are converted at the seed machine's measured 2 GHz.

Node numbering for copies: node 0 is the copying CPU's own (local) node, node 1
the other socket (remote), node 2 the optional CXL tier. The seed's promotions
copy node 1 -> node 0.
"""
import dataclasses
import math
from dataclasses import dataclass, field

from sim.host.seed_derived import (COLD_COPY_NS, COLD_ROUTINE_NS, COPY_1_0_CYCLES,
                                   COPY_WRITEBACK_CYCLES, CORE_STEP_ESTIMATES_NS,
                                   CORE_STEP_SCALE,
                                   JITTER_COLD, JITTER_COPY, JITTER_CORE, LLC_BYTES,
                                   LLC_COPY_CYCLES, READ_CXL_CYCLES, READ_LOCAL_CYCLES,
                                   READ_REMOTE_CYCLES, SEED_GHZ, WRITE_CXL_CYCLES,
                                   WRITE_LOCAL_CYCLES, WRITE_REMOTE_CYCLES, copy_bw, core_step_ns)
from sim.memsys.iommu import FLUSH_QUEUE_ENTRIES, PAGE_BYTES
from sw_driver.port import Op

class CostError(ValueError):
    """A cost table was asked for something it does not hold, or given a bad value."""


def _cost(value, kind, source, unit="ns", per=None):
    return field(default=value, metadata={"unit": unit, "kind": kind, "source": source,
                                          "per": per})


def _core_step(name, what, per):
    """A migration-core step's cost: its estimate (seed_derived.CORE_STEP_ESTIMATES_NS)
    times the one fitted scale, the source saying both and what the step does."""
    return _cost(core_step_ns(name), SEED,
                 f"Estimate {CORE_STEP_ESTIMATES_NS[name]:g} ns x fitted scale "
                 f"{CORE_STEP_SCALE} (sim/experiments/calibrate.py): {what}", per=per)


#: What a migration-core step is paid for (the ``per`` of its field): once per folio,
#: per mapping (VMA) of the folio, or per page-table entry of each mapping: one PTE per
#: 4 KiB page of a PTE-mapped folio (4 KiB pages, mTHP), one PMD for a 2 MiB THP.
PER_FOLIO, PER_MAPPING, PER_ENTRY = "folio", "mapping", "entry"


MEASURED = "measured"          # a public measurement, cited
SEED = "seed-derived"          # derived from the seed's measured tables (not the DMA rows)
ESTIMATE = "estimate"          # first-principles estimate; arithmetic in docs/costs.md
KINDS = (MEASURED, SEED, ESTIMATE)


@dataclass(frozen=True)
class CostTable:
    """Host-side costs in ns (bandwidths in bytes/ns). Immutable; see with_overrides()."""

    # ---- IOMMU-backed streaming DMA mappings (dma-iommu) ---------------------
    dma_map_page_ns: float = _cost(
        440.0, ESTIMATE,
        "Estimate: IOVA alloc from per-CPU rcache ~60 + dma-iommu/iommu call chain ~150 = "
        "~220 warm, the IO page-table entries being iommu_map_page_ns each; public "
        "dma_map_benchmark runs on SMMUv3 servers report 1.0-1.1 us per 4 KiB page with "
        "8-16 threads contending (LKML: Barry Song 2020-11-02, Qinxin Xia 2025-05-09); "
        "single-threaded value between: a 4 KiB page 440 + 60 = 500")
    dma_unmap_page_ns: float = _cost(
        165.0, ESTIMATE,
        "Estimate, software part: IOVA free (or flush-queue entry) + call chain ~165, the "
        "IO page-table entries being iommu_unmap_page_ns each (a 4 KiB page 165 + 35 = 200); "
        "the IOTLB invalidation wait is iotlb_invalidation_ns, charged by the IOMMU "
        f"mode (strict: every unmap; lazy: every {FLUSH_QUEUE_ENTRIES}th)")
    iommu_map_page_ns: float = _cost(
        60.0, ESTIMATE,
        "Estimate: per IOMMU page of a mapping (iommu_map splits it into the largest page "
        "sizes its alignment allows), the IOMMU driver's page-table walk to the entry "
        "(cache-hot, AMD io_pgtable v1 alloc_pte walks from the root for every page) and "
        "the PTE write under the domain lock, ~50-60")
    iommu_unmap_page_ns: float = _cost(
        35.0, ESTIMATE,
        "Estimate: per IOMMU page unmapped, the walk to its entry (fetch_pte) and the "
        "PTE clear, ~20-30, plus the loop ~5-10")
    iotlb_invalidation_ns: float = _cost(
        800.0, ESTIMATE,
        "Estimate: one IOTLB invalidation with completion wait: INVALIDATE_IOMMU_PAGES + "
        "COMPLETION_WAIT queued ~20, tail MMIO write ~100, IOMMU command fetch ~200-300, "
        "invalidation ~100, semaphore write ~200, the polling CPU sees it ~100; strict "
        "unmap total ~1 us, cf. 1.3 us measured on SMMUv3 with 8 threads (LKML, Qinxin "
        "Xia, 'dma-mapping: benchmark: Add support for dma_map_sg', 2025-05-09)")
    dma_map_sgtable_ns: float = _cost(
        400.0, ESTIMATE,
        "Estimate: per dma_map_sgtable call, one IOVA allocation for the whole list + call "
        "chain + iotlb_sync_map; chosen so a 1-entry table of a 4 KiB page costs the same "
        "as dma_map_page (400 + 40 + 60 = 500)")
    dma_map_sg_entry_ns: float = _cost(
        40.0, ESTIMATE,
        "Estimate: per entry, dma-iommu's two passes over the scatterlist (length/alignment "
        "pass, __finalise_sg) ~2x10-20; its IO page-table entries are iommu_map_page_ns "
        "each")
    dma_unmap_sgtable_ns: float = _cost(
        150.0, ESTIMATE,
        "Estimate: per call, IOVA free + call chain (the one ranged invalidation is "
        "iotlb_invalidation_ns); a 1-entry table of a 4 KiB page = dma_unmap_page "
        "(150 + 15 + 35 = 200)")
    dma_unmap_sg_entry_ns: float = _cost(
        15.0, ESTIMATE,
        "Estimate: per entry, walking the scatterlist to find the range end ~10-20; its IO "
        "page-table entries are iommu_unmap_page_ns each")
    sg_alloc_entry_ns: float = _cost(
        10.0, ESTIMATE,
        "Estimate: sg_alloc_table chunk (128 entries per 4 KiB kmalloc, ~150 ns) amortized "
        "~1-2 + zeroing/sg_set_page of a 32 B entry ~5 + list walk ~3")

    # ---- dmaengine client/provider software (no MMIO; that is charged apart) --
    chan_request_ns: float = _cost(
        2000.0, ESTIMATE,
        "Estimate: dma_request_chan: dma_list_mutex, device/channel scan with capability "
        "checks, module/kref gets, device_alloc_chan_resources (small kzalloc), and "
        "dma_channel_rebalance() over the per-CPU channel table (~64 CPUs x ~10 ns); "
        "uncertain by ~2x, paid once per batch at most")
    chan_release_ns: float = _cost(
        1000.0, ESTIMATE,
        "Estimate: dma_release_channel: mutex, dma_chan_put, device_free_chan_resources "
        "(free descriptor cache), module_put; about half of a request")
    prep_memcpy_ns: float = _cost(
        100.0, ESTIMATE,
        "Estimate: indirect call ~10 + descriptor kzalloc (SLUB fast path alloc+free 42 "
        "cycles on i7-4790K, J. Brouer, linux-mm 2015-06-17 '[PATCH V2 0/6] slub: bulk "
        "alloc and free') ~25 + field fill ~10 + vchan_tx_prep (lock irqsave, list_add, "
        "unlock) ~30 + returns ~25")
    desc_store_ns: float = _cost(
        30.0, ESTIMATE,
        "Estimate: four 8 B stores of a 32 B descriptor ~5 + half of a ~100 ns "
        "read-for-ownership on a ring line last read by the device (2 descriptors/line), "
        "partly hidden by the store buffer")
    tx_submit_ns: float = _cost(
        40.0, ESTIMATE,
        "Estimate: tx->tx_submit indirect call ~10 + spin_lock_irqsave/unlock ~20 + "
        "dma_cookie_assign and list_move_tail ~10")
    issue_pending_ns: float = _cost(
        60.0, ESTIMATE,
        "Estimate: device_issue_pending indirect call ~10 + lock/unlock ~20 + "
        "vchan_issue_pending list splice + computing the new ring tail ~30; doorbell "
        "MMIO write charged separately (mmio_write_ns)")
    tx_status_ns: float = _cost(
        30.0, ESTIMATE,
        "Estimate: dma_async_is_tx_complete -> device_tx_status indirect call ~10 + "
        "dma_cookie_status compares + reading a cache-hot completion record ~20; the one "
        "coherence miss (~100) when the device has just written the record is not added")
    poll_iteration_ns: float = _cost(
        20.0, ESTIMATE,
        "Estimate: one dma_sync_wait loop turn besides tx_status: cpu_relax (PAUSE; "
        "tens of cycles on AMD Zen, undocumented; Intel documents up to 140 cycles on "
        "Skylake) + jiffies timeout compare ~ 40 cycles at 2 GHz")
    terminate_sync_ns: float = _cost(
        150.0, ESTIMATE,
        "Estimate: device_terminate_all (lock, vchan_get_all_descriptors over 5 lists, "
        "unlock, free empty list) ~70 + device_synchronize (tasklet_kill of an idle "
        "tasklet, lock, free terminated list) ~50 + 2 indirect calls ~20; any abort/"
        "status MMIO is charged separately")
    irq_handler_ns: float = _cost(
        500.0, ESTIMATE,
        "Estimate: ~1000 cycles at 2 GHz: IDT vectoring + pipeline drain ~200, entry/exit "
        "code and register save/restore ~200, generic IRQ layer (irq_desc lookup, flow "
        "handler, lock, x2APIC EOI MSR write) ~400, IRET ~200; driver's MMIO excluded")
    callback_ns: float = _cost(
        150.0, ESTIMATE,
        "Estimate: tasklet dispatch on IRQ exit (softirq entry, tasklet_action) ~100 + "
        "vchan_complete list/lock work ~30 + invoking a callback that counts completions "
        "(indirect call + atomic) ~20")
    wakeup_ns: float = _cost(
        1500.0, MEASURED,
        "Half of one 'perf bench sched pipe' op (two wake-ups + two context switches + "
        "four pipe syscalls) = 2.79 us / 2 = 1.4 us on one CPU (Ingo Molnar, LKML "
        "2025-05-31, 'Re: [RFC v2 00/35] optimize cost of inter-process communication'), "
        "rounded up for a cross-CPU wake-up IPI")
    folio_metadata_ns: float = _cost(
        30.0, ESTIMATE,
        "Estimate: per folio in the driver loop: two list_next loads on src/dst lists "
        "(struct folio lines, L2/L3 hits ~10 each) + folio_page/folio_size checks ~10")

    # ---- MMIO and interrupts ---------------------------------------------------
    mmio_read_ns: float = _cost(
        800.0, ESTIMATE,
        "Estimate within the commonly measured 0.5-1 us for device register reads "
        "(non-posted UC load: core -> fabric -> root complex -> link -> device and back, "
        "each way ~60 fabric + ~150 PCIe, plus device and UC serialization); PCIe FPGA "
        "endpoints are reported at 2-5.5 us (Intel community 'How to improve PCIe PIO "
        "Read Performance'; Stack Overflow 'MMIO read/write latency' 17770823)")
    mmio_write_ns: float = _cost(
        100.0, ESTIMATE,
        "Posted UC store as the CPU sees it; consecutive writeq() TLPs observed 50-300 ns "
        "apart on x86 (Intel community 'Why do MemReq TLPs take 100s nanoseconds to be "
        "generated after MMIO writes?'); a lone doorbell also drains prior stores")
    irq_delivery_ns: float = _cost(
        1000.0, ESTIMATE,
        "Estimate, device asserts -> first kernel entry instruction: MSI posted write to "
        "root complex ~300 + IOMMU interrupt remapping (cached IRTE) ~50 + delivery to the "
        "core's APIC ~100 + interrupt acceptance ~50 = ~500 on a running core; doubled for "
        "a core in a shallow idle state (C1 exit ~1 us); deep C-states add tens of us")

    # ---- CPU copy bandwidth by (source node, destination node), bytes per ns ---
    copy_bw_1_0: float = _cost(
        copy_bw(COPY_1_0_CYCLES), SEED,
        "Seed table 1, Generic Kernel folio_copy 1->0, mean of 256MB (815.40) and 1GB "
        "(804.68) rows = 810.04 cycles/page = 405.02 ns at 2 GHz -> 4096/405.02 = 10.11 GB/s",
        unit="bytes/ns")
    copy_bw_0_0: float = _cost(
        copy_bw(READ_LOCAL_CYCLES + WRITE_LOCAL_CYCLES), SEED,
        "Read-local + write-local: 384.24 (seed table 2, 1GB post_move_access) + 182.19 "
        "(810.04 - 627.85) = 566.43 cycles/page -> 14.46 GB/s",
        unit="bytes/ns")
    copy_bw_0_1: float = _cost(
        copy_bw(READ_LOCAL_CYCLES + WRITE_REMOTE_CYCLES), SEED,
        "Read-local + write-remote: 384.24 + 297.70 (write-local x remote/local read "
        "ratio 627.85/384.24) = 681.94 cycles/page -> 12.01 GB/s",
        unit="bytes/ns")
    copy_bw_1_1: float = _cost(
        copy_bw(READ_REMOTE_CYCLES + WRITE_REMOTE_CYCLES), SEED,
        "Read-remote + write-remote: 627.85 (seed table 2, 1GB uncached_access) + 297.70 "
        "= 925.55 cycles/page -> 8.85 GB/s",
        unit="bytes/ns")
    copy_bw_2_0: float = _cost(
        copy_bw(READ_CXL_CYCLES + WRITE_LOCAL_CYCLES), ESTIMATE,
        "Read-CXL + write-local: 871.46 (read stream linear in latency through the seed's "
        "384.24 at 100 ns and 627.85 at 200 ns, CXL at 300 ns) + 182.19 = 1053.65 "
        "cycles/page -> 7.78 GB/s (promotion from the CXL tier)",
        unit="bytes/ns")
    copy_bw_0_2: float = _cost(
        copy_bw(READ_LOCAL_CYCLES + WRITE_CXL_CYCLES), ESTIMATE,
        "Read-local + write-CXL: 384.24 + 413.21 (write-local x CXL/local read ratio) = "
        "797.45 cycles/page -> 10.27 GB/s (demotion to the CXL tier)",
        unit="bytes/ns")
    copy_bw_2_1: float = _cost(
        copy_bw(READ_CXL_CYCLES + WRITE_REMOTE_CYCLES), ESTIMATE,
        "Read-CXL + write-remote: 871.46 + 297.70 = 1169.16 cycles/page -> 7.01 GB/s",
        unit="bytes/ns")
    copy_bw_1_2: float = _cost(
        copy_bw(READ_REMOTE_CYCLES + WRITE_CXL_CYCLES), ESTIMATE,
        "Read-remote + write-CXL: 627.85 + 413.21 = 1041.06 cycles/page -> 7.87 GB/s",
        unit="bytes/ns")
    copy_bw_2_2: float = _cost(
        copy_bw(READ_CXL_CYCLES + WRITE_CXL_CYCLES), ESTIMATE,
        "Read-CXL + write-CXL: 871.46 + 413.21 = 1284.67 cycles/page -> 6.38 GB/s",
        unit="bytes/ns")

    # ---- CPU copy with the source still in the copying CPU's LLC ----------------
    llc_copy_bw_0: float = _cost(
        copy_bw(LLC_COPY_CYCLES), SEED,
        "Fitted (sim/experiments/calibrate.py) to seed table 1's 2MB rows, folio_copy, Generic Kernel "
        f"493.84 and Offload disabled 533.34 cycles/page: {LLC_COPY_CYCLES} cycles/page with "
        "the source lines still in the LLC after the test program wrote them, to node 0",
        unit="bytes/ns")
    llc_copy_bw_1: float = _cost(
        copy_bw(LLC_COPY_CYCLES - WRITE_LOCAL_CYCLES + WRITE_REMOTE_CYCLES), SEED,
        f"LLC read ({LLC_COPY_CYCLES} - 182.19 write-local) + write-remote 297.70 = "
        f"{LLC_COPY_CYCLES - WRITE_LOCAL_CYCLES + WRITE_REMOTE_CYCLES:.2f} cycles/page, to "
        "node 1",
        unit="bytes/ns")
    llc_copy_bw_2: float = _cost(
        copy_bw(LLC_COPY_CYCLES - WRITE_LOCAL_CYCLES + WRITE_CXL_CYCLES), ESTIMATE,
        f"LLC read ({LLC_COPY_CYCLES} - 182.19 write-local) + write-CXL 413.21 = "
        f"{LLC_COPY_CYCLES - WRITE_LOCAL_CYCLES + WRITE_CXL_CYCLES:.2f} cycles/page, to "
        "node 2 (the CXL tier)",
        unit="bytes/ns")
    llc_bytes: float = _cost(
        float(LLC_BYTES), MEASURED,
        "AMD EPYC 7003 (Zen 3 Milan): 32 MiB L3 per CCD, shared by the CCD's 8 cores "
        "(AMD EPYC 7003 series product brief; Zen 3 PPR): the copying CPU's last-level cache",
        unit="bytes")
    copy_writeback_ns: float = _cost(
        round(COPY_WRITEBACK_CYCLES / SEED_GHZ, 2), SEED,
        "Fitted (sim/experiments/calibrate.py): per 4 KiB page of a batched (back-to-back) CPU copy whose "
        "footprint exceeds the LLC, the dirty destination lines of the previous copies are "
        "written back while it runs; seed Offload disabled minus Generic Kernel folio_copy, "
        f"256MB and 1GB rows: {COPY_WRITEBACK_CYCLES} cycles/page")

    # ---- Migration core: per call, per batch (TLB shootdown) ------------------------
    migrate_call_ns: float = _cost(
        200.0, ESTIMATE,
        "Estimate: migrate_pages() entry/exit without its folios: list splits into batches, "
        "retry-pass bookkeeping, stats and trace points, ~400 cycles")
    cold_routine_ns: float = _cost(
        COLD_ROUTINE_NS, SEED,
        "Fitted (sim/experiments/calibrate.py) to seed table 1's 4KB rows (one page per call) against the "
        "512+ page rows: the first run in a call of each distinct kernel routine misses its "
        f"code and data in the caches; {COLD_ROUTINE_NS} ns per routine")
    cold_copy_ns: float = _cost(
        COLD_COPY_NS, SEED,
        "Fitted (sim/experiments/calibrate.py): the first CPU copy of a call (copy routine, struct page "
        "and direct-map lines cold); seed 4KB folio_copy (794, 799.60) against the 2MB rows' "
        f"LLC-resident copy: {COLD_COPY_NS} ns")
    tlb_flush_local_ns: float = _cost(
        300.0, ESTIMATE,
        "Estimate: try_to_unmap_flush() on the local CPU: arch_tlbbatch_flush -> full flush "
        "of the non-global TLB entries (INVPCID/CR3 write ~100-200 cycles) + flush_tlb_info "
        "setup, cpumask walk and the refill misses of the entries it dropped, ~600 cycles")
    tlb_ipi_ns: float = _cost(
        2000.0, ESTIMATE,
        "Estimate: a shootdown with at least one remote CPU: smp_call_function_many_cond "
        "sends the IPIs (x2APIC ICR writes) and waits for every ack; the first remote CPU "
        "costs interrupt delivery ~0.5-1 us (see irq_delivery_ns) + its entry, flush and "
        "exit ~0.5 us + the ack's cache-line transfer back (cross-socket ~0.2 us)")
    tlb_ipi_cpu_ns: float = _cost(
        150.0, ESTIMATE,
        "Estimate: each further remote CPU: one more ICR write and csd setup ~50 ns + its ack "
        "line ~100 ns; the remote flushes themselves run in parallel")

    mt_queue_work_ns: float = _cost(
        500.0, ESTIMATE,
        "Estimate: the mt-cpu copy's dispatch, per worker thread, on the migrating CPU: "
        "queue_work_on() (pool lock, insert the work item, unlock) ~100 + waking the idle "
        "kworker on another CPU: try_to_wake_up bookkeeping ~300 + the IPI's x2APIC ICR "
        "write ~100 = ~500; the worker's own wake-up latency is wakeup_ns")

    # ---- Migration core: per folio, per mapping, per page-table entry ---------------
    unmap_folio_ns: float = _core_step(
        "unmap_folio_ns", "migrate_folio_unmap(): allocate the destination folio on the "
        "target node (pcp list ~250 ns), trylock, refcount and anon_vma get ~100, list "
        "moves ~50", PER_FOLIO)
    unmap_mapping_ns: float = _core_step(
        "unmap_mapping_ns", "try_to_migrate(), per mapping (VMA): anon_vma read lock, "
        "interval-tree lookup, page_vma_mapped_walk down to the PTE and its lock", PER_MAPPING)
    unmap_pte_ns: float = _core_step(
        "unmap_pte_ns", "try_to_migrate_one(), per page-table entry (each PTE of a "
        "PTE-mapped folio, the PMD of a THP): get-and-clear, dirty/young transfer, install "
        "the migration entry, rmap and refcount drop, add to the TLB flush batch", PER_ENTRY)
    move_folio_ns: float = _core_step(
        "move_folio_ns", "move_to_new_folio() without the copy: refcount freeze, "
        "__folio_migrate_mapping, folio_migrate_flags (flags, memcg ~100, NUMA stats)",
        PER_FOLIO)
    restore_mapping_ns: float = _core_step(
        "restore_mapping_ns", "remove_migration_ptes(), per mapping: rmap walk again to the "
        "PTE and its lock, as unmap_mapping", PER_MAPPING)
    restore_pte_ns: float = _core_step(
        "restore_pte_ns", "remove_migration_pte(), per entry (each PTE of a PTE-mapped "
        "folio, the PMD of a THP): build the entry, set_pte_at, rmap add, update_mmu_cache",
        PER_ENTRY)
    putback_folio_ns: float = _core_step(
        "putback_folio_ns", "migrate_folio_done() and friends: unlock both, LRU add of the "
        "destination (per-CPU batch), free the source (pcp ~100), counters, list moves",
        PER_FOLIO)

    # ---- Run-to-run variation (seeded noise; sim/kernel/measure.py applies it per run) -----
    jitter_core: float = _cost(
        JITTER_CORE, SEED,
        "Fitted (sim/experiments/calibrate.py): RMS of the relative SDs of migrate_pages in seed table "
        "1's 2MB, 256MB and 1GB CPU rows (2.7, 4.3, 1.5, 2.4, 3.6, 1.2 %): per-run factor "
        "on kernel software time", unit="ratio")
    jitter_copy: float = _cost(
        JITTER_COPY, SEED,
        "Fitted (sim/experiments/calibrate.py): RMS of the relative SDs of folio_copy in the same rows "
        "(5.7, 21.1, 7.5, 7.1, 14.6, 5.6 %): per-run factor on CPU copy time", unit="ratio")
    jitter_cold: float = _cost(
        JITTER_COLD, SEED,
        "Fitted (sim/experiments/calibrate.py): RMS of the relative SDs of migrate_pages in the 4KB CPU "
        "rows (24.0, 17.1 %): per-run factor on cold-start time", unit="ratio")
    jitter_device: float = _cost(
        0.02, ESTIMATE,
        "Estimate: per-run factor on time spent waiting for the device: DRAM latency "
        "varies by a few percent with refresh, bank conflicts and other traffic",
        unit="ratio")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CostError(f"{f.name}={value!r}: a cost must be a number")
            if not math.isfinite(value) or value < 0:
                raise CostError(f"{f.name}={value!r}: a cost must be finite and >= 0")
            if f.metadata.get("unit") == "bytes/ns" and value == 0:
                raise CostError(f"{f.name}=0: a copy bandwidth must be > 0")

    # ---- look-ups ----------------------------------------------------------------
    @staticmethod
    def op_field(op):
        """Name of the field that holds the cost of ``op`` (e.g. 'dma_map_page_ns')."""
        return f"{Op(op).value}_ns"

    def op_ns(self, op):
        """CPU time of one ``op`` (an Op, or its value string) in ns."""
        try:
            op = Op(op)
        except ValueError:
            raise CostError(f"{op!r} is not a sw_driver.port.Op") from None
        name = self.op_field(op)
        if not hasattr(self, name):
            raise CostError(f"the cost table has no entry for {op} (expected field {name!r}); "
                            f"add it, with its source, to sim/host/costs.py and docs/costs.md")
        return getattr(self, name)

    def copy_bw(self, src_node, dst_node):
        """CPU copy bandwidth in bytes/ns from ``src_node`` to ``dst_node``."""
        name = f"copy_bw_{src_node}_{dst_node}"
        if not (isinstance(src_node, int) and isinstance(dst_node, int)) or not hasattr(self, name):
            known = ", ".join(f"{s}->{d}" for s, d in self.node_pairs())
            raise CostError(f"no CPU copy bandwidth for node pair {src_node!r}->{dst_node!r} "
                            f"(known pairs: {known}; node 0 is the copying CPU's node)")
        return getattr(self, name)

    def copy_ns(self, nbytes, src_node, dst_node):
        """Time for the CPU to copy ``nbytes`` from ``src_node`` to ``dst_node``, in ns."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise CostError(f"nbytes={nbytes!r}: must be an int >= 0")
        return nbytes / self.copy_bw(src_node, dst_node)

    def cpu_copy_ns(self, nbytes, src_node, dst_node, *, src_in_llc=False, batched=False):
        """The CPU copy's price, ns, wherever it runs (the migration core, a driver's
        fallback, the driver bench): from the LLC when its source lines are still there
        (``src_in_llc``), else from ``src_node``; a copy inside a batch copy (``batched``)
        also writes back the batch's earlier destinations, per 4 KiB page
        (``copy_writeback_ns``)."""
        if src_in_llc:
            return self.llc_copy_ns(nbytes, dst_node)
        ns = self.copy_ns(nbytes, src_node, dst_node)
        if batched:
            ns += self.copy_writeback_ns * (nbytes / PAGE_BYTES)
        return ns

    def llc_copy_ns(self, nbytes, dst_node):
        """CPU copy of ``nbytes`` whose source lines are still in the copying CPU's LLC
        (the source node does not matter), to ``dst_node``, in ns."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise CostError(f"nbytes={nbytes!r}: must be an int >= 0")
        name = f"llc_copy_bw_{dst_node}"
        if not isinstance(dst_node, int) or not hasattr(self, name):
            raise CostError(f"no LLC copy bandwidth to node {dst_node!r} (known: 0, 1, 2)")
        return nbytes / getattr(self, name)

    def tlb_flush_ns(self, remote_cpus):
        """One batched TLB shootdown (try_to_unmap_flush) with ``remote_cpus`` other
        CPUs to interrupt, in ns."""
        if isinstance(remote_cpus, bool) or not isinstance(remote_cpus, int) or remote_cpus < 0:
            raise CostError(f"remote_cpus={remote_cpus!r}: must be an int >= 0")
        ipi = self.tlb_ipi_ns + (remote_cpus - 1) * self.tlb_ipi_cpu_ns if remote_cpus else 0.0
        return self.tlb_flush_local_ns + ipi

    @classmethod
    def node_pairs(cls):
        """The (src, dst) node pairs the table holds a copy bandwidth for."""
        pairs = []
        for f in dataclasses.fields(cls):
            if f.name.startswith("copy_bw_"):
                src, dst = f.name[len("copy_bw_"):].split("_")
                pairs.append((int(src), int(dst)))
        return pairs

    # ---- variants and introspection ------------------------------------------------
    def with_overrides(self, **values):
        """A copy with some costs replaced, by field name (e.g. dma_unmap_page_ns=300)."""
        names = self.field_names()
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise CostError(f"unknown cost name(s): {', '.join(unknown)}; "
                            f"known: {', '.join(names)}")
        return dataclasses.replace(self, **values)

    def as_dict(self):
        """{field name: value} for every cost."""
        return {name: getattr(self, name) for name in self.field_names()}

    @classmethod
    def field_names(cls):
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def describe(cls):
        """[{name, default, unit, kind, source, per}] for every field, in declaration
        order; ``per`` is what a migration-core step is paid for (None elsewhere)."""
        return [{"name": f.name, "default": f.default, "unit": f.metadata["unit"],
                 "kind": f.metadata["kind"], "source": f.metadata["source"],
                 "per": f.metadata["per"]}
                for f in dataclasses.fields(cls)]

    @classmethod
    def steps_per(cls, per):
        """The migration-core steps paid ``per`` folio, mapping or entry, by field name."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata["per"] == per)


DEFAULT_COSTS = CostTable()
