"""The kernel model: ``migrate_pages()`` over a folio list, on the one ns timeline.

What is modelled (the kernel flow that the dcbm series changes):

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
(``sim.memsys.iommu.REFILL_READS_PER_INVALIDATION`` page-table reads); an
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
