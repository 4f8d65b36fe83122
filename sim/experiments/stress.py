"""``foliodma stress``: a randomized campaign of migrations under faults, and its tally.

Each case is a small migration (random folio sizes, dcbm v1, v2 or v3, one or two
engines of one or two rings, short rings) on the seed's machine with random faults
of the chosen kinds (:data:`FAULT_KINDS`): bus faults (:mod:`sim.memsys.bus_faults`:
errors and late responses on random bursts), a failing completion record write (an
error region over one record slot), and host faults (:mod:`sim.host.host_faults`: a lost or
doubled interrupt, a rogue CTRL.abort or CTRL.reset of a channel, a DMA mapping
revoked under the transfers), and poisoned source folios (the DMA's read fails and
so does the CPU's copy, which machine-checks: the migration undoes the folio). Every
batch is simulated (no extrapolation) with the checks of :mod:`sim.kernel.checks` and
the migration core's integrity check; the driver's timeouts are short, so that a late
response outlives them.

What must hold: no byte lost (every folio at its destination or at its source,
intact), no byte the engines wrote outside their descriptors' destinations and
records, no AXI protocol violation, no hang (a run that does not end, or a driver
that gives up), and dcbm's counters (folios_migrated + folios_failures) counting each
folio it was given once. A case that breaks one is shrunk: its faults and folios removed one
by one while it still fails, to the shortest case that reproduces it.
"""
import dataclasses
import gc
import json
import time
from dataclasses import dataclass, field

import numpy as np

from hw.descriptor import DESC_BYTES, RECORD_BYTES
from sim.memsys.address_map import COHERENT
from sim.memsys.iommu import PAGE_BYTES
from sim.memsys.bus_faults import BusFaults

FAULT_KINDS = ("bus_error", "bus_delay", "record_error", "irq_lost", "irq_twice", "abort",
               "reset", "revoke", "poison")
#: The driver's timeouts in a campaign: dcbm's wait, and an aborted channel's drain.
DCBM_TIMEOUT_NS = 50_000
CHANNEL_TIMEOUT_NS = 10_000_000
#: A late response: well past dcbm's timeout, so that the driver must recover.
DELAY_CYCLES = 150_000
#: Rings in a campaign: short, so that they wrap and fill.
RING_ENTRIES = 16
#: What the tally counts that must stay zero.
MUST_BE_ZERO = ("bytes_lost", "stray_writes", "protocol_violations", "hangs")


@dataclass(frozen=True)
class Case:
    """One run of a campaign: everything it needs, as plain data (JSON)."""
    seed: int
    backend: str
    driver: str
    engines: int
    channels: int
    sizes: list
    max_batch_pages: int
    bus_faults: list = field(default_factory=list)
    host_faults: list = field(default_factory=list)
    record_errors: list = field(default_factory=list)
    poison: list = field(default_factory=list)
    dcbm_timeout_ns: float = DCBM_TIMEOUT_NS
    channel_timeout_ns: float = CHANNEL_TIMEOUT_NS

    def to_json(self):
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))

    @property
    def faults(self):
        """How many faults the case holds."""
        return (sum(len(f["reads"]) + len(f["writes"]) for f in self.bus_faults)
                + len(self.host_faults) + len(self.record_errors) + len(self.poison))


