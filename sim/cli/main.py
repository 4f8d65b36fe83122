"""The ``foliodma`` command line: the entry point, over every command's parser (each
command module adds its own: ``add_<command>_command``).
"""
import argparse
import importlib.metadata
import os
import sys

from sim.cli.bench import add_bench_command
from sim.cli.board import add_board_command
from sim.cli.common import apply_from_json, set_table_width, TABLE_WIDTH, UsageError
from sim.cli.explore import add_explore_command
from sim.cli.formal import add_formal_command
from sim.cli.hardware import add_regs_command, add_verilog_command
from sim.cli.migrate import add_migrate_command
from sim.cli.platform import add_platform_command
from sim.cli.reproduce import add_reproduce_command
from sim.cli.scaling import add_scaling_command
from sim.cli.stress import add_stress_command
from sim.cli.sweep import add_sweep_command
from sim.cli.synth import add_synth_command
from sim.experiments.plot import PlotError


def build_parser():
    parser = argparse.ArgumentParser(
        prog="foliodma",
        description="Cycle-level HW/SW co-design model of DMA-offloaded page migration.")
    parser.add_argument("--version", action="version",
                        version=f"foliodma {importlib.metadata.version('foliodma')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for add_command in (add_bench_command, add_migrate_command, add_sweep_command,
                        add_reproduce_command, add_regs_command, add_verilog_command,
                        add_synth_command, add_platform_command, add_scaling_command,
                        add_stress_command, add_explore_command, add_board_command,
                        add_formal_command):
        add_command(commands)
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
