"""Bus faults (sim/memsys/bus_faults.py) through the engine on every back-end: an error on a
chosen read or write burst (data, descriptor or completion record) ends that
descriptor with its error code, a late response only delays the copy; every
back-end injects the same faults at the same cycles."""
import pytest

from hw.descriptor import RECORD_BYTES, Status
from hw.engine import DmaEngine
from hw.params import EngineParams
from sim.backends import get_runner
from sim.experiments.engine_io import EngineIO
from sim.experiments.engine_scenarios import memory_config
from sim.memsys.address_map import DATA, MEM_BASE, RECORDS
from sim.memsys.bus_faults import BusFaults

PARAMS = EngineParams(data_width=64, max_burst=16, buffer_depth=64)
JOBS = 3
SIZE = 1024
BACKENDS = ("pysim", "icarus", "verilator")


def _job(n):
    """(src, dst, record) of job n."""
    return DATA + n * SIZE, DATA + 0x10000 + n * SIZE, RECORDS + n * RECORD_BYTES


async def copies(dev):
    """JOBS descriptors on channel 0, one doorbell; wait until the channel stops.
    Returns each record's status, whether each destination equals its source, the
    bursts (AR and AW addresses by index), the faults injected and the last cycle."""
    io = EngineIO(dev)
    await io.setup_channel(0, MEM_BASE, 8)
    for n in range(JOBS):
        src, dst, record = _job(n)
        dev.memory.write(src, bytes((n * 31 + i) % 251 for i in range(SIZE)))
        io.post(0, src, dst, SIZE, 0, record)
    await io.doorbell(0)
    status = await io.wait_idle(0)
    copied = [dev.memory.read(_job(n)[1], SIZE) == dev.memory.read(_job(n)[0], SIZE)
              for n in range(JOBS)]
    return {"records": [io.record(_job(n)[2])[0].name for n in range(JOBS)],
            "halted": bool(status["halted"]), "code": Status(status["code"]).name,
            "copied": copied, "reads": [addr for _, _, addr, _ in dev.axi.ar_log],
            "writes": [addr for _, _, addr, _ in dev.axi.aw_log],
            "injected": [list(entry) for entry in dev.axi.injected], "cycle": dev.cycle}


def run(backend, faults=None):
    config = memory_config(0x20000, read_latency=20, write_latency=20)
    if faults:
        config["bus_faults"] = [faults.to_config()]
    return get_runner(backend)(DmaEngine(PARAMS), copies, {},
                               memory_config=config)


@pytest.fixture(scope="module")
def clean():
    result = run("verilator")
    assert result["records"] == ["SUCCESS"] * JOBS and all(result["copied"])
    assert result["injected"] == []
    return result


def _first(addresses, start, end):
    return next(i for i, addr in enumerate(addresses) if start <= addr < end)


@pytest.mark.parametrize("where, code, records, copied", [
    ("data read", Status.READ_SLVERR, ["SUCCESS", "READ_SLVERR", "NOT_DONE"],
     [True, False, False]),
    ("data write", Status.WRITE_DECERR, ["SUCCESS", "WRITE_DECERR", "NOT_DONE"],
     [True, False, False]),
    # The record itself is what failed to be written: it stays NOT_DONE, STATUS says why.
    ("record write", Status.RECORD_WRITE_ERROR, ["SUCCESS", "NOT_DONE", "NOT_DONE"],
     [True, True, False]),
    ("descriptor read", Status.DESC_READ_ERROR, ["NOT_DONE"] * 3, [False] * 3),
])
def test_an_error_on_a_chosen_burst_ends_its_descriptor_on_every_backend(clean, where, code,
                                                                        records, copied):
    src, dst, record = _job(1)
    if where == "data read":
        faults = BusFaults(reads={_first(clean["reads"], src, src + SIZE): ("error", "SLVERR")})
    elif where == "data write":
        faults = BusFaults(writes={_first(clean["writes"], dst, dst + SIZE): ("error",
                                                                               "DECERR")})
    elif where == "record write":
        faults = BusFaults(writes={_first(clean["writes"], record, record + RECORD_BYTES):
                                   ("error", "SLVERR")})
    else:       # every descriptor fetch fails: the first ends the channel's work
        faults = BusFaults(reads={i: ("error", "SLVERR") for i, addr in
                                  enumerate(clean["reads"]) if MEM_BASE <= addr < DATA})
    results = [run(backend, faults) for backend in BACKENDS]
    assert results[1:] == results[:1] * 2            # the same on every back-end
    result = results[0]
    assert result["halted"] and result["code"] == code.name
    assert result["records"] == records and result["copied"] == copied
    first = min(faults.reads or faults.writes)
    assert result["injected"][0][1:] == ["read" if faults.reads else "write", first, "error"]


def test_a_late_response_only_delays_the_copy(clean):
    src, _, _ = _job(0)
    index = _first(clean["reads"], src, src + SIZE)
    faults = BusFaults(reads={index: ("delay", 5000)})
    late = run("verilator", faults)
    assert late["records"] == ["SUCCESS"] * JOBS and all(late["copied"])
    assert late["injected"][0][1:] == ["read", index, "delay"]
    assert late["cycle"] >= clean["cycle"] + 5000
    assert run("pysim", faults) == late


def test_bad_fault_tables_are_refused():
    with pytest.raises(ValueError, match="SLVERR or DECERR"):
        BusFaults(reads={0: ("error", "OKAY")})
    with pytest.raises(ValueError, match="an int of cycles >= 1"):
        BusFaults(writes={3: ("delay", 0)})
    with pytest.raises(ValueError, match="kind 'hang'"):
        BusFaults(reads={1: ("hang", 10)})
    assert BusFaults.from_config(BusFaults(reads={2: ("delay", 9)}).to_config()) == \
        BusFaults(reads={2: ("delay", 9)})
