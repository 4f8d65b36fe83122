"""InterruptControl alone, in Amaranth's simulator: INT_STATUS, enables and coalescing.

The bench pulses completions and halts, writes INT_STATUS like software, and
checks in which cycle each channel's done and error bit rises, by count and
by timer, and the interrupt line against the enables.
"""
from functools import partial

from amaranth.sim import Simulator

from hw.interrupts import InterruptControl

CHANNELS = 2


def simulate(bench, channels=CHANNELS):
    """Run ``bench(ctx, dut)`` as the testbench of a fresh InterruptControl."""
    dut = InterruptControl(channels)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(partial(bench, dut=dut))
    sim.run()


async def cycle(ctx, *drive):
    """Drive each (value, level) for one cycle, then put it back to 0."""
    for value, level in drive:
        ctx.set(value, level)
    await ctx.tick()
    for value, _ in drive:
        ctx.set(value, 0)


async def done_rises(ctx, dut, ch, completions, limit=100):
    """Pulse a completion of ``ch`` in each of the cycles ``completions`` (numbered
    from 0); return the cycle after whose clock edge the done bit is first set."""
    for now in range(limit):
        await cycle(ctx, (dut.completion[ch], int(now in completions)))
        if ctx.get(dut.done[ch]):
            return now
    return None


def test_done_by_count():
    async def bench(ctx, dut):
        ctx.set(dut.coal_count, 3)
        assert await done_rises(ctx, dut, 0, {0, 4, 9}) == 9
        assert not ctx.get(dut.done[1])
        await cycle(ctx, (dut.clear_done.valid, 1), (dut.clear_done.payload, 0b01))
        assert not ctx.get(dut.done[0])
        # The count started over with the interrupt.
        assert await done_rises(ctx, dut, 0, {0, 1, 2}) == 2
    simulate(bench)


def test_count_zero_signals_every_completion():
    async def bench(ctx, dut):
        for count in (0, 1):
            ctx.set(dut.coal_count, count)
            assert await done_rises(ctx, dut, 1, {3}) == 3
            await cycle(ctx, (dut.clear_done.valid, 1), (dut.clear_done.payload, 0b10))
    simulate(bench)


def test_done_by_timer_from_the_first_unsignalled_completion():
    async def bench(ctx, dut):
        ctx.set(dut.coal_count, 10)
        ctx.set(dut.coal_timer, 5)
        assert not ctx.get(dut.timing[0])
        # The completions at 3 and 6 do not restart the timer from 2.
        assert await done_rises(ctx, dut, 0, {2, 3, 6}) == 2 + 5
        assert not ctx.get(dut.timing[0])
        await cycle(ctx, (dut.clear_done.valid, 1), (dut.clear_done.payload, 0b01))
        assert await done_rises(ctx, dut, 0, set()) is None, "the timer is not re-armed"
        # The count started over too: nine more do not reach ten.
        ctx.set(dut.coal_timer, 0)
        assert await done_rises(ctx, dut, 0, set(range(9))) is None
    simulate(bench)


def test_timer_zero_waits_for_the_count():
    async def bench(ctx, dut):
        ctx.set(dut.coal_count, 2)
        assert await done_rises(ctx, dut, 0, {0}, limit=300) is None
        assert not ctx.get(dut.timing[0])
        assert await done_rises(ctx, dut, 0, {0}) == 0
    simulate(bench)


def test_flush_drops_the_unsignalled_count():
    async def bench(ctx, dut):
        ctx.set(dut.coal_count, 2)
        await cycle(ctx, (dut.completion[0], 1))
        await cycle(ctx, (dut.flush[0], 1))
        await cycle(ctx, (dut.completion[0], 1))
        assert not ctx.get(dut.done[0])
        await cycle(ctx, (dut.completion[0], 1))
        assert ctx.get(dut.done[0])
    simulate(bench)


def test_a_flush_stops_a_running_timer_and_leaves_no_interrupt():
    """A channel reset (flush) while its coalescing timer runs: the timer stops, and no
    done bit rises after the reset, not even in the cycle the timer would have run out;
    the next completion starts a fresh count and timer."""
    for flush_at in (1, 5):                   # early, and the timer's last cycle
        async def bench(ctx, dut, flush_at=flush_at):
            ctx.set(dut.coal_count, 10)
            ctx.set(dut.coal_timer, 5)
            await cycle(ctx, (dut.completion[0], 1))
            for _ in range(flush_at - 1):
                await cycle(ctx)
            assert ctx.get(dut.timing[0])
            await cycle(ctx, (dut.flush[0], 1))
            assert not ctx.get(dut.timing[0]) and not ctx.get(dut.done[0])
            assert await done_rises(ctx, dut, 0, set(), limit=20) is None
            assert await done_rises(ctx, dut, 0, {0}) == 5
        simulate(bench)


def test_halt_sets_error_and_a_new_event_beats_the_clear():
    async def bench(ctx, dut):
        await cycle(ctx, (dut.halt[1], 1))
        assert ctx.get(dut.error) == 0b10 and ctx.get(dut.done) == 0
        await cycle(ctx, (dut.halt[0], 1), (dut.clear_error.valid, 1),
                    (dut.clear_error.payload, 0b11))
        assert ctx.get(dut.error) == 0b01, "set in the cycle of the clear: stays set"
        await cycle(ctx, (dut.clear_error.valid, 0), (dut.clear_error.payload, 0b01))
        assert ctx.get(dut.error) == 0b01, "payload without valid clears nothing"
        await cycle(ctx, (dut.clear_error.valid, 1), (dut.clear_error.payload, 0b01))
        assert ctx.get(dut.error) == 0
    simulate(bench)


def test_interrupt_follows_the_enables():
    async def bench(ctx, dut):
        ctx.set(dut.coal_count, 1)
        await cycle(ctx, (dut.completion[1], 1))
        await cycle(ctx, (dut.halt[0], 1))
        assert ctx.get(dut.done) == 0b10 and ctx.get(dut.error) == 0b01
        for enable_done, enable_error, line in ((0, 0, 0), (0b01, 0b10, 0), (0b10, 0, 1),
                                                (0, 0b01, 1), (0b11, 0b11, 1)):
            ctx.set(dut.enable_done, enable_done)
            ctx.set(dut.enable_error, enable_error)
            assert ctx.get(dut.interrupt) == line, (enable_done, enable_error)
        await cycle(ctx, (dut.clear_done.valid, 1), (dut.clear_done.payload, 0b11),
                    (dut.clear_error.valid, 1), (dut.clear_error.payload, 0b11))
        assert not ctx.get(dut.interrupt)
    simulate(bench)
