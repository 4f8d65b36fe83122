"""The host platform the driver runs on: one simulated timeline for CPU and RTL.

:class:`HostPort` implements :class:`sw_driver.port.Port` on top of a
simulated device (:class:`sim.backends.base.Device`, on either back-end). Simulated
time is the engine's clock: ``engine_mhz`` turns cycles into nanoseconds, and
CPU time (from :class:`sim.host.costs.CostTable`) advances the same clock, so the
RTL runs while the CPU works. With idle skipping, time in which the engine
is idle and nothing is armed is counted, not simulated.
"""
import contextlib
import math

from hw.regmap import load_regmap
from sim.backends.base import ALL_IRQ_LINES, ENGINE_WINDOW_BYTES
from sim.host.costs import CostTable
from sim.host.cpu_copy import CpuCopy
from sim.host.host_faults import HostFaults
from sim.memsys.iommu import PAGE_BYTES
from sim.memsys.memory_system import DEFAULT_ENGINE_MHZ
from sw_driver.port import Op, Port

#: While waiting for an interrupt, how often (in cycles) the line is looked at.
IRQ_CHECK_CYCLES = 16
#: Most looks at the line planned and handed to the device in one call.
IRQ_PLAN_PERIODS = 1 << 16


def numa_node(ranges, addr):
    """The node of addr among (start, end, node) ranges; node 0 elsewhere."""
    for start, end, node in ranges:
        if start <= addr < end:
            return node
    return 0


