"""Waveforms: the time axis is model time on every back-end, the format from the extension.

One engine cycle is one period of the engine clock (``engine_mhz``); cycles skipped as
idle pass as time without clock edges; a waveform ends at the run's last cycle (on
Icarus the reset's cycles come first). The waveforms are read back here: VCD as text,
FST by its header block.
"""
import json
import math
import re
import shutil
import struct

import pytest

from hw.engine import DmaEngine
from hw.params import EngineParams
from sim.backends import get_runner
from sim.backends.base import ScenarioError
from sim.backends.base import RESET_CYCLES
from sim.backends.waveform import period_fs, waveform_format
from sim.cli.main import main
from sim.experiments.engine_scenarios import memory_config

PARAMS = EngineParams(data_width=64)
#: Not the default 1000 MHz: a back-end that ignored the engine clock would show.
ENGINE_MHZ = 250
SCENARIO = f"{__name__}:idle_and_busy"


async def idle_and_busy(dev):
    """Register reads and waits that are skipped as idle, the run ending in a skip;
    returns (what, cycle, skipped cycles) after each step."""
    dev.idle_skip = True
    steps = []

    async def step(what, action):
        await action
        steps.append((what, dev.cycle, dev.skipped_cycles))

    await step("read", dev.mmio_read(0))
    await step("wait 20", dev.wait_cycles(20))
    await step("wait 100", dev.wait_cycles(100))
    await step("read", dev.mmio_read(0))
    await step("wait 3", dev.wait_cycles(3))
    dev.idle_skip = False
    await step("2 edges", dev.wait_cycles(2))
    dev.idle_skip = True
    await step("wait 50", dev.wait_cycles(50))
    return steps


async def skip_then_fail(dev):
    """Fails right after a skip, the clock stopped on Icarus."""
    dev.idle_skip = True
    await dev.mmio_read(0)
    await dev.wait_cycles(40)
    assert dev.skipped_cycles == 40
    raise AssertionError(f"deliberate failure at cycle {dev.cycle}")


def simulated_cycles(steps):
    """The cycles whose edges were simulated: within a step, the edges come first and
    the skipped cycles last (Device.wait_cycles skips the rest of a wait)."""
    cycles, cycle, skipped = [], 0, 0
    for _, next_cycle, next_skipped in steps:
        ticked = next_cycle - cycle - (next_skipped - skipped)
        cycles += range(cycle + 1, cycle + ticked + 1)
        cycle, skipped = next_cycle, next_skipped
    return cycles


def read_vcd(path):
    """(timescale, last #time, times of the rising edges of the first 1-bit 'clk')."""
    text = path.read_text()
    timescale = re.search(r"\$timescale\s+(.*?)\s*\$end", text, re.S).group(1)
    clk = re.search(r"\$var\s+\S+\s+1\s+(\S+)\s+clk\s", text).group(1)
    time, last, rises = 0, None, []
    body = text[text.index("$enddefinitions"):]
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("#"):
            time = last = int(line[1:])
        elif line == "1" + clk:
            rises.append(time)
    return timescale.replace(" ", ""), last, rises


def read_fst_end(path):
    """(time exponent, end time) from an FST file's header block: block type 0, its
    length, then start and end time (big-endian u64) ... and at byte 73 the timescale
    as a power of ten (int8)."""
    head = path.read_bytes()[:74]
    assert head[0] == 0, "not an FST file starting with its header block"
    _, _, end = struct.unpack(">QQQ", head[1:25])
    return struct.unpack("b", head[73:74])[0], end


def runner(backend):
    tool = {"icarus": "iverilog", "verilator": "g++"}.get(backend)
    if tool and shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed")
    return get_runner(backend)


def test_period_is_the_engine_clock_in_even_femtoseconds():
    assert period_fs(1000) == 1_000_000
    assert period_fs(250) == 4_000_000
    odd = period_fs(333)                    # 3,003,003.003 fs
    assert odd % 2 == 0 and abs(odd - 1e9 / 333) <= 1
    for bad in (0, -5, math.nan, math.inf, "fast"):
        with pytest.raises(ValueError, match="positive number"):
            period_fs(bad)


