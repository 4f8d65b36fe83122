"""The IOMMU in front of the DMA engine: the engine reaches only what the driver mapped.

Page-granular (4 KiB) and identity-mapped: the bus address (IOVA) the driver
gets from :meth:`Iommu.map` is the physical address, as with an IOVA allocator
that hands out the physical address. The translation is the identity, but the
enforcement is real: while :attr:`Iommu.enabled`, every engine burst whose page
is not mapped is refused by the AXI slave model (:class:`sim.memsys.axi_slave.AxiSlaveModel`)
with DECERR, as an IO page fault: a refused read returns zero data, a refused
write changes nothing. Each refusal is logged in :attr:`Iommu.faults`.

Mappings are counted per page, so two mappings that share a page (small
coherent allocations, buffers in one page) keep it reachable until both are
unmapped; an unmap must name exactly a (bus address, size, direction) that was
mapped, as the DMA API requires. A mapping's direction gives the engine its
rights on the pages, as dma-iommu turns the DMA direction into IOMMU_READ and
IOMMU_WRITE: ``to_device`` (the engine reads), ``from_device`` (it writes),
``bidirectional`` (both); an access without the right faults like one to an
unmapped page.

When is it on: ``memory_config["iommu"]`` is True (on), False (off) or absent
(None: off for the engine alone -- engine scenarios post physical addresses
without mapping them -- and on once a :class:`sim.host.port.HostPort`, i.e. a
driver, takes the device; ``HostPort(iommu=...)`` overrides).

Translation timing (while enabled, behind a memory system; see
:class:`sim.memsys.axi_slave.AxiSlaveModel`). The engine's first access to a page
whose translation is not cached waits for a page walk: one read of an entry
per level not found in the caches, each a read of the page-table node (node 0,
where the kernel allocates IO page tables) at that node's read latency. The
caches are an IOTLB of leaf translations and a page-walk cache of directory
entries (LRU, :attr:`IommuParams.iotlb_entries` and :attr:`IommuParams.pde_entries`);
a walk's result is usable from its end, and an access that finds a walk in progress
waits for it. A mapping is laid out in the largest IOMMU pages of
:attr:`IommuParams.page_sizes_kib` its alignment and length allow, as ``iommu_map``
picks page sizes from the driver's page-size bitmap; a translation of one such page
is one IOTLB entry (its reach). The first translation of a run also reads the device
table entry. A page-table read takes :attr:`IommuParams.walk_read_ns`, or by default
the read latency of the node holding the IO page tables (the AXI model sets it). Every run starts with
cold caches, as the migration core's CPU side does (:mod:`sim.kernel.core`).

Invalidation follows the DMA API's mode (:data:`MODES`, :attr:`IommuParams.mode`), and :meth:`Iommu.unmap` returns how many invalidations the
CPU must wait for (the platform charges them):

* ``strict``: every unmap call invalidates its range (IOTLB entries and, as the
  AMD driver always sets the PDE bit, the directory entries covering it) and
  waits for completion: one invalidation per call;
* ``lazy`` (x86's default, Kconfig ``IOMMU_DEFAULT_DMA_LAZY``): an unmap call
  only queues its IOVA range (one per call: dma-iommu maps an sg table as one
  range) in the per-CPU flush queue; when the queue holds
  :data:`FLUSH_QUEUE_ENTRIES` ranges, the whole domain is invalidated (one wait)
  and the queue empties. The queue's 10 ms timer is not modelled (it fires
  outside the simulated calls' critical path). Enforcement still follows the
  page table at once: the window in which a lazy IOTLB keeps a stale
  translation is not modelled (the model is stricter than the hardware).
"""
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass

from sw_driver.folio import PAGE_SIZE

#: The IO page: the CPU's base page (one definition, the driver's PAGE_SIZE).
PAGE_BYTES = PAGE_SIZE
PAGE_SHIFT = PAGE_BYTES.bit_length() - 1
#: Directory levels of the IO page table, by the IOVA bit their index starts at: a level 2
#: entry covers 2 MiB, a level 3 entry 1 GiB (AMD-Vi's v1 table, 9 bits per level).
LEVEL_SHIFTS = {2: 21, 3: 30}
#: The largest IOMMU page the model's three-level table holds (a level 3 leaf).
MAX_PAGE_BYTES = 1 << 30

#: DMA directions and the engine's rights they give: (read, write).
DIRECTIONS = {"bidirectional": (True, True), "to_device": (True, False),
              "from_device": (False, True)}
