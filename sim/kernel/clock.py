"""The CPU side of the core on either platform: time categories, cold start of
kernel routines, the copy model; a port of its own for CPU-only runs (the one of runs on
an RTL back-end: :mod:`sim.kernel.host_port`).
"""

from sim.host.cpu_copy import CpuCopy
from sim.kernel.folios import PAGE
from sim.kernel.modes import CATEGORIES, TALLIES


class CoreClock(CpuCopy):
    """Mixin: migration-core time by category, cold start per call, the CPU copy
    (:class:`sim.host.cpu_copy.CpuCopy`).

    A platform provides ``_advance(ns, category, what)`` (let ns pass, charged to
    the category), ``node_of(addr)`` and ``memory``.
    """

    def _init_core(self, costs):
        self.costs = costs
        self.cat = dict.fromkeys(CATEGORIES, 0.0)
        self._seen = set()
        self._init_copy()
        #: Off-CPU and other CPUs' time of the mt-cpu copy (see sim.kernel.modes.TALLIES).
        self.offcpu = {"sleep": 0.0, "copy_sleep": 0.0, "helper_cpu": 0.0}

    def begin_call(self):
        """A new migrate_pages() call: every routine is cold again."""
        self._seen.clear()
        self.begin_copies()

    async def _cold(self, name):
        if name not in self._seen:
            self._seen.add(name)
            await self._advance(self.costs.cold_routine_ns, "cold", "cold_start")

    async def routine(self, name, ns):
        """The CPU runs migration-core routine ``name`` for ns (plus cold start)."""
        await self._cold(name)
        await self._advance(ns, "core", name)

    def snapshot(self):
        """Time so far per tally (:data:`sim.kernel.modes.TALLIES`)."""
        return {**self.cat, **self.offcpu}


class SoftPort(CoreClock):
    """The CPU alone (no device): CPU-copy modes, no RTL needed."""

    def __init__(self, memory, *, costs, numa_nodes):
        self.memory = memory
        self._numa = tuple(numa_nodes)
        self._now = 0.0
        self._init_core(costs)

    @property
    def now_ns(self):
        return self._now

    def node_of(self, addr):
        from sim.host.port import numa_node
        return numa_node(self._numa, addr)

    async def _advance(self, ns, category, what):
        self.cat[category] += ns
        self._now += ns

    async def cpu(self, op, count=1):
        await self._cold(op.value)
        await self._advance(self.costs.op_ns(op) * count, "driver", op.value)

    async def mt_copy(self, pairs, mt):
        """copy_mc of every (dst, src) folio pair on ``mt.threads`` kernel workers
        (:mod:`sim.kernel.mtcopy`); per pair, whether it was copied (a poisoned source
        machine-checks half way, nothing written)."""
        from sim.kernel.mtcopy import copy_phase_ns, worker_busy_ns
        c = self.costs
        await self.copy_cold_start()
        page_ns, path_bytes, copied = [], 0, []
        for dst, src in pairs:
            ns, done = self.copy_now(dst.address, src.address, src.size)
            copied.append(done)
            page_ns += [ns / (src.size // PAGE)] * (src.size // PAGE)
            path_bytes += 0 if src.address in self.resident else src.size
        busy = worker_busy_ns(page_ns, mt.threads)
        phase = copy_phase_ns(busy, path_bytes, mt)
        await self._advance(len(busy) * c.mt_queue_work_ns, "driver", "queue_work_on")
        for what, ns, category in (("worker_wakeup", c.wakeup_ns, "wait"),
                                   ("mt_copy", phase, "copy"),
                                   ("flush_work", c.wakeup_ns, "wait")):
            await self._advance(ns, category, what)
            self.offcpu["copy_sleep" if category == "copy" else "sleep"] += ns
        self.offcpu["helper_cpu"] += sum(busy)
        return copied

    def mem_read(self, addr, nbytes):
        return self.memory.read(addr, nbytes)

    def mem_write(self, addr, data):
        self.memory.write(addr, data)


def time_delta(after, before):
    """Per tally (:data:`sim.kernel.modes.TALLIES`), after minus before."""
    return {k: after[k] - before[k] for k in TALLIES}


def add_times(into, more, times=1):
    """Add ``times`` times the per-tally times ``more`` into ``into``."""
    for k in TALLIES:
        into[k] += more[k] * times


def zero_times():
    """Zero time in every tally."""
    return dict.fromkeys(TALLIES, 0.0)
