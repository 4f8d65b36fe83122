"""The driver stack (sw_driver) on the simulated engine: probe, dmaengine, dcbm v1/v2/v3.

Scenarios ("tests.sw_driver.test_sw_driver:name") run the driver on a HostPort over the
RTL. Each lays out its folios or buffers, runs the driver, checks every
destination byte for byte together with the guard bytes around it and the
unchanged sources, and returns a JSON summary that the tests check further
(results per transaction, counters, which folios the DMA copied).

Error paths are driven by memory error regions (computed here, on the test
side, from the same layout the scenario uses): a read error on one folio's
source, a write error on one's destination, or a descriptor read error on one
ring slot.
"""

import asyncio

import numpy as np
import pytest

from hw.descriptor import DESC_BYTES
from hw.engine import DmaEngine
from hw.params import EngineParams
from sim.backends import BACKENDS, get_runner
from sim.experiments.engine_scenarios import GUARD_BYTE, memory_config
from sim.memsys.address_map import COHERENT, DATA, MEM_BASE
from sim.host.costs import CostTable
from sim.host.port import HostPort
from sw_driver.dcbm import Dcbm
from sw_driver.migrate_offload import migrate_folios_content
from sw_driver.dmaengine import (DMA_CTRL_ACK, DMA_PREP_INTERRUPT, Completion, DmaEngineError,
                                 NoDmaChannelError, dma_async_issue_pending,
                                 dma_cookie_outstanding, dma_release_channel, dma_request_chan,
                                 dma_sync_wait, dmaengine_prep_dma_memcpy, dmaengine_submit,
                                 dmaengine_terminate_sync, dmaengine_tx_status, free_irq,
                                 request_irq)
from sw_driver.folio import PAGE_SIZE, Folio
from sw_driver.foliodma import foliodma_probe, foliodma_remove

SCENARIOS = "tests.sw_driver.test_sw_driver"
KiB, MiB = 1 << 10, 1 << 20
#: Engine and memory of most scenarios: 4 channels, 256-bit data path.
PARAMS = EngineParams(channels=4)
TIMING = {"read_latency": 20, "write_latency": 20}



# --------------------------------------------------------------------------
# Layout (shared by scenarios and tests)
# --------------------------------------------------------------------------

def layout(sizes):
    """(src addresses, dst addresses, bytes of DATA used) for folios of these sizes.

    Sources lie back to back from DATA; each destination is followed by a guard
    page and the first is preceded by one.
    """
    srcs, addr = [], DATA
    for size in sizes:
        srcs.append(addr)
        addr += size
    dsts = []
    addr += PAGE_SIZE
    for size in sizes:
        dsts.append(addr)
        addr += size + PAGE_SIZE
    return srcs, dsts, addr - DATA


def error_region(sizes, bad, side, resp):
    """An error region on one beat in the middle of folio bad's source or destination."""
    srcs, dsts, _ = layout(sizes)
    at = (srcs if side == "src" else dsts)[bad] + sizes[bad] // 2
    return [at, at + 64, "read" if side == "src" else "write", resp]


def random_sizes(seed, count, choices=(4 * KiB, 8 * KiB, 16 * KiB, 64 * KiB)):
    rng = np.random.default_rng(seed)
    return [int(size) for size in rng.choice(choices, size=count)]


def run(backend, scenario, kwargs, *, data_bytes, params=PARAMS, error_regions=()):
    runner = get_runner(backend)
    config = memory_config(data_bytes, **TIMING, error_regions=list(error_regions))
    return runner(DmaEngine(params), f"{SCENARIOS}:{scenario}", kwargs,
                  memory_config=config, params=params.as_dict())


# --------------------------------------------------------------------------
# Scenario helpers
# --------------------------------------------------------------------------

async def _probe(dev, ring_entries=64, numa_nodes=(), max_inflight=None):
    port = HostPort(dev, coherent=COHERENT, numa_nodes=numa_nodes)
    return port, await foliodma_probe(port, ring_entries=ring_entries,
                                      max_inflight=max_inflight)


