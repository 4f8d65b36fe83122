"""PerfCounters alone, in Amaranth's simulator: what each counter adds, and when.

The bench drives increments of two channels and checks every counter
register against a model that adds each cycle's increments one cycle later,
including the carry from the low into the high register.
"""
import random
from functools import partial

from amaranth.sim import Simulator

from hw.counters import COUNTERS, REGISTER_BITS, PerfCounters

CHANNELS = 2
FLAGS = ("descs", "busy", "rd_wait", "wr_wait")


def simulate(bench, channels=CHANNELS):
    """Run ``bench(ctx, dut)`` as the testbench of a fresh PerfCounters."""
    dut = PerfCounters(channels)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(partial(bench, dut=dut))
    sim.run()


def read(ctx, dut, name, ch):
    """A counter's value from its registers, low word first."""
    return sum(ctx.get(getattr(dut, register)[ch]) << (REGISTER_BITS * i)
               for i, register in enumerate(COUNTERS[name]))


def test_counters_add_each_increment_one_cycle_later():
    rng = random.Random(5)

    async def bench(ctx, dut):
        model = {(name, ch): 0 for name in COUNTERS for ch in range(CHANNELS)}
        previous = {}
        for _ in range(200):
            now = {}
            for ch in range(CHANNELS):
                for name in FLAGS:
                    now[name, ch] = int(rng.random() < 0.5)
                    ctx.set(getattr(dut, f"add_{name}")[ch], now[name, ch])
                now["bytes", ch] = rng.choice([0, 0, 64, 4096, rng.randrange(1 << 20)])
                ctx.set(dut.add_bytes[ch], now["bytes", ch])
            for ch in range(CHANNELS):
                waiting = any(previous.get((name, ch)) for name in COUNTERS)
                assert ctx.get(dut.counting[ch]) == waiting
            await ctx.tick()
            for key, value in previous.items():
                model[key] += value
            previous = now
            for (name, ch), value in model.items():
                assert read(ctx, dut, name, ch) == value, (name, ch)
    simulate(bench)


def test_bytes_carry_into_the_high_register():
    most = (1 << 32) - 1

    async def bench(ctx, dut):
        ctx.set(dut.add_bytes[1], most)
        await ctx.tick()
        await ctx.tick()
        assert ctx.get(dut.bytes_lo[1]) == most and ctx.get(dut.bytes_hi[1]) == 0
        ctx.set(dut.add_bytes[1], 3)
        await ctx.tick()
        assert ctx.get(dut.bytes_lo[1]) == most - 1 and ctx.get(dut.bytes_hi[1]) == 1
        ctx.set(dut.add_bytes[1], 0)
        await ctx.tick()
        assert ctx.get(dut.bytes_lo[1]) == 1 and ctx.get(dut.bytes_hi[1]) == 2
        assert not ctx.get(dut.counting[1])
        await ctx.tick()
        assert read(ctx, dut, "bytes", 1) == 2 * most + 3, "nothing more added"
        assert read(ctx, dut, "bytes", 0) == 0
    simulate(bench)
