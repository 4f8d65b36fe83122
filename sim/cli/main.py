"""The ``foliodma`` command line."""
import argparse
import importlib.metadata
import json
import os
import re
import sys
import time
from pathlib import Path

from hw.params import AXI_MAX_BURST_BEATS, MAX_CHANNELS, EngineParams, ParameterError
from hw.synth import DEFAULT_DEVICE, DEFAULT_TARGET_MHZ, ECP5_DEVICES
from sim.backends import BACKENDS
from sim.host.cache import TOUCHERS
from sim.platform.iommu import FLUSH_QUEUE_ENTRIES, MODES as IOMMU_MODES
from sim.kernel.migrate import DEFAULT_FLOW, FLOWS, MODES, NODES, WORKLOADS, MigrateRequest
from sim.experiments.plot import PlotError
from sw_driver.dcbm import STRATEGIES
from sw_driver.folio import PAGE_SIZE

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


def backend_list(text):
    """Back-ends for bench: 'all' or comma-separated names, e.g. icarus,verilator."""
    names = list(BACKENDS) if text == "all" else [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in BACKENDS]
    if unknown or not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected 'all' or distinct back-ends from {', '.join(BACKENDS)}, "
            f"comma-separated")
    return tuple(names)


def non_negative_int(text):
    try:
        value = int(text, 0)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0")
    return value


def output_path(text):
    """A file to write: its directory must exist, and it must not be a directory."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: directory {str(path.parent)!r} does "
                                         f"not exist")
    return path


def svg_path(text):
    """A figure to write: an output_path ending in .svg."""
    path = output_path(text)
    if path.suffix.lower() != ".svg":
        raise argparse.ArgumentTypeError(f"{text!r}: figures are written as SVG; give a path "
                                         f"ending in .svg")
    return path


def number_in(check, expected):
    """An argument type: a float for which check(value) holds, else '... must be expected'."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"{text!r} must be {expected}")
        return value
    return parse


positive_float = number_in(lambda value: value > 0, "positive")
non_negative_float = number_in(lambda value: value >= 0, "at least 0")
probability = number_in(lambda value: 0.0 <= value < 1.0, "in [0, 1)")


def add_engine_options(parser):
    """Every EngineParams field as an option (defaults from EngineParams)."""
    defaults = EngineParams()
    group = parser.add_argument_group("engine parameters")
    group.add_argument("--data-width", type=positive_int, default=defaults.data_width,
                       help="AXI data width in bits: 64, 128, 256 or 512 (default %(default)s)")
    group.add_argument("--channels", type=positive_int, default=defaults.channels,
                       help=f"DMA channels (independent descriptor rings), 1..{MAX_CHANNELS} "
                            "(default %(default)s)")
    group.add_argument("--max-burst", type=positive_int, default=defaults.max_burst,
                       help=f"longest AXI burst in beats, 1..{AXI_MAX_BURST_BEATS} "
                            "(default %(default)s)")
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


def plural(count, noun):
    """'1 batch', '2 batches'."""
    return f"{count} {noun}" + ("" if count == 1 else "es" if noun.endswith("ch") else "s")


def human_size(nbytes):
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if nbytes % scale == 0:
            return f"{nbytes // scale}{unit}"
    return str(nbytes)


class Progress:
    """Simulation progress on stderr, at most once per INTERVAL seconds (a line per report,
    or in place on a TTY): the cycle reached, and the simulator's speed over the last
    interval in cycles it simulated (cycles skipped as idle do not count)."""

    INTERVAL = 1.0

    def __init__(self, label, enabled=True):
        self.label = label
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last = (time.perf_counter(), 0)

    def __call__(self, cycle, ticked):
        if not self.enabled:
            return
        now = time.perf_counter()
        then, ticked_then = self._last
        if now - then < self.INTERVAL:
            return
        self._last = (now, ticked)
        rate = (ticked - ticked_then) / (now - then)
        skipped = f", {cycle - ticked:,} skipped as idle" if cycle > ticked else ""
        text = (f"{self.label}: cycle {cycle:,}{skipped}; simulating {rate:,.0f} cycles/s "
                f"over the last {now - then:.1f} s")
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
)


def _bench_memory(args):
    """(back-ends to run, read latency, write latency) of a bench command line."""
    backends = args.backend
    read_latency = args.read_latency if args.read_latency is not None else args.latency
    write_latency = args.write_latency if args.write_latency is not None else args.latency
    return backends, read_latency, write_latency


def _check_waveform(args, backends):
    """--vcd names one waveform file: one back-end, and for icarus an FST file."""
    if args.vcd is None:
        return
    if len(backends) > 1:
        raise UsageError("--vcd writes the waveform of one back-end: give --backend pysim "
                         "(VCD), icarus (FST) or verilator (VCD)")
    if backends[0] == "icarus" and args.vcd.suffix != ".fst":
        raise UsageError(f"--vcd {args.vcd}: Icarus Verilog writes FST waveforms; give a path "
                         f"ending in .fst")
    if backends[0] == "verilator" and args.vcd.suffix != ".vcd":
        raise UsageError(f"--vcd {args.vcd}: the verilator back-end writes VCD waveforms; give "
                         f"a path ending in .vcd")


def _check_clocks(args):
    if args.engine_mhz <= 0 or args.cpu_ghz <= 0:
        raise UsageError("--engine-mhz and --cpu-ghz must be positive")


#: Version of the shape of every --json document (bump it when a key changes meaning).
JSON_SCHEMA_VERSION = 1


