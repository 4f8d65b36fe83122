"""DMA mapping (linux/dma-mapping.h, linux/scatterlist.h): make memory reachable by the device.

Every mapping goes through the platform IOMMU (``port.iommu_map``) with its DMA
direction, which gives the device the right to read (DMA_TO_DEVICE), to write
(DMA_FROM_DEVICE) or both. The DMA API's CPU cost is charged here, as the kernel
spends it; the IO page-table entries the IOMMU driver writes and clears, one per
IOMMU page, the platform charges (``port.iommu_map``, ``port.iommu_unmap``).

Mapping a scatter-gather table also lays out its DMA segments, as dma-iommu's
``__finalise_sg`` does: entries that follow each other in bus address merge into
one segment of at most the device's ``max_seg_size`` (``dma_get_max_seg_size``).
dma-iommu allocates one IOVA range per table, so there every entry follows the one
before; this model's IOVAs are the physical addresses (sim.memsys.iommu), so
entries merge where their frames are contiguous, as the folios of a batch
allocated in one go are (sim.kernel.frames).
"""
from dataclasses import dataclass

#: DMA directions (enum dma_data_direction), as the platform's IOMMU names them.
DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE = "bidirectional", "to_device", "from_device"

#: A device's DMA segment limit when its driver sets none: the PCI core's default
#: (pci_device_add: dma_set_max_seg_size(65536)); neither the PTDMA driver nor the
#: foliodma driver raises it.
DEFAULT_MAX_SEG_SIZE = 64 << 10

from .port import Op


async def dma_map_page(port, addr, size, direction=DMA_BIDIRECTIONAL):
    """Map [addr, addr+size) for the device (one IOVA range); returns its bus address."""
    await port.cpu(Op.DMA_MAP_PAGE)
    return (await port.iommu_map([(addr, size, direction)]))[0]


async def dma_unmap_page(port, dma_addr, size, direction=DMA_BIDIRECTIONAL):
    """Undo :func:`dma_map_page` (IOMMU entry removal; the platform's IOMMU adds the
    IOTLB invalidation its mode requires)."""
    await port.cpu(Op.DMA_UNMAP_PAGE)
    await port.iommu_unmap([(dma_addr, size, direction)])


@dataclass
class Scatterlist:
    """One entry of a scatter-gather table: CPU address and length; once mapped, the
    first ``nents`` entries of the table carry its DMA segments (sg_dma_address,
    sg_dma_len)."""
    address: int = 0
    length: int = 0
    dma_address: int | None = None
    dma_length: int = 0


class SgTable:
    """A scatter-gather table (struct sg_table): ``sgl``, a non-empty list of
    :class:`Scatterlist`; ``nents``, its DMA segments once mapped (0 before)."""

    def __init__(self, nents):
        self.sgl = [Scatterlist() for _ in range(nents)]
        self.nents = 0
        self._mappings = None       # (bus address, length) of each entry while mapped

    @property
    def mapped(self):
        """Whether dma_map_sgtable has mapped the table."""
        return self._mappings is not None

    def dma_segments(self):
        """(bus address, length) of each DMA segment (for_each_sgtable_dma_sg)."""
        return [(sg.dma_address, sg.dma_length) for sg in self.sgl[:self.nents]]


async def sg_alloc_table(port, nents):
    """A table of nents empty entries (Op.SG_ALLOC_ENTRY each); fill them with sg_set_folio."""
    if nents < 1:
        raise ValueError(f"sg_alloc_table: {nents} entries (at least 1 needed)")
    await port.cpu(Op.SG_ALLOC_ENTRY, nents)
    return SgTable(nents)


def sg_set_folio(sg, folio):
    """Point a scatterlist entry at the whole of folio."""
    sg.address, sg.length = folio.address, folio.size


async def dma_map_sgtable(port, sgt, direction=DMA_BIDIRECTIONAL,
                          max_seg_size=DEFAULT_MAX_SEG_SIZE):
    """Map every entry of sgt (one call, plus one IOMMU mapping per scatterlist entry)
    and lay out its DMA segments, each at most ``max_seg_size`` bytes unless one entry is
    longer (see the module docstring); ``sgt.nents`` counts them."""
    if sgt.mapped:
        raise ValueError("dma_map_sgtable: the table is already mapped")
    await port.cpu(Op.DMA_MAP_SGTABLE)
    await port.cpu(Op.DMA_MAP_SG_ENTRY, len(sgt.sgl))
    bus = await port.iommu_map([(sg.address, sg.length, direction) for sg in sgt.sgl])
    sgt._mappings = [(address, sg.length, direction) for address, sg in zip(bus, sgt.sgl)]
    segments = []
    for address, length, _ in sgt._mappings:
        if segments and sum(segments[-1]) == address and segments[-1][1] + length <= max_seg_size:
            segments[-1][1] += length
        else:
            segments.append([address, length])
    for sg, (address, length) in zip(sgt.sgl, segments + [[None, 0]] * len(sgt.sgl)):
        sg.dma_address, sg.dma_length = address, length
    sgt.nents = len(segments)


async def dma_unmap_sgtable(port, sgt):
    """Undo :func:`dma_map_sgtable`."""
    if not sgt.mapped:
        raise ValueError("dma_unmap_sgtable: the table is not mapped")
    await port.cpu(Op.DMA_UNMAP_SGTABLE)
    await port.cpu(Op.DMA_UNMAP_SG_ENTRY, len(sgt.sgl))
    await port.iommu_unmap(sgt._mappings)
    sgt._mappings = None
    sgt.nents = 0
    for sg in sgt.sgl:
        sg.dma_address, sg.dma_length = None, 0
