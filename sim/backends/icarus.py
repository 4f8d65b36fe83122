"""Run a scenario against an Amaranth DUT exported to Verilog, in Icarus under cocotb.

The DUT is converted with amaranth.back.verilog (toplevel ``foliodma_dut``)
and compiled once per distinct Verilog text into the user cache (icarus/<hash>/ under
:func:`sim.backends.native.build.cache_root`). Each
run executes :mod:`sim.backends.cocotb_entry` in a fresh test directory; the scenario,
its kwargs, the memory config and the result file path travel as JSON in the
FOLIODMA_COCOTB_RUN environment variable, the result comes back as JSON.

The waveform (VCD or FST, by the path's extension) is on model time (see
:mod:`sim.backends.waveform`): the clock runs at the engine's period, in femtosecond
steps, and stops through the cycles skipped as idle; the reset comes first.
"""
import concurrent.futures
import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from cocotb_tools.runner import Icarus, get_results, get_runner

from sim.backends.native.build import cache_root
from sim.backends.base import (ScenarioError, build_memory, dut_bus_widths, dut_verilog,
                               engine_duts, load_scenario, scenario_name)
from sim.backends.waveform import period_fs, waveform_format
from sim.memsys.memory_system import DEFAULT_ENGINE_MHZ

ENV_VAR = "FOLIODMA_COCOTB_RUN"
TOPLEVEL = "foliodma_dut"
#: The build's timescale: femtosecond steps, the unit of every waveform's time.
TIMESCALE = ("1ns", "1fs")
_PROGRESS_POLL_SECONDS = 0.2

# Extra toplevel that dumps the DUT when run with +waves=<file>. Verilog-2005:
# cocotb's own dump module needs SystemVerilog, which the -g2005 build lacks.
_DUMP_TOP = "foliodma_waves"
_DUMP_MODULE = f"""\
module {_DUMP_TOP};
  reg [8*1024-1:0] path;
  initial if ($value$plusargs("waves=%s", path)) begin
    $dumpfile(path);
    $dumpvars(0, {TOPLEVEL});
  end
endmodule
"""


class IcarusNotFoundError(RuntimeError):
    """Icarus Verilog (iverilog/vvp) is not installed."""


def require_icarus():
    missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
    if missing:
        raise IcarusNotFoundError(
            f"{' and '.join(missing)} not found on PATH: the Icarus backend needs Icarus "
            f"Verilog 11 or newer (Debian/Ubuntu package 'iverilog': apt-get install iverilog)")


def build(dut, *, waves=False):
    """Compile dut for Icarus unless cached: (build directory, cached, seconds)."""
    require_icarus()
    text = dut_verilog(dut, TOPLEVEL)
    started = time.perf_counter()
    cached = (_build_dir(text, waves) / "sim.vvp").exists()
    directory = _build(text, waves)
    return directory, cached, 0.0 if cached else time.perf_counter() - started


def _build_root():
    """Where Icarus builds are cached: beside the native ones (sim.backends.native.build)."""
    return cache_root() / "icarus"


def _build_dir(verilog_text, waves):
    key = hashlib.sha256(f"{verilog_text}\n// waves={waves} timescale={TIMESCALE}"
                         .encode()).hexdigest()[:16]
    return _build_root() / key


def _build(verilog_text, waves):
    """Directory holding sim.vvp for this Verilog, compiling it unless cached."""
    target = _build_dir(verilog_text, waves)
    key = target.name
    if (target / "sim.vvp").exists():
        return target
    _build_root().mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=_build_root()))
    try:
        sources = [staging / f"{TOPLEVEL}.v"]
        sources[0].write_text(verilog_text)
        build_args = ["-g2005"]
        if waves:
            sources.append(staging / f"{_DUMP_TOP}.v")
            sources[1].write_text(_DUMP_MODULE)
            build_args += ["-s", _DUMP_TOP]
        get_runner("icarus").build(sources=sources, hdl_toplevel=TOPLEVEL,
                                   build_args=build_args, build_dir=staging, always=True,
                                   timescale=TIMESCALE)
        with contextlib.suppress(OSError):   # a concurrent build may have won the race
            os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _import_root(module_name):
    """The sys.path entry from which module_name (already imported) was loaded."""
    path = Path(sys.modules[module_name].__file__).resolve()
    return path.parents[module_name.count(".") + (path.name == "__init__.py")]


