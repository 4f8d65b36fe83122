"""The board's memory in Amaranth's simulator: AXI4 bursts under random valid and ready
gaps against a byte model, the bridge's word port working at the same time, and the
error responses (outside the memory, an unsupported burst)."""
import random


from hw.axi import BURST_INCR, RESP_DECERR, RESP_OKAY, RESP_SLVERR
from hw.board.memory import BoardMemory
from tests.hw.board.bench import run

SIZE = 8192
WIDTH = 64
BEAT = WIDTH // 8
PAGE = 4096


def new_memory():
    return BoardMemory(size=SIZE, data_width=WIDTH, addr_width=64, id_width=1)


async def handshake(ctx, valid, ready):
    """Hold ``valid`` until a clock edge at which ``ready`` is high (sampled at the edge:
    the other testbench may change the memory's inputs meanwhile)."""
    ctx.set(valid, 1)
    await ctx.tick().until(ready)
    ctx.set(valid, 0)


async def gap(ctx, rng, most=3):
    for _ in range(rng.randrange(most + 1)):
        await ctx.tick()


async def axi_write(ctx, axi, addr, beats, strobes, rng, size=3, burst=BURST_INCR):
    """One write burst; its response."""
    ctx.set(axi.awaddr, addr)
    ctx.set(axi.awlen, len(beats) - 1)
    ctx.set(axi.awsize, size)
    ctx.set(axi.awburst, burst)
    ctx.set(axi.awid, 1)
    await handshake(ctx, axi.awvalid, axi.awready)
    for k, (data, strobe) in enumerate(zip(beats, strobes)):
        await gap(ctx, rng)
        ctx.set(axi.wdata, data)
        ctx.set(axi.wstrb, strobe)
        ctx.set(axi.wlast, k == len(beats) - 1)
        await handshake(ctx, axi.wvalid, axi.wready)
    await gap(ctx, rng)
    ctx.set(axi.bready, 1)
    resp, bid = await ctx.tick().sample(axi.bresp, axi.bid).until(axi.bvalid)
    ctx.set(axi.bready, 0)
    assert bid == 1
    return resp


async def axi_read(ctx, axi, addr, length, rng, size=3):
    """One read burst; [(data, resp)] of its beats."""
    ctx.set(axi.araddr, addr)
    ctx.set(axi.arlen, length - 1)
    ctx.set(axi.arsize, size)
    ctx.set(axi.arburst, BURST_INCR)
    ctx.set(axi.arid, 1)
    await handshake(ctx, axi.arvalid, axi.arready)
    beats = []
    while len(beats) < length:
        ready = rng.random() < 0.6
        ctx.set(axi.rready, ready)
        _, _, valid, data, resp, last, rid = await ctx.tick().sample(
            axi.rvalid, axi.rdata, axi.rresp, axi.rlast, axi.rid)
        if ready and valid:
            beats.append((data, resp))
            assert last == (len(beats) == length)
            assert rid == 1
    ctx.set(axi.rready, 0)
    return beats


async def bridge_access(ctx, port, word_addr, wdata=None):
    """One word through the bridge's port: the word read, or None for a write."""
    ctx.set(port.addr, word_addr)
    ctx.set(port.we, wdata is not None)
    ctx.set(port.wdata, wdata or 0)
    ctx.set(port.req, 1)
    word, = await ctx.tick().sample(port.rdata).until(port.ack)
    ctx.set(port.req, 0)
    return None if wdata is not None else word


def model_write(model, addr, data, strobe):
    for lane in range(BEAT):
        if strobe >> lane & 1:
            model[addr + lane] = data >> (8 * lane) & 0xFF


def test_bursts_and_bridge_words_at_once_match_a_byte_model():
    dut = new_memory()
    rng = random.Random(7)
    model = bytearray(SIZE)
    axi, port = dut.axi, dut.bridge
    phase = {"axi": 0, "bridge": 0}
    seen = {"axi": [], "bridge": []}
    bridge_words = {}

    async def master(ctx):
        # Phase 1: bursts fill page 0 (random strobes) while the bridge writes page 1.
        for start in range(0, PAGE, 32 * BEAT):
            beats = [rng.getrandbits(WIDTH) for _ in range(32)]
            strobes = [rng.choice([0xFF, 0xFF, rng.getrandbits(BEAT)]) for _ in range(32)]
            assert await axi_write(ctx, axi, start, beats, strobes, rng) == RESP_OKAY
            for k, (data, strobe) in enumerate(zip(beats, strobes)):
                model_write(model, start + k * BEAT, data, strobe)
        phase["axi"] = 1
        while phase["bridge"] < 1:
            await ctx.tick()
        # Phase 2: bursts read page 1 (the bridge's words) while the bridge reads page 0.
        for start in range(PAGE, 2 * PAGE, 64 * BEAT):
            seen["axi"].append((start, await axi_read(ctx, axi, start, 64, rng)))
        phase["axi"] = 2

    async def bridge(ctx):
        for word in range(PAGE // 4, 2 * PAGE // 4):
            value = rng.getrandbits(32)
            bridge_words[word] = value
            await bridge_access(ctx, port, word, value)
            await gap(ctx, rng, 2)
        phase["bridge"] = 1
        while phase["axi"] < 1:
            await ctx.tick()
        for word in rng.sample(range(PAGE // 4), 300):
            seen["bridge"].append((word, await bridge_access(ctx, port, word)))
            await gap(ctx, rng, 2)

    run(dut, master, bridge)
    for word, value in bridge_words.items():
        model[4 * word:4 * word + 4] = value.to_bytes(4, "little")
    for start, beats in seen["axi"]:
        for k, (data, resp) in enumerate(beats):
            at = start + k * BEAT
            assert resp == RESP_OKAY
            assert data.to_bytes(BEAT, "little") == model[at:at + BEAT], hex(at)
    assert len(seen["bridge"]) == 300
    for word, value in seen["bridge"]:
        assert value.to_bytes(4, "little") == model[4 * word:4 * word + 4], hex(4 * word)


def test_outside_the_memory_is_decerr_and_an_unsupported_burst_slverr():
    dut = new_memory()
    rng = random.Random(3)
    axi, results = dut.axi, {}

    async def master(ctx):
        results["write inside"] = await axi_write(ctx, axi, 0, [0x1122334455667788], [0xFF],
                                                  rng)
        results["write outside"] = await axi_write(ctx, axi, SIZE, [0xDEAD] * 4, [0xFF] * 4,
                                                   rng)
        results["write high"] = await axi_write(ctx, axi, 1 << 40, [0xDEAD], [0xFF], rng)
        results["write narrow"] = await axi_write(ctx, axi, 8, [0xBEEF], [0xFF], rng, size=2)
        results["read outside"] = await axi_read(ctx, axi, SIZE + PAGE, 3, rng)
        results["read narrow"] = await axi_read(ctx, axi, 0, 2, rng, size=2)
        results["read inside"] = await axi_read(ctx, axi, 0, 2, rng)

    run(dut, master)
    assert results["write inside"] == RESP_OKAY
    assert results["write outside"] == RESP_DECERR
    assert results["write high"] == RESP_DECERR
    assert results["write narrow"] == RESP_SLVERR
    assert [resp for _, resp in results["read outside"]] == [RESP_DECERR] * 3
    assert [resp for _, resp in results["read narrow"]] == [RESP_SLVERR] * 2
    # The refused writes changed nothing: row 1 is still zero, row 0 holds the good write.
    assert results["read inside"] == [(0x1122334455667788, RESP_OKAY), (0, RESP_OKAY)]
