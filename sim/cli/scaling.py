"""``foliodma scaling``: the later postings' channel-scaling experiment.
"""
import argparse
import gc
import sys

from sim.cli.common import (add_backend_option, RunCounter, UsageError, add_csv_option, comma_list,
                            figure_path, format_table, human_size, non_negative_int, parse_size,
                            positive_int, request_default, resolve_backend, write_outputs)
from sim.cli.machine_options import add_platform_options, machine_of
from sim.cli.migrate import report_integrity, run_migrate_rows, workload_size
from sim.experiments.channel_scaling import (CHANNELS, DRIVERS, FOLIO_SIZES, MAX_BATCH_PAGES,
                                             MEASURED_NOTES, WORKLOAD_BYTES, folio_size_figure,
                                             measured, platform_of, scaling_figure,
                                             scaling_points, scaling_request, scaling_table)
from sim.kernel.modes import NODES
from sim.kernel.request import MigrateRequest, prepare_request
from sw_driver.dcbm import STRATEGIES


def _list_of(convert, what, choices=None):
    """An argparse type: comma-separated values, each converted (and checked against
    ``choices``), none twice."""
    def parse(text):
        values = []
        for part in comma_list(text):
            try:
                value = convert(part)
            except (argparse.ArgumentTypeError, ValueError) as error:
                raise argparse.ArgumentTypeError(f"{part!r}: {error}") from None
            if choices is not None and value not in choices:
                raise argparse.ArgumentTypeError(f"{part!r} is not a {what} (expected one of "
                                                 f"{', '.join(choices)})")
            if value in values:
                raise argparse.ArgumentTypeError(f"{part!r} is given twice")
            values.append(value)
        return values
    parse.__name__ = what
    return parse


def _folio_size(text):
    """A folio size as migrate's --folio-size takes it, checked: a power-of-two number of
    pages up to the largest folio."""
    from sim.kernel.folios import MigrateError, check_folio_size
    size = parse_size(text)
    try:
        check_folio_size(size)
    except MigrateError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return size


def add_scaling_command(commands):
    """The ``scaling`` command."""
    scaling = commands.add_parser(
        "scaling", help="the later postings' experiment: GB/s of a 1 GiB move against dcbm's "
                        "channels, CPU vs v2 vs v3",
        description="Moves 1 GiB (4 KiB and 2 MiB folios, one batch of up to 262,144 pages, "
                    "node 1 -> node 0) with the upstream CPU copy and with dcbm v2 and v3 on "
                    "1, 2, 4, 8 and 16 channels, every run fully simulated, and prints GB/s "
                    "end to end (bytes moved / migrate_pages time) per folio size and driver "
                    "against the channel count, with the postings' own figures beneath the "
                    "model's. On a platform of several engines (--platform zen3-ptdma: the "
                    "postings' machine, 16 PTDMA engines) the channels are dcbm's "
                    "nr_dma_chan; on a one-engine platform, the engine's rings. About 14 "
                    "minutes on the compiled back-end for the whole default set. Under each "
                    "model line, the GB it moves per second of CPU time (GB/CPU-s). On "
                    "--platform zen3-ptdma-v7 (the v7.0 kernel of RFC v4) only RFC v4's four "
                    "calibration points are shown as measured.")
    scaling.add_argument("--workload", type=workload_size, default=WORKLOAD_BYTES,
                         help="bytes moved per run (default 1G)")
    scaling.add_argument("--folio-sizes", type=_list_of(_folio_size, "folio size"),
                         default=list(FOLIO_SIZES),
                         help="comma-separated folio sizes (default 4K,2M)")
    scaling.add_argument("--drivers", type=_list_of(str, "driver", STRATEGIES),
                         default=list(DRIVERS), help="comma-separated dcbm versions "
                                                     "(default v2,v3)")
    scaling.add_argument("--channels", type=_list_of(positive_int, "channel count"),
                         default=list(CHANNELS), dest="channel_counts",
                         help="comma-separated channel counts (default 1,2,4,8,16)")
    scaling.add_argument("--threads", type=_list_of(positive_int, "thread count"),
                         default=[], dest="thread_counts",
                         help="comma-separated thread counts of the mt-cpu copy (kernel "
                              "worker threads splitting the batch copy) to run beside the "
                              "CPU and the drivers, in the columns of the same counts "
                              "(default: none)")
    scaling.add_argument("--max-batch-pages", type=positive_int, default=MAX_BATCH_PAGES,
                         help="pages per migrate batch (default %(default)s: 1 GiB in one)")
    scaling.add_argument("--from-node", type=int, choices=NODES, default=1,
                         help="source node (default 1, the remote socket)")
    scaling.add_argument("--to-node", type=int, choices=NODES, default=0,
                         help="destination node (default 0, the migrating CPU's)")
    add_backend_option(scaling)
    scaling.add_argument("--repeat", type=positive_int, default=request_default("repeat"),
                         help="runs for mean ± SD (default %(default)s)")
    scaling.add_argument("--seed", type=non_negative_int, default=0,
                         help="noise seed (default 0)")
    add_platform_options(scaling)
    scaling.add_argument("--json", action="store_true",
                         help="print one JSON object: the points and a row per run")
    add_csv_option(scaling)
    scaling.add_argument("--plot", type=figure_path, metavar="FILE.svg|png",
                         help="also draw GB/s against channels, a line per folio size and "
                              "driver, the CPU as dashed lines, the postings' figures dotted "
                              "(SVG or PNG)")
    scaling.add_argument("--plot-against", choices=("channels", "folio-size"),
                         default="channels",
                         help="the figure's x axis: channels (a line per folio size and "
                              "driver, the default) or folio size (a line per driver and "
                              "channel count, the CPU copy dashed)")
    scaling.add_argument("--quiet", action="store_true", help="no progress on stderr")
    scaling.set_defaults(func=cmd_scaling)
    return scaling


