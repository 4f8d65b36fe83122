"""Running the core: on the CPU alone, or as a scenario on an RTL back-end with
the driver stack and the engine.
"""
import asyncio
import math
import statistics

from sim.host.costs import CostTable, DEFAULT_COSTS
from sim.kernel.clock import SoftPort
from sim.kernel.core import CoreConfig, MigrationCore
from sim.kernel.folios import (folio_sizes, MigrateError, NR_MAX_BATCHED_MIGRATION, PAGE,
                               Plan)
from sim.kernel.modes import ENGINE_MODES
from sim.kernel.frames import node_layout, NodeFrames
from sim.machine import DEFAULT_MACHINE
from sim.memsys.memory_system import DEFAULT_ENGINE_MHZ
from sw_driver.dcbm import DEFAULT_STRATEGY
from sw_driver.migrate_offload import MR_SYSCALL


def plan_of(spec, costs):
    """The folio plan (sizes, batches, LLC residency) of a run's spec."""
    sizes = folio_sizes(spec.get("workload_bytes"), spec.get("folio_bytes", PAGE),
                        spec.get("sizes"))
    return Plan.build(sizes, max_batch_pages=spec.get("max_batch_pages",
                                                      NR_MAX_BATCHED_MIGRATION),
                      llc_bytes=int(costs.llc_bytes), dma_fail=spec.get("dma_fail", ()),
                      poison=spec.get("poison", ()))


def core_config(spec, path_gbps=None, dma_channels=1):
    """The core's configuration from a run's spec (``path_gbps``: the memory path's
    bandwidth mt-cpu's workers share, :func:`sim.kernel.mtcopy.path_gbps`;
    ``dma_channels``: dcbm's, which dma+mt-cpu splits a batch with)."""
    return CoreConfig(mode=spec["mode"], flow=spec.get("flow"),
                      from_node=spec.get("from_node", 1), to_node=spec.get("to_node", 0),
                      remote_cpus=spec.get("remote_cpus", 0), mappings=spec.get("mappings", 1),
                      full=spec.get("full", False), seed=spec.get("seed", 0),
                      threads=spec.get("threads", 1), reason=spec.get("reason", MR_SYSCALL),
                      path_gbps=path_gbps, dma_channels=dma_channels)


def run_cpu(spec, costs=DEFAULT_COSTS, path_gbps=None):
    """A CPU-copy mode (cpu, batch-cpu, mt-cpu) on the CPU alone; the raw result.
    ``path_gbps``: the memory path's bandwidth mt-cpu's workers share (None: none)."""
    from sim.memsys.memory import Memory
    config = core_config(spec, path_gbps)
    if config.mode in ENGINE_MODES:
        raise MigrateError(f"run_cpu runs the CPU modes; {config.mode} runs on the RTL "
                           f"(run_dma)")
    plan = plan_of(spec, costs)
    layout = node_layout(plan, from_node=config.from_node, to_node=config.to_node,
                         base=0, full=config.full)
    end = max(start + size for start, size in layout.values())
    memory = Memory(0, end)
    numa = [(start, start + size, node) for node, (start, size) in layout.items()]
    port = SoftPort(memory, costs=costs, numa_nodes=numa)
    core = MigrationCore(port, plan, config, layout)
    return asyncio.run(core.migrate_pages())


# --- the RTL scenario ---
def dma_memory_config(spec, machine=DEFAULT_MACHINE, *, latency_ns=None):
    """(memory_config, layout) for the DMA scenario on ``machine``: node regions, the
    nodes' latency and bandwidth (or one flat ``latency_ns``), the IOMMU's
    invalidation mode."""
    from sim.memsys.address_map import DATA, MEM_BASE
    config = core_config(spec)
    plan = plan_of(spec, machine.costs)
    engine_mhz = machine.engine_mhz
    layout = node_layout(plan, from_node=config.from_node, to_node=config.to_node,
                         base=DATA, full=config.full)
    end = max(start + size for start, size in layout.values())
    memory = {"base": MEM_BASE, "size": end - MEM_BASE,
              "iommu_params": machine.iommu.to_config()}
    if latency_ns is None:
        ranges = {node: [(start, start + size)] for node, (start, size) in layout.items()}
        memory["memory_system"] = machine.memory_system(
            remote=ranges.get(machine.remote.node_id, ()),
            cxl=ranges.get(machine.cxl.node_id, ())).to_config()
        if machine.engine_ports.limited:
            memory["engine_ports"] = machine.engine_ports.to_config()
    else:                          # one flat latency instead of the nodes'
        cycles = max(1, math.ceil(latency_ns * engine_mhz / 1000))
        memory.update(read_latency=cycles, write_latency=cycles)
    faulty = sorted(plan.dma_fail | plan.poison)
    if faulty:
        # The reserved source frames of the faulty folios (see MigrationCore): the
        # engine's reads there get SLVERR (poisoned or failing memory).
        frames = NodeFrames(config.from_node, *layout[config.from_node])
        regions = []
        for slot, index in enumerate(faulty):
            addr = frames.reserve_top(plan.sizes[index], slot)
            regions.append([addr, addr + plan.sizes[index], "read", "SLVERR"])
        memory["error_regions"] = regions
    return memory, {str(k): list(v) for k, v in layout.items()}


