"""``foliodma bench``: one folio batch through the engine alone or through the driver stack.
"""

from sim.backends import AUTO_BACKEND
from sim.cli.common import (add_output_options, backend_list, check_waveform, format_table,
                            human_size, non_negative_int, parse_size, positive_int, probability,
                            Progress, resolve_backend, UsageError, write_outputs)
from sim.cli.machine_options import (add_engine_options, add_host_options, engine_params,
                                     machine_of)
from sw_driver.dcbm import STRATEGIES
from sw_driver.folio import PAGE_SIZE


BENCH_COLUMNS = (
    ("backend", "backend", "{}"),
    ("folios", "folios", "{}"),
    ("folio", "folio_size", "{}"),
    ("bytes", "bytes", "{}"),
    ("cycles", "cycles", "{}"),
    ("B/cycle", "bytes_per_cycle", "{:.3f}"),
    ("peak", "peak_bytes_per_cycle", "{}"),
    ("efficiency", "efficiency", "{:.2%}"),
    ("total cycles", "total_cycles", "{}"),
    ("doorbell->AR", "doorbell_to_first_ar_cycles", "{}"),
    ("max gap", "max_descriptor_gap_cycles", "{}"),
)


#: The simulation speed of bench runs: cycles ticked (skipped idle cycles not
#: counted) over the run's wall and CPU time, the build apart.
SPEED_COLUMNS = (
    ("backend", "backend", "{}"),
    ("cycles ticked", "ticked_cycles", "{}"),
    ("wall s", "wall_seconds", "{:.2f}"),
    ("CPU s", "cpu_seconds", "{:.2f}"),
    ("cycles/wall s", "ticked_per_wall_second", "{:,.0f}"),
    ("cycles/CPU s", "ticked_per_cpu_second", "{:,.0f}"),
)


def print_speed(rows):
    """The speed table of bench rows, each back-end's build on its own line, and how
    many times the fastest back-end is faster than each other one."""
    print("\nsimulation speed (the run alone: its scenario and driver in Python included, "
          "the build not):")
    print(format_table(rows, SPEED_COLUMNS))
    builds = [f"{row['backend']} " + ("cached" if row["build_cached"] else
                                      f"{row['build_seconds']:.1f} s")
              for row in rows if row["backend"] != "pysim"]
    if builds:
        print("build: " + "; ".join(builds))
    if len(rows) > 1:
        fastest = max(rows, key=lambda row: row["ticked_per_cpu_second"])
        for row in rows:
            if row is not fastest:
                print(f"{fastest['backend']} vs {row['backend']}: "
                      f"{fastest['ticked_per_cpu_second'] / row['ticked_per_cpu_second']:,.0f}x "
                      f"the cycles per CPU second, "
                      f"{fastest['ticked_per_wall_second'] / row['ticked_per_wall_second']:,.0f}x "
                      f"per wall second")


DRIVER_COLUMNS = (
    ("backend", "backend", "{}"),
    ("driver", "driver", "{}"),
    ("folios", "folios", "{}"),
    ("folio", "folio_size", "{}"),
    ("copy cycles/page", "copy_cycles_per_page", "{:.0f}"),
    ("copy GB/s", "copy_gbps", "{:.3f}"),
    ("driver CPU us", "driver_cpu_us", "{:.1f}"),
    ("CPU copy us", "cpu_copy_us", "{:.1f}"),
    ("wait us", "wait_us", "{:.1f}"),
    ("device busy us", "device_busy_us", "{:.1f}"),
    ("idle skip", "idle_skip", "{}"),
    ("sim cycles", "end_cycle", "{}"),
    ("skipped", "skipped_cycles", "{}"),
)


def _bench_memory(args):
    """(read latency, write latency) of a bench command line."""
    read_latency = args.read_latency if args.read_latency is not None else args.latency
    write_latency = args.write_latency if args.write_latency is not None else args.latency
    return read_latency, write_latency


def _bench_backends(args, params):
    """The back-ends to run, once every other option is checked: --backend, auto
    resolved (into args too, as --json records it), and --vcd checked against them."""
    if args.backend == (AUTO_BACKEND,):
        args.backend = (resolve_backend(args, params, AUTO_BACKEND),)
    check_waveform(args, args.backend)
    return args.backend


