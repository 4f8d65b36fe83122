"""The descriptor fetcher alone, in Amaranth's simulator.

A small ring memory answers the fetcher's reads in order after a latency, with
random AR and descriptor-queue backpressure; checked: every descriptor comes
out once, in ring order per channel, with the bytes the ring holds (across ring
wrap-around, for beats narrower, equal and wider than a descriptor), no more
than ``prefetch_depth`` are fetched ahead, channels take turns, each comes with
the check it fails (a failed read, a bad field; :func:`reference.descriptor_check`),
and a disabled channel is not fetched from.
"""
from collections import deque

import pytest

from hw.axi import RESP_OKAY, RESP_SLVERR
from hw.descriptor import DESC_BYTES, DESC_FIELDS, Status, pack_descriptor
from hw.fetcher import DescriptorFetcher
from hw.params import EngineParams
from tests.hw.reference import descriptor_check
from tests.hw.rtl_bench import StageBench

PARAMS = {
    "w64x3": EngineParams(data_width=64, channels=3, max_burst=16, buffer_depth=64,
                          prefetch_depth=2),
    "w256x2": EngineParams(data_width=256, channels=2),
    "w512x2": EngineParams(data_width=512, channels=2, prefetch_depth=3),
}
TIMEOUT = 20_000
FIELDS = tuple(name for name, _, _ in DESC_FIELDS)


def ring_base(ch):
    return 0x10_0000 + ch * 0x1_0000


