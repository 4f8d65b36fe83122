"""The host port: one ns timeline over the RTL, and idle skipping that changes nothing."""
import pytest

from hw.descriptor import FLAG_INTERRUPT, Status
from hw.engine import DmaEngine
from hw.params import EngineParams
from sim.backends import BACKENDS, get_runner
from sim.experiments.engine_io import EngineIO
from sim.experiments.engine_scenarios import memory_config
from sim.memsys.address_map import DATA, MEM_BASE, RECORDS
from sim.host.port import HostPort
from sw_driver.port import Op

PARAMS = EngineParams(data_width=64)


async def timeline(dev, *, idle_skip):
    """Copy, then idle CPU time, then an interrupt wait that times out."""
    # The engine is programmed directly with physical addresses: no IOMMU.
    port = HostPort(dev, engine_mhz=500, idle_skip=idle_skip, iommu=False,
                    coherent=(MEM_BASE + (1 << 20), 1 << 16))
    io = EngineIO(dev)
    await io.setup_channel(0, MEM_BASE, 16)
    await io.write("int_enable", done=1)
    dev.memory.write(DATA, bytes(range(256)) * 16)
    io.post(0, DATA, DATA + 8192, 4096, FLAG_INTERRUPT, RECORDS)
    await port.mmio_write(io.regmap.address("chan[0].tail"), 1)
    before_irq = port.now_ns
    assert await port.wait_for_irq(timeout_ns=1_000_000)
    irq_ns = port.now_ns
    await port.mmio_write(io.regmap.address("int_status"), 1)
    await port.cpu(Op.WAKEUP, count=10)             # long CPU time, engine idle
    after_cpu = port.now_ns
    timed_out = not await port.wait_for_irq(timeout_ns=10_000)
    assert io.record(RECORDS) == (Status.SUCCESS, 4096)
    assert dev.memory.read(DATA + 8192, 4096) == bytes(range(256)) * 16
    return {"before_irq": before_irq, "irq": irq_ns, "after_cpu": after_cpu,
            "end": port.now_ns, "timed_out": timed_out, "cycle": dev.cycle,
            "skipped": dev.skipped_cycles, "time_ns": port.time_ns}


@pytest.mark.parametrize("backend", BACKENDS)
def test_idle_skip_changes_only_the_work(backend):
    run = get_runner(backend)
    config = memory_config(16384, read_latency=50, write_latency=50)
    skipped = run(DmaEngine(PARAMS), "tests.sim.host.test_host:timeline", {"idle_skip": True},
                  memory_config=config)
    ticked = run(DmaEngine(PARAMS), "tests.sim.host.test_host:timeline", {"idle_skip": False},
                 memory_config=config)
    assert ticked["skipped"] == 0
    # The 10 wake-ups and the 10 us timeout are idle: nearly all of it is skipped.
    assert skipped["skipped"] > 0.9 * (skipped["end"] - skipped["irq"]) / 2
    assert {k: v for k, v in skipped.items() if k != "skipped"} == \
        {k: v for k, v in ticked.items() if k != "skipped"}
    assert skipped["timed_out"]
    assert skipped["end"] - skipped["after_cpu"] == pytest.approx(10_000, abs=40)


def test_cpu_costs_advance_the_clock():
    from sim.backends.pysim import run_pysim
    result = run_pysim(DmaEngine(PARAMS), "tests.sim.host.test_host:timeline", {"idle_skip": True},
                       memory_config=memory_config(16384, read_latency=50, write_latency=50))
    from sim.host.costs import CostTable
    wakeups = 10 * CostTable().op_ns(Op.WAKEUP)
    # after_cpu - irq = the INT_STATUS write plus the 10 wake-ups, on a 2 ns clock.
    assert result["after_cpu"] - result["irq"] == pytest.approx(
        wakeups + CostTable().mmio_write_ns, abs=4)
