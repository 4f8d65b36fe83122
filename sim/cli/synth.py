"""``foliodma synth``: the engine on an FPGA family, its cells, and with --pnr the clock it
reaches; --sweep over an engine parameter, --families over FPGA families.
"""
import argparse
import json
import sys

from hw.fpga import FAMILIES, family as family_named
from hw.params import SMALL_ENGINE, EngineParams
from hw.synth import DEFAULT_TARGET_MHZ
from sim.cli.common import UsageError, comma_list, format_table, positive_float
from sim.cli.hardware import output_dir
from sim.cli.machine_options import add_engine_options, engine_params
from sim.cli.sweep import sweep_values

SYNTH_COLUMNS = (("cell", "cell", "{}"), ("count", "count", "{}"), ("kind", "kind", "{}"),
                 ("what", "what", "{}"))
PNR_COLUMNS = (("resource", "resource", "{}"), ("used", "used", "{}"),
               ("available", "available", "{}"), ("use", "use", "{:.1%}"))
#: A table's cell columns: the kinds of resource (hw.fpga.KINDS) a design uses most.
KIND_COLUMNS = ("LUT", "carry", "FF", "LUT RAM", "block RAM")
SWEEP_PNR = (("MHz", "fmax_mhz", "{:.1f}"), ("peak GB/s", "peak_gbps", "{:.2f}"))


def _say(args):
    def say(text):
        if not args.quiet:
            print(f"synth: {text}", file=sys.stderr)
    return say


def check_synth_options(args):
    """UsageError for a family or device this machine's tools don't know, before any run."""
    if args.families == ["all"]:
        args.families = list(FAMILIES)
    families = args.families or [args.family]
    for name in families:
        if name not in FAMILIES:
            raise UsageError(f"--family {name}: expected one of {', '.join(FAMILIES)}")
    if args.device is not None:
        if len(families) > 1:
            raise UsageError("--device names one family's device: give it with --family")
        fam = FAMILIES[families[0]]
        if args.device not in fam.devices:
            raise UsageError(f"--device {args.device}: {fam.title} devices are "
                             f"{', '.join(fam.devices) or 'none (no open place and route)'}")
    if args.pnr and len(families) == 1 and FAMILIES[families[0]].nextpnr is None:
        raise UsageError(f"--pnr: {FAMILIES[families[0]].title} has no open place and route "
                         f"on PyPI; its synthesis gives cells only")


def synth_run(params, out, family, args, say):
    """Synthesize (and with --pnr place and route) one engine on ``family``: (synth, pnr
    or None, why not placed or None)."""
    from hw.synth import SynthError, place_and_route, synthesize
    fam = family_named(family)
    try:
        say(f"yosys {fam.synth.split()[0]} of the engine into {out} (seconds to a minute; "
            f"a first run also compiles Yosys)")
        synth = synthesize(params, out, family)
    except SynthError as error:
        raise UsageError(str(error)) from None
    if not args.pnr or fam.nextpnr is None:
        return synth, None, None if not args.pnr else "no open place and route"
    say(f"nextpnr on {fam.title} {args.device or fam.default_device} (minutes for the "
        f"default engine; a first run also compiles nextpnr)")
    try:
        return synth, place_and_route(synth, args.device, args.target_mhz), None
    except SynthError as error:
        if args.families:       # a table row: the design may not fit that device
            return synth, None, _first_error(str(error))
        raise UsageError(str(error)) from None


def _first_error(message):
    """The tool's ERROR line of a SynthError's log tail (or its first line)."""
    for line in message.splitlines():
        if line.startswith("ERROR:"):
            return line[len("ERROR:"):].strip()
    return message.splitlines()[0]


def synth_json(params, synth, pnr, why=None):
    return {"params": params.as_dict(), "family": synth.family, "cells": synth.cells,
            "kinds": FAMILIES[synth.family].kind_counts(synth.cells),
            "netlist": str(synth.netlist), "log": str(synth.log),
            "synth_seconds": synth.seconds, "not_placed": why,
            "pnr": None if pnr is None else {
                "device": pnr.device, "part": pnr.part, "wrapped": pnr.wrapped,
                "target_mhz": pnr.target_mhz, "fmax_mhz": pnr.fmax_mhz,
                "utilization": pnr.utilization, "critical_path": pnr.critical_path,
                "log": str(pnr.log), "seconds": pnr.seconds}}