class FetcherBench(StageBench):
    """Rings in a byte memory and a read port with ``latency`` cycles, in order.

    ``tails``: each channel's TAIL, below ``ring_size`` (entries 0..TAIL-1 hold
    work). ``refill``: (ch, count): once everything is out, the driver writes
    ``count`` more entries after ch's TAIL, wrapping around, and moves TAIL.
    ``bad``: beat addresses whose read returns SLVERR. ``disabled``:
    channels with ``enable`` low. ``pressure``: probability that AR or the
    descriptor consumer refuses in a cycle; ``stall``: the consumer never takes.
    ``changes``: {(ch, index): {field: value}} written over those entries' fields.
    """

    def __init__(self, params, tails, *, ring_size=8, latency=5, pressure=0.0, seed=0,
                 bad=(), disabled=(), refill=None, stall=False, changes=None):
        assert all(tail < ring_size for tail in tails)
        self.params = params
        super().__init__(DescriptorFetcher(params), pressure=pressure, seed=seed)
        self.tails = list(tails)
        self.ring_size = ring_size
        self.latency = latency
        self.bad = set(bad)
        self.disabled = set(disabled)
        self.refill = refill
        self.stall = stall
        self.memory = {}
        self.expected = {ch: [] for ch in range(params.channels)}   # fields, in order
        for ch, tail in enumerate(tails):
            for index in range(tail):
                self.put(ch, index, generation=0, **(changes or {}).get((ch, index), {}))
        self.out = []                          # (cycle, ch, fields, check)
        self.fetches = []                      # (cycle, addr)
        self.max_ahead = 0

    def put(self, ch, index, generation, **changes):
        """Write a recognizable descriptor into ring entry ``index`` of ``ch`` (valid
        at every beat size, unless ``changes`` says otherwise)."""
        tag = (generation << 12) | (ch << 8) | index
        fields = dict(zip(FIELDS, (0x1000_0000 + tag * 64, 0x2000_0000 + tag * 64,
                                   64 * (tag + 1), tag & 3, 0x3000_0000 + tag * 8)))
        fields.update(changes)
        self.expected[ch].append(fields)
        addr = ring_base(ch) + index * DESC_BYTES
        for i, byte in enumerate(pack_descriptor(*(fields[name] for name in FIELDS))):
            self.memory[addr + i] = byte

    def read_beat(self, addr):
        beat = self.params.beat_bytes
        return int.from_bytes(bytes(self.memory.get(addr + i, 0) for i in range(beat)), "little")

    def _set_tails(self, ctx):
        for ch, tail in enumerate(self.tails):
            ctx.set(self.dut.tail[ch], tail)

    async def _bench(self, ctx):
        dut, p = self.dut, self.params
        beat = p.beat_bytes
        for ch in range(p.channels):
            ctx.set(dut.ring_base[ch], ring_base(ch))
            ctx.set(dut.ring_size[ch], self.ring_size)
            ctx.set(dut.enable[ch], ch not in self.disabled)
        self._set_tails(ctx)
        expected = sum(len(self.expected[ch]) for ch in range(p.channels)
                       if ch not in self.disabled)
        requests = deque()                     # [due cycle, beat addr, beats left]
        ahead = 0
        for cycle in range(TIMEOUT):
            if len(self.out) == expected and not requests and cycle > 50:
                if not self.refill:
                    return
                ch, count = self.refill
                self.refill = None
                for i in range(count):
                    self.put(ch, (self.tails[ch] + i) % self.ring_size, generation=1)
                self.tails[ch] = (self.tails[ch] + count) % self.ring_size
                self._set_tails(ctx)
                expected += count
            if self.stall and cycle == 200:
                return
            ctx.set(dut.ar.ready, not self.refuse())
            ctx.set(dut.desc.ready, not self.stall and not self.refuse())
            r_valid = bool(requests) and requests[0][0] <= cycle
            ctx.set(dut.r.valid, r_valid)
            if r_valid:
                request = requests[0]
                addr = request[1]
                ctx.set(dut.r.payload.data, self.read_beat(addr))
                ctx.set(dut.r.payload.resp, RESP_SLVERR if addr in self.bad else RESP_OKAY)
                ctx.set(dut.r.payload.last, request[2] == 1)
                request[1] += beat
                request[2] -= 1
                if not request[2]:
                    requests.popleft()
            if ctx.get(dut.ar.valid) and ctx.get(dut.ar.ready):
                addr = ctx.get(dut.ar.payload.addr)
                self.fetches.append((cycle, addr))
                requests.append([cycle + self.latency, addr, ctx.get(dut.ar.payload.len) + 1])
            ahead += bin(ctx.get(dut.issued)).count("1")
            if ctx.get(dut.desc.valid) and ctx.get(dut.desc.ready):
                payload = dut.desc.payload
                self.out.append((cycle, ctx.get(payload.ch),
                                 {name: ctx.get(getattr(payload, name)) for name in FIELDS},
                                 ctx.get(payload.check)))
                ahead -= 1
            self.max_ahead = max(self.max_ahead, ahead)
            await ctx.tick()
        raise AssertionError(f"{len(self.out)} of {expected} descriptors after {TIMEOUT} cycles")

    def by_channel(self, ch):
        return [(fields, check) for _, c, fields, check in self.out if c == ch]


def channel_of(addr):
    return (addr - ring_base(0)) // 0x1_0000


@pytest.mark.parametrize("pname", PARAMS)
@pytest.mark.parametrize("pressure", (0.0, 0.4))
def test_descriptors_in_ring_order_with_their_bytes(pname, pressure):
    params = PARAMS[pname]
    tails = [5, 7, 3][:params.channels]
    bench = FetcherBench(params, tails, pressure=pressure, seed=params.channels).run()
    for ch in range(params.channels):
        assert bench.by_channel(ch) == [(fields, 0) for fields in bench.expected[ch]]
    assert bench.max_ahead <= params.prefetch_depth