def cmd_scaling(args):
    from sim.host.costs import CostError
    from sim.kernel.folios import MigrateError
    machine = machine_of(args)
    platform = platform_of(machine)
    points = scaling_points(args.folio_sizes, args.drivers, args.channel_counts,
                            args.thread_counts)
    columns = sorted({*args.channel_counts, *args.thread_counts})
    args.backend = resolve_backend(args, machine.engine)
    base = MigrateRequest(mode="dma", workload_bytes=args.workload,
                          max_batch_pages=args.max_batch_pages, from_node=args.from_node,
                          to_node=args.to_node, repeat=args.repeat, seed=args.seed,
                          backend=args.backend, machine=machine)
    requests = []
    for point in points:
        try:
            request = scaling_request(point, base, machine)
            prepare_request(request)
        except (MigrateError, CostError, ValueError) as error:
            where = point.series + (f", {point.channels} channel(s)" if point.driver else
                                    f", {point.threads} thread(s)" if point.threads else "")
            raise UsageError(f"{where}: {error}") from None
        requests.append(request)
    rows, counter = [], RunCounter(len(requests))
    for point, request in zip(points, requests):
        label = f"scaling {point.series}" + (f" x{point.column}" if point.column else "")
        rows += run_migrate_rows(args, [request], label=label)
        # A run's simulated memory (1 GiB and more) stays in reference cycles that only a
        # full collection frees (the compiled back-end's frozen heap): free it before
        # the next run, as the stress campaign and the explorer do.
        gc.collect()
        got = measured(point, platform)
        rows[-1]["point"] = {"folio_bytes": point.folio_bytes, "driver": point.driver,
                             "channels": point.channels, "threads": point.threads,
                             "measured_gbps": None if got is None else got[0]}
        if not args.quiet:
            print(f"{label}: {rows[-1]['migrate_gbps']:.2f} GB/s; {counter.done()}",
                  file=sys.stderr)
    if not write_outputs(args, rows, channels=columns):
        print(f"move_pages() of {human_size(args.workload)}B, node {args.from_node} -> node "
              f"{args.to_node}, batches of <= {args.max_batch_pages} pages, on "
              f"{machine.name} ({machine.engines} DMA engine(s) x {machine.engine.channels} "
              f"ring(s)), {args.backend}")
        unit = "ch/thr" if args.thread_counts else "ch"
        print(format_table(scaling_table(points, rows, columns, platform),
                           (("folio size, copy", "series", "{}"), ("", "source", "{}"),
                            *((f"{n} {unit} GB/s", f"ch{n}", "{}") for n in columns))))
        print("GB/s end to end: bytes moved / migrate_pages() time, mean over "
              f"{args.repeat} noisy runs; the CPU rows use no channel"
              + ("; mt-cpu's columns are its worker threads" if args.thread_counts else "")
              + ". GB/CPU-s: GB moved per second of CPU time (the migrating thread, "
              + ("mt-cpu's workers, " if args.thread_counts else "")
              + "interrupts, callbacks).\n"
              + MEASURED_NOTES.get(platform, MEASURED_NOTES[None]))
    if args.plot:
        from sim.experiments.plot import write_figure
        title = f"{human_size(args.workload)}B move_pages() on {platform}: GB/s against"
        if args.plot_against == "channels":
            figure = scaling_figure(points, rows, columns, f"{title} channels", platform)
        else:
            figure = folio_size_figure(points, rows, args.folio_sizes,
                                       f"{title} folio size", platform)
        write_figure(args.plot, figure)
        print(f"figure: {args.plot}", file=sys.stderr)
    return report_integrity(rows)
