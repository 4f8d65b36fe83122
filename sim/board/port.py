"""The driver's :class:`~sw_driver.port.Port` on a board, through the bridge.

The driver runs unchanged: its registers, memory and interrupt line are the
board's, reached over the serial line (:class:`~sim.board.link.BridgeLink`). Time
is the host's wall clock (the driver's timeouts are real time); the CPU's costs
are not charged (the host's CPU spends them); the interrupt is taken by looking at
the line over the bridge. The board has no IOMMU: the engine's bus addresses are
the on-chip memory's, and DMA memory is handed out from it by
:class:`BoardAllocator`.
"""
import time

from sw_driver.port import Port


class BoardAllocator:
    """Bump allocation over the board's memory [0, size)."""

    def __init__(self, size):
        self.size = size
        self.next = 0

    def alloc(self, nbytes, align):
        addr = -(-self.next // align) * align
        if addr + nbytes > self.size:
            raise MemoryError(f"the board's memory ({self.size} bytes) cannot hold "
                              f"{nbytes} more bytes (at {addr:#x})")
        self.next = addr + nbytes
        return addr


class BoardPort(Port):
    """:class:`~sw_driver.port.Port` over ``link`` (a pinged
    :class:`~sim.board.link.BridgeLink`). ``irq_looks`` counts the looks at the
    interrupt line."""

    def __init__(self, link):
        self.link = link
        self.memory = BoardAllocator(link.info["memory_bytes"])
        self._started = time.monotonic_ns()
        self._delivered = 0
        self.irq_looks = 0

    @property
    def now_ns(self):
        return time.monotonic_ns() - self._started

    async def mmio_read(self, offset):
        return self.link.reg_read(offset)

    async def mmio_write(self, offset, value):
        self.link.reg_write(offset, value)

    async def cpu(self, op, count=1):
        """The host's CPU does it; nothing to charge."""

    async def cpu_copy(self, dst, src, nbytes):
        self.link.mem_write(dst, self.link.mem_read(src, nbytes))
        return True

    async def wait_for_irq(self, timeout_ns):
        deadline = self.now_ns + timeout_ns
        while True:
            self.irq_looks += 1
            if self.link.irq():
                self._delivered = 1
                return True
            if self.now_ns >= deadline:
                return False

    def pending_irqs(self):
        return self._delivered

    async def poll(self, condition, timeout_ns, ops=()):
        deadline = self.now_ns + timeout_ns
        while not condition():
            if self.now_ns >= deadline:
                return False
        return True

    def mem_read(self, addr, nbytes):
        return self.link.mem_read(addr, nbytes)

    def mem_write(self, addr, data):
        self.link.mem_write(addr, data)

    def alloc_coherent(self, nbytes, align=64, direction="bidirectional"):
        return self.memory.alloc(nbytes, align)

    def alloc_pages(self, count, page_bytes):
        """count pages of the board's memory, contiguous and page-aligned."""
        return self.memory.alloc(count * page_bytes, page_bytes)

    async def iommu_map(self, ranges):
        return [addr for addr, _, _ in ranges]

    async def iommu_unmap(self, ranges):
        pass
