"""The burst legalizer alone, in Amaranth's simulator, under random backpressure.

The engine tests see the legalizer only through AXI; here its own contract is
checked cycle by cycle: a read is issued only with room for all its beats in the
buffer, a free read slot and room in the job register, each read's DATA job is
offered from the next cycle on (in read order, nothing else between), bursts are cut where :func:`tests.hw.reference.legal_bursts` cuts
them, and every bad descriptor ends with its status of
:data:`tests.hw.reference.ERRORS` and no burst.
"""
import pytest

from hw.descriptor import FLAG_FENCE, FLAG_INTERRUPT, Status
from hw.legalizer import BurstLegalizer
from hw.params import AXI_BOUNDARY_BYTES, EngineParams
from tests.hw.reference import ERRORS, legal_bursts
from tests.hw.rtl_bench import StageBench

PARAMS = {
    "w64b16x2": EngineParams(data_width=64, channels=2, max_burst=16, buffer_depth=64),
    "w256": EngineParams(data_width=256),
    "w512": EngineParams(data_width=512, channels=3),
}
RECORD = 0x8000_0000
TIMEOUT = 20_000


def desc(src, dst, length, ch=0, flags=FLAG_INTERRUPT, completion=RECORD, check=0):
    return {"ch": ch, "src": src, "dst": dst, "len": length, "flags": flags,
            "completion": completion, "check": check}


class LegalizerBench(StageBench):
    """Drives a BurstLegalizer: feeds descriptors, plays the read and write side.

    Each cycle, with probability ``pressure``, the AR and job slots refuse, no read
    slot is free, and the buffer holds a random number of free beats (else it is
    empty). ``stop_at``: {cycle: channel mask} driven on ``stop`` from that cycle;
    ``busy_backend``: cycles during which ``backend_idle`` is low.
    """

    def __init__(self, params, descs, *, pressure=0.0, seed=0, stop_at=None, busy_backend=0):
        self.params = params
        super().__init__(BurstLegalizer(params), pressure=pressure, seed=seed)
        self.descs = list(descs)
        self.stop_at = stop_at or {}
        self.busy_backend = busy_backend
        self.reads = []        # (cycle, addr, beats)
        self.jobs = []         # (cycle, payload dict)
        self.dropped = []      # (cycle, mask)
        self.faulted = []      # (cycle, mask)
        self.accepted = []     # cycles a descriptor was taken

    async def _bench(self, ctx):
        dut, p = self.dut, self.params
        pending = list(self.descs)
        stop = 0
        owed = 0               # reads issued whose DATA job was not yet taken
        read_before = False    # a read was issued in the cycle before
        for cycle in range(TIMEOUT):
            if not pending and ctx.get(dut.idle) and cycle > max(self.stop_at, default=0):
                return
            stop = self.stop_at.get(cycle, stop)
            ctx.set(dut.stop, stop)
            ctx.set(dut.backend_idle, cycle >= self.busy_backend)
            ctx.set(dut.ar.ready, not self.refuse())
            ctx.set(dut.job.ready, not self.refuse())
            ctx.set(dut.reads_free, not self.refuse())
            free = self.rng.randrange(p.buffer_depth + 1) if self.refuse() else p.buffer_depth
            ctx.set(dut.buffer_free, free)
            offer = bool(pending) and not self.refuse()
            ctx.set(dut.desc.valid, offer)
            if offer:
                ctx.set(dut.desc.payload, pending[0])

            ar_fire = ctx.get(dut.ar.valid) and ctx.get(dut.ar.ready)
            job_fire = ctx.get(dut.job.valid) and ctx.get(dut.job.ready)
            if read_before:
                assert ctx.get(dut.job.valid) and not ctx.get(dut.job.payload.end), \
                    f"cycle {cycle}: no DATA job offered after the read of cycle {cycle - 1}"
            if ctx.get(dut.ar.valid):
                beats = ctx.get(dut.ar.payload.len) + 1
                assert ctx.get(dut.reads_free), f"cycle {cycle}: AR without a free read slot"
                assert free >= beats, f"cycle {cycle}: AR of {beats} beats, {free} free"
                assert not ctx.get(dut.job.valid) or ctx.get(dut.job.ready), \
                    f"cycle {cycle}: AR with the job register full"
            if ar_fire:
                self.reads.append((cycle, ctx.get(dut.ar.payload.addr),
                                   ctx.get(dut.ar.payload.len) + 1))
            if job_fire:
                job = {name: ctx.get(getattr(dut.job.payload, name))
                       for name in ("end", "ch", "addr", "beats", "last", "irq",
                                    "completion", "code", "record")}
                if not job["end"]:
                    assert owed, f"cycle {cycle}: a DATA job without its read"
                    owed -= 1
                else:
                    assert not owed, f"cycle {cycle}: an END before a read's DATA job"
                self.jobs.append((cycle, job))
            owed += ar_fire
            read_before = ar_fire
            if offer and ctx.get(dut.desc.ready):
                self.accepted.append(cycle)
                pending.pop(0)
            self.log_pulses(ctx, cycle, {"dropped": self.dropped, "faulted": self.faulted})
            await ctx.tick()
        raise AssertionError(f"legalizer not idle after {TIMEOUT} cycles "
                             f"({len(pending)} descriptors not taken)")

    def data_jobs(self):
        return [job for _, job in self.jobs if not job["end"]]

    def end_jobs(self):
        return [job for _, job in self.jobs if job["end"]]


