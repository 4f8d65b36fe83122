"""What the driver sees of the platform: the device, memory, CPU time, interrupts.

A :class:`Port` is implemented once per simulation (``sim.host.port``) on top of
either back-end; the driver runs unchanged on both. Time is simulated
nanoseconds on one timeline shared with the RTL: while the CPU spends time,
the engine runs.

The CPU's costs are not the driver's business: it names the kernel operation
it performs (:class:`Op`) and the platform charges its cost from the cost
table, so that every cost lives in one documented place.
"""
import abc
import contextlib
import enum


class Op(enum.Enum):
    """Kernel operations whose CPU cost the platform charges (see sim.host.costs)."""
    DMA_MAP_PAGE = "dma_map_page"              # map one page for DMA (IOMMU entry)
    DMA_UNMAP_PAGE = "dma_unmap_page"          # unmap it (software; the invalidation: iommu_unmap)
    DMA_MAP_SGTABLE = "dma_map_sgtable"        # per call, plus DMA_MAP_SG_ENTRY per entry
    DMA_MAP_SG_ENTRY = "dma_map_sg_entry"
    DMA_UNMAP_SGTABLE = "dma_unmap_sgtable"    # per call, plus DMA_UNMAP_SG_ENTRY per entry
    DMA_UNMAP_SG_ENTRY = "dma_unmap_sg_entry"
    SG_ALLOC_ENTRY = "sg_alloc_entry"          # building one scatterlist entry
    CHAN_REQUEST = "chan_request"              # dma_request_chan
    CHAN_RELEASE = "chan_release"              # dma_release_channel
    PREP_MEMCPY = "prep_memcpy"                # device_prep_dma_memcpy: allocate a tx descriptor
    DESC_STORE = "desc_store"                  # write one hardware descriptor into the ring
    TX_SUBMIT = "tx_submit"                    # cookie assignment, queueing
    ISSUE_PENDING = "issue_pending"            # software part (the doorbell is an MMIO write)
    TX_STATUS = "tx_status"                    # one status check (cookie compare, record read)
    POLL_ITERATION = "poll_iteration"          # one busy-poll loop turn (cpu_relax)
    TERMINATE_SYNC = "terminate_sync"          # dmaengine_terminate_sync software part
    IRQ_HANDLER = "irq_handler"                # hard-irq entry/exit
    CALLBACK = "callback"                      # running one completion callback
    WAKEUP = "wakeup"                          # wake the waiter of a completion
    FOLIO_METADATA = "folio_metadata"          # per-folio bookkeeping around a copy


class Port(abc.ABC):
    """The platform as the driver sees it. All times in simulated ns."""

    @contextlib.contextmanager
    def hardirq(self):
        """The interrupt handlers run inside this (in_hardirq()): a platform may watch
        what they do; by default nothing changes."""
        yield

    @property
    @abc.abstractmethod
    def now_ns(self):
        """Current simulated time."""

    @abc.abstractmethod
    async def mmio_read(self, offset):
        """Read a 32-bit device register (a non-posted round trip); offset is in the
        platform's MMIO space, where each device's registers start at its base."""

    @abc.abstractmethod
    async def mmio_write(self, offset, value):
        """Write a 32-bit device register (posted)."""

    @abc.abstractmethod
    async def cpu(self, op, count=1):
        """The CPU performs ``op`` ``count`` times; returns when that time has passed."""

    @abc.abstractmethod
    async def cpu_copy(self, dst, src, nbytes):
        """The CPU copies nbytes of memory, taking the time it costs, as copy_mc does:
        True, or False if reading the source machine-checked (nothing was written)."""

    @abc.abstractmethod
    async def wait_for_irq(self, timeout_ns):
        """Sleep until an interrupt (of any line) is delivered; False on timeout.

        The delivery latency is charged here; the handler's own work is the
        driver's (it charges Op.IRQ_HANDLER and the rest).
        """

    @abc.abstractmethod
    def pending_irqs(self):
        """The interrupt lines the latest :meth:`wait_for_irq` delivered, as a bit mask
        (bit k: line k)."""

    @abc.abstractmethod
    async def poll(self, condition, timeout_ns, ops=(Op.POLL_ITERATION,)):
        """Busy-poll until condition(), charging ``ops`` per turn; False on timeout.

        condition() may only look at memory the device writes.
        """

    @abc.abstractmethod
    def mem_read(self, addr, nbytes):
        """CPU load from system memory (its cost is part of the op that does it)."""

    @abc.abstractmethod
    def mem_write(self, addr, data):
        """CPU store to system memory (its cost is part of the op that does it)."""

    @abc.abstractmethod
    def alloc_coherent(self, nbytes, align=64, direction="bidirectional"):
        """Bus address of nbytes of DMA memory the CPU sees coherently (rings, completion
        records), which the device may read and write, or only read (``direction``
        "to_device": as dma_alloc_noncoherent(DMA_TO_DEVICE) gives it)."""

    @abc.abstractmethod
    async def iommu_map(self, ranges):
        """Make each (addr, bytes, direction) range reachable by the device, for reads
        ("to_device"), writes ("from_device") or both ("bidirectional"), as one map
        call (iommu_map, or iommu_map_sg for a table); returns their bus addresses.

        The caller charges the DMA API's software (Op.DMA_MAP_PAGE or
        Op.DMA_MAP_SG_ENTRY); the platform charges the IO page-table entries its
        IOMMU writes, one per IOMMU page of each range (laid out in the largest
        page sizes its alignment allows).
        """

    @abc.abstractmethod
    async def iommu_unmap(self, ranges):
        """Remove the (bus address, bytes, direction) mappings made by iommu_map, as one
        unmap call.

        The caller charges the unmap operation's software; the platform charges
        the IO page-table entries cleared and the IOTLB invalidation its IOMMU's
        mode requires (strict: one per call; lazy: one when the flush queue
        fills)."""
