"""Cost to userspace after a migration: a cache model of the seed's access loop.

Matthew Wilcox's review of the DMA-offload RFC: "When the CPU does the copy, the
data is now cache-hot in that CPU's cache. When the DMA engine does the copy,
it's not cache-hot in any CPU." The seed's second table (Shivank Garg,
2024-06-25) then measured, in cycles per page, a read loop that loads one long
per 64-byte line of every page::

    before = rdtsc();
    for (i = 0; i < num_pages; i++)
        for (j = 0; j < page_size; j += 64)
            junk += *(long *)(pages[i] + j);
    after = rdtsc();

over pages on the remote node just after clflush (``uncached_access``), over the
same pages after a previous pass (``cached_access``) and over the pages just
after ``move_pages()`` brought them to the local node (``post_move_access``).
This module computes those three columns from one set of constants.

The model, per run of the loop over ``pages`` pages of ``page_size`` bytes
(``n = pages * page_size / LINE_BYTES`` lines, one load each)::

    cycles = MEASUREMENT_OVERHEAD + latency(first line)
             + (n - 1) * mean per-line streaming cost
             + pages * TLB cost per page

* **Where each line is found** comes from LRU stack distances (exact for a
  fully associative LRU cache): a line hits a cache of C lines iff fewer than C
  distinct lines were touched since its last use. For the destination line at
  position p of n after a *CPU copy* (read src, write dst, page by page) and a
  same-order read scan, the distance is 2(n-1-p) + p, so ``min(n, C - n + 1)``
  lines hit (all when n <= C/2, none when n >= C). After a *previous read pass*
  or a *DMA copy that allocates in the LLC* the distance is n - 1 for every
  line: all hit iff n <= C (DMA allocation is further capped by the LLC share
  DMA may use). A *DMA copy without LLC allocation* or a clflush leaves every
  line in memory only.
* **Per-line streaming cost** of a level is fixed for caches (loop issue for
  L1, the 32 B/cycle port for L2, achieved L3 bandwidth) and Little's law for
  misses: latency / lines in flight (with the hardware prefetchers on, the
  number of lines a core keeps in flight, derived from the seed; off, the
  core's L1D miss buffers). A line held in another CCX's or the other socket's
  cache is a miss with a cache-to-cache latency.
* **Who touches**: the toucher's own L1/L2 count only for ``same_core``; on the
  copier's CCX (``same_ccx``) the L3 serves; ``other_ccx`` and ``other_socket``
  pay a cache-to-cache transfer for lines still cached and DRAM for the rest
  (remote DRAM for ``other_socket``: the pages were migrated to the copier's
  node).
* **TLB**: migration replaced every PTE and flushed the TLBs, so after a move
  every page needs a page walk; otherwise a page costs nothing (L1 DTLB hit),
  an L2 DTLB hit, or a walk, by how many pages the run touches.

Every constant is a module constant of :mod:`sim.host.cache_params`, with its source; ``docs/cache.md``
holds the same table with the reasoning and the model-vs-seed errors. Two
constants are derived from the seed (one cell each), all others are public
facts or estimates; nothing is fitted per row.

Units: CPU cycles at the seed's 2 GHz (the seed's rdtsc counts are taken as core
cycles at 2 GHz, as in ``sim/host/costs.py``), ns for latencies, bytes for sizes.
"""
from dataclasses import dataclass

from sim.host.cache_params import (COPIERS, DEFAULT_HIERARCHY, DEFAULT_TOUCHER, NODES, PAGE_BYTES,
                                   TOUCHERS, CacheModelError, CacheHierarchy)


@dataclass(frozen=True)
class AccessCost:
    """One timed run of the seed's loop, with where the lines came from."""

    pages: int
    page_size: int
    lines: int
    #: {source: lines served}: l1, l2, llc, cross_ccx, cross_socket, local_dram, remote_dram
    served: dict
    first_line_from: str
    fixed_cycles: float          # measurement overhead + first line's latency
    line_cycles: float           # (lines - 1) x mean streaming cost
    tlb_cycles: float            # pages x per-page TLB cost
    total_cycles: float

    @property
    def cycles_per_page(self):
        return self.total_cycles / self.pages

    def fraction(self, source):
        return self.served.get(source, 0) / self.lines


def _resident_after_copy(n, c):
    """Lines (of n) that hit a C-line LRU cache in a scan after a CPU copy (src + dst)."""
    return max(0, min(n, c - n + 1))


def _resident_after_scan(n, c):
    """Lines (of n) that hit after a single stream over them (previous pass, or DMA into the LLC)."""
    return n if n <= c else 0


