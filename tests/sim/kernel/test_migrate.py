"""The migration core: flows, failures and undo, integrity, extrapolation, noise, DMA on
the RTL, CPU time (the folio list: test_folios.py; the command: tests/sim/cli/test_migrate.py)."""
import json

import pytest

from sim.backends import BACKENDS
from sim.cli.main import main
from sim.host.costs import DEFAULT_COSTS
from sim.kernel.folios import MigrateError, Plan, plan_batches
from sim.kernel.modes import CATEGORIES
from sim.kernel.measure import measure, noise_factors, totals
from sim.kernel.request import MigrateRequest, run_request
from sim.kernel.scenario import run_cpu, run_dma
from sim.host.cache_params import DEFAULT_HIERARCHY
from sim.machine import DEFAULT_MACHINE, MachineError

K, M = 1 << 10, 1 << 20
REQUIRED_ROW_KEYS = {"mode", "workload_bytes", "folio_bytes", "migrate_pages_cycles_per_page",
                     "folio_copy_cycles_per_page", "F", "copy_gbps",
                     "post_move_access_cycles_per_page", "simulated_batches",
                     "extrapolated_batches", "cpu_seconds_per_gib", "cpu_seconds_per_gib_sd"}


def spec(mode="cpu", workload=2 * M, folio=4 * K, **extra):
    return MigrateRequest(mode=mode, workload_bytes=workload, folio_bytes=folio, **extra).spec()


def assert_intact(raw, migrated=None, kept=0):
    integrity = raw["integrity"]
    assert integrity["ok"], integrity["errors"]
    assert integrity["lost"] == 0
    assert integrity["kept_at_source"] == kept
    if migrated is not None:
        assert integrity["migrated"] == migrated


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


# --- CPU modes: flows, integrity, failures --------------------------------------------------

@pytest.mark.parametrize("mode, flow", [("cpu", None), ("batch-cpu", "batched"),
                                        ("batch-cpu", "early-copy")])
def test_mixed_folios_all_migrate_intact(mode, flow):
    sizes = [4 * K, 16 * K, 2 * M, 4 * K, 64 * K, 8 * K, 2 * M, 32 * K, 4 * K]
    raw = run_cpu(MigrateRequest(mode=mode, sizes=sizes, flow=flow, max_batch_pages=64,
                                 mappings=2).spec())
    assert_intact(raw, migrated=len(sizes))
    assert raw["simulated_batches"] + raw["extrapolated_batches"] == len(plan_batches(sizes, 64))


@pytest.mark.parametrize("mode", ["cpu", "batch-cpu"])
def test_poisoned_folio_is_undone_and_kept_at_its_source(mode):
    raw = run_cpu(spec(mode, workload=64 * K, poison=(3, 9), max_batch_pages=4))
    assert_intact(raw, migrated=14, kept=2)


def test_injected_failure_everywhere_keeps_everything_at_the_source():
    raw = run_cpu(spec("batch-cpu", workload=32 * K, poison=tuple(range(8))))
    assert_intact(raw, migrated=0, kept=8)


