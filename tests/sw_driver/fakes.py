"""Fakes of the driver stack's tests: a platform with a bytearray memory and scripted
interrupts, one with registers, and a provider that finishes transactions newest first."""
from collections import Counter

from sw_driver.dmaengine import (NOERROR, DmaAsyncTxDescriptor, DmaChan, DmaDevice,
                                 DmaengineResult, DmaTransResult, dma_cookie_assign,
                                 dma_cookie_complete, dma_cookie_status,
                                 dmaengine_desc_callback_invoke, request_irq)
from sw_driver.folio import PAGE_SIZE, Folio
from sw_driver.port import Op, Port

#: The fake IOMMU maps CPU address a to bus address a + BUS_OFFSET.
BUS_OFFSET = 1 << 40


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


def batch_of(port, sizes):
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


def check_copied(port, dst, src):
    for d, s in zip(dst, src):
        assert port.mem_read(d.address, d.size) == port.mem_read(s.address, s.size)
    assert not +port.mapped, "mappings left behind"


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