@pytest.mark.parametrize("pname", PARAMS)
def test_ring_wraps_around(pname):
    """TAIL moved past the ring's end: entries 5..7, then 0..2 again, new content."""
    params = PARAMS[pname]
    bench = FetcherBench(params, [5] + [0] * (params.channels - 1), refill=(0, 6),
                         pressure=0.2, seed=1).run()
    assert len(bench.expected[0]) == 11
    assert bench.by_channel(0) == [(fields, 0) for fields in bench.expected[0]]
    # Each fetch reads the beat that holds the entry (two entries per 512-bit beat).
    per_beat = max(1, params.beat_bytes // DESC_BYTES)
    ring = [(addr - ring_base(0)) // DESC_BYTES for _, addr in bench.fetches]
    assert ring == [i - i % per_beat for i in (0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2)]


def test_prefetch_limit_holds_with_a_stalled_consumer():
    """With the consumer never ready, exactly prefetch_depth descriptors are fetched."""
    params = PARAMS["w512x2"]
    bench = FetcherBench(params, [6, 6], stall=True).run()
    assert len(bench.fetches) == params.prefetch_depth == bench.max_ahead
    assert bench.out == []


def test_channels_take_turns():
    """Every channel with work gets the next fetch in turn (round-robin)."""
    params = PARAMS["w64x3"]
    bench = FetcherBench(params, [4, 4, 4], latency=1).run()
    channels = [channel_of(addr) for _, addr in bench.fetches]
    assert len(channels) == 12
    assert all(b == (a + 1) % 3 for a, b in zip(channels, channels[1:]))


@pytest.mark.parametrize("pname", ("w64x3", "w256x2"))
@pytest.mark.parametrize("beat", ("first", "last"))
def test_failed_read_marks_its_descriptor_only(pname, beat):
    """SLVERR on the first or the last beat of entry 1 of channel 0 (one beat per
    descriptor at 256 bits, four at 64)."""
    params = PARAMS[pname]
    entry = ring_base(0) + 1 * DESC_BYTES
    bad = entry if beat == "first" else entry + DESC_BYTES - params.beat_bytes
    bench = FetcherBench(params, [4, 2], bad={bad}, pressure=0.3, seed=3).run()
    assert [check for _, check in bench.by_channel(0)] == [0, Status.DESC_READ_ERROR, 0, 0]
    assert [check for _, check in bench.by_channel(1)] == [0, 0]
    assert bench.by_channel(0)[2][0] == bench.expected[0][2]


def test_disabled_channel_is_not_fetched():
    params = PARAMS["w256x2"]
    bench = FetcherBench(params, [3, 3], disabled={1}).run()
    assert {channel_of(addr) for _, addr in bench.fetches} == {0}
    assert bench.by_channel(1) == []


#: Field changes that fail one check each, and one that fails two (the first wins).
BAD_FIELDS = (
    {"completion": 0x3000_0004},
    {"len": 0},
    {"src": 0x1000_0004},
    {"dst": 0x2000_0004},
    {"len": 4096 + 4},
    {"len": 0, "src": 0x1000_0004},
    {"completion": 0x3000_0001, "dst": 0x2000_0004, "len": 0},
)


@pytest.mark.parametrize("pname", PARAMS)
def test_each_descriptor_carries_the_first_check_it_fails(pname):
    """Descriptors failing checks between good ones: each comes out with the code
    of its first failed check (the reference model's), the good ones with 0."""
    params = PARAMS[pname]
    changes = {(0, 1 + 2 * i): bad for i, bad in enumerate(BAD_FIELDS)}
    bench = FetcherBench(params, [2 * len(BAD_FIELDS) + 1], ring_size=16, changes=changes,
                         pressure=0.3, seed=7).run()
    checks = [check for _, check in bench.by_channel(0)]
    expected = [descriptor_check(fields, params.beat_bytes) for fields in bench.expected[0]]
    assert checks == expected
    assert [code for code in expected[1::2]] == [
        Status.RECORD_MISALIGNED, Status.ZERO_LENGTH, Status.SRC_MISALIGNED,
        Status.DST_MISALIGNED, Status.LEN_MISALIGNED, Status.ZERO_LENGTH,
        Status.RECORD_MISALIGNED]
    assert not any(expected[0::2])
