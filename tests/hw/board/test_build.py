"""The board build's timing check, on nextpnr reports written here (a real build takes
minutes: `make board`)."""
import json

import pytest

from hw.board.build import TOP, BoardBuildError, check_timing
from hw.board.top import BOARDS, DEFAULT_BOARD

SPEC = BOARDS[DEFAULT_BOARD]


def report(tmp_path, achieved_mhz):
    path = tmp_path / f"{TOP}-report.json"
    path.write_text(json.dumps({
        "fmax": {"$glbnet$clk": {"achieved": achieved_mhz, "constraint": SPEC.clk_hz / 1e6}},
        "utilization": {"DP16KD": {"used": 136, "available": 208},
                        "DCUA": {"used": 0, "available": 2}}}))
    bitstream = tmp_path / f"{TOP}.bit"
    bitstream.write_bytes(b"bits")
    return path, bitstream


def test_a_design_at_the_board_clock_passes(tmp_path):
    path, bitstream = report(tmp_path, SPEC.clk_hz / 1e6 + 0.5)
    fmax, utilization = check_timing(path, SPEC, bitstream)
    assert fmax == SPEC.clk_hz / 1e6 + 0.5
    assert utilization == {"DP16KD": {"used": 136, "available": 208}}
    assert bitstream.exists()


def test_a_design_below_the_board_clock_fails_and_loses_its_bitstream(tmp_path):
    path, bitstream = report(tmp_path, SPEC.clk_hz / 1e6 - 1)
    with pytest.raises(BoardBuildError, match="timing not met .* the board's clock is 25 MHz"):
        check_timing(path, SPEC, bitstream)
    assert not bitstream.exists()
