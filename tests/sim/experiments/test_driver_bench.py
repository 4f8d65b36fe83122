"""The driver bench: a folio batch through the driver stack, or the CPU."""
import pytest

from hw.params import EngineParams
from sim.experiments.bench import run_driver_bench
from sim.kernel.request import MigrateRequest, run_request
from sim.machine import DEFAULT_MACHINE


def test_the_bench_and_migrate_price_the_same_cpu_copy_identically():
    """32 folios of 2 MiB from node 1 to node 0, copied by the CPU: the bench's copy time
    is the migration core's batch copy time (twice the LLC: no source is still cached),
    one price with the write-back of the batch's earlier destinations, after the same
    cold start of the copy routine."""
    machine = DEFAULT_MACHINE
    bench = run_driver_bench(EngineParams(), backend="pysim", driver="none", folios=32,
                             folio_size=2 << 20, read_latency=1, write_latency=1,
                             machine=machine)
    row = run_request(MigrateRequest(mode="batch-cpu", workload_bytes=64 << 20,
                                     folio_bytes=2 << 20, max_batch_pages=16384, repeat=1,
                                     machine=machine))
    migrate_copy_ns = row["copy_breakdown_cycles_per_page"]["copy"] * row["pages"] \
        / machine.cpu_ghz
    assert bench["cpu_copy_ns"] == pytest.approx(migrate_copy_ns, rel=1e-12)
    costs = machine.costs
    assert bench["cpu_copy_ns"] == pytest.approx(
        32 * costs.cpu_copy_ns(2 << 20, 1, 0, batched=True), rel=1e-12)
    assert costs.cpu_copy_ns(2 << 20, 1, 0, batched=True) > costs.copy_ns(2 << 20, 1, 0)
    pages = 32 * 512
    assert bench["breakdown_ns_per_page"]["cold_start"] * pages == \
        pytest.approx(costs.cold_copy_ns, rel=1e-12)
