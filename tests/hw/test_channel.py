"""ChannelControl alone, in Amaranth's simulator: ring pointers, failure, abort and reset.

The bench plays the stages and software: it writes TAIL and CTRL, pulses
fetches, drops and faults, and retires descriptors; it checks the pointers,
the status and the pulses of each channel cycle by cycle, and that the other
channel never moves.
"""
from functools import partial

from amaranth.sim import Simulator

from hw.channel import ChannelControl
from hw.descriptor import Status

CHANNELS = 2


def simulate(bench, channels=CHANNELS):
    """Run ``bench(ctx, dut)`` as the testbench of a fresh ChannelControl."""
    dut = ChannelControl(channels)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(partial(bench, dut=dut))
    sim.run()


async def cycle(ctx, *drive, watch=()):
    """Drive each (value, level) for one cycle; return the ``watch`` values seen in
    that cycle, before the clock edge."""
    for value, level in drive:
        ctx.set(value, level)
    seen = [ctx.get(value) for value in watch]
    await ctx.tick()
    for value, _ in drive:
        ctx.set(value, 0)
    return seen


async def write(ctx, port, value):
    """Software writes ``value`` to the register field behind ``port``."""
    await cycle(ctx, (port.valid, 1), (port.payload, value))


def retirement(dut, ch, code=0, nbytes=0, irq=0):
    """The drive of one retirement for :func:`cycle`."""
    p = dut.retired.payload
    return ((dut.retired.valid, 1), (p.ch, ch), (p.code, code), (p.bytes, nbytes),
            (p.irq, irq))


async def fetch(ctx, dut, ch, count):
    """The fetcher issues ``count`` descriptors of ``ch``, one per cycle."""
    for _ in range(count):
        fetched = ctx.get(dut.fetched[ch]) + 1
        await cycle(ctx, (dut.fetching[ch], 1))
        ctx.set(dut.fetched[ch], fetched)


async def submit(ctx, dut, ch, tail, fetches):
    """Software gives ``ch`` a ring of 8 entries and writes TAIL; the fetcher then
    issues ``fetches`` descriptors."""
    ctx.set(dut.entries[ch], 8)
    await write(ctx, dut.tail_write[ch], tail)
    await fetch(ctx, dut, ch, fetches)


def pulses(dut, ch):
    return [dut.completed[ch], dut.failed[ch], dut.halting[ch], dut.notify[ch],
            dut.retired_bytes[ch], dut.cleared[ch]]


def assert_untouched(ctx, dut, ch):
    for value in (dut.ring_head[ch], dut.ring_tail[ch], dut.halted[ch], dut.code[ch],
                  dut.busy[ch], dut.stopped[ch], *pulses(dut, ch)):
        assert ctx.get(value) == 0


def test_completions_advance_head_and_wrap_at_ring_size():
    async def bench(ctx, dut):
        ctx.set(dut.entries[0], 3)
        assert not ctx.get(dut.busy[0])
        await write(ctx, dut.tail_write[0], 2)
        assert ctx.get(dut.ring_tail[0]) == 2
        assert ctx.get(dut.busy[0]), "descriptors to fetch make the channel busy"
        await fetch(ctx, dut, 0, 2)
        assert ctx.get(dut.busy[0]), "descriptors in flight make the channel busy"

        seen = await cycle(ctx, *retirement(dut, 0, nbytes=64, irq=1), watch=pulses(dut, 0))
        assert seen == [1, 0, 0, 1, 64, 0]
        assert ctx.get(dut.ring_head[0]) == 1
        seen = await cycle(ctx, *retirement(dut, 0, nbytes=32, irq=0), watch=pulses(dut, 0))
        assert seen == [1, 0, 0, 0, 32, 0], "no notify without the INTERRUPT flag"
        assert ctx.get(dut.ring_head[0]) == 2
        assert not ctx.get(dut.busy[0])

        await write(ctx, dut.tail_write[0], 0)
        await fetch(ctx, dut, 0, 1)
        ctx.set(dut.fetched[0], 0)
        await cycle(ctx, *retirement(dut, 0))
        assert ctx.get(dut.ring_head[0]) == 0, "HEAD wraps at RING_SIZE"
        assert not ctx.get(dut.busy[0]) and not ctx.get(dut.halted[0])
        assert_untouched(ctx, dut, 1)
    simulate(bench)


