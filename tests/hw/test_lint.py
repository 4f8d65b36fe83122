"""The exported Verilog against `verilator --lint-only -Wall`, for every data width; the
waivers, each with its reason, are hw/lint.vlt."""
import os
import subprocess
from pathlib import Path

import pytest

import hw
from sim.backends.verilator import verilator_root
from sim.cli.main import main

LINT_CONFIG = Path(hw.__file__).parent / "lint.vlt"


def lint(path):
    """(exit status, output) of verilator's lint of the Verilog file with the waivers."""
    root = verilator_root()
    result = subprocess.run([root / "bin" / "verilator", "--lint-only", "-Wall",
                             LINT_CONFIG, path], capture_output=True, text=True,
                            env={**os.environ, "VERILATOR_ROOT": str(root)})
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("data_width", [64, 128, 256, 512])
def test_the_exported_engine_passes_lint(tmp_path, data_width, capsys):
    path = tmp_path / "foliodma_engine.v"
    assert main(["verilog", "--data-width", str(data_width), "--out", str(path)]) == 0
    status, output = lint(path)
    assert status == 0 and "%Warning" not in output and "%Error" not in output, output


def test_lint_reports_what_the_waivers_do_not_cover(tmp_path):
    """A blocking assignment in a clocked process, which no waiver covers, fails."""
    path = tmp_path / "bad.v"
    path.write_text("module bad(input clk, input d, output reg q);\n"
                    "  always @(posedge clk) q = d;\nendmodule\n")
    status, output = lint(path)
    assert status != 0 and "%Warning-BLKSEQ" in output