class _Batch:
    """Folios of the given sizes in memory: random sources, guard-filled destinations."""

    def __init__(self, dev, sizes, seed):
        self.dev = dev
        srcs, dsts, self.extent = layout(sizes)
        rng = np.random.default_rng(seed)
        self.src = [Folio(addr, size) for addr, size in zip(srcs, sizes)]
        self.dst = [Folio(addr, size) for addr, size in zip(dsts, sizes)]
        self.data = [dev.memory.fill_random(f.address, f.size, rng) for f in self.src]
        start = self.dst[0].address - PAGE_SIZE
        dev.memory.write(start, bytes([GUARD_BYTE]) * (DATA + self.extent - start))

    @property
    def numa_nodes(self):
        return [(self.src[0].address, self.src[-1].address + self.src[-1].size, 1)]

    async def map(self, port):
        """Map every folio for the device, as a dmaengine client does (identity IOVA:
        the bus addresses are the folios' addresses); the guard pages stay unmapped."""
        folios = self.src + self.dst
        assert await port.iommu_map([(f.address, f.size, "bidirectional") for f in folios]) \
            == [f.address for f in folios]

    async def unmap(self, port):
        await port.iommu_unmap([(folio.address, folio.size) for folio in self.src + self.dst])

    def check(self):
        """Every destination equals its source; sources and guard pages are untouched."""
        memory, guard = self.dev.memory, bytes([GUARD_BYTE]) * PAGE_SIZE
        assert memory.read(self.dst[0].address - PAGE_SIZE, PAGE_SIZE) == guard, \
            "guard page before the first destination written"
        for n, (src, dst, data) in enumerate(zip(self.src, self.dst, self.data)):
            assert memory.read(src.address, src.size) == data, f"folio {n}: source changed"
            assert memory.read(dst.address, dst.size) == data, \
                f"folio {n} ({dst.size // KiB} KiB): destination differs from source"
            assert memory.read(dst.address + dst.size, PAGE_SIZE) == guard, \
                f"folio {n}: guard page after the destination written"


def _failures(dma):
    """{channel: [[result, residue], ...]} of the failed transactions, per channel."""
    return {str(chan.chan_id): [[r.result.name, r.residue] for r in chan.failed.values()]
            for chan in dma.channels if chan.failed}


def _result(tx):
    return None if tx.result is None else [tx.result.result.name, tx.result.residue]


async def _copy_once_more(dev, chan, batch):
    """Copy the batch's first folio again on chan, polled: the channel still works."""
    dev.memory.write(batch.dst[0].address, bytes(batch.dst[0].size))
    tx = await dmaengine_prep_dma_memcpy(chan, batch.dst[0].address, batch.src[0].address,
                                         batch.src[0].size, DMA_CTRL_ACK)
    status = await dma_sync_wait(chan, await dmaengine_submit(tx), 1_000_000)
    assert dev.memory.read(batch.dst[0].address, batch.dst[0].size) == batch.data[0]
    return status.name


# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------

