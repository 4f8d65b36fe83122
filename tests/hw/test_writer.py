"""The write port alone, in Amaranth's simulator, against a reference of its contract.

The bench plays the legalizer (a job queue), the read/write buffer (beats that
arrive at a random rate) and an AXI write slave (random AWREADY/WREADY, B
responses in order after a random delay, error responses at chosen addresses).
Checked: every data burst writes its buffered beats in order (an errored beat
with no strobes), every descriptor's record holds the status and byte count of
:func:`outcome` in its lane (:func:`tests.hw.reference.record_write`) and is
written only after all its data writes were acknowledged, descriptors retire in order, a failed channel's later descriptors
are dropped until ``clear``, and no more than ``outstanding_writes`` writes are
open.
"""
import random
from collections import deque

import pytest

from hw.axi import RESP_DECERR, RESP_OKAY, RESP_SLVERR
from hw.descriptor import RECORD_BYTES, Status, unpack_record
from hw.params import EngineParams
from hw.writer import WritePort
from tests.hw.reference import copy_outcome, record_write
from tests.hw.rtl_bench import StageBench

PARAMS = {
    "w64x2": EngineParams(data_width=64, channels=2, max_burst=16, buffer_depth=64,
                          outstanding_writes=2),
    "w256x2": EngineParams(data_width=256, channels=2, max_burst=16, buffer_depth=64),
}
TIMEOUT = 20_000


class Descriptor:
    """A descriptor as the legalizer hands it over: bursts of ``beats`` to ``dst``
    and on, or (``bursts`` empty) an END with ``code`` and ``record``."""

    def __init__(self, ch, dst, bursts, completion, irq=1, code=0, record=1,
                 read_errors=None):
        self.ch, self.dst, self.bursts, self.completion = ch, dst, list(bursts), completion
        self.irq, self.code, self.record = irq, code, record
        self.read_errors = read_errors or {}    # (burst, beat) -> RRESP

    def jobs(self):
        if not self.bursts:
            return [dict(end=1, ch=self.ch, addr=0, beats=0, last=1, irq=self.irq,
                         completion=self.completion, code=self.code, record=self.record)]
        jobs, addr = [], self.dst
        for i, beats in enumerate(self.bursts):
            jobs.append(dict(end=0, ch=self.ch, addr=addr, beats=beats,
                             last=i == len(self.bursts) - 1, irq=self.irq,
                             completion=self.completion, code=0, record=0))
            addr += beats * 0x100
        return jobs


def outcome(desc, beat_bytes, write_errors):
    """(status, bytes) the record must hold: an END's code, else the
    :func:`~tests.hw.reference.copy_outcome` of its bursts, each with the RRESP of
    its first errored beat and the BRESP of its AW address in write_errors."""
    if not desc.bursts:
        return Status(desc.code), 0
    read_errors = {}
    for (burst, _), resp in sorted(desc.read_errors.items()):
        read_errors.setdefault(burst, resp)
    addrs = [job["addr"] for job in desc.jobs()]
    return copy_outcome([beats * beat_bytes for beats in desc.bursts], read_errors,
                        {i: write_errors[addr] for i, addr in enumerate(addrs)
                         if addr in write_errors})


