"""The ``foliodma`` command line: the parser of every command, and the entry point.
"""
import argparse
import importlib.metadata
import os
import sys
from pathlib import Path

from hw.amba import MAX_ID_WIDTH
from hw.layouts import AXI_ID_WIDTH
from hw.synth import DEFAULT_TARGET_MHZ
from sim.backends import AUTO_BACKEND
from sim.cli.bench import cmd_bench, DRIVER_ONLY, DRIVERS
from sim.cli.common import (add_csv_option, add_from_json_option, apply_from_json,
                            add_backend_option, add_output_options, backend_list, comma_list,
                            non_negative_int, output_path, parse_size, positive_float, positive_int,
                            probability, request_default, figure_path, set_table_width, TABLE_WIDTH,
                            UsageError)
from sim.cli.machine_options import (add_engine_options, add_host_options, add_platform_options,
                                     add_platform_reading_options)
from sim.cli.hardware import cmd_regs, cmd_verilog, export_path, output_dir, verilog_identifier
from sim.cli.synth import add_synth_command
from sim.cli.migrate import add_migrate_options, cmd_migrate
from sim.cli.platform import add_platform_command
from sim.cli.explore import add_explore_command
from sim.cli.scaling import add_scaling_command
from sim.cli.stress import add_stress_command
from sim.cli.board import add_board_command
from sim.cli.formal import add_formal_command
from sim.cli.reproduce import cmd_reproduce
from sim.cli.sweep import cmd_sweep, SWEEP_MEASURES, sweepable_options
from sim.experiments.plot import PlotError


