"""The AXI protocol monitor (sim/memsys/axi_monitor.py) over handshake logs: a kept
protocol passes, each kind of violation is named."""
from types import SimpleNamespace

from sim.memsys.axi_monitor import check_port

BEAT = 8


def _port(**logs):
    """Two reads of 2 and 1 beats, two writes of 1 and 2 beats, all answered."""
    port = SimpleNamespace(ar_log=[(1, 0, 0x1000, 1), (2, 0, 0x2000, 0)],
                           aw_log=[(3, 0, 0x3000, 0), (4, 0, 0x4000, 1)],
                           r_log=[(5, 0), (6, 0), (7, 1)],
                           w_log=[(2, 0), (5, 1), (6, 1)],
                           b_log=[(4, 0), (8, 1)])
    for name, log in logs.items():
        setattr(port, name, log)
    return port


def test_a_kept_protocol_has_no_violation():
    assert check_port(_port(), BEAT) == []


def test_each_violation_is_named():
    cases = {
        "crosses 4 KiB": {"ar_log": [(1, 0, 0x1FF8, 1), (2, 0, 0x2000, 0)]},
        "not aligned": {"aw_log": [(3, 0, 0x3004, 0), (4, 0, 0x4000, 1)]},
        "257 beats": {"ar_log": [(1, 0, 0x1000, 256), (2, 0, 0x2000, 0)]},
        "not after AR 0": {"r_log": [(1, 0), (6, 0), (7, 1)]},
        "1 R beats of 2": {"r_log": [(5, 0), (7, 1)]},
        "for AW 0 after it was done": {"w_log": [(2, 0), (3, 0), (5, 1), (6, 1)]},
        "out of AW order": {"b_log": [(8, 1), (9, 0)]},
        "2 AWs but 1 B": {"b_log": [(4, 0)]},
        "not after the AW and its last W beat": {"b_log": [(4, 0), (6, 1)]},
        "which never came": {"r_log": [(5, 0), (6, 0), (7, 1), (8, 2)]},
    }
    for message, logs in cases.items():
        found = check_port(_port(**logs), BEAT)
        assert any(message in violation for violation in found), (message, found)
