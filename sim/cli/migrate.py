"""``foliodma migrate``: the migration core over a workload, CPU against DMA.
"""
import argparse
import dataclasses
import sys

from sim.cli.common import (add_backend_option, add_output_options, check_waveform,
                            figure_path, format_table, human_size, non_negative_float,
                            non_negative_int, parse_size, plural, positive_int, Progress,
                            request_default, resolve_backend, UsageError, write_outputs)
from sim.cli.machine_options import add_engine_options, add_host_options, engine_params, machine_of
from sim.host.cache import TOUCHERS
from sim.kernel.folios import WORKLOADS
from sim.kernel.modes import (COPY_MODES, DEFAULT_FLOW, ENGINE_MODES, FLOWS, MODES, NODES,
                              THREAD_MODES)
from sim.kernel.request import MigrateRequest
from sw_driver.dcbm import STRATEGIES
from sw_driver.migrate_offload import MIGRATE_REASONS


def workload_size(text):
    """A --workload value: one of the seed's rows (4K, 2M, 256M, 1G) or any size."""
    return WORKLOADS.get(text.strip().upper().removesuffix("B").removesuffix("I"),
                         None) or parse_size(text)


def index_list(text):
    try:
        values = [int(part, 0) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of folio "
                                         f"indices") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: folio indices are >= 0")
    return values


def _pm(mean, sd, fmt):
    return f"{fmt.format(mean)} ± {fmt.format(sd)}"


def migrate_table(rows, lead=None):
    """The rows as migrate prints them; ``lead``: (header, the text of each row) of a
    first column."""
    out = []
    for index, row in enumerate(rows):
        pma = row["post_move_access_cycles_per_page"]
        integrity = row["integrity"]
        out.append({
            "lead": lead[1][index] if lead else None,
            "mode": row["mode"] + (f" ({row['driver']})" if row["driver"] else "")
            + (f" x{row['threads']}" if row.get("threads") else ""),
            "flow": row["flow"],
            "mp": _pm(row["migrate_pages_cycles_per_page"],
                      row["migrate_pages_cycles_per_page_sd"], "{:.0f}"),
            "fc": _pm(row["folio_copy_cycles_per_page"],
                      row["folio_copy_cycles_per_page_sd"], "{:.0f}"),
            "F": _pm(row["F"], row["F_sd"], "{:.4f}"),
            "gbps": f"{row['copy_gbps']:.2f}",
            "cpu": f"{row['cpu_seconds_per_gib']:.3f}",
            "pma": "n/a" if pma is None else f"{pma:.0f}",
            "batches": f"{row['simulated_batches']} + {row['extrapolated_batches']}",
            "integrity": (f"ok ({integrity['migrated']} moved, {integrity['kept_at_source']} "
                          f"kept)" if integrity["ok"] else "FAILED"),
            "wall": f"{row['wall_seconds']:.1f}",
        })
    return format_table(out, ((((lead[0], "lead", "{}"),) if lead else ()) + (
        ("mode", "mode", "{}"), ("flow", "flow", "{}"),
        ("migrate_pages cycles/page", "mp", "{}"), ("folio_copy cycles/page", "fc", "{}"),
        ("F", "F", "{}", "optional"), ("copy GB/s", "gbps", "{}"),
        ("CPU s/GiB", "cpu", "{}"),
        ("post_move_access cycles/page", "pma", "{}"),
        ("batches simulated + extrapolated", "batches", "{}"),
        ("integrity", "integrity", "{}"), ("wall s", "wall", "{}", "optional"))))


def latency_table(rows, lead=None):
    """Per row, GB/s end to end and when the first, the median and the last folio were
    usable again (their PTEs restored), µs after the call began; ``lead`` as in
    :func:`migrate_table`."""
    table = [{"lead": lead[1][index] if lead else None,
              "mode": row["mode"] + (f" ({row['driver']})" if row["driver"] else "")
              + (f" x{row['threads']}" if row.get("threads") else ""),
              "gbps": f"{row['migrate_gbps']:.2f}", "first": f"{row['first_folio_us']:,.1f}",
              "median": f"{row['median_folio_us']:,.1f}", "last": f"{row['last_folio_us']:,.1f}"}
             for index, row in enumerate(rows)]
    return ("\nwhen the folios were usable again (PTEs restored), µs after migrate_pages() "
            "began (noise-free):\n" + format_table(table, (((lead[0], "lead", "{}"),) if lead
                                                          else ()) + (
                ("mode", "mode", "{}"), ("GB/s end to end", "gbps", "{}"),
                ("first folio", "first", "{}"), ("median folio", "median", "{}"),
                ("last folio", "last", "{}"))))