def expected_bursts(params, descs):
    """(read addr, beats, write addr, last) of every burst, in order."""
    out = []
    for d in descs:
        bursts = legal_bursts(d["src"], d["dst"], d["len"], params)
        for i, (src, dst, nbytes) in enumerate(bursts):
            out.append((src, nbytes // params.beat_bytes, dst, i == len(bursts) - 1))
    return out


def observed_bursts(bench):
    reads = bench.reads
    jobs = bench.data_jobs()
    assert len(reads) == len(jobs)
    return [(addr, beats, job["addr"], bool(job["last"]))
            for (_, addr, beats), job in zip(reads, jobs)]


def crossing_descs(params):
    """src and dst one beat before, at and after a 4 KiB boundary (independently),
    lengths around one burst and around a page, on every channel in turn."""
    beat = params.beat_bytes
    burst = params.burst_beats_max * beat
    lengths = sorted({beat, burst - beat, burst, burst + beat,
                      AXI_BOUNDARY_BYTES - beat, AXI_BOUNDARY_BYTES + beat, 3 * AXI_BOUNDARY_BYTES})
    offsets = (-beat, 0, beat)
    descs = []
    for i, (length, src_off, dst_off) in enumerate(
            (l, s, d) for l in lengths for s in offsets for d in offsets):
        src = 0x10_0000 + 4 * i * AXI_BOUNDARY_BYTES + AXI_BOUNDARY_BYTES + src_off
        dst = 0x4000_0000 + 4 * i * AXI_BOUNDARY_BYTES + 2 * AXI_BOUNDARY_BYTES + dst_off
        descs.append(desc(src, dst, length, ch=i % params.channels,
                          completion=RECORD + 8 * i))
    return descs


@pytest.mark.parametrize("pname", PARAMS)
@pytest.mark.parametrize("pressure", (0.0, 0.5))
def test_bursts_cut_at_boundaries_and_max_burst(pname, pressure):
    params = PARAMS[pname]
    descs = crossing_descs(params)
    bench = LegalizerBench(params, descs, pressure=pressure, seed=len(pname)).run()
    assert observed_bursts(bench) == expected_bursts(params, descs)
    # Each DATA job carries its descriptor's channel, record and interrupt flag.
    jobs = iter(bench.data_jobs())
    for d in descs:
        for _ in legal_bursts(d["src"], d["dst"], d["len"], params):
            job = next(jobs)
            assert (job["ch"], job["completion"], job["irq"]) == (d["ch"], d["completion"], 1)
    assert not bench.end_jobs() and not bench.faulted and not bench.dropped


def test_issue_rate_without_backpressure():
    """Unthrottled, bursts of one descriptor issue every other cycle (plan, issue),
    and the first burst of the next descriptor three cycles after the last one
    (take, plan, issue)."""
    params = PARAMS["w64b16x2"]
    per_desc = 4096 // (params.burst_beats_max * params.beat_bytes)
    descs = [desc(0x1000 * i, 0x10_0000 + 0x1000 * i, 4096) for i in range(3)]
    bench = LegalizerBench(params, descs).run()
    cycles = [cycle for cycle, _, _ in bench.reads]
    assert len(cycles) == 3 * per_desc
    gaps = [b - a for a, b in zip(cycles, cycles[1:])]
    between = {per_desc * k - 1 for k in (1, 2)}
    assert {gap for i, gap in enumerate(gaps) if i not in between} == {2}
    assert [gaps[i] for i in sorted(between)] == [3, 3]


@pytest.mark.parametrize("flags", (0, FLAG_INTERRUPT))
def test_interrupt_flag_follows_the_descriptor(flags):
    params = PARAMS["w64b16x2"]
    bench = LegalizerBench(params, [desc(0, 0x10000, 1024, flags=flags)]).run()
    assert {job["irq"] for job in bench.data_jobs()} == {int(bool(flags))}


#: The kinds of ERRORS the fetcher's checks find (tests/hw/test_fetcher.py checks them).
CHECKED = ("desc_read_error", "record_misaligned", "zero_length", "src_misaligned",
           "dst_misaligned", "len_misaligned")


@pytest.mark.parametrize("kind", CHECKED)
def test_bad_descriptor_ends_without_bursts(kind):
    """A descriptor that failed a check, between two good ones: an END with its
    code and record flag, a fault pulse on its channel, and no burst; its
    neighbours are copied normally."""
    params = PARAMS["w512"]
    code, record = ERRORS[kind]
    good = [desc(0x1000, 0x20000, 4096, ch=0), desc(0x3000, 0x40000, 4096, ch=2)]
    bad = desc(0x1000, 0x20000, 4096, ch=1, check=code)
    bench = LegalizerBench(params, [good[0], bad, good[1]], pressure=0.3, seed=5).run()
    assert observed_bursts(bench) == expected_bursts(params, good)
    (end,) = bench.end_jobs()
    assert (end["ch"], end["code"], end["record"], end["completion"]) == \
        (1, code, int(record), bad["completion"])
    assert [mask for _, mask in bench.faulted] == [0b010]
    # The END is queued between the first descriptor's bursts and the third's.
    order = [job["end"] for _, job in bench.jobs]
    assert order.index(1) == len(legal_bursts(0x1000, 0x20000, 4096, params))


def test_descriptor_of_a_stopped_channel_is_dropped():
    params = PARAMS["w64b16x2"]
    bench = LegalizerBench(params, [desc(0, 0x10000, 256, ch=1), desc(0, 0x20000, 256, ch=0)],
                           stop_at={0: 0b10}).run()
    assert bench.dropped == [(bench.accepted[0], 0b10)]
    assert observed_bursts(bench) == expected_bursts(params, [desc(0, 0x20000, 256)])
    assert not bench.end_jobs()


def test_stop_mid_descriptor_ends_it_aborted():
    """Stopped after its first burst, a descriptor issues no more and ends ABORTED
    with a record; the next channel's work is unaffected."""
    params = PARAMS["w64b16x2"]
    long = desc(0, 0x10000, 16 * 1024, ch=0)
    other = desc(0x8000, 0x30000, 512, ch=1)
    probe = LegalizerBench(params, [long]).run()
    stop_cycle = probe.reads[1][0]        # stop once the second burst was issued
    bench = LegalizerBench(params, [long, other], stop_at={stop_cycle + 1: 0b01}).run()
    issued = [r for r in bench.reads if r[1] < 0x8000]
    assert 2 <= len(issued) < len(legal_bursts(0, 0x10000, 16 * 1024, params))
    assert all(not job["last"] for job in bench.data_jobs() if job["ch"] == 0)
    (end,) = bench.end_jobs()
    assert (end["ch"], end["code"], end["record"]) == (0, Status.ABORTED, 1)
    assert [job for job in bench.data_jobs() if job["ch"] == 1][-1]["last"]


def test_fence_waits_for_an_idle_back_end():
    """A FENCE descriptor issues nothing while backend_idle is low; a plain one does."""
    params = PARAMS["w256"]
    for flags, first_read_after in ((FLAG_FENCE, 50), (0, 0)):
        bench = LegalizerBench(params, [desc(0, 0x10000, 1024, flags=flags)],
                               busy_backend=50).run()
        assert bench.reads[0][0] >= first_read_after
        if not flags:
            assert bench.reads[0][0] < 50
