"""What the board's RTL tests share: running testbenches on a design."""
from amaranth.sim import Simulator


def run(dut, *benches):
    """Run each async testbench ``bench(ctx)`` on ``dut`` with a 1 MHz clock, to the end."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for bench in benches:
        sim.add_testbench(bench)
    sim.run()
