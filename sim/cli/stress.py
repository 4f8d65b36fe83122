"""``foliodma stress``: a randomized campaign of migrations under faults (sim/experiments/stress.py).
"""
import argparse
import json
import sys
from pathlib import Path

from sim.cli.common import (add_backend_option, UsageError, comma_list, format_table,
                            non_negative_int, positive_float, positive_int, resolve_backend)


def _kinds(text):
    from sim.experiments.stress import FAULT_KINDS
    kinds = comma_list(text)
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown)}: not a fault kind (expected "
                                         f"some of {', '.join(FAULT_KINDS)})")
    return list(dict.fromkeys(kinds))


def add_stress_command(commands):
    """The ``stress`` command."""
    from sim.experiments.stress import FAULT_KINDS
    stress = commands.add_parser(
        "stress", help="migrations under random faults: nothing lost, no stray write, no "
                       "protocol violation, no hang",
        description="Runs random small migrations (dcbm v1/v2/v3, one or two engines of one "
                    "or two rings) on the seed's machine with random faults: errors and "
                    "late responses on random bursts, a failing completion record write, "
                    "lost and doubled interrupts, a rogue abort or reset of a channel, a DMA "
                    "mapping revoked under the transfers, a poisoned source folio. Every "
                    "batch is simulated and checked: every folio intact at its destination "
                    "or its source, no byte written outside the descriptors' destinations "
                    "and records, the AXI protocol kept, every run ended, dcbm's counters "
                    "counting each folio once. Prints the tally; a failing case is shrunk "
                    "to the shortest that still fails, and its seed and case are printed "
                    "(--case replays one). A 10-minute campaign is `make stress`.")
    until = stress.add_mutually_exclusive_group()
    until.add_argument("--seconds", type=positive_float,
                       help="run cases until this much wall time has passed")
    until.add_argument("--iterations", type=positive_int,
                       help="run this many cases (default 20 without --seconds)")
    stress.add_argument("--seed", type=non_negative_int, default=0,
                        help="campaign seed: the same seed runs the same cases (default 0)")
    stress.add_argument("--faults", type=_kinds, default=list(FAULT_KINDS),
                        help=f"comma-separated fault kinds (default all: "
                             f"{','.join(FAULT_KINDS)})")
    add_backend_option(stress, note="; icarus runs one engine")
    stress.add_argument("--case", type=Path, metavar="CASE.json",
                        help="run one case (a failure's shortest_case, as --json prints it) "
                             "and print its outcome")
    stress.add_argument("--json", action="store_true",
                        help="print the tally as one JSON object (transactions, "
                             "faults_injected, bytes_lost, stray_writes, protocol_violations, "
                             "hangs, ...)")
    stress.add_argument("--quiet", action="store_true", help="no progress on stderr")
    stress.set_defaults(func=cmd_stress)
    return stress


def cmd_stress(args):
    from hw.params import EngineParams
    from sim.experiments.stress import MUST_BE_ZERO, Case, campaign, failed, run_case
    if args.case is not None:
        return _replay(args, Case, run_case, failed)
    args.backend = resolve_backend(args, EngineParams())
    iterations = args.iterations or (None if args.seconds else 20)

    def progress(line, elapsed):
        print(f"stress: {line}; {elapsed:.0f} s", file=sys.stderr)
    result = campaign(backend=args.backend, kinds=args.faults, seed=args.seed,
                      iterations=iterations, seconds=args.seconds,
                      progress=None if args.quiet else progress)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report_table(result))
    return 1 if any(result[key] for key in MUST_BE_ZERO) else 0


def report_table(result):
    """The tally as ``foliodma stress`` prints it."""
    from sim.experiments.stress import MUST_BE_ZERO
    rows = [("cases", result["cases"]), ("transactions (descriptors)", result["transactions"]),
            ("bytes moved", result["bytes"])]
    rows += [(f"faults injected: {kind}", count)
             for kind, count in result["faults_injected"].items()]
    rows += [(name.replace("_", " "), result[name]) for name in (
        "errors_reported", "timeouts", "recoveries", "io_page_faults", "folios_migrated",
        "folios_fallen_back", "folios_undone")]
    rows += [(f"{name.replace('_', ' ')} (must be 0)", result[name]) for name in MUST_BE_ZERO]
    lines = [f"stress: {result['cases']} cases in {result['wall_seconds']:.0f} s on "
             f"{result['backend']}, seed {result['seed']}, faults: {', '.join(result['kinds'])}",
             format_table([{"what": what, "count": f"{count:,}"} for what, count in rows],
                          (("what", "what", "{}"), ("count", "count", "{}")))]
    for failure in result["failures"]:
        lines.append(f"FAILED: seed {failure['seed']}: {failure['why']}; shortest case: "
                     f"{json.dumps(failure['shortest_case'])}")
    return "\n".join(lines)


def _replay(args, case_class, run_case, failed):
    try:
        text = args.case.read_text()
        case = case_class.from_json(text)
    except OSError as error:
        raise UsageError(f"--case {args.case}: {error.strerror}") from None
    except (ValueError, TypeError) as error:
        raise UsageError(f"--case {args.case}: not a stress case ({error})") from None
    outcome = run_case(case)
    why = failed(outcome)
    shown = {key: value for key, value in outcome.items() if key != "case"}
    print(json.dumps(shown, indent=2, default=str) if args.json else
          f"case (seed {case.seed}, {case.backend}): {why or 'ok'}\n"
          + json.dumps(shown.get("report", shown.get("error")), indent=2, default=str))
    return 1 if why else 0
