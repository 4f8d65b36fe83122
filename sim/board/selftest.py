"""The board's self-test: the real driver stack moves a batch of pages on the board
and every byte is checked.

Over a :class:`~sim.board.port.BoardPort`, :class:`SelfTest` probes the engine with
the provider driver (``sw_driver.foliodma``), registers dcbm v3 with the migration
core's offload (one channel) and copies the batch as the migration core does
(``migrate_folios_content``: the offload, then the CPU's copy for a page it did not
copy). The sources are random bytes; each destination starts as the complement of
its source, and a guard page lies before and after the destinations. After the
copy every destination byte must equal its source, every page must have been
copied by the engine, and the guards and the sources must be unchanged. The copy's
GB/s comes from the engine's own counters: the bytes it copied over the cycles its
channel was busy, at the board's clock (PING). The same program runs on a board
(``foliodma board run --port``) and on the simulated board (``--simulated``).
"""
import random
import time
from dataclasses import dataclass, field

from hw.counters import COUNTERS
from sim.experiments.engine_io import EngineIO
from sw_driver.dcbm import Dcbm
from sw_driver.folio import PAGE_SIZE, Folio
from sw_driver.foliodma import foliodma_probe, foliodma_remove
from sw_driver.migrate_offload import migrate_folios_content

#: Descriptors in the driver's ring on the board.
RING_ENTRIES = 16
#: A reset or abort over the serial line takes milliseconds, not the driver's default.
CHANNEL_TIMEOUT_NS = 1_000_000_000
GUARD_BYTE = 0xA5
#: Mismatches listed in a failure report.
MAX_LISTED = 8


@dataclass
class CheckResult:
    """What the byte check found: per region, the offsets of bytes that differ."""
    checked: dict = field(default_factory=dict)       # region -> bytes checked
    mismatches: list = field(default_factory=list)    # (region, address, expected, got)
    not_offloaded: list = field(default_factory=list)  # pages the engine did not copy

    @property
    def ok(self):
        return not self.mismatches and not self.not_offloaded


def _compare(region, base, expected, got, result):
    result.checked[region] = result.checked.get(region, 0) + len(expected)
    if expected != got:
        for k, (a, b) in enumerate(zip(expected, got)):
            if a != b:
                result.mismatches.append((region, base + k, a, b))


class SelfTest:
    """One self-test of ``pages`` 4 KiB pages over ``port`` (a BoardPort); ``seed``
    makes the data."""

    def __init__(self, port, pages, seed=0):
        if pages < 1:
            raise ValueError(f"pages={pages}: expected at least 1")
        self.port = port
        self.link = port.link
        self.pages = pages
        self.rng = random.Random(seed)
        self.dev = None
        self.offloaded = []
        self.wall_s = 0.0

    def prepare(self):
        """Lay out and fill the batch (before the driver takes its ring from memory)."""
        nbytes = self.pages * PAGE_SIZE
        alloc = self.port.alloc_pages
        self.src = alloc(self.pages, PAGE_SIZE)
        self.guard_before = alloc(1, PAGE_SIZE)
        self.dst = alloc(self.pages, PAGE_SIZE)
        self.guard_after = alloc(1, PAGE_SIZE)
        self.data = self.rng.randbytes(nbytes)
        self.link.mem_write(self.src, self.data)
        self.link.mem_write(self.dst, bytes(b ^ 0xFF for b in self.data))
        for guard in (self.guard_before, self.guard_after):
            self.link.mem_write(guard, bytes([GUARD_BYTE]) * PAGE_SIZE)

    async def copy(self):
        """Probe, register dcbm v3, copy the batch through the migration core's offload,
        unregister and remove; the engine's counters before and after."""
        port = self.port
        self.dev = await foliodma_probe(port, ring_entries=RING_ENTRIES,
                                        channel_timeout_ns=CHANNEL_TIMEOUT_NS)
        self.caps = self.dev.caps
        io = EngineIO(port)
        self.before = await self._counters(io)
        dcbm = Dcbm(self.dev, strategy="v3", nr_dma_chan=1)
        await dcbm.set_offloading(1)
        src = [Folio(self.src + k * PAGE_SIZE, PAGE_SIZE) for k in range(self.pages)]
        dst = [Folio(self.dst + k * PAGE_SIZE, PAGE_SIZE) for k in range(self.pages)]
        started = time.monotonic()
        try:
            batch = await migrate_folios_content(port, dst, src)
        finally:
            self.wall_s = time.monotonic() - started
            await dcbm.set_offloading(0)
            await foliodma_remove(self.dev)
        self.offloaded = batch.offloaded
        self.after = await self._counters(io)

    @staticmethod
    async def _counters(io):
        values = {}
        for name, registers in COUNTERS.items():
            if len(registers) == 1:
                values[name] = await io.read(f"chan[0].{registers[0]}")
            else:
                values[name] = await io.read_counter(0, name)
        return values

    def check(self):
        """Read everything back: a :class:`CheckResult`."""
        result = CheckResult()
        read = self.link.mem_read
        nbytes = self.pages * PAGE_SIZE
        _compare("destination", self.dst, self.data, read(self.dst, nbytes), result)
        guard = bytes([GUARD_BYTE]) * PAGE_SIZE
        for address in (self.guard_before, self.guard_after):
            _compare("guard", address, guard, read(address, PAGE_SIZE), result)
        _compare("source", self.src, self.data, read(self.src, nbytes), result)
        result.not_offloaded = [k for k, done in enumerate(self.offloaded) if not done]
        return result

    def report(self, result):
        """The figures of the run, as one JSON-friendly dict."""
        info = self.link.info
        counters = {name: (self.after[name] - self.before[name]) % (1 << 64)
                    for name in self.after}
        seconds = counters["busy"] / info["clk_hz"]
        gbps = counters["bytes"] / seconds / 1e9 if seconds else 0.0
        peak = self.caps.beat_bytes * info["clk_hz"] / 1e9
        return {
            "ok": result.ok,
            "board": {**info, "baud": info["clk_hz"] / info["divisor"]},
            "engine": {"data_width": 8 * self.caps.beat_bytes, "channels": self.caps.channels,
                       "max_burst": self.caps.max_burst,
                       "outstanding_reads": self.caps.outstanding_reads,
                       "outstanding_writes": self.caps.outstanding_writes,
                       "buffer_depth": self.caps.buffer_depth},
            "pages": self.pages, "src": self.src, "dst": self.dst,
            "offloaded": sum(self.offloaded),
            "checked": result.checked,
            "mismatches": [{"region": r, "address": a, "expected": e, "got": g}
                           for r, a, e, g in result.mismatches[:MAX_LISTED]],
            "mismatch_count": len(result.mismatches),
            "not_offloaded": result.not_offloaded,
            "counters": counters,
            "gbps": gbps, "peak_gbps": peak,
            "link": {"sent": self.link.sent, "received": self.link.received,
                     "irq_looks": self.port.irq_looks, "copy_wall_s": self.wall_s},
        }


