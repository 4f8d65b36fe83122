"""Shared pieces of the command line: argument types, tables, progress, JSON output,
the back-end choice and the option groups several commands take.
"""
import argparse
import importlib.metadata
import json
import re
import sys
import textwrap
import time
from pathlib import Path

from sim.backends import AUTO_BACKEND, auto_backend, BACKEND_CHOICES, BACKENDS
from sim.kernel.request import MigrateRequest


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
    """Back-ends for bench: 'all', comma-separated names, e.g. icarus,verilator, or
    'auto' alone (one back-end, see :func:`resolve_backend`)."""
    names = list(BACKENDS) if text == "all" else [name.strip() for name in text.split(",")]
    if AUTO_BACKEND in names and len(names) > 1:
        raise argparse.ArgumentTypeError(f"{text!r}: {AUTO_BACKEND} picks one back-end; give "
                                         f"it alone, or name the back-ends")
    if names == [AUTO_BACKEND]:
        return (AUTO_BACKEND,)
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


def figure_path(text):
    """A figure to write: an output_path ending in .svg or .png (its format)."""
    path = output_path(text)
    if path.suffix.lower() not in (".svg", ".png"):
        raise argparse.ArgumentTypeError(f"{text!r}: figures are written as SVG or PNG; give "
                                         f"a path ending in .svg or .png")
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


#: Width a table keeps to unless --wide: a 120-column terminal.
TABLE_WIDTH = 120
_table_width = [TABLE_WIDTH]


def set_table_width(width):
    """The width tables keep to from now on (None: no limit, as --wide asks)."""
    _table_width[0] = width


def format_table(rows, columns):
    """A plain-text table; columns are (header, key, format) or (header, key, format,
    "optional"). Within the table width (:func:`set_table_width`) headers wrap onto
    several lines, and if that is not enough, optional columns are left out from the
    right, with a last line naming them; without a limit every column is on one line."""
    limit = _table_width[0]
    columns = list(columns)
    texts = [[fmt.format(row[key]) for row in rows] for _, key, fmt, *_ in columns]
    dropped = []

    def widths(wrapped):
        return [max([max(len(word) for word in c[0].split()) if wrapped else len(c[0])]
                    + [len(t) for t in col]) for c, col in zip(columns, texts)]

    def total(ws):
        return sum(ws) + 2 * (len(ws) - 1)
    wrap = limit is not None and total(widths(False)) > limit
    while wrap and total(widths(True)) > limit:
        optional = [i for i, c in enumerate(columns) if c[3:] == ("optional",)]
        if not optional:
            break
        dropped.insert(0, columns.pop(optional[-1])[0])
        texts.pop(optional[-1])
    ws = widths(wrap)
    headers = [textwrap.wrap(c[0], w) if wrap else [c[0]] for c, w in zip(columns, ws)]
    height = max(len(h) for h in headers)
    lines = []
    for line in range(height):
        # Headers sit on the last lines, next to the data.
        lines.append([(h[line - height + len(h)] if line >= height - len(h) else "")
                      for h in headers])
    lines += [[col[r] for col in texts] for r in range(len(rows))]
    out = ["  ".join(cell.rjust(w) for cell, w in zip(line, ws)).rstrip() for line in lines]
    out.insert(height, "  ".join("-" * w for w in ws))
    if dropped:
        out.append(f"(left out to fit {limit} columns: {', '.join(dropped)}; --wide shows "
                   f"every column)")
    return "\n".join(out)


class RunCounter:
    """Counts the runs of a multi-run command as they finish; ``done()`` says how many
    of how many, and an estimate of the time left (the mean run so far, times the runs
    left)."""

    def __init__(self, total, started=None):
        self.total = total
        self.finished = 0
        self.started = time.perf_counter() if started is None else started

    def done(self):
        self.finished += 1
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.finished * (self.total - self.finished)
        return (f"{self.finished} of {self.total} runs done, {elapsed:.0f} s so far"
                + (f", about {left:.0f} s left" if self.finished < self.total else ""))


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


def check_waveform(args, backends):
    """--vcd names one waveform file: of one back-end, in a format it writes (chosen by
    the file's extension)."""
    from sim.backends.waveform import extensions, format_problem
    if args.vcd is None:
        return
    if len(backends) > 1:
        raise UsageError("--vcd writes the waveform of one back-end: give --backend "
                         + ", ".join(f"{name} ({extensions(name)})" for name in backends))
    problem = format_problem(backends[0], args.vcd)
    if problem:
        raise UsageError(f"--vcd {args.vcd}: {problem}")


#: Version of the shape of every --json document (bump it when a key changes meaning).
JSON_SCHEMA_VERSION = 1


def json_document(args, rows, **extra):
    """The --json document of a command, always of one shape: schema_version, the
    foliodma version, the command and every setting it ran with, extra keys (the
    machine it modelled, for a command that models one), rows."""
    settings = {key: str(value) if isinstance(value, Path) else value
                for key, value in vars(args).items()
                if key not in ("func", "defaults", "sweepable", "json", "command",
                               "recorded_machine")}
    if hasattr(args, "platform"):
        from sim.cli.machine_options import machine_of
        extra = {"machine": machine_of(args).as_dict(), **extra}
    return {"schema_version": JSON_SCHEMA_VERSION,
            "foliodma": importlib.metadata.version("foliodma"),
            "command": args.command, "settings": settings, **extra, "rows": rows}