async def probe_and_channels(dev, *, ring_entries):
    """Probe; check what it programmed; channel allocation limits; prep refusals."""
    port, dma = await _probe(dev, ring_entries)
    regmap = dma.regmap

    async def read(path):
        return await port.mmio_read(regmap.address(path))
    for chan in dma.channels:
        ring = await read(f"chan[{chan.chan_id}].ring_base_hi") << 32 | \
            await read(f"chan[{chan.chan_id}].ring_base_lo")
        assert ring == chan.ring and ring % DESC_BYTES == 0
        assert await read(f"chan[{chan.chan_id}].ring_size") == ring_entries
    int_enable = await read("int_enable")
    irq_coal = regmap.register("irq_coal").fields["count"].extract(await read("irq_coal"))

    chans = [await dma_request_chan(dma) for _ in dma.channels]
    try:
        await dma_request_chan(dma)
        raise AssertionError("a channel was granted beyond the channel count")
    except NoDmaChannelError:
        pass
    chan = chans[0]
    beat = dma.caps.beat_bytes
    refused = [await dmaengine_prep_dma_memcpy(chan, DATA + 4096, DATA, length, 0) is None
               for length in (0, beat // 2, 4096 + 8)]
    refused += [await dmaengine_prep_dma_memcpy(chan, dst, src, 4096, 0) is None
                for dst, src in ((DATA + 4096, DATA + 8), (DATA + 4096 + 16, DATA))]
    tx = await dmaengine_prep_dma_memcpy(chan, DATA + 4096, DATA + beat, 2 * beat, 0)
    await dmaengine_submit(tx)
    try:
        await dma_release_channel(chan)
        raise AssertionError("a channel with a submitted transaction was released")
    except DmaEngineError as error:
        release_refused = str(error)
    await dmaengine_terminate_sync(chan)
    assert not dma_cookie_outstanding(chan) and tx.result.result.name == "ABORTED"
    for chan in chans:
        await dma_release_channel(chan)
    again = await dma_request_chan(dma)
    await dma_release_channel(again)
    await foliodma_remove(dma)
    caps = dma.caps
    return {"channels": caps.channels, "beat_bytes": caps.beat_bytes,
            "max_burst": caps.max_burst, "prefetch_depth": caps.prefetch_depth,
            "version": list(caps.version), "int_enable": int_enable, "irq_coal": irq_coal,
            "refused": refused, "release_refused": release_refused, "granted_again": again.chan_id}


def _one_folio_at_a_time(axi, batch):
    """Whether the engine read no folio's source before the previous folio's data
    writes were all answered."""
    first_read = [min(cycle for cycle, _, addr, _ in axi.ar_log
                      if src.address <= addr < src.address + src.size) for src in batch.src]
    aw_log = axi.aw_log
    last_b = [max(cycle for cycle, aw in axi.b_log
                  if dst.address <= aw_log[aw][2] < dst.address + dst.size) for dst in batch.dst]
    return all(later > done for later, done in zip(first_read[1:], last_b))


async def migrate_batch(dev, *, strategy, sizes, seed=0, nr_dma_chan=1, ring_entries=64,
                        v1_double_copy=False, offload=True, max_inflight=None):
    """Migrate one batch of folios with dcbm (or with no migrator: the CPU copies all)."""
    batch = _Batch(dev, sizes, seed)
    port, dma = await _probe(dev, ring_entries, batch.numa_nodes, max_inflight)
    interrupts = []
    handler = dma.irq_handler

    async def counted():
        interrupts.append(port.now_ns)
        await handler()
    dma.irq_handler = counted
    free_irq(port, handler)
    request_irq(port, counted, dma.irq)
    migrator = Dcbm(dma, strategy, nr_dma_chan=nr_dma_chan, v1_double_copy=v1_double_copy)
    await migrator.set_offloading(offload)
    start = port.now_ns
    try:
        copied = (await migrate_folios_content(port, batch.dst, batch.src)).offloaded
    finally:
        await migrator.set_offloading(False)
    elapsed = port.now_ns - start
    batch.check()
    assert not any(chan.client_count or dma_cookie_outstanding(chan) for chan in dma.channels)
    await foliodma_remove(dma)
    return {"offload_copied": copied, "folios_migrated": migrator.folios_migrated,
            "folios_failures": migrator.folios_failures, "failed": _failures(dma),
            "iommu": [port.iommu.enabled, len(port.iommu.faults), port.iommu.mapped_pages],
            "elapsed_ns": elapsed, "time_ns": port.time_ns, "cycles": dev.cycle,
            "interrupts": len(interrupts),
            "one_folio_at_a_time": _one_folio_at_a_time(dev.axi, batch) if all(copied)
            else None}


async def ring_transactions(dev, *, count, size, mode, ring_entries):
    """count memcpy transactions of size bytes on channel 0, finished by interrupts
    ("irq": each with DMA_PREP_INTERRUPT and a callback) or by busy-polling each
    cookie in turn ("poll": dma_sync_wait; on an error the client terminates).
    The ring may be smaller than the batch. Returns each transaction's result."""
    batch = _Batch(dev, [size] * count, seed=count)
    port, dma = await _probe(dev, ring_entries)
    await batch.map(port)
    chan = await dma_request_chan(dma)
    assert chan.ring == MEM_BASE, "the test's error regions assume ring 0 at MEM_BASE"
    done = Completion(port)
    seen = []

    def callback_result(result):
        seen.append(result)
        if len(seen) == count:
            done.complete()
    txs, cookies = [], []
    flags = DMA_PREP_INTERRUPT | DMA_CTRL_ACK if mode == "irq" else DMA_CTRL_ACK
    for src, dst in zip(batch.src, batch.dst):
        tx = await dmaengine_prep_dma_memcpy(chan, dst.address, src.address, size, flags)
        tx.callback_result = callback_result
        txs.append(tx)
        cookies.append(await dmaengine_submit(tx))
    statuses = []
    if mode == "irq":
        await dma_async_issue_pending(chan)
        assert await done.wait_for_completion_timeout(10_000_000), "callbacks missing"
        statuses = [(await dmaengine_tx_status(chan, cookie))[0].name for cookie in cookies]
    else:
        for cookie in cookies:
            statuses.append((await dma_sync_wait(chan, cookie, 1_000_000)).name)
            if statuses[-1] != "COMPLETE" and dma_cookie_outstanding(chan):
                await dmaengine_terminate_sync(chan)     # a timeout: give up on the rest
    assert len(seen) == count and not dma_cookie_outstanding(chan)
    return await _check_and_release(dev, port, dma, chan, batch, txs, statuses, size)


async def _check_and_release(dev, port, dma, chan, batch, txs, statuses, size):
    """The end of a batch scenario: every successful transaction copied its data; the
    channel still copies; then release, remove, unmap, and no IO page fault."""
    for n, (tx, dst, data) in enumerate(zip(txs, batch.dst, batch.data)):
        if tx.result.result.name == "NOERROR":
            assert dev.memory.read(dst.address, size) == data, f"transaction {n}: wrong data"
    after = await _copy_once_more(dev, chan, batch)
    await dma_release_channel(chan)
    await foliodma_remove(dma)
    await batch.unmap(port)
    assert not port.iommu.faults, f"IO page faults: {port.iommu.faults}"
    return {"results": [_result(tx) for tx in txs], "statuses": statuses, "after": after}


async def terminate_mid_batch(dev, *, count, size):
    """Issue count transactions, submit two more without issuing them, terminate once
    the first has finished: the finished ones complete, all others end ABORTED."""
    batch = _Batch(dev, [size] * (count + 2), seed=1)
    port, dma = await _probe(dev)
    await batch.map(port)
    chan = await dma_request_chan(dma)
    callbacks = []
    txs = []
    for n, (src, dst) in enumerate(zip(batch.src, batch.dst)):
        if n == count:
            await dma_async_issue_pending(chan)
        tx = await dmaengine_prep_dma_memcpy(chan, dst.address, src.address, size, DMA_CTRL_ACK)
        tx.callback_result = callbacks.append
        txs.append(tx)
        await dmaengine_submit(tx)
    assert await port.poll(lambda: dma.device_completion_pending(chan), 1_000_000)
    await dmaengine_terminate_sync(chan)
    assert len(callbacks) == count + 2 and not dma_cookie_outstanding(chan)
    statuses = [(await dmaengine_tx_status(chan, tx.cookie))[0].name for tx in txs]
    return await _check_and_release(dev, port, dma, chan, batch, txs, statuses, size)


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def backend(request):
    """The simulator a scenario runs on: every driver test runs on each."""
    return request.param


def test_probe_reads_caps_programs_rings_and_limits_channels(backend):
    result = run(backend, "probe_and_channels", {"ring_entries": 32}, data_bytes=64 * KiB)
    assert result["channels"] == PARAMS.channels
    assert result["beat_bytes"] == PARAMS.beat_bytes
    assert result["max_burst"] == PARAMS.max_burst
    assert result["prefetch_depth"] == PARAMS.prefetch_depth
    assert result["version"] == [0, 2]
    mask = (1 << PARAMS.channels) - 1
    assert result["int_enable"] == mask | mask << 16 and result["irq_coal"] == 1
    assert all(result["refused"])
    assert "terminate it first" in result["release_refused"]
    assert result["granted_again"] == 0


@pytest.mark.parametrize("strategy, nr_dma_chan", [("v2", 3), ("v3", 3), ("v3", 1)])
def test_random_batch_is_copied_by_dma(backend, strategy, nr_dma_chan):
    sizes = random_sizes(seed=nr_dma_chan, count=9)
    result = run(backend, "migrate_batch",
                 {"strategy": strategy, "sizes": sizes, "nr_dma_chan": nr_dma_chan, "seed": 5},
                 data_bytes=layout(sizes)[2])
    assert result["offload_copied"] == [True] * len(sizes)
    assert result["folios_migrated"] == len(sizes) and result["folios_failures"] == 0
    # The IOMMU was on, nothing faulted, and only the coherent pages stay mapped: per
    # channel, its ring's page and its records' (dma_alloc_coherent gives whole pages).
    enabled, faults, mapped = result["iommu"]
    assert enabled and faults == 0 and mapped == 2 * PARAMS.channels
    assert result["failed"] == {} and result["time_ns"]["copy"] == 0


# On the compiled simulators only (Amaranth's simulator takes half a minute for 2 MiB; every
# other driver test runs on it).
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "pysim"])
def test_v3_batch_with_a_2mib_folio(backend):
    sizes = [4 * KiB, 2 * MiB, 16 * KiB, 4 * KiB, 64 * KiB]
    result = run(backend, "migrate_batch", {"strategy": "v3", "sizes": sizes, "nr_dma_chan": 2},
                 data_bytes=layout(sizes)[2], params=EngineParams(channels=2, data_width=512))
    assert result["offload_copied"] == [True] * len(sizes)
    assert result["folios_migrated"] == len(sizes) and result["time_ns"]["copy"] == 0


