"""The prefetching FIFO alone, in Amaranth's simulator: order, latency, rate, fullness."""
from collections import deque

import pytest

from hw.fifo import PrefetchFifo
from tests.hw.rtl_bench import StageBench

TIMEOUT = 5_000


class FifoBench(StageBench):
    """Writes ``count`` numbered entries and reads them back. With probability
    ``pressure`` per cycle the writer offers nothing and the reader refuses;
    ``read_from``: the reader refuses every cycle before this one."""

    def __init__(self, depth, count, *, pressure=0.0, seed=0, read_from=0):
        super().__init__(PrefetchFifo(16, depth), pressure=pressure, seed=seed)
        self.count = count
        self.read_from = read_from
        self.written = []        # (cycle, value)
        self.read = []           # (cycle, value)
        self.refused = []        # cycles the FIFO refused an offered entry
        self.empty_wrong = []    # cycles ``empty`` disagreed with the entries held

    async def _bench(self, ctx):
        dut = self.dut
        to_write = deque(range(1, self.count + 1))
        for cycle in range(TIMEOUT):
            if len(self.read) == self.count:
                return
            if ctx.get(dut.empty) != (len(self.written) == len(self.read)):
                self.empty_wrong.append(cycle)
            offer = bool(to_write) and not self.refuse()
            ctx.set(dut.w.valid, offer)
            if offer:
                ctx.set(dut.w.payload, to_write[0])
            ctx.set(dut.r.ready, cycle >= self.read_from and not self.refuse())
            if offer and ctx.get(dut.w.ready):
                self.written.append((cycle, to_write.popleft()))
            elif offer:
                self.refused.append(cycle)
            if ctx.get(dut.r.valid) and ctx.get(dut.r.ready):
                self.read.append((cycle, ctx.get(dut.r.payload)))
            await ctx.tick()
        raise AssertionError(f"{len(self.read)} of {self.count} entries read")


@pytest.mark.parametrize("depth", (16, 12))
@pytest.mark.parametrize("pressure", (0.0, 0.3, 0.7))
def test_entries_leave_in_order(depth, pressure):
    """In order, under random pressure on both sides, and ``empty`` exactly while
    every entry written was read."""
    bench = FifoBench(depth, 200, pressure=pressure, seed=3).run()
    assert [value for _, value in bench.read] == list(range(1, 201))
    assert not bench.empty_wrong


def test_an_entry_is_offered_three_cycles_after_its_write():
    bench = FifoBench(16, 1).run()
    ((written, _),), ((read, _),) = bench.written, bench.read
    assert read - written == 3


def test_a_stream_leaves_at_one_entry_per_cycle():
    bench = FifoBench(64, 50).run()
    cycles = [cycle for cycle, _ in bench.read]
    assert cycles == list(range(cycles[0], cycles[0] + 50))


def test_full_refuses_until_read():
    """Unread, the FIFO takes its depth in RAM plus the two output registers, then
    refuses; once read, everything comes out in order."""
    bench = FifoBench(16, 30, read_from=100).run()
    assert bench.refused and bench.refused[0] < 100 and len(bench.written) == 30
    assert sum(1 for cycle, _ in bench.written if cycle < 100) == 18
    assert [value for _, value in bench.read] == list(range(1, 31))


def test_depth_must_be_at_least_two():
    with pytest.raises(ValueError, match="at least 2"):
        PrefetchFifo(8, 1)
