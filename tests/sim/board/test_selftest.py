"""The board's self-test on the simulated board: the board's design compiled with
Verilator, its UART simulated bit by bit, the host program and the driver stack
unchanged (the same code as ``foliodma board run --port``). The design is built once
(cached) for the tests of this module, which share one xdist worker."""
import asyncio
import json

import pytest

from hw.board.top import BOARD_ENGINE, BOARDS, DEFAULT_BOARD
from sim.board.link import BridgeLink
from sim.board.port import BoardPort
from sim.board.selftest import SelfTest, format_report
from sim.board.simulated import SimulatedSerial
from sim.cli.main import main
from sw_driver.folio import PAGE_SIZE

pytestmark = pytest.mark.xdist_group("board")

PAGES = 4


def test_board_run_simulated_moves_a_batch_through_the_driver_stack(capsys):
    status = main(["board", "run", "--simulated", "--pages", str(PAGES), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["ok"]
    assert report["offloaded"] == PAGES and report["not_offloaded"] == []
    assert report["checked"] == {"destination": PAGES * PAGE_SIZE, "guard": 2 * PAGE_SIZE,
                                 "source": PAGES * PAGE_SIZE}
    assert report["mismatch_count"] == 0
    counters = report["counters"]
    # dcbm v3 merges the contiguous pages into one descriptor; the engine copied them all.
    assert counters["descs"] == 1 and counters["bytes"] == PAGES * PAGE_SIZE
    beats = PAGES * PAGE_SIZE // BOARD_ENGINE.beat_bytes
    assert beats <= counters["busy"] < 4 * beats
    assert report["gbps"] == pytest.approx(
        counters["bytes"] / (counters["busy"] / report["board"]["clk_hz"]) / 1e9)
    assert 0 < report["gbps"] <= report["peak_gbps"]
    assert report["board"]["clk_hz"] == BOARDS[DEFAULT_BOARD].clk_hz
    assert report["engine"]["data_width"] == BOARD_ENGINE.data_width
    # The driver took the completion interrupt by looking at the line over the bridge.
    assert report["link"]["irq_looks"] >= 1


def test_a_corrupted_destination_byte_fails_the_check():
    with SimulatedSerial() as serial:
        link = BridgeLink(serial, resync_s=0)
        link.ping()
        test = SelfTest(BoardPort(link), pages=1, seed=3)
        test.prepare()
        asyncio.run(test.copy())
        address = test.dst + 123
        byte = link.mem_read(address, 1)[0]
        link.mem_write(address, bytes([byte ^ 0x40]))
        result = test.check()
        assert serial.framing_errors == 0
    assert test.offloaded == [True]
    assert not result.ok
    assert result.mismatches == [("destination", address, byte, byte ^ 0x40)]
    text = format_report(test.report(result), "the simulated board")
    assert f"destination byte at {address:#x}" in text and text.endswith("FAIL")


@pytest.mark.parametrize("argv, message", [
    (["board", "run", "--port", "/nonexistent/ttyUSB9"], "cannot open /nonexistent/ttyUSB9"),
    (["board", "build", "--board", "no-such-board"], "unknown board 'no-such-board'"),
])
def test_cli_errors_are_one_line(capsys, argv, message):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