class WriterBench(StageBench):
    """Feeds descriptors' jobs and beats to a WritePort and serves its writes.

    ``write_errors``: {address: BRESP} for AW addresses. ``clear``: (mask, k): as
    software resets a failed channel before giving it more work, the descriptors
    from index k on are handed over only after all before them retired or were
    dropped and ``clear`` was pulsed with mask.
    """

    def __init__(self, params, descs, *, pressure=0.0, seed=0, write_errors=None,
                 clear=None):
        super().__init__(WritePort(params), pressure=pressure, seed=seed)
        self.params = params
        self.descs = descs
        self.write_errors = write_errors or {}
        self.clear = clear
        self.aws = []           # (cycle, id, addr, beats)
        self.ws = []            # (data, strb, last) per W beat
        self.bursts = []        # (id, addr, [(data, strb)]) per completed write
        self.b_cycles = {}      # index in bursts -> cycle its B was accepted
        self.retired = []       # (cycle, payload dict)
        self.dropped = []       # (cycle, mask)
        self.stops = []         # (cycle, mask)
        self.beats_sent = []    # (data, resp) in buffer order
        self.max_open = 0

    async def _bench(self, ctx):
        dut, p = self.dut, self.params
        clear_mask, held = self.clear or (0, len(self.descs))
        jobs, beats = deque(), deque()

        def hand_over(descs):
            for d in descs:
                jobs.extend(d.jobs())
                for i, n in enumerate(d.bursts):
                    for k in range(n):
                        data = (len(self.beats_sent) + len(beats) + 1) * 0x0101_0101
                        beats.append((data & ((1 << p.data_width) - 1),
                                      d.read_errors.get((i, k), RESP_OKAY)))
        hand_over(self.descs[:held])
        total = len(self.descs)
        buffered = deque()        # beats readable in the buffer
        arriving = None           # the beat written into the buffer this cycle
        aw_queue = deque()        # accepted AWs waiting for their W beats
        w_queue = deque()         # complete W bursts waiting for their AW
        w_beats = []
        b_queue = deque()         # (due cycle, id, resp, burst index)
        open_writes = 0
        for cycle in range(TIMEOUT):
            finished = len(self.retired) + len(self.dropped)
            if finished == total and not b_queue and ctx.get(dut.idle):
                return
            clearing = held < total and finished == held
            ctx.set(dut.clear, clear_mask if clearing else 0)
            if clearing:
                hand_over(self.descs[held:])
                held = total
            # The buffer: at most one beat arrives per cycle, readable the next.
            if arriving is not None:
                buffered.append(arriving)
                arriving = None
            if beats and not self.refuse():
                arriving = beats.popleft()
                self.beats_sent.append(arriving)
            ctx.set(dut.arrived, arriving is not None)
            ctx.set(dut.reads_in_flight, bool(beats))
            ctx.set(dut.buf.valid, bool(buffered))
            if buffered:
                ctx.set(dut.buf.payload.data, buffered[0][0])
                ctx.set(dut.buf.payload.resp, buffered[0][1])
            ctx.set(dut.job.valid, bool(jobs))
            if jobs:
                ctx.set(dut.job.payload, jobs[0])
            ctx.set(dut.aw.ready, not self.refuse())
            ctx.set(dut.w.ready, not self.refuse())
            b_due = bool(b_queue) and b_queue[0][0] <= cycle
            ctx.set(dut.b.valid, b_due)
            if b_due:
                ctx.set(dut.b.payload.id, b_queue[0][1])
                ctx.set(dut.b.payload.resp, b_queue[0][2])

            if ctx.get(dut.job.valid) and ctx.get(dut.job.ready):
                jobs.popleft()
            if ctx.get(dut.buf.valid) and ctx.get(dut.buf.ready):
                buffered.popleft()
            if ctx.get(dut.aw.valid) and ctx.get(dut.aw.ready):
                aw = (ctx.get(dut.aw.payload.id), ctx.get(dut.aw.payload.addr),
                      ctx.get(dut.aw.payload.len) + 1)
                self.aws.append((cycle, *aw))
                aw_queue.append(aw)
                open_writes += 1
            if ctx.get(dut.w.valid) and ctx.get(dut.w.ready):
                w_beats.append((ctx.get(dut.w.payload.data), ctx.get(dut.w.payload.strb)))
                if ctx.get(dut.w.payload.last):
                    w_queue.append(w_beats)
                    w_beats = []
            # AXI lets W lead AW: a write is complete once both are in.
            while aw_queue and w_queue:
                (wid, addr, n), beats_of = aw_queue.popleft(), w_queue.popleft()
                assert len(beats_of) == n, f"cycle {cycle}: {len(beats_of)} W beats for AWLEN+1={n}"
                self.bursts.append((wid, addr, beats_of))
                resp = self.write_errors.get(addr, RESP_OKAY)
                delay = self.rng.randrange(1, 6) if self.pressure else 1
                b_queue.append((cycle + delay, wid, resp, len(self.bursts) - 1))
            if b_due and ctx.get(dut.b.ready):
                self.b_cycles[b_queue.popleft()[3]] = cycle
                open_writes -= 1
            self.max_open = max(self.max_open, open_writes)
            if ctx.get(dut.retire.valid):
                payload = dut.retire.payload
                self.retired.append((cycle, {name: ctx.get(getattr(payload, name))
                                             for name in ("ch", "completion", "code", "bytes",
                                                          "irq", "record")}))
            self.log_pulses(ctx, cycle, {"dropped": self.dropped, "stop": self.stops})
            await ctx.tick()
        raise AssertionError(f"{len(self.retired)} retired, {len(self.dropped)} dropped "
                             f"of {total} after {TIMEOUT} cycles")

    def records(self):
        """{completion address: (AW address, strobes, record bytes, record write index)}
        of the written records, each at the address of the lane its strobes select."""
        out = {}
        for index, (wid, addr, beats) in enumerate(self.bursts):
            if wid != 1:
                continue
            ((data, strb),) = beats
            lane = (strb.bit_length() - 1) // RECORD_BYTES * RECORD_BYTES
            assert strb == ((1 << RECORD_BYTES) - 1) << lane, f"strobes {strb:#x}"
            raw = data.to_bytes(self.params.beat_bytes, "little")[lane:lane + RECORD_BYTES]
            out[addr + lane] = (addr, strb, raw, index)
        return out