@pytest.mark.parametrize("backend, path, expected", [
    ("pysim", "run.vcd", "vcd"), ("icarus", "run.vcd", "vcd"), ("icarus", "run.FST", "fst"),
    ("verilator", "a/b.vcd", "vcd"),
    ("pysim", "run.fst", "give a path ending in .vcd"),
    ("icarus", "run.lxt", "give a path ending in .vcd or .fst"),
    ("verilator", "run.fst", "give a path ending in .vcd"),
    ("pysim", "run", "the pysim back-end writes VCD waveforms"),
])
def test_format_from_the_extension(backend, path, expected):
    if len(expected) == 3:
        assert waveform_format(backend, path) == expected
    else:
        with pytest.raises(ValueError, match=re.escape(expected)):
            waveform_format(backend, path)


@pytest.mark.parametrize("backend, suffix", [
    ("pysim", "vcd"), ("icarus", "vcd"), ("icarus", "fst"), ("verilator", "vcd")])
def test_time_axis_is_model_time(backend, suffix, tmp_path):
    run = runner(backend)
    config = memory_config(4096, read_latency=5, write_latency=5)
    path = tmp_path / f"run.{suffix}"
    steps = run(DmaEngine(PARAMS), SCENARIO, {}, memory_config=config, vcd=path,
                engine_mhz=ENGINE_MHZ)
    if suffix == "vcd":         # the waveform changes nothing: as a run without one
        assert steps == run(DmaEngine(PARAMS), SCENARIO, {}, memory_config=config)
    _, end_cycle, skipped = steps[-1]
    assert skipped > 150 and steps[-2][2] < skipped     # it ends in a skip
    period = period_fs(ENGINE_MHZ)
    lead = RESET_CYCLES if backend == "icarus" else 0
    if suffix == "fst":
        exponent, end = read_fst_end(path)
        assert exponent == -15
        assert end == (lead + end_cycle) * period
        return
    timescale, end, rises = read_vcd(path)
    assert timescale == "1fs"
    assert end == (lead + end_cycle) * period
    # An edge on the cycle grid for each simulated cycle (Icarus: and the reset's
    # edges), none in the skipped spans.
    assert all(time % period == 0 for time in rises)
    assert [time // period - lead for time in rises] == (
        list(range(1 - lead, 1)) + simulated_cycles(steps))


@pytest.mark.parametrize("backend", ["pysim", "icarus", "verilator"])
def test_failure_after_a_skip_is_reported(backend, tmp_path):
    run = runner(backend)
    with pytest.raises(ScenarioError, match="deliberate failure at cycle 43"):
        run(DmaEngine(PARAMS), f"{__name__}:skip_then_fail", {},
            memory_config=memory_config(4096, read_latency=5, write_latency=5),
            vcd=tmp_path / "fail.vcd")


@pytest.mark.parametrize("backend", ["pysim", "verilator"])
def test_driver_bench_waveform_ends_at_its_end_cycle(backend, tmp_path, capsys):
    runner(backend)
    path = tmp_path / "d.vcd"
    assert main(["bench", "--folios", "2", "--driver", "v3", "--backend", backend,
                 "--engine-mhz", str(ENGINE_MHZ), "--vcd", str(path), "--json",
                 "--quiet"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["skipped_cycles"] > 0
    _, end, rises = read_vcd(path)
    assert end == row["end_cycle"] * period_fs(ENGINE_MHZ)
    assert len(rises) == row["end_cycle"] - row["skipped_cycles"]


def test_migrate_waveform_runs_at_engine_mhz(tmp_path, capsys):
    path = tmp_path / "m.vcd"
    assert main(["migrate", "--copy", "dma", "--workload", "16K", "--engine-mhz", "500",
                 "--vcd", str(path), "--json", "--quiet"]) == 0
    capsys.readouterr()
    _, end, rises = read_vcd(path)
    period = period_fs(500)
    assert all(time % period == 0 for time in rises) and end % period == 0
    assert min(b - a for a, b in zip(rises, rises[1:])) == period
    assert end > rises[-1]          # the driver's idle time after the last edge


@pytest.mark.parametrize("argv, message", [
    (["bench", "--vcd", "w.fst", "--backend", "pysim"],
     "the pysim back-end writes VCD waveforms, the format taken from the extension: give a "
     "path ending in .vcd"),
    (["bench", "--vcd", "w.lxt", "--backend", "icarus"], "give a path ending in .vcd or .fst"),
    (["bench", "--vcd", "w.vcd", "--backend", "icarus,verilator"],
     "give --backend icarus (.vcd or .fst), verilator (.vcd)"),
])
def test_cli_names_the_extensions(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
