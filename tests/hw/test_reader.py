"""ReadPort alone, in Amaranth's simulator: AR arbitration, R routing, buffer accounting.

The bench offers descriptor fetches and data reads at once, plays the AXI read
slave by hand and empties the buffer, checking which request goes out with
which ID, where each R beat goes, and what ``free_beats``, ``read_slot`` and
``reading`` say along the way.
"""
from functools import partial

from amaranth.sim import Simulator

from hw.axi import RESP_OKAY, RESP_SLVERR
from hw.params import EngineParams
from hw.reader import DATA_ID, FETCH_ID, ReadPort

PARAMS = EngineParams(data_width=64, max_burst=16, buffer_depth=16, outstanding_reads=2)


def simulate(bench, params=PARAMS):
    """Run ``bench(ctx, dut)`` as the testbench of a fresh ReadPort."""
    dut = ReadPort(params)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(partial(bench, dut=dut))
    sim.run()


def offer(ctx, stream, addr, length):
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload.addr, addr)
    ctx.set(stream.payload.len, length)


async def take_ar(ctx, dut):
    """Accept the registered AR request; return (id, addr, len)."""
    ar = dut.axi_ar
    assert ctx.get(ar.valid)
    request = (ctx.get(ar.payload.id), ctx.get(ar.payload.addr), ctx.get(ar.payload.len))
    ctx.set(ar.ready, 1)
    await ctx.tick()
    ctx.set(ar.ready, 0)
    return request


async def r_beat(ctx, dut, ident, data, resp=RESP_OKAY, last=0):
    """One R beat; return (fetch_r.valid, data_beat) seen in its cycle."""
    r = dut.axi_r
    for value, level in ((r.valid, 1), (r.payload.id, ident), (r.payload.data, data),
                         (r.payload.resp, resp), (r.payload.last, last)):
        ctx.set(value, level)
    seen = (ctx.get(dut.fetch_r.valid), ctx.get(dut.data_beat))
    if seen[0]:
        assert ctx.get(dut.fetch_r.payload.data) == data
        assert ctx.get(dut.fetch_r.payload.last) == last
    await ctx.tick()
    ctx.set(r.valid, 0)
    return seen


def test_fetches_go_first_and_data_reads_reserve_the_buffer():
    async def bench(ctx, dut):
        assert ctx.get(dut.free_beats) == 16 and ctx.get(dut.read_slot)
        assert not ctx.get(dut.reading) and not ctx.get(dut.axi_ar.valid)
        offer(ctx, dut.fetch_ar, 0x1000, 3)
        offer(ctx, dut.copy_ar, 0x8000, 7)
        assert ctx.get(dut.fetch_ar.ready) and not ctx.get(dut.copy_ar.ready)
        await ctx.tick()
        ctx.set(dut.fetch_ar.valid, 0)
        # The request is held until AXI takes it: no second one meanwhile.
        for _ in range(3):
            assert not ctx.get(dut.copy_ar.ready)
            assert ctx.get(dut.free_beats) == 16, "a descriptor fetch reserves no beats"
            await ctx.tick()
        assert await take_ar(ctx, dut) == (FETCH_ID, 0x1000, 3)
        # The next request is registered in the cycle AXI took the last.
        assert ctx.get(dut.axi_ar.valid)
        assert ctx.get(dut.free_beats) == 16 - 8 and ctx.get(dut.reading)
        assert ctx.get(dut.read_slot), "one of two data reads in flight"
        offer(ctx, dut.copy_ar, 0x9000, 3)
        assert not ctx.get(dut.copy_ar.ready)
        assert await take_ar(ctx, dut) == (DATA_ID, 0x8000, 7)
        assert ctx.get(dut.free_beats) == 16 - 8 - 4 and not ctx.get(dut.read_slot)
        ctx.set(dut.copy_ar.valid, 0)
        assert await take_ar(ctx, dut) == (DATA_ID, 0x9000, 3)
        assert not ctx.get(dut.axi_ar.valid)
    simulate(bench)


def test_beats_go_to_the_fetcher_or_through_the_buffer():
    async def bench(ctx, dut):
        offer(ctx, dut.copy_ar, 0x8000, 1)
        await ctx.tick()
        ctx.set(dut.copy_ar.valid, 0)
        await take_ar(ctx, dut)
        assert ctx.get(dut.free_beats) == 14
        assert await r_beat(ctx, dut, FETCH_ID, 0xD0, last=1) == (1, 0)
        assert await r_beat(ctx, dut, DATA_ID, 0xA0) == (0, 1)
        assert ctx.get(dut.reading)
        assert await r_beat(ctx, dut, DATA_ID, 0xA1, resp=RESP_SLVERR, last=1) == (0, 1)
        assert not ctx.get(dut.reading) and ctx.get(dut.read_slot)
        assert ctx.get(dut.free_beats) == 14, "buffered beats are not free"

        got = []
        ctx.set(dut.beats.ready, 1)
        for _ in range(6):
            if ctx.get(dut.beats.valid):
                got.append((ctx.get(dut.beats.payload.data), ctx.get(dut.beats.payload.resp)))
            await ctx.tick()
        assert got == [(0xA0, RESP_OKAY), (0xA1, RESP_SLVERR)], "the fetch beat is not buffered"
        assert ctx.get(dut.free_beats) == 16
    simulate(bench)
