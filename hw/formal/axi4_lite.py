"""Properties of the engine's AXI4-Lite register slave, against any master that keeps its side."""
from amaranth import Cat, Elaboratable, Module, Signal

from ..axi import RESP_OKAY
from .axi4 import held_until_ready
from .queue import counter


class AXI4LiteSlaveProperties(Elaboratable):
    """States, for the AXI4-Lite slave ``bus`` (the register block's):

    - BVALID and RVALID are held with their payload until READY;
    - exactly one B for each write (AW and W both accepted), none without
      one; exactly one R for each accepted AR, none without one;
    - every response is OKAY, as ``hw/regs.rdl`` defines (unmapped addresses
      read 0 and ignore writes).

    The master is free in everything its side allows, which is assumed:
    AW, W and AR are held with their payload until READY.
    """

    def __init__(self, bus):
        self.bus = bus

    def elaborate(self, platform):
        m = Module()
        props = platform
        bus = self.bus
        for channel, valid, ready, payload in (
                ("aw", bus.awvalid, bus.awready, Cat(bus.awaddr, bus.awprot)),
                ("w", bus.wvalid, bus.wready, Cat(bus.wdata, bus.wstrb)),
                ("ar", bus.arvalid, bus.arready, Cat(bus.araddr, bus.arprot))):
            props.assume(m, held_until_ready(m, f"lite.{channel}", valid, ready, payload),
                         f"a master holds {channel.upper()} until READY")
        props.check(m, "lite.b.held_until_ready",
                    held_until_ready(m, "lite.b", bus.bvalid, bus.bready, bus.bresp),
                    "BVALID stays high, BRESP unchanged, until BREADY")
        props.check(m, "lite.r.held_until_ready",
                    held_until_ready(m, "lite.r", bus.rvalid, bus.rready,
                                     Cat(bus.rdata, bus.rresp)),
                    "RVALID stays high, RDATA and RRESP unchanged, until RREADY")

        # Requests accepted and not yet answered, counted per direction.
        b_done = bus.bvalid & bus.bready
        r_done = bus.rvalid & bus.rready
        addresses = counter(m, 4, bus.awvalid & bus.awready, b_done, "lite_aw_unanswered")
        data = counter(m, 4, bus.wvalid & bus.wready, b_done, "lite_w_unanswered")
        reads = counter(m, 4, bus.arvalid & bus.arready, r_done, "lite_ar_unanswered")
        props.check(m, "lite.b.one_per_write",
                    (~bus.bvalid | ((addresses != 0) & (data != 0)))
                    & (addresses <= 1) & (data <= 1),
                    "a B only for a write whose AW and W were accepted, one for each")
        props.check(m, "lite.r.one_per_read", (~bus.rvalid | (reads != 0)) & (reads <= 1),
                    "an R only for an accepted AR, one for each")
        props.check(m, "lite.resp_okay",
                    (~bus.bvalid | (bus.bresp == RESP_OKAY))
                    & (~bus.rvalid | (bus.rresp == RESP_OKAY)),
                    "every response is OKAY (hw/regs.rdl: unmapped addresses read 0)")
        props.cover(m, "lite.cover.write_then_read",
                    r_done & (addresses == 0) & (data == 0) & written_before(m, b_done),
                    "a register write is answered, then a read")
        return m


def written_before(m, event):
    """High from the cycle after ``event`` first happened."""
    seen = Signal()
    with m.If(event):
        m.d.sync += seen.eq(1)
    return seen