#: How the migrate output names each --toucher.
TOUCHER_WORDS = {"same_core": "the migrating CPU",
                 "same_ccx": "another core of the migrating CPU's CCX",
                 "other_ccx": "a core in another CCX of the migrating CPU's socket",
                 "other_socket": "a core on the other socket",
                 "random": "a random core (the expectation over all cores)"}


def migrate_request(args, mode, machine):
    """The MigrateRequest of one mode from migrate's options, on ``machine``."""
    flow = None if mode == "cpu" else args.flow
    return MigrateRequest(
        mode=mode, workload_bytes=args.workload, folio_bytes=args.folio_size, flow=flow,
        driver=args.driver, from_node=args.from_node, to_node=args.to_node,
        max_batch_pages=args.max_batch_pages, remote_cpus=args.remote_cpus,
        mappings=args.mappings, full=args.full,
        dma_fail=tuple(args.inject_dma_fail or ()), poison=tuple(args.inject_poison or ()),
        repeat=args.repeat, seed=args.seed, backend=args.backend, latency_ns=args.latency,
        v1_double_copy=not args.v1_dma_only, idle_skip=not args.no_idle_skip,
        toucher=args.toucher, vcd=getattr(args, "vcd", None) if mode in ENGINE_MODES else None,
        threads=args.threads if mode in THREAD_MODES else 1, reason=args.reason,
        machine=machine)


def migrate_requests(args):
    """The requests of --copy's modes (default all three), each checked: UsageError
    names the first bad one before anything runs."""
    from sim.host.costs import CostError
    from sim.kernel.folios import MigrateError
    from sim.kernel.request import prepare_request
    machine = machine_of(args)
    modes = dict.fromkeys(args.copy or MODES)
    if args.threads != 1 and not set(modes) & set(THREAD_MODES):
        raise UsageError(f"--threads {args.threads}: only --copy "
                         f"{' and '.join(THREAD_MODES)} have worker threads")
    requests = [migrate_request(args, mode, machine) for mode in modes]
    for request in requests:
        try:
            prepare_request(request)
        except (MigrateError, CostError) as error:
            raise UsageError(str(error)) from None
    return requests


def run_migrate_rows(args, requests, label="migrate"):
    """One row per request, as ``foliodma migrate`` runs them (progress for the RTL)."""
    from sim.host.costs import CostError
    from sim.kernel.folios import MigrateError
    from sim.kernel.request import run_request
    rows = []
    for request in requests:
        progress = Progress(f"{label} {request.mode} {args.backend}",
                            enabled=not args.quiet and request.mode in ENGINE_MODES)
        try:
            rows.append(run_request(request, progress=progress))
        except (MigrateError, CostError) as error:
            raise UsageError(str(error)) from None
        finally:
            progress.done()
    return rows


def report_integrity(rows):
    """Name every row whose integrity check failed; the exit status."""
    failed = [row for row in rows if not row["integrity"]["ok"]]
    for row in failed:
        where = ", ".join([row["mode"]] + [f"{k}={v}" for k, v in row.get("swept", {}).items()])
        print(f"foliodma: integrity check FAILED ({where}): "
              + "; ".join(row["integrity"]["errors"]), file=sys.stderr)
    return 1 if failed else 0