def build_parser():
    parser = argparse.ArgumentParser(
        prog="foliodma",
        description="Cycle-level HW/SW co-design model of DMA-offloaded page migration.")
    parser.add_argument("--version", action="version",
                        version=f"foliodma {importlib.metadata.version('foliodma')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
                           "sim/platform/memory_system.py) instead of --latency")
    add_output_options(bench, json_help="print JSON instead of a table")
    bench.set_defaults(func=cmd_bench,
                       defaults={dest: bench.get_default(dest) for dest, _ in DRIVER_ONLY})

    mig = commands.add_parser(
        "migrate", help="migrate_pages() of a workload: CPU (upstream) vs CPU (batched) vs DMA",
        description="Runs the migration core (unmap, batched TLB flush, move; per-folio CPU "
                    "fallback and undo) over a folio list from one node to another, with the "
                    "CPU copy of the upstream and batched flows and the DMA copy through the "
                    "dcbm driver on the engine RTL, and prints the seed's measures: "
                    "migrate_pages and folio_copy cycles per page, F, copy GB/s; and CPU "
                    "s/GiB, the CPU-seconds the migration occupies per GiB moved: all the "
                    "migrating CPU does (the core's work, the driver's operations and MMIO, "
                    "CPU copies, busy-polling, interrupt delivery and handling) but not its "
                    "sleep in wait_for_completion until the device's interrupt. Every run "
                    "ends with an integrity check of every simulated folio.")
    add_migrate_options(mig)
    mig.add_argument("--plot", type=figure_path, metavar="FILE.svg|png",
                     help="also draw where the time goes: migrate_pages and folio_copy "
                          "cycles per page of each mode, stacked by category (SVG or PNG by the extension)")
    mig.add_argument("--folio-latency", action="store_true",
                     help="also print when the folios were usable again (their PTEs "
                          "restored): the first, the median and the last folio, µs after "
                          "migrate_pages() began (always in --json and --csv: first_folio_us, "
                          "median_folio_us, last_folio_us)")
    add_output_options(mig, json_help="print one JSON object with a 'rows' list",
                       vcd_help="waveform of the dma run on model time: one cycle per "
                                "period of --engine-mhz, idle spans included; the format by "
                                "the extension: .vcd, or .fst on icarus")
    mig.set_defaults(func=cmd_migrate)

    sweep = commands.add_parser(
        "sweep", help="migrate_pages() over the values of one option: which engine or "
                      "driver makes offload win",
        description="Runs `foliodma migrate` once per value of one of its options (engine "
                    "parameters, driver, folio size, workload, nodes, ...) and prints the "
                    "rows of every run in one table; --plot draws one measure against the "
                    "option, a line per mode.")
    sweep.add_argument("option", metavar="OPTION",
                       help="a migrate option that takes a value, without its dashes: e.g. "
                            "channels, data-width, engine-mhz, driver, folio-size, workload, "
                            "max-batch-pages, remote-cpus, from-node, iommu-mode")
    sweep.add_argument("values", type=comma_list, metavar="V1,V2,...",
                       help="its values, comma-separated, as the option takes them")
    add_migrate_options(sweep)
    sweep.set_defaults(func=cmd_sweep, sweepable=sweepable_options())
    sweep.add_argument("--jobs", type=positive_int, default=1,
                       help="runs in parallel, each in its own process (default %(default)s; "
                            "no progress within a run)")
    sweep.add_argument("--measure", choices=SWEEP_MEASURES, default="migrate_pages",
                       help="what --plot draws (default %(default)s)")
    sweep.add_argument("--plot", type=figure_path, metavar="FILE.svg|png",
                       help="also draw the measure against the option, a line per mode, the SD as error bars (SVG or PNG)")
    sweep.add_argument("--json", action="store_true",
                       help="print one JSON object: option, values (as typed), measure, rows "
                            "(each with the value it ran with under 'swept', as the option "
                            "parses it: 2M is 2097152)")
    sweep.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_csv_option(sweep)
    add_from_json_option(sweep)

    rep = commands.add_parser(
        "reproduce", help="every row of the seed's tables: model vs measured, with errors",
        description="Runs all workloads (4KB, 2MB, 256MB, 1GB) in all three modes (the DMA "
                    "rows with dcbm v1, as the seed measured), the post_move_access column "
                    "and the later posting's calibration points, and prints model vs "
                    "measured with the error of each cell and the largest error per column.")
    add_backend_option(rep)
    rep.add_argument("--jobs", type=positive_int, default=2,
                     help="DMA simulations run in parallel (default %(default)s)")
    rep.add_argument("--repeat", type=positive_int, default=request_default("repeat"),
                     help="runs for mean ± SD (default %(default)s)")
    rep.add_argument("--seed", type=non_negative_int, default=0, help="noise seed (default 0)")
    add_platform_reading_options(add_platform_options(rep))
    rep.add_argument("--json", action="store_true", help="print the report as JSON")
    add_csv_option(rep)
    rep.add_argument("--plot", type=figure_path, metavar="FILE.svg|png",
                     help="also draw each table 1 cell's error against its band (SVG or PNG)")
    rep.add_argument("--quiet", action="store_true", help="no progress on stderr")
    rep.set_defaults(func=cmd_reproduce)

    regs = commands.add_parser(
        "regs", help="write the C header and Markdown register reference generated from "
                     "hw/regs.rdl",
        description="Compiles the register map (hw/regs.rdl, SystemRDL) and writes the "
                    "driver's C header (foliodma_regs.h) and the Markdown register reference "
                    "(registers.md) into a directory; docs/ holds the committed copies "
                    "(make regs).")
    regs.add_argument("--out", type=output_dir, default=Path("build/regs"),
                      help="output directory (default %(default)s)")
    regs.set_defaults(func=cmd_regs)

    export = commands.add_parser(
        "verilog", help="export the engine as Verilog, or as an IP package (FuseSoC core, "
                        "IP-XACT component), for a given set of parameters",
        description="Converts the engine RTL, built with the given parameters, to Verilog "
                    "(through Yosys) with ports as AMBA names them, so that a vendor block "
                    "design infers its interfaces: the AXI4 master m_axi_* (every AXI4 "
                    "signal; AxCACHE, AxPROT, AxLOCK, AxQOS and AxREGION constant, see "
                    "hw/amba.py), the AXI4-Lite slave s_axil_*, irq, idle, clock aclk and "
                    "reset aresetn. --out FILE.v writes the Verilog alone; --out DIR writes "
                    "the IP package: the Verilog, a FuseSoC core (foliodma_engine.core, "
                    "targets default and lint), an IP-XACT component (foliodma_engine.xml: "
                    "bus interfaces, ports, the register map through PeakRDL), the C header "
                    "and the register reference.")
    export.add_argument("--out", type=export_path, default=Path("foliodma_engine.v"),
                        help="FILE.v: the Verilog alone; DIR: the IP package (default "
                             "%(default)s)")
    export.add_argument("--id-width", type=positive_int, default=AXI_ID_WIDTH,
                        help=f"AXI ID width of the master port, {AXI_ID_WIDTH}..{MAX_ID_WIDTH} "
                             f"(default %(default)s: the engine's own; wider IDs are "
                             f"zero-extended)")
    export.add_argument("--reset", choices=("aresetn", "areset"), default="aresetn",
                        help="the reset port: aresetn, active low as AMBA has it, or areset, "
                             "active high (default %(default)s)")
    export.add_argument("--name", type=verilog_identifier, default="foliodma_engine",
                        help="top module name, a Verilog identifier (default %(default)s)")
    add_engine_options(export)
    export.set_defaults(func=cmd_verilog)
    add_synth_command(commands, output_dir, positive_float, DEFAULT_TARGET_MHZ)
    add_platform_command(commands)
    add_scaling_command(commands)
    add_stress_command(commands)
    add_explore_command(commands)
    add_board_command(commands)
    add_formal_command(commands)
    for name in ("bench", "migrate", "sweep", "synth", "scaling", "explore"):
        commands.choices[name].add_argument(
            "--wide", action="store_true",
            help=f"print every table column on one line, however wide (default: fit "
                 f"{TABLE_WIDTH} columns, wrapping headers and leaving out optional columns)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    prog = f"foliodma {args.command}"          # as argparse names the command in its errors
    set_table_width(None if getattr(args, "wide", False) else TABLE_WIDTH)
    try:
        apply_from_json(args)
        status = args.func(args)
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except PlotError as error:
        print(f"{prog}: error: cannot draw the figure: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):         # stdout is not a file (captured)
            pass
        return 1
    except Exception as error:  # a known failure mode gets its message, not a traceback
        from sim.backends.base import ScenarioError
        from sim.backends.icarus import IcarusNotFoundError
        from sim.backends.native.build import NativeBuildError
        from sim.backends.verilator import VerilatorNotFoundError
        if isinstance(error, (IcarusNotFoundError, VerilatorNotFoundError, NativeBuildError,
                              ScenarioError, OSError)):
            print(f"{prog}: error: {error}", file=sys.stderr)
            return 1
        raise
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
