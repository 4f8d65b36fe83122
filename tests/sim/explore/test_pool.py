"""Explorations on Dask distributed: an embedded LocalCluster of two worker processes,
and a scheduler and a worker started as separate processes, reached by address."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.explore import explore
from sim.explore.pool import InlinePool, PoolError, make_pool
from sim.explore.space import parse_space

SPACE = {"name": "on dask", "backend": "verilator",
         "axes": {"driver": ["v2", "v3"], "engine_mhz": [400, 1000]},
         "workloads": [{"folio_size": "4K", "size": "256K"}], "area": {"enabled": False}}


def test_a_local_cluster_of_two_worker_processes(tmp_path):
    space = parse_space(SPACE)
    answers = explore(space, workers=2, cache_dir=tmp_path, progress=False)
    frame = answers.frame
    assert len(frame) == 4 and (frame["status"] == "ok").all()
    assert answers.explorer.evaluated["migration"] == 5
    # The same figures as in this process.
    inline = explore(space, workers=0, cache_dir=tmp_path / "inline", progress=False).frame
    assert inline["dma_gbps"].tolist() == frame["dma_gbps"].tolist()


def _wait_for(path, process, seconds=60):
    deadline = time.time() + seconds
    while not path.exists():
        if process.poll() is not None or time.time() > deadline:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.1)


def test_a_scheduler_and_a_worker_started_apart_reached_by_address(tmp_path):
    dask = Path(sys.executable).parent / "dask"
    info = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([dask, "scheduler", "--scheduler-file", info, "--port", "0",
                                  "--no-dashboard"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    worker = None
    try:
        _wait_for(info, scheduler)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads",
                                   "1", "--no-dashboard"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, cwd=tmp_path,
                                  env={**os.environ, "PYTHONPATH": str(Path.cwd())})
        lines = []
        answers = explore(parse_space(SPACE), scheduler=address, cache_dir=tmp_path / "cache",
                          progress=False, announce=lines.append)
        assert lines[0].startswith(f"the Dask cluster at {address}")
        assert (answers.frame["status"] == "ok").all() and len(answers.frame) == 4
        assert answers.explorer.evaluated["migration"] == 5
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def test_pool_choices_and_errors():
    assert isinstance(make_pool(workers=0), InlinePool)
    with pytest.raises(PoolError, match="in this process"):
        make_pool("tcp://127.0.0.1:1", 0)
    with pytest.raises(PoolError, match="its own workers"):
        make_pool("tcp://127.0.0.1:1", 2)
    with pytest.raises(PoolError, match="cannot reach the Dask scheduler tcp://127.0.0.1:9"):
        make_pool("tcp://127.0.0.1:9", timeout=1).pool
