"""The folio list of a migration and its batches (sim/kernel/folios.py)."""
import pytest

from sim.kernel.folios import MigrateError, Plan, folio_sizes, llc_resident, plan_batches

K, M = 1 << 10, 1 << 20


def test_batches_hold_at_most_the_limit_and_big_folios_go_alone():
    sizes = [4 * K] * 3 + [2 * M] + [16 * K, 64 * K, 4 * K]
    batches = plan_batches(sizes, max_batch_pages=8)
    assert batches == [(0, 3), (3, 4), (4, 5), (5, 6), (6, 7)]
    for start, end in batches:
        pages = sum(sizes[start:end]) // (4 * K)
        assert pages <= 8 or end - start == 1
    assert plan_batches([4 * K] * 1024) == [(0, 512), (512, 1024)]


@pytest.mark.parametrize("size", [0, 3 * K, 12 * K, 4 * M, "4K"])
def test_bad_folio_sizes_are_refused(size):
    with pytest.raises(MigrateError, match="folio size"):
        folio_sizes(sizes=[size])


def test_workload_must_be_whole_folios():
    with pytest.raises(MigrateError, match="multiple"):
        folio_sizes(4 * K, 2 * M)


def test_llc_residency_follows_lru_footprint():
    assert all(llc_resident([4 * K] * 512, 32 * M))              # 2MB: source still cached
    assert not any(llc_resident([4 * K] * 65536, 32 * M))        # 256MB: long evicted
    partial = llc_resident([4 * K] * 6144, 32 * M)               # 24 MiB: the first 2049 pages
    assert partial.index(False) == 8192 - 6144 + 1


def test_runs_group_equal_batches():
    plan = Plan.build([4 * K] * 40, max_batch_pages=8, llc_bytes=0, poison=[17])
    runs = plan.runs()
    assert [len(r) for r in runs] == [2, 1, 2]                   # batch 2 holds folio 17
