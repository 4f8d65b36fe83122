"""The simulation back-ends of the engine RTL, by name.

Each runs a scenario (see :mod:`sim.backends.base`) with cycle-identical results:
``pysim`` (Amaranth's simulator, :mod:`sim.backends.pysim`), ``icarus`` (the exported
Verilog on Icarus Verilog under cocotb, :mod:`sim.backends.icarus`) and
``verilator`` (compiled, the memory side native, :mod:`sim.backends.verilator`).
"""

BACKENDS = ("pysim", "icarus", "verilator")


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
