"""The pin wrapper: the engine behind two data pins, every port driven or read."""
from amaranth.back import rtlil
from amaranth.sim import Simulator

from hw.engine import DmaEngine
from hw.params import SMALL_ENGINE
from hw.pin_wrapper import PinWrapper, engine_port_widths, wrapper_cells


def test_the_wrapped_engine_has_four_ports_and_the_wrapper_counts_its_own_cells():
    wrapper = PinWrapper(SMALL_ENGINE)
    text = rtlil.convert(wrapper, name="top", ports=[wrapper.sin, wrapper.sout])
    top = text[text.index("module \\top"):]
    top = top[:top.index("\nend\n")]
    ports = sorted(line.split()[-1] for line in top.splitlines()
                   if line.strip().startswith("wire") and (" input " in line or " output " in line))
    assert ports == ["\\clk", "\\rst", "\\sin", "\\sout"]
    inputs, outputs = engine_port_widths(DmaEngine(SMALL_ENGINE))
    assert inputs > 100 and outputs > 200          # AXI4 master + AXI4-Lite slave + irq
    assert wrapper_cells(SMALL_ENGINE) == {"flip-flops": inputs + 1, "xor inputs": outputs}


def test_the_output_pin_follows_the_engine():
    """Shifting ones in drives the engine's inputs (its AXI-Lite slave sees requests):
    the folded outputs change, so sout toggles; with sin low after reset it is steady."""
    def run(sin_value):
        wrapper = PinWrapper(SMALL_ENGINE)
        seen = []

        async def bench(ctx):
            ctx.set(wrapper.sin, sin_value)
            for _ in range(400):
                await ctx.tick()
                seen.append(ctx.get(wrapper.sout))
        sim = Simulator(wrapper)
        sim.add_clock(1e-8)
        sim.add_testbench(bench)
        sim.run()
        return seen
    assert len(set(run(0)[5:])) == 1
    assert len(set(run(1))) == 2
