"""cocotb test module run by :func:`sim.backends.icarus.run_icarus`.

Reads its job from the FOLIODMA_COCOTB_RUN environment variable (JSON),
holds reset, then serves m_axi from the AxiSlaveModel in the test coroutine
itself while the scenario runs as a task. The serving loop registers on the
clock edge before any other task, so it steps the model first at every edge
(the timing contract of :mod:`sim.backends.base`). The outcome is written as JSON
to the result file: {"result": ...} or {"error": ..., "traceback": ...}.

Time is model time (:mod:`sim.backends.waveform`): the clock has the engine's
period (``period_fs``), cycles skipped as idle pass with it stopped high, and a
scenario that succeeds ends the test at once, so a waveform ends at its last cycle.
"""
import json
import logging
import os
import traceback
import warnings
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, Timer, with_timeout
from cocotb.utils import get_sim_steps
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from sim.memsys.axi_slave import OUTPUTS, AxiProtocolError
from sim.backends.base import (MMIO_TIMEOUT_CYCLES, PROGRESS_INTERVAL, Device,
                               build_memory, check_mmio, check_response, load_scenario)
from sim.backends.base import RESET_CYCLES
from sim.backends.icarus import ENV_VAR, TOPLEVEL

# cocotbext-axi 0.1.28 still calls APIs that cocotb 2 deprecates: not ours to fix.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"cocotbext\.axi\.")


class _CocotbDevice(Device):
    """Device on Icarus: cycle from simulation time (skipped cycles pass as time too),
    mmio through cocotbext-axi."""

    def __init__(self, dut, memory, axi, params, clock):
        super().__init__(memory, [axi], params)
        self._dut = dut
        self._edge = RisingEdge(dut.clk)
        self._clock = clock
        self._clock_running = True
        self._period = clock.period     # in simulator steps
        self._start = get_sim_time("step")
        self._timeout_steps = MMIO_TIMEOUT_CYCLES * self._period
        logging.getLogger(f"cocotb.{TOPLEVEL}").setLevel(logging.WARNING)   # per-access logs
        self._master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil", bus_separator="__"),
                                     dut.clk)

    @property
    def cycle(self):
        return (get_sim_time("step") - self._start) // self._period

    async def _skip(self, n):
        # Called right after an edge (or a skip), the clock high: it stays high, stopped,
        # until an access or a wait needs edges again (the scenario may skip again first).
        if self._clock_running:
            self._clock.stop()
            self._clock_running = False
        await Timer(n * self._period, "step")

    def _run_clock(self):
        """Restart the clock stopped by a skip: high, it falls half a period from now
        and rises a period from now, the next edge on the cycle grid. (Not restarted
        at the skip's end: a clock started and stopped in one time step keeps running.)"""
        if not self._clock_running:
            self._clock.start(start_high=True)
            self._clock_running = True

    @property
    def dut_idle(self):
        idle = getattr(self._dut, "idle", None)
        return idle is not None and bool(idle.value)

    @property
    def irq_lines(self):
        return int(bool(self._dut.irq.value))

    async def _mmio(self, kind, addr, access):
        self._run_clock()
        try:
            return await with_timeout(access, self._timeout_steps, "step")
        except SimTimeoutError:
            raise TimeoutError(f"MMIO {kind} {addr:#05x}: no response within "
                               f"{MMIO_TIMEOUT_CYCLES} cycles") from None

    async def mmio_write(self, addr, value):
        check_mmio(addr, value)
        response = await self._mmio("write to", addr, self._master.write(
            addr, value.to_bytes(4, "little")))
        check_response("write", addr, int(response.resp))

    async def mmio_read(self, addr):
        check_mmio(addr)
        response = await self._mmio("read of", addr, self._master.read(addr, 4))
        check_response("read", addr, int(response.resp))
        return int.from_bytes(response.data, "little")

    async def _edges(self, n):
        self._run_clock()
        await ClockCycles(self._dut.clk, n)

    async def wait_irq(self, timeout_cycles):
        self._run_clock()
        irq = self._dut.irq
        for _ in range(timeout_cycles):
            if irq.value:
                return True
            await self._edge
        return bool(irq.value)


