"""Run a scenario against an Amaranth DUT in Amaranth's Python simulator (pysim).

The testbenches share the simulation: per engine a background one serving its
m_axi from its AxiSlaveModel port (added first, in engine order, so they run
first at every edge), and the scenario with the AXI4-Lite master. Several
engines are submodules of one top module, on one clock. Timing follows the contract in :mod:`sim.backends.base`.

Without a waveform the clock is Amaranth's own (``add_clock``), and cycles skipped
as idle take no simulated time. With one, the time axis is model time (see
:mod:`sim.backends.waveform`): the DUT sits under a top module that owns its
``sync`` domain, whose clock a process drives at the engine's period and holds high
through skipped cycles; the run stops at the scenario's last cycle, so the
waveform ends at ``dev.cycle`` periods. (Amaranth's clock cannot pause, and a
Python clock process costs some speed, so runs without a waveform keep Amaranth's.)
"""

from amaranth import C, Cat, ClockDomain, Elaboratable, Module, Mux
from amaranth.sim import Simulator

from sim.memsys.axi_slave import OUTPUTS
from sim.backends.base import (AXIL_PROT, MMIO_TIMEOUT_CYCLES, PROGRESS_INTERVAL, Device,
                               ScenarioError, check_mmio, check_response, prepare_run,
                               run_result, scenario_name)
from sim.backends.waveform import period_fs
from sim.memsys.memory_system import DEFAULT_ENGINE_MHZ

#: Clock period in seconds of a run without a waveform (only cycles matter there).
CLOCK_PERIOD = 1e-9


class _PysimDevice(Device):
    """Device on pysim; ``_cycle`` and the per-engine irq and idle bits are kept current
    by the m_axi servers."""

    def __init__(self, duts, memory, axis, params):
        super().__init__(memory, axis, params)
        self._buses = [dut.s_axil for dut in duts]
        self._ctx = None            # the scenario testbench's context
        self._cycle = 0
        self._irq = [False] * len(duts)
        self._idle = [False] * len(duts)
        self._unclocked = 0         # skipped cycles the waveform clock has yet to let pass

    @property
    def cycle(self):
        return self._cycle

    @property
    def irq_lines(self):
        return sum(1 << k for k, level in enumerate(self._irq) if level)

    @property
    def dut_idle(self):
        return all(self._idle)

    async def _skip(self, n):
        self._cycle += n
        self._unclocked += n

    async def mmio_write(self, addr, value):
        engine, offset = check_mmio(addr, value, self.engines)
        ctx, bus = self._ctx, self._buses[engine]
        await ctx.tick()
        ctx.set(bus.awaddr, offset)
        ctx.set(bus.awprot, AXIL_PROT)
        ctx.set(bus.awvalid, 1)
        ctx.set(bus.wdata, value)
        ctx.set(bus.wstrb, 0xF)
        ctx.set(bus.wvalid, 1)
        aw_pending = w_pending = True
        tick = ctx.tick().sample(bus.awready, bus.wready, bus.bvalid, bus.bresp)
        for _ in range(MMIO_TIMEOUT_CYCLES):
            _, _, awready, wready, bvalid, bresp = await tick
            if aw_pending and awready:
                aw_pending = False
                ctx.set(bus.awvalid, 0)
            if w_pending and wready:
                w_pending = False
                ctx.set(bus.wvalid, 0)
            if bvalid:
                check_response("write", addr, bresp)
                return
        raise TimeoutError(f"MMIO write to {addr:#05x}: no response within "
                           f"{MMIO_TIMEOUT_CYCLES} cycles")

    async def mmio_read(self, addr):
        engine, offset = check_mmio(addr, 0, self.engines)
        ctx, bus = self._ctx, self._buses[engine]
        await ctx.tick()
        ctx.set(bus.araddr, offset)
        ctx.set(bus.arprot, AXIL_PROT)
        ctx.set(bus.arvalid, 1)
        ar_pending = True
        tick = ctx.tick().sample(bus.arready, bus.rvalid, bus.rdata, bus.rresp)
        for _ in range(MMIO_TIMEOUT_CYCLES):
            _, _, arready, rvalid, rdata, rresp = await tick
            if ar_pending and arready:
                ar_pending = False
                ctx.set(bus.arvalid, 0)
            if rvalid:
                check_response("read", addr, rresp)
                return rdata
        raise TimeoutError(f"MMIO read of {addr:#05x}: no response within "
                           f"{MMIO_TIMEOUT_CYCLES} cycles")

    async def _edges(self, n):
        tick = self._ctx.tick()
        for _ in range(n):      # not tick().repeat(): it warns if a failure abandons it
            await tick

    async def wait_irq(self, timeout_cycles):
        for _ in range(timeout_cycles):
            if self.irq:
                return True
            await self._ctx.tick()
        return self.irq


