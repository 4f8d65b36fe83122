"""The CPU side of the core on either platform: time categories, cold start of
kernel routines, the copy model; a port of its own for CPU-only runs.
"""
import math

from sim.host.cpu_copy import CpuCopy
from sim.kernel.folios import CATEGORIES, PAGE, TALLIES


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
        #: Off-CPU and other CPUs' time of the mt-cpu copy (see sim.kernel.folios.TALLIES).
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
        """Time so far per tally (:data:`sim.kernel.folios.TALLIES`)."""
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


def host_port_class():
    """HostPort with the core's clock: the platform of runs on an RTL back-end (made on
    first use, so that CPU-only runs import no back-end)."""
    from sim.host.port import HostPort

    class MigrationHostPort(CoreClock, HostPort):
        """HostPort (driver, RTL, one timeline) plus the migration core's clock."""

        def __init__(self, dev, *, costs, **kwargs):
            HostPort.__init__(self, dev, costs=costs, **kwargs)
            self.memory = dev.memory
            self._init_core(costs)

        async def _advance(self, ns, category, what):
            self.cat[category] += ns
            await self.spend(ns, "copy" if category == "copy" else "cpu", what)

        async def cpu(self, op, count=1):
            await self._cold(op.value)
            await HostPort.cpu(self, op, count)

        async def poll(self, condition, timeout_ns, ops=None):
            # A busy-poll loop runs its operations' code too (dma_sync_wait: tx_status
            # and cpu_relax): cold on its first turn in a call.
            from sw_driver.port import Op
            ops = (Op.POLL_ITERATION,) if ops is None else ops
            for op in ops:
                await self._cold(Op(op).value)
            return await HostPort.poll(self, condition, timeout_ns, ops)

        async def start_mt_copy(self, pairs, mt):
            """Queue the copy of the (dst, src) folio pairs on ``mt.threads`` kernel
            workers that copy beside the engines
            (:class:`sim.kernel.mtcopy.FabricWorkers`); returns them and, per pair,
            whether it was copied (a poisoned source machine-checks half way)."""
            from sim.kernel.mtcopy import FabricWorkers
            await self.copy_cold_start()
            pages, copied = [], []
            self.batched_copy = True
            try:
                for dst, src in pairs:
                    ns, done = self.copy_now(dst.address, src.address, src.size)
                    copied.append(done)
                    count, read = src.size // PAGE, src.address not in self.resident
                    pages += [(dst.address + k * PAGE, src.address + k * PAGE, PAGE,
                               ns / count, read) for k in range(count)]
            finally:
                self.batched_copy = False
            await self.spend(min(mt.threads, len(pages)) * self.costs.mt_queue_work_ns,
                             "cpu", "queue_work_on")
            workers = FabricWorkers(pages, mt.threads, self.now_ns + self.costs.wakeup_ns)
            self.agents.append(workers)
            return workers, copied

        async def join_mt_copy(self, workers):
            """flush_work: sleep until the workers are done, then be woken; their CPU
            time is the helpers'."""
            while (due := workers.next_ns()) < math.inf or workers.done_ns > self.now_ns:
                target = due if due < math.inf else workers.done_ns
                await self._sleep(max(target - self.now_ns, self.cycle_ns), "flush_work_wait")
            self.agents.remove(workers)
            await self._sleep(self.costs.wakeup_ns, "flush_work")
            self.offcpu["helper_cpu"] += sum(workers.busy_ns)

        async def _sleep(self, ns, what):
            self.offcpu["sleep"] += ns
            await self.spend(ns, "wait", what)

        def snapshot(self):
            snap = {**self.cat, **self.offcpu}
            # HostPort's "cpu" holds the core and cold time too; the rest is the driver's
            # operations and MMIO. "wait": polling, sleeping on the device and the
            # interrupt's delivery; "sleep": the sleeping alone.
            snap["driver"] = self.time_ns["cpu"] - self.cat["core"] - self.cat["cold"]
            snap["wait"] = self.time_ns["wait"]
            snap["sleep"] = self.breakdown_ns.get("irq_wait", 0.0) + self.offcpu["sleep"]
            return snap

    return MigrationHostPort


def time_delta(after, before):
    """Per tally (:data:`sim.kernel.folios.TALLIES`), after minus before."""
    return {k: after[k] - before[k] for k in TALLIES}


def add_times(into, more, times=1):
    """Add ``times`` times the per-tally times ``more`` into ``into``."""
    for k in TALLIES:
        into[k] += more[k] * times


def zero_times():
    """Zero time in every tally."""
    return dict.fromkeys(TALLIES, 0.0)