def cmd_migrate(args):
    params = engine_params(args)
    modes = args.copy or MODES
    requests = migrate_requests(args)           # every request checked before a build
    engines_run = bool(set(modes) & set(ENGINE_MODES))
    if engines_run:
        args.backend = resolve_backend(args, params)
        check_waveform(args, (args.backend,))
        requests = [dataclasses.replace(request, backend=args.backend) for request in requests]
    rows = run_migrate_rows(args, requests)
    if not write_outputs(args, rows):
        row = rows[0]
        folio = human_size(row["folio_bytes"]) if row["folio_bytes"] else "mixed"
        print(f"migrate_pages(): {human_size(row['workload_bytes'])} = {row['folios']} x "
              f"{folio} folios, node {args.from_node} -> node {args.to_node}, batches of <= "
              f"{args.max_batch_pages} pages ({plural(row['batches'], 'batch')}), "
              f"{args.remote_cpus} remote CPU(s) in the TLB shootdown")
        machine = machine_of(args)
        if engines_run:
            p = params
            engines = "" if machine.engines == 1 else \
                f" of {machine.engines} engines x {p.channels} ring(s)"
            print(f"dma: dcbm {args.driver}, {machine.dcbm_channels} channel(s){engines}; "
                  f"engine {p.data_width}-bit "
                  f"at {machine.engine_mhz:g} MHz on {args.backend}; CPU {machine.cpu_ghz:g} "
                  f"GHz; IOMMU {machine.iommu.mode}"
                  + ("" if args.latency is None else
                     f"; memory latency {args.latency:g} ns flat (not per node)")
                  + ("; v1 without its extra CPU copy" if args.driver == "v1" and
                     args.v1_dma_only else ""))
        print(migrate_table(rows))
        if args.folio_latency:
            print(latency_table(rows))
        print("\nas the seed prints it (cycles per page, mean ± SD):")
        for row in rows:
            pma = row["post_move_access_cycles_per_page"]
            print(f"  {row['mode'] + (' ' + row['driver'] if row['driver'] else ''):12s} "
                  f"{human_size(row['workload_bytes'])}B:: "
                  f"migrate_pages:{row['migrate_pages_cycles_per_page']:.2f}"
                  f"±{row['migrate_pages_cycles_per_page_sd']:.2f}  "
                  f"folio_copy:{row['folio_copy_cycles_per_page']:.2f}"
                  f"±{row['folio_copy_cycles_per_page_sd']:.2f}  "
                  f"F:{row['F']:.4f}±{row['F_sd']:.4f}"
                  + ("" if pma is None else f"  post_move_access:{pma:.2f}"))
        print()
        print(f"mean ± SD over {args.repeat} runs (seeded per-run noise on each category of "
              f"simulated time; see sim/kernel/measure.py). F = copy / migrate_pages time. "
              f"CPU s/GiB: CPU-seconds per GiB moved, the migrate_pages time but the sleep "
              f"until the device's interrupt. "
              f"batches: simulated cycle-accurately + extrapolated (proven repeated).")
        if all(row["post_move_access_cycles_per_page"] is None for row in rows):
            print("post_move_access: not computed (the cache model, sim/host/cache.py, covers "
                  "pages moved to node 0, the migrating CPU's).")
        else:
            where = TOUCHER_WORDS[args.toucher]
            print(f"post_move_access: the seed's read loop over the moved pages right after "
                  f"the move, on {where} (cache model, sim/host/cache.py; LLC "
                  f"{human_size(rows[0]['llc_bytes'])}B per CCX, "
                  f"DMA writes {'allocate' if rows[0]['dma_allocates_in_llc'] else 'do not allocate'} "
                  f"in it).")
        print("integrity: checked for every simulated folio: at its destination, identical "
              "and mapped there, or intact and mapped at its source; nothing lost, nothing "
              "duplicated.")
    if args.plot:
        from sim.experiments.plot import migrate_figure, write_figure
        folios = rows[0]["folios"]
        subtitle = (f"{human_size(rows[0]['workload_bytes'])}B in {folios} "
                    f"folio{'s' * (folios != 1)}, node {args.from_node} -> {args.to_node}")
        write_figure(args.plot, migrate_figure(rows, subtitle))
        print(f"figure: {args.plot}", file=sys.stderr)
    return report_integrity(rows)


