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
    from hw.amba import AmbaTop, amba_verilog
    from hw.package import CORE_NAME, write_package
    one_engine_only(args, "verilog")
    params = engine_params(args)
    options = {"id_width": args.id_width, "reset_active_low": args.reset == "aresetn"}
    try:
        top = AmbaTop(params, **options) if args.out.suffix == ".v" else None
    except ValueError as error:
        raise UsageError(f"--id-width {args.id_width}: {error}") from None
    what = f"{params.data_width}-bit, {params.channels} channel(s), AXI ID {args.id_width} " \
           f"bit(s), reset {args.reset}"
    if top is not None:
        args.out.write_text(amba_verilog(top, args.name))
        print(f"wrote {args.out} ({what})")
        return
    try:
        paths = write_package(params, args.out, name=args.name, **options)
    except ValueError as error:
        raise UsageError(f"--id-width {args.id_width}: {error}") from None
    print(f"wrote the IP package of the engine ({what}) into {args.out}:")
    for path in paths:
        print(f"  {path.name}")
    core = CORE_NAME.replace("foliodma_engine", args.name)
    print(f"fusesoc --cores-root {args.out} core list    # lists {core}")
    print(f"fusesoc --cores-root {args.out} run --target lint {core}    # Verilator's lint "
          f"(VERILATOR_ROOT set, or verilator on PATH)")


def verilog_identifier(text):
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Verilog identifier (letters, "
                                         f"digits, _ and $, not starting with a digit or $)")
    return text


def export_path(text):
    """verilog --out: FILE.v (its directory must exist) or a directory to write the IP
    package into (it may not exist yet, but must not be a file)."""
    path = Path(text)
    if path.suffix == ".v":
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a Verilog file")
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r}: directory {str(path.parent)!r} does "
                                             f"not exist")
    elif path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file: give FILE.v for the Verilog "
                                         f"alone, or a directory for the IP package")
    return path


def output_dir(text):
    """A directory to write into: it may not exist yet, but must not be a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a directory")
    return path
