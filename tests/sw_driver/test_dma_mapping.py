"""Streaming DMA mappings (sw_driver/dma_mapping.py) on the fake platform's IOMMU."""
import asyncio

from sw_driver.dma_mapping import (dma_map_sgtable, dma_unmap_sgtable, sg_alloc_table,
                                   sg_set_folio)
from sw_driver.folio import PAGE_SIZE, Folio
from tests.sw_driver.fakes import BUS_OFFSET, FakePort

KiB = 1 << 10


def test_dma_map_sgtable_merges_contiguous_entries_up_to_the_segment_limit():
    port = FakePort()
    # Four folios back to back, then a gap, then one more (addresses in pages).
    pages = [(0, 1), (1, 2), (3, 1), (4, 1), (9, 1)]

    async def mapped(max_seg_size):
        sgt = await sg_alloc_table(port, len(pages))
        for sg, (page, count) in zip(sgt.sgl, pages):
            sg_set_folio(sg, Folio(page * PAGE_SIZE, count * PAGE_SIZE))
        await dma_map_sgtable(port, sgt, max_seg_size=max_seg_size)
        segments = sgt.dma_segments()
        await dma_unmap_sgtable(port, sgt)
        assert not sgt.mapped and sgt.nents == 0
        return [((addr - BUS_OFFSET) // PAGE_SIZE, length // PAGE_SIZE)
                for addr, length in segments]
    assert asyncio.run(mapped(64 * KiB)) == [(0, 5), (9, 1)]
    assert asyncio.run(mapped(3 * PAGE_SIZE)) == [(0, 3), (3, 2), (9, 1)]
    # An entry longer than the limit stays one segment; nothing merges at one page.
    assert asyncio.run(mapped(PAGE_SIZE)) == [(0, 1), (1, 2), (3, 1), (4, 1), (9, 1)]
    assert not any(port.mapped.values())          # every entry unmapped again
