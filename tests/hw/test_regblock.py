"""The AXI4-Lite register block, in Amaranth's simulator."""
import gc

import pytest
from amaranth.sim import Simulator

from hw.axi import RESP_OKAY
from hw.regblock import RegisterBlock, RegisterBlockError
from hw.regmap import UnknownRegisterError, load_regmap

TIMEOUT = 20  # cycles any handshake may take


class AxiLiteMaster:
    """Testbench-side AXI4-Lite master driving a register block's bus."""

    def __init__(self, bus):
        self.bus = bus

    async def write(self, ctx, addr, data, strb=0xF, aw_delay=0, w_delay=0):
        """Write ``data``; AW/W turn valid after ``aw_delay``/``w_delay`` cycles. Returns BRESP."""
        bus = self.bus
        ctx.set(bus.awaddr, addr)
        ctx.set(bus.wdata, data)
        ctx.set(bus.wstrb, strb)
        aw_done = w_done = False
        for cycle in range(TIMEOUT):
            if aw_done and w_done:
                break
            ctx.set(bus.awvalid, not aw_done and cycle >= aw_delay)
            ctx.set(bus.wvalid, not w_done and cycle >= w_delay)
            aw_fire = ctx.get(bus.awvalid) and ctx.get(bus.awready)
            w_fire = ctx.get(bus.wvalid) and ctx.get(bus.wready)
            await ctx.tick()
            aw_done |= bool(aw_fire)
            w_done |= bool(w_fire)
        else:
            raise AssertionError(f"write to {addr:#x}: AW/W not accepted")
        ctx.set(bus.awvalid, 0)
        ctx.set(bus.wvalid, 0)
        ctx.set(bus.bready, 1)
        for _ in range(TIMEOUT):
            if ctx.get(bus.bvalid):
                break
            await ctx.tick()
        else:
            raise AssertionError(f"write to {addr:#x}: no B response")
        resp = ctx.get(bus.bresp)
        await ctx.tick()
        ctx.set(bus.bready, 0)
        return resp

    async def read(self, ctx, addr, hold=0):
        """Read ``addr``, keeping rready low for ``hold`` cycles first. Returns (RDATA, RRESP)."""
        bus = self.bus
        ctx.set(bus.araddr, addr)
        ctx.set(bus.arvalid, 1)
        for _ in range(TIMEOUT):
            if ctx.get(bus.arready):
                break
            await ctx.tick()
        else:
            raise AssertionError(f"read of {addr:#x}: AR not accepted")
        await ctx.tick()
        ctx.set(bus.arvalid, 0)
        assert ctx.get(bus.rvalid), "rvalid must follow the AR handshake by one cycle"
        data, resp = ctx.get(bus.rdata), ctx.get(bus.rresp)
        for _ in range(hold):
            await ctx.tick()
            assert (ctx.get(bus.rvalid), ctx.get(bus.rdata), ctx.get(bus.rresp)) == (1, data, resp)
        ctx.set(bus.rready, 1)
        await ctx.tick()
        ctx.set(bus.rready, 0)
        assert not ctx.get(bus.rvalid)
        return data, resp


def recorder(log, *signals):
    """A background testbench appending the values of ``signals`` at every clock edge to ``log``."""
    async def monitor(ctx):
        async for _, _, *values in ctx.tick().sample(*signals):
            log.append(tuple(values))
    return monitor


def simulate(dut, bench, *monitors):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    for monitor in monitors:
        sim.add_testbench(monitor, background=True)
    sim.run()


@pytest.fixture(scope="module")
def regmap():
    return load_regmap()


@pytest.fixture
def dut(regmap):
    return RegisterBlock(regmap, channels=2)


@pytest.mark.parametrize("aw_delay, w_delay", [(0, 0), (0, 3), (3, 0)],
                         ids=["together", "aw_first", "w_first"])