def test_v1_copies_pages_serially_and_refuses_bigger_folios(backend):
    sizes = [4 * KiB] * 5 + [16 * KiB]
    result = run(backend, "migrate_batch", {"strategy": "v1", "sizes": sizes},
                 data_bytes=layout(sizes)[2])
    # The 16 KiB folio is refused by can_migrate: the core copies it with the CPU.
    assert result["offload_copied"] == [True] * 5 + [False]
    assert result["folios_migrated"] == 5 and result["folios_failures"] == 0


def test_v1_double_copy_runs_the_cpu_copy_after_the_dma(backend):
    sizes = [4 * KiB] * 4
    single, double = (run(backend, "migrate_batch",
                          {"strategy": "v1", "sizes": sizes, "v1_double_copy": flag},
                          data_bytes=layout(sizes)[2])
                      for flag in (False, True))
    assert single["time_ns"]["copy"] == 0 and double["time_ns"]["copy"] > 0
    assert double["folios_migrated"] == single["folios_migrated"] == 4
    # The copies, after the copy routine's cold start (sim.host.cpu_copy).
    assert double["elapsed_ns"] - single["elapsed_ns"] == \
        pytest.approx(double["time_ns"]["copy"] + CostTable().cold_copy_ns, rel=0.05)


def test_without_a_migrator_the_cpu_copies_everything(backend):
    sizes = [4 * KiB, 8 * KiB, 4 * KiB]
    result = run(backend, "migrate_batch", {"strategy": "v3", "sizes": sizes, "offload": False},
                 data_bytes=layout(sizes)[2])
    assert result["offload_copied"] == [False] * 3 and result["folios_migrated"] == 0
    assert result["time_ns"]["copy"] > 0