def check(bench, descs, dropped=()):
    """Data written as buffered, records and retirements as :func:`outcome` says."""
    p = bench.params
    beat_bytes = p.beat_bytes
    every = (1 << beat_bytes) - 1
    data_bursts = [(addr, beats) for wid, addr, beats in bench.bursts if wid == 0]
    written = [beat for _, beats in data_bursts for beat in beats]
    assert written == [(data, every if resp == RESP_OKAY else 0)
                       for data, resp in bench.beats_sent]
    assert [addr for addr, _ in data_bursts] == \
        [job["addr"] for d in descs for job in d.jobs() if not job["end"]]
    records = bench.records()
    kept = [d for i, d in enumerate(descs) if i not in dropped]
    assert [r["completion"] for _, r in bench.retired] == [d.completion for d in kept]
    for (_, retired), d in zip(bench.retired, kept):
        status, nbytes = outcome(d, beat_bytes, bench.write_errors)
        code = 0 if status is Status.SUCCESS else status
        assert (retired["ch"], retired["code"], retired["irq"]) == (d.ch, code, d.irq)
        if not (d.bursts or d.record):
            assert d.completion not in records
            continue
        assert d.completion in records, f"descriptor {d.completion:#x}: no record written"
        got, want = records[d.completion][:3], record_write(d.completion, status, nbytes,
                                                            beat_bytes)
        assert got == want, \
            (f"descriptor {d.completion:#x}: record {unpack_record(got[2])} at {got[0]:#x} "
             f"strobes {got[1]:#x}; expected {unpack_record(want[2])} at {want[0]:#x} "
             f"strobes {want[1]:#x}")
        # Its record went out only after every data write of the descriptor was
        # answered (AWs and completed bursts are in the same order).
        record_aw_cycle = bench.aws[records[d.completion][3]][0]
        addrs = {job["addr"] for job in d.jobs()}
        mine = [i for i, (wid, addr, _) in enumerate(bench.bursts) if wid == 0 and addr in addrs]
        assert all(bench.b_cycles[i] < record_aw_cycle for i in mine)
    assert len(records) == sum(1 for d in kept if d.bursts or d.record)
    assert bench.max_open <= p.outstanding_writes


def data_descs(count, channels, seed):
    rng = random.Random(seed)
    return [Descriptor(ch=i % channels, dst=0x10_0000 * (i + 1),
                       bursts=[rng.choice((1, 2, 5, 16)) for _ in range(rng.randrange(1, 4))],
                       completion=0x8000_0000 + 8 * i, irq=rng.randrange(2))
            for i in range(count)]


@pytest.mark.parametrize("pname", PARAMS)
@pytest.mark.parametrize("pressure", (0.0, 0.4))
def test_bursts_records_and_retirement(pname, pressure):
    params = PARAMS[pname]
    descs = data_descs(12, params.channels, seed=int(pressure * 10))
    bench = WriterBench(params, descs, pressure=pressure, seed=7).run()
    check(bench, descs)
    assert not bench.dropped and not bench.stops


@pytest.mark.parametrize("resp", (RESP_SLVERR, RESP_DECERR))
def test_read_error_fails_the_descriptor_and_drops_the_channel(resp):
    """A beat read with an error in the second burst: written without strobes,
    the channel stopped, the record READ_* with the first burst's bytes; the
    channel's next descriptor is dropped, the other channel's is not; after
    ``clear`` the channel is served again."""
    params = PARAMS["w64x2"]
    descs = [Descriptor(0, 0x10_0000, [4, 4, 4], 0x8000_0000, read_errors={(1, 2): resp}),
             Descriptor(1, 0x20_0000, [4], 0x8000_0008),
             Descriptor(0, 0x30_0000, [4], 0x8000_0010),
             Descriptor(0, 0x40_0000, [2], 0x8000_0018)]
    bench = WriterBench(params, descs, pressure=0.3, seed=2, clear=(0b01, 3)).run()
    check(bench, descs, dropped={2})
    assert [mask for _, mask in bench.dropped] == [0b01]
    assert 0b01 in {mask for _, mask in bench.stops}


def test_write_error_fails_the_descriptor():
    params = PARAMS["w256x2"]
    descs = [Descriptor(0, 0x10_0000, [2, 2], 0x8000_0000),
             Descriptor(1, 0x20_0000, [2, 2], 0x8000_0008)]
    bench = WriterBench(params, descs, write_errors={0x20_0200: RESP_DECERR}).run()
    check(bench, descs)
    assert bench.retired[1][1]["code"] == Status.WRITE_DECERR


@pytest.mark.parametrize("record", (0, 1))
def test_end_without_data(record):
    """An END from the legalizer (a bad descriptor) retires with its code, with a
    record only if it may have one, in order with the data descriptors, and fails
    its channel: the channel's next descriptor is dropped."""
    params = PARAMS["w64x2"]
    descs = [Descriptor(0, 0x10_0000, [3], 0x8000_0000),
             Descriptor(1, 0, [], 0x8000_0008, code=Status.ZERO_LENGTH, record=record),
             Descriptor(0, 0x30_0000, [3], 0x8000_0010),
             Descriptor(1, 0x40_0000, [3], 0x8000_0018)]
    bench = WriterBench(params, descs, pressure=0.2, seed=4).run()
    check(bench, descs, dropped={3})
    assert [mask for _, mask in bench.dropped] == [0b10]


def test_failed_record_write_is_reported():
    params = PARAMS["w64x2"]
    descs = [Descriptor(0, 0x10_0000, [2], 0x8000_0000)]
    bench = WriterBench(params, descs, write_errors={0x8000_0000: RESP_SLVERR}).run()
    assert bench.retired[0][1]["code"] == Status.RECORD_WRITE_ERROR
    assert 0b01 in {mask for _, mask in bench.stops}
