"""Scenarios that run a DmaEngine on either simulator (see :mod:`sim.backends.base`).

Each is an async function ``(dev, **kwargs)`` that sets up memory, programs the
engine through :class:`sim.experiments.engine_io.EngineIO`, checks everything it can
(destinations byte for byte, guard bytes around them, completion records,
HEAD and counters) and returns a JSON-friendly summary.
"""
import numpy as np

from hw.descriptor import FLAG_INTERRUPT, RECORD_BYTES, Status
from sim.experiments.engine_io import EngineIO
from sim.memsys.address_map import DATA, MEM_BASE, RECORDS, RING_BYTES

GUARD = 64                        # guard bytes before and after every destination
GUARD_BYTE = 0xA5


def memory_config(data_bytes, **timing):
    """memory_config for a scenario whose jobs use data_bytes past DATA."""
    return {"base": MEM_BASE, "size": DATA - MEM_BASE + data_bytes, **timing}


def folio_jobs(folios, folio_size, channels=1):
    """Jobs copying `folios` page-aligned folios, dealt round-robin over channels.

    Sources lie back to back; destinations one page apart, for the guard bytes.
    """
    dst_base = folios * folio_size + (1 << 20)
    dst_stride = folio_size + 4096
    return [[i % channels, i * folio_size, dst_base + i * dst_stride, folio_size]
            for i in range(folios)]


def jobs_extent(jobs):
    """Bytes of DATA the jobs touch, guard bytes included."""
    return max(max(src, dst) + length + GUARD for _, src, dst, length in jobs)


async def copy_batch(dev, *, jobs, seed=0, ring_size=1024, channels_used=None,
                     timeout_cycles=20_000_000):
    """Copy every job [channel, src, dst, length] (offsets from DATA) and check it all.

    All jobs are posted first, then each used channel's doorbell is rung once.
    Returns timing points (cycles) for benchmarks.
    """
    io = EngineIO(dev)
    rng = np.random.default_rng(seed)
    channels = sorted({job[0] for job in jobs})
    for ch in channels:
        await io.setup_channel(ch, MEM_BASE + ch * RING_BYTES, ring_size)
    expected = []
    for n, (ch, src, dst, length) in enumerate(jobs):
        src, dst = DATA + src, DATA + dst
        data = dev.memory.fill_random(src, length, rng)
        dev.memory.write(dst - GUARD, bytes([GUARD_BYTE]) * (length + 2 * GUARD))
        completion = RECORDS + n * RECORD_BYTES
        io.post(ch, src, dst, length, FLAG_INTERRUPT, completion)
        expected.append((ch, dst, length, data, completion))
    doorbell_start = dev.cycle
    for ch in channels:
        await io.doorbell(ch)
    doorbell_done = dev.cycle

    waiting = iter(expected)
    pending = [next(waiting)]

    def all_done():
        # Records complete in order per channel; skip past the finished ones.
        while pending[0] is not None and io.record(pending[0][4])[0] != Status.NOT_DONE:
            pending[0] = next(waiting, None)
        return pending[0] is None
    await dev.wait_until(all_done, timeout_cycles, poll_cycles=64)
    done = dev.cycle

    guard = bytes([GUARD_BYTE]) * GUARD
    for n, (ch, dst, length, data, completion) in enumerate(expected):
        status, nbytes = io.record(completion)
        assert (status, nbytes) == (Status.SUCCESS, length), \
            f"job {n}: record {status.name}, {nbytes} bytes; expected SUCCESS, {length}"
        assert dev.memory.read(dst, length) == data, f"job {n}: destination differs from source"
        assert dev.memory.read(dst - GUARD, GUARD) == guard, f"job {n}: guard before dst written"
        assert dev.memory.read(dst + length, GUARD) == guard, f"job {n}: guard after dst written"
    for ch in channels:
        await io.wait_idle(ch, timeout_cycles)
        mine = [job for job in jobs if job[0] == ch]
        head = await io.read(f"chan[{ch}].head")
        assert head == len(mine) % ring_size, f"channel {ch}: HEAD {head}, expected {len(mine)}"
        descs = await io.read(f"chan[{ch}].descs")
        assert descs == len(mine), f"channel {ch}: DESCS {descs}, expected {len(mine)}"
        nbytes = await io.read_counter(ch, "bytes")
        assert nbytes == sum(job[3] for job in mine), f"channel {ch}: BYTES {nbytes}"
    return {"doorbell_start": doorbell_start, "doorbell_done": doorbell_done, "done": done,
            "jobs": len(jobs)}