def test_storage_write_read_with_strobes(regmap, dut, aw_delay, w_delay):
    axi = AxiLiteMaster(dut.bus)
    addr = regmap.address("chan[1].ring_base_lo")
    value = dut.field("chan[1].ring_base_lo", "addr").value
    log = []

    async def bench(ctx):
        assert await axi.read(ctx, addr) == (0, RESP_OKAY)
        assert await axi.write(ctx, addr, 0xFFFFFFFF,
                               aw_delay=aw_delay, w_delay=w_delay) == RESP_OKAY
        assert await axi.write(ctx, addr, 0x12345678, strb=0b0101,
                               aw_delay=aw_delay, w_delay=w_delay) == RESP_OKAY
        assert await axi.read(ctx, addr) == (0xFF34FF78, RESP_OKAY)
        assert ctx.get(value) == 0xFF34FF78
        assert await axi.write(ctx, addr, 0, strb=0) == RESP_OKAY
        assert await axi.read(ctx, addr) == (0xFF34FF78, RESP_OKAY)

    simulate(dut, bench, recorder(log, dut.bus.bvalid, value))
    # B is only signalled once the register holds the written value.
    first_b = [v for bvalid, v in log if bvalid]
    assert first_b[0] == 0xFFFFFFFF


def test_storage_field_across_lanes_and_reset(regmap, dut):
    axi = AxiLiteMaster(dut.bus)
    addr = regmap.address("irq_coal")
    count = dut.field("irq_coal", "count").value
    timer = dut.field("irq_coal", "timer").value

    async def bench(ctx):
        assert await axi.read(ctx, addr) == (0x00000001, RESP_OKAY)
        await axi.write(ctx, addr, 0xAABBCC05, strb=0b0010)
        assert await axi.read(ctx, addr) == (0x0000CC01, RESP_OKAY)
        assert (ctx.get(count), ctx.get(timer)) == (1, 0xCC)
        await axi.write(ctx, addr, 0xAABBCC05)
        assert (ctx.get(count), ctx.get(timer)) == (5, 0xAABBCC)

    simulate(dut, bench)


def test_status_fields_read_driven_value(regmap, dut):
    axi = AxiLiteMaster(dut.bus)

    async def bench(ctx):
        ctx.set(dut.field("caps0", "beat_bytes_log2").value, 5)
        ctx.set(dut.field("caps0", "channels").value, 2)
        ctx.set(dut.field("caps0", "max_burst").value, 256)
        assert await axi.read(ctx, regmap.address("caps0")) == (0x01000025, RESP_OKAY)
        status = "chan[1].status"
        ctx.set(dut.field(status, "busy").value, 1)
        ctx.set(dut.field(status, "code").value, 0x0B)
        assert await axi.read(ctx, regmap.address(status)) == (0x0B01, RESP_OKAY)
        counter = dut.field("chan[1].bytes_hi", "count").value
        ctx.set(counter, 0xDEADBEEF)
        await axi.write(ctx, regmap.address("chan[1].bytes_hi"), 0)
        assert await axi.read(ctx, regmap.address("chan[1].bytes_hi")) == (0xDEADBEEF, RESP_OKAY)

    simulate(dut, bench)


@pytest.mark.parametrize("aw_delay, w_delay", [(0, 0), (0, 2), (2, 0)],
                         ids=["together", "aw_first", "w_first"])
def test_external_field_strobe(regmap, dut, aw_delay, w_delay):
    axi = AxiLiteMaster(dut.bus)
    tail = dut.field("chan[0].tail", "index")
    assert tail.kind == "external"
    other = dut.field("chan[1].tail", "index")
    log = []

    async def bench(ctx):
        ctx.set(tail.value, 0x0055)
        await axi.write(ctx, regmap.address("chan[0].tail"), 0xABCD0042, strb=0b0001,
                        aw_delay=aw_delay, w_delay=w_delay)
        assert await axi.read(ctx, regmap.address("chan[0].tail")) == (0x0055, RESP_OKAY)

    simulate(dut, bench, recorder(log, tail.wstb, tail.wdata, other.wstb))
    assert [(stb, data) for stb, data, _ in log if stb] == [(1, 0x0042)]
    assert not any(other_stb for _, _, other_stb in log)


def test_write_one_to_clear_is_forwarded(regmap, dut):
    axi = AxiLiteMaster(dut.bus)
    done = dut.field("int_status", "done")
    error = dut.field("int_status", "error")
    log = []

    async def bench(ctx):
        ctx.set(done.value, 0b11)
        ctx.set(error.value, 0b10)
        assert await axi.read(ctx, regmap.address("int_status")) == (0x00020003, RESP_OKAY)
        await axi.write(ctx, regmap.address("int_status"), 0x00020001)

    simulate(dut, bench, recorder(log, done.wstb, done.wdata, error.wstb, error.wdata))
    assert [sample for sample in log if sample[0] or sample[2]] == [(1, 0x0001, 1, 0x0002)]


