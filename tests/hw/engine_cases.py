"""Checked DmaEngine scenarios, run on both backends by tests/hw/test_engine.py.

Each scenario is an ``async def name(dev, **kwargs)`` in the sense of
:mod:`sim.backends.base`, named "tests.hw.engine_cases:name". It lays its jobs out in
memory, programs the engine through :class:`sim.experiments.engine_io.EngineIO`, checks
everything itself (destinations byte for byte, the whole memory image so that
guard bytes and any stray write are caught, every completion record, HEAD,
STATUS and counters) and raises AssertionError saying what differs. It
returns a JSON-friendly summary with cycle numbers and a digest of the AXI
handshake logs, so that the two backends can be compared cycle for cycle.

Jobs are ``[channel, src, dst, length]`` or ``[channel, src, dst, length,
flags]``, src and dst offsets from DATA (the format of
:func:`sim.experiments.engine_scenarios.copy_batch`). ``dev.params`` is
``EngineParams.as_dict()`` of the engine under test. The plain functions at
the end (``error_case``, ``abort_case``, ``random_case``, ...) build the
kwargs and memory configuration of the scenarios on the test side.
"""
import bisect
import hashlib
import random

import numpy as np

from hw.axi import RESP_DECERR, RESP_SLVERR
from hw.descriptor import (DESC_BYTES, FLAG_FENCE, FLAG_INTERRUPT, RECORD_BYTES, Status,
                           pack_record)
from hw.params import AXI_BOUNDARY_BYTES, EngineParams
from sim.experiments.engine_io import EngineIO
from sim.experiments.engine_scenarios import GUARD, GUARD_BYTE, copy_batch, memory_config
from sim.memsys.address_map import DATA, MEM_BASE, RECORDS, RING_BYTES
from tests.hw.reference import ERRORS, channel_status, copy_outcome, legal_bursts, record_beat

#: Completion records of these scenarios lie one 64-byte line apart, so a record
#: is the only thing in its data beat (even at 512 bits) and an error region on
#: one record cannot hit another.
RECORD_STRIDE = 64
#: Poll interval (cycles) of the scenarios' wait loops.
POLL = 4


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def engine_params(dev):
    return EngineParams(**dev.params)


def ring_base(channel):
    return MEM_BASE + channel * RING_BYTES


def record_addr(n):
    return RECORDS + n * RECORD_STRIDE


def axi_summary(dev):
    """Log sizes and a digest of the AXI handshake logs (cycle-exact fingerprint)."""
    axi = dev.axi
    text = repr((axi.ar_log, axi.aw_log, axi.w_log)).encode()
    return {"cycle": dev.cycle, "ar_bursts": len(axi.ar_log), "aw_bursts": len(axi.aw_log),
            "w_beats": len(axi.w_log), "axi_digest": hashlib.sha256(text).hexdigest()[:16]}


class Job:
    """One descriptor of a scenario, with the source data it copies."""

    def __init__(self, n, channel, src, dst, length, flags, completion, data):
        self.n, self.ch, self.src, self.dst, self.len = n, channel, src, dst, length
        self.flags, self.completion, self.data = flags, completion, data

    def __repr__(self):
        return (f"job {self.n} (channel {self.ch}, src {self.src:#x}, dst {self.dst:#x}, "
                f"len {self.len:#x})")


class JobSet:
    """The jobs of a scenario and the memory image they must leave behind.

    ``add`` fills each source with random bytes and each destination (with
    GUARD bytes either side) with GUARD_BYTE; ``post`` writes a descriptor
    through EngineIO. Every software write also goes into ``image``, the
    expected content of the whole memory; ``expect_*`` record what the engine
    must have written; ``check`` compares the whole memory with it.
    """

    def __init__(self, dev, seed=0):
        self.dev = dev
        self.memory = dev.memory
        self.rng = np.random.default_rng(seed)
        self.jobs = []
        self.image = dev.memory.data.copy()
        self.loose = []     # (addr, alternative bytes, beat): beat-wise "old or alternative"

    # --- software writes ---
    def _slice(self, addr, n):
        offset = addr - self.memory.base
        return slice(offset, offset + n)

    def _sync(self, addr, n):
        s = self._slice(addr, n)
        self.image[s] = self.memory.data[s]

    def add(self, jobs, record_offsets=None):
        """Lay out jobs ([ch, src, dst, len(, flags)], offsets from DATA); returns Jobs."""
        added = []
        for k, job in enumerate(jobs):
            channel, src, dst, length = job[:4]
            flags = job[4] if len(job) > 4 else FLAG_INTERRUPT
            n = len(self.jobs)
            src, dst = DATA + src, DATA + dst
            completion = record_addr(n) + (record_offsets or {}).get(k, 0)
            data = self.memory.fill_random(src, length, self.rng) if length else b""
            self.memory.write(dst - GUARD, bytes([GUARD_BYTE]) * (length + 2 * GUARD))
            self._sync(src, length)
            self._sync(dst - GUARD, length + 2 * GUARD)
            item = Job(n, channel, src, dst, length, flags, completion, data)
            self.jobs.append(item)
            added.append(item)
        self._check_layout()
        return added

    def _check_layout(self):
        spans = []
        for job in self.jobs:
            spans.append((job.src, job.src + job.len, f"source of {job}"))
            spans.append((job.dst - GUARD, job.dst + job.len + GUARD, f"destination of {job}"))
        spans.sort()
        for (a0, a1, what0), (b0, b1, what1) in zip(spans, spans[1:]):
            if b0 < a1:
                raise ValueError(f"scenario layout: {what0} overlaps {what1}")
        if spans and spans[0][0] < DATA:
            raise ValueError("scenario layout: a job lies below DATA")

    def post(self, io, job):
        """Post job at its channel's software tail (clears its record); returns the index."""
        index = io.post(job.ch, job.src, job.dst, job.len, job.flags, job.completion)
        base, _ = io.rings[job.ch]
        self._sync(base + index * DESC_BYTES, DESC_BYTES)
        self._sync(job.completion, RECORD_BYTES)
        return index

    # --- what the engine must have written ---
    def expect_copy(self, job, nbytes=None):
        nbytes = job.len if nbytes is None else nbytes
        if nbytes:
            self.image[self._slice(job.dst, nbytes)] = np.frombuffer(job.data[:nbytes], np.uint8)

    def expect_record(self, job, status, nbytes):
        self.image[self._slice(job.completion, RECORD_BYTES)] = np.frombuffer(
            pack_record(status, nbytes), np.uint8)

    def allow_partial(self, job, start, end, beat):
        """Each beat of job's destination [start, end) may be old or the source data."""
        if end > start:
            self.loose.append((job.dst + start, job.data[start:end], beat))

    def describe(self, addr):
        """Which part of the scenario's memory addr is."""
        for job in self.jobs:
            if job.dst - GUARD <= addr < job.dst:
                return f"guard before the destination of {job}"
            if job.dst <= addr < job.dst + job.len:
                return f"destination of {job}, offset {addr - job.dst:#x}"
            if job.dst + job.len <= addr < job.dst + job.len + GUARD:
                return f"guard after the destination of {job}"
            if job.src <= addr < job.src + job.len:
                return f"source of {job}, offset {addr - job.src:#x}"
            if job.completion <= addr < job.completion + RECORD_BYTES:
                return f"completion record of {job}"
        if MEM_BASE <= addr < RECORDS:
            return (f"descriptor ring of channel {(addr - MEM_BASE) // RING_BYTES}, slot "
                    f"{(addr - MEM_BASE) % RING_BYTES // DESC_BYTES}")
        if RECORDS <= addr < DATA:
            return "record area, not any job's record"
        return "memory no job uses"

    def check(self, what):
        """Compare the whole memory with the expected image."""
        actual = self.memory.data
        diff = self.image != actual
        for addr, alternative, beat in self.loose:
            s = self._slice(addr, len(alternative))
            alt = np.frombuffer(alternative, np.uint8).reshape(-1, beat)
            beats_ok = (actual[s].reshape(-1, beat) == alt).all(axis=1)
            window = diff[s].reshape(-1, beat)
            window[beats_ok] = False
            diff[s] = window.reshape(-1)
        bad = np.flatnonzero(diff)
        if bad.size == 0:
            return
        runs, start = [], bad[0]
        for prev, cur in zip(bad, bad[1:]):
            if cur != prev + 1:
                runs.append((start, prev))
                start = cur
        runs.append((start, bad[-1]))
        base = self.memory.base
        lines = [f"[{base + a:#x}..{base + b:#x}] {b - a + 1} bytes in {self.describe(base + a)}"
                 f" (expected {self.image[a]:#04x}, got {actual[a]:#04x} at its start)"
                 for a, b in runs[:6]]
        raise AssertionError(f"{what}: {bad.size} bytes of memory differ from what was "
                             f"expected, in {len(runs)} runs:\n  " + "\n  ".join(lines))


