"""``foliodma reproduce``: every row of the seed's tables, model against measurement.
"""
import sys
import time

from sim.cli.common import resolve_backend, RunCounter, write_csv
from sim.cli.machine_options import machine_of
from sim.kernel.folios import MODES


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
