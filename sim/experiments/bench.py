"""``foliodma bench``: one folio batch through the engine, measured."""
import resource
import time

from sim.backends import get_runner, prepare
from sim.experiments.engine_scenarios import bench_batch, folio_jobs, jobs_extent, memory_config
from sim.machine import DEFAULT_MACHINE
from sim.memsys.memory_system import DEFAULT_ENGINE_MHZ

def cpu_seconds():
    """CPU time of this process and of its finished children (Icarus runs in one)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_run(backend, params, scenario, kwargs, *, memory_config, progress=None, vcd=None,
              engine_mhz=DEFAULT_ENGINE_MHZ):
    """(result, speed figures) of one run of a DmaEngine(params) on a back-end, its
    build done and timed first (engine_mhz: the waveform's clock).

    The figures: build_seconds, build_cached, wall_seconds and cpu_seconds of the
    run alone (the scenario's Python included, the build not)."""
    from hw.engine import DmaEngine
    run = get_runner(backend)           # its tools are checked before an engine is made
    dut = DmaEngine(params)
    figures = prepare(backend, dut, vcd=vcd)
    cpu, wall = cpu_seconds(), time.perf_counter()
    result = run(dut, scenario, kwargs, memory_config=memory_config, progress=progress,
                 vcd=vcd, engine_mhz=engine_mhz)
    figures.update(wall_seconds=time.perf_counter() - wall, cpu_seconds=cpu_seconds() - cpu)
    return result, figures


def simulation_speed(ticked, speed):
    """Cycles ticked (skipped idle cycles not counted) per wall and per CPU second."""
    return {"ticked_cycles": ticked,
            "ticked_per_wall_second": ticked / speed["wall_seconds"],
            "ticked_per_cpu_second": ticked / max(speed["cpu_seconds"], 1e-9)}


def run_bench(params, *, backend, folios, folio_size, read_latency, write_latency,
              backpressure=0.0, seed=0, progress=None, vcd=None):
    """Copy `folios` folios of `folio_size` bytes on one backend; returns the figures.

    cycles      -- the sustained copy: first to last data W beat, inclusive;
    total_cycles -- doorbell write to the last completion record's W beat.
    efficiency  -- bytes per cycle over the bus peak (one full beat per cycle).
    """
    jobs = folio_jobs(folios, folio_size, params.channels)
    config = memory_config(jobs_extent(jobs), read_latency=read_latency,
                           write_latency=write_latency, backpressure=backpressure, seed=seed)
    result, speed = timed_run(backend, params, bench_batch,
                              {"jobs": jobs, "seed": seed}, memory_config=config,
                              progress=progress, vcd=vcd)
    nbytes = folios * folio_size
    cycles = result["window_cycles"]
    total = result["last_w_cycle"] - result["doorbell_start"] + 1
    return {
        "backend": backend,
        "folios": folios,
        "folio_bytes": folio_size,
        "bytes": nbytes,
        **throughput(params, nbytes, cycles),
        "total_cycles": total,
        "efficiency_total": nbytes / total / params.peak_bytes_per_cycle,
        "doorbell_to_first_ar_cycles": result["doorbell_to_first_ar_cycles"],
        "max_descriptor_gap_cycles": result["max_descriptor_gap_cycles"],
        "read_latency": read_latency,
        "write_latency": write_latency,
        "backpressure": backpressure,
        "simulated_cycles": result["end_cycle"],
        **speed,
        **simulation_speed(result["end_cycle"], speed),
        "params": params.as_dict(),
    }


def throughput(params, nbytes, cycles):
    """nbytes copied in cycles: bytes per cycle and against the bus peak."""
    peak = params.peak_bytes_per_cycle
    return {"cycles": cycles, "bytes_per_cycle": nbytes / cycles, "peak_bytes_per_cycle": peak,
            "efficiency": nbytes / cycles / peak}


def run_driver_bench(params, *, backend, driver, folios, folio_size, read_latency,
                     write_latency, machine=DEFAULT_MACHINE, idle_skip=True,
                     v1_double_copy=True, backpressure=0.0, seed=0, numa=False, progress=None,
                     vcd=None):
    """Copy a folio batch through the driver stack (or the CPU: driver "none").

    copy_cycles_per_page -- CPU cycles from the start to the end of the batch
                            copy, per 4 KiB page (the seed's folio_copy measure);
    driver_cpu_ns / cpu_copy_ns / wait_ns -- the CPU's time in driver code and
                            MMIO, in CPU copies, and busy-polling or asleep;
    device_busy_ns       -- channel-busy time, summed over the engine's channels.

    ``machine`` gives the clocks, the IOMMU mode and the host costs; with ``numa`` the
    engine sees its memory nodes (:meth:`sim.machine.Machine.memory_system`: the sources
    on the remote node 1 behind the socket link, the rest local) instead of the read/write latencies.
    """
    engine_mhz, cpu_ghz, iommu_mode = machine.engine_mhz, machine.cpu_ghz, machine.iommu.mode
    from sim.experiments.driver_bench import batch_layout, driver_batch
    srcs, _, extent = batch_layout(folios, folio_size)
    timing = {"read_latency": read_latency, "write_latency": write_latency}
    if numa:
        system = machine.memory_system(remote=[(srcs[0], srcs[-1] + folio_size)])
        timing = {"memory_system": system.to_config()}
    config = memory_config(extent, **timing, backpressure=backpressure, seed=seed,
                           iommu_params=machine.iommu.to_config())
    kwargs = {"driver": driver, "folios": folios, "folio_size": folio_size,
              "nr_dma_chan": params.channels, "engine_mhz": engine_mhz, "cpu_ghz": cpu_ghz,
              "idle_skip": idle_skip, "v1_double_copy": v1_double_copy, "seed": seed,
              "costs": machine.costs.as_dict()}
    result, speed = timed_run(backend, params, driver_batch,
                              kwargs, memory_config=config, progress=progress, vcd=vcd,
                              engine_mhz=engine_mhz)
    nbytes = folios * folio_size
    row = {
        "backend": backend, "folios": folios, "folio_bytes": folio_size, "bytes": nbytes,
        **result,
        "simulated_ns": result["elapsed_ns"],
        "idle_skip": idle_skip,
        "v1_double_copy": v1_double_copy,
        "iommu_mode": iommu_mode,
        "engine_mhz": engine_mhz, "cpu_ghz": cpu_ghz,
        "read_latency": None if numa else read_latency,
        "write_latency": None if numa else write_latency, "numa": numa,
        **speed,
        **simulation_speed(result["end_cycle"] - result["skipped_cycles"], speed),
        "params": params.as_dict(),
    }
    if "window_cycles" in result:
        row.update(throughput(params, nbytes, result["window_cycles"]))
    return row