def print_json(args, rows, **extra):
    """The --json document of a command, always of one shape: schema_version, the
    foliodma version, the command and every setting it ran with, extra keys, rows."""
    settings = {key: str(value) if isinstance(value, Path) else value
                for key, value in vars(args).items()
                if key not in ("func", "defaults", "sweepable", "json", "command")}
    print(json.dumps({"schema_version": JSON_SCHEMA_VERSION,
                      "foliodma": importlib.metadata.version("foliodma"),
                      "command": args.command, "settings": settings, **extra, "rows": rows},
                     indent=2, default=str))


#: bench --driver's choices: a dcbm strategy, or none (the CPU copies).
DRIVERS = STRATEGIES + ("none",)
#: bench options that only act through the driver stack: (dest, option).
DRIVER_ONLY = (("compare_idle_skip", "--compare-idle-skip"), ("v1_dma_only", "--v1-dma-only"),
               ("iommu_mode", "--iommu-mode"), ("engine_mhz", "--engine-mhz"),
               ("cpu_ghz", "--cpu-ghz"), ("no_idle_skip", "--no-idle-skip"), ("numa", "--numa"))


def cmd_bench(args):
    backends, read_latency, write_latency = _bench_memory(args)
    _check_waveform(args, backends)
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
        print_json(args, rows)
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
    _check_clocks(args)
    backends, read_latency, write_latency = _bench_memory(args)
    skips = (True, False) if args.compare_idle_skip else (not args.no_idle_skip,)
    rows = []
    for backend in backends:
        for idle_skip in skips:
            progress = Progress(f"bench {backend} {args.driver}", enabled=not args.quiet)
            row = run_driver_bench(
                params, backend=backend, driver=args.driver, folios=args.folios,
                folio_size=args.folio_size, read_latency=read_latency,
                write_latency=write_latency, engine_mhz=args.engine_mhz, cpu_ghz=args.cpu_ghz,
                idle_skip=idle_skip, v1_double_copy=not args.v1_dma_only,
                iommu_mode=args.iommu_mode, numa=args.numa,
                backpressure=args.backpressure, seed=args.seed, progress=progress,
                vcd=args.vcd)
            progress.done()
            rows.append(row)
    if args.json:
        print_json(args, rows)
        return
    for row in rows:
        row["folio_size"] = human_size(row["folio_bytes"])
        for key in ("driver_cpu", "cpu_copy", "wait", "device_busy"):
            row[f"{key}_us"] = row[f"{key}_ns"] / 1000
    p = params
    memory = ("memory: the seed's machine (sources on the remote node)" if args.numa else
              f"memory latency {read_latency}/{write_latency} cycles")
    print(f"engine: {p.data_width}-bit at {args.engine_mhz:g} MHz, {p.channels} channel(s); "
          f"CPU {args.cpu_ghz:g} GHz; {memory}"
          + f"; IOMMU {args.iommu_mode}"
          + ("; v1 without its extra CPU copy" if args.driver == "v1" and args.v1_dma_only
             else ""))
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
    print_speed(rows)


def request_default(name):
    """The default of MigrateRequest's field ``name`` (one place for migrate's defaults)."""
    return MigrateRequest.__dataclass_fields__[name].default


def workload_size(text):
    """A --workload value: one of the seed's rows (4K, 2M, 256M, 1G) or any size."""
    return WORKLOADS.get(text.strip().upper().removesuffix("B").removesuffix("I"),
                         None) or parse_size(text)


def index_list(text):
    try:
        values = [int(part, 0) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of folio "
                                         f"indices") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: folio indices are >= 0")
    return values


def _pm(mean, sd, fmt):
    return f"{fmt.format(mean)} ± {fmt.format(sd)}"


def migrate_table(rows, lead=None):
    """The rows as migrate prints them; ``lead``: (header, function of the row) of a
    first column."""
    out = []
    for row in rows:
        pma = row["post_move_access_cycles_per_page"]
        integrity = row["integrity"]
        out.append({
            "lead": lead[1](row) if lead else None,
            "mode": row["mode"] + (f" ({row['driver']})" if row["driver"] else ""),
            "flow": row["flow"],
            "mp": _pm(row["migrate_pages_cycles_per_page"],
                      row["migrate_pages_cycles_per_page_sd"], "{:.0f}"),
            "fc": _pm(row["folio_copy_cycles_per_page"],
                      row["folio_copy_cycles_per_page_sd"], "{:.0f}"),
            "F": _pm(row["F"], row["F_sd"], "{:.4f}"),
            "gbps": f"{row['copy_gbps']:.2f}",
            "pma": "n/a" if pma is None else f"{pma:.0f}",
            "batches": f"{row['simulated_batches']} + {row['extrapolated_batches']}",
            "integrity": (f"ok ({integrity['migrated']} moved, {integrity['kept_at_source']} "
                          f"kept)" if integrity["ok"] else "FAILED"),
            "wall": f"{row['wall_seconds']:.1f}",
        })
    return format_table(out, ((((lead[0], "lead", "{}"),) if lead else ()) + (
        ("mode", "mode", "{}"), ("flow", "flow", "{}"),
        ("migrate_pages cycles/page", "mp", "{}"), ("folio_copy cycles/page", "fc", "{}"),
        ("F", "F", "{}"), ("copy GB/s", "gbps", "{}"),
        ("post_move_access cycles/page", "pma", "{}"),
        ("batches simulated + extrapolated", "batches", "{}"),
        ("integrity", "integrity", "{}"), ("wall s", "wall", "{}"))))