def add_migrate_options(parser):
    """The options of one migrate_pages() run (migrate and sweep share them)."""
    parser.add_argument("--workload", type=workload_size,
                        default=request_default("workload_bytes"),
                        help="total bytes: 4K, 2M, 256M, 1G (the seed's rows) or any size "
                             "(default 2M: 512 x 4 KiB)")
    parser.add_argument("--folio-size", type=parse_size, default=request_default("folio_bytes"),
                        help="bytes per folio, a power-of-two number of pages up to 2M "
                             "(default 4K)")
    parser.add_argument("--copy", choices=COPY_MODES, action="append",
                        help="mode, repeatable (default: the seed's three, cpu, batch-cpu and "
                             "dma): cpu = upstream per-folio flow; batch-cpu = batched flow, "
                             "CPU copy; dma = batched flow, dcbm on the RTL; mt-cpu = batched "
                             "flow, the copy split over --threads kernel worker threads; "
                             "dma+mt-cpu = each batch split between dcbm's channels and "
                             "--threads workers, an equal share each, copying at once on the "
                             "memory the engines share")
    parser.add_argument("--threads", type=positive_int, default=request_default("threads"),
                        help="the kernel worker threads of mt-cpu and dma+mt-cpu (default "
                             "%(default)s); they copy at the per-core rate and share the "
                             "memory path's bandwidth (with the engines, in dma+mt-cpu)")
    parser.add_argument("--flow", choices=FLOWS[1:], default=DEFAULT_FLOW["batch-cpu"],
                        help="move flow of batch-cpu and dma: the RFC's (metadata, batch copy, "
                             "restore) or v4+'s early-copy (batch copy right after the TLB "
                             "flush) (default %(default)s)")
    parser.add_argument("--driver", choices=STRATEGIES, default=request_default("driver"),
                        help="dcbm strategy for dma (default %(default)s)")
    parser.add_argument("--from-node", type=int, choices=NODES,
                        default=request_default("from_node"),
                        help="source node: 0 the migrating CPU's, 1 the other socket, 2 the "
                             "CXL tier (default %(default)s; 2 -> 0 is a promotion from CXL)")
    parser.add_argument("--to-node", type=int, choices=NODES, default=request_default("to_node"),
                        help="target node (default %(default)s: the migrating CPU's; the "
                             "source node itself: a move within the node, as compaction does)")
    parser.add_argument("--reason", choices=MIGRATE_REASONS, default=request_default("reason"),
                        help="why the pages migrate (enum migrate_reason): dcbm offloads a "
                             "batch only for the reasons of its reason_mask (platform value "
                             "dma.reason_mask, default all), the CPU copies the others "
                             "(default: %(default)s, move_pages() as the series measured)")
    parser.add_argument("--max-batch-pages", type=positive_int,
                        default=request_default("max_batch_pages"),
                        help="NR_MAX_BATCHED_MIGRATION: base pages per batch (default "
                             "%(default)s)")
    parser.add_argument("--remote-cpus", type=non_negative_int,
                        default=request_default("remote_cpus"),
                        help="other CPUs each batch's TLB shootdown interrupts (default "
                             "%(default)s: a single-threaded test program)")
    parser.add_argument("--mappings", type=positive_int, default=request_default("mappings"),
                        help="mappings of every folio (processes sharing it; default %(default)s)")
    add_backend_option(parser, note="; the dma rows' alone")
    parser.add_argument("--repeat", type=positive_int, default=request_default("repeat"),
                        help="runs for mean ± SD (default %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=request_default("seed"),
                        help="seed of the data and the per-run noise (default %(default)s)")
    parser.add_argument("--full", action="store_true",
                        help="simulate every batch (no extrapolation of repeated batches)")
    parser.add_argument("--inject-dma-fail", type=index_list, metavar="I,J,...",
                        help="folios whose DMA copy fails (source reads get SLVERR); the CPU "
                             "copies them")
    parser.add_argument("--inject-poison", type=index_list, metavar="I,J,...",
                        help="folios whose source is poisoned: DMA and CPU copy fail; they are "
                             "undone and stay at their source")
    add_engine_options(parser)
    mhost = parser.add_argument_group("host")
    add_host_options(mhost)
    mhost.add_argument("--latency", type=non_negative_float, metavar="NS",
                       help="one flat memory latency in ns for the engine instead of the "
                            "NUMA memory system's per-node latencies")
    cache = parser.add_argument_group(
        "cost to userspace (post_move_access, the cache model: sim/host/cache.py, docs/cache.md)")
    cache.add_argument("--toucher", choices=TOUCHERS, default=request_default("toucher"),
                       help="which CPU reads the pages after the move, relative to the "
                            "migrating one (default %(default)s, the seed's; random: the "
                            "expectation over all cores)")
    cache.add_argument("--dma-allocates-in-llc", action="store_true",
                       help="DMA writes allocate in the LLC (Intel DDIO-like; Zen 3: no)")
    cache.add_argument("--llc-size", type=parse_size, metavar="BYTES",
                       help="LLC per CCX, e.g. 32M (default: the seed's Zen 3, 32M); also "
                            "decides which copy sources are still cached")


def add_migrate_command(commands):
    """The ``migrate`` command's parser."""
    mig = commands.add_parser(
        "migrate", help="migrate_pages() of a workload: CPU (upstream) vs CPU (batched) vs DMA",
        description="Runs the migration core (unmap, batched TLB flush, move; per-folio CPU "
                    "fallback and undo) over a folio list from one node to another, with the "
                    "CPU copy of the upstream and batched flows and the DMA copy through the "
                    "dcbm driver on the engine RTL, and prints the seed's measures: "
                    "migrate_pages and folio_copy cycles per page, F, copy GB/s; and CPU "
                    "s/GiB, the CPU-seconds the migration occupies per GiB moved: all the "
                    "migrating CPU does (the core's work, the driver's operations and MMIO, "
                    "CPU copies, busy-polling, interrupt delivery and handling) but not its "
                    "sleep in wait_for_completion until the device's interrupt. Every run "
                    "ends with an integrity check of every simulated folio.")
    add_migrate_options(mig)
    mig.add_argument("--plot", type=figure_path, metavar="FILE.svg|png",
                     help="also draw where the time goes: migrate_pages and folio_copy "
                          "cycles per page of each mode, stacked by category (SVG or PNG by the extension)")
    mig.add_argument("--folio-latency", action="store_true",
                     help="also print when the folios were usable again (their PTEs "
                          "restored): the first, the median and the last folio, µs after "
                          "migrate_pages() began (always in --json and --csv: first_folio_us, "
                          "median_folio_us, last_folio_us)")
    add_output_options(mig, json_help="print one JSON object with a 'rows' list",
                       vcd_help="waveform of the dma run on model time: one cycle per "
                                "period of --engine-mhz, idle spans included; the format by "
                                "the extension: .vcd, or .fst on icarus")
    mig.set_defaults(func=cmd_migrate)
