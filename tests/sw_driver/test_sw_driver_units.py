"""The driver stack's pure pieces, on a fake platform without the RTL.

Cookies and result mapping, folio and knob checks, the offload hook, and the
dcbm strategies over a fake provider that finishes transactions in reverse
order (newest first, one per interrupt), which the posted v3 would misread as
"all done" when the last descriptor's callback runs.
"""
import asyncio
from collections import Counter

import numpy as np
import pytest

from hw.descriptor import Status
from hw.regmap import load_regmap
from sw_driver.dcbm import Dcbm, folios_completed, paired_segments, split_evenly
from sw_driver.dma_mapping import (dma_map_sgtable, dma_unmap_sgtable, sg_alloc_table,
                                   sg_set_folio)
from sw_driver.dmaengine import (DMA_MIN_COOKIE, NOERROR, Completion, DmaAsyncTxDescriptor,
                                 DmaChan, DmaDevice, DmaEngineError, DmaengineResult, DmaStatus,
                                 DmaTransResult, dma_cookie_assign, dma_cookie_complete,
                                 dma_cookie_outstanding, dma_cookie_status,
                                 dma_request_chan, dma_sync_wait, dmaengine_desc_callback_invoke,
                                 dmaengine_prep_dma_memcpy, dmaengine_submit, request_irq)
from sw_driver.folio import PAGE_SIZE, Folio
from sw_driver.foliodma import (RESULT_OF_STATUS, FoliodmaCaps, FoliodmaDevice,
                                FoliodmaError)
from sw_driver.migrate_offload import migrate_folios_content
from sw_driver.port import Op, Port

#: The fake IOMMU maps CPU address a to bus address a + BUS_OFFSET.
BUS_OFFSET = 1 << 40
KiB = 1 << 10


class FakePort(Port):
    """A platform with a bytearray memory, 1 ns per CPU operation and scripted interrupts."""

    def __init__(self, size=1 << 20):
        self.t = 0
        self.memory = bytearray(size)
        self.ops = Counter()
        self.irq_pending = 0
        self.mapped = Counter()

    @property
    def now_ns(self):
        return self.t

    async def mmio_read(self, offset):
        raise AssertionError("the fake platform has no registers")

    async def mmio_write(self, offset, value):
        raise AssertionError("the fake platform has no registers")

    async def cpu(self, op, count=1):
        self.ops[op] += count
        self.t += count

    async def cpu_copy(self, dst, src, nbytes):
        self.ops["cpu_copy"] += 1
        self.memory[dst:dst + nbytes] = self.memory[src:src + nbytes]
        return True

    async def wait_for_irq(self, timeout_ns):
        if self.irq_pending:
            self.irq_pending -= 1
            self.t += 1
            return True
        self.t += timeout_ns
        return False

    def pending_irqs(self):
        return 1        # the one scripted device's line

    async def poll(self, condition, timeout_ns, ops=(Op.POLL_ITERATION,)):
        if condition():
            return True
        self.t += timeout_ns
        return False

    def mem_read(self, addr, nbytes):
        return bytes(self.memory[addr:addr + nbytes])

    def mem_write(self, addr, data):
        self.memory[addr:addr + len(data)] = data

    def alloc_coherent(self, nbytes, align=64, direction="bidirectional"):
        raise AssertionError("not used")

    async def iommu_map(self, ranges):
        for addr, *_ in ranges:
            self.mapped[addr] += 1
        return [addr + BUS_OFFSET for addr, *_ in ranges]

    async def iommu_unmap(self, ranges):
        for bus_addr, *_ in ranges:
            self.mapped[bus_addr - BUS_OFFSET] -= 1


