"""Interrupt status, enables and coalescing of the done interrupt."""
from amaranth import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .formal.properties import stating
from .regblock import register_write

#: Widths of IRQ_COAL.count and IRQ_COAL.timer.
COUNT_BITS = 8
TIMER_BITS = 24


class InterruptControl(wiring.Component):
    """INT_STATUS of every channel and the level interrupt ``interrupt``.

    ``halt`` sets a channel's ``error`` bit at once. Completions that ask
    for an interrupt (``completion``) are coalesced per channel: the ``done``
    bit is set by the one that makes ``coal_count`` of them unsignalled (0
    counts as 1), or when ``coal_timer`` cycles have passed since the first
    unsignalled one (0: no timer); either way the count and the timer start
    over. ``timing`` is high while a channel's timer runs. ``flush`` (a channel
    reset) drops a channel's unsignalled count and stops its timer: a reset
    leaves no ``done`` behind, even in the cycle the timer would have run out.

    ``clear_done`` and ``clear_error`` carry software's writes of INT_STATUS:
    each payload bit of 1 clears that channel's bit, unless the same cycle
    sets it again. ``interrupt`` is high while any ``done`` bit with its
    ``enable_done`` bit, or any ``error`` bit with its ``enable_error`` bit,
    is set.
    """

    def __init__(self, channels):
        self.channels = n = channels
        super().__init__({
            "completion": In(n),
            "halt": In(n),
            "flush": In(n),
            "coal_count": In(COUNT_BITS),
            "coal_timer": In(TIMER_BITS),
            "enable_done": In(n),
            "enable_error": In(n),
            "clear_done": In(register_write(n)),
            "clear_error": In(register_write(n)),
            "done": Out(n),
            "error": Out(n),
            "timing": Out(n),
            "interrupt": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.channels
        m.d.comb += self.interrupt.eq(((self.done & self.enable_done) != 0)
                                      | ((self.error & self.enable_error) != 0))
        set_done = Signal(n)
        clear_done = Mux(self.clear_done.valid, self.clear_done.payload, 0)
        clear_error = Mux(self.clear_error.valid, self.clear_error.payload, 0)
        m.d.sync += [self.done.eq((self.done & ~clear_done) | set_done),
                     self.error.eq((self.error & ~clear_error) | self.halt)]

        threshold = Mux(self.coal_count == 0, 1, self.coal_count)
        pending = Signal(data.ArrayLayout(COUNT_BITS, n))
        timer = Signal(data.ArrayLayout(TIMER_BITS, n))
        for c in range(n):
            counted = self.completion[c]
            m.d.comb += self.timing[c].eq(timer[c] != 0)
            with m.If(self.flush[c]):
                m.d.sync += [pending[c].eq(0), timer[c].eq(0)]
            with m.Else():
                with m.If(timer[c] != 0):
                    m.d.sync += timer[c].eq(timer[c] - 1)
                with m.If((timer[c] == 1) | (counted & (pending[c] + 1 >= threshold))):
                    m.d.sync += [pending[c].eq(0), timer[c].eq(0)]
                    m.d.comb += set_done[c].eq(1)
                with m.Elif(counted):
                    m.d.sync += pending[c].eq(pending[c] + 1)
                    with m.If(pending[c] == 0):
                        m.d.sync += timer[c].eq(self.coal_timer)
        props = stating(platform)
        if props:
            for c in range(n):
                flushed = Signal(name=f"flushed{c}")
                done_before = Signal(name=f"done{c}_before")
                m.d.sync += [flushed.eq(self.flush[c]), done_before.eq(self.done[c])]
                props.check(m, f"interrupts{c}.reset_leaves_nothing",
                            ~flushed | ((pending[c] == 0) & (timer[c] == 0)
                                        & ~(self.done[c] & ~done_before)),
                            "after a channel reset no unsignalled count, no running timer, "
                            "and no done interrupt raised by either")
        return m