def test_singlepulse_ctrl(regmap, dut):
    axi = AxiLiteMaster(dut.bus)
    reset = dut.field("chan[1].ctrl", "reset")
    abort = dut.field("chan[1].ctrl", "abort")
    assert reset.value is None and abort.value is None
    log = []

    async def bench(ctx):
        await axi.write(ctx, regmap.address("chan[1].ctrl"), 0b10)
        assert await axi.read(ctx, regmap.address("chan[1].ctrl")) == (0, RESP_OKAY)

    simulate(dut, bench, recorder(log, reset.wstb, reset.wdata, abort.wstb, abort.wdata))
    assert [sample for sample in log if sample[0] or sample[2]] == [(1, 0, 1, 1)]


def test_constants(regmap, dut):
    axi = AxiLiteMaster(dut.bus)
    assert dut.field("id", "ident").value is None

    async def bench(ctx):
        assert await axi.read(ctx, regmap.address("id")) == (0x46444D41, RESP_OKAY)
        assert await axi.write(ctx, regmap.address("id"), 0) == RESP_OKAY
        assert await axi.read(ctx, regmap.address("id")) == (0x46444D41, RESP_OKAY)
        assert await axi.read(ctx, regmap.address("version")) == (0x00000002, RESP_OKAY)

    simulate(dut, bench)


def test_unimplemented_and_unmapped_addresses(regmap, dut):
    axi = AxiLiteMaster(dut.bus)
    addresses = [regmap.address("chan[2].ring_base_lo"), regmap.address("chan[15].tail"),
                 0x020, 0x0FC, 0xFFC]

    async def bench(ctx):
        for addr in addresses:
            assert await axi.write(ctx, addr, 0xFFFFFFFF) == RESP_OKAY
            assert await axi.read(ctx, addr) == (0, RESP_OKAY)
        # The same write to an implemented channel does land.
        await axi.write(ctx, regmap.address("chan[1].ring_size"), 0xFFFFFFFF)
        assert await axi.read(ctx, regmap.address("chan[1].ring_size")) == (0xFFFF, RESP_OKAY)

    simulate(dut, bench)


def test_rdata_held_while_rready_low(regmap, dut):
    axi = AxiLiteMaster(dut.bus)
    addr = regmap.address("chan[0].busy_lo")
    counter = dut.field("chan[0].busy_lo", "count").value

    async def bench(ctx):
        ctx.set(counter, 1234)
        ctx.set(dut.bus.araddr, addr)
        ctx.set(dut.bus.arvalid, 1)
        await ctx.tick()
        ctx.set(dut.bus.arvalid, 0)
        ctx.set(counter, 5678)  # a change after the AR handshake does not reach rdata
        for _ in range(4):
            assert (ctx.get(dut.bus.rvalid), ctx.get(dut.bus.rdata)) == (1, 1234)
            assert not ctx.get(dut.bus.arready)
            await ctx.tick()
        ctx.set(dut.bus.rready, 1)
        await ctx.tick()
        ctx.set(dut.bus.rready, 0)
        assert not ctx.get(dut.bus.rvalid)
        assert await axi.read(ctx, addr, hold=3) == (5678, RESP_OKAY)

    simulate(dut, bench)


def test_all_channels(regmap):
    dut = RegisterBlock(regmap, channels=regmap.channels)
    axi = AxiLiteMaster(dut.bus)
    addr = regmap.address("chan[15].ring_size")

    async def bench(ctx):
        await axi.write(ctx, addr, 0x1234)
        assert await axi.read(ctx, addr) == (0x1234, RESP_OKAY)

    simulate(dut, bench)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_field_lookup_errors(regmap):
    dut = RegisterBlock(regmap, channels=2)
    with pytest.raises(RegisterBlockError, match=r"channel 2.*2 channel"):
        dut.field("chan[2].tail", "index")
    with pytest.raises(UnknownRegisterError, match="'chan0.tail'"):
        dut.field("chan0.tail", "index")
    with pytest.raises(RegisterBlockError, match="no field 'idx'"):
        dut.field("chan[0].tail", "idx")
    for channels in (0, regmap.channels + 1):
        with pytest.raises(RegisterBlockError, match="channels"):
            RegisterBlock(regmap, channels)
    del dut
    gc.collect()  # the blocks built here are never elaborated: let them go under the filter