def cmd_synth(args):
    from sim.cli.hardware import one_engine_only
    one_engine_only(args, "synth")
    check_synth_options(args)
    say = _say(args)
    if args.families:
        return _families_table(args, say)
    if args.sweep:
        return _sweep(args, say)
    params = engine_params(args)
    synth, pnr, _ = synth_run(params, args.out, args.family, args, say)
    if args.json:
        print(json.dumps(synth_json(params, synth, pnr), indent=2))
        return 0
    fam = FAMILIES[synth.family]
    print("engine: " + ", ".join(f"{k}={v}" for k, v in params.as_dict().items()))
    print(f"{fam.title} cells after yosys {fam.synth.split()[0]} ({synth.seconds:.0f} s):")
    rows = [{"cell": cell, "count": count, "kind": fam.cells[cell][0],
             "what": fam.cells[cell][1]}
            for cell, count in sorted(synth.cells.items(), key=lambda item: -item[1])]
    print(format_table(rows, SYNTH_COLUMNS))
    print(f"netlist: {synth.netlist}; log: {synth.log}")
    if pnr is not None:
        _print_pnr(fam, pnr)
    return 0


def _print_pnr(fam, pnr):
    where = "out of context" if not pnr.wrapped else "inside the pin wrapper"
    print(f"\nplaced and routed {where} on {fam.title} {pnr.device} ({pnr.part}; "
          f"{pnr.seconds:.0f} s):")
    rows = [{"resource": name, "use": use["used"] / use["available"], **use}
            for name, use in pnr.utilization.items()]
    print(format_table(rows, PNR_COLUMNS))
    if pnr.wrapped:
        print("the pin wrapper (hw/pin_wrapper.py) adds one flip-flop per engine input bit "
              "and an XOR of its output bits")
    met = "meets" if pnr.fmax_mhz >= pnr.target_mhz else "misses"
    print(f"clock: {pnr.fmax_mhz:.1f} MHz ({met} the {pnr.target_mhz:g} MHz target)")
    path = pnr.critical_path
    if path:
        print(f"critical path: {path['from']} -> {path['to']}: "
              f"{path['logic_ns']:.2f} ns logic + {path['routing_ns']:.2f} ns routing")
    print(f"log: {pnr.log}")
    print(f"to model the engine at this clock: foliodma migrate --engine-mhz "
          f"{pnr.fmax_mhz:.1f}")


def sweep_points(args):
    """[(text, EngineParams)] of synth --sweep OPTION V1,V2,..., every value checked."""
    from hw.params import EngineParams
    option, texts = "--" + args.sweep[0], args.sweep[1]
    probe = argparse.ArgumentParser(add_help=False)
    add_engine_options(probe)
    engine_fields = set(EngineParams.__dataclass_fields__)
    actions = {name: action for action in probe._actions for name in action.option_strings
               if action.dest in engine_fields}
    if option not in actions:
        raise UsageError(f"cannot sweep {option}: expected an engine parameter, one of "
                         f"{', '.join(name[2:] for name in actions if name != '-h')}")
    action = actions[option]
    try:
        texts = comma_list(texts)
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"--sweep {args.sweep[0]}: {error}") from None
    points = []
    for text, value in zip(texts, sweep_values(option, action, texts)):
        point = argparse.Namespace(**vars(args))
        setattr(point, action.dest, value)
        try:
            points.append((text, engine_params(point)))
        except UsageError as error:
            message = str(error)
            raise UsageError(message if message.startswith(f"{option} ") else
                             f"{option} {text}: {message}") from None
    return points


def _kind_row(synth):
    kinds = FAMILIES[synth.family].kind_counts(synth.cells)
    return {kind: kinds.get(kind, 0) for kind in KIND_COLUMNS}


def _sweep(args, say):
    """synth --sweep: one engine per value, each in its own directory under --out."""
    option = args.sweep[0]
    points = sweep_points(args)
    runs = []
    for text, params in points:
        say(f"{option} {text}:")
        runs.append((text, params, *synth_run(params, args.out / f"{option}-{text}",
                                              args.family, args, say)))
    if args.json:
        print(json.dumps({"option": option, "values": [text for text, _ in points],
                          "runs": [synth_json(params, synth, pnr, why)
                                   for _, params, synth, pnr, why in runs]}, indent=2))
        return 0
    columns = [(option, "value", "{}")] + [(kind, kind, "{}") for kind in KIND_COLUMNS]
    if args.pnr:
        columns += list(SWEEP_PNR)
    rows = []
    for text, params, synth, pnr, _ in runs:
        row = {"value": text, **_kind_row(synth)}
        if pnr is not None:
            row.update(fmax_mhz=pnr.fmax_mhz,
                       peak_gbps=params.peak_bytes_per_cycle * pnr.fmax_mhz / 1000)
        rows.append(row)
    fam = FAMILIES[args.family]
    device = args.device or fam.default_device
    print(f"sweep of --{option} over {', '.join(text for text, _ in points)}; {fam.title} "
          f"cells after yosys {fam.synth.split()[0]}"
          + (f", clock after nextpnr on the {device} device" if args.pnr else ""))
    print(format_table(rows, columns))
    if args.pnr:
        print("peak GB/s: one full beat read and written per cycle at that clock")
    print(f"netlists, reports and logs: {args.out}/{option}-<value>")
    return 0


