"""The simulation back-ends of the engine RTL, by name.

Each runs a scenario (see :mod:`sim.backends.base`) with cycle-identical results:
``pysim`` (Amaranth's simulator, :mod:`sim.backends.pysim`), ``icarus`` (the exported
Verilog on Icarus Verilog under cocotb, :mod:`sim.backends.icarus`) and
``verilator`` (compiled, the memory side native, :mod:`sim.backends.verilator`).
"""

BACKENDS = ("pysim", "icarus", "verilator")


#: Not a back-end but the choice of one, every command's and the Python API's default:
#: verilator where its simulation of the engine builds here, else pysim
#: (:func:`auto_backend`).
AUTO_BACKEND = "auto"


#: What a --backend or a request's ``backend`` may name.
BACKEND_CHOICES = BACKENDS + (AUTO_BACKEND,)


def auto_backend(build):
    """What ``auto`` stands for here: ("verilator", None) if Verilator and a C++ compiler
    are here and ``build("verilator")`` (building the engine's simulation; cached)
    succeeds, else ("pysim", why not: the first line of the error)."""
    from sim.backends.native.build import NativeBuildError
    from sim.backends.verilator import require_verilator, VerilatorNotFoundError
    try:
        require_verilator()                 # before an engine is elaborated
        build("verilator")
    except (VerilatorNotFoundError, NativeBuildError) as error:
        return "pysim", str(error).splitlines()[0]
    return "verilator", None


def chosen_backend(backend, params):
    """The back-end an engine of ``params`` runs on, outside the command line: ``backend``
    itself, or for ``auto`` what :func:`auto_backend` finds (the engine's simulation
    built now, cached), with a warning when that is pysim saying why."""
    if backend != AUTO_BACKEND:
        return backend
    import warnings
    from hw.engine import DmaEngine
    chosen, why = auto_backend(lambda name: prepare(name, DmaEngine(params)))
    if why:
        warnings.warn(f"running on pysim: the compiled back-end is not available here ({why})",
                      stacklevel=3)
    return chosen


def get_runner(backend):
    """The run function of a back-end (see :func:`sim.backends.pysim.run_pysim`), after
    checking that its tools are here (IcarusNotFoundError, VerilatorNotFoundError)."""
    if backend == "pysim":
        from sim.backends.pysim import run_pysim
        return run_pysim
    if backend == "verilator":
        from sim.backends.verilator import require_verilator, run_verilator
        require_verilator()
        return run_verilator
    from sim.backends.icarus import require_icarus, run_icarus
    require_icarus()
    return run_icarus


def prepare(backend, dut, *, vcd=None):
    """Build the back-end's simulation of dut unless it is cached, before a timed run:
    {"build_seconds": ..., "build_cached": ...} (pysim builds nothing)."""
    if backend == "verilator":
        from sim.backends.verilator import build
        built = build(dut, trace=vcd is not None)
        return {"build_seconds": built.seconds, "build_cached": built.cached}
    if backend == "icarus":
        from sim.backends.icarus import build
        _, cached, seconds = build(dut, waves=vcd is not None)
        return {"build_seconds": seconds, "build_cached": cached}
    return {"build_seconds": 0.0, "build_cached": True}