#: bench --driver's choices: a dcbm strategy, or none (the CPU copies).
DRIVERS = STRATEGIES + ("none",)


#: bench options that only act through the driver stack: (dest, option).
DRIVER_ONLY = (("compare_idle_skip", "--compare-idle-skip"), ("v1_dma_only", "--v1-dma-only"),
               ("iommu_mode", "--iommu-mode"), ("engine_mhz", "--engine-mhz"),
               ("cpu_ghz", "--cpu-ghz"), ("no_idle_skip", "--no-idle-skip"), ("numa", "--numa"))


def cmd_bench(args):
    if args.driver is not None:
        return cmd_driver_bench(args)
    given = [option for dest, option in DRIVER_ONLY
             if getattr(args, dest) != args.defaults[dest]]
    if given:
        verb, pronoun = ("acts", "it") if len(given) == 1 else ("act", "them")
        raise UsageError(f"{', '.join(given)} {verb} on the driver stack: add --driver "
                         f"{'|'.join(DRIVERS)}, or leave {pronoun} out")
    from sim.experiments.bench import run_bench
    params = engine_params(args)
    if args.folio_size < 1 or args.folio_size % params.beat_bytes:
        raise UsageError(f"--folio-size {args.folio_size} is not a positive multiple of the "
                         f"{params.beat_bytes}-byte beat")
    read_latency, write_latency = _bench_memory(args)
    backends = _bench_backends(args, params)
    rows = []
    for backend in backends:
        progress = Progress(f"bench {backend}", enabled=not args.quiet)
        row = run_bench(params, backend=backend, folios=args.folios, folio_size=args.folio_size,
                        read_latency=read_latency, write_latency=write_latency,
                        backpressure=args.backpressure, seed=args.seed, progress=progress,
                        vcd=args.vcd)
        progress.done()
        rows.append(row)
    if write_outputs(args, rows):
        return
    for row in rows:
        row["folio_size"] = human_size(row["folio_bytes"])
    p = params
    print(f"engine: {p.data_width}-bit, {p.channels} channel(s), max burst {p.max_burst} beats, "
          f"{p.outstanding_reads} reads / {p.outstanding_writes} writes outstanding, "
          f"buffer {p.buffer_depth} beats, prefetch {p.prefetch_depth}")
    print(f"memory: read latency {read_latency}, write latency {write_latency} cycles, "
          f"backpressure {args.backpressure}")
    print(format_table(rows, BENCH_COLUMNS))
    print("cycles: first to last data write beat (sustained copy); total cycles: doorbell "
          "to last completion record")
    print_speed(rows)


def cmd_driver_bench(args):
    from sim.experiments.bench import run_driver_bench
    params = engine_params(args)
    if args.folio_size < PAGE_SIZE or args.folio_size % PAGE_SIZE:
        raise UsageError(f"--folio-size {args.folio_size}: folios are whole 4 KiB pages")
    if args.vcd and args.compare_idle_skip:
        raise UsageError("--vcd with --compare-idle-skip: two runs would write one waveform "
                         "file; leave one of them out")
    machine = machine_of(args)
    read_latency, write_latency = _bench_memory(args)
    backends = _bench_backends(args, params)
    skips = (True, False) if args.compare_idle_skip else (not args.no_idle_skip,)
    rows = []
    for backend in backends:
        for idle_skip in skips:
            progress = Progress(f"bench {backend} {args.driver}", enabled=not args.quiet)
            row = run_driver_bench(
                params, backend=backend, driver=args.driver, folios=args.folios,
                folio_size=args.folio_size, read_latency=read_latency,
                write_latency=write_latency, machine=machine,
                idle_skip=idle_skip, v1_double_copy=not args.v1_dma_only, numa=args.numa,
                backpressure=args.backpressure, seed=args.seed, progress=progress,
                vcd=args.vcd)
            progress.done()
            rows.append(row)
    if write_outputs(args, rows):
        return
    for row in rows:
        row["folio_size"] = human_size(row["folio_bytes"])
        for key in ("driver_cpu", "cpu_copy", "wait", "device_busy"):
            row[f"{key}_us"] = row[f"{key}_ns"] / 1000
    p = params
    memory = ("memory: the platform's nodes (sources on the remote node)" if args.numa else
              f"memory latency {read_latency}/{write_latency} cycles")
    print(f"engine: {p.data_width}-bit at {machine.engine_mhz:g} MHz, {p.channels} channel(s); "
          f"CPU {machine.cpu_ghz:g} GHz; {memory}"
          + f"; IOMMU {machine.iommu.mode}"
          + ("; v1 without its extra CPU copy" if args.driver == "v1" and args.v1_dma_only
             else ""))
    print(format_table(rows, DRIVER_COLUMNS))
    print("copy cycles/page: CPU cycles for the whole batch copy per 4 KiB page (the seed's "
          "folio_copy); device busy: channel-busy time summed over channels")
    row = rows[0]
    print(f"\nwhere the time goes ({row['backend']}, {row['driver']}), CPU cycles per page:")
    items = [(name, ns * machine.cpu_ghz) for name, ns in row["breakdown_ns_per_page"].items()]
    print(format_table([{"what": name, "cycles": cycles,
                         "share": cycles / row["copy_cycles_per_page"]}
                        for name, cycles in items],
                       (("what", "what", "{}"), ("cycles/page", "cycles", "{:.0f}"),
                        ("share", "share", "{:.1%}"))))
    print_speed(rows)


