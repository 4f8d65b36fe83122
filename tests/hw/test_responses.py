"""ResponseFilter alone, in Amaranth's simulator: owed R and B responses pass, others
are dropped and set BUS_STATUS.

The bench plays both sides: the engine's handshakes (AR, AW, last W) and the slave's
responses, one cycle at a time, and checks what reaches the read and write ports.
"""
from functools import partial

from amaranth.sim import Simulator

from hw.params import EngineParams
from hw.reader import DATA_ID, FETCH_ID
from hw.responses import ResponseFilter
from hw.writer import DATA_WRITE_ID, RECORD_WRITE_ID

PARAMS = EngineParams(data_width=64, outstanding_reads=2, outstanding_writes=2,
                      prefetch_depth=1)


def simulate(bench):
    dut = ResponseFilter(PARAMS)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(partial(bench, dut=dut))
    sim.run()


def _port(dut, name):
    """The signal a "__"-separated path names (``r_in__payload__id``)."""
    for part in name.split("__"):
        dut = getattr(dut, part)
    return dut


async def step(ctx, dut, **drive):
    """Drive the named inputs for one cycle; return what the ports saw in it:
    (R passed on, B passed on, B accepted from the slave)."""
    for name, value in drive.items():
        ctx.set(_port(dut, name), value)
    seen = (ctx.get(dut.r_out.valid), ctx.get(dut.b_out.valid),
            ctx.get(dut.b_in.valid) and ctx.get(dut.b_in.ready))
    await ctx.tick()
    for name in drive:
        ctx.set(_port(dut, name), 0)
    return seen


def r_beat(rid, last=1):
    return {"r_in__valid": 1, "r_in__payload__id": rid, "r_in__payload__last": last}


def b_resp(bid):
    return {"b_in__valid": 1, "b_in__payload__id": bid}


def test_r_beats_pass_only_while_a_read_of_their_id_is_open():
    async def bench(ctx, dut):
        # No read issued: the beat is dropped and reported.
        assert await step(ctx, dut, **r_beat(DATA_ID)) == (0, 0, 0)
        assert ctx.get(dut.unexpected_r) and not ctx.get(dut.unexpected_b)
        await step(ctx, dut, clear_r__valid=1, clear_r__payload=1)
        assert not ctx.get(dut.unexpected_r)
        # In the cycle of its AR's handshake a beat is early; the cycle after, owed.
        assert await step(ctx, dut, ar_done=1, ar_id=DATA_ID, **r_beat(DATA_ID, 0)) == (0, 0, 0)
        assert ctx.get(dut.unexpected_r)
        await step(ctx, dut, clear_r__valid=1, clear_r__payload=1)
        assert await step(ctx, dut, **r_beat(DATA_ID, 0)) == (1, 0, 0)
        # A fetch's beat is not owed by a data read.
        assert await step(ctx, dut, **r_beat(FETCH_ID)) == (0, 0, 0)
        assert ctx.get(dut.unexpected_r)
        await step(ctx, dut, clear_r__valid=1, clear_r__payload=1)
        # RLAST ends the read: the next beat of its ID is dropped.
        assert await step(ctx, dut, **r_beat(DATA_ID)) == (1, 0, 0)
        assert not ctx.get(dut.unexpected_r)
        assert await step(ctx, dut, **r_beat(DATA_ID)) == (0, 0, 0)
        assert ctx.get(dut.unexpected_r)
    simulate(bench)


def test_b_passes_only_once_its_writes_aw_and_last_w_were_accepted():
    async def bench(ctx, dut):
        await step(ctx, dut, aw_done=1, aw_id=DATA_WRITE_ID)
        # AW accepted, W not finished: early, accepted at once and dropped.
        assert await step(ctx, dut, **b_resp(DATA_WRITE_ID)) == (0, 0, 1)
        assert ctx.get(dut.unexpected_b)
        await step(ctx, dut, clear_b__valid=1, clear_b__payload=1)
        await step(ctx, dut, w_last_done=1, w_id=DATA_WRITE_ID)
        # A record's B is not owed by a data write; the data write's is, and waits
        # for the write port's BREADY.
        assert await step(ctx, dut, **b_resp(RECORD_WRITE_ID)) == (0, 0, 1)
        assert ctx.get(dut.unexpected_b)
        await step(ctx, dut, clear_b__valid=1, clear_b__payload=1)
        assert await step(ctx, dut, **b_resp(DATA_WRITE_ID)) == (0, 1, 0)
        assert await step(ctx, dut, b_out__ready=1, **b_resp(DATA_WRITE_ID)) == (0, 1, 1)
        assert not ctx.get(dut.unexpected_b)
        # Answered: a second B is dropped.
        assert await step(ctx, dut, b_out__ready=1, **b_resp(DATA_WRITE_ID)) == (0, 0, 1)
        assert ctx.get(dut.unexpected_b)
    simulate(bench)


def test_a_clear_in_the_cycle_of_a_drop_leaves_the_flag_set():
    async def bench(ctx, dut):
        await step(ctx, dut, **r_beat(DATA_ID))
        await step(ctx, dut, clear_r__valid=1, clear_r__payload=1, **r_beat(DATA_ID))
        assert ctx.get(dut.unexpected_r)
    simulate(bench)