async def migrate_scenario(dev, *, spec, costs, layout, driver=DEFAULT_STRATEGY, nr_dma_chan=1,
                           engine_mhz=DEFAULT_ENGINE_MHZ, idle_skip=True,
                           v1_double_copy=True, ring_entries=None, max_inflight=None,
                           max_seg_size=None, faulted=None, reasons=None):
    """Scenario (any back-end): every engine probed (engine k's registers at
    ``k * ENGINE_WINDOW_BYTES``, its interrupt line k; ``max_inflight`` descriptors
    per channel in flight, DMA segments of ``max_seg_size``), dcbm registered over
    them (taking the migration ``reasons``, None: all), migrate_pages() with the DMA
    copy. ``faulted``: a
    :class:`sim.kernel.checks.FaultedRun` dict: the run under host faults and short
    driver timeouts, its result with a ``faulted`` report of what happened and what
    must be zero."""
    from sim.kernel.checks import FaultedRun
    from sim.backends.base import ENGINE_WINDOW_BYTES
    from sim.memsys.address_map import COHERENT, DRIVER_RING_ENTRIES
    ring_entries = ring_entries or DRIVER_RING_ENTRIES
    from sw_driver.dcbm import Dcbm
    from sw_driver.foliodma import foliodma_probe, foliodma_remove
    table = CostTable(**costs)
    layout = {int(k): tuple(v) for k, v in layout.items()}
    config = core_config(spec, dma_channels=nr_dma_chan)
    plan = plan_of(spec, table)
    numa = [(start, start + size, node) for node, (start, size) in layout.items()]
    faulted = None if faulted is None else FaultedRun(**faulted)
    probe_settings, dcbm_settings = faulted.driver_settings() if faulted else ({}, {})
    from sim.kernel.host_port import MigrationHostPort
    port = MigrationHostPort(dev, costs=table, engine_mhz=engine_mhz, idle_skip=idle_skip,
                             coherent=COHERENT, numa_nodes=numa,
                             faults=faulted.host_faults if faulted else ())
    devices = [await foliodma_probe(port, ring_entries=ring_entries,
                                    mmio_base=k * ENGINE_WINDOW_BYTES, irq=k,
                                    max_inflight=max_inflight, **probe_settings,
                                    **({"max_seg_size": max_seg_size} if max_seg_size else {}))
               for k in range(dev.engines)]
    if faulted:
        faulted.arm(port, devices)
    dcbm = Dcbm(devices, strategy=driver, nr_dma_chan=nr_dma_chan, v1_double_copy=v1_double_copy,
                reasons=reasons, **dcbm_settings)
    await dcbm.set_offloading(1)
    started = dev.cycle
    try:
        core = MigrationCore(port, plan, config, layout)
        result = await core.migrate_pages(tol_ns=port.cycle_ns)
    finally:
        await dcbm.set_offloading(0)
    for device in devices:
        await foliodma_remove(device)
    result.update(dma_copied_folios=dcbm.folios_migrated, dma_failed_folios=dcbm.folios_failures,
                  simulated_cycles=dev.cycle - started, skipped_cycles=dev.skipped_cycles,
                  iommu_walks=port.iommu.walks, iommu_walk_reads=port.iommu.walk_reads,
                  iotlb_invalidations=port.iommu.invalidations,
                  restarts=len(port.restart_gaps_ns),
                  restart_gap_ns=(statistics.median(port.restart_gaps_ns)
                                  if port.restart_gaps_ns else None))
    if faulted:
        result["faulted"] = faulted.report(port, devices, dcbm)
    return result


def run_dma(spec, machine=DEFAULT_MACHINE, *, backend="pysim", driver=DEFAULT_STRATEGY,
            idle_skip=True, v1_double_copy=True, latency_ns=None, progress=None, vcd=None,
            faulted=None, bus_faults=(), error_regions=()):
    """The dma mode on an RTL back-end, on ``machine``; the raw result. ``faulted``: a
    :class:`sim.kernel.checks.FaultedRun` (or its dict) to run under; ``bus_faults``:
    per engine, its :class:`sim.memsys.bus_faults.BusFaults` (or their dicts);
    ``error_regions``: more of them (:mod:`sim.memsys.error_regions`)."""
    import dataclasses
    from sim.memsys.bus_faults import BusFaults
    from hw.engine import DmaEngine
    from sim.backends import get_runner
    params = machine.engine
    memory, layout = dma_memory_config(spec, machine, latency_ns=latency_ns)
    if bus_faults:
        memory["bus_faults"] = [BusFaults.from_config(f).to_config() for f in bus_faults]
    if error_regions:
        memory["error_regions"] = memory.get("error_regions", []) + [list(r) for r in
                                                                     error_regions]
    kwargs = {"spec": spec, "costs": machine.costs.as_dict(), "layout": layout, "driver": driver,
              "nr_dma_chan": machine.dcbm_channels, "engine_mhz": machine.engine_mhz,
              "reasons": None if machine.dcbm_reasons is None else list(machine.dcbm_reasons),
              "ring_entries": machine.ring_entries, "max_inflight": machine.max_inflight,
              "max_seg_size": machine.max_seg_size,
              "idle_skip": idle_skip, "v1_double_copy": v1_double_copy,
              "faulted": None if faulted is None else
              (dataclasses.asdict(faulted) if not isinstance(faulted, dict) else faulted)}
    engines = [DmaEngine(params) for _ in range(machine.engines)]
    try:
        return get_runner(backend)(engines if len(engines) > 1 else engines[0],
                                migrate_scenario, kwargs,
                                memory_config=memory, progress=progress, vcd=vcd,
                                engine_mhz=machine.engine_mhz)
    except BaseException:
        # A back-end that refused the engines before elaborating them: no warning that
        # they were "created but never used" on top of its error (Amaranth's own flag).
        for engine in engines:
            engine._MustUse__silence = True
        raise
