"""foliodma reproduce: model vs the seed's tables, cell by cell (a reduced run here)."""
import io
import math

import pytest

from sim import seed
from sim.cli.main import main
from sim.kernel.request import MigrateRequest
from sim.experiments.reproduce import (_run_keep_raw, print_report, reuse_simulation, run_all)


@pytest.fixture(scope="module")
def report():
    # The 4KB rows of every mode (the DMA one on the RTL, dcbm v1) and nothing else.
    return run_all(backend="pysim", repeat=5, jobs=1, workloads=("4K",), later=False)


def test_rows_cells_and_errors(report):
    assert [(r["mode"], r["workload"]) for r in report["table1"]] == \
        [("cpu", "4K"), ("batch-cpu", "4K"), ("dma", "4K")]
    for row in report["table1"]:
        assert row["integrity_ok"]
        for column in seed.TABLE1_FIELDS:
            measured, sd = seed.table1(row["mode"], row["workload"], column)
            cell = row["cells"][column]
            assert (cell["seed"], cell["seed_sd"]) == (measured, sd)
            assert cell["error"] == pytest.approx((cell["model"] - measured) / measured)
    for mode in ("cpu", "batch-cpu"):
        row = next(r for r in report["table1"] if r["mode"] == mode)
        assert abs(row["cells"]["migrate_pages"]["error"]) <= 0.10
        assert abs(row["cells"]["folio_copy"]["error"]) <= 0.10
    assert report["checks"]["cpu"]["ok"] and report["checks"]["batch-cpu"]["ok"]


def test_offload_penalty_against_both_seed_tables(report):
    [entry] = report["offload_penalty"]
    cells = {r["mode"]: r["cells"]["migrate_pages"]["model"] for r in report["table1"]}
    assert entry["model"] == pytest.approx(cells["dma"] - cells["batch-cpu"])
    # Table 1: 46739.80 ± 4827.15 minus 14941.60 ± 2556.53 (one run each).
    assert entry["seed_table1"] == pytest.approx(31798.2)
    assert entry["seed_table1_sd"] == pytest.approx(math.hypot(4827.15, 2556.53))
    assert entry["sds_table1"] == pytest.approx(
        (entry["model"] - 31798.2) / entry["seed_table1_sd"])
    # Table 2 (move_pages): 222818.00 ± 22710.80 minus 206370.20 ± 28303.18.
    assert entry["seed_table2"] == pytest.approx(16447.8)
    assert entry["seed_table2_sd"] == pytest.approx(math.hypot(22710.80, 28303.18))
    out = io.StringIO()
    print_report(report, out)
    assert f"table 1:  31798 ± {entry['seed_table1_sd']:5.0f}" in out.getvalue()


def test_table2_and_summary(report):
    assert len(report["table2"]) == 12
    for row in report["table2"]:
        assert row["model"] is not None and row["model"] > 0
        if row["mode"] != "dma":          # the CPU leaves the moved pages cache-hot
            assert abs(row["error"]) <= 0.20, row
        else:
            assert row["other_reading"] is not None
    assert {"post_move_access", "dma/folio_copy", "cpu/migrate_pages"} <= set(report["summary"])
    out = io.StringIO()
    print_report(report, out)
    text = out.getvalue()
    assert "Seed table 1" in text and "Seed table 2" in text
    assert "Largest error per column" in text and "Summary:" in text


def test_reused_simulation_equals_its_own_run():
    big = _run_keep_raw(MigrateRequest(mode="batch-cpu", workload_bytes=1 << 30, repeat=5))
    small_request = MigrateRequest(mode="batch-cpu", workload_bytes=256 << 20, repeat=5)
    reused = reuse_simulation(big, small_request)
    direct = _run_keep_raw(small_request)
    assert reused["extrapolated_batches"] == direct["extrapolated_batches"] == 126
    for key in ("migrate_pages_cycles_per_page", "folio_copy_cycles_per_page", "F",
                "migrate_pages_cycles_per_page_sd", "post_move_access_cycles_per_page",
                "breakdown_cycles_per_page"):
        assert reused[key] == pytest.approx(direct[key], rel=1e-12), key
    # Totals of the longer run are not carried over.
    big["simulated_cycles"] = 12345
    assert "simulated_cycles" not in reuse_simulation(big, small_request)


def test_reproduce_command_line_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "--help"])
    assert exit_info.value.code == 0
    assert "--backend" in capsys.readouterr().out