def _m_axi_server(dut, axi, device, engine, progress):
    """Background testbench: one sample per edge, writes only changed outputs.

    Each address/data channel is sampled as Mux(VALID, Cat(1, payload), 0):
    pysim then evaluates the payload only when VALID is high, and 0 means idle.
    RREADY, BREADY, irq and idle come as bits 0..3 of one more value (idle is
    0 for a DUT without an ``idle`` output).
    """
    m = dut.m_axi
    id_width, addr_width, data_width = len(m.arid), len(m.araddr), len(m.wdata)
    id_mask, addr_mask = (1 << id_width) - 1, (1 << addr_width) - 1
    data_mask, strb_mask = (1 << data_width) - 1, (1 << data_width // 8) - 1
    strb_shift = data_width // 8
    inputs = (Mux(m.arvalid, Cat(C(1, 1), m.arid, m.araddr, m.arlen, m.arsize, m.arburst), 0),
              Mux(m.awvalid, Cat(C(1, 1), m.awid, m.awaddr, m.awlen, m.awsize, m.awburst), 0),
              Mux(m.wvalid, Cat(C(1, 1), m.wdata, m.wstrb, m.wlast), 0),
              Cat(m.rready, m.bready, dut.irq, getattr(dut, "idle", C(0, 1))))
    outputs = tuple(getattr(m, name) for name in OUTPUTS)
    s_axil = dut.s_axil

    def address(bits):
        """(id, addr, len, size, burst) from Cat(1, id, addr, len, size, burst)."""
        bits >>= 1
        ident = bits & id_mask
        bits >>= id_width
        addr = bits & addr_mask
        bits >>= addr_width
        return ident, addr, bits & 0xFF, (bits >> 8) & 0b111, bits >> 11

    async def serve(ctx):
        step = axi.step
        previous = axi.outputs
        for signal, value in zip(outputs, previous):
            ctx.set(signal, value)
        async for _, _, ar, aw, w, flags in ctx.tick().sample(*inputs):
            if w:
                w >>= 1
                w = (w & data_mask, (w >> data_width) & strb_mask,
                     w >> (data_width + strb_shift))
            else:
                w = None
            current = step(address(ar) if ar else None, address(aw) if aw else None, w,
                           flags & 1, flags & 2)
            cycle = device._cycle = axi.cycle
            device._irq[engine] = bool(flags & 4)
            device._idle[engine] = bool(flags & 8)
            if current is not previous:
                for signal, new, old in zip(outputs, current, previous):
                    if new != old:
                        ctx.set(signal, new)
                previous = current
            if cycle == 1:      # AxiLiteMaster's R/B sinks become ready after edge 1
                ctx.set(s_axil.rready, 1)
                ctx.set(s_axil.bready, 1)
            if progress is not None and engine == 0 and cycle % PROGRESS_INTERVAL == 0:
                progress(cycle, cycle - device.skipped_cycles)

    return serve


class _EnginesTop(Elaboratable):
    """The engines as submodules ``engine0``, ``engine1``... of one module, on one
    ``sync`` domain; with ``clocked``, the module owns that domain, so that a process
    can drive the clock (an Amaranth clock cannot pause)."""

    def __init__(self, duts, clocked):
        self.duts = duts
        self.sync = ClockDomain("sync") if clocked else None

    def elaborate(self, platform):
        m = Module()
        if self.sync is not None:
            m.domains.sync = self.sync
        for k, dut in enumerate(self.duts):
            m.submodules[f"engine{k}" if len(self.duts) > 1 else "dut"] = dut
        return m


class _RunFinished(Exception):
    """Stops a waveform run at the scenario's last cycle (sim.run() would go on to the
    clock's next event)."""


def _waveform_clock(clk, device, period):
    """The clock of a waveform run: rising edge k at k periods (seconds), high through
    the cycles the device skipped as idle."""
    half = period / 2

    async def clock(ctx):
        await ctx.delay(period)
        while True:
            ctx.set(clk, 1)
            await ctx.delay(half)
            while device._unclocked:
                skipped, device._unclocked = device._unclocked, 0
                await ctx.delay(skipped * period)
            ctx.set(clk, 0)
            await ctx.delay(half)

    return clock


def run_pysim(dut, scenario, kwargs, *, memory_config, params=None, progress=None, vcd=None,
              engine_mhz=DEFAULT_ENGINE_MHZ):
    """Run scenario (its async function, or "package.module:function") with kwargs against dut in pysim.

    dut           -- the DUT, or a list of DUTs of one configuration: the engines
                     (see :mod:`sim.backends.base`).
    memory_config -- see :func:`sim.backends.base.build_memory`.
    params        -- any dict, visible to the scenario as ``dev.params``.
    progress      -- called with the cycle number and the cycles simulated so far (not
                     skipped) every PROGRESS_INTERVAL cycles.
    vcd           -- path of a waveform to write (VCD: the path must end in .vcd).
    engine_mhz    -- the engine clock: the waveform's time scale (see
                     :mod:`sim.backends.waveform`).
    kwargs and params go through a JSON round trip, as on the way to Icarus, and
    so does the result. Raises ScenarioError carrying the exception of the
    scenario (or of the AXI model), or if the result is not JSON-serialisable.
    """
    scenario = scenario_name(scenario)
    run = prepare_run("pysim", dut, scenario, kwargs, params, memory_config, vcd)
    period = period_fs(engine_mhz) * 1e-15
    duts, axis = run.duts, run.slaves
    device = _PysimDevice(duts, run.memory, axis, run.params)
    outcome = {}

    async def run_scenario(ctx):
        device._ctx = ctx
        outcome["result"] = await run.function(device, **run.kwargs)
        if vcd is not None:
            # Cycles skipped at the very end pass too; then stop right here.
            if device._unclocked:
                await ctx.delay(device._unclocked * period)
            raise _RunFinished

    if vcd is None:
        sim = Simulator(duts[0] if len(duts) == 1 else _EnginesTop(duts, clocked=False))
        sim.add_clock(CLOCK_PERIOD)
    else:
        top = _EnginesTop(duts, clocked=True)
        sim = Simulator(top)
        sim.add_process(_waveform_clock(top.sync.clk, device, period))
    for engine, (one, axi) in enumerate(zip(duts, axis)):
        sim.add_testbench(_m_axi_server(one, axi, device, engine, progress), background=True)
    sim.add_testbench(run_scenario)
    try:
        if vcd is None:
            sim.run()
        else:
            with sim.write_vcd(str(vcd)):
                sim.run()
    except _RunFinished:
        pass
    except Exception as error:
        raise ScenarioError(f"pysim: scenario {scenario} failed at cycle {device.cycle}: "
                            f"{type(error).__name__}: {error}") from error
    return run_result("pysim", scenario, outcome["result"])