#: How the migrate output names each --toucher.
TOUCHER_WORDS = {"same_core": "the migrating CPU",
                 "same_ccx": "another core of the migrating CPU's CCX",
                 "other_ccx": "a core in another CCX of the migrating CPU's socket",
                 "other_socket": "a core on the other socket",
                 "random": "a random core (the expectation over all cores)"}


def migrate_request(args, mode, params):
    """The MigrateRequest of one mode from migrate's options."""
    flow = None if mode == "cpu" else args.flow
    return MigrateRequest(
        mode=mode, workload_bytes=args.workload, folio_bytes=args.folio_size, flow=flow,
        driver=args.driver, from_node=args.from_node, to_node=args.to_node,
        max_batch_pages=args.max_batch_pages, remote_cpus=args.remote_cpus,
        mappings=args.mappings, full=args.full,
        dma_fail=tuple(args.inject_dma_fail or ()), poison=tuple(args.inject_poison or ()),
        repeat=args.repeat, seed=args.seed, backend=args.backend, params=params,
        engine_mhz=args.engine_mhz, cpu_ghz=args.cpu_ghz, latency_ns=args.latency,
        v1_double_copy=not args.v1_dma_only, iommu_mode=args.iommu_mode,
        idle_skip=not args.no_idle_skip, toucher=args.toucher,
        dma_allocates_in_llc=args.dma_allocates_in_llc or None, llc_bytes=args.llc_size,
        vcd=getattr(args, "vcd", None) if mode == "dma" else None)


def migrate_requests(args):
    """The requests of --copy's modes (default all three), each checked: UsageError
    names the first bad one before anything runs."""
    from sim.host.costs import CostError
    from sim.kernel.migrate import MigrateError, prepare_request
    params = engine_params(args)
    _check_clocks(args)
    requests = [migrate_request(args, mode, params) for mode in dict.fromkeys(args.copy or MODES)]
    for request in requests:
        try:
            prepare_request(request)
        except (MigrateError, CostError) as error:
            raise UsageError(str(error)) from None
    return requests


def run_migrate_rows(args, requests, label="migrate"):
    """One row per request, as ``foliodma migrate`` runs them (progress for the RTL)."""
    from sim.host.costs import CostError
    from sim.kernel.migrate import MigrateError, run_request
    rows = []
    for request in requests:
        progress = Progress(f"{label} {request.mode} {args.backend}",
                            enabled=not args.quiet and request.mode == "dma")
        try:
            rows.append(run_request(request, progress=progress))
        except (MigrateError, CostError) as error:
            raise UsageError(str(error)) from None
        finally:
            progress.done()
    return rows


def _report_integrity(rows):
    """Name every row whose integrity check failed; the exit status."""
    failed = [row for row in rows if not row["integrity"]["ok"]]
    for row in failed:
        where = ", ".join([row["mode"]] + [f"{k}={v}" for k, v in row.get("swept", {}).items()])
        print(f"foliodma: integrity check FAILED ({where}): "
              + "; ".join(row["integrity"]["errors"]), file=sys.stderr)
    return 1 if failed else 0


#: --backend auto: the compiled back-end where it can be built, else pysim.
AUTO_BACKEND = "auto"


def resolve_backend(args, params):
    """The back-end to run on: ``auto`` becomes verilator if its simulation of the
    engine builds here, else pysim, with one line on stderr saying why. A build that
    happens is done here and reported on its own line (it is cached for the run)."""
    from sim.backends import verilator as verilator_backend
    from sim.backends.native.build import NativeBuildError
    backend = args.backend
    if backend == AUTO_BACKEND:
        backend = "verilator"
        try:
            verilator_backend.require_verilator()   # before an engine is elaborated
            _prepare_reporting(backend, params, args)
        except (verilator_backend.VerilatorNotFoundError, NativeBuildError) as error:
            reason = str(error).splitlines()[0]
            print(f"foliodma: running on pysim: the compiled back-end is not available here "
                  f"({reason})", file=sys.stderr)
            return "pysim"
        return backend
    if backend != "pysim" and not getattr(args, "vcd", None):
        _prepare_reporting(backend, params, args)
    return backend


def _prepare_reporting(backend, params, args):
    from hw.engine import DmaEngine
    from sim.backends import prepare
    figures = prepare(backend, DmaEngine(params))
    if not figures["build_cached"] and not args.quiet:
        print(f"foliodma: built the {backend} simulation of the engine in "
              f"{figures['build_seconds']:.1f} s (cached for later runs)", file=sys.stderr)
    return figures


