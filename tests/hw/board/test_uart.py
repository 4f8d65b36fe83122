"""The 8N1 UART in Amaranth's simulator: frames on the line, a loopback of random
bytes, and what the receiver ignores (a glitch, a frame without its stop bit)."""
import random

import pytest
from amaranth import Elaboratable, Module

from hw.board.uart import FRAME_BITS, UartRx, UartTx, check_divisor
from tests.hw.board.bench import run

DIVISOR = 4


class Loopback(Elaboratable):
    """A transmitter wired to a receiver."""

    def __init__(self, divisor=DIVISOR):
        self.tx = UartTx(divisor)
        self.rx = UartRx(divisor)

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx, m.submodules.rx = self.tx, self.rx
        m.d.comb += self.rx.rx.eq(self.tx.tx)
        return m


def test_divisor_is_checked():
    assert check_divisor(25) == 25
    with pytest.raises(ValueError, match="divisor"):
        check_divisor(3)


def test_transmitter_sends_8n1_frames_lsb_first():
    tx = UartTx(DIVISOR)
    line = []

    async def bench(ctx):
        ctx.set(tx.data.payload, 0xB4)
        ctx.set(tx.data.valid, 1)
        await ctx.tick()
        ctx.set(tx.data.valid, 0)
        for _ in range(FRAME_BITS * DIVISOR + 2 * DIVISOR):
            line.append(ctx.get(tx.tx))
            await ctx.tick()

    run(tx, bench)
    start = line.index(0)
    bits = [line[start + k * DIVISOR + DIVISOR // 2] for k in range(FRAME_BITS)]
    assert bits == [0] + [(0xB4 >> k) & 1 for k in range(8)] + [1]
    # Each bit holds for exactly DIVISOR cycles; the line idles high after the frame.
    assert line[start:start + DIVISOR] == [0] * DIVISOR
    assert all(line[start + FRAME_BITS * DIVISOR:])


def test_loopback_carries_random_bytes_back_to_back():
    dut = Loopback()
    rng = random.Random(1)
    sent = [rng.randrange(256) for _ in range(24)]
    got = []

    async def send(ctx):
        for byte in sent:
            ctx.set(dut.tx.data.payload, byte)
            ctx.set(dut.tx.data.valid, 1)
            await ctx.tick().until(dut.tx.data.ready)
        ctx.set(dut.tx.data.valid, 0)

    async def receive(ctx):
        ctx.set(dut.rx.data.ready, 1)
        for _ in range(len(sent) * (FRAME_BITS * DIVISOR + 1) + 40):
            await ctx.tick()
            if ctx.get(dut.rx.data.valid):
                got.append(ctx.get(dut.rx.data.payload))

    run(dut, send, receive)
    assert got == sent


def frame(byte, stop=1):
    return [0] + [(byte >> k) & 1 for k in range(8)] + [stop]


@pytest.mark.parametrize("case", ["glitch", "no stop bit"])
def test_receiver_drops_a_glitch_and_a_frame_without_stop_bit(case):
    rx = UartRx(DIVISOR)
    got = []
    if case == "glitch":
        levels = [1] * 8 + [0] + [1] * 40
    else:
        levels = [1] * 8 + [b for bit in frame(0x5A, stop=0) for b in [bit] * DIVISOR] + [1] * 40
    levels += [b for bit in frame(0x3C) for b in [bit] * DIVISOR] + [1] * 20

    async def bench(ctx):
        ctx.set(rx.data.ready, 1)
        for level in levels:
            ctx.set(rx.rx, level)
            await ctx.tick()
            if ctx.get(rx.data.valid):
                got.append(ctx.get(rx.data.payload))

    run(rx, bench)
    assert got == [0x3C]
