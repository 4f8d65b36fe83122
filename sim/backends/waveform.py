"""Waveforms of a run: the format from the file's extension, the time axis model time.

Every back-end writes its waveform with one engine cycle per clock period of the
engine's clock (``engine_mhz``): rising edge k, after which ``dev.cycle == k``, is
at k periods, and the cycles a back-end skips as idle (see
:meth:`sim.backends.base.Device.wait_cycles`) pass as time with the clock
stopped high, since nothing changes in them. Icarus holds the engine in reset for
:data:`sim.backends.base.RESET_CYCLES` cycles first, so its time axis starts
that many periods earlier: there edge k is at ``RESET_CYCLES + k`` periods.

Time is in femtoseconds in every waveform; the period is rounded to an even
number of them, so that both half periods are whole (1 fs in a period of
nanoseconds: the rounding never shows).
"""
import math
from pathlib import Path

#: The waveform formats each back-end writes, chosen by the file's extension.
FORMATS = {"pysim": ("vcd",), "icarus": ("vcd", "fst"), "verilator": ("vcd",)}


def period_fs(engine_mhz):
    """The engine clock period in femtoseconds (an even number, at least 2)."""
    if not (isinstance(engine_mhz, (int, float)) and math.isfinite(engine_mhz)
            and engine_mhz > 0):
        raise ValueError(f"engine_mhz={engine_mhz!r}: a clock frequency must be a positive "
                         f"number")
    return max(2, 2 * round(5e8 / engine_mhz))


def extensions(backend):
    """The waveform file extensions of a back-end, as text: ".vcd or .fst"."""
    return " or ".join(f".{name}" for name in FORMATS[backend])


def format_problem(backend, path):
    """Why the back-end cannot write a waveform to path (its extension names a format
    the back-end does not write), or None."""
    if Path(path).suffix.lower().lstrip(".") in FORMATS[backend]:
        return None
    return (f"the {backend} back-end writes {' or '.join(n.upper() for n in FORMATS[backend])} "
            f"waveforms, the format taken from the extension: give a path ending in "
            f"{extensions(backend)}")


def waveform_format(backend, path):
    """The format ("vcd", "fst") that the back-end writes to path, from its extension;
    ValueError naming the extensions the back-end supports otherwise."""
    problem = format_problem(backend, path)
    if problem:
        raise ValueError(f"waveform path {str(path)!r}: {problem}")
    return Path(path).suffix.lower().lstrip(".")