def _families_table(args, say):
    """synth --families: the engine of the options and the small engine on each family."""
    params = engine_params(args)
    engines = [("default" if params == EngineParams() else "given", params)]
    if engines[0][1] != SMALL_ENGINE:
        engines.append(("small", SMALL_ENGINE))
    runs = []
    for label, params in engines:
        for name in args.families:
            say(f"{label} engine on {name}:")
            runs.append((label, params, name, *synth_run(
                params, args.out / f"{label}-{name}", name, args, say)))
    if args.json:
        print(json.dumps({"runs": [dict(engine=label, **synth_json(params, synth, pnr, why))
                                   for label, params, _, synth, pnr, why in runs]}, indent=2))
        return 0
    columns = [("engine", "engine", "{}"), ("family", "family", "{}")]
    columns += [(kind, kind, "{}") for kind in KIND_COLUMNS]
    if args.pnr:
        columns += [("device", "part", "{}"), ("logic use", "logic", "{}"),
                    ("MHz", "mhz", "{}")]
    rows, notes = [], []
    for label, params, name, synth, pnr, why in runs:
        row = {"engine": f"{label}: {params.data_width}-bit", "family": name,
               **_kind_row(synth)}
        fam = FAMILIES[name]
        if pnr is not None:
            use = pnr.utilization.get(fam.logic_resource)
            row.update(part=pnr.part, mhz=f"{pnr.fmax_mhz:.1f}",
                       logic="-" if use is None else
                       f"{use['used']:,} {fam.logic_resource} "
                       f"({use['used'] / use['available']:.0%})")
        elif args.pnr:
            row.update(part=fam.devices[args.device or fam.default_device].part
                       if fam.nextpnr else "-", logic="-", mhz="-")
            notes.append(f"{label} engine on {name}: not placed: {why}")
        rows.append(row)
    print(f"the engine on each FPGA family (cells after Yosys" +
          (", then nextpnr on the family's default device" if args.pnr else "") + ")")
    print(format_table(rows, columns))
    for note in notes:
        print(note)
    if args.pnr:
        print("logic use: the device's logic cells the design takes (of all of them). "
              "ECP5: out of context; the others inside the pin wrapper "
              "(hw/pin_wrapper.py), whose cells count in the use.")
    print("LUT: LUTs and the muxes that widen them; carry: carry cells; FF: flip-flops; "
          "LUT RAM and block RAM: memory primitives (hw/fpga.py says which cell is "
          "which).")
    print(f"the small engine: " + ", ".join(f"{k}={v}" for k, v in
                                            SMALL_ENGINE.as_dict().items()))
    return 0


def add_synth_command(commands):
    """The ``synth`` subcommand's parser."""
    synth = commands.add_parser(
        "synth", help="synthesize the engine for an FPGA family (ECP5, iCE40, Nexus, Gowin, "
                      "Xilinx 7-series): cells, and with --pnr the clock it reaches",
        description="Synthesizes the engine RTL with Yosys for an FPGA family and prints "
                    "the primitives it maps to; with --pnr, places and routes it with the "
                    "family's nextpnr and prints the device use, the clock reached and its "
                    "critical path (ECP5: out of context, the engine as a block of a larger "
                    "design; iCE40, Nexus, Gowin: inside a two-pin wrapper; Xilinx 7-series: "
                    "cells only, no open place and route on PyPI). The tools are the "
                    "WebAssembly builds from PyPI.")
    add_engine_options(synth)
    synth.add_argument("--family", default="ecp5", metavar="NAME",
                       help=f"FPGA family: {', '.join(FAMILIES)} (default %(default)s)")
    synth.add_argument("--families", type=comma_list, metavar="F1,F2,...",
                       help="one row per family ('all': every one), for the engine of the "
                            "options (default: the default engine) and the small engine "
                            "(hw.params.SMALL_ENGINE)")
    synth.add_argument("--out", type=output_dir, default="build/synth",
                       help="directory for the RTLIL, netlist, reports and logs "
                            "(default %(default)s)")
    synth.add_argument("--pnr", action="store_true",
                       help="also place and route (a minute to half an hour for the default "
                            "engine, by family)")
    synth.add_argument("--device", metavar="NAME",
                       help="device to place on: " + "; ".join(
                           f"{fam.name}: {', '.join(fam.devices)} (default "
                           f"{fam.default_device})" for fam in FAMILIES.values()
                           if fam.devices))
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
    return synth