async def run_selftest(port, pages, seed=0):
    """Prepare, copy, check: the report (see :meth:`SelfTest.report`)."""
    test = SelfTest(port, pages, seed)
    test.prepare()
    await test.copy()
    return test.report(test.check())


def format_report(report, where):
    """The report as the command prints it."""
    board, engine, c = report["board"], report["engine"], report["counters"]
    lines = [
        f"foliodma board self-test on {where}: clock {board['clk_hz'] / 1e6:g} MHz, "
        f"{board['memory_bytes'] // 1024} KiB on-chip memory, UART {board['baud']:.0f} baud",
        f"engine (CAPS): {engine['data_width']}-bit, {engine['channels']} channel(s), bursts of "
        f"{engine['max_burst']} beats, {engine['outstanding_reads']} reads / "
        f"{engine['outstanding_writes']} writes in flight, buffer {engine['buffer_depth']} beats",
        f"batch: {report['pages']} x 4 KiB pages {report['src']:#x} -> {report['dst']:#x}, "
        f"dcbm v3 through migrate_folios_content: {report['offloaded']} of {report['pages']} "
        f"copied by the engine in {c['descs']} descriptor(s)",
        "check: " + ", ".join(f"{n} {region} bytes" for region, n in report["checked"].items())
        + (": every byte as expected" if not report["mismatch_count"]
           else f": {report['mismatch_count']} byte(s) differ"),
    ]
    for m in report["mismatches"]:
        lines.append(f"  {m['region']} byte at {m['address']:#x}: expected {m['expected']:#04x}, "
                     f"read {m['got']:#04x}")
    if report["not_offloaded"]:
        lines.append(f"  pages not copied by the engine: {report['not_offloaded']}")
    lines += [
        f"copy: {c['bytes']} bytes in {c['busy']} busy cycles at {board['clk_hz'] / 1e6:g} MHz: "
        f"{report['gbps']:.3f} GB/s ({100 * report['gbps'] / report['peak_gbps']:.1f}% of the "
        f"bus peak, {report['peak_gbps']:.3f} GB/s)",
        "counters of channel 0 over the batch: "
        + ", ".join(f"{name} {value}" for name, value in c.items()),
        f"link: {report['link']['sent']} bytes sent, {report['link']['received']} received, "
        f"{report['link']['irq_looks']} looks at the interrupt line; the driver's copy took "
        f"{report['link']['copy_wall_s']:.2f} s of wall time over the line",
        "PASS" if report["ok"] else "FAIL",
    ]
    return "\n".join(lines)