def cmd_migrate(args):
    params = engine_params(args)
    modes = args.copy or MODES
    if "dma" in modes:
        args.backend = resolve_backend(args, params)
        _check_waveform(args, (args.backend,))
    rows = run_migrate_rows(args, migrate_requests(args))
    if args.json:
        print_json(args, rows)
    else:
        row = rows[0]
        folio = human_size(row["folio_bytes"]) if row["folio_bytes"] else "mixed"
        print(f"migrate_pages(): {human_size(row['workload_bytes'])} = {row['folios']} x "
              f"{folio} folios, node {args.from_node} -> node {args.to_node}, batches of <= "
              f"{args.max_batch_pages} pages ({plural(row['batches'], 'batch')}), "
              f"{args.remote_cpus} remote CPU(s) in the TLB shootdown")
        if "dma" in modes:
            p = params
            print(f"dma: dcbm {args.driver}, {p.channels} channel(s); engine {p.data_width}-bit "
                  f"at {args.engine_mhz:g} MHz on {args.backend}; CPU {args.cpu_ghz:g} GHz; "
                  f"IOMMU {args.iommu_mode}"
                  + ("" if args.latency is None else
                     f"; memory latency {args.latency:g} ns flat (not per node)")
                  + ("; v1 without its extra CPU copy" if args.driver == "v1" and
                     args.v1_dma_only else ""))
        print(migrate_table(rows))
        print("\nas the seed prints it (cycles per page, mean ± SD):")
        for row in rows:
            pma = row["post_move_access_cycles_per_page"]
            print(f"  {row['mode'] + (' ' + row['driver'] if row['driver'] else ''):12s} "
                  f"{human_size(row['workload_bytes'])}B:: "
                  f"migrate_pages:{row['migrate_pages_cycles_per_page']:.2f}"
                  f"±{row['migrate_pages_cycles_per_page_sd']:.2f}  "
                  f"folio_copy:{row['folio_copy_cycles_per_page']:.2f}"
                  f"±{row['folio_copy_cycles_per_page_sd']:.2f}  "
                  f"F:{row['F']:.4f}±{row['F_sd']:.4f}"
                  + ("" if pma is None else f"  post_move_access:{pma:.2f}"))
        print()
        print(f"mean ± SD over {args.repeat} runs (seeded per-run noise on each category of "
              f"simulated time; see sim/kernel/migrate.py). F = copy / migrate_pages time. "
              f"batches: simulated cycle-accurately + extrapolated (proven repeated).")
        if all(row["post_move_access_cycles_per_page"] is None for row in rows):
            print("post_move_access: not computed (the cache model, sim/host/cache.py, covers pages "
                  "moved to node 0, the migrating CPU's).")
        else:
            where = TOUCHER_WORDS[args.toucher]
            print(f"post_move_access: the seed's read loop over the moved pages right after "
                  f"the move, on {where} (cache model, sim/host/cache.py; LLC "
                  f"{human_size(rows[0]['llc_bytes'])}B per CCX, "
                  f"DMA writes {'allocate' if args.dma_allocates_in_llc else 'do not allocate'} "
                  f"in it).")
        print("integrity: checked for every simulated folio: at its destination, identical "
              "and mapped there, or intact and mapped at its source; nothing lost, nothing "
              "duplicated.")
    if args.plot:
        from sim.experiments.plot import migrate_figure, write_svg
        folios = rows[0]["folios"]
        subtitle = (f"{human_size(rows[0]['workload_bytes'])}B in {folios} "
                    f"folio{'s' * (folios != 1)}, node {args.from_node} -> {args.to_node}")
        write_svg(args.plot, migrate_figure(rows, subtitle))
        print(f"figure: {args.plot}", file=sys.stderr)
    return _report_integrity(rows)


#: What ``foliodma sweep`` can plot: row key and axis label.
SWEEP_MEASURES = {
    "migrate_pages": ("migrate_pages_cycles_per_page", "migrate_pages, CPU cycles per page"),
    "folio_copy": ("folio_copy_cycles_per_page", "folio_copy, CPU cycles per page"),
    "copy_gbps": ("copy_gbps", "copy GB/s"),
    "F": ("F", "F = folio_copy / migrate_pages"),
    "post_move_access": ("post_move_access_cycles_per_page",
                         "post_move_access, CPU cycles per page"),
}
#: migrate options a sweep does not vary: lists, and what selects the rows.
NOT_SWEPT = ("--copy", "--inject-dma-fail", "--inject-poison")


def sweepable_options():
    """{"--name": action} of the migrate options that take one value."""
    probe = argparse.ArgumentParser(add_help=False)
    add_migrate_options(probe)
    return {option: action for action in probe._actions
            for option in action.option_strings
            if option.startswith("--") and action.nargs is None and action.const is None
            and option not in NOT_SWEPT}


def _sweep_values(option, action, texts):
    """The values of a swept option, converted and checked as the option itself would;
    two texts for one value are refused."""
    values = []
    for text in texts:
        try:
            value = action.type(text) if action.type else text
        except (argparse.ArgumentTypeError, ValueError) as error:
            raise UsageError(f"{option} {text!r}: {error}") from None
        if action.choices is not None and value not in action.choices:
            raise UsageError(f"{option} {text!r}: expected one of "
                             f"{', '.join(map(str, action.choices))}")
        if value in values:
            raise UsageError(f"{option} {text!r}: the same value as "
                             f"{texts[values.index(value)]!r}, already swept")
        values.append(value)
    return values