BIDIRECTIONAL = "bidirectional"
#: The DMA API's invalidation modes.
MODES = ("strict", "lazy")
#: The mode x86 kernels build with (Kconfig IOMMU_DEFAULT_DMA_LAZY).
DEFAULT_MODE = "lazy"
#: Unmapped ranges a flush queue holds before the domain is invalidated: Linux's
#: IOVA_DEFAULT_FQ_SIZE (drivers/iommu/dma-iommu.c, 256 since v4.14).
FLUSH_QUEUE_ENTRIES = 256
#: After a domain invalidation, the next translations of a migration batch walk the
#: directory levels again: levels 3 and 2 for each region in use (rings and
#: records, sources, destinations). The extrapolation of repeated batches
#: (sim.kernel.core) allows this many page-table reads per invalidation as the
#: difference between otherwise equal batches, and does not extrapolate them.
REFILL_READS_PER_INVALIDATION = 3 * 2


class IommuError(ValueError):
    """A map or unmap the IOMMU cannot do (bad range, unmap of something not mapped)."""


@dataclass(frozen=True)
class IommuParams:
    """The IOMMU a platform has (``[iommu]`` of a platform file; sources there).

    mode           -- the DMA API's invalidation mode, "lazy" or "strict" (:data:`MODES`).
    iotlb_entries  -- leaf translations the IOTLB caches (LRU).
    pde_entries    -- directory entries the page-walk cache holds (LRU).
    page_sizes_kib -- the IOMMU page sizes a mapping may use, KiB: powers of two from 4
                      up to 1 GiB, 4 among them (the driver's page-size bitmap).
    walk_read_ns   -- one page-table read of a walk, ns; None: the read latency of the
                      node holding the IO page tables.
    """
    mode: str = DEFAULT_MODE
    iotlb_entries: int = 64
    pde_entries: int = 32
    page_sizes_kib: tuple = (4, 2048)
    walk_read_ns: float | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"iommu.mode={self.mode!r}: expected one of {', '.join(MODES)}")
        for name in ("iotlb_entries", "pde_entries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"iommu.{name}={value!r}: expected an int >= 1")
        sizes = self.page_sizes_kib
        if not isinstance(sizes, (tuple, list)) or not sizes or any(
                isinstance(k, bool) or not isinstance(k, int) or k < 4 or k & (k - 1)
                or k << 10 > MAX_PAGE_BYTES for k in sizes) or 4 not in sizes \
                or len(set(sizes)) != len(sizes):
            raise ValueError(f"iommu.page_sizes_kib={sizes!r}: expected distinct powers of two "
                             f"from 4 to {MAX_PAGE_BYTES >> 10} (KiB), 4 among them")
        object.__setattr__(self, "page_sizes_kib", tuple(sorted(sizes)))
        if self.walk_read_ns is not None and (
                isinstance(self.walk_read_ns, bool)
                or not isinstance(self.walk_read_ns, (int, float))
                or not 0 < self.walk_read_ns < float("inf")):
            raise ValueError(f"iommu.walk_read_ns={self.walk_read_ns!r}: expected a positive "
                             f"number of ns, or the page-table node's read latency")

    @property
    def page_shifts(self):
        """log2 of each page size in bytes, largest first."""
        return tuple(sorted(((k << 10).bit_length() - 1 for k in self.page_sizes_kib),
                            reverse=True))

    def to_config(self):
        return asdict(self)

    @classmethod
    def from_config(cls, config):
        """IommuParams from :meth:`to_config`'s dict (or an IommuParams, or None)."""
        if config is None or isinstance(config, IommuParams):
            return config or cls()
        if not isinstance(config, dict):
            raise ValueError(f"iommu_params {config!r} is not a dict")
        try:
            return cls(**{**config, "page_sizes_kib": tuple(config.get("page_sizes_kib",
                                                                       (4, 2048)))})
        except TypeError as error:
            raise ValueError(f"iommu_params {config!r}: {error}") from None


class Iommu:
    """Identity-mapped, page-granular IOMMU; enforcement when ``enabled``.

    configured -- the memory_config setting (True, False or None; see the
                  module docstring); ``enabled`` starts as ``configured is True``.
    params     -- the platform's :class:`IommuParams` (invalidation mode, caches, page
                  sizes, walk timing).
    """

    def __init__(self, configured=None, params=IommuParams()):
        if configured not in (None, True, False):
            raise ValueError(f"iommu={configured!r}: expected true, false or null")
        if not isinstance(params, IommuParams):
            raise ValueError(f"params={params!r}: expected an IommuParams")
        self.configured = configured
        self.enabled = configured is True
        self.params = params
        self.mode = params.mode
        self._shifts = params.page_shifts           # largest first, 4 KiB last
        self._large_shifts = self._shifts[:-1]      # the pages a translation may cover
        self._pages = {}          # page number -> mappings covering it
        self._readable = {}       # page number -> mappings that let the engine read it
        self._writable = {}       # page number -> mappings that let the engine write it
        self._leaves = {}         # (shift, index) of an IOMMU page above 4 KiB -> mappings
        self._mappings = {}       # (bus address, bytes, direction) -> times mapped
        self._revoked = {}        # page number -> revocations covering it (revoke())
        self._revocations = {}    # mapping key -> revocations of it not yet restored
        #: IO page faults: (cycle, "read" | "write", address, AXI id).
        self.faults = []
        #: Cycles of one page-table read; 0: translation takes no time (set by the
        #: AXI model from its memory system).
        self.walk_read_cycles = 0
        self._iotlb = OrderedDict()     # (shift, index) -> cycle it is usable from
        self._pde = OrderedDict()       # (level, index) -> cycle it is usable from
        self._dte_ready = None          # cycle the device table entry is cached from
        self._queued = 0                # lazy: ranges in the flush queue
        #: Counters: page walks, page-table reads, unmap calls, invalidations waited for.
        self.walks = self.walk_reads = self.unmap_calls = self.invalidations = 0

    def __repr__(self):
        return (f"Iommu(enabled={self.enabled}, {len(self._pages)} pages mapped, "
                f"{len(self.faults)} faults)")

    @staticmethod
    def _pages_of(addr, nbytes):
        if not (isinstance(addr, int) and isinstance(nbytes, int) and addr >= 0
                and nbytes > 0 and addr + nbytes <= 1 << 64):
            raise IommuError(f"range {addr!r} + {nbytes!r} is not a non-empty range of the "
                             f"64-bit address space")
        return range(addr >> PAGE_SHIFT, (addr + nbytes - 1 >> PAGE_SHIFT) + 1)

    def map(self, addr, nbytes, direction=BIDIRECTIONAL):
        """Make the pages of [addr, addr+nbytes) reachable, for the engine's reads and
        writes as ``direction`` says (:data:`DIRECTIONS`); returns the bus address."""
        read, write = _rights(direction)
        pages = self._pages_of(addr, nbytes)
        for page in pages:
            _acquire(self._pages, page)
        readable = [page for page in pages if read and _acquire(self._readable, page)
                    and page not in self._revoked]
        writable = [page for page in pages if write and _acquire(self._writable, page)
                    and page not in self._revoked]
        key = (addr, nbytes, direction)
        self._mappings[key] = self._mappings.get(key, 0) + 1
        leaves = [leaf for leaf in self.large_pages(addr, nbytes)
                  if _acquire(self._leaves, leaf)]
        self._reachable_changed(readable, writable, leaves, mapped=True)
        return addr

    def _reachable_changed(self, readable, writable, leaves, *, mapped):
        """Hook: pages (4 KiB page numbers) the engine may now read or write (``mapped``)
        or no longer, and IOMMU pages above 4 KiB ((shift, index) pairs) that a
        translation now covers whole, or no longer; for a translation unit kept
        elsewhere (the native back-end)."""

    def layout(self, addr, nbytes):
        """The IOMMU pages a mapping of [addr, addr+nbytes) is laid out in, as (shift,
        index) pairs: from its start, each time the largest page size whose alignment
        the address has and that the rest of the mapping fills. Each is one entry the
        IOMMU driver writes into the IO page table (and clears on unmap)."""
        pages, end = [], addr + nbytes
        addr &= ~(PAGE_BYTES - 1)
        while addr < end:
            shift = next(s for s in self._shifts
                         if not addr & ((1 << s) - 1) and addr + (1 << s) <= end
                         or s == PAGE_SHIFT)
            pages.append((shift, addr >> shift))
            addr += 1 << shift
        return pages

    def large_pages(self, addr, nbytes):
        """The IOMMU pages above 4 KiB of :meth:`layout`."""
        return [page for page in self.layout(addr, nbytes) if page[0] > PAGE_SHIFT]

    def page_table_entries(self, ranges):
        """The IO page-table entries mapping (or unmapping) the (bus address, bytes[,
        direction]) ranges writes: one per IOMMU page of each one's :meth:`layout`;
        none while the IOMMU is not in the path."""
        if not self.enabled:
            return 0
        return sum(len(self.layout(r[0], r[1])) for r in ranges)

    def unmap(self, bus_addr, nbytes, direction=BIDIRECTIONAL):
        """Remove one mapping made by :meth:`map` with these arguments; one unmap call.

        Returns the number of invalidations the CPU waits for (see the module
        docstring); :meth:`unmap_ranges` unmaps several ranges as one call."""
        return self.unmap_ranges([(bus_addr, nbytes, direction)])

    def unmap_ranges(self, ranges):
        """Unmap several (bus address, bytes[, direction]) mappings in one call (an sg
        table; the direction bidirectional when left out); returns the number of
        invalidations the CPU waits for."""
        ranges = [tuple(r) if len(r) == 3 else (*r, BIDIRECTIONAL) for r in ranges]
        for (bus_addr, nbytes, direction), times in Counter(ranges).items():
            if self._mappings.get((bus_addr, nbytes, direction), 0) < times:
                raise IommuError(f"unmap of {nbytes} bytes at {bus_addr:#x} ({direction}): "
                                 f"no such mapping"
                                 + (f" ({times} unmaps asked)" if times > 1 else ""))
        for mapping in ranges:
            self._remove(*mapping)
        if self.mode == "strict":
            for bus_addr, nbytes, _ in ranges:
                self._invalidate_range(bus_addr, nbytes)
        return self.account_unmap_calls(1)

    def account_unmap_calls(self, calls):
        """Count ``calls`` unmap calls (each one IOVA range: an sg table maps as one)
        and return the invalidations they cause: strict, one each; lazy, one each
        time the flush queue fills, which empties the caches. Used directly for
        the calls of extrapolated batches, which are not simulated. Disabled (no
        IOMMU in the path), nothing is invalidated."""
        self.unmap_calls += calls
        if not self.enabled:
            return 0
        if self.mode == "strict":
            flushes = calls
        else:
            flushes, self._queued = divmod(self._queued + calls, FLUSH_QUEUE_ENTRIES)
            if flushes:
                self._flush_caches()
        self.invalidations += flushes
        return flushes

    def _flush_caches(self):
        """Invalidate the whole domain: every cached translation and directory entry."""
        self._iotlb.clear()
        self._pde.clear()

    def revoke(self, bus_addr, nbytes, direction=BIDIRECTIONAL):
        """Make a live mapping's pages unreachable without unmapping them: another
        agent's unmap racing the transfers that use them (fault injection). The
        mapping stays in the table; :meth:`restore` makes it reachable again. The
        revocation ends with the mapping: when the driver's own unmap removes it, a
        fresh mapping of the same pages is reachable."""
        key = (bus_addr, nbytes, direction)
        if key not in self._mappings:
            raise IommuError(f"revoke of {nbytes} bytes at {bus_addr:#x}: no such mapping")
        _acquire(self._revocations, key)
        gone = [page for page in self._pages_of(bus_addr, nbytes)
                if _acquire(self._revoked, page)]
        self._reachable_changed([p for p in gone if p in self._readable],
                                [p for p in gone if p in self._writable], [], mapped=False)

    def restore(self, bus_addr, nbytes, direction=BIDIRECTIONAL):
        """Undo one :meth:`revoke` of this mapping: its pages still mapped are reachable
        again (nothing is left to undo if it was unmapped meanwhile)."""
        key = (bus_addr, nbytes, direction)
        if key in self._revocations:
            _release(self._revocations, key)
            self._lift_revocations(bus_addr, nbytes, 1)

    def _lift_revocations(self, bus_addr, nbytes, times):
        """Take ``times`` revocations off the range's pages; those left with none and
        still mapped are reachable again."""
        back = [page for _ in range(times) for page in self._pages_of(bus_addr, nbytes)
                if _release(self._revoked, page)]
        self._reachable_changed([p for p in back if p in self._readable],
                                [p for p in back if p in self._writable], [], mapped=True)

    def _remove(self, bus_addr, nbytes, direction):
        read, write = _rights(direction)
        key = (bus_addr, nbytes, direction)
        last = _release(self._mappings, key)
        pages = self._pages_of(bus_addr, nbytes)
        for page in pages:
            _release(self._pages, page)
        readable = [page for page in pages if read and _release(self._readable, page)]
        writable = [page for page in pages if write and _release(self._writable, page)]
        leaves = [leaf for leaf in self.large_pages(bus_addr, nbytes)
                  if _release(self._leaves, leaf)]
        self._reachable_changed(readable, writable, leaves, mapped=False)
        if last and key in self._revocations:
            # Its revocations go with it: pages still mapped otherwise are reachable again.
            self._lift_revocations(bus_addr, nbytes, self._revocations.pop(key))

    def _invalidate_range(self, bus_addr, nbytes):
        last = bus_addr + nbytes - 1
        for shift in self._shifts:
            for index in range(bus_addr >> shift, (last >> shift) + 1):
                self._iotlb.pop((shift, index), None)
        for level, shift in LEVEL_SHIFTS.items():
            for index in range(bus_addr >> shift, (last >> shift) + 1):
                self._pde.pop((level, index), None)

    def translate(self, addr, cycle):
        """The cycle from which the engine's access at addr (issued at cycle) is
        translated; walks and fills the caches on a miss (see the module docstring).
        Free (returns cycle) when disabled or without walk timing.

        The table has three levels, as AMD-Vi's v1 table of a DMA domain starts
        with (PAGE_MODE_3_LEVEL, 39-bit IOVAs, enough for the IOVAs the DMA API
        hands out below 4 GiB first): level 3 entries cover 1 GiB, level 2 entries
        2 MiB, level 1 entries 4 KiB. A page of another size is a leaf at the level
        whose entries are the largest not above it (AMD-Vi repeats such a leaf over the
        entries it spans: one translation, one IOTLB entry), so a 64 KiB page is walked
        to level 1 and a 2 MiB one to level 2."""
        read = self.walk_read_cycles
        if not (self.enabled and read):
            return cycle
        shift = next((s for s in self._large_shifts if (s, addr >> s) in self._leaves),
                     PAGE_SHIFT)
        key = (shift, addr >> shift)
        ready = self._iotlb.get(key)
        if ready is not None:
            self._iotlb.move_to_end(key)
            return max(cycle, ready)
        # Walk down from the deepest directory entry cached.
        start = cycle
        if self._dte_ready is None:
            self._dte_ready = start = cycle + read
            self.walk_reads += 1
        else:
            start = max(start, self._dte_ready)
        directories = [(level, addr >> s) for level, s in sorted(LEVEL_SHIFTS.items(),
                                                                 reverse=True) if s > shift]
        needed = directories
        for depth in range(len(directories), 0, -1):
            cached = self._pde.get(directories[depth - 1])
            if cached is not None:
                self._pde.move_to_end(directories[depth - 1])
                start = max(start, cached)
                needed = directories[depth:]
                break
        t = start
        for entry in needed:
            t += read
            self._fill(self._pde, entry, t, self.params.pde_entries)
        t += read                                   # the leaf entry
        self._fill(self._iotlb, key, t, self.params.iotlb_entries)
        self.walks += 1
        self.walk_reads += len(needed) + 1
        return t

    @staticmethod
    def _fill(cache, key, ready, capacity):
        cache[key] = ready
        cache.move_to_end(key)
        if len(cache) > capacity:
            cache.popitem(last=False)

    def is_mapped(self, addr, nbytes=1):
        """Whether every page of [addr, addr+nbytes) is mapped (whatever ``enabled``)."""
        return all(page in self._pages for page in self._pages_of(addr, nbytes))

    def allows(self, addr, nbytes=1, write=False):
        """Whether the engine may read (or ``write``) [addr, addr+nbytes) now."""
        if not self.enabled:
            return True
        table = self._writable if write else self._readable
        if (addr & (PAGE_BYTES - 1)) + nbytes <= PAGE_BYTES:     # one page: the AXI case
            page = addr >> PAGE_SHIFT
            return page in table and page not in self._revoked
        return all(page in table and page not in self._revoked
                   for page in self._pages_of(addr, nbytes))

    @property
    def mapped_pages(self):
        """Number of pages mapped."""
        return len(self._pages)

    def mappings(self):
        """{(bus address, bytes, direction): count} of the live mappings."""
        return dict(self._mappings)


def _rights(direction):
    """(read, write) of a DMA direction; IommuError for another."""
    try:
        return DIRECTIONS[direction]
    except KeyError:
        raise IommuError(f"DMA direction {direction!r}: expected one of "
                         f"{', '.join(DIRECTIONS)}") from None


def _acquire(counts, key):
    """One reference to key more in a {key: count} map; True if it is new."""
    count = counts.get(key, 0)
    counts[key] = count + 1
    return not count


def _release(counts, key):
    """One reference to key fewer in a {key: count} map; True if the key went (at zero)."""
    left = counts[key] - 1
    if left:
        counts[key] = left
        return False
    del counts[key]
    return True
