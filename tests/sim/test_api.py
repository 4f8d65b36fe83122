"""The Python API (sim/api.py): plain rows, the same figures as the command line."""
import json

import pytest

from sim.api import migrate_request, run_bench, run_migrate, sweep
from sim.cli.main import main


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


@pytest.mark.parametrize("call, message", [
    (lambda: migrate_request(mode="dma", colour="red"), r"unknown settings \['colour'\]"),
    (lambda: sweep("driver", ["v1"], mode="dma", driver="v3"), "swept and also given"),
    (lambda: run_bench(numa=True), "acts on the driver stack"),
])
def test_bad_settings_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
