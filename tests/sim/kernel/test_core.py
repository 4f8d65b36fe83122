"""The migration core's work per folio kind: steps paid per folio, per mapping and per
page-table entry (sim/host/costs.py says which), with nothing else in the core time."""
import pytest

from sim.host.costs import PER_ENTRY, PER_FOLIO, PER_MAPPING, CostTable
from sim.kernel.request import MigrateRequest, run_request
from sim.machine import DEFAULT_MACHINE

SIZES = (4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 2 << 20)


def _core_ns_per_folio(folio_bytes, mappings=1):
    row = run_request(MigrateRequest(mode="cpu", workload_bytes=8 << 20,
                                     folio_bytes=folio_bytes, max_batch_pages=2048,
                                     mappings=mappings, repeat=1))
    total = row["breakdown_cycles_per_page"]["core"] * row["pages"] / DEFAULT_MACHINE.cpu_ghz
    costs = DEFAULT_MACHINE.costs
    # The call's entry and its one batch's TLB flush, shared by the folios:
    shared = costs.migrate_call_ns + row["batches"] * costs.tlb_flush_ns(0)
    return (total - shared) / row["folios"]


def _sum(per):
    return sum(getattr(DEFAULT_MACHINE.costs, name) for name in CostTable.steps_per(per))


def test_the_steps_are_paid_per_folio_mapping_or_entry():
    assert set(CostTable.steps_per(PER_ENTRY)) == {"unmap_pte_ns", "restore_pte_ns"}
    assert set(CostTable.steps_per(PER_MAPPING)) == {"unmap_mapping_ns", "restore_mapping_ns"}
    assert set(CostTable.steps_per(PER_FOLIO)) == {"unmap_folio_ns", "move_folio_ns",
                                                   "putback_folio_ns"}


def test_a_pte_mapped_folio_pays_per_pte_and_a_thp_for_one_pmd():
    per_folio = {size: _core_ns_per_folio(size) for size in SIZES}
    once, entry = _sum(PER_FOLIO) + _sum(PER_MAPPING), _sum(PER_ENTRY)
    for size in SIZES[:-1]:
        # A PTE-mapped folio (a 4 KiB page, an mTHP): one PTE per 4 KiB page.
        assert per_folio[size] == pytest.approx(once + size // 4096 * entry, rel=1e-9)
    # Its cost grows with its PTEs; the 2 MiB THP's one PMD costs what one PTE does.
    pte_mapped = [per_folio[size] for size in SIZES[:-1]]
    assert pte_mapped == sorted(set(pte_mapped))
    assert per_folio[2 << 20] == pytest.approx(per_folio[4 << 10], rel=1e-9)


def test_every_mapping_pays_its_own_walk_and_entries():
    one, two = _core_ns_per_folio(64 << 10), _core_ns_per_folio(64 << 10, mappings=2)
    assert two - one == pytest.approx(_sum(PER_MAPPING) + 16 * _sum(PER_ENTRY), rel=1e-9)


@pytest.mark.parametrize("mode, backend", [("cpu", "auto"), ("dma", "verilator")])
def test_the_first_folio_waits_longer_in_a_larger_batch(mode, backend):
    """A folio is usable again once its PTEs are restored, after its whole batch is
    unmapped (and, batched, copied): the first one waits for its batch."""
    rows = [run_request(MigrateRequest(mode=mode, workload_bytes=2 << 20, folio_bytes=4096,
                                       max_batch_pages=pages, backend=backend, repeat=1))
            for pages in (16, 128, 512)]
    firsts = [row["first_folio_us"] for row in rows]
    assert firsts == sorted(firsts) and firsts[-1] > 4 * firsts[0]
    for row in rows:
        assert row["first_folio_us"] <= row["median_folio_us"] <= row["last_folio_us"]
        # The last folio is usable at the end of the call, but for its putback.
        assert row["last_folio_us"] == pytest.approx(row["migrate_pages_ns"] / 1e3, rel=0.01)
    # Extrapolated batches count: 32 batches of 16 pages, the median half way through.
    assert rows[0]["extrapolated_batches"] > 0
    assert rows[0]["median_folio_us"] == pytest.approx(rows[0]["last_folio_us"] / 2, rel=0.1)
