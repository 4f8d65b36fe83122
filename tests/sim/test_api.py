"""The Python API (sim/api.py): plain rows, the same figures as the command line."""
import json
import warnings

import pytest

from sim.api import explore, migrate_request, run_bench, run_migrate, sweep
from sim.cli.main import main
from tests.sim.cli.test_cli import no_verilator


def test_run_migrate_row_equals_the_command_lines(capsys):
    row = run_migrate(mode="dma", workload_bytes=16 << 10, repeat=2, backend="verilator",
                      data_width=128)
    assert main(["migrate", "--copy", "dma", "--workload", "16K", "--repeat", "2",
                 "--backend", "verilator", "--data-width", "128", "--json", "--quiet"]) == 0
    cli_row, = json.loads(capsys.readouterr().out)["rows"]
    for key in ("migrate_pages_cycles_per_page", "folio_copy_cycles_per_page", "F",
                "copy_gbps", "integrity"):
        assert row[key] == cli_row[key], key
    json.dumps(row)                 # plain data


def test_sweep_gives_a_row_per_value_and_says_which():
    rows = sweep("driver", ["v2", "v3"], mode="dma", workload_bytes=256 << 10, repeat=1,
                 backend="verilator")
    assert [row["swept"] for row in rows] == [{"driver": "v2"}, {"driver": "v3"}]
    assert [row["driver"] for row in rows] == ["v2", "v3"]
    assert rows[1]["folio_copy_cycles_per_page"] < rows[0]["folio_copy_cycles_per_page"]


def test_run_bench_engine_and_driver():
    alone = run_bench(backend="verilator", folios=4, latency=20)
    assert alone["bytes"] == 4 * 4096 and 0 < alone["efficiency"] <= 1
    stack = run_bench(backend="verilator", driver="v3", folios=4, numa=True)
    assert stack["dma_copied_folios"] == 4 and stack["numa"] is True


@pytest.mark.parametrize("available", [True, False], ids=["builds", "missing"])
def test_the_backend_is_auto_unless_given_and_a_row_names_the_one_it_ran_on(available,
                                                                            monkeypatch):
    if not available:
        no_verilator(monkeypatch)
    ran_on = "verilator" if available else "pysim"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        row = run_migrate(mode="dma", workload_bytes=8 << 10, repeat=1)
        bench = run_bench(folios=2, latency=8)
    assert row["backend"] == bench["backend"] == ran_on
    assert row["integrity"]["ok"]
    fallbacks = [w for w in caught if "running on pysim: the compiled back-end is not "
                 "available here (g++ not found" in str(w.message)]
    assert len(fallbacks) == (0 if available else 2)


@pytest.mark.parametrize("call, message", [
    (lambda: run_migrate(mode="dma", backend="vcs"), "backend='vcs': expected one of pysim, "
                                                      "icarus, verilator, auto"),
    (lambda: run_bench(backend="vcs"), "backend='vcs': expected one of"),
    (lambda: migrate_request(mode="dma", colour="red"), r"unknown settings \['colour'\]"),
    (lambda: sweep("driver", ["v1"], mode="dma", driver="v3"), "swept and also given"),
    (lambda: run_bench(numa=True), "acts on the driver stack"),
])
def test_bad_settings_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_explore_returns_a_dataframe_with_its_answers(tmp_path):
    import pandas
    space = tmp_path / "space.toml"
    space.write_text('backend = "verilator"\n[axes]\ndriver = ["v2", "v3"]\n[area]\n'
                     'enabled = false\n[[workloads]]\nfolio_size = "4K"\nsize = "256K"\n')
    frame = explore(space, workers=0, cache_dir=tmp_path / "cache")
    assert isinstance(frame, pandas.DataFrame) and list(frame["driver"]) == ["v2", "v3"]
    assert frame["on_front"].any() and (frame["status"] == "ok").all()
    (crossover,) = frame.attrs["crossovers"]
    assert crossover["workload"] == "4K x 256K" and crossover["points"] == 2
    assert frame.attrs["info"]["evaluations"] == {"migration": 3}
    assert set(frame.attrs["sensitivity"]["gbps"]["4K x 256K"]) == {"driver"}
