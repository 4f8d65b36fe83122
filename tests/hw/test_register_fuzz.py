"""Register fuzzing of the whole engine on every back-end: random AXI4-Lite reads and
writes anywhere in its register window (reserved offsets, bad values, CTRL abort and
reset, doorbells of unprogrammed rings) always get a response, and a reset of every
channel brings the engine back: it copies again."""
import numpy as np

from hw.descriptor import Status
from hw.engine import DmaEngine
from hw.params import EngineParams
from hw.regmap import REG_ADDR_WIDTH, REG_BYTES
from sim.backends import BACKENDS, get_runner
from sim.backends.base import MmioError
from sim.experiments.engine_io import EngineIO
from sim.experiments.engine_scenarios import memory_config
from sim.memsys.address_map import DATA, MEM_BASE, RECORDS

PARAMS = EngineParams(data_width=64, channels=2, max_burst=16, buffer_depth=64)


async def fuzz_then_copy(dev, *, seed, accesses):
    """``accesses`` random register accesses (every one must be answered: a hang fails
    the run), then CTRL.reset of every channel and one copy on each."""
    rng = np.random.default_rng(seed)
    io = EngineIO(dev)
    mapped = {reg.address for reg in io.regmap.registers
              if reg.channel is None or reg.channel < PARAMS.channels}
    errors = {"read": 0, "write": 0}
    reserved = {"accesses": 0, "nonzero reads": 0}
    dev.memory.fill_random(DATA, 0x4000, rng)
    for _ in range(accesses):
        offset = int(rng.integers(0, (1 << REG_ADDR_WIDTH) // REG_BYTES)) * REG_BYTES
        try:
            if rng.random() < 0.5:
                value = await dev.mmio_read(offset)
                if offset not in mapped:
                    reserved["nonzero reads"] += value != 0
            else:
                value = int(rng.choice([0, 1, 2, 3, 0xFFFF_FFFF, int(rng.integers(1 << 32))]))
                await dev.mmio_write(offset, value)
        except MmioError as error:          # an error response is an answer
            errors["read" if "read" in str(error) else "write"] += 1
        reserved["accesses"] += offset not in mapped
        if rng.random() < 0.1:
            await dev.wait_cycles(int(rng.integers(1, 200)))
    await dev.wait_cycles(2000)             # whatever the fuzzing started, let it run out
    records = []
    for ch in range(PARAMS.channels):
        await io.reset_channel(ch)
        await io.write(f"chan[{ch}].ctrl", value=0)
        await io.setup_channel(ch, MEM_BASE + ch * 0x1000, 8)
        record = RECORDS + 64 * ch
        io.post(ch, DATA + ch * 0x1000, DATA + 0x8000 + ch * 0x1000, 0x1000, 0, record)
        await io.doorbell(ch)
        await io.wait_idle(ch)
        records.append(io.record(record)[0].name)
        assert dev.memory.read(DATA + 0x8000 + ch * 0x1000, 0x1000) == \
            dev.memory.read(DATA + ch * 0x1000, 0x1000), f"channel {ch}: copy differs"
    return {"errors": errors, "reserved": reserved, "records": records, "cycle": dev.cycle}


def test_random_register_accesses_never_hang_and_a_reset_brings_the_engine_back():
    config = memory_config(0x10000, read_latency=10, write_latency=10)
    results = [get_runner(backend)(DmaEngine(PARAMS), fuzz_then_copy,
                                   {"seed": 5, "accesses": 300}, memory_config=config)
               for backend in BACKENDS]
    assert results[1:] == results[:1] * 2
    result = results[0]
    assert result["records"] == [Status.SUCCESS.name] * PARAMS.channels
    # Most of the window is reserved (and unimplemented channels): they read as 0.
    assert result["reserved"]["accesses"] > 100 and result["reserved"]["nonzero reads"] == 0
    assert result["errors"] == {"read": 0, "write": 0}
