"""``foliodma explore``: which engine and which driver make offload win, at what area,
clock and CPU time, over a design space, on Dask.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from sim.backends import BACKEND_CHOICES
from sim.cli.common import (UsageError, comma_list, format_table, human_size, json_document,
                            non_negative_int, output_path, positive_int, write_csv)
from sim.cli.hardware import output_dir

def _suffixed(*suffixes):
    def parse(text):
        path = output_path(text)
        if path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"{text!r}: give a path ending in "
                                             f"{' or '.join(suffixes)}")
        return path
    return parse


def add_explore_command(commands):
    """The ``explore`` command."""
    explore = commands.add_parser(
        "explore", help="co-design at scale: which engine and driver beat the CPU copy, at "
                        "what area, clock and CPU time",
        description="Evaluates every point of a design space (engine build parameters, "
                    "device shape and clock, driver and channels, platform) on every "
                    "workload of the space: migrate_pages() with the DMA copy on the "
                    "compiled back-end, with its integrity check, beside the CPU copy on "
                    "the same machine; the CPU time each consumes per GiB; the engine's "
                    "ECP5 area and, with place and route, its Fmax (cached per engine). "
                    "Prints, per workload (and platform when it varies): the crossover "
                    "(the smallest device that beats the CPU copy, its margin and what "
                    "limits it), the Pareto front over the objectives, and which "
                    "parameter matters. Points run on Dask: a local cluster of one "
                    "worker process per core, or --scheduler's. Results are cached by "
                    "everything they depend on: a re-run, or a run after Ctrl-C, computes "
                    "only what is missing. Space files: sim/spaces/*.toml (see "
                    "sim/explore/space.py); built-in: crossover, quick.")
    explore.add_argument("space", metavar="SPACE",
                         help="space file (TOML) or a built-in space's name")
    how = explore.add_argument_group("search")
    how.add_argument("--search", choices=("grid", "nsga2"),
                     help="every combination (grid), or a budgeted multi-objective search "
                          "(Optuna's NSGA-II; needs --budget) (default: the space's)")
    how.add_argument("--budget", type=positive_int,
                     help="evaluations the search may spend (points, cheap stage)")
    how.add_argument("--screen", action="store_true",
                     help="grid: cheap evaluations first (synthesis area, the workloads' "
                          "screen_size where it is shown to agree), the expensive ones only "
                          "near the front")
    how.add_argument("--objectives", type=comma_list, metavar="KEY[:max|min],...",
                     help="what the front is drawn over, e.g. dma_gbps:max,device_luts:min "
                          "or dma_gbps,dma_cpu_s_per_gib (default: the space's)")
    where = explore.add_argument_group("where it runs")
    where.add_argument("--workers", type=non_negative_int,
                       help="worker processes of the local Dask cluster (default: one per "
                            "core); 0 runs every evaluation in this process")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run on an existing Dask cluster (dask scheduler / dask worker, "
                            "or dask-jobqueue); its workers need this project installed")
    where.add_argument("--backend", choices=BACKEND_CHOICES,
                       help="simulator of the engine RTL (default: the space's, else auto)")
    where.add_argument("--cache-dir", type=output_dir, metavar="DIR",
                       help="where results are cached (default ~/.cache/foliodma/explore, or "
                            "$FOLIODMA_CACHE_DIR/explore)")
    out = explore.add_argument_group("output")
    out.add_argument("--json", action="store_true",
                     help="print one JSON object: the answers and every row")
    out.add_argument("--csv", type=_suffixed(".csv"), metavar="FILE.csv",
                     help="also write every row as CSV")
    out.add_argument("--parquet", type=_suffixed(".parquet"), metavar="FILE.parquet",
                     help="also write every row as Parquet")
    out.add_argument("--html", type=_suffixed(".html"), metavar="FILE.html",
                     help="also write a self-contained HTML report: hover over a point to "
                          "see its configuration and figures")
    out.add_argument("--plot", type=_suffixed(".svg", ".png"), metavar="FILE.svg|png",
                     help="also draw the fronts (SVG or PNG)")
    out.add_argument("--points", type=output_dir, metavar="DIR",
                     help="also write, per point and workload, a `foliodma migrate --json` "
                          "document: `foliodma migrate --from-json DIR/FILE` re-runs it "
                          "alone, CPU copy and DMA")
    out.add_argument("--rows", action="store_true", help="also print every row")
    out.add_argument("--quiet", action="store_true", help="no progress on stderr")
    explore.set_defaults(func=cmd_explore)
    return explore


def cmd_explore(args):
    from sim.explore import configured, explore, resolved_backend
    from sim.explore.pool import PoolError
    from sim.explore.report import text_report
    from sim.explore.space import SpaceError
    started = time.perf_counter()
    say = (lambda text: None) if args.quiet else \
        (lambda text: print(f"explore: {text}", file=sys.stderr, flush=True))
    try:
        space = configured(args.space, method=args.search, budget=args.budget,
                           screen=True if args.screen else None, backend=args.backend)
        space.objectives(args.objectives)
        backend, why = resolved_backend(space)
        if why and not args.quiet:
            print(f"foliodma: running on pysim: the compiled back-end is not available here "
                  f"({why})", file=sys.stderr)
        space = configured(space, backend=backend)
        from sim.explore.cache import default_cache_dir
        say(f"{_describe(space)}; results cached in {args.cache_dir or default_cache_dir()}")
        answers = explore(space, workers=args.workers, scheduler=args.scheduler,
                          cache_dir=args.cache_dir, objectives=args.objectives,
                          progress=not args.quiet,
                          announce=lambda text: say(f"evaluating on {text}"))
    except (SpaceError, PoolError) as error:
        raise UsageError(str(error)) from None
    except KeyboardInterrupt:
        print("foliodma explore: interrupted; every evaluation that finished is cached: run "
              "the same command again to resume", file=sys.stderr)
        raise
    exploration = answers.exploration
    exploration.info["wall_seconds"] = time.perf_counter() - started
    _write_outputs(args, answers, answers.explorer)
    if args.json:
        print(json.dumps(answers.as_dict(), indent=2, default=str))
    else:
        print(f"explore {space.name} ({space.source}): {_describe(space)}")
        print(_workloads(space))
        print()
        print(text_report(answers, format_table))
        if args.rows:
            print(format_table(_row_table(answers), ROW_COLUMNS))
            print()
        print(_summary(exploration))
    failed = [row for row in exploration.rows if row["status"] != "ok"]
    for row in failed:
        print(f"foliodma explore: point {row['point']} on {row['workload']} FAILED: "
              f"{row['error']}", file=sys.stderr)
    broken = [row for row in exploration.rows if row.get("integrity") == "FAILED"]
    for row in broken:
        print(f"foliodma explore: integrity check FAILED: {row['point']} on "
              f"{row['workload']}", file=sys.stderr)
    return 1 if failed or broken else 0


def _describe(space):
    shape = " x ".join(f"{len(space.axes[a])} {a}" for a in space.varied) or "1"
    method = space.search.method + (f" (budget {space.search.budget})"
                                    if space.search.method == "nsga2" else "") \
        + (", screened" if space.search.screen and space.search.method == "grid" else "")
    return (f"{space.size} points ({shape}), {len(space.workloads)} workload(s), {method}, "
            f"engines simulated on {space.backend}")


def _workloads(space):
    lines = []
    for w in space.workloads:
        lines.append(f"  workload {w.label}: {human_size(w.size)}B of {human_size(w.folio_bytes)}B "
                     f"folios, node {w.from_node} -> {w.to_node}, batches of <= "
                     f"{w.max_batch_pages} pages"
                     + (f", screened at {human_size(w.screen_size)}B" if w.screen_size else ""))
    return "\n".join(lines)


ROW_COLUMNS = (("configuration", "config", "{}"), ("workload", "workload", "{}"),
               ("MHz", "mhz", "{}"), ("DMA GB/s", "dma", "{}"), ("CPU GB/s", "cpu", "{}"),
               ("vs CPU", "speedup", "{}"), ("LUTs", "luts", "{}"), ("Fmax", "fmax", "{}"),
               ("front", "front", "{}"), ("what limits it", "limiter", "{}"),
               ("stage", "stage", "{}", "optional"))


def _row_table(answers):
    out = []
    for _, row in answers.frame.iterrows():
        ok = row["status"] == "ok"
        out.append({"config": answers.configuration(row), "workload": row["workload"],
                    "mhz": f"{row['engine_mhz']:.1f}",
                    "dma": f"{row['dma_gbps']:.2f}" if ok else "FAILED",
                    "cpu": f"{row['cpu_gbps']:.2f}" if ok else "-",
                    "speedup": f"x{row['speedup']:.2f}" if ok else "-",
                    "luts": f"{int(row['device_luts']):,}" if ok and row.get("device_luts") ==
                    row.get("device_luts") and row.get("device_luts") is not None else "-",
                    "fmax": f"{row['fmax_mhz']:.1f}" if ok and row.get("fmax_mhz") ==
                    row.get("fmax_mhz") and row.get("fmax_mhz") is not None else "-",
                    "front": "*" if row["on_front"] else "",
                    "limiter": row["limiter"] if ok else row["error"], "stage": row["stage"]})
    return out


def _summary(exploration):
    info = exploration.info
    computed = sum(info["evaluations"].values())
    hits = sum(info["cache_hits"].values())
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(info["evaluations"].items()))
    points = len({row["point"] for row in exploration.rows})
    text = (f"{len(exploration.rows)} rows ({points} points x "
            f"{len(exploration.space.workloads)} workload(s)); evaluations: {computed} "
            f"computed" + (f" ({kinds})" if kinds else "") + f", {hits} from the cache"
            f"; {info['failed_rows']} failed; wall {info['wall_seconds']:.1f} s")
    if info.get("invalid"):
        text += f"\n{info['invalid']} invalid combination(s) left out (search.skip_invalid)"
    for entry in info.get("agreement", []):
        text += (f"\nscreen size {human_size(entry['screen_size'])}B of {entry['workload']}: "
                 f"{'agrees' if entry['agrees'] else 'does NOT agree'} with the full size on "
                 f"{entry['points']} points (largest difference "
                 f"{entry['largest_difference']:.1%}, {entry['verdicts_flipped']} verdicts "
                 f"flipped)" + ("" if entry["agrees"] else ": not used"))
    if "fully_evaluated" in info and info.get("screened"):
        text += (f"\nscreened {info['screened']} points, evaluated "
                 f"{info['fully_evaluated']} near the front fully")
    return text


def _write_outputs(args, answers, explorer):
    rows = answers.as_dict()["rows"]
    if args.csv:
        write_csv(args.csv, rows)
    if args.parquet:
        write_parquet(args.parquet, rows)
    if args.html:
        from sim.explore.report import html_report
        html_report(answers, args.html)
        print(f"report: {args.html}", file=sys.stderr)
    if args.plot:
        from sim.experiments.plot import write_figure
        from sim.explore.report import figure
        write_figure(args.plot, figure(answers))
        print(f"figure: {args.plot}", file=sys.stderr)
    if args.points:
        _write_points(args.points, explorer, answers.exploration.rows)


def write_parquet(path, rows):
    """The rows as Parquet, nested figures as dotted columns; a column whose values are
    of several types (an axis of numbers and "fmax") is written as text."""
    import pandas
    frame = pandas.json_normalize(rows)
    for column in frame.columns[frame.dtypes == object]:
        kinds = {type(v) for v in frame[column] if v is not None and v == v}
        if len(kinds) > 1:
            frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    frame.to_parquet(path)


def _write_points(directory, explorer, rows):
    """A `foliodma migrate --json` document per ok row: the CPU copy and the DMA run."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index, row in enumerate(rows):
        if row["status"] != "ok":
            continue
        request = explorer.requests[row["dma_key"]]
        results = [explorer.results[row["cpu_key"]], explorer.results[row["dma_key"]]]
        path = directory / f"point-{index:04d}.json"
        path.write_text(json.dumps(migrate_document(request, results), indent=2, default=str))
        written.append(path)
    if written:
        print(f"points: {len(written)} migrate documents in {directory}; one re-runs alone "
              f"with: foliodma migrate --from-json {written[0]}", file=sys.stderr)


def migrate_document(request, rows):
    """The `foliodma migrate --json` document of a DMA request and its CPU baseline: its
    settings and machine, so that `foliodma migrate --from-json` runs both again."""
    from sim.cli.migrate import add_migrate_options
    parser = argparse.ArgumentParser(add_help=False)
    add_migrate_options(parser)
    args = parser.parse_args([
        "--workload", str(request.workload_bytes), "--folio-size", str(request.folio_bytes),
        "--copy", "cpu", "--copy", "dma", "--driver", request.driver,
        "--from-node", str(request.from_node), "--to-node", str(request.to_node),
        "--max-batch-pages", str(request.max_batch_pages), "--repeat", str(request.repeat),
        "--seed", str(request.seed), "--backend", request.backend])
    args.command = "migrate"
    args.recorded_machine = request.machine.as_dict()
    return json_document(args, rows)
