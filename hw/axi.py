"""AXI4 and AXI4-Lite signatures (master view), with the standard flat names.

Member names follow the AXI specification (``araddr``, ``rvalid``...), so the
engine's Verilog ports, as the simulation back-ends convert it, read ``m_axi__araddr``
and cocotbext-axi finds them with ``AxiBus.from_prefix(dut, "m_axi",
bus_separator="__")``; the export for other flows renames them as AMBA does
(``m_axi_araddr``, :mod:`hw.amba`).
"""
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

RESP_OKAY, RESP_EXOKAY, RESP_SLVERR, RESP_DECERR = 0, 1, 2, 3
BURST_INCR = 1


class AXI4Signature(wiring.Signature):
    """AXI4 master: AW/W/B/AR/R with INCR bursts. Flip it for a slave."""

    def __init__(self, *, addr_width, data_width, id_width):
        self.addr_width, self.data_width, self.id_width = addr_width, data_width, id_width
        super().__init__({
            "awvalid": Out(1), "awready": In(1), "awid": Out(id_width),
            "awaddr": Out(addr_width), "awlen": Out(8), "awsize": Out(3), "awburst": Out(2),
            "wvalid": Out(1), "wready": In(1), "wdata": Out(data_width),
            "wstrb": Out(data_width // 8), "wlast": Out(1),
            "bvalid": In(1), "bready": Out(1), "bid": In(id_width), "bresp": In(2),
            "arvalid": Out(1), "arready": In(1), "arid": Out(id_width),
            "araddr": Out(addr_width), "arlen": Out(8), "arsize": Out(3), "arburst": Out(2),
            "rvalid": In(1), "rready": Out(1), "rid": In(id_width), "rdata": In(data_width),
            "rresp": In(2), "rlast": In(1),
        })


class AXI4LiteSignature(wiring.Signature):
    """AXI4-Lite master with 32-bit data. Flip it for a slave (register block)."""

    def __init__(self, *, addr_width):
        self.addr_width = addr_width
        super().__init__({
            "awvalid": Out(1), "awready": In(1), "awaddr": Out(addr_width), "awprot": Out(3),
            "wvalid": Out(1), "wready": In(1), "wdata": Out(32), "wstrb": Out(4),
            "bvalid": In(1), "bready": Out(1), "bresp": In(2),
            "arvalid": Out(1), "arready": In(1), "araddr": Out(addr_width), "arprot": Out(3),
            "rvalid": In(1), "rready": Out(1), "rdata": In(32), "rresp": In(2),
        })