def print_json(args, rows, **extra):
    """Print the command's --json document (:func:`json_document`)."""
    print(json.dumps(json_document(args, rows, **extra), indent=2, default=str))


def request_default(name):
    """The default of MigrateRequest's field ``name`` (one place for migrate's defaults)."""
    return MigrateRequest.__dataclass_fields__[name].default


def resolve_backend(args, params, backend=None):
    """The back-end to run on (``backend``, else ``args.backend``): ``auto`` becomes
    verilator if its simulation of the engine builds here, else pysim, with one line on
    stderr saying why. A build that happens is done here and reported on its own line
    (it is cached for the run)."""
    backend = args.backend if backend is None else backend
    if backend == AUTO_BACKEND:
        backend, why = auto_backend(lambda name: prepare_reporting(name, params, args))
        if why:
            print(f"foliodma: running on pysim: the compiled back-end is not available here "
                  f"({why})", file=sys.stderr)
        return backend
    if backend != "pysim" and not getattr(args, "vcd", None):
        prepare_reporting(backend, params, args)
    return backend


def add_backend_option(parser, note=""):
    """--backend: a simulator of the engine RTL, or auto (the default); ``note`` ends
    its help."""
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default=AUTO_BACKEND,
                        help="simulator of the engine RTL: pysim (Amaranth's), icarus (the "
                             "exported Verilog on Icarus Verilog), verilator (compiled, the "
                             "fastest), or auto (the default: verilator if it builds here, "
                             "else pysim, saying why)" + note)


def prepare_reporting(backend, params, args):
    from hw.engine import DmaEngine
    from sim.backends import prepare
    figures = prepare(backend, DmaEngine(params))
    if not figures["build_cached"] and not args.quiet:
        print(f"foliodma: built the {backend} simulation of the engine in "
              f"{figures['build_seconds']:.1f} s (cached for later runs)", file=sys.stderr)
    return figures


def comma_list(text):
    """Comma-separated values (at least one)."""
    values = [part.strip() for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated values")
    return values


#: Settings that choose only what is written, not what runs: --from-json leaves them
#: as the command line gives them.
OUTPUT_SETTINGS = ("json", "csv", "plot", "vcd", "quiet", "from_json")


def add_from_json_option(parser):
    parser.add_argument("--from-json", type=Path, metavar="RESULT.json",
                        help="run again with every setting of a --json result of the same "
                             "command (the outputs --json, --csv, --plot, --vcd, --quiet come "
                             "from this command line; other options are replaced)")


def apply_from_json(args):
    """With --from-json, take every setting but the outputs from that --json document;
    UsageError if it is not one of this command's."""
    path = getattr(args, "from_json", None)
    if path is None:
        return
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"--from-json {path}: cannot read it as JSON: {error}") from None
    if not isinstance(document, dict) or document.get("command") != args.command \
            or document.get("schema_version") != JSON_SCHEMA_VERSION:
        raise UsageError(f"--from-json {path}: not the --json output (schema version "
                         f"{JSON_SCHEMA_VERSION}) of foliodma {args.command}")
    for key, value in document.get("settings", {}).items():
        if key in OUTPUT_SETTINGS:
            continue
        if not hasattr(args, key):
            raise UsageError(f"--from-json {path}: unknown setting {key!r}")
        if isinstance(getattr(args, key), tuple) and isinstance(value, list):
            value = tuple(value)
        setattr(args, key, value)
    if "machine" in document:
        args.recorded_machine = document["machine"]


def write_outputs(args, rows, **extra):
    """The rows as --csv asks (a file) and as --json asks (stdout, see print_json);
    True if the JSON replaced the table."""
    if args.csv:
        write_csv(args.csv, rows)
    if args.json:
        print_json(args, rows, **extra)
    return args.json


def csv_path(text):
    """A CSV file to write (an output_path ending in .csv)."""
    path = output_path(text)
    if path.suffix != ".csv":
        raise argparse.ArgumentTypeError(f"{text!r}: give a path ending in .csv")
    return path


def add_csv_option(parser):
    parser.add_argument("--csv", type=csv_path, metavar="FILE.csv",
                        help="also write the rows as CSV, one column per figure (nested "
                             "figures as dotted names, lists as JSON)")


def write_csv(path, rows):
    """The rows (dicts) as CSV: nested dicts flattened to dotted column names, lists and
    other values JSON-encoded unless they are numbers or strings; columns in order of
    first appearance."""
    import csv

    def flat(row, prefix=""):
        out = {}
        for key, value in row.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                out.update(flat(value, name + "."))
            elif value is None or isinstance(value, (bool, int, float, str)):
                out[name] = value
            else:
                out[name] = json.dumps(value, default=str)
        return out

    flattened = [flat(row) for row in rows]
    columns = list(dict.fromkeys(name for row in flattened for name in row))
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(flattened)


def add_output_options(parser, *, json_help,
                       vcd_help="write the run's waveform on model time: one cycle per "
                                "period of the engine clock (--engine-mhz), idle spans "
                                "included; the format by the extension: .vcd, or .fst on "
                                "icarus"):
    """--json, --csv, --vcd and --quiet."""
    parser.add_argument("--json", action="store_true", help=json_help)
    add_csv_option(parser)
    add_from_json_option(parser)
    parser.add_argument("--vcd", type=output_path, metavar="FILE.vcd|fst", help=vcd_help)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
