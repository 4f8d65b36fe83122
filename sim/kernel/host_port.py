"""The platform of migrations on an RTL back-end: the host port (driver, RTL, one
timeline) with the migration core's clock. Imported by those runs alone, so that
CPU-only runs import no back-end.
"""
import math

from sim.host.port import HostPort
from sim.kernel.clock import CoreClock
from sim.kernel.folios import PAGE
from sim.kernel.mtcopy import FabricWorkers
from sw_driver.port import Op


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
        ops = (Op.POLL_ITERATION,) if ops is None else ops
        for op in ops:
            await self._cold(Op(op).value)
        return await HostPort.poll(self, condition, timeout_ns, ops)

    async def start_mt_copy(self, pairs, mt):
        """Queue the copy of the (dst, src) folio pairs on ``mt.threads`` kernel
        workers that copy beside the engines
        (:class:`sim.kernel.mtcopy.FabricWorkers`); returns them and, per pair,
        whether it was copied (a poisoned source machine-checks half way)."""
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