def bursts_by_job(dev, jobs, params):
    """(reads, writes, records): {job n: [(cycle, addr, bytes)]} from the AXI logs.

    Raises AssertionError for a data burst outside every job's source (reads)
    or destination (writes), or a record write matching no job's record.
    """
    beat = params.beat_bytes
    result = []
    for log, key, kind in ((dev.axi.ar_log, "src", "data read"),
                           (dev.axi.aw_log, "dst", "data write")):
        spans = sorted((getattr(job, key), job.len, job) for job in jobs if job.len)
        starts = [span[0] for span in spans]
        found = {job.n: [] for job in jobs}
        for cycle, ident, addr, length in log:
            if ident != 0:
                continue
            nbytes = (length + 1) * beat
            i = bisect.bisect_right(starts, addr) - 1
            if i < 0 or not addr + nbytes <= spans[i][0] + spans[i][1]:
                raise AssertionError(f"{kind} burst at cycle {cycle} ({addr:#x}, {length + 1} "
                                     f"beats) is not inside any job's {key} range")
            found[spans[i][2].n].append((cycle, addr, nbytes))
        result.append(found)
    by_record = {record_beat(job.completion, beat): job for job in jobs}
    records = {job.n: [] for job in jobs}
    for cycle, ident, addr, length in dev.axi.aw_log:
        if ident != 1:
            continue
        job = by_record.get(addr)
        if job is None or length != 0:
            raise AssertionError(f"record write at cycle {cycle} ({addr:#x}, {length + 1} "
                                 f"beats) matches no job's completion record")
        records[job.n].append(cycle)
    result.append(records)
    return tuple(result)


def most_in_flight(starts, ends):
    """Largest number of transactions open at once, from the cycles they started
    and ended (a start counts before an end of the same cycle)."""
    events = sorted([(cycle, 0) for cycle in starts] + [(cycle, 1) for cycle in ends])
    open_now = most = 0
    for _, is_end in events:
        open_now += -1 if is_end else 1
        most = max(most, open_now)
    return most


def check_in_flight(dev, params):
    """Data reads (AR to last R beat) and writes (AW to B) open at once stay within
    outstanding_reads and outstanding_writes."""
    axi = dev.axi
    data_reads = {i: length + 1 for i, (_, ident, _, length) in enumerate(axi.ar_log)
                  if ident == 0}
    beats = dict.fromkeys(data_reads, 0)
    read_ends = []
    for cycle, index in axi.r_log:
        if index in beats:
            beats[index] += 1
            if beats[index] == data_reads[index]:
                read_ends.append(cycle)
    reads = most_in_flight([axi.ar_log[i][0] for i in data_reads], read_ends)
    writes = most_in_flight([cycle for cycle, *_ in axi.aw_log],
                            [cycle for cycle, _ in axi.b_log])
    assert reads <= params.outstanding_reads, \
        f"{reads} data reads in flight at once, limit {params.outstanding_reads}"
    assert writes <= params.outstanding_writes, \
        f"{writes} writes awaiting B at once, limit {params.outstanding_writes}"


def check_bursts(dev, jobs, params, counts=None):
    """Every job's data bursts are the legal bursts of its descriptor, in order,
    and no more reads and writes were in flight than the engine's limits.

    counts -- {job n: bursts expected} for jobs cut short (a prefix of the legal
    bursts; None: any prefix); others must have all of them. Returns (reads,
    writes, records).
    """
    check_in_flight(dev, params)
    reads, writes, records = bursts_by_job(dev, jobs, params)
    counts = counts or {}
    for job in jobs:
        legal = legal_bursts(job.src, job.dst, job.len, params)
        for side, seen, index in (("read", reads, 0), ("write", writes, 1)):
            got = [(addr, nbytes) for _, addr, nbytes in seen[job.n]]
            want = counts.get(job.n, len(legal))
            want = len(got) if want is None else want
            expected = [(burst[index], burst[2]) for burst in legal[:want]]
            if got != expected:
                diff = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e),
                            min(len(got), len(expected)))
                def show(bursts):
                    return ", ".join(f"{a:#x}+{n:#x}" for a, n in bursts[diff:diff + 2])
                raise AssertionError(
                    f"{job}: {side} bursts differ from the legal split (max "
                    f"{params.burst_beats_max} beats, 4 KiB boundaries): {len(got)} bursts, "
                    f"expected {len(expected)}; first difference at burst {diff}: got "
                    f"[{show(got)}], expected [{show(expected)}]")
    return reads, writes, records


async def check_channel(io, ch, *, head, code=0, descs=None, nbytes=None, what=""):
    """STATUS (idle, halted with code if non-zero: :func:`channel_status`), HEAD and
    counters of one channel."""
    status = await io.status(ch)
    got_head = await io.read(f"chan[{ch}].head")
    expected = channel_status(code)
    assert status == expected, f"{what}channel {ch}: STATUS {status}; expected {expected}"
    assert got_head == head, f"{what}channel {ch}: HEAD {got_head}, expected {head}"
    if descs is not None:
        got = await io.read(f"chan[{ch}].descs")
        assert got == descs, f"{what}channel {ch}: DESCS {got}, expected {descs}"
    if nbytes is not None:
        got = await io.read_counter(ch, "bytes")
        assert got == nbytes, f"{what}channel {ch}: BYTES {got}, expected {nbytes}"


def check_record(io, job, status, nbytes, what=""):
    got = io.record(job.completion & ~(RECORD_BYTES - 1))
    assert got == (status, nbytes), \
        (f"{what}{job}: record {got[0].name}, {got[1]} bytes; expected "
         f"{Status(status).name}, {nbytes} bytes")


async def wait_records(dev, io, jobs, timeout_cycles, what="", poll=POLL):
    """Wait until every job has a record; fails at once on one not SUCCESS."""
    pending = list(jobs)
    start = dev.cycle

    def done():
        while pending:
            status, nbytes = io.record(pending[0].completion)
            if status == Status.NOT_DONE:
                return False
            if status != Status.SUCCESS:
                raise AssertionError(f"{what}{pending[0]}: record {status.name}, {nbytes} "
                                     f"bytes at cycle {dev.cycle}; expected SUCCESS")
            pending.pop(0)
        return True
    try:
        await dev.wait_until(done, timeout_cycles, poll_cycles=poll)
    except TimeoutError:
        raise AssertionError(f"{what}no record for {pending[0]} after "
                             f"{dev.cycle - start} cycles (cycle {dev.cycle})") from None


async def run_jobs(dev, io, js, jobs, what, timeout_cycles=200_000):
    """Post jobs (one doorbell per channel), wait for their records, check them."""
    for job in jobs:
        js.post(io, job)
    for ch in sorted({job.ch for job in jobs}):
        await io.doorbell(ch)
    await wait_records(dev, io, jobs, timeout_cycles, what)
    for job in jobs:
        check_record(io, job, Status.SUCCESS, job.len, what)
        js.expect_copy(job)
        js.expect_record(job, Status.SUCCESS, job.len)


async def int_status(io):
    word = await io.read("int_status")
    register = io.regmap.register("int_status")
    return register.fields["done"].extract(word), register.fields["error"].extract(word)


# --------------------------------------------------------------------------
# Scenarios: plain batches
# --------------------------------------------------------------------------

