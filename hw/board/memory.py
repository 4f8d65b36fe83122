"""The board's on-chip memory: block RAM behind an AXI4 slave, with a word port for
the bridge.

The RAM is one row per data beat (the engine's bus width), with a read port and a
byte-enabled write port (a simple dual-port block RAM on an FPGA). The AXI4 slave
serves one read burst and one write burst at a time, at one beat per cycle each
way:

- INCR bursts of full-width beats (AxSIZE = the beat), as the engine issues them;
  a burst of another size or type is answered SLVERR and nothing is written.
- Bursts never cross a 4 KiB boundary (AXI4 forbids it): the beat address counts
  within its 4 KiB page.
- Addresses at or above the memory's size are answered DECERR (the memory's size is
  a power of two and at least 4 KiB, so a burst is wholly inside or outside it).

The bridge's port (:data:`BridgePortSignature`) reads and writes 32-bit words,
one at a time: ``req`` held with ``we``, ``addr`` (a word address) and ``wdata``
until ``ack``; a read's word is on ``rdata`` in the ``ack`` cycle. Its writes
take the write port before the AXI4 slave's (``wready`` drops for that cycle);
its reads wait until the AXI4 read channel holds no beat, and stop the slave from
issuing the next one meanwhile, so that the RAM's read port is free.
"""
from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.axi import AXI4Signature, BURST_INCR, RESP_DECERR, RESP_OKAY, RESP_SLVERR
from hw.params import AXI_BOUNDARY_BYTES

WORD_BYTES = 4