@pytest.mark.parametrize("strategy, side, resp, expected", [
    ("v1", "src", "SLVERR", "READ_FAILED"),
    ("v2", "dst", "DECERR", "WRITE_FAILED"),
    ("v2", "src", "DECERR", "READ_FAILED"),
    ("v3", "dst", "SLVERR", "WRITE_FAILED"),
    ("v3", "src", "SLVERR", "READ_FAILED"),
])
def test_a_failed_folio_falls_back_to_the_cpu_alone(backend, strategy, side, resp, expected):
    sizes = [4 * KiB] * 6 if strategy == "v1" else [8 * KiB, 4 * KiB, 16 * KiB, 4 * KiB,
                                                     8 * KiB, 4 * KiB, 16 * KiB]
    bad = 2
    result = run(backend, "migrate_batch",
                 {"strategy": strategy, "sizes": sizes, "nr_dma_chan": 2},
                 data_bytes=layout(sizes)[2],
                 error_regions=[error_region(sizes, bad, side, resp)])
    # Exactly one transaction failed, with the right result and a residue.
    [failures] = result["failed"].values()
    [[name, residue]] = failures
    assert name == expected and 0 < residue <= sizes[bad]
    assert result["folios_migrated"] == len(sizes) - 1 and result["folios_failures"] == 1
    # v1 and v2 copy the failed folio themselves; v3 reports it for the core's fallback.
    if strategy == "v3":
        assert result["offload_copied"] == [n != bad for n in range(len(sizes))]
    else:
        assert result["offload_copied"] == [True] * len(sizes)
    assert result["time_ns"]["copy"] > 0     # the fallback copy (the data check passed)


def _ring_case(kind, count, size, bad):
    """(error region, expected result) of transaction bad failing in one way."""
    if kind == "desc":
        slot = MEM_BASE + bad * DESC_BYTES      # ring 0 is the first coherent allocation
        return [slot, slot + 8, "read", "SLVERR"], "READ_FAILED"
    if kind == "read":
        return error_region([size] * count, bad, "src", "SLVERR"), "READ_FAILED"
    return error_region([size] * count, bad, "dst", "DECERR"), "WRITE_FAILED"


@pytest.mark.parametrize("mode, kind", [("irq", "read"), ("irq", "write"), ("irq", "desc"),
                                        ("poll", "write"), ("poll", "desc")])
