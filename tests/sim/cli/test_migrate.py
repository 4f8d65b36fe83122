"""`foliodma migrate`: its rows as JSON and as a table, injected faults, bad requests."""
import json

import pytest

from sim.cli.main import main
from tests.sim.kernel.test_migrate import REQUIRED_ROW_KEYS

K = 1 << 10


def test_migrate_json_rows(capsys):
    assert main(["migrate", "--workload", "16K", "--max-batch-pages", "2", "--json",
                 "--quiet", "--repeat", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["mode"] for r in rows] == ["cpu", "batch-cpu", "dma"]
    for row in rows:
        assert REQUIRED_ROW_KEYS <= set(row)
        assert row["workload_bytes"] == 16 * K and row["folio_bytes"] == 4 * K
        assert row["simulated_batches"] + row["extrapolated_batches"] == 2
        assert row["integrity"]["ok"] and row["integrity"]["migrated"] == 4
        assert 0 < row["F"] < 1
        assert row["post_move_access_cycles_per_page"] > 0
    assert rows[2]["driver"] == "v3"


def test_migrate_table_and_seed_workload_names(capsys):
    assert main(["migrate", "--workload", "256M", "--copy", "cpu", "--copy", "batch-cpu",
                 "--quiet", "--wide"]) == 0
    out = capsys.readouterr().out
    assert "256M = 65536 x 4K folios" in out and "128 batches" in out
    assert "2 + 126" in out and "migrate_pages cycles/page" in out and "±" in out


def test_migrate_injected_poison_on_the_command_line(capsys):
    assert main(["migrate", "--workload", "32K", "--copy", "batch-cpu", "--inject-poison",
                 "1,4", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["integrity"]["kept_at_source"] == 2 and row["integrity"]["migrated"] == 6


@pytest.mark.parametrize("argv, message", [
    (["migrate", "--workload", "4K", "--folio-size", "2M"], "multiple"),
    (["migrate", "--folio-size", "12K"], "folio size"),
    (["migrate", "--copy", "cpu", "--inject-poison", "999", "--workload", "8K"], "index"),
])
def test_migrate_bad_requests(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
