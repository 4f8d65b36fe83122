"""Per-channel performance counters (DESCS, BYTES, BUSY, RD_WAIT, WR_WAIT)."""
from amaranth import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .layouts import RECORD_FIELD_BITS

#: Each counter and its 32-bit registers, low word first.
COUNTERS = {
    "descs": ("descs",),
    "bytes": ("bytes_lo", "bytes_hi"),
    "busy": ("busy_lo", "busy_hi"),
    "rd_wait": ("rd_wait_lo", "rd_wait_hi"),
    "wr_wait": ("wr_wait_lo", "wr_wait_hi"),
}
REGISTER_BITS = 32


class PerfCounters(wiring.Component):
    """Free-running counters of every channel, wrapping around.

    Each cycle, every counter adds what its ``add_<counter>`` input held one
    cycle earlier (the increment is registered, so that the counter's carry
    chain starts at a register): ``add_descs`` and the cycle flags
    ``add_busy``, ``add_rd_wait``, ``add_wr_wait`` add 1, ``add_bytes`` its
    value. A counter is read as its registers (outputs named as in
    :data:`COUNTERS`). ``counting`` is high while a channel has an increment
    still to be added.
    """

    def __init__(self, channels):
        self.channels = n = channels
        ports = {
            "add_descs": In(n),
            "add_bytes": In(data.ArrayLayout(RECORD_FIELD_BITS["bytes"], n)),
            "add_busy": In(n),
            "add_rd_wait": In(n),
            "add_wr_wait": In(n),
            "counting": Out(n),
        }
        for registers in COUNTERS.values():
            for register in registers:
                ports[register] = Out(data.ArrayLayout(REGISTER_BITS, n))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        for c in range(self.channels):
            registered = []
            for name, registers in COUNTERS.items():
                add = getattr(self, f"add_{name}")[c]
                increment = Signal.like(add, name=f"chan{c}_{name}_increment")
                counter = Cat(*(getattr(self, register)[c] for register in registers))
                m.d.sync += [increment.eq(add), counter.eq(counter + increment)]
                registered.append(increment)
            m.d.comb += self.counting[c].eq(Cat(registered).any())
        return m
