"""The IOMMU in front of the DMA engine: the engine reaches only what the driver mapped.

Page-granular (4 KiB) and identity-mapped: the bus address (IOVA) the driver
gets from :meth:`Iommu.map` is the physical address, as with an IOVA allocator
that hands out the physical address. The translation is the identity, but the
enforcement is real: while :attr:`Iommu.enabled`, every engine burst whose page
is not mapped is refused by the AXI slave model (:class:`sim.axi_slave.AxiSlaveModel`)
with DECERR, as an IO page fault: a refused read returns zero data, a refused
write changes nothing. Each refusal is logged in :attr:`Iommu.faults`.

Mappings are counted per page, so two mappings that share a page (small
coherent allocations, buffers in one page) keep it reachable until both are
unmapped; an unmap must name exactly a (bus address, size) that was mapped,
as the DMA API requires.

When is it on: ``memory_config["iommu"]`` is True (on), False (off) or absent
(None: off for the engine alone -- engine scenarios post physical addresses
without mapping them -- and on once a :class:`sim.host.HostPort`, i.e. a
driver, takes the device; ``HostPort(iommu=...)`` overrides).
"""

PAGE_SHIFT = 12
PAGE_BYTES = 1 << PAGE_SHIFT


class IommuError(ValueError):
    """A map or unmap the IOMMU cannot do (bad range, unmap of something not mapped)."""


class Iommu:
    """Identity-mapped, page-granular IOMMU; enforcement when ``enabled``.

    configured -- the memory_config setting (True, False or None; see the
                  module docstring); ``enabled`` starts as ``configured is True``.
    """

    def __init__(self, configured=None):
        if configured not in (None, True, False):
            raise ValueError(f"iommu={configured!r}: expected true, false or null")
        self.configured = configured
        self.enabled = configured is True
        self._pages = {}          # page number -> mappings covering it
        self._mappings = {}       # (bus address, bytes) -> times mapped
        #: IO page faults: (cycle, "read" | "write", address, AXI id).
        self.faults = []

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

    def map(self, addr, nbytes):
        """Make the pages of [addr, addr+nbytes) reachable; returns the bus address."""
        pages = self._pages_of(addr, nbytes)
        for page in pages:
            self._pages[page] = self._pages.get(page, 0) + 1
        key = (addr, nbytes)
        self._mappings[key] = self._mappings.get(key, 0) + 1
        return addr

    def unmap(self, bus_addr, nbytes):
        """Remove one mapping made by :meth:`map` with these arguments."""
        key = (bus_addr, nbytes)
        count = self._mappings.get(key)
        if not count:
            raise IommuError(f"unmap of {nbytes} bytes at {bus_addr:#x}: no such mapping")
        if count == 1:
            del self._mappings[key]
        else:
            self._mappings[key] = count - 1
        for page in self._pages_of(bus_addr, nbytes):
            left = self._pages[page] - 1
            if left:
                self._pages[page] = left
            else:
                del self._pages[page]

    def is_mapped(self, addr, nbytes=1):
        """Whether every page of [addr, addr+nbytes) is mapped (whatever ``enabled``)."""
        return all(page in self._pages for page in self._pages_of(addr, nbytes))

    def allows(self, addr, nbytes=1):
        """Whether the engine may access [addr, addr+nbytes) now."""
        if not self.enabled:
            return True
        if (addr & (PAGE_BYTES - 1)) + nbytes <= PAGE_BYTES:     # one page: the AXI case
            return addr >> PAGE_SHIFT in self._pages
        return self.is_mapped(addr, nbytes)

    @property
    def mapped_pages(self):
        """Number of pages mapped."""
        return len(self._pages)

    def mappings(self):
        """{(bus address, bytes): count} of the live mappings."""
        return dict(self._mappings)
