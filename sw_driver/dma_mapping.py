"""DMA mapping (linux/dma-mapping.h, linux/scatterlist.h): make memory reachable by the device.

Every mapping goes through the platform IOMMU (``port.iommu_map``) and is
bidirectional in this model, so the kernel's direction argument is left out.
The CPU cost of each call is charged here, as the kernel spends it.
"""
from dataclasses import dataclass

from .port import Op


async def dma_map_page(port, addr, size):
    """Map [addr, addr+size) for the device (one IOMMU entry); returns its bus address."""
    await port.cpu(Op.DMA_MAP_PAGE)
    return port.iommu_map(addr, size)


async def dma_unmap_page(port, dma_addr, size):
    """Undo :func:`dma_map_page` (IOMMU entry removal; the platform's IOMMU adds the
    IOTLB invalidation its mode requires)."""
    await port.cpu(Op.DMA_UNMAP_PAGE)
    await port.iommu_unmap([(dma_addr, size)])


@dataclass
class Scatterlist:
    """One entry of a scatter-gather table: CPU address and length, bus address once mapped."""
    address: int = 0
    length: int = 0
    dma_address: int | None = None


class SgTable:
    """A scatter-gather table (struct sg_table): ``sgl``, a non-empty list of
    :class:`Scatterlist`."""

    def __init__(self, nents):
        self.sgl = [Scatterlist() for _ in range(nents)]

    @property
    def mapped(self):
        """Whether dma_map_sgtable has mapped the table."""
        return self.sgl[0].dma_address is not None


async def sg_alloc_table(port, nents):
    """A table of nents empty entries (Op.SG_ALLOC_ENTRY each); fill them with sg_set_folio."""
    if nents < 1:
        raise ValueError(f"sg_alloc_table: {nents} entries (at least 1 needed)")
    await port.cpu(Op.SG_ALLOC_ENTRY, nents)
    return SgTable(nents)


def sg_set_folio(sg, folio):
    """Point a scatterlist entry at the whole of folio."""
    sg.address, sg.length = folio.address, folio.size


async def dma_map_sgtable(port, sgt):
    """Map every entry of sgt (one call, plus one IOMMU entry per scatterlist entry)."""
    if sgt.mapped:
        raise ValueError("dma_map_sgtable: the table is already mapped")
    await port.cpu(Op.DMA_MAP_SGTABLE)
    await port.cpu(Op.DMA_MAP_SG_ENTRY, len(sgt.sgl))
    for sg in sgt.sgl:
        sg.dma_address = port.iommu_map(sg.address, sg.length)


async def dma_unmap_sgtable(port, sgt):
    """Undo :func:`dma_map_sgtable`."""
    if not sgt.mapped:
        raise ValueError("dma_unmap_sgtable: the table is not mapped")
    await port.cpu(Op.DMA_UNMAP_SGTABLE)
    await port.cpu(Op.DMA_UNMAP_SG_ENTRY, len(sgt.sgl))
    await port.iommu_unmap([(sg.dma_address, sg.length) for sg in sgt.sgl])
    for sg in sgt.sgl:
        sg.dma_address = None
