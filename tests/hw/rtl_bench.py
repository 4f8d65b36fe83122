"""Base of the unit test benches of the engine's stages (Amaranth's simulator)."""
import random

from amaranth.sim import Simulator


class StageBench:
    """Runs ``self._bench(ctx)`` as the testbench of ``dut`` on one clock.

    ``pressure`` is the probability with which :meth:`refuse` says a handshake
    or resource is refused in a cycle, from a generator seeded with ``seed``.
    """

    def __init__(self, dut, *, pressure=0.0, seed=0):
        self.dut = dut
        self.pressure = pressure
        self.rng = random.Random(seed)

    def run(self):
        sim = Simulator(self.dut)
        sim.add_clock(1e-6)
        sim.add_testbench(self._bench)
        sim.run()
        return self

    def refuse(self):
        return self.rng.random() < self.pressure

    def log_pulses(self, ctx, cycle, logs):
        """Append (cycle, value) to logs[name] for each output ``name`` that is non-zero."""
        for name, log in logs.items():
            value = ctx.get(getattr(self.dut, name))
            if value:
                log.append((cycle, value))

    async def _bench(self, ctx):
        raise NotImplementedError