class ReverseDevice(DmaDevice):
    """A provider that finishes the newest issued transaction first, one per interrupt.

    A transaction whose source address is in ``fail_src`` fails READ_FAILED.
    """

    def __init__(self, port, channels=2, fail_src=(), max_seg_size=PAGE_SIZE):
        # One page per DMA segment by default: v3 then prepares one descriptor per folio.
        super().__init__(port, [], copy_align=3, max_seg_size=max_seg_size)
        self.channels = [DmaChan(self, n) for n in range(channels)]
        for chan in self.channels:
            chan.submitted, chan.issued = [], []
        self.fail_src = set(fail_src)
        request_irq(port, self.irq_handler)

    async def device_prep_dma_memcpy(self, chan, dst, src, length, flags):
        await self.port.cpu(Op.PREP_MEMCPY)
        tx = DmaAsyncTxDescriptor(chan, flags)
        tx.dst, tx.src, tx.len = dst, src, length
        return tx

    async def device_tx_submit(self, tx):
        tx.chan.submitted.append(tx)
        return dma_cookie_assign(tx)

    async def device_issue_pending(self, chan):
        chan.issued += chan.submitted
        chan.submitted.clear()
        self.port.irq_pending = 1

    async def device_tx_status(self, chan, cookie):
        return dma_cookie_status(chan, cookie)

    def device_completion_pending(self, chan):
        return False

    async def device_terminate_all(self, chan):
        for tx in chan.issued + chan.submitted:
            dma_cookie_complete(tx, DmaengineResult(DmaTransResult.ABORTED, tx.len))
            await dmaengine_desc_callback_invoke(tx)
        chan.issued.clear()
        chan.submitted.clear()

    async def device_synchronize(self, chan):
        pass

    async def irq_handler(self):
        for chan in self.channels:
            if chan.issued:
                tx = chan.issued.pop()
                src = tx.src - BUS_OFFSET
                if src in self.fail_src:
                    result = DmaengineResult(DmaTransResult.READ_FAILED, tx.len)
                else:
                    dst = tx.dst - BUS_OFFSET
                    self.port.memory[dst:dst + tx.len] = self.port.memory[src:src + tx.len]
                    result = NOERROR
                dma_cookie_complete(tx, result)
                await dmaengine_desc_callback_invoke(tx)
        if any(chan.issued for chan in self.channels):
            self.port.irq_pending = 1


def _batch(port, sizes):
    """Source folios filled with distinct bytes, zeroed destinations after them."""
    src, dst, addr = [], [], 0
    for n, size in enumerate(sizes):
        src.append(Folio(addr, size))
        port.memory[addr:addr + size] = bytes([n + 1]) * size
        addr += size
    for size in sizes:
        dst.append(Folio(addr, size))
        addr += size
    return dst, src


def _check(port, dst, src):
    for d, s in zip(dst, src):
        assert port.mem_read(d.address, d.size) == port.mem_read(s.address, s.size)
    assert not +port.mapped, "mappings left behind"


# --------------------------------------------------------------------------
# Cookies and results
# --------------------------------------------------------------------------

def test_cookies_increase_and_completion_is_tracked_per_cookie():
    chan = DmaChan(device=None, chan_id=0)
    txs = [DmaAsyncTxDescriptor(chan, 0) for _ in range(4)]
    cookies = [dma_cookie_assign(tx) for tx in txs]
    assert cookies == [DMA_MIN_COOKIE + 1 + n for n in range(4)]
    assert dma_cookie_outstanding(chan)
    failure = DmaengineResult(DmaTransResult.WRITE_FAILED, 64)
    dma_cookie_complete(txs[3], NOERROR)         # out of order: the last one first
    dma_cookie_complete(txs[1], failure)
    statuses = [dma_cookie_status(chan, cookie)[0] for cookie in cookies]
    assert statuses == [DmaStatus.IN_PROGRESS, DmaStatus.ERROR, DmaStatus.IN_PROGRESS,
                        DmaStatus.COMPLETE]
    assert dma_cookie_status(chan, cookies[1]) == (DmaStatus.ERROR, failure)
    assert chan.completed_cookie == DMA_MIN_COOKIE
    dma_cookie_complete(txs[0], NOERROR)
    dma_cookie_complete(txs[2], NOERROR)
    assert chan.completed_cookie == cookies[-1] and not dma_cookie_outstanding(chan)
    assert dma_cookie_status(chan, cookies[1])[0] is DmaStatus.ERROR
    with pytest.raises(DmaEngineError, match="completed twice"):
        dma_cookie_complete(txs[2], NOERROR)
    with pytest.raises(ValueError, match="never assigned"):
        dma_cookie_status(chan, cookies[-1] + 1)


def test_every_failure_code_maps_to_a_result():
    failures = set(Status) - {Status.NOT_DONE, Status.SUCCESS}
    assert set(RESULT_OF_STATUS) == failures
    assert RESULT_OF_STATUS[Status.READ_DECERR] is DmaTransResult.READ_FAILED
    assert RESULT_OF_STATUS[Status.WRITE_SLVERR] is DmaTransResult.WRITE_FAILED
    assert RESULT_OF_STATUS[Status.ABORTED] is DmaTransResult.ABORTED


