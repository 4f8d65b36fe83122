"""The multi-threaded CPU copy the series offered beside DMA (RFC V2 "Multi-threading
and Batch Offloading to DMA", RFC V3's mtcopy), the ``mt-cpu`` copy mode.

The migrating thread queues the batch copy on ``threads`` kernel worker threads
(``queue_work_on``, one work item each), sleeps until the last one is done, and is
woken by it. Each worker copies a contiguous share of the batch's 4 KiB pages, the
page list split evenly, at the per-core rate of the CPU copy (the cost table's, as
one thread copies: :meth:`sim.kernel.clock.CoreClock.copy_cost_ns`). Together they
share the memory path: the source node's reads and the link in front of it, the
destination node's writes and its link, at the bandwidths the fabric paces the
engines with (:mod:`sim.memsys.memory_system`, the platform's ``memory``). A
source still in the LLC is not read from its node. The copy phase takes the longer
of the busiest worker and the path's time for the bytes.

Nothing here is fitted: the per-core rate is the platform's CPU copy (calibrated on
one thread's copy), the path's bandwidths are the platform's, the dispatch and
wake-up costs the cost table's (``mt_queue_work_ns``, ``wakeup_ns``).

Beside the engines (``dma+mt-cpu``: a batch split between the DMA channels and the
workers, :func:`hybrid_split`), the workers are :class:`FabricWorkers`: they copy
page by page on the engines' timeline and book each page's reads and writes on the
memory fabric the engines book (:class:`sim.memsys.fabric.Fabric`), so that
workers and engines queue behind each other on every node and link.
"""
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

#: The most worker threads a copy may use (the kernel offers one per CPU; 2 x 32 cores).
MAX_THREADS = 64


@dataclass(frozen=True)
class MtCopy:
    """``threads`` workers; ``path_gbps`` the memory path's bandwidth they share (GB/s
    = bytes/ns; None: no limit)."""
    threads: int
    path_gbps: float | None = None


def path_gbps(machine, from_node, to_node):
    """The least bandwidth on the CPU copy's memory path from ``from_node`` to
    ``to_node`` on ``machine``: the source node's reads, the link in front of it,
    the destination node's writes, the link in front of it (GB/s; None: none
    limits)."""
    by_id = {machine.nodes[role].node_id: machine.nodes[role]
             for role in ("local", "remote", "cxl")}
    links = {machine.nodes[role].name: machine.nodes[role]
             for role in ("socket_link", "cxl_link")}
    src, dst = by_id[from_node], by_id[to_node]
    limits = [src.read_gbps, dst.write_gbps]
    if src.link is not None:
        limits.append(links[src.link].read_gbps)
    if dst.link is not None:
        limits.append(links[dst.link].write_gbps)
    limits = [value for value in limits if value is not None]
    return min(limits) if limits else None


def worker_busy_ns(page_ns, threads):
    """Each worker's copy time: the pages (their per-core ns, in list order) split into
    ``threads`` contiguous shares as even as whole pages allow; no more workers than
    pages."""
    page_ns = np.asarray(page_ns, dtype=float)
    shares = np.array_split(page_ns, min(threads, len(page_ns)))
    return [float(share.sum()) for share in shares]


def copy_phase_ns(busy_ns, path_bytes, mt):
    """The copy phase's time: the busiest worker's, or the path's for the bytes it
    carries, whichever is longer."""
    path_ns = path_bytes / mt.path_gbps if mt.path_gbps else 0.0
    return max(max(busy_ns), path_ns)


def hybrid_split(folios, channels, threads):
    """How many of a batch's ``folios`` the DMA channels take when ``threads`` workers
    copy the rest at once: every channel and every worker an equal share (dcbm then
    splits its part evenly over its channels, the workers theirs), the channels'
    shares first, to the nearest folio (half a folio to the channels); one folio at
    least on each side when there are two."""
    dma = math.floor(folios * channels / (channels + threads) + 0.5)
    return min(max(dma, 1), folios - 1) if folios >= 2 else dma


class FabricWorkers:
    """``threads`` kernel workers copying pages beside the engines, each a contiguous
    share of ``pages`` (:func:`worker_busy_ns`'s split), one page after the other from
    ``start_ns`` on. ``pages``: (dst, src, bytes, core ns, whether the source is read
    from memory) per 4 KiB page, in list order; the data itself is copied by the caller
    (nothing else touches those frames), this times it.

    A page takes its core time, and its reads (unless its source is in the LLC) and
    writes are booked on the engines' memory fabric when it starts (``port.book_memory``);
    the worker starts its next page once both its core and the fabric are done with
    this one. The host port fires it as it does host faults (``next_ns``, ``fire``)."""

    def __init__(self, pages, threads, start_ns):
        shares = np.array_split(np.arange(len(pages)), min(threads, len(pages)))
        self._queues = [deque(pages[i] for i in share) for share in shares]
        self._next = [start_ns] * len(self._queues)
        #: Each worker's CPU time so far (ns).
        self.busy_ns = [0.0] * len(self._queues)

    def next_ns(self):
        """When the next page starts (infinite when every page has started)."""
        starts = [at for at, queue in zip(self._next, self._queues) if queue]
        return min(starts) if starts else math.inf

    @property
    def done_ns(self):
        """When the last page started so far is done."""
        return max(self._next, default=0.0)

    async def fire(self, port):
        """Start the page of every worker that is due."""
        now = port.now_ns
        for k, queue in enumerate(self._queues):
            if queue and self._next[k] <= now:
                dst, src, nbytes, core_ns, read = queue.popleft()
                served = port.book_memory(True, dst, nbytes)
                if read:
                    served = max(served, port.book_memory(False, src, nbytes))
                self.busy_ns[k] += core_ns
                self._next[k] = max(now + core_ns, served)
