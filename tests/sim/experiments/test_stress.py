"""Migrations under faults (sim/experiments/stress.py): each fault kind on every back-end,
the campaign, shrinking a failing case, and the checks that must catch a failure."""
import dataclasses
import json

import pytest

from hw.regmap import load_regmap
from sim.cli.main import main
from sim.experiments.stress import (FAULT_KINDS, MUST_BE_ZERO, Case, _record_slots, campaign,
                                    failed, offered_folios, run_case, shrink)

BACKENDS = ("pysim", "icarus", "verilator")
#: Six 64 KiB folios on one channel, dcbm v3.
BASE = Case(seed=7, backend="verilator", driver="v3", engines=1, channels=1,
            sizes=[65536] * 6, max_batch_pages=256, dcbm_timeout_ns=20_000,
            channel_timeout_ns=1_000_000)
#: Three of them, for the runs on every back-end (the RTL simulators take about 3 s per
#: folio). dcbm maps its tables (96 IO page-table entries a folio), rings the doorbell
#: after 32 us and copies for about 6 us: scanned in 0.5 us steps, a CTRL.reset fails a
#: descriptor from 32.5 to 38.5 us, a 5 us revocation from 28 to 34 us. The timed
#: faults below fall in the middle of those windows.
ON_EVERY_BACKEND = dataclasses.replace(BASE, sizes=[65536] * 3)
CTRL = load_regmap().register("chan[0].ctrl")
RECORD = _record_slots(1, 1)[0][0]
FAULTS = {
    # An error on the third AR (a data read): that descriptor fails, the CPU copies it.
    "bus_error": {"bus_faults": [{"reads": {"3": ["error", "SLVERR"]}, "writes": {}}]},
    # A read answered 30,000 cycles late: dcbm times out (20 us), aborts, waits for the
    # channel to drain, resets it, and the CPU copies what was not done.
    "bus_delay": {"bus_faults": [{"reads": {"3": ["delay", 30_000]}, "writes": {}}]},
    "record_error": {"record_errors": [[RECORD, RECORD + 8]]},
    "irq_lost": {"host_faults": [{"at_ns": 0, "kind": "irq_lost"}]},
    "irq_twice": {"host_faults": [{"at_ns": 0, "kind": "irq_twice"}]},
    "abort": {"host_faults": [{"at_ns": 35_000, "kind": "mmio", "offset": CTRL.address,
                               "value": CTRL.fields["abort"].insert(0, 1)}]},
    "reset": {"host_faults": [{"at_ns": 35_000, "kind": "mmio", "offset": CTRL.address,
                               "value": CTRL.fields["reset"].insert(0, 1)}]},
    # A mapping of a folio, for 5 us from before the doorbell into the copy: the
    # engine's reads of it fault.
    "revoke": {"host_faults": [{"at_ns": 31_000, "kind": "revoke", "pick": 0.643,
                                "duration_ns": 5_000}]},
    # The third folio's source is poisoned: the DMA fails, the CPU's copy machine-checks,
    # and the migration undoes the folio: it stays, intact, at its source.
    "poison": {"poison": [2]},
}


def _evidence(kind, report, outcome):
    """What shows that the fault happened and was handled."""
    fired = report["faults_fired"]
    return {
        "bus_error": report["bus_faults_injected"] == {"bus_read_error": 1}
        and outcome["dma_failed"] == 1,
        "bus_delay": report["bus_faults_injected"] == {"bus_read_delay": 1}
        and report["timeouts"] == 1 and report["channel_resets"] >= 1
        and outcome["dma_failed"] >= 1,
        "record_error": report["record_error_writes"] >= 1 and report["errors_reported"] >= 1,
        "irq_lost": fired == {"irq_lost": 1} and report["timeouts"] == 1
        and outcome["dma_failed"] == 0,
        "irq_twice": fired == {"irq_twice": 1} and report["timeouts"] == 0
        and outcome["dma_failed"] == 0,
        "abort": fired == {"mmio": 1} and report["errors_reported"] >= 1,
        "reset": fired == {"mmio": 1} and report["errors_reported"] >= 1,
        "revoke": fired == {"revoke": 1} and report["io_page_faults"] >= 1
        and report["errors_reported"] >= 1,
        "poison": outcome["kept"] == 1 and outcome["dma_failed"] >= 1,
    }[kind]


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind_is_handled_alike_on_every_backend(kind):
    outcomes = []
    for backend in BACKENDS:
        case = dataclasses.replace(ON_EVERY_BACKEND, backend=backend, **FAULTS[kind])
        outcome = run_case(case)
        assert failed(outcome) is None, f"{backend}: {failed(outcome)}"
        assert _evidence(kind, outcome["report"], outcome), (backend, outcome["report"])
        assert outcome["migrated"] + outcome["kept"] == 3 and outcome["bytes_lost"] == 0
        assert outcome["kept"] == (kind == "poison")
        outcomes.append({key: value for key, value in outcome.items()
                         if key not in ("case", "wall_seconds")})
    assert outcomes[1:] == outcomes[:1] * 2


def test_faults_on_one_engine_touch_only_its_channels_folios():
    # Two engines, one channel each: v3 gives each three folios. An error on engine 1's
    # third AR fails one of its folios; engine 0's three are all copied by the DMA.
    case = dataclasses.replace(BASE, engines=2, bus_faults=[
        {"reads": {}, "writes": {}}, {"reads": {"3": ["error", "DECERR"]}, "writes": {}}])
    outcome = run_case(case)
    assert failed(outcome) is None
    assert outcome["dma_failed"] == 1 and outcome["dma_copied"] == 5
    clean = run_case(dataclasses.replace(case, bus_faults=[]))
    assert clean["dma_failed"] == 0