def cmd_sweep(args):
    option = "--" + args.option
    action = args.sweepable.get(option)
    if action is None:
        raise UsageError(f"cannot sweep {option}: expected one of "
                         f"{', '.join(o[2:] for o in sorted(args.sweepable))}")
    fixed = getattr(args, action.dest)
    if fixed != action.default:
        raise UsageError(f"{option} is swept over {','.join(args.values)} and also given as "
                         f"{fixed}: leave the fixed {option} out")
    if "dma" in (args.copy or MODES):
        args.backend = resolve_backend(args, engine_params(args))
    migrate_requests(args)                  # the options not swept, checked on their own
    points = []
    for text, value in zip(args.values, _sweep_values(option, action, args.values)):
        point = argparse.Namespace(**vars(args))
        setattr(point, action.dest, value)
        try:
            points.append((text, point, migrate_requests(point)))
        except UsageError as error:
            raise UsageError(f"{option} {text}: {error}") from None
        if args.plot and args.measure == "post_move_access" and point.to_node != 0:
            raise UsageError(f"{option} {text}: --measure post_move_access has no value for "
                             f"pages moved to node {point.to_node} (the cache model covers "
                             f"node 0, the migrating CPU's)")
    if args.backend != "pysim":
        # Build every point's engine first, each build on its own line: the rows'
        # wall times are then the runs alone.
        for params in dict.fromkeys(request.params for _, _, requests in points
                                    for request in requests if request.mode == "dma"):
            _prepare_reporting(args.backend, params, args)
    rows = []
    if args.jobs > 1:
        rows = _run_in_parallel(points, args.jobs, quiet=args.quiet)
    else:
        for text, point, requests in points:
            rows += run_migrate_rows(point, requests, label=f"sweep {option}={text}")
    texts = [text for text, _, requests in points for _ in requests]
    for row, text in zip(rows, texts, strict=True):
        row["swept"] = {option[2:]: text}
    key, label = SWEEP_MEASURES[args.measure]
    if args.json:
        print_json(args, rows, option=option[2:], values=args.values, measure=args.measure)
    else:
        print(f"sweep of {option} over {', '.join(args.values)}; everything else as "
              f"`foliodma migrate` with the same options")
        print(migrate_table(rows, lead=(option[2:], lambda row: row["swept"][option[2:]])))
    if args.plot:
        from sim.experiments.plot import line_chart, write_svg
        names = [row["mode"] + (f" ({row['driver']})" if row["driver"] and option != "--driver"
                                else "") for row in rows]
        series = {name: [None] * len(args.values) for name in names}
        per_point = len(rows) // len(points)
        for index, (name, row) in enumerate(zip(names, rows)):
            series[name][index // per_point] = row[key]
        write_svg(args.plot, line_chart(f"{label} against {option}", label, option,
                                        args.values, series))
        print(f"figure: {args.plot}", file=sys.stderr)
    return _report_integrity(rows)


def _run_in_parallel(points, jobs, quiet):
    """The rows of every point's requests, in order, run ``jobs`` at a time."""
    import concurrent.futures
    from sim.host.costs import CostError
    from sim.kernel.migrate import MigrateError, run_request
    requests = [request for _, _, point_requests in points for request in point_requests]
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_request, request) for request in requests]
        try:
            rows = []
            for n, future in enumerate(futures, 1):
                rows.append(future.result())
                if not quiet:
                    print(f"sweep: {n} of {len(futures)} runs done", file=sys.stderr)
        except (MigrateError, CostError) as error:
            raise UsageError(str(error)) from None
    return rows


