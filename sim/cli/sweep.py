"""``foliodma sweep``: migrate once per value of one of its options.
"""
import argparse
import dataclasses
import sys

from sim.cli.common import (add_csv_option, add_from_json_option, comma_list, figure_path,
                            positive_int, prepare_reporting, resolve_backend, RunCounter,
                            UsageError, write_outputs)
from sim.cli.migrate import (report_integrity, add_migrate_options, latency_table,
                             migrate_requests, migrate_table, run_migrate_rows)


#: What ``foliodma sweep`` can plot: row key and axis label.
SWEEP_MEASURES = {
    "migrate_pages": ("migrate_pages_cycles_per_page", "migrate_pages, CPU cycles per page"),
    "folio_copy": ("folio_copy_cycles_per_page", "folio_copy, CPU cycles per page"),
    "copy_gbps": ("copy_gbps", "copy GB/s"),
    "migrate_gbps": ("migrate_gbps", "GB/s end to end (bytes moved / migrate_pages time)"),
    "F": ("F", "F = folio_copy / migrate_pages"),
    "post_move_access": ("post_move_access_cycles_per_page",
                         "post_move_access, CPU cycles per page"),
    "first_folio_us": ("first_folio_us", "first folio usable again, µs after the call"),
    "median_folio_us": ("median_folio_us", "median folio usable again, µs after the call"),
}


#: The measures of when folios become usable again: the sweep adds their table.
LATENCY_MEASURES = ("first_folio_us", "median_folio_us")


#: migrate options a sweep does not vary: lists, and what selects the rows (a platform
#: value by name is an axis of `foliodma explore`, not a sweep's option).
NOT_SWEPT = ("--copy", "--inject-dma-fail", "--inject-poison", "--set")


def sweepable_options():
    """{"--name": action} of the migrate options that take one value."""
    probe = argparse.ArgumentParser(add_help=False)
    add_migrate_options(probe)
    return {option: action for action in probe._actions
            for option in action.option_strings
            if option.startswith("--") and action.nargs is None and action.const is None
            and option not in NOT_SWEPT}


def sweep_values(option, action, texts):
    """The values of a swept option, converted and checked as the option itself would;
    two texts for one value are refused."""
    values = []
    for text in texts:
        try:
            value = action.type(text) if action.type else text
        except (argparse.ArgumentTypeError, ValueError) as error:
            raise UsageError(f"{option} {text!r}: {error}") from None
        if action.choices is not None and value not in action.choices:
            raise UsageError(f"{option} {text!r}: expected one of "
                             f"{', '.join(map(str, action.choices))}")
        if value in values:
            raise UsageError(f"{option} {text!r}: the same value as "
                             f"{texts[values.index(value)]!r}, already swept")
        values.append(value)
    return values


def swept_value(value, text):
    """A row's ``swept`` value: the option's value as it parses it (a number or a
    string), or the text as typed where that is no plain value (a platform's path)."""
    return value if isinstance(value, (int, float, str)) else text


def _on_backends(args, points):
    """The points on the back-ends they run on, once every point is checked: each
    --backend (fixed or swept) resolved once (auto: verilator if the first engine it
    runs builds here), then every engine built, each build on its own line, so that the
    rows' wall times are the runs alone."""
    resolved, out = {}, []
    for text, value, point, requests in points:
        dma = [request for request in requests if request.mode == "dma"]
        if dma:
            if point.backend not in resolved:
                resolved[point.backend] = resolve_backend(point, dma[0].machine.engine)
            point.backend = resolved[point.backend]
            requests = [dataclasses.replace(request, backend=point.backend)
                        for request in requests]
        out.append((text, value, point, requests))
    args.backend = resolved.get(args.backend, args.backend)     # as --json records it
    for backend, params in dict.fromkeys((request.backend, request.machine.engine)
                                         for *_, requests in out for request in requests
                                         if request.mode == "dma"):
        if backend != "pysim":
            prepare_reporting(backend, params, args)
    return out


