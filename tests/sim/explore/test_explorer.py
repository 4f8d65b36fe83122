"""Explorations end to end: rows, the cache shared between runs, failures reported
while the others complete, a resume after a killed run, and a point re-run alone."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sim.explore import explore
from sim.explore.cache import ResultCache
from sim.explore.space import parse_space

SMALL = {"name": "small", "backend": "verilator",
         "axes": {"driver": ["v2", "v3"], "engine_mhz": [500, 1000]},
         "workloads": [{"folio_size": "4K", "size": "512K"}], "area": {"enabled": False}}


def small(**changes):
    return parse_space({**SMALL, **changes})


def test_rows_hold_the_configuration_figures_and_answers(tmp_path):
    answers = explore(small(), workers=0, cache_dir=tmp_path, progress=False)
    frame = answers.frame
    assert len(frame) == 4 and (frame["status"] == "ok").all()
    assert set(frame["driver"]) == {"v2", "v3"} and set(frame["engine_mhz"]) == {500, 1000}
    # The whole engine and the workload, beside the figures.
    for column in ("data_width", "rings", "max_burst", "buffer_depth", "engines", "channels",
                   "workload_bytes", "folio_bytes", "source", "limiter", "on_front"):
        assert column in frame
    assert (frame["integrity"] == "ok").all()
    # The CPU baseline is one evaluation for every engine on this machine and workload.
    assert frame["cpu_key"].nunique() == 1 and frame["dma_key"].nunique() == 4
    assert answers.explorer.evaluated["migration"] == 5
    assert (frame["speedup"] == frame["dma_gbps"] / frame["cpu_gbps"]).all()
    # 4 KiB folios from an LLC-resident 512 KiB: the CPU's per-folio work limits DMA.
    assert (frame["limiter"] == "CPU per-folio work").all() and (frame["source"] == "LLC").all()
    assert frame.loc[frame["on_front"], "dma_gbps"].max() == frame["dma_gbps"].max()


def test_a_rerun_comes_from_the_cache_and_explorations_share_points(tmp_path):
    first = explore(small(), workers=0, cache_dir=tmp_path, progress=False)
    again = explore(small(), workers=0, cache_dir=tmp_path, progress=False)
    assert sum(again.explorer.evaluated.values()) == 0
    assert again.explorer.hits["migration"] == 5
    columns = ["point", "dma_gbps", "cpu_gbps", "dma_cpu_s_per_gib"]
    assert again.frame[columns].equals(first.frame[columns])
    # Another space with one point in common computes only the other.
    other = small(axes={"driver": ["v3"], "engine_mhz": [1000, 250]})
    answers = explore(other, workers=0, cache_dir=tmp_path, progress=False)
    assert answers.explorer.evaluated["migration"] == 1
    assert answers.explorer.hits["migration"] == 2


def test_a_failing_point_is_reported_while_the_others_complete(tmp_path, monkeypatch):
    import sim.explore.explorer as explorer_module
    real = explorer_module.run_migration

    def flaky(request):
        if request.mode == "dma" and request.machine.engine_mhz == 500 \
                and request.driver == "v2":
            raise RuntimeError("the simulated engine hung")
        return real(request)
    monkeypatch.setattr(explorer_module, "run_migration", flaky)
    answers = explore(small(), workers=0, cache_dir=tmp_path, progress=False)
    frame = answers.frame
    failed = frame[frame["status"] == "failed"]
    assert list(failed["point"]) == ["driver=v2, engine_mhz=500"]
    assert failed["error"].iloc[0] == "RuntimeError: the simulated engine hung"
    assert (frame[frame["status"] == "ok"]["dma_gbps"] > 0).sum() == 3
    assert answers.exploration.info["failed_rows"] == 1
    # Not cached: the next run tries it again, and the rest comes from the cache.
    monkeypatch.setattr(explorer_module, "run_migration", real)
    answers = explore(small(), workers=0, cache_dir=tmp_path, progress=False)
    assert (answers.frame["status"] == "ok").all()
    assert answers.explorer.evaluated["migration"] == 1


def _explore_command(space, cache, *extra):
    return [sys.executable, "-m", "sim.cli.main", "explore", str(space), "--workers", "0",
            "--cache-dir", str(cache), *extra]


def test_the_command_reports_a_real_failure_and_exits_1(tmp_path):
    # Icarus simulates one engine: the point with two fails in its worker, at run time.
    space = tmp_path / "space.toml"
    space.write_text('backend = "icarus"\n[axes]\nengines = [1, 2]\n[area]\nenabled = false\n'
                     '[[workloads]]\nfolio_size = "4K"\nsize = "64K"\n')
    result = subprocess.run(_explore_command(space, tmp_path / "cache"), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 1, result.stderr
    assert "FAILED DMA migration of 64KB in 4KB folios for engines=2" in result.stderr
    assert "point engines=2 on 4K x 64K FAILED: ValueError: the icarus back-end runs one " \
        "engine" in result.stderr
    # The other point completed and is answered.
    assert "none of 1 wins; the fastest:  engines=1" in result.stdout
    assert "1 failed" in result.stdout


def test_a_killed_run_resumes_where_it_stopped(tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('backend = "verilator"\n[axes]\ndriver = ["v2", "v3"]\n'
                     'engine_mhz = [250, 500, 1000]\n[area]\nenabled = false\n'
                     '[[workloads]]\nfolio_size = "4K"\nsize = "2M"\n')
    cache = tmp_path / "cache"
    process = subprocess.Popen(_explore_command(space, cache), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while len(ResultCache(cache)) < 3 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = len(ResultCache(cache))
    assert 3 <= done < 7, "the run was not killed half way"
    for path in cache.glob("*/*.json"):
        json.loads(path.read_text())                # every entry whole
    result = subprocess.run(_explore_command(space, cache), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"{7 - done} computed" in result.stdout and f"{done} from the cache" in result.stdout


def test_a_point_reruns_alone_with_migrate_from_json(tmp_path):
    points = tmp_path / "points"
    space = tmp_path / "space.toml"
    space.write_text('backend = "verilator"\n[axes]\ndriver = ["v2", "v3"]\n[area]\n'
                     'enabled = false\n[[workloads]]\nfolio_size = "2M"\nsize = "4M"\n'
                     'max_batch_pages = 1024\n')
    result = subprocess.run(_explore_command(space, tmp_path / "cache", "--json", "--points",
                                             str(points)),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    row = next(r for r in document["rows"] if r["driver"] == "v3")
    index = document["rows"].index(row)
    again = subprocess.run([sys.executable, "-m", "sim.cli.main", "migrate", "--from-json",
                            str(points / f"point-{index:04d}.json"), "--json", "--quiet"],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    cpu, dma = json.loads(again.stdout)["rows"]
    assert dma["migrate_gbps"] == pytest.approx(row["dma_gbps"], rel=1e-12)
    assert cpu["migrate_gbps"] == pytest.approx(row["cpu_gbps"], rel=1e-12)



def test_cheap_stage_plans_synthesis_and_the_full_one_place_and_route(tmp_path):
    from sim.explore.explorer import Explorer
    from sim.explore.pool import InlinePool
    space = parse_space({**SMALL, "area": {"fmax": True}})
    explorer = Explorer(space, ResultCache(tmp_path), InlinePool(), tmp_path / "area")
    point = space.points()[0]
    workload = space.workloads[0]
    _, cheap = explorer._plan(point, "screen", {workload: 128 << 10})
    _, full = explorer._plan(point, "full", {})
    (cheap_area,) = [job for job in cheap if job.kind == "area"]
    (full_area,) = [job for job in full if job.kind == "area"]
    assert cheap_area.args[2] is False and full_area.args[2] is True
    assert {job.args[0].workload_bytes for job in cheap if job.kind == "migration"} == \
        {128 << 10}
    assert {job.args[0].workload_bytes for job in full if job.kind == "migration"} == \
        {512 << 10}


def test_a_point_at_its_fmax_runs_once_place_and_route_gave_the_clock(tmp_path, monkeypatch):
    import sim.explore.explorer as explorer_module
    calls = []

    def placed(params, area, place, work_dir):
        # Stands in for the tools here (tests/hw/test_synth.py runs them): an engine's
        # Fmax that depends on its width, so that each point's clock is its own.
        calls.append((params.data_width, place))
        return {"luts": params.data_width * 10, "ffs": 1, "lutram": 0, "bram": 1,
                "fmax_mhz": 100.0 - params.data_width / 32, "family": "ecp5"}
    monkeypatch.setattr(explorer_module, "run_area", placed)
    space = parse_space({**SMALL, "axes": {"data_width": [128, 256],
                                           "engine_mhz": ["fmax", 1000]}, "area": {}})
    frame = explore(space, workers=0, cache_dir=tmp_path, progress=False).frame
    assert sorted(set(calls)) == [(128, True), (256, True)]
    at_fmax = frame[frame["clock"] == "fmax"].set_index("data_width")
    assert at_fmax.loc[128, "engine_mhz"] == 96.0 and at_fmax.loc[256, "engine_mhz"] == 92.0
    assert at_fmax.loc[128, "fmax_mhz"] == 96.0
    assert (frame[frame["clock"] == "given"]["engine_mhz"] == 1000).all()
    assert (frame["device_luts"] == frame["data_width"] * 10).all()
    # A slower clock, a slower copy.
    fast = frame[frame["clock"] == "given"].set_index("data_width")
    assert (at_fmax["dma_copy_gbps"] < fast["dma_copy_gbps"]).all()


def test_a_search_screens_then_evaluates_only_near_the_front(tmp_path):
    space = parse_space({**SMALL, "axes": {"engine_mhz": [100, 200, 400, 800],
                                           "driver": ["v2", "v3"]},
                         "workloads": [{"folio_size": "2M", "size": "8M",
                                        "max_batch_pages": 2048, "screen_size": "4M"}],
                         "search": {"method": "nsga2", "budget": 6, "population": 4}})
    answers = explore(space, workers=0, cache_dir=tmp_path, progress=False)
    info = answers.exploration.info
    assert info["search"] == "nsga2" and len(info["evaluation_order"]) == 6
    assert len(set(info["evaluation_order"])) == 6
    (agreement,) = info["agreement"]
    assert agreement["points"] == 3 and agreement["largest_difference"] > 0
    frame = answers.frame
    assert set(frame["stage"]) <= {"screen", "full"}
    full = frame[frame["stage"] == "full"]
    assert 0 < len(full) == info["fully_evaluated"] < 6 + 3
    # Every point on the front was fully evaluated.
    assert (frame[frame["on_front"]]["stage"] == "full").all()
