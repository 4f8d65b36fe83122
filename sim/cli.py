"""The ``foliodma`` command line."""
import argparse
import json
import re
import sys
import time

from hw.params import EngineParams, ParameterError

_SIZE = re.compile(r"^(\d+)\s*([KMG]?)(i?B)?$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class UsageError(Exception):
    """Bad command-line input; the message says what and why."""


def parse_size(text):
    """Bytes from '4096', '4K', '2M', '1GiB'."""
    match = _SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (examples: 4096, 4K, 2M, 1G)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def positive_int(text):
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def non_negative_int(text):
    value = positive_int(str(int(text, 0) + 1)) - 1 if text.lstrip("-").isdigit() else None
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0")
    return value


def probability(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be in [0, 1)")
    return value


def add_engine_options(parser):
    """Every EngineParams field as an option (defaults from EngineParams)."""
    defaults = EngineParams()
    group = parser.add_argument_group("engine parameters")
    group.add_argument("--data-width", type=positive_int, default=defaults.data_width,
                       help="AXI data width in bits: 64, 128, 256 or 512 (default %(default)s)")
    group.add_argument("--channels", type=positive_int, default=defaults.channels,
                       help="DMA channels, 1..16; folios are dealt round-robin over them "
                            "(default %(default)s)")
    group.add_argument("--max-burst", type=positive_int, default=defaults.max_burst,
                       help="longest AXI burst in beats, 1..256 (default %(default)s)")
    group.add_argument("--outstanding-reads", type=positive_int,
                       default=defaults.outstanding_reads,
                       help="data read bursts in flight (default %(default)s)")
    group.add_argument("--outstanding-writes", type=positive_int,
                       default=defaults.outstanding_writes,
                       help="write bursts awaiting their response (default %(default)s)")
    group.add_argument("--buffer-depth", type=positive_int, default=defaults.buffer_depth,
                       help="beats buffered between read and write side, a power of two "
                            "(default %(default)s)")
    group.add_argument("--prefetch-depth", type=positive_int, default=defaults.prefetch_depth,
                       help="descriptors fetched ahead (default %(default)s)")


def engine_params(args):
    try:
        return EngineParams(data_width=args.data_width, channels=args.channels,
                            max_burst=args.max_burst,
                            outstanding_reads=args.outstanding_reads,
                            outstanding_writes=args.outstanding_writes,
                            buffer_depth=args.buffer_depth,
                            prefetch_depth=args.prefetch_depth)
    except ParameterError as error:
        raise UsageError(f"engine parameter: {error}") from None


def format_table(rows, columns):
    """A plain-text table; columns are (header, key, format)."""
    cells = [[header for header, _, _ in columns]]
    for row in rows:
        cells.append([fmt.format(row[key]) for _, key, fmt in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


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
    ("sim cycles/s", "cycles_per_second", "{:.0f}"),
    ("wall s", "wall_seconds", "{:.1f}"),
)


def human_size(nbytes):
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if nbytes % scale == 0:
            return f"{nbytes // scale}{unit}"
    return str(nbytes)


class Progress:
    """Simulated-cycle progress on stderr (a line per report, or in place on a TTY)."""

    def __init__(self, label, enabled=True):
        self.label = label
        self.enabled = enabled
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def __call__(self, cycle):
        if not self.enabled:
            return
        rate = cycle / max(time.perf_counter() - self.started, 1e-9)
        text = f"{self.label}: cycle {cycle:,} ({rate:,.0f} cycles/s)"
        sys.stderr.write(f"\r{text}\x1b[K" if self.tty else text + "\n")
        sys.stderr.flush()

    def done(self):
        if self.enabled and self.tty:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


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
    ("wall s", "wall_seconds", "{:.1f}"),
)


def cmd_bench(args):
    if args.driver is not None:
        return cmd_driver_bench(args)
    from sim.bench import BACKENDS, run_bench
    params = engine_params(args)
    if args.folio_size % params.beat_bytes:
        raise UsageError(f"--folio-size {args.folio_size} is not a multiple of the "
                         f"{params.beat_bytes}-byte beat")
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    read_latency = args.read_latency if args.read_latency is not None else args.latency
    write_latency = args.write_latency if args.write_latency is not None else args.latency
    rows = []
    for backend in backends:
        progress = Progress(f"bench {backend}", enabled=not args.quiet)
        row = run_bench(params, backend=backend, folios=args.folios, folio_size=args.folio_size,
                        read_latency=read_latency, write_latency=write_latency,
                        backpressure=args.backpressure, seed=args.seed, progress=progress,
                        vcd=args.vcd)
        progress.done()
        rows.append(row)
    if args.json:
        print(json.dumps(rows[0] if len(rows) == 1 else rows, indent=2))
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


def cmd_driver_bench(args):
    from sim.bench import BACKENDS, run_driver_bench
    params = engine_params(args)
    if args.folio_size % 4096:
        raise UsageError(f"--folio-size {args.folio_size}: folios are whole 4 KiB pages")
    if args.engine_mhz <= 0 or args.cpu_ghz <= 0:
        raise UsageError("--engine-mhz and --cpu-ghz must be positive")
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    read_latency = args.read_latency if args.read_latency is not None else args.latency
    write_latency = args.write_latency if args.write_latency is not None else args.latency
    skips = (True, False) if args.compare_idle_skip else (not args.no_idle_skip,)
    rows = []
    for backend in backends:
        for idle_skip in skips:
            progress = Progress(f"bench {backend} {args.driver}", enabled=not args.quiet)
            row = run_driver_bench(
                params, backend=backend, driver=args.driver, folios=args.folios,
                folio_size=args.folio_size, read_latency=read_latency,
                write_latency=write_latency, engine_mhz=args.engine_mhz, cpu_ghz=args.cpu_ghz,
                idle_skip=idle_skip, v1_double_copy=args.v1_double_copy,
                backpressure=args.backpressure, seed=args.seed, progress=progress,
                vcd=args.vcd)
            progress.done()
            rows.append(row)
    if args.json:
        print(json.dumps(rows[0] if len(rows) == 1 else rows, indent=2))
        return
    for row in rows:
        row["folio_size"] = human_size(row["folio_bytes"])
        for key in ("driver_cpu", "cpu_copy", "wait", "device_busy"):
            row[f"{key}_us"] = row[f"{key}_ns"] / 1000
    p = params
    print(f"engine: {p.data_width}-bit at {args.engine_mhz:g} MHz, {p.channels} channel(s); "
          f"CPU {args.cpu_ghz:g} GHz; memory latency {read_latency}/{write_latency} cycles"
          + ("; v1 with the extra CPU copy" if args.v1_double_copy else ""))
    print(format_table(rows, DRIVER_COLUMNS))
    print("copy cycles/page: CPU cycles for the whole batch copy per 4 KiB page (the seed's "
          "folio_copy); device busy: channel-busy time summed over channels")
    row = rows[0]
    print(f"\nwhere the time goes ({row['backend']}, {row['driver']}), CPU cycles per page:")
    items = [(name, ns * args.cpu_ghz) for name, ns in row["breakdown_ns_per_page"].items()]
    print(format_table([{"what": name, "cycles": cycles,
                         "share": cycles / row["copy_cycles_per_page"]}
                        for name, cycles in items],
                       (("what", "what", "{}"), ("cycles/page", "cycles", "{:.0f}"),
                        ("share", "share", "{:.1%}"))))


def cmd_regs(args):
    from hw.docs import write_c_header, write_markdown
    args.out.mkdir(parents=True, exist_ok=True)
    write_c_header(args.out / "foliodma_regs.h")
    write_markdown(args.out / "registers.md")
    print(f"wrote {args.out / 'foliodma_regs.h'} and {args.out / 'registers.md'}")


def cmd_verilog(args):
    from amaranth.back import verilog
    from hw.engine import DmaEngine
    params = engine_params(args)
    text = verilog.convert(DmaEngine(params), name=args.name)
    args.out.write_text(text)
    print(f"wrote {args.out} ({params.data_width}-bit, {params.channels} channel(s))")


def build_parser():
    from pathlib import Path
    parser = argparse.ArgumentParser(
        prog="foliodma",
        description="Cycle-level HW/SW co-design model of DMA-offloaded page migration.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bench = commands.add_parser(
        "bench", help="copy one folio batch through the engine RTL and measure it",
        description="Copies a batch of folios with the DMA engine RTL against a memory with "
                    "pipelined latency, checks every byte, guard byte and completion record, "
                    "and prints throughput: bytes per cycle over the sustained copy (first to "
                    "last data write beat), efficiency against the bus peak (one full beat "
                    "per cycle), cycles from the doorbell write to the first data read, and "
                    "the largest idle gap on the write channel between two descriptors.")
    bench.add_argument("--backend", choices=("pysim", "icarus", "both"), default="pysim",
                       help="simulator: Amaranth's built-in (pysim, default) or the exported "
                            "Verilog on Icarus Verilog via cocotb (icarus); both runs each")
    bench.add_argument("--folio-size", type=parse_size, default=4096,
                       help="bytes per folio, e.g. 4K or 2M (default 4K)")
    bench.add_argument("--folios", type=positive_int, default=512,
                       help="folios in the batch (default %(default)s)")
    bench.add_argument("--latency", type=non_negative_int, default=200,
                       help="memory read and write latency in engine cycles (default %(default)s)")
    bench.add_argument("--read-latency", type=non_negative_int,
                       help="read latency, overriding --latency")
    bench.add_argument("--write-latency", type=non_negative_int,
                       help="write latency, overriding --latency")
    bench.add_argument("--backpressure", type=probability, default=0.0,
                       help="probability that the memory stalls each AXI channel in a cycle "
                            "(default 0)")
    bench.add_argument("--seed", type=non_negative_int, default=0,
                       help="seed of the data and the backpressure (default 0)")
    add_engine_options(bench)
    host = bench.add_argument_group("driver and host (with --driver)")
    host.add_argument("--driver", choices=("v1", "v2", "v3", "none"),
                      help="copy through the driver stack: dcbm strategy v1 (per page, "
                           "polled), v2 (per folio, interrupt each), v3 (scatter-gather per "
                           "channel), or none (the CPU copies); without it the engine is "
                           "driven directly and measured alone")
    host.add_argument("--engine-mhz", type=float, default=1000.0,
                      help="engine clock in MHz: turns cycles into ns (default %(default)g)")
    host.add_argument("--cpu-ghz", type=float, default=2.0,
                      help="CPU clock in GHz, for CPU cycles per page (default %(default)g, "
                           "as in the seed)")
    host.add_argument("--v1-double-copy", action="store_true",
                      help="v1: also run the CPU copy after a successful DMA, as the posted "
                           "code reads")
    host.add_argument("--no-idle-skip", action="store_true",
                      help="simulate idle engine time cycle by cycle instead of skipping it")
    host.add_argument("--compare-idle-skip", action="store_true",
                      help="run with and without idle skipping and show both")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    bench.add_argument("--vcd", type=Path,
                       help="write a waveform (pysim: VCD; icarus: the path must end in .fst)")
    bench.add_argument("--quiet", action="store_true", help="no progress on stderr")
    bench.set_defaults(func=cmd_bench)

    regs = commands.add_parser("regs", help="write the C header and Markdown register "
                                            "reference generated from hw/regs.rdl")
    regs.add_argument("--out", type=Path, default=Path("build/regs"),
                      help="output directory (default %(default)s)")
    regs.set_defaults(func=cmd_regs)

    export = commands.add_parser("verilog", help="export the engine as Verilog for a "
                                                 "given set of parameters")
    export.add_argument("--out", type=Path, default=Path("foliodma_engine.v"),
                        help="output file (default %(default)s)")
    export.add_argument("--name", default="foliodma_engine", help="top module name")
    add_engine_options(export)
    export.set_defaults(func=cmd_verilog)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UsageError as error:
        print(f"foliodma: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a known failure mode gets its message, not a traceback
        from sim.backend import ScenarioError
        from sim.icarus_backend import IcarusNotFoundError
        if isinstance(error, (IcarusNotFoundError, ScenarioError, OSError)):
            print(f"foliodma: error: {error}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
