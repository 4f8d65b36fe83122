"""``foliodma regs`` and ``verilog``: the engine as documents and Verilog (``synth``, its
FPGA builds: :mod:`sim.cli.synth`).
"""
import argparse
import re
from pathlib import Path

from hw.amba import MAX_ID_WIDTH
from hw.layouts import AXI_ID_WIDTH
from sim.cli.common import UsageError, positive_int
from sim.cli.machine_options import add_engine_options, engine_params


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


def add_regs_command(commands):
    """The ``regs`` command's parser."""
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


def add_verilog_command(commands):
    """The ``verilog`` command's parser."""
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
