"""``foliodma regs`` and ``verilog``: the engine as documents and Verilog (``synth``, its
FPGA builds: :mod:`sim.cli.synth`).
"""
import argparse
import re
from pathlib import Path

from sim.cli.common import UsageError
from sim.cli.machine_options import engine_params


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
