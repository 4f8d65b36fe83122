"""``foliodma regs``, ``verilog`` and ``synth``: the engine as documents, Verilog and FPGA builds.
"""
import argparse
import json
import re
import sys
from pathlib import Path

from hw.params import EngineParams
from sim.cli.common import comma_list, format_table, UsageError
from sim.cli.machine_options import add_engine_options, engine_params
from sim.cli.sweep import sweep_values


def cmd_regs(args):
    from hw.docs import write_docs
    header, markdown = write_docs(args.out)
    print(f"wrote {header} and {markdown}")


def one_engine_only(args, command):
    """UsageError for ``--engines N`` (N > 1): ``command`` builds one engine; a device of
    N engines is N instances of it, each with its own ports."""
    if getattr(args, "engines", None) not in (None, 1):
        raise UsageError(f"--engines {args.engines}: {command} builds one engine; a device of "
                         f"{args.engines} engines is {args.engines} instances of it, each with "
                         f"its own AXI master, registers and interrupt (its area: "
                         f"{args.engines} x one engine's, as `foliodma explore` counts it)")


def cmd_verilog(args):
    from amaranth.back import verilog
    from hw.engine import DmaEngine
    one_engine_only(args, "verilog")
    params = engine_params(args)
    # No source attributes: they would carry this machine's absolute paths.
    text = verilog.convert(DmaEngine(params), name=args.name, emit_src=False)
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
    one_engine_only(args, "synth")
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
