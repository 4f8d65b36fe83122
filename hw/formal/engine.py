"""The engine as a formal proof sees it: its ports free, its properties stated."""
from amaranth import Elaboratable, Module, ResetSignal
from amaranth.lib.wiring import In

from ..engine import DmaEngine
from ..params import EngineParams
from .axi4 import AXI4MasterProperties
from .axi4_lite import AXI4LiteSlaveProperties

#: The configuration proved: the smallest of every parameter that still exercises
#: its mechanism (64-bit beats, so a descriptor fetch is 4 beats and a burst of 4
#: beats is cut at 4 KiB boundaries of 32-byte bursts; two reads and two writes in
#: flight, so that queues fill and refuse; a 16-beat buffer, the least allowed; one
#: descriptor prefetched). Solver time grows with every register bit, hence small.
FORMAL_ENGINE = EngineParams(data_width=64, channels=1, max_burst=4, outstanding_reads=2,
                             outstanding_writes=2, buffer_depth=16, prefetch_depth=1)

#: Named configurations of ``foliodma formal --config``.
FORMAL_CONFIGS = {
    "small": FORMAL_ENGINE,
    "small-2ch": EngineParams(**{**FORMAL_ENGINE.as_dict(), "channels": 2}),
}


class FormalEngine(Elaboratable):
    """:class:`hw.engine.DmaEngine` with every port free (a solver drives the inputs:
    any register master, any memory slave, each kept to its side of the protocol
    by the assumptions of the bus properties) and out of reset from the first
    cycle (every register starts at its reset value). Elaborate it with a
    :class:`hw.formal.properties.Properties` as the platform; the components
    state their own properties through it.
    """

    def __init__(self, params=FORMAL_ENGINE):
        self.params = params
        self.engine = DmaEngine(params)

    def ports(self):
        """The engine's inputs: the top-level ports of the proof, free for the solver.
        Its outputs are left inside, so that Yosys removes the logic that drives only
        outputs no property looks at (a proof of one property carries only its cone)."""
        return [signal for _, member, signal in self.engine.signature.flatten(self.engine)
                if member.flow == In]

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = engine = self.engine
        m.submodules.m_axi = AXI4MasterProperties(engine.m_axi, self.params)
        m.submodules.s_axil = AXI4LiteSlaveProperties(engine.s_axil)
        platform.assume(m, ~ResetSignal(), "the registers' reset values are the initial state")
        return m