def test_failure_halts_at_the_failing_descriptor():
    async def bench(ctx, dut):
        await submit(ctx, dut, 1, 3, 3)
        await cycle(ctx, *retirement(dut, 1))
        seen = await cycle(ctx, *retirement(dut, 1, code=Status.READ_SLVERR, nbytes=96),
                           watch=pulses(dut, 1))
        assert seen == [0, 1, 1, 0, 96, 0]
        assert ctx.get(dut.halted[1]) and ctx.get(dut.code[1]) == Status.READ_SLVERR
        assert ctx.get(dut.ring_head[1]) == 1, "HEAD stays at the failing descriptor"
        assert not ctx.get(dut.stopped[1])
        await cycle(ctx, (dut.copy_failed[1], 1))
        assert ctx.get(dut.stopped[1])

        # A later descriptor whose record was already under way counts nothing.
        seen = await cycle(ctx, *retirement(dut, 1, code=Status.WRITE_SLVERR, nbytes=32),
                           watch=pulses(dut, 1))
        assert seen == [0, 0, 0, 0, 0, 0]
        assert ctx.get(dut.ring_head[1]) == 1 and ctx.get(dut.code[1]) == Status.READ_SLVERR
        assert not ctx.get(dut.busy[1]), "stopped, with nothing in flight"
        assert_untouched(ctx, dut, 0)
    simulate(bench)


def test_check_failure_stops_and_drops_count_out_of_flight():
    async def bench(ctx, dut):
        await submit(ctx, dut, 0, 4, 2)
        await cycle(ctx, (dut.check_failed[0], 1))
        assert ctx.get(dut.stopped[0]) and ctx.get(dut.busy[0])
        await cycle(ctx, (dut.dropped_unissued[0], 1), (dut.dropped_failed[0], 1))
        assert not ctx.get(dut.busy[0]), "both drops count in the same cycle"
        assert not ctx.get(dut.halted[0]), "a drop is no retirement"
    simulate(bench)


def test_abort_halts_once_drained():
    async def bench(ctx, dut):
        await submit(ctx, dut, 0, 5, 2)
        await write(ctx, dut.abort_write[0], 0)
        assert not ctx.get(dut.stopped[0]), "writing 0 to CTRL.abort does nothing"
        await write(ctx, dut.abort_write[0], 1)
        assert ctx.get(dut.stopped[0]) and ctx.get(dut.busy[0])
        await cycle(ctx, *retirement(dut, 0))
        assert ctx.get(dut.ring_head[0]) == 1 and not ctx.get(dut.halted[0])
        seen = await cycle(ctx, *retirement(dut, 0), watch=[dut.halting[0]])
        assert seen == [0], "not drained while the last descriptor retires"
        halting = []
        for _ in range(4):
            halting += await cycle(ctx, watch=[dut.halting[0]])
        assert halting == [1, 0, 0, 0]
        assert ctx.get(dut.halted[0]) and ctx.get(dut.code[0]) == Status.ABORTED
        assert ctx.get(dut.ring_head[0]) == 2 and ctx.get(dut.stopped[0])
        assert not ctx.get(dut.busy[0])
    simulate(bench)


def test_abort_of_a_halted_channel_keeps_its_code():
    async def bench(ctx, dut):
        await submit(ctx, dut, 0, 1, 1)
        await cycle(ctx, *retirement(dut, 0, code=Status.WRITE_DECERR))
        await write(ctx, dut.abort_write[0], 1)
        await cycle(ctx)
        assert ctx.get(dut.halted[0]) and ctx.get(dut.code[0]) == Status.WRITE_DECERR
    simulate(bench)


def test_reset_drains_then_rewinds_the_channel():
    async def bench(ctx, dut):
        await submit(ctx, dut, 1, 6, 3)
        await cycle(ctx, *retirement(dut, 1))
        await cycle(ctx, *retirement(dut, 1, code=Status.READ_DECERR))
        await write(ctx, dut.reset_write[1], 1)
        assert ctx.get(dut.stopped[1]) and ctx.get(dut.busy[1])
        assert ctx.get(dut.halted[1]), "nothing changes before the channel drained"
        for _ in range(3):
            assert await cycle(ctx, watch=[dut.cleared[1]]) == [0]
        await cycle(ctx, (dut.dropped_failed[1], 1))
        cleared = []
        for _ in range(3):
            cleared += await cycle(ctx, watch=[dut.cleared[1]])
        assert cleared == [1, 0, 0]
        for value in (dut.ring_head[1], dut.ring_tail[1], dut.halted[1], dut.code[1],
                      dut.stopped[1]):
            assert ctx.get(value) == 0
        ctx.set(dut.fetched[1], 0)
        assert not ctx.get(dut.busy[1])
        await write(ctx, dut.tail_write[1], 1)
        assert ctx.get(dut.busy[1]), "a reset channel takes work again"
        assert_untouched(ctx, dut, 0)
    simulate(bench)