def test_ring_error_fails_one_transaction_and_the_rest_complete(backend, mode, kind):
    # After the reset the transactions after bad are posted again from slot 0:
    # they and the final check copy stay clear of slot bad.
    count, size, bad = 8, 4 * KiB, 5
    region, expected = _ring_case(kind, count, size, bad)
    result = run(backend, "ring_transactions",
                 {"count": count, "size": size, "mode": mode, "ring_entries": 16},
                 data_bytes=layout([size] * count)[2], error_regions=[region])
    results = result["results"]
    name, residue = results[bad]
    assert name == expected
    # A descriptor that could not be read has no record: all of it is residue.
    assert residue == size if kind == "desc" else 0 < residue <= size
    after = results[bad + 1:]
    if mode == "poll" and kind == "desc":
        # No record is ever written: dma_sync_wait times out, the client terminates.
        assert after == [["ABORTED", size]] * len(after)
        assert result["statuses"][bad:] == ["ERROR"] * (count - bad)
    else:
        assert after == [["NOERROR", 0]] * len(after)
    assert results[:bad] == [["NOERROR", 0]] * bad
    assert result["after"] == "COMPLETE"


@pytest.mark.parametrize("mode", ["irq", "poll"])
def test_a_small_ring_posts_the_rest_as_space_frees(backend, mode):
    count, size = 11, 4 * KiB
    result = run(backend, "ring_transactions",
                 {"count": count, "size": size, "mode": mode, "ring_entries": 4},
                 data_bytes=layout([size] * count)[2])
    assert result["results"] == [["NOERROR", 0]] * count
    assert result["statuses"] == ["COMPLETE"] * count


def test_v3_batch_bigger_than_the_ring_is_copied_without_waiting_for_the_timeout(backend):
    # v3 flags only its last descriptor; the driver flags the last one it could post
    # when the ring is full, so that its completion posts the rest.
    sizes = [4 * KiB] * 11
    result = run(backend, "migrate_batch",
                 {"strategy": "v3", "sizes": sizes, "ring_entries": 4},
                 data_bytes=layout(sizes)[2])
    assert result["offload_copied"] == [True] * len(sizes)
    assert result["folios_migrated"] == len(sizes) and result["folios_failures"] == 0
    assert result["time_ns"]["copy"] == 0
    assert result["elapsed_ns"] < 1_000_000         # far below v3's 10 s timeout


def test_one_descriptor_in_flight_as_the_ptdma_driver_issues_them(backend):
    # max_inflight=1: the next descriptor is posted from the completion interrupt of
    # the one before; by default all are posted at once and the engine overlaps them.
    sizes = [4 * KiB] * 6
    common = {"strategy": "v3", "sizes": sizes}
    serial, batched = (run(backend, "migrate_batch", {**common, **extra},
                           data_bytes=layout(sizes)[2])
                       for extra in ({"max_inflight": 1}, {}))
    for result in (serial, batched):
        assert result["offload_copied"] == [True] * len(sizes)
        assert result["folios_migrated"] == len(sizes) and result["failed"] == {}
    assert serial["interrupts"] == len(sizes) and serial["one_folio_at_a_time"]
    assert batched["interrupts"] == 1 and not batched["one_folio_at_a_time"]
    assert serial["elapsed_ns"] > batched["elapsed_ns"]


def test_terminate_sync_aborts_the_outstanding_transactions(backend):
    count, size = 6, 32 * KiB
    result = run(backend, "terminate_mid_batch", {"count": count, "size": size},
                 data_bytes=layout([size] * (count + 2))[2])
    results, statuses = result["results"], result["statuses"]
    finished = [r for r in results if r[0] == "NOERROR"]
    aborted = [r for r in results if r[0] == "ABORTED"]
    assert len(finished) + len(aborted) == count + 2
    assert 1 <= len(finished) < count and results[:len(finished)] == finished
    assert all(0 < residue <= size for _, residue in aborted)
    assert results[-2:] == [["ABORTED", size]] * 2        # submitted, never issued
    assert statuses == ["COMPLETE"] * len(finished) + ["ERROR"] * len(aborted)
    assert result["after"] == "COMPLETE"


@pytest.mark.parametrize("ring_entries", [1, 1 << 16])
def test_probe_refuses_a_ring_the_ring_size_register_cannot_hold(ring_entries):
    # Checked before the device is touched: no port needed.
    with pytest.raises(ValueError, match=f"ring_entries={ring_entries}: expected 2..65535"):
        asyncio.run(foliodma_probe(None, ring_entries=ring_entries))
