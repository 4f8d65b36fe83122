"""An 8N1 UART: a receiver and a transmitter of bytes as streams.

Both count ``divisor`` clock cycles per bit (the board's clock over the baud rate:
25 at 25 MHz for 1 Mbaud). A frame is a start bit (0), eight data bits, least
significant first, and a stop bit (1); the line idles high.

:class:`UartRx` synchronizes the pin through two flip-flops, waits half a bit
after the falling edge of the start bit, checks it is still low (a shorter glitch
is ignored) and then samples each bit in its middle. A frame whose stop bit reads
0 is dropped. A byte the consumer has not taken when the next one is complete is
overwritten: put a FIFO behind it when the consumer may stall.

:class:`UartTx` sends each byte of its stream as one frame, back to back.
"""
from amaranth import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

#: Fewest cycles per bit: the receiver samples the middle of a bit and needs a
#: cycle on each side of it.
MIN_DIVISOR = 4
#: Bits on the line per byte (start, 8 data, stop).
FRAME_BITS = 10


def check_divisor(divisor):
    """``divisor`` if it is an int of at least :data:`MIN_DIVISOR`, else ValueError."""
    if not (isinstance(divisor, int) and divisor >= MIN_DIVISOR):
        raise ValueError(f"UART divisor {divisor!r}: expected an int >= {MIN_DIVISOR} "
                         f"(clock cycles per bit)")
    return divisor


class UartRx(wiring.Component):
    """The ``rx`` pin to a stream of bytes (``data``); ``divisor`` cycles per bit."""

    def __init__(self, divisor):
        self.divisor = check_divisor(divisor)
        super().__init__({"rx": In(1, init=1), "data": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        divisor = self.divisor
        meta = Signal(init=1)
        line = Signal(init=1)
        m.d.sync += [meta.eq(self.rx), line.eq(meta)]

        timer = Signal(range(divisor))
        bits = Signal(range(8))
        shift = Signal(8)
        with m.If(self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(divisor - 1), bits.eq(0)]
                    with m.If(line):                    # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), timer.eq(divisor - 1),
                                 bits.eq(bits + 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.sync += [self.data.valid.eq(1), self.data.payload.eq(shift)]
                        m.next = "IDLE"
                    with m.Else():                      # framing error: wait for idle
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """A stream of bytes (``data``) to the ``tx`` pin; ``divisor`` cycles per bit."""

    def __init__(self, divisor):
        self.divisor = check_divisor(divisor)
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        divisor = self.divisor
        busy = Signal()
        timer = Signal(range(divisor))
        left = Signal(range(FRAME_BITS))         # bits still to put on the line
        shift = Signal(FRAME_BITS - 1)           # the data bits, then the stop bit
        bit_done = Signal()
        m.d.comb += [bit_done.eq(timer == 0),
                     # The next frame may start as the stop bit of this one ends.
                     self.data.ready.eq(~busy | (bit_done & (left == 0)))]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [self.tx.eq(0), shift.eq(Cat(self.data.payload, Const(1, 1))),
                         left.eq(FRAME_BITS - 1), timer.eq(divisor - 1), busy.eq(1)]
        with m.Elif(busy):
            m.d.sync += timer.eq(timer - 1)
            with m.If(bit_done):
                m.d.sync += timer.eq(divisor - 1)
                with m.If(left == 0):
                    m.d.sync += [busy.eq(0), self.tx.eq(1)]
                with m.Else():
                    m.d.sync += [self.tx.eq(shift[0]), shift.eq(shift >> 1),
                                 left.eq(left - 1)]
        return m
