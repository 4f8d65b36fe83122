"""``foliodma reproduce``: every row of the seed's tables, model against measurement.
"""
import sys
import time

from sim.cli.common import (add_backend_option, add_csv_option, figure_path, non_negative_int,
                            positive_int, request_default, resolve_backend, RunCounter, write_csv)
from sim.cli.machine_options import (add_platform_options, add_platform_reading_options,
                                     machine_of)
from sim.kernel.modes import MODES


def cmd_reproduce(args):
    from sim.experiments.reproduce import print_report, run_all, to_json
    machine = machine_of(args)
    args.backend = resolve_backend(args, machine.engine)

    started, counter = time.perf_counter(), None

    def progress(key, total):
        nonlocal counter
        counter = counter or RunCounter(total, started)
        sys.stderr.write(f"reproduce: {' '.join(str(k) for k in key)}: {counter.done()}\n")
    report = run_all(backend=args.backend, repeat=args.repeat, seed=args.seed, jobs=args.jobs,
                     progress=None if args.quiet else progress,
                     v1_double_copy=not args.v1_dma_only, machine=machine)
    if args.csv:
        write_csv(args.csv, [{"table": "1", **row} for row in report["table1"]]
                  + [{"table": "2", **row} for row in report["table2"]])
    if args.json:
        print(to_json(report))
    else:
        print_report(report)
    if args.plot:
        from sim.experiments.plot import reproduce_figure, write_figure
        write_figure(args.plot, reproduce_figure(report, MODES))
        print(f"figure: {args.plot}", file=sys.stderr)
    return 0 if report["integrity_ok"] else 1


def add_reproduce_command(commands):
    """The ``reproduce`` command's parser."""
    rep = commands.add_parser(
        "reproduce", help="every row of the seed's tables: model vs measured, with errors",
        description="Runs all workloads (4KB, 2MB, 256MB, 1GB) in all three modes (the DMA "
                    "rows with dcbm v1, as the seed measured), the post_move_access column "
                    "and the later posting's calibration points, and prints model vs "
                    "measured with the error of each cell and the largest error per column.")
    add_backend_option(rep)
    rep.add_argument("--jobs", type=positive_int, default=2,
                     help="DMA simulations run in parallel (default %(default)s)")
    rep.add_argument("--repeat", type=positive_int, default=request_default("repeat"),
                     help="runs for mean ± SD (default %(default)s)")
    rep.add_argument("--seed", type=non_negative_int, default=0, help="noise seed (default 0)")
    add_platform_reading_options(add_platform_options(rep))
    rep.add_argument("--json", action="store_true", help="print the report as JSON")
    add_csv_option(rep)
    rep.add_argument("--plot", type=figure_path, metavar="FILE.svg|png",
                     help="also draw each table 1 cell's error against its band (SVG or PNG)")
    rep.add_argument("--quiet", action="store_true", help="no progress on stderr")
    rep.set_defaults(func=cmd_reproduce)