class CacheModel:
    """The seed's access loop on a :class:`CacheHierarchy`.

    ``copier``: ``"cpu"`` (folio_copy on the migrating CPU), ``"dma"`` (the engine
    writes the destination; lines land in the migrating CPU's CCX L3 only when DMA
    writes allocate in the LLC), or ``"dma_then_cpu"`` (the RFC v1 dcbm driver as
    posted: after its DMA loop ``folios_copy_dma`` falls into its ``fail:`` label
    and copies the whole list again on the CPU).
    ``toucher``: where the reading CPU sits relative to the migrating CPU (the
    copier, or the CPU that drove the DMA): ``same_core`` (the seed: ``move_pages``
    copies in the caller's context), ``same_ccx``, ``other_ccx``, ``other_socket``,
    or ``random`` (a uniformly random core of the machine: the expectation).
    """

    def __init__(self, hierarchy=DEFAULT_HIERARCHY):
        if not isinstance(hierarchy, CacheHierarchy):
            raise CacheModelError(f"hierarchy must be a sim.host.cache.CacheHierarchy, got {hierarchy!r}")
        self.hierarchy = hierarchy

    # ---- argument checks ----------------------------------------------------------
    def _check(self, pages, page_size):
        p = self.hierarchy
        if isinstance(pages, bool) or not isinstance(pages, int) or pages < 1:
            raise CacheModelError(f"pages={pages!r}: expected an int >= 1")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < p.line_bytes \
                or page_size % p.line_bytes:
            raise CacheModelError(f"page_size={page_size!r}: expected a multiple of "
                                  f"{p.line_bytes} bytes")

    @staticmethod
    def _choice(name, value, allowed):
        if value not in allowed:
            raise CacheModelError(f"{name}={value!r}: expected one of {', '.join(allowed)}")

    # ---- building blocks ---------------------------------------------------------------
    def _tlb_per_page(self, pages, flushed):
        p = self.hierarchy
        if flushed or pages > p.l2_dtlb_entries:
            return p.page_walk_cycles
        if pages > p.l1_dtlb_entries:
            return p.tlb_l2_hit_cycles
        return 0.0

    def _source_costs(self, source):
        """(latency cycles, streaming cycles per line) of a source."""
        p = self.hierarchy
        if source == "l1":
            return p.l1_latency_cycles, p.l1_line_cycles
        if source == "l2":
            return p.l2_latency_cycles, p.l2_line_cycles
        if source == "llc":
            return p.llc_latency_cycles, p.llc_line_cycles
        ns = {"cross_ccx": p.cross_ccx_ns, "cross_socket": p.cross_socket_cache_ns,
              "local_dram": p.local_dram_ns, "remote_dram": p.remote_dram_ns}[source]
        return ns * p.core_ghz, p.miss_line_cycles(ns)

    def _run(self, pages, page_size, levels, resident, miss_source, tlb_per_page):
        """Cost of one run; ``levels`` = [(source, capacity in lines)] nearest first,
        ``resident(n, c)`` = lines of n that hit a cache of c lines; lines resident
        in no level come from ``miss_source``."""
        p = self.hierarchy
        n = pages * page_size // p.line_bytes
        served, prev, first = {}, 0, None
        for source, cap in levels:
            hits = resident(n, cap)
            if hits - prev > 0:
                served[source] = hits - prev
            if first is None and hits == n:
                first = source
            prev = max(prev, hits)
        if n - prev > 0:
            served[miss_source] = served.get(miss_source, 0) + n - prev
        if first is None:
            first = miss_source
        mean = sum(k * self._source_costs(s)[1] for s, k in served.items()) / n
        fixed = p.measurement_overhead_cycles + self._source_costs(first)[0]
        line_cycles = (n - 1) * mean
        tlb = pages * tlb_per_page
        return AccessCost(pages=pages, page_size=page_size, lines=n, served=served,
                          first_line_from=first, fixed_cycles=fixed, line_cycles=line_cycles,
                          tlb_cycles=tlb, total_cycles=fixed + line_cycles + tlb)

    def _own_levels(self, llc_lines=None):
        p = self.hierarchy
        return [("l1", p.lines(p.l1_bytes)), ("l2", p.lines(p.l2_bytes)),
                ("llc", p.lines(p.llc_bytes_per_ccx) if llc_lines is None else llc_lines)]

    # ---- the seed's three columns -------------------------------------------------------
    def uncached_access(self, pages, page_size=PAGE_BYTES, node="remote"):
        """Run over pages just clflushed (every line from DRAM; TLB still warm)."""
        self._check(pages, page_size)
        self._choice("node", node, NODES)
        return self._run(pages, page_size, [], _resident_after_scan, f"{node}_dram",
                         self._tlb_per_page(pages, flushed=False))

    def cached_access(self, pages, page_size=PAGE_BYTES, node="remote"):
        """Run over pages the same core has just read in full (a previous pass)."""
        self._check(pages, page_size)
        self._choice("node", node, NODES)
        return self._run(pages, page_size, self._own_levels(), _resident_after_scan,
                         f"{node}_dram", self._tlb_per_page(pages, flushed=False))

    def post_move_access(self, pages, page_size=PAGE_BYTES, copier="cpu",
                         dma_allocates_in_llc=None, toucher=DEFAULT_TOUCHER):
        """Run over pages just migrated to the migrating CPU's node."""
        self._check(pages, page_size)
        self._choice("copier", copier, COPIERS)
        self._choice("toucher", toucher, TOUCHERS)
        if toucher == "random":
            return self._random_toucher(pages, page_size, copier, dma_allocates_in_llc)
        p = self.hierarchy
        alloc = p.dma_allocates_in_llc if dma_allocates_in_llc is None else dma_allocates_in_llc
        if not isinstance(alloc, bool):
            raise CacheModelError(f"dma_allocates_in_llc={alloc!r}: expected True, False or None")
        llc = p.lines(p.llc_bytes_per_ccx)
        if copier in ("cpu", "dma_then_cpu"):
            # The CPU wrote the destination last: src + dst streamed through its caches.
            resident = _resident_after_copy
            own = self._own_levels()
        elif alloc:
            # DMA writes allocated in the migrating CPU's CCX L3, in its DMA share only;
            # they survive the scan iff the whole destination fits the LLC.
            share = int(llc * p.dma_llc_fraction)

            def resident(n, c):
                return min(n, share) if n <= c else 0
            own = [("llc", llc)]
        else:
            resident, own = _resident_after_scan, []         # memory only
        tlb = self._tlb_per_page(pages, flushed=True)
        if toucher == "same_core":
            levels, miss = own, "local_dram"
        elif toucher == "same_ccx":
            # The copier's L1/L2 lines are reached through the CCX, at L3 cost.
            levels, miss = [("llc", c) for s, c in own if s == "llc"], "local_dram"
        elif toucher == "other_ccx":
            levels, miss = [("cross_ccx", c) for s, c in own if s == "llc"], "local_dram"
        else:
            levels, miss = [("cross_socket", c) for s, c in own if s == "llc"], "remote_dram"
        return self._run(pages, page_size, levels, resident, miss, tlb)

    def _random_toucher(self, pages, page_size, copier, alloc):
        p = self.hierarchy
        cores = p.cores_per_ccx * p.ccx_per_socket * p.sockets
        weights = {
            "same_core": 1 / cores,
            "same_ccx": (p.cores_per_ccx - 1) / cores,
            "other_ccx": p.cores_per_ccx * (p.ccx_per_socket - 1) / cores,
            "other_socket": p.cores_per_ccx * p.ccx_per_socket * (p.sockets - 1) / cores,
        }
        runs = {t: self.post_move_access(pages, page_size, copier, alloc, t) for t in weights}
        served = {}
        for t, r in runs.items():
            for s, k in r.served.items():
                served[s] = served.get(s, 0) + weights[t] * k

        def avg(attr):
            return sum(weights[t] * getattr(r, attr) for t, r in runs.items())
        return AccessCost(pages=pages, page_size=page_size, lines=runs["same_core"].lines,
                          served=served, first_line_from="mixed",
                          fixed_cycles=avg("fixed_cycles"), line_cycles=avg("line_cycles"),
                          tlb_cycles=avg("tlb_cycles"), total_cycles=avg("total_cycles"))

    # ---- cycles per page (the seed's unit) ---------------------------------------------
    def uncached_access_cycles_per_page(self, pages, page_size=PAGE_BYTES, node="remote"):
        return self.uncached_access(pages, page_size, node).cycles_per_page

    def cached_access_cycles_per_page(self, pages, page_size=PAGE_BYTES, node="remote"):
        return self.cached_access(pages, page_size, node).cycles_per_page

    def post_move_access_cycles_per_page(self, pages, page_size=PAGE_BYTES, copier="cpu",
                                         dma_allocates_in_llc=None, toucher=DEFAULT_TOUCHER):
        return self.post_move_access(pages, page_size, copier, dma_allocates_in_llc,
                                     toucher).cycles_per_page

    # ---- where DMA's cold cache matters ---------------------------------------------------
    def hot_limit_bytes(self, copier="cpu", dma_allocates_in_llc=None):
        """Largest workload whose destination is still entirely cache-resident for a
        toucher on the migrating CPU's CCX (0: never)."""
        p = self.hierarchy
        llc = p.lines(p.llc_bytes_per_ccx)
        if copier in ("cpu", "dma_then_cpu"):
            return (llc + 1) // 2 * p.line_bytes
        alloc = p.dma_allocates_in_llc if dma_allocates_in_llc is None else dma_allocates_in_llc
        return int(llc * p.dma_llc_fraction) * p.line_bytes if alloc else 0

    def dma_penalty(self, pages, page_size=PAGE_BYTES, toucher=DEFAULT_TOUCHER,
                    dma_allocates_in_llc=None):
        """post_move_access with a DMA copy / with a CPU copy (1.0: the copy agent does
        not matter to userspace)."""
        return (self.post_move_access_cycles_per_page(pages, page_size, "dma",
                                                      dma_allocates_in_llc, toucher)
                / self.post_move_access_cycles_per_page(pages, page_size, "cpu", None, toucher))