def _record_slots(engines, channels):
    """(start, end) of each channel's completion records, as the driver allocates its
    coherent memory (sw_driver/foliodma.py): per engine, per channel, a ring of
    RING_ENTRIES descriptors then its records, each on whole pages of its own
    (sim.host.port.HostPort.alloc_coherent)."""
    pages = lambda nbytes: -(-nbytes // PAGE_BYTES) * PAGE_BYTES   # noqa: E731
    at, slots = COHERENT[0], []
    for _ in range(engines * channels):
        at += pages(RING_ENTRIES * DESC_BYTES)
        slots.append((at, at + RING_ENTRIES * RECORD_BYTES))
        at += pages(RING_ENTRIES * RECORD_BYTES)
    return slots


def make_case(rng, backend, kinds, seed):
    """A random case of the ``kinds`` of faults (each present with probability 1/2)."""
    from hw.regmap import load_regmap
    from sim.backends.base import ENGINE_WINDOW_BYTES
    engines = 1 if backend == "icarus" else int(rng.integers(1, 3))
    channels = int(rng.integers(1, 3))
    sizes = [int(4096 << rng.integers(0, 5)) for _ in range(int(rng.integers(6, 24)))]
    span_ns = 600.0 * sum(sizes) // 4096 + 20_000     # roughly the run's length
    chosen = [kind for kind in kinds if rng.random() < 0.5] or [kinds[rng.integers(len(kinds))]]
    bus = [BusFaults.random(rng, bursts=300,
                            errors=0.02 if "bus_error" in chosen else 0.0,
                            delays=0.006 if "bus_delay" in chosen else 0.0,
                            delay_cycles=DELAY_CYCLES).to_config() for _ in range(engines)]
    host, regmap = [], load_regmap()
    for kind in chosen:
        at = float(rng.uniform(0, span_ns))
        if kind in ("irq_lost", "irq_twice"):
            host.append({"at_ns": at, "kind": kind})
        elif kind in ("abort", "reset"):
            engine, chan = int(rng.integers(engines)), int(rng.integers(channels))
            ctrl = regmap.register(f"chan[{chan}].ctrl")
            host.append({"at_ns": at, "kind": "mmio", "value": ctrl.fields[kind].insert(0, 1),
                         "offset": engine * ENGINE_WINDOW_BYTES + ctrl.address})
        elif kind == "revoke":
            host.append({"at_ns": at, "kind": "revoke", "pick": float(rng.random()),
                         "duration_ns": float(rng.uniform(1_000, 20_000))})
    records = []
    if "record_error" in chosen:
        # One of the first slots of a channel: those every batch uses.
        start, _ = _record_slots(engines, channels)[int(rng.integers(engines * channels))]
        slot = start + RECORD_BYTES * int(rng.integers(4))
        records.append([slot, slot + RECORD_BYTES])
    poison = sorted({int(rng.integers(len(sizes))) for _ in range(int(rng.integers(1, 3)))}) \
        if "poison" in chosen else []
    return Case(seed=seed, backend=backend, driver=str(rng.choice(["v1", "v2", "v3"])),
                engines=engines, channels=channels, sizes=sizes,
                max_batch_pages=int(rng.choice([8, 16, 64])), bus_faults=bus,
                host_faults=host, record_errors=records, poison=poison)


def run_case(case):
    """Run one case; its outcome: what happened, and the figures that must be zero."""
    from sim.kernel.checks import FaultedRun
    from sim.kernel.scenario import run_dma
    from sim.machine import DEFAULT_MACHINE
    machine = DEFAULT_MACHINE.with_values({"dma.engines": case.engines,
                                           "dma.channels": case.channels,
                                           "dma.ring_entries": RING_ENTRIES})
    spec = {"mode": "dma", "sizes": list(case.sizes), "workload_bytes": sum(case.sizes),
            "max_batch_pages": case.max_batch_pages, "full": True, "seed": case.seed,
            "poison": list(case.poison)}
    faulted = FaultedRun(host_faults=list(case.host_faults),
                         dcbm_timeout_ns=case.dcbm_timeout_ns,
                         channel_timeout_ns=case.channel_timeout_ns,
                         write_error_regions=[list(r) for r in case.record_errors])
    started = time.perf_counter()
    out = {"case": case, "bytes": sum(case.sizes), "folios": len(case.sizes),
           "poisoned": len(case.poison)}
    try:
        raw = run_dma(spec, machine, backend=case.backend, driver=case.driver,
                      faulted=faulted, bus_faults=case.bus_faults,
                      error_regions=[[s, e, "write", "SLVERR"] for s, e in case.record_errors])
    except Exception as error:          # the run did not end well: a hang or a crash
        out.update(hang=True, error=f"{type(error).__name__}: {error}",
                   wall_seconds=time.perf_counter() - started)
        return out
    finally:
        # A run leaves its memory buffers in reference cycles (the device, the scenario's
        # coroutines) that, after the compiled back-end's frozen heap, only a full
        # collection frees, and one rarely comes: a campaign of thousands of cases grew
        # ~29 MB a case. Collect after each (tens of ms here; not in the back-end, where
        # a test process's large heap makes it cost most of a second).
        gc.collect()
    report, integrity = raw["faulted"], raw["integrity"]
    out.update(hang=False, error=None, wall_seconds=time.perf_counter() - started,
               report=report, integrity=integrity,
               migrated=integrity["migrated"], kept=integrity["kept_at_source"],
               dma_copied=raw["dma_copied_folios"], dma_failed=raw["dma_failed_folios"],
               bytes_lost=integrity["bytes_lost"], stray_writes=report["stray_bytes"],
               protocol_violations=report["protocol_violations"])
    return out


def failed(outcome):
    """What the outcome breaks, as a short string, or None."""
    if outcome["hang"]:
        return f"hang: {outcome['error']}"
    for key in MUST_BE_ZERO[:3]:
        if outcome[key]:
            return f"{key} {outcome[key]}"
    if not outcome["integrity"]["ok"]:
        return "integrity: " + "; ".join(outcome["integrity"]["errors"][:2])
    counted, offered = outcome["dma_copied"] + outcome["dma_failed"], offered_folios(
        outcome["case"])
    if counted != offered:
        return (f"counters: dcbm counted {counted} folios migrated or failed, "
                f"of {offered} it was given")
    return None


def offered_folios(case):
    """How many folios dcbm must count (folios_migrated + folios_failures): every folio
    of the case, each once; v1 refuses folios bigger than a page and counts none of them."""
    if case.driver == "v1":
        return sum(size <= PAGE_BYTES for size in case.sizes)
    return len(case.sizes)


def shrink(case, why, run=run_case, attempts=24):
    """The shortest case found that still fails the same way (``why``'s first word),
    removing one fault or half the folios at a time."""
    kind = why.split()[0]

    def still(candidate):
        reason = failed(run(candidate))
        return reason is not None and reason.split()[0] == kind

    def smaller(c):
        for i in range(len(c.host_faults)):
            yield dataclasses.replace(c, host_faults=c.host_faults[:i] + c.host_faults[i + 1:])
        for i in range(len(c.record_errors)):
            yield dataclasses.replace(c, record_errors=c.record_errors[:i]
                                      + c.record_errors[i + 1:])
        for i in range(len(c.poison)):
            yield dataclasses.replace(c, poison=c.poison[:i] + c.poison[i + 1:])
        for e, faults in enumerate(c.bus_faults):
            for direction in ("reads", "writes"):
                for index in list(faults[direction]):
                    trimmed = {**faults, direction: {k: v for k, v in faults[direction].items()
                                                     if k != index}}
                    yield dataclasses.replace(c, bus_faults=c.bus_faults[:e] + [trimmed]
                                              + c.bus_faults[e + 1:])
        if len(c.sizes) > 1:
            half = len(c.sizes) // 2
            yield dataclasses.replace(c, sizes=c.sizes[:half],
                                      poison=[i for i in c.poison if i < half])
    for _ in range(attempts):
        for candidate in smaller(case):
            attempts -= 1
            if still(candidate):
                case = candidate
                break
            if attempts <= 0:
                return case
        else:
            return case
    return case


class Tally:
    """The campaign's figures, case by case."""

    def __init__(self):
        self.cases = self.transactions = self.bytes = 0
        self.faults_injected = {}
        self.counts = dict.fromkeys(("errors_reported", "timeouts", "recoveries",
                                     "folios_migrated", "folios_fallen_back",
                                     "folios_undone", "io_page_faults"), 0)
        self.zero = dict.fromkeys(MUST_BE_ZERO, 0)
        self.failures = []

    def add(self, outcome):
        self.cases += 1
        self.bytes += outcome["bytes"]
        if outcome["hang"]:
            self.zero["hangs"] += 1
            return
        report = outcome["report"]
        self.transactions += report["descriptors"]
        for group in ("bus_faults_injected", "faults_fired"):
            for kind, count in report[group].items():
                name = {"bus_read_error": "bus_error", "bus_write_error": "bus_error",
                        "bus_read_delay": "bus_delay", "bus_write_delay": "bus_delay",
                        "mmio": "abort/reset"}.get(kind, kind)
                self.faults_injected[name] = self.faults_injected.get(name, 0) + count
        for kind, count in (("record_error", report["record_error_writes"]),
                            ("poison", outcome["poisoned"])):
            if count:
                self.faults_injected[kind] = self.faults_injected.get(kind, 0) + count
        self.counts["errors_reported"] += report["errors_reported"]
        self.counts["timeouts"] += report["timeouts"]
        self.counts["recoveries"] += report["channel_resets"]
        self.counts["io_page_faults"] += report["io_page_faults"]
        self.counts["folios_migrated"] += outcome["migrated"]
        self.counts["folios_fallen_back"] += outcome["dma_failed"]
        self.counts["folios_undone"] += outcome["kept"]
        for key in MUST_BE_ZERO[:3]:
            self.zero[key] += outcome[key]

    def as_dict(self):
        return {"cases": self.cases, "transactions": self.transactions, "bytes": self.bytes,
                "faults_injected": dict(sorted(self.faults_injected.items())),
                **self.counts, **self.zero, "failures": self.failures}


def campaign(*, backend, kinds=FAULT_KINDS, seed=0, iterations=None, seconds=None,
             progress=None):
    """Run cases until ``iterations`` or ``seconds`` (whichever is given); the tally as
    a dict. ``progress(line)`` after each case."""
    tally, started = Tally(), time.perf_counter()
    master = np.random.default_rng(seed)
    while True:
        done = tally.cases
        if iterations is not None and done >= iterations:
            break
        if seconds is not None and time.perf_counter() - started >= seconds:
            break
        case_seed = int(master.integers(1 << 31))
        case = make_case(np.random.default_rng(case_seed), backend, kinds, case_seed)
        outcome = run_case(case)
        tally.add(outcome)
        why = failed(outcome)
        if why:
            smallest = shrink(case, why)
            tally.failures.append({"seed": case_seed, "why": why,
                                   "shortest_case": json.loads(smallest.to_json())})
        if progress:
            progress(f"case {done + 1} (seed {case_seed}): {case.driver}, {case.engines} "
                     f"engine(s), {len(case.sizes)} folios, {case.faults} fault(s): "
                     f"{why or 'ok'}", time.perf_counter() - started)
    result = tally.as_dict()
    result.update(seed=seed, backend=backend, kinds=list(kinds),
                  wall_seconds=time.perf_counter() - started)
    return result
