"""The multi-threaded CPU copy the series offered beside DMA (RFC V2 "Multi-threading
and Batch Offloading to DMA", RFC V3's mtcopy), the ``mt-cpu`` copy mode.

The migrating thread queues the batch copy on ``threads`` kernel worker threads
(``queue_work_on``, one work item each), sleeps until the last one is done, and is
woken by it. Each worker copies a contiguous share of the batch's 4 KiB pages, the
page list split evenly, at the per-core rate of the CPU copy (the cost table's, as
one thread copies: :meth:`sim.kernel.clock.CoreClock.copy_cost_ns`). Together they
share the memory path: the source node's reads and the link in front of it, the
destination node's writes and its link, at the bandwidths the fabric paces the
engines with (:mod:`sim.platform.memory_system`, the platform's ``memory``). A
source still in the LLC is not read from its node. The copy phase takes the longer
of the busiest worker and the path's time for the bytes.

Nothing here is fitted: the per-core rate is the platform's CPU copy (calibrated on
one thread's copy), the path's bandwidths are the platform's, the dispatch and
wake-up costs the cost table's (``mt_queue_work_ns``, ``wakeup_ns``).
"""
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
