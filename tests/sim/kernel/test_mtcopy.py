"""mt-cpu: the batch copy on kernel worker threads, each at the per-core rate, all on one
memory path's bandwidth, with dispatch and join costs; and beside the engines
(dma+mt-cpu), on the memory fabric they book."""
import pytest

from sim.kernel.folios import MigrateError
from sim.kernel.mtcopy import MtCopy, copy_phase_ns, hybrid_split, path_gbps, worker_busy_ns
from sim.kernel.request import MigrateRequest, prepare_request, run_request
from sim.machine import DEFAULT_MACHINE, load_machine

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
    ({"mode": "batch-cpu", "threads": 2}, "only the mt-cpu and dma.mt-cpu copies have worker"),
    ({"mode": "dma+mt-cpu", "flow": "upstream"}, "dma.mt-cpu needs the batched or early-copy"),
    ({"mode": "mt-cpu", "flow": "upstream"}, "mt-cpu needs the batched or early-copy flow"),
    ({"mode": "mt-cpu", "threads": 0}, "threads=0: expected an int in 1..64"),
])
def test_bad_threads_are_refused(changes, message):
    with pytest.raises(MigrateError, match=message):
        prepare_request(MigrateRequest(**changes))


def test_a_batch_is_split_evenly_between_channels_and_workers():
    assert hybrid_split(32, 4, 4) == 16 and hybrid_split(32, 1, 3) == 8
    assert hybrid_split(2, 16, 1) == 1 and hybrid_split(2, 1, 16) == 1   # one each side
    assert hybrid_split(1, 4, 4) == 1 and hybrid_split(1, 1, 4) == 0    # nothing to split


def _beside_engines(mode, threads, folio_bytes, channels, **values):
    """zen3-ptdma, 256 MiB from the other socket (8x the LLC: sources read from their
    node), whose DRAM serves reads at 6 GB/s: the memory every copier shares."""
    machine = load_machine("zen3-ptdma").with_values(
        {"dma.nr_dma_chan": channels, "memory.remote.read_gbps": 6.0, **values})
    row = run_request(MigrateRequest(mode=mode, threads=threads, workload_bytes=256 << 20,
                                     folio_bytes=folio_bytes, repeat=1, backend="verilator",
                                     machine=machine))
    assert row["integrity"]["ok"] and row["integrity"]["kept_at_source"] == 0
    return row["copy_gbps"]


def test_workers_beside_the_engines_book_the_fabric_as_the_path_model_says():
    """dma+mt-cpu with one THP per batch and more workers than channels: the workers
    copy it all, page by page, booking the engines' fabric; they share the 6 GB/s node
    with each other as mt-cpu's path model says (and a lone worker is bound by it too)."""
    for threads in (1, 4):
        on_fabric = _beside_engines("dma+mt-cpu", threads, 2 << 20, channels=1)
        path_model = _beside_engines("mt-cpu", threads, 2 << 20, channels=1)
        assert on_fabric == pytest.approx(path_model, rel=0.02)
        assert on_fabric <= 6.0


def test_workers_and_engines_share_the_node_they_both_read():
    """64 KiB folios, each batch split between 4 channels and 4 workers. Alone, the
    engines reach 4.3 GB/s and the workers 5.9 on the node's 6 GB/s; if they did not
    share it, the split batch would move at twice the engines' rate. Together they
    stay within the node's 6 GB/s; with the node at its 160 GB/s, they go faster."""
    engines = _beside_engines("dma", 1, 64 << 10, channels=4)
    workers = _beside_engines("mt-cpu", 4, 64 << 10, channels=4)
    both = _beside_engines("dma+mt-cpu", 4, 64 << 10, channels=4)
    assert engines > 0.6 * 6.0 and workers > 0.9 * 6.0
    assert both <= 6.0 * 1.01
    unbound = _beside_engines("dma+mt-cpu", 4, 64 << 10, channels=4,
                              **{"memory.remote.read_gbps": 160.0})
    assert unbound > 1.5 * 6.0