async def checked_batch(dev, *, jobs, seed=0, ring_size=1024, concurrent=False):
    """copy_batch, then: legal bursts per job, no write outside the batch's areas.

    concurrent -- also require every channel's data writes to overlap in time
    (all channels busy at once).
    """
    params = engine_params(dev)
    times = await copy_batch(dev, jobs=jobs, seed=seed, ring_size=ring_size)
    # copy_batch's records lie RECORD_BYTES apart from RECORDS: rebuild its jobs.
    items = [Job(n, ch, DATA + src, DATA + dst, length, FLAG_INTERRUPT,
                 RECORDS + n * RECORD_BYTES, None)
             for n, (ch, src, dst, length) in enumerate(jobs)]
    beat = params.beat_bytes
    reads, writes, _ = check_bursts(dev, items, params)
    record_writes = [a for _, ident, a, _ in dev.axi.aw_log if ident == 1]
    expected_records = sorted(record_beat(job.completion, beat) for job in items)
    assert sorted(record_writes) == expected_records, \
        f"record writes at {sorted(record_writes)[:8]}..., expected one per job"
    # Nothing written outside sources, guarded destinations, rings and records.
    allowed = np.zeros(dev.memory.size, dtype=bool)

    def allow(addr, n):
        allowed[addr - MEM_BASE:addr - MEM_BASE + n] = True
    for job in items:
        allow(job.src, job.len)
        allow(job.dst - GUARD, job.len + 2 * GUARD)
    allow(RECORDS, len(jobs) * RECORD_BYTES)
    for ch in {job.ch for job in items}:
        allow(ring_base(ch), min(sum(1 for j in items if j.ch == ch), ring_size) * DESC_BYTES)
    stray = np.flatnonzero(dev.memory.data[~allowed])
    assert stray.size == 0, f"{stray.size} bytes written outside every job's areas"
    result = {**times, **axi_summary(dev)}
    if concurrent:
        spans = {}
        for n, bursts in writes.items():
            ch = items[n].ch
            for cycle, _, _ in bursts:
                lo, hi = spans.get(ch, (cycle, cycle))
                spans[ch] = (min(lo, cycle), max(hi, cycle))
        latest_start = max(lo for lo, _ in spans.values())
        earliest_end = min(hi for _, hi in spans.values())
        assert latest_start < earliest_end, \
            (f"channels were not all busy at once: data write spans per channel {spans}")
        result["overlap_cycles"] = earliest_end - latest_start
    return result