async def _serve_m_axi(dut, axi, device, scenario_task, progress_file):
    """Step the model at every edge until the scenario is done; writes only changes."""
    edge = RisingEdge(dut.clk)

    def port(name):
        return getattr(dut, f"m_axi__{name}")

    arvalid, arid, araddr, arlen, arsize, arburst = map(
        port, ("arvalid", "arid", "araddr", "arlen", "arsize", "arburst"))
    awvalid, awid, awaddr, awlen, awsize, awburst = map(
        port, ("awvalid", "awid", "awaddr", "awlen", "awsize", "awburst"))
    wvalid, wdata, wstrb, wlast, rready, bready = map(
        port, ("wvalid", "wdata", "wstrb", "wlast", "rready", "bready"))
    outputs = [port(name) for name in OUTPUTS]
    rvalid_index, bvalid_index = OUTPUTS.index("rvalid"), OUTPUTS.index("bvalid")
    step = axi.step
    previous = axi.outputs
    while True:
        await edge
        if scenario_task.done():
            return
        try:
            ar = ((int(arid.value), int(araddr.value), int(arlen.value), int(arsize.value),
                   int(arburst.value)) if arvalid.value else None)
            aw = ((int(awid.value), int(awaddr.value), int(awlen.value), int(awsize.value),
                   int(awburst.value)) if awvalid.value else None)
            w = (int(wdata.value), int(wstrb.value), int(wlast.value)) if wvalid.value else None
            r_ready = previous[rvalid_index] and int(rready.value)
            b_ready = previous[bvalid_index] and int(bready.value)
        except ValueError as error:
            raise AxiProtocolError(f"an m_axi output of the DUT is X/Z at cycle "
                                   f"{axi.cycle + 1}: {error}") from None
        current = step(ar, aw, w, r_ready, b_ready)
        if current is not previous:
            for handle, new, old in zip(outputs, current, previous):
                if new != old:
                    handle.value = new
            previous = current
        if progress_file and axi.cycle % PROGRESS_INTERVAL == 0:
            Path(progress_file).write_text(f"{axi.cycle} {axi.cycle - device.skipped_cycles}")


async def _run(dut, config):
    scenario = load_scenario(config["scenario"])
    memory, (axi,) = build_memory(config["memory"], data_width=config["data_width"],
                                  id_width=config["id_width"])
    dut.rst.value = 1
    for name in ("awvalid", "wvalid", "bready", "arvalid", "rready"):
        getattr(dut, f"s_axil__{name}").value = 0
    for name, value in zip(OUTPUTS, axi.outputs):
        getattr(dut, f"m_axi__{name}").value = value
    # The C++ clock needs no Python wakeup per half period (about 2x faster); the
    # backend tests check that edges and sampling stay cycle-identical with pysim.
    period = get_sim_steps(config["period_fs"], "fs")
    clock = Clock(dut.clk, period, unit="step", impl="gpi")
    # Low from 0, rising at every whole period from the first on: reset release, and
    # cycle 0, at RESET_CYCLES periods.
    dut.clk.value = 0
    await Timer(period // 2, "step")
    clock.start(start_high=False)
    await ClockCycles(dut.clk, RESET_CYCLES)
    dut.rst.value = 0
    device = _CocotbDevice(dut, memory, axi, config["params"], clock)
    outcome = {}

    async def run_scenario():
        try:
            text = json.dumps({"result": await scenario(device, **config["kwargs"])})
        except Exception as error:      # reported by the serving loop's caller
            outcome["error"] = error
            device._run_clock()         # stopped by a skip: the loop waits for an edge
            return
        Path(config["result_file"]).write_text(text)
        cocotb.end_test()       # here, at the scenario's last cycle (not at the next edge)

    task = cocotb.start_soon(run_scenario())
    await _serve_m_axi(dut, axi, device, task, config["progress_file"])
    raise outcome.get("error") or RuntimeError("the scenario ended without a result")


@cocotb.test()
async def run_scenario(dut):
    """Run the scenario described in FOLIODMA_COCOTB_RUN; a scenario that succeeds
    writes its result and ends the test, a failure is written here."""
    config = json.loads(os.environ[ENV_VAR])
    try:
        await _run(dut, config)
    except Exception as error:
        text = json.dumps({"error": f"{type(error).__name__}: {error}",
                           "traceback": traceback.format_exc()})
        Path(config["result_file"]).write_text(text)
        raise