def comma_list(text):
    """Comma-separated values (at least one)."""
    values = [part.strip() for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated values")
    return values


def cmd_reproduce(args):
    from hw.params import EngineParams
    from sim.experiments.reproduce import print_report, run_all, to_json
    args.backend = resolve_backend(args, EngineParams())

    def progress(key):
        sys.stderr.write(f"reproduce: {' '.join(str(k) for k in key)} done\n")
    report = run_all(backend=args.backend, repeat=args.repeat, seed=args.seed, jobs=args.jobs,
                     progress=None if args.quiet else progress,
                     v1_double_copy=not args.v1_dma_only, iommu_mode=args.iommu_mode)
    if args.json:
        print(to_json(report))
    else:
        print_report(report)
    if args.plot:
        from sim.experiments.plot import reproduce_figure, write_svg
        write_svg(args.plot, reproduce_figure(report, MODES))
        print(f"figure: {args.plot}", file=sys.stderr)
    return 0 if report["integrity_ok"] else 1


def cmd_regs(args):
    from hw.docs import write_docs
    header, markdown = write_docs(args.out)
    print(f"wrote {header} and {markdown}")


def cmd_verilog(args):
    from amaranth.back import verilog
    from hw.engine import DmaEngine
    params = engine_params(args)
    text = verilog.convert(DmaEngine(params), name=args.name)
    args.out.write_text(text)
    print(f"wrote {args.out} ({params.data_width}-bit, {params.channels} channel(s))")


def verilog_identifier(text):
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Verilog identifier (letters, "
                                         f"digits, _ and $, not starting with a digit or $)")
    return text


def output_dir(text):
    """A directory to write into: it may not exist yet, but must not be a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a directory")
    return path


SYNTH_COLUMNS = (("cell", "cell", "{}"), ("count", "count", "{}"), ("what", "what", "{}"))
PNR_COLUMNS = (("resource", "resource", "{}"), ("used", "used", "{}"),
               ("available", "available", "{}"), ("use", "use", "{:.1%}"))
#: A synth sweep's columns: (header, ECP5 cell) and, after place and route, the clock.
SYNTH_SWEEP_CELLS = (("LUT4", "LUT4"), ("carry", "CCU2C"), ("FF", "TRELLIS_FF"),
                     ("LUT RAM", "TRELLIS_DPR16X4"), ("block RAM", "DP16KD"))
SYNTH_SWEEP_PNR = (("MHz", "fmax_mhz", "{:.1f}"), ("peak GB/s", "peak_gbps", "{:.2f}"))


def engine_sweep_points(args):
    """[(text, EngineParams)] of synth --sweep OPTION V1,V2,..., every value checked."""
    option, texts = "--" + args.sweep[0], args.sweep[1]
    probe = argparse.ArgumentParser(add_help=False)
    add_engine_options(probe)
    actions = {name: action for action in probe._actions for name in action.option_strings}
    if option not in actions:
        raise UsageError(f"cannot sweep {option}: expected an engine parameter, one of "
                         f"{', '.join(name[2:] for name in actions if name != '-h')}")
    action = actions[option]
    try:
        texts = comma_list(texts)
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"--sweep {args.sweep[0]}: {error}") from None
    points = []
    for text, value in zip(texts, _sweep_values(option, action, texts)):
        point = argparse.Namespace(**vars(args))
        setattr(point, action.dest, value)
        try:
            points.append((text, engine_params(point)))
        except UsageError as error:
            raise UsageError(f"{option} {text}: {error}") from None
    return points


def _synth_run(params, out, args, say):
    """Synthesize (and with --pnr place and route) one engine: (synth, pnr or None)."""
    from hw.synth import SynthError, place_and_route, synthesize
    try:
        say(f"yosys synth_ecp5 of the engine into {out} (about 10 s for the default "
            "engine; a first run also compiles Yosys, about 30 s more)")
        synth = synthesize(params, out)
        pnr = None
        if args.pnr:
            say(f"nextpnr-ecp5 on the {args.device} device (about a minute for the default "
                "engine; a first run also compiles nextpnr)")
            pnr = place_and_route(synth, args.device, args.target_mhz)
    except SynthError as error:
        raise UsageError(str(error)) from None
    return synth, pnr


def _synth_json(params, synth, pnr):
    return {"params": params.as_dict(), "family": "ecp5", "cells": synth.cells,
            "netlist": str(synth.netlist), "log": str(synth.log),
            "synth_seconds": synth.seconds,
            "pnr": None if pnr is None else {
                "device": pnr.device, "target_mhz": pnr.target_mhz,
                "fmax_mhz": pnr.fmax_mhz, "utilization": pnr.utilization,
                "critical_path": pnr.critical_path, "log": str(pnr.log),
                "seconds": pnr.seconds}}


def cmd_synth(args):
    def say(text):
        if not args.quiet:
            print(f"synth: {text}", file=sys.stderr)
    if args.sweep:
        return _synth_sweep(args, say)
    params = engine_params(args)
    synth, pnr = _synth_run(params, args.out, args, say)
    if args.json:
        print(json.dumps(_synth_json(params, synth, pnr), indent=2))
        return 0
    from hw.synth import ECP5_CELLS
    print("engine: " + ", ".join(f"{k}={v}" for k, v in params.as_dict().items()))
    print(f"Lattice ECP5 cells after yosys synth_ecp5 ({synth.seconds:.0f} s):")
    rows = [{"cell": cell, "count": count, "what": ECP5_CELLS[cell]}
            for cell, count in sorted(synth.cells.items(), key=lambda item: -item[1])]
    print(format_table(rows, SYNTH_COLUMNS))
    print(f"netlist: {synth.netlist}; log: {synth.log}")
    if pnr is not None:
        print(f"\nplaced and routed out of context on ECP5 {pnr.device} "
              f"(nextpnr-ecp5, {pnr.seconds:.0f} s):")
        rows = [{"resource": name, "use": use["used"] / use["available"], **use}
                for name, use in pnr.utilization.items()]
        print(format_table(rows, PNR_COLUMNS))
        met = "meets" if pnr.fmax_mhz >= pnr.target_mhz else "misses"
        print(f"clock: {pnr.fmax_mhz:.1f} MHz ({met} the {pnr.target_mhz:g} MHz target)")
        path = pnr.critical_path
        if path:
            print(f"critical path: {path['from']} -> {path['to']}: "
                  f"{path['logic_ns']:.2f} ns logic + {path['routing_ns']:.2f} ns routing")
        print(f"log: {pnr.log}")
        print(f"to model the engine at this clock: foliodma migrate --engine-mhz "
              f"{pnr.fmax_mhz:.1f}")
    return 0


def _synth_sweep(args, say):
    """synth --sweep: one engine per value, each in its own directory under --out."""
    option = args.sweep[0]
    points = engine_sweep_points(args)
    runs = []
    for text, params in points:
        say(f"{option} {text}:")
        runs.append((text, params, *_synth_run(params, args.out / f"{option}-{text}", args,
                                               say)))
    if args.json:
        print(json.dumps({"option": option, "values": [text for text, _ in points],
                          "runs": [_synth_json(params, synth, pnr)
                                   for _, params, synth, pnr in runs]}, indent=2))
        return 0
    columns = [(option, "value", "{}")]
    columns += [(header, cell, "{}") for header, cell in SYNTH_SWEEP_CELLS]
    if args.pnr:
        columns += list(SYNTH_SWEEP_PNR)
    rows = []
    for text, params, synth, pnr in runs:
        row = {"value": text, **{cell: synth.cells.get(cell, 0)
                                 for _, cell in SYNTH_SWEEP_CELLS}}
        if pnr is not None:
            row.update(fmax_mhz=pnr.fmax_mhz,
                       peak_gbps=params.peak_bytes_per_cycle * pnr.fmax_mhz / 1000)
        rows.append(row)
    print(f"sweep of --{option} over {', '.join(text for text, _ in points)}; Lattice ECP5 "
          f"cells after yosys synth_ecp5" + (f", clock after nextpnr-ecp5 on the "
                                             f"{args.device} device" if args.pnr else ""))
    print(format_table(rows, columns))
    if args.pnr:
        print("peak GB/s: one full beat read and written per cycle at that clock")
    print(f"netlists, reports and logs: {args.out}/{option}-<value>")
    return 0


def add_platform_reading_options(group):
    """--v1-dma-only and --iommu-mode: how the seed's driver and kernel are read."""
    group.add_argument("--v1-dma-only", action="store_true",
                       help="dcbm v1 without its CPU copy after a successful DMA (default: "
                            "with it, as the posted code reads and the seed's "
                            "post_move_access column supports)")
    group.add_argument("--iommu-mode", choices=IOMMU_MODES, default=request_default("iommu_mode"),
                       help="the DMA API's IOTLB invalidation: lazy (x86's default: "
                            f"unmaps queue, one invalidation per {FLUSH_QUEUE_ENTRIES}) or "
                            "strict (each unmap "
                            "waits for its invalidation) (default %(default)s)")


def add_host_options(group):
    """Clocks and driver options shared by bench --driver and migrate."""
    group.add_argument("--engine-mhz", type=float, default=request_default("engine_mhz"),
                       help="engine clock in MHz: turns cycles into ns (default %(default)g)")
    group.add_argument("--cpu-ghz", type=float, default=request_default("cpu_ghz"),
                       help="CPU clock in GHz, for CPU cycles per page (default %(default)g, "
                            "as in the seed)")
    add_platform_reading_options(group)
    group.add_argument("--no-idle-skip", action="store_true",
                       help="simulate idle engine time cycle by cycle instead of skipping it")


def add_output_options(parser, *, json_help,
                       vcd_help="write a waveform (pysim: VCD; icarus: the path must end in "
                                ".fst)"):
    """--json, --vcd and --quiet."""
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.add_argument("--vcd", type=output_path, help=vcd_help)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def add_migrate_options(parser):
    """The options of one migrate_pages() run (migrate and sweep share them)."""
    parser.add_argument("--workload", type=workload_size,
                        default=request_default("workload_bytes"),
                        help="total bytes: 4K, 2M, 256M, 1G (the seed's rows) or any size "
                             "(default 2M: 512 x 4 KiB)")
    parser.add_argument("--folio-size", type=parse_size, default=request_default("folio_bytes"),
                        help="bytes per folio, a power-of-two number of pages up to 2M "
                             "(default 4K)")
    parser.add_argument("--copy", choices=MODES, action="append",
                        help="mode, repeatable (default: all three): cpu = upstream per-folio "
                             "flow; batch-cpu = batched flow, CPU copy; dma = batched flow, "
                             "dcbm on the RTL")
    parser.add_argument("--flow", choices=FLOWS[1:], default=DEFAULT_FLOW["batch-cpu"],
                        help="move flow of batch-cpu and dma: the RFC's (metadata, batch copy, "
                             "restore) or v4+'s early-copy (batch copy right after the TLB "
                             "flush) (default %(default)s)")
    parser.add_argument("--driver", choices=STRATEGIES, default=request_default("driver"),
                        help="dcbm strategy for dma (default %(default)s)")
    parser.add_argument("--from-node", type=int, choices=NODES,
                        default=request_default("from_node"),
                        help="source node: 0 the migrating CPU's, 1 the other socket, 2 the "
                             "CXL tier (default %(default)s; 2 -> 0 is a promotion from CXL)")
    parser.add_argument("--to-node", type=int, choices=NODES, default=request_default("to_node"),
                        help="target node (default %(default)s: the migrating CPU's; the "
                             "source node itself: a move within the node, as compaction does)")
    parser.add_argument("--max-batch-pages", type=positive_int,
                        default=request_default("max_batch_pages"),
                        help="NR_MAX_BATCHED_MIGRATION: base pages per batch (default "
                             "%(default)s)")
    parser.add_argument("--remote-cpus", type=non_negative_int,
                        default=request_default("remote_cpus"),
                        help="other CPUs each batch's TLB shootdown interrupts (default "
                             "%(default)s: a single-threaded test program)")
    parser.add_argument("--mappings", type=positive_int, default=request_default("mappings"),
                        help="mappings of every folio (processes sharing it; default %(default)s)")
    parser.add_argument("--backend", choices=BACKENDS + (AUTO_BACKEND,),
                        default=request_default("backend"),
                        help="simulator of the engine RTL for dma: pysim, icarus, verilator "
                             "(compiled, the fastest), or auto (verilator if it builds here, "
                             "else pysim; default %(default)s)")
    parser.add_argument("--repeat", type=positive_int, default=request_default("repeat"),
                        help="runs for mean ± SD (default %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=request_default("seed"),
                        help="seed of the data and the per-run noise (default %(default)s)")
    parser.add_argument("--full", action="store_true",
                        help="simulate every batch (no extrapolation of repeated batches)")
    parser.add_argument("--inject-dma-fail", type=index_list, metavar="I,J,...",
                        help="folios whose DMA copy fails (source reads get SLVERR); the CPU "
                             "copies them")
    parser.add_argument("--inject-poison", type=index_list, metavar="I,J,...",
                        help="folios whose source is poisoned: DMA and CPU copy fail; they are "
                             "undone and stay at their source")
    add_engine_options(parser)
    mhost = parser.add_argument_group("host")
    add_host_options(mhost)
    mhost.add_argument("--latency", type=non_negative_float, metavar="NS",
                       help="one flat memory latency in ns for the engine instead of the "
                            "NUMA memory system's per-node latencies")
    cache = parser.add_argument_group(
        "cost to userspace (post_move_access, the cache model: sim/host/cache.py, docs/cache.md)")
    cache.add_argument("--toucher", choices=TOUCHERS, default=request_default("toucher"),
                       help="which CPU reads the pages after the move, relative to the "
                            "migrating one (default %(default)s, the seed's; random: the "
                            "expectation over all cores)")
    cache.add_argument("--dma-allocates-in-llc", action="store_true",
                       help="DMA writes allocate in the LLC (Intel DDIO-like; Zen 3: no)")
    cache.add_argument("--llc-size", type=parse_size, metavar="BYTES",
                       help="LLC per CCX, e.g. 32M (default: the seed's Zen 3, 32M); also "
                            "decides which copy sources are still cached")


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
    bench.add_argument("--backend", type=backend_list, default=(BACKENDS[0],),
                       metavar="NAME[,NAME...]",
                       help="simulator(s): Amaranth's built-in (pysim, default), the exported "
                            "Verilog on Icarus Verilog via cocotb (icarus), or compiled with "
                            "Verilator, the memory side native (verilator, the fastest); "
                            "several comma-separated, or all, run each and compare their "
                            "simulation speed")
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
                    "migrate_pages and folio_copy cycles per page, F, copy GB/s. Every run "
                    "ends with an integrity check of every simulated folio.")
    add_migrate_options(mig)
    mig.add_argument("--plot", type=svg_path, metavar="FILE.svg",
                     help="also draw where the time goes: migrate_pages and folio_copy "
                          "cycles per page of each mode, stacked by category (SVG)")
    add_output_options(mig, json_help="print one JSON object with a 'rows' list",
                       vcd_help="waveform of the dma run (pysim: VCD; icarus: path ending "
                                "in .fst)")
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
    sweep.add_argument("--plot", type=svg_path, metavar="FILE.svg",
                       help="also draw the measure against the option, a line per mode (SVG)")
    sweep.add_argument("--json", action="store_true",
                       help="print one JSON object: option, values, measure, rows (each "
                            "with the value it ran with under 'swept')")
    sweep.add_argument("--quiet", action="store_true", help="no progress on stderr")

    rep = commands.add_parser(
        "reproduce", help="every row of the seed's tables: model vs measured, with errors",
        description="Runs all workloads (4KB, 2MB, 256MB, 1GB) in all three modes (the DMA "
                    "rows with dcbm v1, as the seed measured), the post_move_access column "
                    "and the later posting's calibration points, and prints model vs "
                    "measured with the error of each cell and the largest error per column.")
    rep.add_argument("--backend", choices=BACKENDS + (AUTO_BACKEND,), default=BACKENDS[0],
                     help="simulator of the engine RTL (default pysim; icarus is faster, "
                          "verilator the fastest; auto: verilator if it builds here, else "
                          "pysim)")
    rep.add_argument("--jobs", type=positive_int, default=2,
                     help="DMA simulations run in parallel (default %(default)s)")
    rep.add_argument("--repeat", type=positive_int, default=request_default("repeat"),
                     help="runs for mean ± SD (default %(default)s)")
    rep.add_argument("--seed", type=non_negative_int, default=0, help="noise seed (default 0)")
    add_platform_reading_options(rep)
    rep.add_argument("--json", action="store_true", help="print the report as JSON")
    rep.add_argument("--plot", type=svg_path, metavar="FILE.svg",
                     help="also draw each table 1 cell's error against its band (SVG)")
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
        "verilog", help="export the engine as Verilog for a given set of parameters",
        description="Converts the engine RTL, built with the given parameters, to one "
                    "Verilog file (through Yosys), as the Icarus back-end simulates it and "
                    "as an FPGA flow would take it: AXI4 master m_axi__*, AXI4-Lite slave "
                    "s_axil__*, interrupt irq, clock clk, reset rst.")
    export.add_argument("--out", type=output_path, default=Path("foliodma_engine.v"),
                        help="output file (default %(default)s)")
    export.add_argument("--name", type=verilog_identifier, default="foliodma_engine",
                        help="top module name, a Verilog identifier (default %(default)s)")
    add_engine_options(export)
    export.set_defaults(func=cmd_verilog)
    synth = commands.add_parser(
        "synth", help="synthesize the engine for a Lattice ECP5 FPGA: cells, and with "
                      "--pnr the clock it reaches",
        description="Synthesizes the engine RTL with Yosys (synth_ecp5) and prints the ECP5 "
                    "primitives it maps to; with --pnr, places and routes it with "
                    "nextpnr-ecp5 out of context (no I/O pins: the engine as a block of a "
                    "larger design) and prints the device use, the clock reached and its "
                    "critical path. Both tools are the WebAssembly builds from PyPI.")
    add_engine_options(synth)
    synth.add_argument("--out", type=output_dir, default=Path("build/synth"),
                       help="directory for the RTLIL, netlist, reports and logs "
                            "(default %(default)s)")
    synth.add_argument("--pnr", action="store_true",
                       help="also place and route (about a minute for the default engine)")
    synth.add_argument("--device", choices=ECP5_DEVICES, default=DEFAULT_DEVICE,
                       help="ECP5 device to place on, CABGA381 package (default %(default)s)")
    synth.add_argument("--target-mhz", type=positive_float, default=DEFAULT_TARGET_MHZ,
                       help="clock the placer aims for; the clock reached is reported "
                            "either way (default %(default)g)")
    synth.add_argument("--sweep", nargs=2, metavar=("OPTION", "V1,V2,..."),
                       help="synthesize once per value of one engine parameter, e.g. "
                            "--sweep data-width 64,128,256,512, and print one row each "
                            "(each run in OUT/OPTION-VALUE)")
    synth.add_argument("--json", action="store_true", help="print the result as JSON")
    synth.add_argument("--quiet", action="store_true", help="no progress on stderr")
    synth.set_defaults(func=cmd_synth)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    prog = f"foliodma {args.command}"          # as argparse names the command in its errors
    try:
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
