"""``foliodma board``: the engine on an FPGA board, built and self-tested.

``board build`` writes the bitstream (:mod:`hw.board.build`); ``board run`` runs the
self-test (:mod:`sim.board.selftest`: the driver stack moves a batch over the serial
line, every byte checked) on a board (``--port``) or on the simulated board
(``--simulated``: the same design compiled with Verilator, its UART simulated bit by
bit).
"""
import asyncio
import json
import sys
from pathlib import Path

from sim.cli.common import positive_int, non_negative_int


def add_board_command(commands):
    """The ``board`` command and its ``build`` and ``run`` subcommands."""
    from hw.board.top import BOARDS, DEFAULT_BOARD
    names = ", ".join(f"{name} ({spec.title}, {spec.clk_hz / 1e6:g} MHz, {spec.baud} baud)"
                      for name, spec in BOARDS.items())
    board = commands.add_parser(
        "board", help="the engine on an FPGA board: build its bitstream, run its self-test",
        description="The engine on an FPGA board with on-chip memory and a UART bridge to "
                    "its registers and that memory (hw/board). `board build` writes the "
                    "bitstream and checks its timing at the board's clock; `board run` runs "
                    "the real driver stack (foliodma provider, dmaengine, dcbm v3 through "
                    "the migration core's offload) over the serial line: it moves a batch "
                    "of pages, checks every byte and prints GB/s and the engine's counters. "
                    f"Boards: {names}.")
    sub = board.add_subparsers(dest="board_command", required=True, metavar="SUBCOMMAND")

    build = sub.add_parser(
        "build", help="write the board's bitstream (Yosys, nextpnr-ecp5, ecppack from PyPI)",
        description="Synthesizes, places and routes the board design (the engine, its "
                    "on-chip memory, the UART bridge) with the YoWASP tools and packs the "
                    "bitstream; fails if the design does not reach the board's clock. "
                    "Several minutes.")
    build.add_argument("--board", default=DEFAULT_BOARD, metavar="NAME",
                       help=f"the board: {', '.join(BOARDS)} (default %(default)s)")
    build.add_argument("--out", type=Path, default=Path("build/board"), metavar="DIR",
                       help="where the bitstream, logs and reports go (default %(default)s)")
    build.add_argument("--seed", type=non_negative_int, default=1,
                       help="nextpnr's placement seed (default %(default)s)")
    build.set_defaults(func=cmd_board_build)

    run = sub.add_parser(
        "run", help="self-test on a board over its serial port, or on the simulated board",
        description="Probes the engine through the bridge, registers dcbm v3, copies a "
                    "batch of 4 KiB pages through the migration core's offload, reads "
                    "everything back (destinations, a guard page on each side, sources) and "
                    "prints GB/s from the engine's counters (bytes over busy cycles at the "
                    "board's clock) and the counters. Exit status 0 only if every byte is "
                    "right and the engine copied every page.")
    where = run.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", metavar="PATH",
                       help="the board's serial port, e.g. /dev/ttyUSB0")
    where.add_argument("--simulated", action="store_true",
                       help="the simulated board: the same design compiled with Verilator "
                            "(built once, cached), its serial line simulated bit by bit")
    run.add_argument("--board", default=DEFAULT_BOARD, metavar="NAME",
                     help="the board, for its baud rate (default %(default)s)")
    run.add_argument("--baud", type=positive_int,
                     help="the serial line's baud rate (default: the board's)")
    run.add_argument("--pages", type=positive_int, default=None,
                     help="4 KiB pages in the batch (default 16 on a board, 4 simulated)")
    run.add_argument("--seed", type=non_negative_int, default=0,
                     help="seed of the pages' random bytes (default %(default)s)")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.set_defaults(func=cmd_board_run)
    return board


def _fail(message):
    print(f"foliodma board: error: {message}", file=sys.stderr)
    return 1


def cmd_board_build(args):
    from hw.board.build import BoardBuildError, build_board
    try:
        result = build_board(args.board, args.out, seed=args.seed)
    except BoardBuildError as error:
        return _fail(error)
    print(f"wrote {result.bitstream} for {args.board} in {result.seconds:.0f} s: "
          f"{result.fmax_mhz:.1f} MHz reached, the board's clock {result.clk_mhz:g} MHz "
          f"(timing met)")
    for name, use in result.utilization.items():
        print(f"  {name:>14} {use['used']:>6} / {use['available']:<6} "
              f"{100 * use['used'] / use['available']:5.1f}%")
    print(f"log: {result.log}")
    return 0


def open_board(args):
    """The serial port the self-test talks over (a board's, or the simulated board)."""
    from hw.board.top import board, simulated_config
    from sim.board.link import open_serial
    if args.simulated:
        from sim.board.simulated import SimulatedSerial
        return SimulatedSerial(simulated_config(args.board))
    return open_serial(args.port, args.baud or board(args.board).baud)


def cmd_board_run(args):
    from sim.board.link import RESYNC_S, BridgeLink, LinkError
    from sim.board.port import BoardPort
    from sim.board.selftest import format_report, run_selftest
    from sw_driver.dmaengine import DmaEngineError
    pages = args.pages or (4 if args.simulated else 16)
    try:
        serial = open_board(args)
    except (LinkError, ValueError) as error:
        return _fail(error)
    try:
        link = BridgeLink(serial, resync_s=0 if args.simulated else RESYNC_S)
        link.ping()
        report = asyncio.run(run_selftest(BoardPort(link), pages, seed=args.seed))
    except (LinkError, DmaEngineError, MemoryError, TimeoutError) as error:
        return _fail(error)
    finally:
        serial.close()
    where = "the simulated board" if args.simulated else args.port
    print(json.dumps(report, indent=2) if args.json else format_report(report, where))
    return 0 if report["ok"] else 1
