"""mt-cpu: the batch copy on kernel worker threads, each at the per-core rate, all on one
memory path's bandwidth, with dispatch and join costs."""
import pytest

from sim.kernel.folios import MigrateError
from sim.kernel.mtcopy import MtCopy, copy_phase_ns, path_gbps, worker_busy_ns
from sim.kernel.request import MigrateRequest, prepare_request, run_request
from sim.machine import DEFAULT_MACHINE

GiB = 1 << 30


def _row(threads=1, mode="mt-cpu", machine=DEFAULT_MACHINE, folio_bytes=2 << 20, **more):
    # 64 MiB, twice the LLC: the sources are read from their node.
    return run_request(MigrateRequest(mode=mode, threads=threads, workload_bytes=64 << 20,
                                      folio_bytes=folio_bytes, max_batch_pages=16384,
                                      repeat=1, machine=machine, **more))


def test_workers_take_even_contiguous_shares_and_the_path_bounds_them():
    assert worker_busy_ns([1.0] * 10, 4) == [3.0, 3.0, 2.0, 2.0]
    assert worker_busy_ns([1.0] * 2, 8) == [1.0, 1.0]           # no idle workers queued
    assert copy_phase_ns([3.0, 2.0], 100, MtCopy(2, None)) == 3.0
    assert copy_phase_ns([3.0, 2.0], 100, MtCopy(2, 10.0)) == 10.0


def test_the_path_is_the_least_bandwidth_between_the_nodes():
    # The other socket's DRAM behind the 100 GB/s socket link, to local DRAM (160).
    assert path_gbps(DEFAULT_MACHINE, 1, 0) == 100.0
    assert path_gbps(DEFAULT_MACHINE, 0, 0) == 160.0
    # From the CXL tier: its link's 24 GB/s reads.
    assert path_gbps(DEFAULT_MACHINE, 2, 0) == 24.0


def test_one_worker_copies_as_the_batched_cpu_copy_plus_dispatch_and_join():
    one, batch = _row(1), _row(mode="batch-cpu")
    costs = DEFAULT_MACHINE.costs
    assert one["folio_copy_ns"] == pytest.approx(
        batch["folio_copy_ns"] + costs.mt_queue_work_ns + 2 * costs.wakeup_ns, rel=1e-9)
    assert one["integrity"]["ok"] and one["threads"] == 1 and batch["threads"] is None


def test_workers_scale_until_they_share_the_memory_path():
    one, four = _row(1), _row(4)
    assert four["copy_gbps"] == pytest.approx(4 * one["copy_gbps"], rel=0.05)
    # A remote node that reads at 20 GB/s: four and eight workers share it.
    slow = DEFAULT_MACHINE.with_values({"memory.remote.read_gbps": 20.0})
    assert _row(1, machine=slow)["copy_gbps"] == pytest.approx(one["copy_gbps"], rel=1e-9)
    for threads in (4, 8):
        assert _row(threads, machine=slow)["copy_gbps"] == pytest.approx(20.0, rel=0.02)


def test_the_workers_cpu_time_is_counted():
    four = _row(4)
    elapsed_per_gib = four["migrate_pages_ns"] * 1e-9 / (four["workload_bytes"] / GiB)
    # Four workers busy in parallel use more CPU time than the call lasts; the same
    # work as one worker's, plus its dispatch.
    assert four["cpu_seconds_per_gib"] > 2 * elapsed_per_gib
    assert four["cpu_seconds_per_gib"] == pytest.approx(_row(1)["cpu_seconds_per_gib"],
                                                        rel=0.01)


def test_a_poisoned_folio_stays_at_its_source():
    row = _row(4, folio_bytes=4096, poison=(3, 700))
    assert row["integrity"]["ok"] and row["integrity"]["kept_at_source"] == 2


@pytest.mark.parametrize("changes, message", [
    ({"mode": "batch-cpu", "threads": 2}, "only the mt-cpu copy has worker threads"),
    ({"mode": "mt-cpu", "flow": "upstream"}, "mt-cpu needs the batched or early-copy flow"),
    ({"mode": "mt-cpu", "threads": 0}, "threads=0: expected an int in 1..64"),
])
def test_bad_threads_are_refused(changes, message):
    with pytest.raises(MigrateError, match=message):
        prepare_request(MigrateRequest(**changes))