async def ring_feed(dev, *, jobs, ring_size, batch, seed=0, timeout_cycles=2_000_000):
    """Feed jobs through small rings, ringing doorbells while the engine runs.

    Per channel at most ``batch`` descriptors are posted per doorbell, and at
    most ring_size - 1 are outstanding; a channel's next doorbell is rung once
    one of its records appeared since the previous one, so doorbells come while
    earlier descriptors still run and the ring wraps around several times.
    """
    params = engine_params(dev)
    io = EngineIO(dev)
    js = JobSet(dev, seed)
    items = js.add(jobs)
    channels = sorted({job.ch for job in items})
    for ch in channels:
        await io.setup_channel(ch, ring_base(ch), ring_size)
    queue = {ch: [job for job in items if job.ch == ch] for ch in channels}
    posted = dict.fromkeys(channels, 0)
    done = dict.fromkeys(channels, 0)
    progressed = dict.fromkeys(channels, True)
    doorbells = []
    start = dev.cycle
    while True:
        for ch in channels:
            q = queue[ch]
            while done[ch] < posted[ch]:
                status, nbytes = io.record(q[done[ch]].completion)
                if status == Status.NOT_DONE:
                    break
                if (status, nbytes) != (Status.SUCCESS, q[done[ch]].len):
                    raise AssertionError(f"{q[done[ch]]}: record {status.name}, {nbytes} bytes "
                                         f"at cycle {dev.cycle}; expected SUCCESS")
                done[ch] += 1
                progressed[ch] = True
        if all(done[ch] == len(queue[ch]) for ch in channels):
            break
        rang = False
        for ch in channels:
            outstanding = posted[ch] - done[ch]
            room = min(batch, ring_size - 1 - outstanding, len(queue[ch]) - posted[ch])
            if room > 0 and progressed[ch]:
                for _ in range(room):
                    js.post(io, queue[ch][posted[ch]])
                    posted[ch] += 1
                await io.doorbell(ch)
                doorbells.append((dev.cycle, ch, room, outstanding))
                progressed[ch] = False
                rang = True
        if not rang:
            if dev.cycle - start > timeout_cycles:
                raise AssertionError(f"ring_feed: no progress after {timeout_cycles} cycles; "
                                     f"posted {posted}, completed {done}")
            await dev.wait_cycles(POLL)
    for ch in channels:
        await io.wait_idle(ch)
        mine = queue[ch]
        await check_channel(io, ch, head=len(mine) % ring_size, descs=len(mine),
                            nbytes=sum(job.len for job in mine))
        tail = await io.read(f"chan[{ch}].tail")
        assert tail == len(mine) % ring_size, f"channel {ch}: TAIL {tail}"
    for job in items:
        check_record(io, job, Status.SUCCESS, job.len)
        js.expect_copy(job)
        js.expect_record(job, Status.SUCCESS, job.len)
    _, _, records = check_bursts(dev, items, params)
    for job in items:
        assert len(records[job.n]) == 1, f"{job}: {len(records[job.n])} record writes"
    js.check("after all jobs")
    return {"doorbells": len(doorbells),
            "busy_doorbells": sum(1 for *_, outstanding in doorbells if outstanding),
            "wraps": max(len(q) // ring_size for q in queue.values()),
            **axi_summary(dev)}


# --------------------------------------------------------------------------
# Scenarios: errors and abort
# --------------------------------------------------------------------------

async def _reset_and_reuse(dev, io, js, ch, after_reset, what):
    """CTRL.reset, check the channel is clean, then run fresh jobs from index 0."""
    descs = await io.read(f"chan[{ch}].descs")
    await io.reset_channel(ch)
    await check_channel(io, ch, head=0, what=f"{what}after reset: ")
    tail = await io.read(f"chan[{ch}].tail")
    assert tail == 0, f"{what}after reset: channel {ch}: TAIL {tail}, expected 0"
    await io.write("int_status", error=1 << ch)
    _, error = await int_status(io)
    assert not error >> ch & 1, f"{what}INT_STATUS.error bit {ch} not cleared by writing 1"
    fresh = js.add(after_reset)
    await run_jobs(dev, io, js, fresh, f"{what}after reset: ")
    await io.wait_idle(ch)
    await check_channel(io, ch, head=len(fresh), descs=descs + len(fresh),
                        what=f"{what}after reset: ")
    return fresh


async def error_halts_channel(dev, *, kind, jobs, bad, after_reset, error_at=None,
                              record_offset=0, seed=0, ring_size=16):
    """Job `bad` (on channel 0, the victim) fails with `kind`, one of
    :data:`~tests.hw.reference.ERRORS`.

    Channel 0 must halt at it with the code in STATUS and INT_STATUS.error,
    its record (if any) must carry the code and the bytes written before the
    error, later channel-0 descriptors get no record; the other channels'
    jobs all succeed. Then CTRL.reset and a fresh job on channel 0.
    error_at -- address of the read/write error region (one beat) for data errors.
    """
    params = engine_params(dev)
    beat = params.beat_bytes
    code, has_record = ERRORS[kind]
    io = EngineIO(dev)
    js = JobSet(dev, seed)
    items = js.add(jobs, record_offsets={bad: record_offset})
    channels = sorted({job.ch for job in items})
    for ch in channels:
        await io.setup_channel(ch, ring_base(ch), ring_size)
    for job in items:
        js.post(io, job)
    for ch in channels:
        await io.doorbell(ch)
    start = dev.cycle
    for ch in channels:
        await io.wait_idle(ch, 500_000)
    halted_at = dev.cycle

    victim = [job for job in items if job.ch == 0]
    failing = items[bad]
    assert failing.ch == 0, "scenario: the failing job must be on channel 0"
    index = victim.index(failing)
    # Bytes the failing descriptor's record must report.
    nbytes = 0
    data_error = kind.startswith(("read_", "write_"))
    if data_error:
        # The error beat's burst gets the error response, on the side of the error.
        side = 0 if kind.startswith("read_") else 1
        bursts = legal_bursts(failing.src, failing.dst, failing.len, params)
        hit = next(i for i, burst in enumerate(bursts)
                   if burst[side] <= error_at < burst[side] + burst[2])
        errors = {hit: RESP_SLVERR if kind.endswith("slverr") else RESP_DECERR}
        status, nbytes = copy_outcome([n for _, _, n in bursts],
                                      read_errors=errors if side == 0 else None,
                                      write_errors=errors if side == 1 else None)
        assert status == code, f"scenario: {kind} gives {status.name}, ERRORS says {code.name}"
    elif kind == "record_write_error":
        nbytes = failing.len
    what = f"{kind}: "
    # Victim: earlier jobs succeed, the failing one as expected, later ones no record.
    for job in victim[:index]:
        check_record(io, job, Status.SUCCESS, job.len, what)
        js.expect_copy(job)
        js.expect_record(job, Status.SUCCESS, job.len)
    if has_record:
        check_record(io, failing, code, nbytes, what)
        js.expect_record(failing, code, nbytes)
    else:
        record = io.record(failing.completion & ~(RECORD_BYTES - 1))
        assert record == (Status.NOT_DONE, 0), \
            f"{what}{failing}: a record {record} was written; expected none"
    if data_error:
        # Bursts issued before the error was seen may still land; error beats never do.
        js.expect_copy(failing, nbytes)
        if kind.startswith("read_"):
            err = error_at - failing.src
            js.allow_partial(failing, nbytes, err, beat)
            js.allow_partial(failing, err + beat, failing.len, beat)
        else:
            js.allow_partial(failing, nbytes, failing.len, beat)
    elif kind == "record_write_error":
        js.expect_copy(failing)
    for job in victim[index + 1:]:
        if kind == "record_write_error" and io.record(job.completion)[0] == Status.SUCCESS:
            # Its record was under way before the failed record write was answered:
            # complete and recorded, but HEAD and DESCS stay at the failing one.
            check_record(io, job, Status.SUCCESS, job.len, f"{what}(after the failing one) ")
            js.expect_copy(job)
            js.expect_record(job, Status.SUCCESS, job.len)
            continue
        check_record(io, job, Status.NOT_DONE, 0, f"{what}(after the failing one) ")
        if data_error or kind == "record_write_error":
            js.allow_partial(job, 0, job.len, beat)
    await check_channel(io, 0, head=index, code=code, descs=index,
                        nbytes=sum(job.len for job in victim[:index]) + nbytes, what=what)
    # Bystanders: untouched by the error.
    for ch in channels[1:]:
        mine = [job for job in items if job.ch == ch]
        for job in mine:
            check_record(io, job, Status.SUCCESS, job.len, f"{what}bystander ")
            js.expect_copy(job)
            js.expect_record(job, Status.SUCCESS, job.len)
        await check_channel(io, ch, head=len(mine), descs=len(mine),
                            nbytes=sum(job.len for job in mine), what=f"{what}bystander ")
    _, error = await int_status(io)
    assert error == 1, f"{what}INT_STATUS.error = {error:#x}; expected only channel 0 (0x1)"
    # Data bursts: legal; none for a descriptor refused before its first burst.
    if data_error or kind == "record_write_error":
        counts = {job.n: None for job in victim[index + 1:]}
        if data_error:
            counts[failing.n] = None
    else:
        counts = {job.n: 0 for job in victim[index:]}
    check_bursts(dev, items, params, counts)
    js.check(f"{what}after the error")
    await _reset_and_reuse(dev, io, js, 0, after_reset, what)
    js.check(f"{what}after reset and a fresh job")
    return {"start": start, "halted_seen": halted_at, "bytes": nbytes, **axi_summary(dev)}


async def _start_and_stop(dev, io, js, items, ring_size, command):
    """Post every job, ring the doorbells, write CTRL.<command> on channel 0 as soon
    as its first record appeared; returns (first record cycle, command cycle)."""
    for ch in sorted({job.ch for job in items}):
        await io.setup_channel(ch, ring_base(ch), ring_size)
    for job in items:
        js.post(io, job)
    for ch in sorted({job.ch for job in items}):
        await io.doorbell(ch)
    first = next(job for job in items if job.ch == 0)
    await dev.wait_until(lambda: io.record(first.completion)[0] != Status.NOT_DONE,
                         500_000, poll_cycles=1)
    first_record = dev.cycle
    await io.write("chan[0].ctrl", **{command: 1})
    return first_record, dev.cycle


def _check_cut_short(dev, io, js, items, params, stopped, what, require_cut=True):
    """Channel 0 was stopped mid-batch: a prefix of SUCCESS records, then the
    descriptor cut short with ABORTED and a whole number of its bursts (copied
    exactly, the rest of its destination untouched), then nothing at all.
    No channel-0 write after cycle `stopped`. Returns (done, cut, bytes, bursts).

    require_cut=False also accepts a stop between descriptors or after the
    last one: then no ABORTED record at all, and cut is None.
    """
    victim = [job for job in items if job.ch == 0]
    done = [job for job in victim if io.record(job.completion)[0] == Status.SUCCESS]
    assert victim[:len(done)] == done, f"{what}channel 0: SUCCESS records are not a prefix"
    assert len(done) < len(victim) or not require_cut, \
        f"{what}channel 0 completed every descriptor: the command came too late"
    cut = victim[len(done)] if len(done) < len(victim) else None
    if cut is None or (not require_cut and io.record(cut.completion)[0] == Status.NOT_DONE):
        for job in done:
            check_record(io, job, Status.SUCCESS, job.len, what)
            js.expect_copy(job)
            js.expect_record(job, Status.SUCCESS, job.len)
        for job in victim[len(done):]:
            check_record(io, job, Status.NOT_DONE, 0, f"{what}after the stop: ")
        check_bursts(dev, js.jobs, params, {**{job.n: None for job in js.jobs if job not in items},
                                            **{job.n: 0 for job in victim[len(done):]}})
        return done, None, 0, 0
    status, nbytes = io.record(cut.completion)
    assert status == Status.ABORTED, \
        f"{what}{cut} (first not completed): record {status.name}, {nbytes}; expected ABORTED"
    legal = legal_bursts(cut.src, cut.dst, cut.len, params)
    prefixes = [int(x) for x in np.cumsum([n for _, _, n in legal])]
    assert 0 < nbytes < cut.len and nbytes in prefixes, \
        (f"{what}{cut}: ABORTED with {nbytes} bytes, not a whole number of its bursts "
         f"{[n for _, _, n in legal][:4]}... (0 < bytes < len)")
    bursts_done = prefixes.index(nbytes) + 1
    for job in done:
        check_record(io, job, Status.SUCCESS, job.len, what)
        js.expect_copy(job)
        js.expect_record(job, Status.SUCCESS, job.len)
    js.expect_copy(cut, nbytes)
    js.expect_record(cut, Status.ABORTED, nbytes)
    later = victim[len(done) + 1:]
    for job in later:
        check_record(io, job, Status.NOT_DONE, 0, f"{what}after the cut one: ")
    counts = {**{job.n: None for job in js.jobs if job not in items},
              cut.n: bursts_done, **{job.n: 0 for job in later}}
    _, writes, records = check_bursts(dev, js.jobs, params, counts)
    mine = {job.n for job in victim}
    late = [(cycle, n) for n, bursts in writes.items() if n in mine for cycle, _, _ in bursts
            if cycle > stopped] + [(cycle, n) for n, cycles in records.items() if n in mine
                                   for cycle in cycles if cycle > stopped]
    assert not late, \
        f"{what}channel 0 wrote after it reported the stop (cycle {stopped}): {late[:4]}"
    return done, cut, nbytes, bursts_done


async def _check_bystanders(io, js, items, what="bystander: "):
    for ch in sorted({job.ch for job in items} - {0}):
        others = [job for job in items if job.ch == ch]
        for job in others:
            check_record(io, job, Status.SUCCESS, job.len, what)
            js.expect_copy(job)
            js.expect_record(job, Status.SUCCESS, job.len)
        await check_channel(io, ch, head=len(others), descs=len(others),
                            nbytes=sum(job.len for job in others), what=what)


async def abort_mid_batch(dev, *, jobs, after_reset, seed=0, ring_size=64):
    """CTRL.abort on channel 0 once its first record appeared; channel 1+ keep going.

    The descriptor cut short gets an ABORTED record with a whole number of its
    bursts, equal to the bytes copied (the rest of its destination untouched);
    later descriptors nothing; STATUS halted with ABORTED; then reset and reuse.
    """
    params = engine_params(dev)
    io = EngineIO(dev)
    js = JobSet(dev, seed)
    items = js.add(jobs)
    first_record, abort_written = await _start_and_stop(dev, io, js, items, ring_size, "abort")
    status = await io.wait_idle(0, 500_000)
    stopped = dev.cycle
    assert status["halted"], f"channel 0 not halted after the abort: {status}"
    for ch in sorted({job.ch for job in items} - {0}):
        await io.wait_idle(ch, 500_000)
    await dev.wait_cycles(200)      # nothing more may happen on channel 0
    done, cut, nbytes, bursts_done = _check_cut_short(dev, io, js, items, params, stopped,
                                                      "abort: ")
    await check_channel(io, 0, head=len(done), code=Status.ABORTED, descs=len(done),
                        nbytes=sum(job.len for job in done) + nbytes, what="aborted: ")
    await _check_bystanders(io, js, items)
    _, error = await int_status(io)
    assert error == 1, f"INT_STATUS.error = {error:#x}; expected only channel 0 (0x1)"
    js.check("after the abort")
    await _reset_and_reuse(dev, io, js, 0, after_reset, "abort: ")
    js.check("after reset and a fresh job")
    return {"first_record": first_record, "abort_written": abort_written, "stopped": stopped,
            "cut": cut.n, "cut_bytes": nbytes, "bursts_done": bursts_done,
            **axi_summary(dev)}


async def reset_while_busy(dev, *, jobs, after_reset, after_abort, seed=0, ring_size=64):
    """CTRL.reset (no abort first) on channel 0 mid-batch, then CTRL.abort on it idle.

    The reset stops channel 0 like an abort (the descriptor cut short gets
    ABORTED with whole bursts, later ones nothing), then leaves it clean:
    not busy, not halted, code 0, HEAD = TAIL = 0, and fresh jobs from index 0
    work. An abort of the idle channel halts it with ABORTED at once (HEAD
    kept); a reset clears that too.
    """
    params = engine_params(dev)
    io = EngineIO(dev)
    js = JobSet(dev, seed)
    items = js.add(jobs)
    first_record, reset_written = await _start_and_stop(dev, io, js, items, ring_size, "reset")
    start = dev.cycle
    while True:
        status = await io.status(0)
        if not status["busy"]:
            break
        assert dev.cycle - start < 500_000, "channel 0 still busy long after CTRL.reset"
        await dev.wait_cycles(POLL)
    stopped = dev.cycle
    await dev.wait_cycles(8)
    status = await io.status(0)
    assert status == channel_status(), \
        f"after CTRL.reset on a busy channel: STATUS {status}; expected all 0"
    for ch in sorted({job.ch for job in items} - {0}):
        await io.wait_idle(ch, 500_000)
    await dev.wait_cycles(200)
    done, cut, nbytes, bursts_done = _check_cut_short(dev, io, js, items, params, stopped,
                                                      "reset while busy: ")
    await check_channel(io, 0, head=0, descs=len(done), what="reset while busy: ")
    tail = await io.read("chan[0].tail")
    assert tail == 0, f"reset while busy: TAIL {tail}, expected 0"
    await _check_bystanders(io, js, items)
    js.check("after the reset of a busy channel")
    io.tails[0] = 0
    await io.write("int_status", error=0xFFFF)
    fresh = js.add(after_reset)
    await run_jobs(dev, io, js, fresh, "after the reset: ")
    await io.wait_idle(0)
    await check_channel(io, 0, head=len(fresh), descs=len(done) + len(fresh),
                        what="after the reset: ")
    # Abort of an idle channel.
    await io.write("chan[0].ctrl", abort=1)
    await dev.wait_cycles(4)
    await check_channel(io, 0, head=len(fresh), code=Status.ABORTED,
                        what="abort of the idle channel: ")
    _, error = await int_status(io)
    assert error == 1, f"abort of the idle channel: INT_STATUS.error = {error:#x}; expected 0x1"
    await _reset_and_reuse(dev, io, js, 0, after_abort, "abort of the idle channel: ")
    js.check("after all")
    return {"first_record": first_record, "reset_written": reset_written, "stopped": stopped,
            "cut": cut.n, "cut_bytes": nbytes, "bursts_done": bursts_done,
            **axi_summary(dev)}


async def stop_sweep(dev, *, rounds, jobs_per_round, seed=0, ring_size=16, strict_status=True):
    """Rounds of: post a batch on channel 0 (and one job on channel 1), wait
    `delay` cycles after the doorbell, CTRL.abort or CTRL.reset channel 0.

    rounds -- [command, delay] pairs; jobs_per_round[k] -- the jobs of round k.
    Whatever the moment (fetching, copying, fence wait, between descriptors,
    after the last), records are a SUCCESS prefix, at most one ABORTED with
    whole bursts, then nothing; an abort ends halted with ABORTED, a reset
    clean with HEAD = TAIL = 0; nothing is written after. Each round ends with
    a reset, so the next one starts from index 0.

    strict_status -- the first STATUS read with busy=0 must already show the
    final halted/code (software polls busy to know the command completed);
    False: only STATUS a few cycles later is checked.
    """
    params = engine_params(dev)
    io = EngineIO(dev)
    js = JobSet(dev, seed)
    for ch in (0, 1):
        await io.setup_channel(ch, ring_base(ch), ring_size)
    outcomes = []
    descs = {0: 0, 1: 0}
    for k, ((command, delay), jobs) in enumerate(zip(rounds, jobs_per_round)):
        what = f"round {k} ({command} {delay} cycles after the doorbell): "
        items = js.add(jobs)
        for job in items:
            js.post(io, job)
        for ch in (0, 1):
            await io.doorbell(ch)
        await dev.wait_cycles(delay)
        await io.write("chan[0].ctrl", **{command: 1})
        start = dev.cycle
        while (status := await io.status(0))["busy"]:
            assert dev.cycle - start < 200_000, f"{what}channel 0 still busy"
            await dev.wait_cycles(1)
        stopped = dev.cycle
        await dev.wait_cycles(4)
        settled = await io.status(0)
        expected = channel_status(Status.ABORTED if command == "abort" else 0)
        assert settled == expected, f"{what}STATUS {settled}; expected {expected}"
        assert status == expected or not strict_status, \
            (f"{what}STATUS read {status} (busy 0, read ending at cycle {stopped}): busy is "
             f"already 0 but the {command} has not taken effect; 4 cycles later: {settled}")
        await io.wait_idle(1)
        await dev.wait_cycles(50)
        done, cut, nbytes, bursts = _check_cut_short(dev, io, js, items, params, stopped, what,
                                                     require_cut=False)
        descs[0] += len(done)
        await check_channel(io, 0, head=len(done) % ring_size if command == "abort" else 0,
                            code=expected["code"],
                            descs=descs[0], what=what)
        for job in items:
            if job.ch == 1:
                check_record(io, job, Status.SUCCESS, job.len, f"{what}bystander: ")
                js.expect_copy(job)
                js.expect_record(job, Status.SUCCESS, job.len)
                descs[1] += 1
        await check_channel(io, 1, head=1, descs=descs[1], what=f"{what}bystander: ")
        js.check(f"{what}after the stop")
        if command == "abort":
            await io.reset_channel(0)
        else:
            tail = await io.read("chan[0].tail")
            assert tail == 0, f"{what}TAIL {tail} after the reset"
        io.tails[0] = 0
        # Channel 1 goes on from where it is; reset it too so its ring restarts.
        await io.reset_channel(1)
        await io.write("int_status", 0xFFFFFFFF)
        outcomes.append([len(done), cut.n if cut else None, nbytes, bursts])
    js.check("after all rounds")
    return {"outcomes": outcomes, **axi_summary(dev)}


def stop_sweep_case(params, delays):
    """kwargs of stop_sweep: abort and reset alternately at each delay."""
    beat = params.beat_bytes
    long, short = 24 * params.burst_beats_max * beat, 8 * beat
    alloc = Allocator()
    rounds, jobs_per_round = [], []
    for k, delay in enumerate(delays):
        rounds.append(["abort" if k % 2 == 0 else "reset", delay])
        jobs_per_round.append(
            [[0, alloc.take(n, 2 * beat), alloc.take(n), n, flags] for n, flags in
             ((long, FLAG_INTERRUPT), (short, FLAG_INTERRUPT), (long, FLAG_INTERRUPT | FLAG_FENCE),
              (long, FLAG_INTERRUPT))]
            + [[1, alloc.take(long), alloc.take(long), long]])
    return {"rounds": rounds, "jobs_per_round": jobs_per_round}


# --------------------------------------------------------------------------
# Scenarios: interrupts and fence
# --------------------------------------------------------------------------

async def _irq_low_for(dev, cycles, what):
    for _ in range(cycles):
        await dev.wait_cycles(1)
        assert not dev.irq, f"{what}: irq high at cycle {dev.cycle}"


async def _clear_done(dev, io, channel_bits, what):
    await io.write("int_status", done=channel_bits)
    await dev.wait_cycles(2)
    done, _ = await int_status(io)
    assert not done & channel_bits, f"{what}: INT_STATUS.done {done:#x} after writing 1s"


async def irq_count_coalescing(dev, *, flags, count, batch, length, seed=0):
    """IRQ_COAL.count: the done interrupt after every `count` flagged completions.

    flags  -- one entry per descriptor, posted one at a time (1: INTERRUPT);
              after each, INT_STATUS.done and irq must match the count model.
    batch  -- then this many flagged descriptors in one doorbell; software
              clears the interrupt each time it sees it and notes DESCS.
    """
    io = EngineIO(dev)
    js = JobSet(dev, seed)
    await io.setup_channel(0, ring_base(0), 64)
    await io.write("irq_coal", count=count, timer=0)
    await io.write("int_enable", done=1)
    threshold = max(count, 1)
    pending, alloc = 0, Allocator()
    events = []
    for i, flag in enumerate(flags):
        (job,) = js.add([[0, alloc.take(length), alloc.take(length),
                          length, FLAG_INTERRUPT if flag else 0]])
        await run_jobs(dev, io, js, [job], f"descriptor {i}: ")
        await io.wait_idle(0)
        await dev.wait_cycles(4)
        signal = False
        if flag:
            pending += 1
            if pending >= threshold:
                pending, signal = 0, True
        done, _ = await int_status(io)
        assert bool(done & 1) == signal and dev.irq == signal, \
            (f"after descriptor {i} (flags {flags[:i + 1]}, count={count}): INT_STATUS.done="
             f"{done:#x}, irq={dev.irq}; expected {int(signal)}")
        if signal:
            events.append(i)
            await _clear_done(dev, io, 1, f"after descriptor {i}")
            await dev.wait_cycles(1)
            assert not dev.irq, f"after descriptor {i}: irq still high after W1C"
    # One doorbell for a whole batch: the interrupt comes after every count-th.
    base = await io.read("chan[0].descs")
    jobs = js.add([[0, alloc.take(length), alloc.take(length), length] for _ in range(batch)])
    for job in jobs:
        js.post(io, job)
    await io.doorbell(0)
    seen = []
    start = dev.cycle
    while len(seen) < batch // threshold:
        await dev.wait_cycles(1)
        if dev.irq:
            seen.append(await io.read("chan[0].descs") - base)
            await _clear_done(dev, io, 1, "batch")
        assert dev.cycle - start < 200_000, f"batch: interrupts after {seen} descriptors only"
    await wait_records(dev, io, jobs, 100_000, "batch: ")
    await io.wait_idle(0)
    await _irq_low_for(dev, 50, "batch, after the last interrupt")
    expected = [threshold * (k + 1) for k in range(batch // threshold)]
    assert seen == expected, \
        f"batch of {batch}, count={count}: interrupts seen at DESCS {seen}; expected {expected}"
    for job in jobs:
        check_record(io, job, Status.SUCCESS, job.len)
        js.expect_copy(job)
        js.expect_record(job, Status.SUCCESS, job.len)
    js.check("irq count coalescing")
    return {"stepwise_events": events, "batch_events": seen, **axi_summary(dev)}


async def _records_and_irq(dev, io, jobs, timeout):
    """Cycle by cycle until irq: (cycle each job's record appeared or None, irq cycle)."""
    seen = [None] * len(jobs)
    start = dev.cycle
    while not dev.irq:
        await dev.wait_cycles(1)
        for k, job in enumerate(jobs):
            if seen[k] is None and io.record(job.completion)[0] != Status.NOT_DONE:
                seen[k] = dev.cycle
        assert dev.cycle - start < timeout, f"no irq within {timeout} cycles; records at {seen}"
    return seen, dev.cycle


async def irq_timer_coalescing(dev, *, timer, length, seed=0):
    """IRQ_COAL.timer counts from the first unsignalled completion, not the latest.

    A: count high, two completions: irq `timer` cycles after the first one.
    B: count reached first: irq at once, and the timer then never fires.
    C: count=0 means every completion.
    """
    io = EngineIO(dev)
    js = JobSet(dev, seed)
    alloc = Allocator()
    await io.setup_channel(0, ring_base(0), 64)
    await io.write("int_enable", done=1)
    slack = 16
    # A: the timer.
    await io.write("irq_coal", count=16, timer=timer)
    jobs = js.add([[0, alloc.take(length), alloc.take(length), length] for _ in range(2)])
    for job in jobs:
        js.post(io, job)
    await io.doorbell(0)
    seen, irq_at = await _records_and_irq(dev, io, jobs, 100_000)
    first, second = seen
    assert first is not None and second is not None and first < second, \
        f"A: records at {seen}, irq at {irq_at}: both records should precede the irq"
    assert timer <= irq_at - first <= timer + slack, \
        (f"A: irq {irq_at - first} cycles after the first record (cycle {first}); expected "
         f"timer={timer} (+{slack} for the record's B and retirement)")
    assert irq_at - second < timer, \
        f"A: irq {irq_at - second} cycles after the second record: the timer restarted"
    await _clear_done(dev, io, 1, "A")
    await _irq_low_for(dev, 2 * timer, "A, after W1C (no new completion)")
    # A2: a lone completion restarts the timer.
    (job,) = js.add([[0, alloc.take(length), alloc.take(length), length]])
    js.post(io, job)
    await io.doorbell(0)
    (lone,), lone_irq = await _records_and_irq(dev, io, [job], 100_000)
    assert timer <= lone_irq - lone <= timer + slack, \
        f"A2: irq {lone_irq - lone} cycles after the record; expected {timer}"
    await _clear_done(dev, io, 1, "A2")
    jobs.append(job)
    # B: the count wins; the pending timer must be cancelled.
    await io.write("irq_coal", count=2, timer=4 * timer)
    more = js.add([[0, alloc.take(length), alloc.take(length), length] for _ in range(2)])
    for job in more:
        js.post(io, job)
    await io.doorbell(0)
    seen_b, irq_b = await _records_and_irq(dev, io, more, 100_000)
    assert seen_b[1] is not None and irq_b - seen_b[1] <= slack, \
        f"B: irq at {irq_b}, records at {seen_b}; expected right after the second (count=2)"
    await _clear_done(dev, io, 1, "B")
    await _irq_low_for(dev, 4 * timer + 100, "B, after W1C (the timer must have been cancelled)")
    jobs += more
    # C: count=0 acts like 1.
    await io.write("irq_coal", count=0, timer=0)
    (job,) = js.add([[0, alloc.take(length), alloc.take(length), length]])
    js.post(io, job)
    await io.doorbell(0)
    (rec_c,), irq_c = await _records_and_irq(dev, io, [job], 100_000)
    assert irq_c - rec_c <= slack, f"C: irq {irq_c - rec_c} cycles after the record (count=0)"
    await _clear_done(dev, io, 1, "C")
    jobs.append(job)
    for job in jobs:
        check_record(io, job, Status.SUCCESS, job.len)
        js.expect_copy(job)
        js.expect_record(job, Status.SUCCESS, job.len)
    js.check("irq timer coalescing")
    return {"a_latency": irq_at - first, "a2_latency": lone_irq - lone,
            "b_latency": irq_b - seen_b[1], "c_latency": irq_c - rec_c, **axi_summary(dev)}


def _record_w_cycle(dev, job, beat):
    """Cycle of the W beat that wrote job's completion record."""
    addr = record_beat(job.completion, beat)
    index = max(i for i, (_, ident, a, _) in enumerate(dev.axi.aw_log) if ident == 1 and a == addr)
    return next(cycle for cycle, aw in dev.axi.w_log if aw == index)


async def irq_timer_expiry_race(dev, *, length, spread=3, seed=0):
    """A completion retiring in the very cycle the coalescing timer expires.

    Calibrate the retirement gap g of two back-to-back descriptors A, B; then,
    for timer T in g-spread..g+spread (count high): post A, B, take the
    interrupt (the timer, started by A), clear it; post a lone C: it is the
    first unsignalled completion, so the interrupt must follow it within
    T (+slack) cycles, whatever B's timing relative to the expiry was.
    """
    params = engine_params(dev)
    io = EngineIO(dev)
    js = JobSet(dev, seed)
    alloc = Allocator()
    await io.setup_channel(0, ring_base(0), 256)
    await io.write("int_enable", done=1)
    await io.write("irq_coal", count=1, timer=0)

    def pair():
        return js.add([[0, alloc.take(length), alloc.take(length), length] for _ in range(2)])
    a, b = pair()
    await run_jobs(dev, io, js, [a, b], "calibration: ")
    await io.wait_idle(0)
    gap = _record_w_cycle(dev, b, params.beat_bytes) - _record_w_cycle(dev, a, params.beat_bytes)
    await _clear_done(dev, io, 1, "calibration")
    slack = 16
    rounds = []
    for timer in range(max(1, gap - spread), gap + spread + 1):
        what = f"timer={timer} (A-B retirement gap {gap} in calibration): "
        await io.write("irq_coal", count=200, timer=timer)
        a, b = pair()
        for job in (a, b):
            js.post(io, job)
        await io.doorbell(0)
        seen, irq_at = await _records_and_irq(dev, io, [a, b], 100_000)
        await wait_records(dev, io, [a, b], 100_000, what)
        this_gap = (_record_w_cycle(dev, b, params.beat_bytes)
                    - _record_w_cycle(dev, a, params.beat_bytes))
        # One interrupt if B retired before A's timer expired, else one more for B.
        interrupts, quiet_from = 0, dev.cycle
        while dev.cycle - quiet_from < timer + slack:
            if dev.irq:
                interrupts += 1
                await _clear_done(dev, io, 1, what)
                quiet_from = dev.cycle
            await dev.wait_cycles(1)
        assert 1 <= interrupts <= 2, f"{what}{interrupts} interrupts for A and B"
        (c,) = js.add([[0, alloc.take(length), alloc.take(length), length]])
        js.post(io, c)
        await io.doorbell(0)
        await wait_records(dev, io, [c], 100_000, what, poll=1)
        record_c = dev.cycle
        fired = await dev.wait_irq(timer + slack)
        assert fired, \
            (f"{what}no interrupt within {timer + slack} cycles of C's record (cycle "
             f"{record_c}): C, the first unsignalled completion, is never signalled by the "
             f"timer (A/B gap this round {this_gap}, A/B irq at cycle {irq_at}, records at "
             f"{seen})")
        await _clear_done(dev, io, 1, what)
        rounds.append([timer, this_gap, interrupts, dev.cycle - record_c])
        for job in (a, b, c):
            js.expect_copy(job)
            js.expect_record(job, Status.SUCCESS, job.len)
    assert any(timer == g for timer, g, _, _ in rounds), \
        f"no round had the timer equal to the A/B gap: {rounds} (calibration failed)"
    js.check("irq timer expiry race")
    return {"gap": gap, "rounds": rounds, **axi_summary(dev)}


async def irq_enable_and_clear(dev, *, length, seed=0):
    """INT_ENABLE masks irq (not INT_STATUS); W1C clears only the bits written 1.

    Done bits of channels 0 and 1, and the error bit of channel 2 (a
    zero-length descriptor), then reset of channel 2 and a fresh job there.
    """
    params = engine_params(dev)
    assert params.channels >= 3, "irq_enable_and_clear needs 3 channels"
    io = EngineIO(dev)
    js = JobSet(dev, seed)
    alloc = Allocator()
    for ch in range(3):
        await io.setup_channel(ch, ring_base(ch), 16)
    await io.write("int_enable", 0)
    jobs = js.add([[ch, alloc.take(length), alloc.take(length), length] for ch in (0, 1)])
    await run_jobs(dev, io, js, jobs, "done: ")
    for ch in (0, 1):
        await io.wait_idle(ch)
    await dev.wait_cycles(2)
    done, error = await int_status(io)
    assert (done, error) == (0b11, 0), \
        f"INT_STATUS done={done:#x} error={error:#x}; expected 0x3, 0"
    await _irq_low_for(dev, 20, "everything masked")
    await io.write("int_enable", done=0b10)
    await dev.wait_cycles(2)
    assert dev.irq, "irq low with INT_STATUS.done bit 1 pending and enabled"
    await io.write("int_status", done=0b01)     # clears bit 0 only
    await dev.wait_cycles(2)
    done, _ = await int_status(io)
    assert done == 0b10 and dev.irq, f"after W1C of bit 0: done={done:#x}, irq={dev.irq}"
    await io.write("int_status", 0)             # writing 0 clears nothing
    await dev.wait_cycles(2)
    done, _ = await int_status(io)
    assert done == 0b10 and dev.irq, f"after writing 0: done={done:#x}, irq={dev.irq}"
    await io.write("int_status", done=0b10)
    await dev.wait_cycles(2)
    done, _ = await int_status(io)
    assert done == 0 and not dev.irq, f"after W1C of bit 1: done={done:#x}, irq={dev.irq}"
    # Error interrupt of channel 2, masked first.
    (bad,) = js.add([[2, alloc.take(length), alloc.take(length), 0]])
    js.post(io, bad)
    await io.doorbell(2)
    await io.wait_idle(2)
    await dev.wait_cycles(2)
    check_record(io, bad, Status.ZERO_LENGTH, 0)
    js.expect_record(bad, Status.ZERO_LENGTH, 0)
    done, error = await int_status(io)
    assert error == 0b100, f"INT_STATUS.error={error:#x}; expected 0x4 (channel 2)"
    assert not dev.irq, "irq high with only a masked error pending"
    await io.write("int_enable", error=0b100)
    await dev.wait_cycles(2)
    assert dev.irq, "irq low with the channel-2 error pending and enabled"
    await io.write("int_status", error=0b100)
    await dev.wait_cycles(2)
    assert not dev.irq, "irq still high after W1C of the error bit"
    await check_channel(io, 2, head=0, code=Status.ZERO_LENGTH)
    await io.write("int_enable", 0)
    after = [[2, alloc.take(length), alloc.take(length), length]]
    await _reset_and_reuse(dev, io, js, 2, after, "channel 2: ")
    js.check("irq enable and clear")
    return axi_summary(dev)


async def fence_waits(dev, *, jobs, fence, control, seed=0):
    """A FENCE descriptor's first data read comes after the earlier records were written.

    jobs    -- one channel's jobs, posted with one doorbell; jobs[fence] has FENCE.
    control -- index of a later job without FENCE: its first read must come
               before its predecessor's record (so the check can see overlap).
    """
    params = engine_params(dev)
    io = EngineIO(dev)
    js = JobSet(dev, seed)
    items = js.add(jobs)
    assert items[fence].flags & FLAG_FENCE and not items[control].flags & FLAG_FENCE
    await io.setup_channel(0, ring_base(0), 64)
    await run_jobs(dev, io, js, items, "fence: ")
    await io.wait_idle(0)
    reads, _, records = check_bursts(dev, items, params)
    w_cycles = {}
    for cycle, aw_index in dev.axi.w_log:
        w_cycles.setdefault(aw_index, cycle)
    record_w = {}
    aw_index_of = {}
    for i, (cycle, ident, addr, _) in enumerate(dev.axi.aw_log):
        if ident == 1:
            aw_index_of[addr] = i
    for job in items:
        record_w[job.n] = w_cycles[aw_index_of[record_beat(job.completion, params.beat_bytes)]]
    fence_read = reads[fence][0][0]
    earlier = max(record_w[n] for n in range(fence))
    assert fence_read > earlier, \
        (f"FENCE {items[fence]}: first data read at cycle {fence_read}, but an earlier "
         f"record was written at cycle {earlier} (records at "
         f"{[record_w[n] for n in range(fence)]})")
    control_read = reads[control][0][0]
    previous = record_w[control - 1]
    assert control_read < previous, \
        (f"control {items[control]} without FENCE: first read at {control_read}, not before "
         f"its predecessor's record at {previous}: the test cannot see a fence")
    js.check("fence")
    return {"fence_read": fence_read, "earlier_records": earlier, "control_read": control_read,
            "control_previous_record": previous, **axi_summary(dev)}


# --------------------------------------------------------------------------
# Test-side builders (plain functions): kwargs and memory configs
# --------------------------------------------------------------------------

class Allocator:
    """Offsets from DATA for sources and destinations, GUARD-separated.

    ``take(length, page_offset)`` returns an offset that is page_offset past a
    4 KiB boundary (negative: before it), with GUARD free bytes either side.
    """

    def __init__(self, start=0):
        self.cursor = start

    def take(self, length, page_offset=0):
        base = -(-(self.cursor + GUARD + max(0, -page_offset)) // AXI_BOUNDARY_BYTES) \
            * AXI_BOUNDARY_BYTES
        offset = base + page_offset
        self.cursor = offset + length + GUARD
        return offset


def extent(*job_lists):
    """Bytes of DATA the jobs use, guards included."""
    return max(max(src + length, dst + length + GUARD)
               for jobs in job_lists for _, src, dst, length, *_ in jobs) + GUARD


def crossing_jobs(params, length=None):
    """Jobs whose src and dst sit -beat, 0 or +beat from a 4 KiB boundary (all 9 pairs)."""
    beat = params.beat_bytes
    length = length or 2 * AXI_BOUNDARY_BYTES + 3 * beat
    alloc, jobs = Allocator(), []
    for s in (-beat, 0, beat):
        for d in (-beat, 0, beat):
            jobs.append([0, alloc.take(length, AXI_BOUNDARY_BYTES + s),
                         alloc.take(length, AXI_BOUNDARY_BYTES + d), length])
    return jobs


def length_jobs(params, channel=0):
    """One job per interesting length: 1..3 beats, around a burst, around 4 KiB."""
    beat = params.beat_bytes
    burst = params.burst_beats_max * beat
    lengths = sorted({beat, 2 * beat, 3 * beat, burst - beat, burst, burst + beat,
                      AXI_BOUNDARY_BYTES - beat, AXI_BOUNDARY_BYTES, AXI_BOUNDARY_BYTES + beat,
                      3 * AXI_BOUNDARY_BYTES + 5 * beat} - {0})
    alloc = Allocator()
    return [[channel, alloc.take(n), alloc.take(n), n] for n in lengths]


def spread_jobs(params, per_channel, length, channels=None):
    """per_channel jobs of `length` on each channel, dealt round-robin."""
    channels = channels or params.channels
    alloc = Allocator()
    return [[k % channels, alloc.take(length, (k * 7 * params.beat_bytes) % 4096),
             alloc.take(length, (k * 3 * params.beat_bytes) % 4096), length]
            for k in range(per_channel * channels)]


def error_case(kind, params, where="middle"):
    """(kwargs of error_halts_channel, error_regions) for one kind of ERRORS.

    Channel 0: four jobs of 16 bursts, job 1 fails; every other channel: two
    jobs of the same size, posted at the same time. where -- for read/write
    errors, the erroneous beat: "first" beat, "middle" (second beat of the
    sixth burst) or "last" beat of the descriptor.
    """
    beat = params.beat_bytes
    burst = params.burst_beats_max * beat
    length = 16 * burst
    alloc = Allocator()
    jobs = [[0, alloc.take(length), alloc.take(length), length] for _ in range(4)]
    for ch in range(1, params.channels):
        jobs += [[ch, alloc.take(length), alloc.take(length), length] for _ in range(2)]
    bad = 1
    src, dst = DATA + jobs[bad][1], DATA + jobs[bad][2]
    error_at, record_offset, regions = None, 0, []
    err_offset = {"first": 0, "middle": 5 * burst + beat, "last": length - beat}[where]
    if kind in ("read_slverr", "read_decerr"):
        error_at = src + err_offset
        regions = [[error_at, error_at + beat, "read", kind[-6:].upper()]]
    elif kind in ("write_slverr", "write_decerr"):
        error_at = dst + err_offset
        regions = [[error_at, error_at + beat, "write", kind[-6:].upper()]]
    elif kind == "zero_length":
        jobs[bad][3] = 0
    elif kind == "src_misaligned":
        jobs[bad][1] += 4
    elif kind == "dst_misaligned":
        jobs[bad][2] += 4
    elif kind == "len_misaligned":
        jobs[bad][3] -= 4
    elif kind == "desc_read_error":
        # Only the first 8 bytes: at 64 bits the error is on the first of 4 beats.
        slot = ring_base(0) + bad * DESC_BYTES
        regions = [[slot, slot + 8, "read", "SLVERR"]]
    elif kind == "record_misaligned":
        record_offset = 4
    elif kind == "record_write_error":
        regions = [[record_addr(bad), record_addr(bad) + RECORD_BYTES, "write", "SLVERR"]]
    else:
        raise ValueError(f"unknown error kind {kind!r}")
    after_reset = [[0, alloc.take(4 * burst), alloc.take(4 * burst), 4 * burst]]
    kwargs = {"kind": kind, "jobs": jobs, "bad": bad, "after_reset": after_reset,
              "error_at": error_at, "record_offset": record_offset}
    return kwargs, regions


def abort_case(params):
    """kwargs of abort_mid_batch / reset_while_busy: channel 0 five long jobs,
    channel 1 three (abort_mid_batch ignores after_abort)."""
    beat = params.beat_bytes
    length = 32 * params.burst_beats_max * beat
    alloc = Allocator()
    jobs = [[0, alloc.take(length, 3 * beat), alloc.take(length), length] for _ in range(5)]
    jobs += [[1, alloc.take(length // 2), alloc.take(length // 2), length // 2]
             for _ in range(3)]
    after_reset = [[0, alloc.take(8 * beat), alloc.take(8 * beat), 8 * beat]
                   for _ in range(3)]
    after_abort = [[0, alloc.take(8 * beat), alloc.take(8 * beat), 8 * beat]]
    return {"jobs": jobs, "after_reset": after_reset, "after_abort": after_abort}


def fence_case(params):
    """kwargs of fence_waits: A0, A1, FENCE, B, C (C the unfenced control)."""
    beat = params.beat_bytes
    long, short = 64 * beat, 16 * beat
    alloc = Allocator()
    lengths = (long, long, short, long, short)
    jobs = [[0, alloc.take(n), alloc.take(n), n, FLAG_INTERRUPT] for n in lengths]
    jobs[2][4] |= FLAG_FENCE
    return {"jobs": jobs, "fence": 2, "control": 4}


def random_case(seed, params):
    """(kwargs of ring_feed, memory timing) drawn from seed: lengths, places, channels."""
    rng = random.Random(seed)
    beat = params.beat_bytes
    max_beats = min(384, 3 * AXI_BOUNDARY_BYTES // beat)
    alloc = Allocator()
    jobs = []
    for _ in range(rng.randint(6, 14)):
        length = beat * rng.randint(1, max_beats)
        jobs.append([rng.randrange(params.channels),
                     alloc.take(length, rng.randrange(0, AXI_BOUNDARY_BYTES, beat)),
                     alloc.take(length, rng.randrange(0, AXI_BOUNDARY_BYTES, beat)), length])
    kwargs = {"jobs": jobs, "ring_size": rng.randint(2, 8), "batch": rng.randint(1, 4),
              "seed": seed}
    timing = {"read_latency": rng.randint(1, 8), "write_latency": rng.randint(1, 8),
              "backpressure": rng.choice([0.0, 0.1, 0.3, 0.5]), "seed": seed}
    return kwargs, timing


def memory_for(jobs_lists, timing=None, error_regions=()):
    """memory_config covering the jobs, with timing and error regions."""
    config = memory_config(extent(*jobs_lists), **(timing or {}))
    if error_regions:
        config["error_regions"] = [list(r) for r in error_regions]
    return config