def add_bench_command(commands):
    """The ``bench`` command's parser."""
    bench = commands.add_parser(
        "bench", help="copy one folio batch through the engine RTL and measure it",
        description="Copies a batch of folios with the DMA engine RTL against a memory with "
                    "pipelined latency, checks every byte, guard byte and completion record, "
                    "and prints throughput: bytes per cycle over the sustained copy (first to "
                    "last data write beat), efficiency against the bus peak (one full beat "
                    "per cycle), cycles from the doorbell write to the first data read, and "
                    "the largest idle gap on the write channel between two descriptors.")
    bench.add_argument("--backend", type=backend_list, default=(AUTO_BACKEND,),
                       metavar="NAME[,NAME...]",
                       help="simulator(s): Amaranth's built-in (pysim), the exported "
                            "Verilog on Icarus Verilog via cocotb (icarus), or compiled with "
                            "Verilator, the memory side native (verilator, the fastest); "
                            "several comma-separated, or all, run each and compare their "
                            "simulation speed; or auto alone (the default: verilator if it "
                            "builds here, else pysim, saying why)")
    bench.add_argument("--folio-size", type=parse_size, default=4096,
                       help="bytes per folio, e.g. 4K or 2M (default 4K)")
    bench.add_argument("--folios", type=positive_int, default=512,
                       help="folios in the batch (default %(default)s)")
    bench.add_argument("--latency", type=positive_int, default=200, metavar="CYCLES",
                       help="memory read and write latency in engine cycles, at least 1 "
                            "(default %(default)s)")
    bench.add_argument("--read-latency", type=positive_int, metavar="CYCLES",
                       help="read latency, overriding --latency")
    bench.add_argument("--write-latency", type=positive_int, metavar="CYCLES",
                       help="write latency, overriding --latency")
    bench.add_argument("--backpressure", type=probability, default=0.0,
                       help="probability that the memory stalls each AXI channel in a cycle "
                            "(default 0)")
    bench.add_argument("--seed", type=non_negative_int, default=0,
                       help="seed of the data and the backpressure (default 0)")
    add_engine_options(bench)
    host = bench.add_argument_group("driver and host (with --driver)")
    host.add_argument("--driver", choices=DRIVERS,
                      help="copy through the driver stack: dcbm strategy v1 (per page, "
                           "polled), v2 (per folio, interrupt each), v3 (scatter-gather per "
                           "channel), or none (the CPU copies); without it the engine is "
                           "driven directly and measured alone")
    add_host_options(host)
    host.add_argument("--compare-idle-skip", action="store_true",
                      help="run with and without idle skipping and show both")
    host.add_argument("--numa", action="store_true",
                      help="the engine sees the NUMA memory system of the seed's machine "
                           "(sources on the remote node, the rest local; see "
                           "sim/memsys/memory_system.py) instead of --latency")
    add_output_options(bench, json_help="print JSON instead of a table")
    bench.set_defaults(func=cmd_bench,
                       defaults={dest: bench.get_default(dest) for dest, _ in DRIVER_ONLY})
