"""The engine with two data pins, to place it on FPGAs whose nextpnr has no out-of-context
mode (:mod:`hw.fpga`).

The engine's ports (an AXI4 master, an AXI4-Lite slave, an interrupt: hundreds of
bits) would need as many package pins. :class:`PinWrapper` drives every input from a
shift register fed by the ``sin`` pin and folds every output, by XOR, into one
flip-flop on the ``sout`` pin: no port is constant and none is left unread, so
synthesis keeps all of the engine, and its paths start and end at flip-flops as they
would inside a larger design. What the wrapper adds is one flip-flop per input bit,
the XOR tree of the output bits and one flip-flop; a placed design's cells count them
(:func:`wrapper_cells` says how many of each).
"""
from amaranth import Cat, Elaboratable, Module, Signal
from amaranth.lib.wiring import In

from .engine import DmaEngine


def engine_port_widths(engine):
    """(input bits, output bits) of the engine's ports."""
    widths = {True: 0, False: 0}
    for _, member, value in engine.signature.flatten(engine):
        widths[member.flow == In] += len(value)
    return widths[True], widths[False]


class PinWrapper(Elaboratable):
    """:class:`~hw.engine.DmaEngine` built with ``params``, behind the pins ``sin`` and
    ``sout`` (and the sync domain's clk and rst)."""

    def __init__(self, params):
        self.params = params
        self.sin = Signal()
        self.sout = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = engine = DmaEngine(self.params)
        inputs, outputs = [], []
        for _, member, value in engine.signature.flatten(engine):
            (inputs if member.flow == In else outputs).append(value)
        chain = Signal(sum(len(value) for value in inputs))
        m.d.sync += chain.eq(Cat(self.sin, chain[:-1]))
        at = 0
        for value in inputs:
            m.d.comb += value.eq(chain[at:at + len(value)])
            at += len(value)
        folded = Signal()
        m.d.sync += folded.eq(Cat(*outputs).xor())
        m.d.comb += self.sout.eq(folded)
        return m


def wrapper_cells(params):
    """What the wrapper adds: flip-flops (the input shift register and the folded
    output) and the output bits its XOR tree reads."""
    inputs, outputs = engine_port_widths(DmaEngine(params))
    return {"flip-flops": inputs + 1, "xor inputs": outputs}
