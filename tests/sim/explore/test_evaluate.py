"""One evaluation: the CPU baseline shared by every engine, the cache keys, and an
engine's area from the real tools."""
import dataclasses
import json

import pytest

from hw.params import EngineParams
from sim.explore.evaluate import (area_key, baseline_request, dma_request, migration_key,
                                  run_area, run_migration)
from sim.explore.space import Area, parse_space
from sim.machine import load_machine

SPACE = parse_space({"workloads": [{"folio_size": "4K", "size": "1M"}],
                     "axes": {"data_width": [64, 512]}})


def test_every_engine_shares_one_cpu_baseline_and_it_is_the_plain_cpu_run():
    workload = SPACE.workloads[0]
    requests = [dma_request(SPACE, p, workload, p.machine()) for p in SPACE.points()]
    strict = dataclasses.replace(requests[1], machine=requests[1].machine.with_values(
        {"iommu.mode": "strict", "clocks.engine_mhz": 250.0}))
    baselines = [baseline_request(r) for r in (*requests, strict)]
    assert len({migration_key(b) for b in baselines}) == 1
    assert len({migration_key(r) for r in requests}) == 2
    # The engine side the baseline leaves out is never read by the CPU copy: the same
    # figures as the CPU run on the point's own machine.
    own = dataclasses.replace(strict, mode="cpu", flow=None)
    shared, plain = run_migration(baselines[0]), run_migration(own)
    assert shared["migrate_pages_ns"] == plain["migrate_pages_ns"]
    assert shared["cpu_seconds_per_gib"] == plain["cpu_seconds_per_gib"]


def test_a_key_changes_with_the_machine_and_the_workload():
    workload = SPACE.workloads[0]
    point = SPACE.points()[0]
    request = dma_request(SPACE, point, workload, point.machine())
    slow = dataclasses.replace(request, machine=request.machine.with_values(
        {"memory.remote.read_gbps": 20.0}))
    assert migration_key(slow) != migration_key(request)
    assert migration_key(dataclasses.replace(request, workload_bytes=2 << 20)) != \
        migration_key(request)
    assert migration_key(dataclasses.replace(request)) == migration_key(request)
    params = load_machine().engine
    area = Area()
    assert area_key(params, area, True) != area_key(params, area, False)
    assert area_key(params, area, True) != area_key(dataclasses.replace(params, data_width=64),
                                                    area, True)
    assert area_key(params, area, True) != area_key(params, Area(device="45k"), True)


SMALL = EngineParams(data_width=64, max_burst=16, buffer_depth=16, outstanding_reads=2,
                     outstanding_writes=2, prefetch_depth=1)


def test_area_from_synthesis(tmp_path, monkeypatch):
    import hw.synth
    asked = []

    def transistors(params, out_dir):
        # hw.synth.cmos_transistors runs Yosys itself in tests/hw/test_synth.py; here
        # only that run_area hands its figure on.
        asked.append(params)
        return 123_456, 0.5
    monkeypatch.setattr(hw.synth, "cmos_transistors", transistors)
    area = run_area(SMALL, Area(fmax=False, cmos=True), False, tmp_path)
    cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
    assert area["cells"] == {k: v for k, v in cells.items() if not k.startswith("$")}
    assert area["luts"] == cells["LUT4"] + 2 * cells["CCU2C"]
    assert area["ffs"] == cells["TRELLIS_FF"] and area["bram"] == cells.get("DP16KD", 0)
    assert area["lutram"] == cells["TRELLIS_DPR16X4"] and "fmax_mhz" not in area
    assert area["cmos_transistors"] == 123_456 and asked == [SMALL]
    # Another family: its synthesis, its cells counted by kind (stand-in cells here: the
    # family flows run in tests/hw/test_synth.py and make synth).
    gowin = {"LUT4": 10, "LUT2": 5, "ALU": 3, "MUX2_LUT5": 7, "DFFRE": 20, "DFFE": 2,
             "RAM16SDP4": 4, "SDPB": 1}

    def synthesized(params, out_dir, family):
        assert family == "gowin"
        return hw.synth.SynthResult(cells=gowin, netlist=tmp_path / "n.json",
                                    log=tmp_path / "l", seconds=0.1, family=family,
                                    params=params)
    monkeypatch.setattr(hw.synth, "synthesize", synthesized)
    area = run_area(SMALL, Area(family="gowin", device="gw2a-18", fmax=False), False, tmp_path)
    assert (area["luts"], area["ffs"], area["lutram"], area["bram"]) == (18, 22, 4, 1)
    assert area["family"] == "gowin"
    with pytest.raises(ValueError, match="unknown FPGA family 'vu9p'"):
        run_area(SMALL, Area(family="vu9p"), False, tmp_path / "c")
