"""A folio batch copied by the driver stack on the RTL: where the time goes.

The scenario :func:`driver_batch` runs on either back-end: it probes the
engine, registers dcbm with the chosen strategy (or none: the CPU copies),
copies the batch the way the migration core does (offload, then the CPU for
any folio the offload did not copy), checks every byte and reports times.
"""
import numpy as np

from sim.experiments.engine_io import EngineIO
from sim.experiments.engine_scenarios import stream_metrics
from sim.memsys.address_map import COHERENT, DATA, DRIVER_RING_ENTRIES
from sim.host.costs import CostTable
from sim.host.port import HostPort
from sim.memsys.memory_system import DEFAULT_ENGINE_MHZ
from sim.seed import CPU_GHZ
from sw_driver.dcbm import Dcbm
from sim.kernel.core import batched_mc_copy
from sw_driver.migrate_offload import migrate_folios_content
from sw_driver.folio import PAGE_SIZE, Folio
from sw_driver.foliodma import foliodma_probe, foliodma_remove



def batch_layout(folios, folio_size):
    """(source addresses, destination addresses, bytes of DATA used).

    Sources (node 1) lie back to back; destinations (node 0) one page apart.
    """
    srcs = [DATA + i * folio_size for i in range(folios)]
    dst_base = DATA + folios * folio_size + PAGE_SIZE
    dsts = [dst_base + i * (folio_size + PAGE_SIZE) for i in range(folios)]
    return srcs, dsts, dsts[-1] + folio_size + PAGE_SIZE - DATA


async def driver_batch(dev, *, driver, folios, folio_size, nr_dma_chan=1,
                       engine_mhz=DEFAULT_ENGINE_MHZ, cpu_ghz=CPU_GHZ, idle_skip=True,
                       v1_double_copy=True, seed=0, costs=None):
    """Copy the batch with `driver`; check it; return times in ns and the copy's figures.
    ``costs``: the host cost table's values by name (None: the built-in table)."""
    srcs, dsts, _ = batch_layout(folios, folio_size)
    numa = [(srcs[0], srcs[-1] + folio_size, 1)]
    port = HostPort(dev, engine_mhz=engine_mhz, idle_skip=idle_skip,
                    costs=None if costs is None else CostTable(**costs),
                    coherent=COHERENT, numa_nodes=numa)
    rng = np.random.default_rng(seed)
    src = [Folio(addr, folio_size) for addr in srcs]
    dst = [Folio(addr, folio_size) for addr in dsts]
    data = [dev.memory.fill_random(addr, folio_size, rng) for addr in srcs]

    dma = dcbm = None
    if driver != "none":
        dma = await foliodma_probe(port, ring_entries=DRIVER_RING_ENTRIES)
        dcbm = Dcbm(dma, strategy=driver, nr_dma_chan=nr_dma_chan,
                    v1_double_copy=v1_double_copy)
        await dcbm.set_offloading(1)
    spent_before = dict(port.time_ns)
    breakdown_before = dict(port.breakdown_ns)
    start_cycle = dev.cycle
    started = port.now_ns
    # What the migrator leaves, the CPU copies as the migration core's batch copy does.
    copied = (await migrate_folios_content(port, dst, src, fallback=batched_mc_copy)).offloaded
    elapsed = port.now_ns - started
    end_cycle = dev.cycle
    spent = {k: port.time_ns[k] - spent_before[k] for k in port.time_ns}
    breakdown = {k: v - breakdown_before.get(k, 0.0) for k, v in port.breakdown_ns.items()
                 if v != breakdown_before.get(k, 0.0)}
    if dcbm is not None:
        await dcbm.set_offloading(0)
        await foliodma_remove(dma)

    for n, (addr, expected) in enumerate(zip(dsts, data)):
        assert dev.memory.read(addr, folio_size) == expected, f"folio {n}: destination differs"
    io = EngineIO(dev)
    busy_cycles = 0
    if dma is not None:
        for chan in dma.channels:
            busy_cycles += await io.read_counter(chan.chan_id, "busy")
    nbytes = folios * folio_size
    result = {
        "driver": driver,
        "elapsed_ns": elapsed,
        "copy_cycles_per_page": elapsed * cpu_ghz / (nbytes / PAGE_SIZE),
        "driver_cpu_ns": spent["cpu"],
        "cpu_copy_ns": spent["copy"],
        "wait_ns": spent["wait"],
        "device_busy_ns": busy_cycles * port.cycle_ns,
        "copy_gbps": nbytes / elapsed,
        "breakdown_ns_per_page": {k: v / (nbytes / PAGE_SIZE) for k, v in
                                  sorted(breakdown.items(), key=lambda kv: -kv[1])},
        "dma_copied_folios": sum(copied),
        "simulated_cycles": end_cycle - start_cycle,
        "skipped_cycles": dev.skipped_cycles,
        "end_cycle": dev.cycle,
    }
    if any(copied):
        offsets = [[0, 0, addr - DATA, folio_size] for addr in dsts]
        figures = stream_metrics(dev.axi, offsets, start_cycle)
        result.update(window_cycles=figures["window_cycles"],
                      max_descriptor_gap_cycles=figures["max_descriptor_gap_cycles"])
    return result
