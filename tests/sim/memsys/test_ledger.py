"""The stray-write check (sim/memsys/ledger.py): the engine's writes are allowed only in
the destinations and records of the descriptors the ledger saw written, and a copy it
did not see is caught, byte for byte, against the memory's shadow."""
from hw.descriptor import DESC_BYTES, RECORD_BYTES, Status, pack_descriptor
from hw.engine import DmaEngine
from hw.params import EngineParams
from sim.backends import get_runner
from sim.experiments.engine_io import EngineIO
from sim.experiments.engine_scenarios import memory_config
from sim.memsys.address_map import DATA, MEM_BASE, RECORDS
from sim.memsys.ledger import DescriptorLedger, stray_writes
from sim.memsys.memory import Memory

PARAMS = EngineParams(data_width=64, max_burst=16, buffer_depth=64)
SIZE = 0x800


async def one_copy_behind_the_ledger(dev):
    """Two copies; the ledger sees only the first descriptor written."""
    import numpy as np
    io = EngineIO(dev)
    ledger = DescriptorLedger([(MEM_BASE, 8)])
    dev.memory.fill_random(DATA, 2 * SIZE, np.random.default_rng(1))
    await io.setup_channel(0, MEM_BASE, 8)
    dev.memory.track()
    for n in range(2):
        index = io.post(0, DATA + n * SIZE, DATA + 0x4000 + n * SIZE, SIZE, 0,
                        RECORDS + n * RECORD_BYTES)
        if n == 0:
            at = MEM_BASE + index * DESC_BYTES
            ledger.observe(at, dev.memory.read(at, DESC_BYTES))
    await io.doorbell(0)
    await io.wait_idle(0)
    assert [io.record(RECORDS + n * RECORD_BYTES)[0] for n in range(2)] == [Status.SUCCESS] * 2
    stray, runs = stray_writes(dev.memory, ledger.allowed)
    return {"descriptors": ledger.descriptors, "stray": stray, "runs": runs}


def test_a_copy_the_ledger_did_not_see_is_stray():
    config = memory_config(0x8000, read_latency=10, write_latency=10)
    results = [get_runner(backend)(DmaEngine(PARAMS), one_copy_behind_the_ledger,
                                   {}, memory_config=config) for backend in ("pysim",
                                                                             "verilator")]
    assert results[0] == results[1]
    result = results[0]
    assert result["descriptors"] == 1
    # The second copy's destination (random data over zeros: every byte differs, but
    # for the few that happen to be 0) and its record (status and byte count).
    assert SIZE - 16 < result["stray"] <= SIZE + RECORD_BYTES
    assert result["runs"][0][0] == RECORDS + RECORD_BYTES      # the record, lowest first
    assert any(start == DATA + 0x4000 + SIZE for start, _ in result["runs"])


def test_the_ledger_decodes_every_descriptor_a_write_puts_in_a_ring():
    ledger = DescriptorLedger([(0x1000, 4)])
    two = pack_descriptor(1, 0x9000, 64, 0, 0x8000) + pack_descriptor(2, 0xA000, 128, 0, 0x8008)
    ledger.observe(0x1020, two)                     # ring entries 1 and 2
    ledger.observe(0x5000, two)                     # not a ring: ignored
    assert ledger.descriptors == 2
    assert ledger.allowed == [(0x9000, 0x9040), (0x8000, 0x8008), (0xA000, 0xA080),
                              (0x8008, 0x8010)]
    memory = Memory(0x8000, 0x4000)
    memory.track()
    memory.data[0x1000:0x1040] = 7                  # a bus master at 0x9000..0x9040: allowed
    memory.data[0x3000:0x3004] = 9                  # and at 0xB000: stray
    memory.write(0xB100, b"cpu")                    # the CPU's writes are not the bus's
    assert stray_writes(memory, ledger.allowed) == (4, [(0xB000, 0xB004)])