def test_the_checks_name_what_a_run_broke():
    outcome = run_case(dataclasses.replace(BASE, **FAULTS["bus_error"]))
    assert failed(outcome) is None
    for change, why in (({"bytes_lost": 4096}, "bytes_lost 4096"),
                        ({"stray_writes": 8}, "stray_writes 8"),
                        ({"protocol_violations": 1}, "protocol_violations 1"),
                        ({"dma_failed": 0}, "counters: dcbm counted 5 folios migrated or "
                                            "failed, of 6 it was given")):
        assert failed({**outcome, **change}) == why
    assert failed({**outcome, "hang": True, "error": "TimeoutError: x"}) == \
        "hang: TimeoutError: x"
    v1 = dataclasses.replace(BASE, driver="v1", sizes=[4096, 65536, 4096])
    assert offered_folios(v1) == 2 and offered_folios(BASE) == 6


def test_a_campaign_keeps_every_figure_that_must_be_zero_at_zero(capsys):
    assert main(["stress", "--iterations", "4", "--seed", "11", "--backend", "verilator",
                 "--quiet", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["cases"] == 4 and result["transactions"] > 0
    assert all(result[key] == 0 for key in MUST_BE_ZERO) and result["failures"] == []
    assert {"transactions", "faults_injected", "bytes_lost", "stray_writes",
            "protocol_violations", "hangs"} <= set(result)
    assert sum(result["faults_injected"].values()) > 0
    # The same seed runs the same cases.
    again = campaign(backend="verilator", seed=11, iterations=4)
    assert {k: again[k] for k in MUST_BE_ZERO + ("transactions", "faults_injected")} == \
        {k: result[k] for k in MUST_BE_ZERO + ("transactions", "faults_injected")}


def test_a_failing_case_is_shrunk_to_what_still_fails():
    case = dataclasses.replace(BASE, sizes=[4096] * 8, host_faults=[
        {"at_ns": 10.0, "kind": "irq_twice"}, {"at_ns": 20.0, "kind": "irq_lost"},
        {"at_ns": 30.0, "kind": "revoke", "pick": 0.5, "duration_ns": 9.0}])

    def run(candidate):         # fails whenever an irq_lost fault is in the case
        lost = any(f["kind"] == "irq_lost" for f in candidate.host_faults)
        return {"hang": lost, "error": "TimeoutError: lost" if lost else None,
                "bytes_lost": 0, "stray_writes": 0, "protocol_violations": 0,
                "integrity": {"ok": True, "errors": []}, "case": candidate,
                "dma_copied": len(candidate.sizes), "dma_failed": 0}
    smallest = shrink(case, "hang: TimeoutError", run=run)
    assert smallest.host_faults == [{"at_ns": 20.0, "kind": "irq_lost"}]
    assert smallest.sizes == [4096]


def test_replaying_a_case_file(tmp_path, capsys):
    path = tmp_path / "case.json"
    path.write_text(dataclasses.replace(BASE, **FAULTS["bus_error"]).to_json())
    assert main(["stress", "--case", str(path)]) == 0
    assert capsys.readouterr().out.startswith("case (seed 7, verilator): ok")
    path.write_text("{\"seed\": 1}")
    assert main(["stress", "--case", str(path)]) == 2
    assert "not a stress case" in capsys.readouterr().err


def test_a_case_leaves_no_memory_behind():
    # A campaign runs thousands of cases in one process: each run's memory (and the
    # reference cycles around it) must be gone when the run returns.
    import gc

    from sim.memsys.memory import Memory

    def alive():
        return sum(isinstance(o, Memory) for o in gc.get_objects())
    gc.collect()
    before = alive()
    assert failed(run_case(dataclasses.replace(BASE, **FAULTS["irq_lost"]))) is None
    assert alive() == before


#: The shrunk case of a hang the campaign found: the driver resets channel 0 and, 15 ns
#: later, another agent's CTRL.abort (value 2, at 52.55 us) halts the idle channel again;
#: the driver waited for it to be neither busy nor halted, 10 ms, and gave up.
ABORTED_AFTER_RESET = {'seed': 683678720,
                       'backend': 'verilator',
                       'driver': 'v3',
                       'engines': 1,
                       'channels': 1,
                       'sizes': [8192, 65536, 4096, 16384, 65536, 16384, 32768, 4096, 4096, 16384, 8192],
                       'max_batch_pages': 8,
                       'bus_faults': [{'reads': {'250': ['error', 2], '259': ['error', 3]},
                                       'writes': {'3': ['error', 3],
                                                  '63': ['error', 3],
                                                  '66': ['error', 2],
                                                  '132': ['error', 3],
                                                  '187': ['error', 3],
                                                  '257': ['error', 2],
                                                  '297': ['error', 3]}}],
                       'host_faults': [{'at_ns': 52553.907334586474,
                                        'kind': 'mmio',
                                        'value': 2,
                                        'offset': 276}],
                       'record_errors': [[4294971400, 4294971408]],
                       'poison': [1],
                       'dcbm_timeout_ns': 50000,
                       'channel_timeout_ns': 10000000}


def test_a_channel_aborted_again_after_its_reset_is_reset_again():
    outcome = run_case(Case(**ABORTED_AFTER_RESET))
    assert failed(outcome) is None, failed(outcome)
    assert outcome["report"]["faults_fired"] == {"mmio": 1}