# --------------------------------------------------------------------------
# Folios, knobs and the offload hook
# --------------------------------------------------------------------------

def test_folio_and_knob_checks():
    with pytest.raises(ValueError, match="power-of-two"):
        Folio(0, 3 * PAGE_SIZE)
    with pytest.raises(ValueError, match="page aligned"):
        Folio(100, PAGE_SIZE)
    with pytest.raises(ValueError, match="power-of-two"):
        Folio(0, 4096.0)
    assert Folio(0, np.int64(2 * PAGE_SIZE)).size == 2 * PAGE_SIZE      # any integer type
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


# --------------------------------------------------------------------------
# Completions, dma_sync_wait, and out-of-order completion under dcbm
# --------------------------------------------------------------------------

def test_wait_for_completion_runs_the_irq_handlers_and_times_out():
    port = FakePort()
    done = Completion(port)
    calls = []

    async def handler():
        calls.append(port.t)
        if len(calls) == 2:
            done.complete()
    request_irq(port, handler)
    port.irq_pending = 1

    async def scenario():
        first = await done.wait_for_completion_timeout(1000)     # one irq, not done
        port.irq_pending = 1
        second = await done.wait_for_completion_timeout(1000)
        return first, second
    first, second = asyncio.run(scenario())
    assert first == 0 and len(calls) == 2 and 0 < second <= 1000
    assert port.ops[Op.WAKEUP] == 1


def test_dma_sync_wait_times_out_with_dma_error():
    port = FakePort()
    device = ReverseDevice(port)

    async def scenario():
        chan = await dma_request_chan(device)
        tx = await dmaengine_prep_dma_memcpy(chan, 0, 0, 64, 0)
        cookie = await dmaengine_submit(tx)
        return await dma_sync_wait(chan, cookie, timeout_ns=5000)
    assert asyncio.run(scenario()) is DmaStatus.ERROR
    assert port.t >= 5000


@pytest.mark.parametrize("strategy", ["v2", "v3"])
def test_out_of_order_completion_is_caught_by_per_transaction_checks(strategy):
    port = FakePort()
    sizes = [PAGE_SIZE, 2 * PAGE_SIZE, PAGE_SIZE, 4 * PAGE_SIZE, PAGE_SIZE]
    dst, src = _batch(port, sizes)
    device = ReverseDevice(port, channels=1, fail_src=[src[1].address])
    migrator = Dcbm(device, strategy, nr_dma_chan=1)

    async def scenario():
        await migrator.set_offloading(True)
        try:
            return await migrate_folios_content(port, dst, src)
        finally:
            await migrator.set_offloading(False)
    copied = asyncio.run(scenario()).offloaded
    _check(port, dst, src)
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


class RegisterPort(FakePort):
    """A fake platform with registers: reads return ``registers`` (0 elsewhere)."""

    def __init__(self, registers):
        super().__init__()
        self.registers = registers
        self.next_free = 0

    async def mmio_read(self, offset):
        await self.cpu(Op.POLL_ITERATION)
        return self.registers.get(offset, 0)

    async def mmio_write(self, offset, value):
        pass

    def alloc_coherent(self, nbytes, align=64, direction="bidirectional"):
        addr, self.next_free = self.next_free, self.next_free + nbytes
        return addr


@pytest.mark.parametrize("bus_status, said", [
    (0, None), (0b01, "(unexpected_r)"), (0b11, "(unexpected_r, unexpected_b)")])
def test_a_channel_timeout_says_what_bus_status_reports(bus_status, said):
    regmap = load_regmap()
    busy = regmap.register("chan[0].status").fields["busy"].insert(0, 1)
    port = RegisterPort({regmap.address("chan[0].status"): busy,
                         regmap.address("bus_status"): bus_status})
    caps = FoliodmaCaps(version=(0, 2), beat_bytes=32, channels=1, max_burst=128,
                        outstanding_reads=4, outstanding_writes=4, prefetch_depth=2,
                        buffer_depth=512)
    dev = FoliodmaDevice(port, regmap, caps, 16, channel_timeout_ns=100)
    with pytest.raises(FoliodmaError, match="channel 0: not idle after abort") as error:
        asyncio.run(dev.device_synchronize(dev.channels[0]))
    message = str(error.value)
    assert ("dropped responses it was not owed" in message) == (said is not None)
    assert said is None or message.endswith(said)
