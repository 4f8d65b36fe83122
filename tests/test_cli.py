"""The foliodma command line: bench output, clear errors for bad input."""
import json
from pathlib import Path

import pytest

from sim.cli import main, parse_size

REQUIRED_KEYS = {"bytes", "cycles", "bytes_per_cycle", "peak_bytes_per_cycle", "efficiency",
                 "folios", "backend", "doorbell_to_first_ar_cycles",
                 "max_descriptor_gap_cycles", "wall_seconds"}


def test_parse_size():
    assert parse_size("4K") == 4096
    assert parse_size("2M") == 2 << 20
    assert parse_size("1GiB") == 1 << 30
    assert parse_size("512") == 512


def test_bench_json(capsys):
    assert main(["bench", "--folios", "3", "--latency", "16", "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert REQUIRED_KEYS <= set(result)
    assert result["bytes"] == 3 * 4096 and result["folios"] == 3
    assert result["backend"] == "pysim"
    assert result["peak_bytes_per_cycle"] == 32
    assert 0 < result["efficiency"] <= 1
    assert result["bytes_per_cycle"] == pytest.approx(result["bytes"] / result["cycles"])


def test_bench_table(capsys):
    assert main(["bench", "--folios", "2", "--latency", "8", "--data-width", "64",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "64-bit" in out and "efficiency" in out and "pysim" in out


@pytest.mark.parametrize("argv, message", [
    (["bench", "--data-width", "100"], "data_width=100 is out of range"),
    (["bench", "--folio-size", "100"], "not a multiple of the 32-byte beat"),
])
def test_bench_bad_parameters(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["bench", "--folio-size", "3x"], "'3x' is not a size"),
    (["bench", "--folios", "0"], "'0' must be at least 1"),
    (["bench", "--backpressure", "1.5"], "'1.5' must be in [0, 1)"),
    (["bench", "--latency", "-3"], "'-3' is not an integer >= 0"),
    (["bench", "--seed", "x"], "'x' is not an integer >= 0"),
    (["migrate", "--vcd", "no/such/dir/copy.vcd"], "directory 'no/such/dir' does not exist"),
    (["migrate", "--vcd", "."], "'.' is a directory"),
])
def test_bad_arguments_exit_with_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_iverilog_is_named(monkeypatch, capsys):
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert main(["bench", "--backend", "icarus", "--folios", "1", "--quiet"]) == 1
    assert "iverilog" in capsys.readouterr().err


def test_regs_writes_the_docs_kept_in_the_repo(tmp_path, capsys):
    assert main(["regs", "--out", str(tmp_path / "regs")]) == 0
    docs = Path(__file__).resolve().parents[1] / "docs"
    for name in ("foliodma_regs.h", "registers.md"):
        assert (tmp_path / "regs" / name).read_text() == (docs / name).read_text()
    assert "wrote" in capsys.readouterr().out