def cmd_sweep(args):
    option = "--" + args.option
    action = args.sweepable.get(option)
    if action is None:
        raise UsageError(f"cannot sweep {option}: expected one of "
                         f"{', '.join(o[2:] for o in sorted(args.sweepable))}")
    fixed = getattr(args, action.dest)
    if fixed != action.default:
        raise UsageError(f"{option} is swept over {','.join(args.values)} and also given as "
                         f"{fixed}: leave the fixed {option} out")
    migrate_requests(args)                  # the options not swept, checked on their own
    points = []
    for text, value in zip(args.values, sweep_values(option, action, args.values)):
        point = argparse.Namespace(**vars(args))
        setattr(point, action.dest, value)
        try:
            points.append((text, value, point, migrate_requests(point)))
        except UsageError as error:
            message = str(error)
            raise UsageError(message if message.startswith(f"{option} ") else
                             f"{option} {text}: {message}") from None
        if args.plot and args.measure == "post_move_access" and point.to_node != 0:
            raise UsageError(f"{option} {text}: --measure post_move_access has no value for "
                             f"pages moved to node {point.to_node} (the cache model covers "
                             f"node 0, the migrating CPU's)")
    points = _on_backends(args, points)     # every combination checked: now the builds
    rows = []
    if args.jobs > 1:
        rows = _run_in_parallel(points, args.jobs, quiet=args.quiet)
    else:
        counter = RunCounter(len(points))
        for text, _, point, requests in points:
            rows += run_migrate_rows(point, requests, label=f"sweep {option}={text}")
            if not args.quiet:
                print(f"sweep: {option}={text}: {counter.done()}", file=sys.stderr)
    texts = [text for text, _, _, requests in points for _ in requests]
    values = [swept_value(value, text) for text, value, _, requests in points for _ in requests]
    for row, value in zip(rows, values, strict=True):
        row["swept"] = {option[2:]: value}
    key, label = SWEEP_MEASURES[args.measure]
    if not write_outputs(args, rows, option=option[2:], values=args.values,
                         measure=args.measure):
        print(f"sweep of {option} over {', '.join(args.values)}; everything else as "
              f"`foliodma migrate` with the same options")
        print(migrate_table(rows, lead=(option[2:], texts)))
        if key in LATENCY_MEASURES:
            print(latency_table(rows, (option[2:], texts)))
    if args.plot:
        from sim.experiments.plot import line_chart, write_figure
        names = [row["mode"] + (f" ({row['driver']})" if row["driver"] and option != "--driver"
                                else "") for row in rows]
        series = {name: [None] * len(args.values) for name in names}
        errors = {name: [None] * len(args.values) for name in names}
        per_point = len(rows) // len(points)
        for index, (name, row) in enumerate(zip(names, rows)):
            series[name][index // per_point] = row[key]
            errors[name][index // per_point] = row.get(f"{key}_sd")
        # A CPU mode the option does not change (a DMA engine's option) is a baseline.
        baselines = {name: values[0] for name, values in series.items()
                     if not name.startswith("dma") and len(set(values)) == 1
                     and len(values) > 1}
        if len(baselines) == len(series):
            baselines = {}
        for name in baselines:
            del series[name], errors[name]
        write_figure(args.plot, line_chart(f"{label} against {option}", label, option,
                                           args.values, series, errors, baselines))
        print(f"figure: {args.plot}", file=sys.stderr)
    return report_integrity(rows)


def _run_in_parallel(points, jobs, quiet):
    """The rows of every point's requests, in order, run ``jobs`` at a time."""
    import concurrent.futures
    from sim.host.costs import CostError
    from sim.kernel.folios import MigrateError
    from sim.kernel.request import run_request
    requests = [request for *_, point_requests in points for request in point_requests]
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_request, request) for request in requests]
        counter = RunCounter(len(futures))
        try:
            rows = []
            for future in futures:
                rows.append(future.result())
                if not quiet:
                    print(f"sweep: {counter.done()}", file=sys.stderr)
        except (MigrateError, CostError) as error:
            raise UsageError(str(error)) from None
    return rows


def add_sweep_command(commands):
    """The ``sweep`` command's parser."""
    sweep = commands.add_parser(
        "sweep", help="migrate_pages() over the values of one option: which engine or "
                      "driver makes offload win",
        description="Runs `foliodma migrate` once per value of one of its options (engine "
                    "parameters, driver, folio size, workload, nodes, ...) and prints the "
                    "rows of every run in one table; --plot draws one measure against the "
                    "option, a line per mode.")
    sweep.add_argument("option", metavar="OPTION",
                       help="a migrate option that takes a value, without its dashes: e.g. "
                            "channels, data-width, engine-mhz, driver, folio-size, workload, "
                            "max-batch-pages, remote-cpus, from-node, iommu-mode")
    sweep.add_argument("values", type=comma_list, metavar="V1,V2,...",
                       help="its values, comma-separated, as the option takes them")
    add_migrate_options(sweep)
    sweep.set_defaults(func=cmd_sweep, sweepable=sweepable_options())
    sweep.add_argument("--jobs", type=positive_int, default=1,
                       help="runs in parallel, each in its own process (default %(default)s; "
                            "no progress within a run)")
    sweep.add_argument("--measure", choices=SWEEP_MEASURES, default="migrate_pages",
                       help="what --plot draws (default %(default)s)")
    sweep.add_argument("--plot", type=figure_path, metavar="FILE.svg|png",
                       help="also draw the measure against the option, a line per mode, the SD as error bars (SVG or PNG)")
    sweep.add_argument("--json", action="store_true",
                       help="print one JSON object: option, values (as typed), measure, rows "
                            "(each with the value it ran with under 'swept', as the option "
                            "parses it: 2M is 2097152)")
    sweep.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_csv_option(sweep)
    add_from_json_option(sweep)
