"""A tiny DUT with the engine's interface, and scenarios for it; only for the backend tests.

:class:`StandInCopier` copies one AXI4 burst from SRC to DST when GO is
written, then raises irq. Registers (32-bit, on s_axil):

    0x00/0x04  SRC low/high      0x08/0x0C  DST low/high
    0x10       beats - 1 (0..15) 0x14       write bit 0: start (ignored while busy)
    0x18       status: bit 0 busy, bit 1 done (= irq), bits 5:4 worst R/B response;
               any write clears done
    other      SLVERR
"""
import numpy as np
from amaranth import Array, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.axi import BURST_INCR, RESP_SLVERR, AXI4LiteSignature, AXI4Signature
from hw.regmap import REG_ADDR_WIDTH

MAX_BEATS = 16


class StandInCopier(wiring.Component):
    """Copies one INCR burst (AR, all R beats, then AW and W beats, then B) per GO."""

    def __init__(self, data_width=64):
        self.data_width = data_width
        super().__init__({
            "s_axil": In(AXI4LiteSignature(addr_width=REG_ADDR_WIDTH)),
            "m_axi": Out(AXI4Signature(addr_width=64, data_width=data_width, id_width=1)),
            "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        s, ax = self.s_axil, self.m_axi
        src, dst = Signal(64), Signal(64)
        last_beat = Signal(range(MAX_BEATS))
        busy, done, go = Signal(), Signal(), Signal()
        worst = Signal(2)
        buffer = Array(Signal(self.data_width, name=f"beat{i}") for i in range(MAX_BEATS))
        index = Signal(range(MAX_BEATS))
        m.d.comb += self.irq.eq(done)

        # AXI4-Lite writes: AW and W taken together, one B outstanding.
        write = Signal()
        m.d.comb += [write.eq(s.awvalid & s.wvalid & ~s.bvalid),
                     s.awready.eq(write), s.wready.eq(write)]
        m.d.sync += go.eq(0)
        with m.If(s.bvalid & s.bready):
            m.d.sync += s.bvalid.eq(0)
        with m.If(write):
            m.d.sync += [s.bvalid.eq(1), s.bresp.eq(0)]
            with m.Switch(s.awaddr):
                with m.Case(0x00):
                    m.d.sync += src[:32].eq(s.wdata)
                with m.Case(0x04):
                    m.d.sync += src[32:].eq(s.wdata)
                with m.Case(0x08):
                    m.d.sync += dst[:32].eq(s.wdata)
                with m.Case(0x0C):
                    m.d.sync += dst[32:].eq(s.wdata)
                with m.Case(0x10):
                    m.d.sync += last_beat.eq(s.wdata)
                with m.Case(0x14):
                    m.d.sync += go.eq(s.wdata[0] & ~busy)
                with m.Case(0x18):
                    m.d.sync += done.eq(0)
                with m.Default():
                    m.d.sync += s.bresp.eq(RESP_SLVERR)

        # AXI4-Lite reads.
        read = Signal()
        m.d.comb += [read.eq(s.arvalid & ~s.rvalid), s.arready.eq(read)]
        with m.If(s.rvalid & s.rready):
            m.d.sync += s.rvalid.eq(0)
        with m.If(read):
            m.d.sync += [s.rvalid.eq(1), s.rresp.eq(0), s.rdata.eq(0)]
            with m.Switch(s.araddr):
                for addr, value in ((0x00, src[:32]), (0x04, src[32:]), (0x08, dst[:32]),
                                    (0x0C, dst[32:]), (0x10, last_beat)):
                    with m.Case(addr):
                        m.d.sync += s.rdata.eq(value)
                with m.Case(0x18):
                    m.d.sync += s.rdata.eq(busy | (done << 1) | (worst << 4))
                with m.Case(0x14):
                    pass
                with m.Default():
                    m.d.sync += s.rresp.eq(RESP_SLVERR)

        # The copy.
        size = (self.data_width // 8).bit_length() - 1
        m.d.comb += [
            ax.araddr.eq(src), ax.arlen.eq(last_beat), ax.arsize.eq(size),
            ax.arburst.eq(BURST_INCR),
            ax.awaddr.eq(dst), ax.awlen.eq(last_beat), ax.awsize.eq(size),
            ax.awburst.eq(BURST_INCR),
            ax.wdata.eq(buffer[index]), ax.wstrb.eq(-1), ax.wlast.eq(index == last_beat),
        ]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(go):
                    m.d.sync += [busy.eq(1), worst.eq(0), index.eq(0)]
                    m.next = "AR"
            with m.State("AR"):
                m.d.comb += ax.arvalid.eq(1)
                with m.If(ax.arready):
                    m.next = "R"
            with m.State("R"):
                m.d.comb += ax.rready.eq(1)
                with m.If(ax.rvalid):
                    m.d.sync += [buffer[index].eq(ax.rdata), index.eq(index + 1)]
                    with m.If(ax.rresp > worst):
                        m.d.sync += worst.eq(ax.rresp)
                    with m.If(ax.rlast):
                        m.d.sync += index.eq(0)
                        m.next = "AW"
            with m.State("AW"):
                m.d.comb += ax.awvalid.eq(1)
                with m.If(ax.awready):
                    m.next = "W"
            with m.State("W"):
                m.d.comb += ax.wvalid.eq(1)
                with m.If(ax.wready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(ax.wlast):
                        m.next = "B"
            with m.State("B"):
                m.d.comb += ax.bready.eq(1)
                with m.If(ax.bvalid):
                    with m.If(ax.bresp > worst):
                        m.d.sync += worst.eq(ax.bresp)
                    m.d.sync += [busy.eq(0), done.eq(1)]
                    m.next = "IDLE"
        return m


async def program_copy(dev, src, dst, beats):
    """Write the stand-in's registers and start a copy of `beats` beats."""
    for addr, value in ((0x00, src), (0x04, src >> 32), (0x08, dst), (0x0C, dst >> 32)):
        await dev.mmio_write(addr, value & 0xFFFF_FFFF)
    await dev.mmio_write(0x10, beats - 1)
    await dev.mmio_write(0x14, 1)


async def copy_scenario(dev, *, src, dst, beats, seed, expect_copy=True):
    """Copy random data once; returns timings, status and the AXI handshake logs."""
    nbytes = beats * dev.axi.beat_bytes
    data = dev.memory.fill_random(src, nbytes, np.random.default_rng(seed))
    await program_copy(dev, src, dst, beats)
    started = dev.cycle
    copied_at = None
    if expect_copy:
        await dev.wait_until(lambda: dev.memory.read(dst, nbytes) == data, 2000, poll_cycles=1)
        copied_at = dev.cycle
    if not await dev.wait_irq(2000):
        raise TimeoutError("the stand-in never raised irq")
    irq_at = dev.cycle
    status = await dev.mmio_read(0x18)
    await dev.mmio_write(0x18, 0)
    return {"started": started, "copied_at": copied_at, "irq_at": irq_at, "status": status,
            "irq_after_clear": dev.irq, "end": dev.cycle,
            "ar": dev.axi.ar_log, "aw": dev.axi.aw_log, "w": dev.axi.w_log}


async def failing_scenario(dev, *, message):
    """Fails after some bus traffic, with `message`."""
    await dev.mmio_write(0x10, 3)
    raise AssertionError(message)


async def never_scenario(dev):
    """Waits for a condition that never holds."""
    await dev.wait_until(lambda: False, 50, poll_cycles=7)


async def bad_register_scenario(dev):
    """Reads an unmapped register: the SLVERR must surface as an exception."""
    await dev.mmio_read(0x100)


async def repeat_copies(dev, *, src, dst, beats, count):
    """`count` back-to-back copies (for throughput measurements); returns cycles used."""
    for _ in range(count):
        await program_copy(dev, src, dst, beats)
        if not await dev.wait_irq(10_000):
            raise TimeoutError("the stand-in never raised irq")
        await dev.mmio_write(0x18, 0)
    return dev.cycle