def stream_metrics(axi, jobs, doorbell_cycle):
    """Throughput figures of one batch from the AXI handshake logs.

    ``window_cycles``: from the first to the last data W beat (the sustained
    copy); ``doorbell_to_first_ar_cycles``: from the doorbell write to the
    first data read request; ``max_descriptor_gap_cycles``: the longest run of
    cycles without any W beat between the last data beat of one descriptor and
    the first of the next (in the order they were written).
    """
    starts = sorted((DATA + dst, n) for n, (_, _, dst, _) in enumerate(jobs))
    start_addrs = np.array([addr for addr, _ in starts], dtype=np.uint64)
    start_jobs = np.array([n for _, n in starts], dtype=np.int64)
    aw = axi.log_array("aw_log")                    # (cycle, id, addr, len)
    w = axi.log_array("w_log")                      # (cycle, AW index)
    # The job whose destination holds each data write (the last start at or below it).
    where = np.searchsorted(start_addrs, aw[:, 2].astype(np.uint64), side="right") - 1
    aw_job = np.where(aw[:, 1] == 0, start_jobs[np.maximum(where, 0)], -1)
    w_cycles = w[:, 0]
    w_job = aw_job[w[:, 1]]
    data = w_job >= 0
    data_w = w_cycles[data]
    jobs_seen, first_at = np.unique(w_job[data], return_index=True)
    _, last_from_end = np.unique(w_job[data][::-1], return_index=True)
    first = data_w[first_at]
    last = data_w[len(data_w) - 1 - last_from_end]
    order = np.argsort(first, kind="stable")
    first, last = first[order], last[order]
    # Cycles strictly between one job's last beat and the next's first, less W beats.
    ends, begins = last[:-1], first[1:]
    w_between = (np.searchsorted(w_cycles, begins, side="left")
                 - np.searchsorted(w_cycles, ends, side="right"))
    gaps = np.where(begins > ends + 1, begins - ends - 1 - w_between, 0)
    ar = axi.log_array("ar_log")
    first_data_ar = int(ar[ar[:, 1] == 0][0, 0])
    return {
        "window_cycles": int(data_w[-1] - data_w[0] + 1),
        "doorbell_to_first_ar_cycles": first_data_ar - doorbell_cycle,
        "max_descriptor_gap_cycles": int(gaps.max(initial=0)),
        "first_data_w_cycle": int(data_w[0]),
        "last_data_w_cycle": int(data_w[-1]),
        "last_w_cycle": int(w_cycles[-1]),
    }


async def bench_batch(dev, *, jobs, seed=0, ring_size=2048):
    """copy_batch, then the throughput figures of :func:`stream_metrics`."""
    times = await copy_batch(dev, jobs=jobs, seed=seed, ring_size=ring_size)
    # The doorbell write is issued at doorbell_start; the first channel's is the one timed.
    return {**times, **stream_metrics(dev.axi, jobs, times["doorbell_start"]),
            "end_cycle": dev.cycle}


async def read_identity(dev):
    """ID, VERSION and the capability fields, as software sees them."""
    io = EngineIO(dev)
    result = {"id": await io.read("id"), "version": await io.read("version")}
    for path in ("caps0", "caps1", "caps2"):
        register = io.regmap.register(path)
        word = await io.read(path)
        result.update({name: field.extract(word) for name, field in register.fields.items()})
    return result
