"""The engine as IP for other flows: its ports as AMBA names them, so that a vendor block
design infers its interfaces.

:class:`AmbaTop` puts :class:`hw.engine.DmaEngine` behind top-level ports named
``m_axi_awaddr``, ``s_axil_wdata``, ... (the engine's own are ``m_axi__awaddr``),
with the full AXI4 master signal set, an AXI ID width of the user's and the reset
polarity of the user's (``aresetn``, active low, as AMBA has it; or ``areset``). The
AXI4 signals the engine has no use for are driven to the constants below.
"""
from amaranth import ClockDomain, ClockSignal, Const, Elaboratable, Module, ResetSignal, Signal
from amaranth.lib.wiring import In

from .engine import DmaEngine
from .layouts import AXI_ID_WIDTH

#: AxCACHE: Normal Non-cacheable Bufferable (AMBA AXI4, A4.4): a master with no cache
#: policy of its own; the interconnect may buffer its writes.
AXI_CACHE = 0b0011
#: AxPROT: unprivileged, secure, data access (A4.7), the value of a master that makes
#: no such distinction.
AXI_PROT = 0b000
#: AxLOCK: normal accesses, never exclusive (A7.2).
AXI_LOCK = 0
#: AxQOS: no quality-of-service scheme (A8.1).
AXI_QOS = 0
#: AxREGION: one region (A8.2).
AXI_REGION = 0
#: The constant AXI4 signals of the master, per channel: name -> (width, value).
CONSTANT_SIGNALS = {"lock": (1, AXI_LOCK), "cache": (4, AXI_CACHE), "prot": (3, AXI_PROT),
                    "qos": (4, AXI_QOS), "region": (4, AXI_REGION)}
#: The widest AXI ID the export offers.
MAX_ID_WIDTH = 32


class AmbaTop(Elaboratable):
    """The engine built with ``params`` behind AMBA-named ports (see the module
    docstring). ``id_width``: the AXI ID width of the master port, from the engine's
    own (its IDs zero-extended; a compliant slave returns them, so the bits above are
    zero) to :data:`MAX_ID_WIDTH`. ``reset_active_low``: ``aresetn`` (True) or
    ``areset`` (False). :attr:`ports` lists every top-level port."""

    def __init__(self, params, *, id_width=AXI_ID_WIDTH, reset_active_low=True):
        if isinstance(id_width, bool) or not isinstance(id_width, int) \
                or not AXI_ID_WIDTH <= id_width <= MAX_ID_WIDTH:
            raise ValueError(f"id_width={id_width!r}: expected an int from the engine's "
                             f"{AXI_ID_WIDTH} to {MAX_ID_WIDTH}")
        self.params = params
        self.reset_active_low = bool(reset_active_low)
        self.id_width = id_width
        self.aclk = Signal(name="aclk")
        self.areset = Signal(name="aresetn" if self.reset_active_low else "areset")
        self._engine = DmaEngine(params)
        self._links = []             # (top-level port, engine port, into the engine)
        for path, member, value in self._engine.signature.flatten(self._engine):
            name = "_".join(path)
            width = id_width if path[-1] in ("awid", "bid", "arid", "rid") else len(value)
            self._links.append((Signal(width, name=name), value, member.flow == In))
        self._constants = [(Signal(width, name=f"m_axi_{channel}{signal}"), value)
                           for channel in ("aw", "ar")
                           for signal, (width, value) in CONSTANT_SIGNALS.items()]
        #: (port, "in" or "out") of every top-level port.
        self.directions = [(self.aclk, "in"), (self.areset, "in")] \
            + [(port, "in" if into else "out") for port, _, into in self._links] \
            + [(port, "out") for port, _ in self._constants]
        self.ports = [port for port, _ in self.directions]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.d.comb += [ClockSignal("sync").eq(self.aclk),
                     ResetSignal("sync").eq(~self.areset if self.reset_active_low
                                            else self.areset)]
        m.submodules.engine = self._engine
        for port, value, into_engine in self._links:
            m.d.comb += value.eq(port) if into_engine else port.eq(value)
        for port, value in self._constants:
            m.d.comb += port.eq(Const(value, len(port)))
        return m


def amba_verilog(top, name="foliodma_engine"):
    """The Verilog of the :class:`AmbaTop` ``top`` as module ``name`` (no source
    attributes: no path of the machine that built it)."""
    from amaranth.back import verilog
    return verilog.convert(top, name=name, ports=top.ports, emit_src=False)