class HostPort(CpuCopy, Port):
    """The CPU side: MMIO, CPU time, copies, interrupts, memory, coherent allocations.

    dev         -- the simulated device (memory behind it, engine registers).
    costs       -- the cost table (default: :class:`CostTable` defaults).
    engine_mhz  -- engine clock; one cycle is 1000/engine_mhz ns.
    idle_skip   -- skip idle time instead of simulating it.
    coherent    -- (base, size) of the memory the driver may allocate from.
    numa_nodes  -- (start, end, node) ranges for the CPU copy cost; other
                   addresses are node 0.
    iommu       -- enforce the IOMMU (:mod:`sim.memsys.iommu`): the engine reaches only
                   what iommu_map mapped and the coherent allocations. Default:
                   on, unless the memory_config says ``"iommu": false``.
    faults      -- host faults to apply as time passes (:mod:`sim.host.host_faults`: a
                   HostFaults or a list of HostFault or their dicts).

    ``time_ns`` splits elapsed time into "cpu" (driver operations and MMIO),
    "copy" (CPU copies) and "wait" (busy-polling and sleeping on interrupts).
    ``restart_gaps_ns`` holds every restart the interrupt handlers made: the time
    from an engine's interrupt line being seen high to the doorbell (a TAIL write)
    its handler rang for that engine, as a driver that keeps one descriptor in
    flight starts the next from the completion of the one before.
    """

    def __init__(self, dev, *, costs=None, engine_mhz=DEFAULT_ENGINE_MHZ, idle_skip=True,
                 coherent, numa_nodes=(), iommu=None, faults=()):
        if engine_mhz <= 0:
            raise ValueError(f"engine_mhz={engine_mhz}: the clock frequency must be positive")
        self.dev = dev
        self.costs = costs if costs is not None else CostTable()
        self.cycle_ns = 1000.0 / engine_mhz
        dev.idle_skip = idle_skip
        self._origin = dev.cycle
        self._owed_ns = 0.0             # CPU time not yet turned into whole cycles
        self.time_ns = {"cpu": 0.0, "copy": 0.0, "wait": 0.0}
        #: Time by what it was spent on: Op values, "mmio_read", "mmio_write",
        #: "cpu_copy", "irq_wait", "poll".
        self.breakdown_ns = {}
        self._coherent_next, self._coherent_end = coherent[0], coherent[0] + coherent[1]
        self._numa = tuple(numa_nodes)
        #: The device's IOMMU (``dev.axi.iommu``); mappings are made through it.
        self.iommu = dev.axi.iommu
        self.iommu.enabled = (self.iommu.configured is not False) if iommu is None \
            else bool(iommu)
        self.faults = faults if isinstance(faults, HostFaults) else HostFaults(faults)
        #: What else runs on the host's timeline beside the driver (CPU workers): each
        #: has ``next_ns()`` and ``async fire(port)``, as the host faults.
        self.agents = []
        self._lose_next = False         # irq_lost armed: lose the next interrupt
        self._lost_lines = 0            # lines lost while they stay high
        self._twice = False             # irq_twice armed: deliver the next one again
        self._redeliver = 0             # the lines to deliver again
        self._delivered = 0             # the lines the latest delivery brought
        self._seen_ns = {}              # line -> when the latest delivery saw it high
        self._in_hardirq = False
        regmap = load_regmap()
        self._tail_offsets = frozenset(regmap.address(f"chan[{c}].tail")
                                       for c in range(regmap.channels))
        self.restart_gaps_ns = []
        #: Callables(addr, data) told of every mem_write (a descriptor ledger).
        self.write_observers = []
        self.memory = dev.memory
        self._init_copy()

    # --- time ---
    @property
    def now_ns(self):
        return (self.dev.cycle - self._origin) * self.cycle_ns

    def _book(self, what, ns):
        self.breakdown_ns[what] = self.breakdown_ns.get(what, 0.0) + ns

    async def spend(self, ns, category, what):
        """Let ns of simulated time pass, charged to category ("cpu", "copy",
        "wait") and to what (an entry of breakdown_ns)."""
        self.time_ns[category] += ns
        self._book(what, ns)
        self._owed_ns += ns
        cycles = math.floor(self._owed_ns / self.cycle_ns)
        if cycles:
            self._owed_ns -= cycles * self.cycle_ns
            await self._wait_cycles(cycles)

    async def _wait_cycles(self, cycles):
        """Let the device run ``cycles``, stopping at every host fault due on the way to
        apply it."""
        while cycles:
            due = self._next_event_ns()
            if due == math.inf:
                break
            until = max(0, math.ceil((due - self.now_ns) / self.cycle_ns))
            if until >= cycles:
                break
            await self.dev.wait_cycles(until)
            cycles -= until
            await self._fire_events()
        if cycles:
            await self.dev.wait_cycles(cycles)

    def _next_event_ns(self):
        """When the next host fault or agent is due (infinite when none is)."""
        due = self.faults.next_ns()
        for agent in self.agents:
            due = min(due, agent.next_ns())
        return due

    async def _fire_events(self):
        """Fire the host faults and agents that are due now."""
        await self.faults.fire(self)
        for agent in tuple(self.agents):
            await agent.fire(self)

    def book_memory(self, write, addr, nbytes):
        """Another agent of the host's (a CPU worker) reads or writes nbytes at addr, now,
        through the memory fabric the engines book; when they are served (ns). Flat
        memory models no bandwidth: at once."""
        axi = self.dev.axi
        if axi.fabric is None:
            return self.now_ns
        return self.now_ns + (axi.book(write, addr, nbytes) - axi.cycle) * self.cycle_ns

    async def _charge_rest(self, started_ns, cost_ns, category, what):
        """After an access that took simulated time, spend what its cost adds."""
        elapsed = self.now_ns - started_ns
        self.time_ns[category] += elapsed
        self._book(what, elapsed)
        if cost_ns > elapsed:
            await self.spend(cost_ns - elapsed, category, what)

    # --- device ---
    async def mmio_read(self, offset):
        started = self.now_ns
        value = await self.dev.mmio_read(offset)
        await self._charge_rest(started, self.costs.mmio_read_ns, "cpu", "mmio_read")
        return value

    async def mmio_write(self, offset, value):
        started = self.now_ns
        engine = offset // ENGINE_WINDOW_BYTES
        if self._in_hardirq and engine in self._seen_ns \
                and offset % ENGINE_WINDOW_BYTES in self._tail_offsets:
            self.restart_gaps_ns.append(started - self._seen_ns.pop(engine))
        await self.dev.mmio_write(offset, value)
        await self._charge_rest(started, self.costs.mmio_write_ns, "cpu", "mmio_write")

    async def wait_for_irq(self, timeout_ns):
        """Look at the line every IRQ_CHECK_CYCLES cycles, each look a
        ``spend(IRQ_CHECK_CYCLES cycles)``; the looks are planned ahead and the
        device runs them in one call (:meth:`sim.backends.base.Device.run_periods`),
        with the same outcome and the same arithmetic as one spend at a time. Host
        faults (:mod:`sim.host.host_faults`) apply when they are due: a lost interrupt's
        lines are not looked at while they stay high, a doubled one is delivered
        again at the next call."""
        if self._redeliver:
            self._delivered, self._redeliver = self._redeliver, 0
            self._lines_seen(self._delivered)
            await self.spend(self.costs.irq_delivery_ns, "wait", "irq_delivery")
            return True
        started = self.now_ns
        periods = 16
        while not (lines := self._deliverable_irqs()):
            remaining = timeout_ns - (self.now_ns - started)
            if remaining <= 0:
                return False
            if self.dev.idle_skip and self.dev.quiescent():
                # Nothing is left to raise it, until a host fault: the time passes.
                fault_in = self._next_event_ns() - self.now_ns
                if fault_in >= remaining:
                    await self.spend(remaining, "wait", "irq_wait")
                    return False
                if fault_in > 0:
                    await self.spend(fault_in, "wait", "irq_wait")
                if self.now_ns >= self._next_event_ns():
                    await self._fire_events()
                continue
            plan = self._plan_irq_wait(started, timeout_ns, periods, self._next_event_ns())
            if plan:
                done = await self.dev.run_periods([cycles for cycles, *_ in plan],
                                                  ALL_IRQ_LINES & ~self._lost_lines)
                _, self._owed_ns, self.time_ns["wait"], self.breakdown_ns["irq_wait"] = \
                    plan[done - 1]
            if self.now_ns >= self._next_event_ns():
                await self._fire_events()
            periods = min(2 * periods, IRQ_PLAN_PERIODS)
        if self._twice:
            self._twice, self._redeliver = False, lines
        self._delivered = lines
        self._lines_seen(lines)
        await self.spend(self.costs.irq_delivery_ns, "wait", "irq_delivery")
        return True

    def _lines_seen(self, lines):
        """The delivery's lines, seen high now (a restart is timed from here)."""
        self._seen_ns = {line: self.now_ns for line in range(lines.bit_length())
                         if lines >> line & 1}

    @contextlib.contextmanager
    def hardirq(self):
        self._in_hardirq = True
        try:
            yield
        finally:
            self._in_hardirq = False

    def _deliverable_irqs(self):
        """The raised lines an interrupt would deliver now: a lost one's are left out
        while they stay high (:meth:`lose_next_irq`)."""
        lines = self.dev.irq_lines
        self._lost_lines &= lines
        if lines and self._lose_next:
            self._lose_next, self._lost_lines = False, lines
        return lines & ~self._lost_lines

    def lose_next_irq(self):
        """Host fault: the next interrupt is never delivered."""
        self._lose_next = True

    def deliver_next_irq_twice(self):
        """Host fault: the next interrupt delivered is delivered once more after it."""
        self._twice = True

    def _plan_irq_wait(self, started, timeout_ns, periods, until_ns=math.inf):
        """Up to ``periods`` looks at the irq line, as ``spend`` would make them while
        the line stays low, none from ``until_ns`` on: (cycles waited, owed ns, wait
        ns, irq_wait ns) after each."""
        owed, waited = self._owed_ns, self.time_ns["wait"]
        booked = self.breakdown_ns.get("irq_wait", 0.0)
        cycle_ns, step_ns = self.cycle_ns, IRQ_CHECK_CYCLES * self.cycle_ns
        cycle = self.dev.cycle
        plan = []
        for _ in range(periods):
            now = (cycle - self._origin) * cycle_ns
            remaining = timeout_ns - (now - started)
            if remaining <= 0 or now >= until_ns:
                break
            ns = min(remaining, step_ns)
            waited += ns
            booked += ns
            owed += ns
            cycles = math.floor(owed / cycle_ns)
            if cycles:
                owed -= cycles * cycle_ns
            cycle += cycles
            plan.append((cycles, owed, waited, booked))
        return plan

    def pending_irqs(self):
        """The lines the latest interrupt delivered (see :meth:`wait_for_irq`)."""
        return self._delivered

    async def poll(self, condition, timeout_ns, ops=(Op.POLL_ITERATION,)):
        started = self.now_ns
        poll_ns = sum(self.costs.op_ns(op) for op in ops)
        while not condition():
            remaining = timeout_ns - (self.now_ns - started)
            if remaining <= 0:
                return False
            if self.dev.idle_skip and self.dev.quiescent():
                # The device writes nothing more: the condition stays false.
                await self.spend(remaining, "wait", "poll")
                return condition()
            await self.spend(poll_ns, "wait", "poll")
        return True

    # --- CPU ---
    async def cpu(self, op, count=1):
        await self.spend(self.costs.op_ns(op) * count, "cpu", op.value)

    def node_of(self, addr):
        return numa_node(self._numa, addr)

    async def _advance(self, ns, category, what):
        """The CPU copy's time (:class:`sim.host.cpu_copy.CpuCopy`): its cold start is
        CPU time, the copy is copy time."""
        await self.spend(ns, "copy" if category == "copy" else "cpu", what)

    # --- memory ---
    def mem_read(self, addr, nbytes):
        return self.dev.memory.read(addr, nbytes)

    def mem_write(self, addr, data):
        self.dev.memory.write(addr, data)
        for observe in self.write_observers:
            observe(addr, data)

    def alloc_coherent(self, nbytes, align=64, direction="bidirectional"):
        # As dma_alloc_coherent: whole pages of their own (so that a mapping for the
        # device's reads alone shares no page with a writable one), mapped.
        align = max(align, PAGE_BYTES)
        addr = -(-self._coherent_next // align) * align
        if addr + nbytes > self._coherent_end:
            raise MemoryError(f"coherent memory exhausted: {nbytes} bytes requested, "
                              f"{self._coherent_end - addr} left")
        self._coherent_next = addr + -(-nbytes // PAGE_BYTES) * PAGE_BYTES
        return self.iommu.map(addr, nbytes, direction)

    async def iommu_map(self, ranges):
        # Identity IOVA (sim.memsys.iommu): the bus address is the address; what the IOMMU
        # adds is that only mapped pages are reachable, as the direction allows. The caller
        # charges the DMA API's software, the port the IO page-table entries written.
        entries = self.iommu.page_table_entries(ranges)
        if entries:
            await self.spend(self.costs.iommu_map_page_ns * entries, "cpu", "iommu_map_pages")
        return [self.iommu.map(addr, nbytes, direction) for addr, nbytes, direction in ranges]

    async def iommu_unmap(self, ranges):
        entries = self.iommu.page_table_entries(ranges)
        invalidations = self.iommu.unmap_ranges(ranges)
        if entries:
            await self.spend(self.costs.iommu_unmap_page_ns * entries, "cpu",
                             "iommu_unmap_pages")
        if invalidations:
            await self.spend(self.costs.iotlb_invalidation_ns * invalidations, "cpu",
                             "iotlb_invalidation")
