"""dcbm (sw_driver/dcbm.py) without the RTL: its knobs' checks, the even split, v3's pairing of
segments, and every strategy over a fake provider that finishes transactions in reverse
order (newest first, one per interrupt), which the posted v3 would misread as "all done"
when the last descriptor's callback runs."""
import asyncio

import pytest

from sw_driver.dcbm import Dcbm, folios_completed, paired_segments, split_evenly
from sw_driver.folio import PAGE_SIZE, Folio
from sw_driver.migrate_offload import migrate_folios_content
from tests.sw_driver.fakes import FakePort, ReverseDevice, batch_of, check_copied

KiB = 1 << 10


def test_knob_checks():
    device = ReverseDevice(FakePort())
    with pytest.raises(ValueError, match="unknown dcbm strategy"):
        Dcbm(device, "v4")
    with pytest.raises(ValueError, match="nr_dma_chan=17"):
        Dcbm(device, "v3", nr_dma_chan=17)
    page, huge = Folio(0, PAGE_SIZE), Folio(0, 512 * PAGE_SIZE)
    assert not Dcbm(device, "v1").can_migrate(huge, huge)
    assert Dcbm(device, "v3").can_migrate(huge, huge)
    assert not Dcbm(device, "v3").can_migrate(page, huge)


def test_split_evenly():
    assert list(split_evenly(10, 4)) == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert list(split_evenly(3, 3)) == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("strategy", ["v2", "v3"])
def test_out_of_order_completion_is_caught_by_per_transaction_checks(strategy):
    port = FakePort()
    sizes = [PAGE_SIZE, 2 * PAGE_SIZE, PAGE_SIZE, 4 * PAGE_SIZE, PAGE_SIZE]
    dst, src = batch_of(port, sizes)
    device = ReverseDevice(port, channels=1, fail_src=[src[1].address])
    migrator = Dcbm(device, strategy, nr_dma_chan=1)

    async def scenario():
        await migrator.set_offloading(True)
        try:
            return await migrate_folios_content(port, dst, src)
        finally:
            await migrator.set_offloading(False)
    copied = asyncio.run(scenario()).offloaded
    check_copied(port, dst, src)
    if strategy == "v3":
        # The last descriptor finished first and woke the waiter: only it was copied
        # by the DMA; the per-transaction check hands the others to the CPU.
        assert copied == [False, False, False, False, True]
        assert (migrator.folios_migrated, migrator.folios_failures) == (1, 4)
    else:
        # v2 counts every callback: it waits for all, and copies the failed one itself.
        assert copied == [True] * 5
        assert (migrator.folios_migrated, migrator.folios_failures) == (4, 1)
        assert port.ops["cpu_copy"] == 1


def test_v3_pairs_differently_merged_tables_and_tracks_folios_per_descriptor():
    # Sources merge into one segment, destinations into two: copies split at 12 KiB.
    assert paired_segments([(0x10000, 5 * PAGE_SIZE)],
                           [(0x80000, 3 * PAGE_SIZE), (0x90000, 2 * PAGE_SIZE)]) == [
        (0x10000, 0x80000, 3 * PAGE_SIZE, 0),
        (0x13000, 0x90000, 2 * PAGE_SIZE, 3 * PAGE_SIZE)]
    # Folios of 1, 2 and 2 pages under descriptors covering pages [0, 3) and [3, 5):
    # the second failed, so the folio it shares with nothing else is not copied.
    spans = [(0, 3 * PAGE_SIZE, True), (3 * PAGE_SIZE, 5 * PAGE_SIZE, False)]
    assert folios_completed([PAGE_SIZE, 2 * PAGE_SIZE, 2 * PAGE_SIZE], spans) == [True, True, False]
    spans = [(0, 2 * PAGE_SIZE, True), (2 * PAGE_SIZE, 5 * PAGE_SIZE, False)]
    assert folios_completed([PAGE_SIZE, 2 * PAGE_SIZE, 2 * PAGE_SIZE], spans) == [True, False, False]
