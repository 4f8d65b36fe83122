"""``foliodma formal``: proves the engine's bus ports and channel control (hw.formal)."""
import json
import sys
from pathlib import Path

from sim.cli.common import format_table, positive_int


def add_formal_command(commands):
    """The ``formal`` command."""
    from hw.formal.engine import FORMAL_CONFIGS
    from hw.formal.run import DEFAULT_DEPTH, DEFAULT_INDUCTION, DEFAULT_INDUCTION_SECONDS
    formal = commands.add_parser(
        "formal", help="prove the engine's AXI ports and channel control with SymbiYosys",
        description="Proves the properties the engine's components state (hw/formal: the "
                    "AXI4 master against any slave that keeps its side of the protocol, the "
                    "AXI4-Lite register slave against any master, channel control, "
                    "interrupts, one completion record per descriptor) on a small "
                    "configuration, with SymbiYosys, YoWASP Yosys and Yices from PyPI. One "
                    "bounded model check of every assertion from reset (a failing one is "
                    "named, its counterexample written as a VCD, and the rest checked "
                    "again), then k-induction of each, then every cover, so that no "
                    "property holds only because nothing happens. Prints, per property: "
                    "proved, bounded to depth N, failed at step N, or reached/unreached "
                    "(covers). Exit status 1 if any property fails or any cover is not "
                    "reached. A few minutes.")
    formal.add_argument("--config", choices=sorted(FORMAL_CONFIGS), default="small",
                        help="engine configuration to prove (default %(default)s: "
                             + ", ".join(f"{name}: {params.data_width}-bit, "
                                         f"{params.channels} channel(s)"
                                         for name, params in FORMAL_CONFIGS.items()) + ")")
    formal.add_argument("--depth", type=positive_int, default=DEFAULT_DEPTH,
                        help="cycles from reset of the bounded checks and covers (default "
                             "%(default)s: a whole descriptor takes 26)")
    formal.add_argument("--induction", type=positive_int, default=DEFAULT_INDUCTION,
                        help="length of the k-induction attempts (default %(default)s)")
    formal.add_argument("--induction-seconds", type=positive_int,
                        default=DEFAULT_INDUCTION_SECONDS,
                        help="time an induction attempt may take before its property "
                             "stays bounded (default %(default)s)")
    formal.add_argument("--only", metavar="PREFIX[,PREFIX...]",
                        type=lambda text: [part for part in text.split(",") if part],
                        help="only the properties whose names start so, e.g. axi.w, channel0")
    formal.add_argument("--out", type=Path, default=Path("build/formal"), metavar="DIR",
                        help="where each run's files, logs and traces go (default "
                             "%(default)s)")
    formal.add_argument("--list", action="store_true",
                        help="list the properties and stop")
    formal.add_argument("--json", action="store_true", help="print the results as JSON")
    formal.set_defaults(func=cmd_formal)
    return formal


COLUMNS = [("property", "name", "{}"), ("kind", "kind", "{}"), ("status", "verdict", "{}"),
           ("seconds", "seconds", "{:.0f}"), ("what it says", "description", "{}")]


def verdict(result):
    """One result as the table prints it."""
    if result.status == "bounded":
        return f"bounded to depth {result.depth}"
    if result.status == "proved":
        return f"proved (k-induction, {result.depth})"
    if result.status in ("failed", "reached"):
        return f"{result.status} at step {result.step}"
    return f"{result.status} within depth {result.depth}"


def cmd_formal(args):
    from hw.formal.engine import FORMAL_CONFIGS
    from hw.formal.run import FormalError, elaborate, prove
    params = FORMAL_CONFIGS[args.config]
    if args.list:
        _, stated = elaborate(params, selected=())
        for prop in stated.stated.values():
            print(f"{prop.name:40} {prop.kind:6} {prop.description}")
        return 0
    try:
        results = prove(params, out_dir=args.out, depth=args.depth, induction=args.induction,
                        induction_seconds=args.induction_seconds, only=args.only,
                        progress=lambda text: print(text, file=sys.stderr, flush=True))
    except FormalError as error:
        print(f"foliodma formal: error: {error}", file=sys.stderr)
        return 1
    bad = [r for r in results if r.status in ("failed", "unreached")]
    if args.json:
        print(json.dumps({"config": args.config, "params": params.as_dict(),
                          "rows": [r.as_dict() for r in results]}, indent=2))
    else:
        print(f"formal proof of the {args.config} engine ({params.data_width}-bit, "
              f"{params.channels} channel(s), bursts of {params.max_burst}, "
              f"{params.outstanding_reads}/{params.outstanding_writes} reads/writes in "
              f"flight, {params.buffer_depth}-beat buffer):")
        rows = [{**r.as_dict(), "verdict": verdict(r)} for r in results]
        print(format_table(rows, COLUMNS))
        for r in bad:
            where = f": {r.trace}" if r.trace else ""
            print(f"{r.name} {r.status}{where}")
    return 1 if bad else 0
