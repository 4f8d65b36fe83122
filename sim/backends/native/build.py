"""Building and caching the native libraries (g++, and Verilator for the engine).

Every build goes to its own directory under the user cache
(``$FOLIODMA_CACHE_DIR``, else ``$XDG_CACHE_HOME/foliodma``, else
``~/.cache/foliodma``), named by a hash of everything that goes into it
(sources, flags, tool versions). A build holds a file lock on its directory
while it runs, so parallel processes that need the same configuration (sweep
points with ``--jobs``, xdist workers) build it once and the others wait and
reuse it.
"""
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NATIVE_DIR = Path(__file__).resolve().parent
#: g++ flags of every native build. -ffp-contract=off: no fused multiply-adds, so
#: double arithmetic is the same as Python's; -Bsymbolic: each library binds to its
#: own definitions (several engine builds may be loaded in one process).
CXXFLAGS = ("-std=c++17", "-O3", "-fPIC", "-shared", "-ffp-contract=off", "-w",
            "-Wl,-Bsymbolic")


class NativeBuildError(RuntimeError):
    """A native build failed or a tool it needs is missing; the message says which."""


@dataclass(frozen=True)
class Build:
    """A built library: its path, whether it was already cached, and the seconds the
    build took (0 when cached; waiting for another process's build counts)."""
    library: Path
    cached: bool
    seconds: float


def cache_root():
    """The directory holding every native build."""
    explicit = os.environ.get("FOLIODMA_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "foliodma"


def require_compiler():
    """Path of g++, or NativeBuildError naming the package to install."""
    compiler = shutil.which("g++")
    if compiler is None:
        raise NativeBuildError("g++ not found on PATH: the compiled back-end needs a C++17 "
                               "compiler (Debian/Ubuntu: apt-get install g++ make)")
    return compiler


@functools.lru_cache(maxsize=None)
def _tool_version(command):
    try:
        result = subprocess.run([*command, "--version"], capture_output=True, text=True,
                                check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise NativeBuildError(f"{command[0]} --version failed: {error}") from None
    return result.stdout.splitlines()[0] if result.stdout else ""


def tool_version(command):
    """First line of ``command --version`` (part of the cache key), asked once per process."""
    return _tool_version(tuple(map(str, command)))


def digest(*parts):
    """A short hash of strings and bytes, for a cache key."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def run_tool(command, cwd, log, env=None):
    """Run a build command, its output appended to log; NativeBuildError on failure."""
    with open(log, "a") as out:
        out.write("$ " + " ".join(map(str, command)) + "\n")
        out.flush()
        try:
            result = subprocess.run(list(map(str, command)), cwd=cwd, stdout=out,
                                    stderr=subprocess.STDOUT, env=env)
        except OSError as error:
            raise NativeBuildError(f"could not run {command[0]}: {error}") from None
    if result.returncode:
        tail = "\n".join(Path(log).read_text(errors="replace").splitlines()[-30:])
        raise NativeBuildError(f"{Path(command[0]).name} failed (exit {result.returncode}); "
                               f"log {log}:\n{tail}")


def cached_build(kind, key, library_name, build):
    """The library ``library_name`` in cache_root()/kind/key, made by ``build(directory)``
    unless present. The directory is locked while building; a failed build leaves no
    library behind, so the next call tries again."""
    directory = cache_root() / kind / key
    library = directory / library_name
    if library.exists():
        return Build(library, True, 0.0)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if library.exists():                # another process built it meanwhile
            return Build(library, False, time.perf_counter() - started)
        staging = directory / (library_name + ".partial")
        build(directory, staging)
        os.replace(staging, library)
    return Build(library, False, time.perf_counter() - started)


def model_defines():
    """The constants the C++ model shares with the Python one, as -D defines of every
    compile of ``axi_slave.hpp`` and ``harness.cpp``: defined once, in Python."""
    from hw.params import AXI_BOUNDARY_BYTES, AXI_MAX_BURST_BEATS
    from sim.backends.base import AXIL_PROT, IDLE_CHECK_CYCLES, RESET_CYCLES
    from sim.memsys.axi_slave import BACKPRESSURE_PERIOD
    from sim.memsys.iommu import LEVEL_SHIFTS, PAGE_SHIFT
    return {"FD_BACKPRESSURE_PERIOD": BACKPRESSURE_PERIOD,
            "FD_AXI_BOUNDARY_BYTES": AXI_BOUNDARY_BYTES,
            "FD_AXI_MAX_BURST_BEATS": AXI_MAX_BURST_BEATS,
            "FD_PAGE_SHIFT": PAGE_SHIFT,
            "FD_LEVEL2_SHIFT": LEVEL_SHIFTS[2], "FD_LEVEL3_SHIFT": LEVEL_SHIFTS[3],
            "FD_RESET_CYCLES": RESET_CYCLES, "FD_IDLE_CHECK_CYCLES": IDLE_CHECK_CYCLES,
            "FD_AXIL_PROT": AXIL_PROT}


def define_flags(defines):
    """-D flags of a {name: value} dict."""
    return [f"-D{name}={value}" for name, value in defines.items()]


def platform_library():
    """The native AXI slave alone (axi_slave.hpp + platform_api.cpp), for the
    differential test against the Python model."""
    compiler = require_compiler()
    sources = [NATIVE_DIR / "platform_api.cpp"]
    headers = [NATIVE_DIR / "axi_slave.hpp"]
    defines = define_flags(model_defines())
    key = digest(tool_version([compiler]), CXXFLAGS, defines,
                 *(path.read_bytes() for path in sources + headers))

    def build(directory, output):
        run_tool([compiler, *CXXFLAGS, *defines, f"-I{NATIVE_DIR}", *sources, "-o", output],
                 directory, directory / "build.log")

    return cached_build("platform", key, "libfoliodma_platform.so", build)