def word_address_bits(size):
    """Bits of a 32-bit word's address in a memory of ``size`` bytes."""
    return (size // WORD_BYTES).bit_length() - 1


def check_size(size):
    """``size`` if it is a power of two of at least 4 KiB, else ValueError."""
    if not (isinstance(size, int) and size >= AXI_BOUNDARY_BYTES and not size & (size - 1)):
        raise ValueError(f"memory size {size!r}: expected a power of two of at least "
                         f"{AXI_BOUNDARY_BYTES} bytes")
    return size


class BridgePortSignature(wiring.Signature):
    """The bridge's word access to the memory (the bridge's view)."""

    def __init__(self, addr_width):
        super().__init__({"req": Out(1), "we": Out(1), "addr": Out(addr_width),
                          "wdata": Out(32), "ack": In(1), "rdata": In(32)})


class BoardMemory(wiring.Component):
    """``size`` bytes of RAM (see the module docstring) for an AXI4 master of
    ``data_width`` bits, ``addr_width``-bit addresses and ``id_width``-bit IDs."""

    def __init__(self, *, size, data_width, addr_width, id_width):
        self.size = check_size(size)
        self.data_width = data_width
        self.beat_bytes = data_width // 8
        super().__init__({
            "axi": In(AXI4Signature(addr_width=addr_width, data_width=data_width,
                                    id_width=id_width)),
            "bridge": In(BridgePortSignature(word_address_bits(size))),
        })

    def elaborate(self, platform):
        m = Module()
        rows = self.size // self.beat_bytes
        m.submodules.ram = ram = Memory(shape=unsigned(self.data_width), depth=rows, init=[])
        rd = ram.read_port()
        wr = ram.write_port(granularity=8)
        self._write_side(m, wr)
        self._read_side(m, rd)
        return m

    def _burst_check(self, addr, size, burst):
        """The response of a whole burst from its address, AxSIZE and AxBURST."""
        beat_shift = self.beat_bytes.bit_length() - 1
        outside = addr[self.size.bit_length() - 1:].any()
        unsupported = (size != beat_shift) | (burst != BURST_INCR)
        return Mux(outside, RESP_DECERR, Mux(unsupported, RESP_SLVERR, RESP_OKAY))

    def _row(self, addr):
        """The RAM row of a byte address inside the memory."""
        return addr[self.beat_bytes.bit_length() - 1:self.size.bit_length() - 1]

    def _lanes(self):
        """(lane of the bridge's word within a row, its bytes' write enables)."""
        lanes = self.beat_bytes // WORD_BYTES
        lane = self.bridge.addr[:lanes.bit_length() - 1] if lanes > 1 else 0
        return lane, lanes

    def _write_side(self, m, wr):
        axi, bridge = self.axi, self.bridge
        row = Signal.like(wr.addr)
        resp = Signal(2)
        page_rows = AXI_BOUNDARY_BYTES // self.beat_bytes
        bridge_write = Signal()
        m.d.comb += bridge_write.eq(bridge.req & bridge.we)
        with m.FSM(name="write"):
            with m.State("ADDRESS"):
                m.d.comb += axi.awready.eq(1)
                with m.If(axi.awvalid):
                    m.d.sync += [row.eq(self._row(axi.awaddr)), axi.bid.eq(axi.awid),
                                 resp.eq(self._burst_check(axi.awaddr, axi.awsize,
                                                           axi.awburst))]
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += axi.wready.eq(~bridge_write)
                with m.If(axi.wvalid & ~bridge_write):
                    with m.If(resp == RESP_OKAY):
                        m.d.comb += [wr.addr.eq(row), wr.data.eq(axi.wdata),
                                     wr.en.eq(axi.wstrb)]
                    # The row counts within its 4 KiB page.
                    m.d.sync += row.eq(Cat((row + 1)[:(page_rows - 1).bit_length()],
                                           row[(page_rows - 1).bit_length():]))
                    with m.If(axi.wlast):
                        m.d.sync += [axi.bvalid.eq(1), axi.bresp.eq(resp)]
                        m.next = "RESPONSE"
            with m.State("RESPONSE"):
                with m.If(axi.bready):
                    m.d.sync += axi.bvalid.eq(0)
                    m.next = "ADDRESS"

        lane, lanes = self._lanes()
        with m.If(bridge_write):
            m.d.comb += [wr.addr.eq(bridge.addr[(lanes.bit_length() - 1):]),
                         wr.data.eq(bridge.wdata.replicate(lanes)),
                         wr.en.eq(Const(0xF, WORD_BYTES) << (lane * WORD_BYTES)),
                         bridge.ack.eq(1)]

    def _read_side(self, m, rd):
        axi, bridge = self.axi, self.bridge
        row = Signal.like(rd.addr)
        resp = Signal(2)
        left = Signal(8)
        page_rows = AXI_BOUNDARY_BYTES // self.beat_bytes
        bridge_read, granted, issuing = Signal(), Signal(), Signal()
        # The R channel's beat is the read port's data, held (en low) until taken.
        advance = ~axi.rvalid | axi.rready
        m.d.comb += [bridge_read.eq(bridge.req & ~bridge.we),
                     rd.en.eq(advance), rd.addr.eq(row), axi.rdata.eq(rd.data)]
        with m.If(advance):
            m.d.sync += axi.rvalid.eq(issuing)
        with m.If(advance & issuing):
            m.d.sync += [axi.rlast.eq(left == 0), axi.rresp.eq(resp), left.eq(left - 1),
                         row.eq(Cat((row + 1)[:(page_rows - 1).bit_length()],
                                    row[(page_rows - 1).bit_length():]))]
        with m.FSM(name="read"):
            with m.State("ADDRESS"):
                m.d.comb += axi.arready.eq(1)
                with m.If(axi.arvalid):
                    m.d.sync += [row.eq(self._row(axi.araddr)), axi.rid.eq(axi.arid),
                                 left.eq(axi.arlen),
                                 resp.eq(self._burst_check(axi.araddr, axi.arsize,
                                                           axi.arburst))]
                    m.next = "BURST"
            with m.State("BURST"):
                m.d.comb += issuing.eq(~bridge_read)
                with m.If(advance & issuing & (left == 0)):
                    m.next = "ADDRESS"

        # The bridge's read: once no beat is held, it takes the port for a cycle; the
        # word is there the cycle after.
        lane, lanes = self._lanes()
        grant = Signal()
        lane_now = Signal.like(lane) if lanes > 1 else None
        m.d.comb += grant.eq(bridge_read & ~axi.rvalid & ~granted)
        m.d.sync += granted.eq(grant)
        with m.If(grant):
            m.d.comb += [rd.en.eq(1), rd.addr.eq(bridge.addr[(lanes.bit_length() - 1):])]
        words = [rd.data[32 * k:32 * (k + 1)] for k in range(lanes)]
        if lane_now is not None:
            m.d.sync += lane_now.eq(lane)
            m.d.comb += bridge.rdata.eq(Cat(*words).word_select(lane_now, 32))
        else:
            m.d.comb += bridge.rdata.eq(words[0])
        with m.If(granted):
            m.d.comb += bridge.ack.eq(1)