def test_integrity_check_catches_corruption_loss_and_duplicates():
    import asyncio

    from sim.memsys.memory import Memory
    from sim.kernel.clock import SoftPort
    from sim.kernel.core import CoreConfig, MigrationCore
    from sim.kernel.frames import node_layout
    plan = Plan.build([4 * K] * 4, max_batch_pages=512, llc_bytes=0)
    layout = node_layout(plan, from_node=1, to_node=0, base=0, full=True)
    end = max(s + n for s, n in layout.values())
    port = SoftPort(Memory(0, end), costs=DEFAULT_COSTS,
                    numa_nodes=[(s, s + n, node) for node, (s, n) in layout.items()])
    core = MigrationCore(port, plan, CoreConfig(mode="cpu"), layout)
    assert asyncio.run(core.migrate_pages())["integrity"]["ok"]
    folio = core.folios[1]
    port.memory.write(folio.dst + 100, b"\x00\x01\x02")                    # corrupted
    core.pte[(0, core.folios[2].vaddr // (4 * K))] = ("migration", core.folios[2].src)  # lost
    core.allocated[core.folios[3].src] = 4 * K                             # duplicated
    errors = " | ".join(core.check_integrity()["errors"])
    assert "folio 1: content at destination differs" in errors
    assert "still a migration entry" in errors
    assert "folio 3: the source frame" in errors and "still allocated" in errors


def test_cold_start_costs_each_routine_once_per_call():
    c = DEFAULT_COSTS
    one = run_cpu(spec("cpu", workload=4 * K))
    assert_intact(one, migrated=1)
    total, copy = totals(one)
    # 7 routines: migrate_pages, migrate_folio_unmap, try_to_migrate, try_to_unmap_flush,
    # migrate_folio_move, remove_migration_ptes, migrate_folio_done; and the first copy.
    assert total["cold"] == pytest.approx(7 * c.cold_routine_ns + c.cold_copy_ns)
    assert copy["cold"] == pytest.approx(c.cold_copy_ns)
    many = run_cpu(spec("cpu", workload=2 * M))
    assert_intact(many, migrated=512)
    assert totals(many)[0]["cold"] == pytest.approx(total["cold"])


def test_tlb_shootdown_cost_grows_with_remote_cpus():
    runs = [run_cpu(spec("cpu", workload=4 * M, remote_cpus=n)) for n in (0, 8)]
    for raw in runs:
        assert_intact(raw, migrated=1024)
    base, more = (totals(raw)[0] for raw in runs)
    extra = DEFAULT_COSTS.tlb_ipi_ns + 7 * DEFAULT_COSTS.tlb_ipi_cpu_ns
    assert more["core"] - base["core"] == pytest.approx(2 * extra)        # two batches


def test_thp_is_cheaper_per_page_than_small_folios():
    small = run_request(MigrateRequest(mode="cpu", workload_bytes=8 * M, repeat=1))
    huge = run_request(MigrateRequest(mode="cpu", workload_bytes=8 * M, folio_bytes=2 * M,
                                      repeat=1))
    assert huge["migrate_pages_cycles_per_page"] < small["migrate_pages_cycles_per_page"] / 2
    assert huge["integrity"]["ok"] and small["integrity"]["ok"]


def test_batched_copy_beyond_the_llc_pays_write_backs():
    up = run_request(MigrateRequest(mode="cpu", workload_bytes=256 * M, repeat=1))
    batch = run_request(MigrateRequest(mode="batch-cpu", workload_bytes=256 * M, repeat=1))
    assert up["integrity"]["ok"] and batch["integrity"]["ok"]
    per_page = (batch["folio_copy_cycles_per_page"] - up["folio_copy_cycles_per_page"]) / 2
    assert per_page == pytest.approx(DEFAULT_COSTS.copy_writeback_ns, rel=1e-6)


# --- extrapolation --------------------------------------------------------------------------

def test_cpu_extrapolation_equals_full_simulation():
    short = run_cpu(spec("batch-cpu", workload=160 * K, max_batch_pages=4))
    full = run_cpu(spec("batch-cpu", workload=160 * K, max_batch_pages=4, full=True))
    assert short["simulated_batches"] == 2 and short["extrapolated_batches"] == 8
    assert full["simulated_batches"] == 10 and full["extrapolated_batches"] == 0
    assert totals(short)[0] == pytest.approx(totals(full)[0], rel=1e-12)
    assert totals(short)[1] == pytest.approx(totals(full)[1], rel=1e-12)
    assert_intact(short)
    assert_intact(full, migrated=40)


def test_large_workload_simulates_a_few_batches():
    raw = run_cpu(spec("cpu", workload=1 << 30))
    assert raw["simulated_batches"] == 2 and raw["extrapolated_batches"] == 510
    assert_intact(raw, migrated=1024)


def test_a_faulty_batch_is_always_simulated():
    raw = run_cpu(spec("cpu", workload=160 * K, max_batch_pages=4, poison=(21,)))
    simulated = [g for g in raw["groups"] if g["simulated"]]
    assert len(simulated) == 2 + 1 + 2            # run of 5, the faulty batch, run of 4
    assert_intact(raw, kept=1)


# --- noise ----------------------------------------------------------------------------------

def test_noise_is_seeded_and_single_runs_are_exact():
    assert noise_factors(DEFAULT_COSTS, 1, 0) == [dict.fromkeys(CATEGORIES, 1.0)]
    assert noise_factors(DEFAULT_COSTS, 5, 3) == noise_factors(DEFAULT_COSTS, 5, 3)
    raw = run_cpu(spec("cpu", workload=1 << 30))
    assert_intact(raw)
    many = measure(raw, DEFAULT_COSTS, pages=1 << 18, nbytes=1 << 30, repeat=4000)
    exact = measure(raw, DEFAULT_COSTS, pages=1 << 18, nbytes=1 << 30, repeat=1)
    assert many["migrate_pages"] == pytest.approx(exact["migrate_pages"], rel=0.005)
    assert many["migrate_pages_sd"] / many["migrate_pages"] == pytest.approx(0.03, abs=0.02)
    assert exact["migrate_pages_sd"] == 0


# --- DMA on the RTL -------------------------------------------------------------------------

def test_dma_v3_extrapolation_equals_full_simulation(backend):
    short = run_dma(spec("dma", workload=96 * K, max_batch_pages=4), backend=backend)
    full = run_dma(spec("dma", workload=96 * K, max_batch_pages=4, full=True), backend=backend)
    assert short["simulated_batches"] < full["simulated_batches"] == 6
    assert short["extrapolated_batches"] == 6 - short["simulated_batches"]
    assert totals(short)[0] == pytest.approx(totals(full)[0], rel=1e-12)
    assert totals(short)[1] == pytest.approx(totals(full)[1], rel=1e-12)
    assert_intact(short)
    assert_intact(full, migrated=24)


def test_strict_iommu_extrapolation_equals_full_simulation():
    """Strict invalidations come with every unmap: batches repeat exactly."""
    def run(full):
        request = MigrateRequest(mode="dma", workload_bytes=64 * K, max_batch_pages=4,
                                 full=full)
        strict = DEFAULT_MACHINE.with_values({"iommu.mode": "strict"})
        return run_dma(request.spec(), strict, driver="v1", backend="pysim")
    short, full = run(False), run(True)
    assert short["extrapolated_batches"] > 0 and full["simulated_batches"] == 4
    assert short["iotlb_invalidations"] == full["iotlb_invalidations"] == 2 * 16
    assert totals(short)[0] == pytest.approx(totals(full)[0], rel=1e-12)
    assert totals(short)[1] == pytest.approx(totals(full)[1], rel=1e-12)


def test_extrapolation_counts_the_flush_queue_invalidations(monkeypatch):
    """The lazy flush queue invalidates every FLUSH_QUEUE_ENTRIES unmap calls, a
    period the batches do not share: extrapolated batches get the invalidations
    their unmap calls cause, not the template batch's. A queue of 8 (v3: 2 unmap
    calls per batch, a flush every 4 batches) makes it show in 12 batches."""
    import sim.memsys.iommu
    monkeypatch.setattr(sim.memsys.iommu, "FLUSH_QUEUE_ENTRIES", 8)
    short = run_dma(spec("dma", workload=192 * K, max_batch_pages=4), backend="pysim")
    full = run_dma(spec("dma", workload=192 * K, max_batch_pages=4, full=True),
                   backend="pysim")
    assert short["extrapolated_batches"] > 0 and full["extrapolated_batches"] == 0
    assert short["iotlb_invalidations"] == full["iotlb_invalidations"] == 3   # 24 calls / 8
    extrapolated = [g for g in short["groups"] if not g["simulated"]]
    added = sum(g["invalidations_added"] for g in extrapolated)
    assert added == 3                       # the template batch had none
    # Equal but for the IOTLB refills after the extrapolated invalidations, which the
    # extrapolation bounds and leaves out (page-table reads at local DRAM latency).
    from sim.memsys.iommu import REFILL_READS_PER_INVALIDATION
    from sim.memsys.memory_system import LOCAL_DRAM
    refill_bound_ns = added * REFILL_READS_PER_INVALIDATION * LOCAL_DRAM.read_latency_ns
    for part in (0, 1):
        missing = sum(totals(full)[part][k] - totals(short)[part][k] for k in CATEGORIES)
        assert 0 <= missing <= refill_bound_ns, (part, missing)
    assert_intact(short)


def test_promotion_from_the_cxl_tier():
    """Node 2 (the CXL tier): the CPU copies from it at its own, slower rate, and the
    engine reads it behind the memory system's CXL node (300 ns)."""
    from sim.kernel.scenario import dma_memory_config
    big = 256 * M                                   # sources no longer in the LLC
    from_remote = totals(run_cpu(spec("cpu", workload=big)))[1]["copy"]
    from_cxl = totals(run_cpu(spec("cpu", workload=big, from_node=2)))[1]["copy"]
    assert from_cxl / from_remote == pytest.approx(DEFAULT_COSTS.copy_bw(1, 0)
                                                   / DEFAULT_COSTS.copy_bw(2, 0), rel=1e-6)
    memory, layout = dma_memory_config(spec("dma", workload=16 * K, from_node=2))
    names = [node["name"] for node in memory["memory_system"]["nodes"]]
    start, size = layout["2"]
    assert "CXL memory" in names
    assert [start, start + size, 2] in memory["memory_system"]["ranges"]
    cxl = run_dma(spec("dma", workload=16 * K, from_node=2), backend="pysim")
    remote = run_dma(spec("dma", workload=16 * K), backend="pysim")
    assert_intact(cxl, migrated=4)
    assert totals(cxl)[1]["wait"] + totals(cxl)[1]["driver"] > \
        totals(remote)[1]["wait"] + totals(remote)[1]["driver"]
    with pytest.raises(MigrateError, match="CXL"):
        run_cpu(spec("cpu", workload=16 * K, from_node=3))
    within = run_cpu(spec("cpu", workload=64 * M, from_node=2, to_node=2))
    assert_intact(within)


def test_dma_failure_is_retried_on_the_cpu(backend):
    raw = run_dma(spec("dma", workload=32 * K, dma_fail=(2,)), backend=backend, driver="v3")
    assert_intact(raw, migrated=8)
    # The provider fails that one transaction and completes the rest: the core's CPU
    # fallback copies the one folio.
    assert raw["dma_copied_folios"] == 7 and raw["dma_failed_folios"] == 1
    assert totals(raw)[1]["copy"] > 0


def test_poisoned_folio_fails_dma_and_cpu_and_is_undone(backend):
    raw = run_dma(spec("dma", workload=32 * K, poison=(5,), flow="early-copy"),
                  backend=backend, driver="v3")
    assert_intact(raw, migrated=7, kept=1)


def test_dma_v1_one_page_per_descriptor_and_same_on_every_backend():
    results = [run_dma(spec("dma", workload=12 * K), backend=b, driver="v1") for b in BACKENDS]
    for raw in results:
        assert_intact(raw, migrated=3)
        assert raw["dma_copied_folios"] == 3
    assert totals(results[0]) == totals(results[1]) == totals(results[2])


# --- CPU time per GiB moved -----------------------------------------------------------------

def migrate_seconds_per_gib(row):
    """The whole migrate_pages time per GiB moved, from the row's noise-free ns total."""
    return row["migrate_pages_ns"] * 1e-9 / (row["workload_bytes"] / 2**30)


@pytest.mark.parametrize("mode", ["cpu", "batch-cpu"])
def test_cpu_modes_occupy_the_cpu_for_all_of_migrate_pages(mode):
    row = run_request(MigrateRequest(mode=mode, workload_bytes=256 * K, repeat=1))
    assert row["cpu_seconds_per_gib"] == pytest.approx(migrate_seconds_per_gib(row), rel=1e-12)
    assert row["cpu_seconds_per_gib"] > 0 and row["cpu_seconds_per_gib_sd"] == 0


@pytest.mark.parametrize("backend", ["verilator", "pysim"])
def test_dma_v3_cpu_time_leaves_out_the_sleep_on_the_device(backend):
    row = run_request(MigrateRequest(mode="dma", driver="v3", workload_bytes=32 * K, repeat=1,
                                     backend=backend), keep_raw=True)
    sleep_ns = totals(row["_raw"])[0]["sleep"]
    assert sleep_ns > 0
    assert row["cpu_seconds_per_gib"] < migrate_seconds_per_gib(row)
    assert migrate_seconds_per_gib(row) - row["cpu_seconds_per_gib"] == \
        pytest.approx(sleep_ns * 1e-9 / (row["workload_bytes"] / 2**30), rel=1e-9)


def test_dma_v1_busy_polls_so_its_cpu_time_is_all_of_migrate_pages():
    row = run_request(MigrateRequest(mode="dma", driver="v1", workload_bytes=16 * K, repeat=1,
                                     backend="verilator"), keep_raw=True)
    assert totals(row["_raw"])[0]["sleep"] == 0
    assert row["cpu_seconds_per_gib"] == pytest.approx(migrate_seconds_per_gib(row), rel=1e-12)


def test_cpu_time_per_gib_survives_extrapolated_batches():
    def run(full):
        return run_request(MigrateRequest(mode="dma", driver="v3", workload_bytes=96 * K,
                                          max_batch_pages=4, full=full, repeat=3,
                                          backend="verilator"))
    short, full = run(False), run(True)
    assert short["extrapolated_batches"] > 0 and full["extrapolated_batches"] == 0
    assert short["cpu_seconds_per_gib"] < migrate_seconds_per_gib(short)
    for key in ("cpu_seconds_per_gib", "cpu_seconds_per_gib_sd"):
        assert short[key] == pytest.approx(full[key], rel=1e-9), key


def test_post_move_access_from_the_cache_model():
    from sim.kernel.measure import post_move_access
    two_mb = spec("cpu", workload=2 * M)
    cpu = post_move_access(two_mb, "cpu")
    dma = post_move_access(two_mb, "dma")
    assert cpu < dma                         # the CPU copy leaves the pages cache-hot
    assert post_move_access(two_mb, "dma", v1_double_copy=True) == cpu
    assert post_move_access(spec("cpu", workload=2 * M, to_node=1, from_node=0), "cpu") is None


def test_post_move_access_platform_and_toucher():
    from sim.kernel.measure import post_move_access
    two_mb = spec("cpu", workload=2 * M)
    dma, cpu = post_move_access(two_mb, "dma"), post_move_access(two_mb, "cpu")
    # DMA writes allocating in the LLC make 2 MiB as hot as the CPU copy (docs/cache.md).
    allocating = DEFAULT_HIERARCHY.replace(dma_allocates_in_llc=True)
    assert post_move_access(two_mb, "dma", cache=allocating) == pytest.approx(cpu)
    assert post_move_access(two_mb, "cpu", toucher="other_ccx") > cpu
    # An LLC smaller than the workload: even the CPU-copied pages come from DRAM.
    assert post_move_access(two_mb, "cpu", cache=DEFAULT_HIERARCHY.replace(llc_bytes_per_ccx=1 * M)) > cpu
    assert dma > cpu


def test_migrate_cache_options(capsys):
    def pma_and_copy(*extra):
        assert main(["migrate", "--workload", "2M", "--copy", "cpu", "--repeat", "1",
                     "--json", "--quiet", *extra]) == 0
        row = json.loads(capsys.readouterr().out)["rows"][0]
        return row["post_move_access_cycles_per_page"], row["folio_copy_cycles_per_page"]

    pma, copy = pma_and_copy()
    assert pma_and_copy("--toucher", "other_socket")[0] > pma
    # 1 MiB of LLC: the 2 MiB source is no longer cached when copied, nor the result.
    small_pma, small_copy = pma_and_copy("--llc-size", "1M")
    assert small_pma > pma and small_copy > copy
    assert main(["migrate", "--copy", "cpu", "--llc-size", "4K"]) == 2
    assert "--llc-size" in capsys.readouterr().err


def test_dma_needs_a_batched_flow():
    with pytest.raises(MigrateError, match="upstream"):
        run_request(MigrateRequest(mode="dma", workload_bytes=4 * K, flow="upstream"))


@pytest.mark.parametrize("clock", [{"clocks.cpu_ghz": 0.0}, {"clocks.engine_mhz": -1.0}])
def test_machines_with_a_clock_not_positive_are_refused(clock):
    with pytest.raises(MachineError, match="a clock frequency must be a positive number"):
        DEFAULT_MACHINE.with_values(clock)


def test_a_one_in_flight_device_restarts_from_its_completion_interrupt():
    """zen3-ptdma keeps one descriptor in flight: every 64 KiB descriptor after a
    channel's first is started by the handler of the one before's interrupt. The
    median restart gap, from the line seen high to the doorbell, is the sum of the sourced
    costs on that path (delivery, handler entry, the INT_STATUS read and its
    acknowledgement, the descriptor store), to the engine cycle; a device whose ring
    holds the batch makes no restart."""
    from sim.machine import load_machine
    one_channel = {"dma.nr_dma_chan": 1}

    def row(platform, **values):
        machine = load_machine(platform).with_values({**one_channel, **values})
        return run_request(MigrateRequest(mode="dma", workload_bytes=2 << 20,
                                          folio_bytes=64 << 10, repeat=1,
                                          backend="verilator", machine=machine))
    ptdma = row("zen3-ptdma")
    assert ptdma["restarts"] == ptdma["folios"] - ptdma["batches"]
    c = load_machine("zen3-ptdma").costs
    path_ns = (c.irq_delivery_ns + c.irq_handler_ns + c.mmio_read_ns + c.mmio_write_ns
               + c.desc_store_ns)
    cycle_ns = 1000 / load_machine("zen3-ptdma").engine_mhz
    assert path_ns <= ptdma["restart_gap_ns"] <= path_ns + 4 * cycle_ns
    slower = row("zen3-ptdma", **{"costs.irq_handler_ns": c.irq_handler_ns + 1000})
    assert slower["restart_gap_ns"] == pytest.approx(ptdma["restart_gap_ns"] + 1000,
                                                     abs=4 * cycle_ns)
    assert slower["copy_gbps"] < ptdma["copy_gbps"]
    # Its ring of 32 holds 31 descriptors: the batch's 32nd is its only restart.
    full_ring = row("zen3-ptdma", **{"dma.max_inflight": "all"})
    assert ptdma["folios"] == 32 and full_ring["restarts"] == 1
    seed = row("seed")
    assert seed["restarts"] == 0 and seed["restart_gap_ns"] is None