@contextlib.contextmanager
def _on_sys_path(paths):
    """Prepend absolute paths to sys.path: the cocotb runner passes it as PYTHONPATH."""
    added = [str(p) for p in dict.fromkeys(paths) if str(p) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for entry in added:
            sys.path.remove(entry)


class _IcarusRunner(Icarus):
    """cocotb's Icarus runner, with vvp's waveform dumper ours to choose: it passes -fst
    with ``waves`` and -none without; this passes ``-{dumper}`` (vcd, fst or none)."""

    def __init__(self, dumper):
        super().__init__()
        self.dumper = dumper

    def _test_command(self):
        return [[f"-{self.dumper}" if arg in ("-fst", "-none") else arg for arg in command]
                for command in super()._test_command()]


def _run_cocotb(build_dir, run_dir, config, waves, dumper):
    """Run sim.backends.cocotb_entry with the JSON config, writing the waveform ``waves``
    (None: none) with vvp's dumper (vcd, fst); returns the results XML path.

    Never raises SystemExit (which the runner uses under pytest on failures).
    """
    results_xml = run_dir / "results.xml"
    try:
        _IcarusRunner(dumper if waves else "none").test(
            test_module="sim.backends.cocotb_entry", hdl_toplevel=TOPLEVEL,
            hdl_toplevel_lang="verilog",
            build_dir=build_dir,
            test_dir=run_dir, results_xml=str(results_xml),
            extra_env={ENV_VAR: config}, log_file=run_dir / "sim.log",
            plusargs=[f"+waves={waves}"] if waves else [])
    except SystemExit:
        pass    # under pytest the runner exits on failures; the XML tells us what happened
    return results_xml


def run_icarus(dut, scenario, kwargs, *, memory_config, params=None, progress=None, vcd=None,
               engine_mhz=DEFAULT_ENGINE_MHZ):
    """Run scenario (its async function, or "package.module:function") with kwargs against dut in Icarus.

    Same arguments and result as :func:`sim.backends.pysim.run_pysim`, except
    that it runs one engine (a list of DUTs is refused: the pysim and verilator
    back-ends run several), and that the waveform (``vcd``) may be VCD or FST, by the path's extension (.vcd,
    .fst). kwargs, params and memory_config must be JSON-serialisable.
    Raises IcarusNotFoundError without Icarus, ScenarioError if the run failed.
    """
    require_icarus()
    dumper = waveform_format("icarus", vcd) if vcd is not None else None
    period = period_fs(engine_mhz)
    scenario = scenario_name(scenario)
    load_scenario(scenario)     # fail early, and import it to locate its root
    duts = engine_duts(dut)
    if len(duts) > 1:
        raise ValueError(f"the icarus back-end runs one engine, not {len(duts)}: use "
                         f"--backend verilator (or pysim) for a platform with several engines")
    dut = duts[0]
    data_width, id_width = dut_bus_widths(dut)
    build_memory(memory_config, data_width=data_width, id_width=id_width)   # validate early
    build_dir = _build(dut_verilog(dut, TOPLEVEL), vcd is not None)

    run_dir = Path(tempfile.mkdtemp(prefix="foliodma-icarus-"))
    try:
        try:
            config = json.dumps({
                "scenario": scenario, "kwargs": kwargs, "memory": memory_config,
                "params": {} if params is None else params,
                "data_width": data_width, "id_width": id_width,
                "period_fs": period,
                "result_file": str(run_dir / "result.json"),
                "progress_file": str(run_dir / "progress") if progress else None})
        except TypeError as error:
            raise TypeError(f"kwargs, params and memory_config must be JSON-serialisable to "
                            f"reach the cocotb process: {error}") from None
        waves = str(Path(vcd).resolve()) if vcd is not None else None
        roots = [_import_root(__name__), _import_root(scenario.partition(":")[0])]
        with _on_sys_path(roots), concurrent.futures.ThreadPoolExecutor(1) as pool:
            future = pool.submit(_run_cocotb, build_dir, run_dir, config, waves, dumper)
            reported = None
            while True:
                try:
                    results_xml = future.result(timeout=_PROGRESS_POLL_SECONDS)
                    break
                except concurrent.futures.TimeoutError:
                    if progress is not None:
                        with contextlib.suppress(OSError, ValueError):
                            cycle, ticked = map(int, (run_dir / "progress").read_text().split())
                            if cycle != reported:
                                reported = cycle
                                progress(cycle, ticked)
        return _collect(scenario, run_dir / "result.json", results_xml, run_dir / "sim.log")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _log_tail(log_file, lines=40):
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no simulator log)"


def _collect(scenario, result_file, results_xml, log_file):
    """The scenario's result from the run's files, or ScenarioError with its error.

    The simulator's output goes to log_file; its tail is shown only on failure.
    """
    try:
        outcome = json.loads(result_file.read_text())
    except (OSError, ValueError):
        outcome = {"error": "the simulation ended without writing a result; simulator log "
                            "tail:\n" + _log_tail(log_file)}
    try:
        _, failed = get_results(results_xml)
    except RuntimeError as error:   # no results XML: the simulator itself failed
        failed = 1
        outcome.setdefault("error", str(error))
    if failed or "error" in outcome:
        message = outcome.get("error", "the cocotb test failed; simulator log tail:\n"
                              + _log_tail(log_file))
        trace = outcome.get("traceback")
        raise ScenarioError(f"icarus: scenario {scenario} failed: {message}"
                            + (f"\n--- traceback in the cocotb process ---\n{trace}"
                               if trace else ""))
    return outcome["result"]
