"""The host cost table: complete, sourced, seed-calibrated copy, overrides, docs in step."""
import dataclasses
import math
import re
from pathlib import Path

import pytest

from sim.host.costs import DEFAULT_COSTS, KINDS, CostError, CostTable
from sw_driver.port import Op

DOCS = Path(__file__).resolve().parents[3] / "docs" / "costs.md"


def test_every_op_has_a_cost():
    table = CostTable()
    for op in Op:
        assert CostTable.op_field(op) in CostTable.field_names(), op
        cost = table.op_ns(op)
        assert isinstance(cost, float) and cost > 0, op
    assert table.op_ns("dma_map_page") == table.op_ns(Op.DMA_MAP_PAGE)


def test_platform_costs_present():
    table = CostTable()
    for name in ("mmio_read_ns", "mmio_write_ns", "irq_delivery_ns"):
        assert getattr(table, name) > 0
    # A non-posted read waits for the device; a posted write does not.
    assert table.mmio_read_ns > table.mmio_write_ns


def test_every_field_has_a_source_note():
    for info in CostTable.describe():
        assert info["source"].strip(), info["name"]
        assert len(info["source"]) > 30, info["name"]      # a citation or some arithmetic
        assert info["kind"] in KINDS, info["name"]
        assert info["unit"] in ("ns", "bytes/ns", "bytes", "ratio"), info["name"]


MIGRATION_CORE_FIELDS = {
    "llc_copy_bw_0", "llc_copy_bw_1", "llc_copy_bw_2", "llc_bytes", "copy_writeback_ns",
    "migrate_call_ns", "cold_routine_ns", "cold_copy_ns",
    "tlb_flush_local_ns", "tlb_ipi_ns", "tlb_ipi_cpu_ns", "mt_queue_work_ns",
    "unmap_folio_ns", "unmap_mapping_ns", "unmap_pte_ns", "move_folio_ns",
    "restore_mapping_ns", "restore_pte_ns", "putback_folio_ns",
    "jitter_core", "jitter_copy", "jitter_cold", "jitter_device",
}


def test_nothing_but_ops_platform_copy_and_migration_core_fields():
    op_fields = {CostTable.op_field(op) for op in Op}
    others = {"mmio_read_ns", "mmio_write_ns", "irq_delivery_ns", "iotlb_invalidation_ns",
              "iommu_map_page_ns", "iommu_unmap_page_ns"}
    copies = {f"copy_bw_{s}_{d}" for s, d in CostTable.node_pairs()}
    assert len(copies) == 9
    assert set(CostTable.field_names()) == op_fields | others | copies | MIGRATION_CORE_FIELDS


def test_migration_core_steps_are_estimates_times_one_fitted_scale():
    from sim.host import seed_derived as costs
    for name, estimate in costs.CORE_STEP_ESTIMATES_NS.items():
        assert getattr(DEFAULT_COSTS, name) == pytest.approx(estimate * costs.CORE_STEP_SCALE,
                                                             abs=0.01)
    # Their sum per 4 KiB folio mapped once is the seed's non-copy time (~2900 cycles).
    per_folio = sum(getattr(DEFAULT_COSTS, n) for n in costs.CORE_STEP_ESTIMATES_NS) * 2
    assert 2700 < per_folio < 3100


def test_llc_copy_is_faster_than_from_dram_and_needs_a_known_node():
    llc = DEFAULT_COSTS.llc_copy_ns(4096, 0)
    assert llc * 2 == pytest.approx(512.12, abs=0.01)      # fitted cycles per page at 2 GHz
    assert llc < DEFAULT_COSTS.copy_ns(4096, 1, 0)
    assert DEFAULT_COSTS.llc_copy_ns(4096, 2) > DEFAULT_COSTS.llc_copy_ns(4096, 1) > llc
    with pytest.raises(CostError, match="LLC copy"):
        DEFAULT_COSTS.llc_copy_ns(4096, 3)
    with pytest.raises(CostError, match="nbytes"):
        DEFAULT_COSTS.llc_copy_ns(-1, 0)


def test_tlb_shootdown_by_remote_cpus():
    c = DEFAULT_COSTS
    assert c.tlb_flush_ns(0) == c.tlb_flush_local_ns
    assert c.tlb_flush_ns(1) == c.tlb_flush_local_ns + c.tlb_ipi_ns
    assert c.tlb_flush_ns(4) == c.tlb_flush_local_ns + c.tlb_ipi_ns + 3 * c.tlb_ipi_cpu_ns
    with pytest.raises(CostError, match="remote_cpus"):
        c.tlb_flush_ns(-1)


def test_copy_matches_seed_folio_copy_1_to_0():
    # Seed, Generic Kernel, folio_copy, rows 256MB and 1GB: mean 810.04 cycles/page at 2 GHz.
    seed_ns = (815.40 + 804.68) / 2 / 2.0
    assert DEFAULT_COSTS.copy_ns(4096, 1, 0) == pytest.approx(seed_ns, rel=1e-9)
    assert DEFAULT_COSTS.copy_bw(1, 0) == pytest.approx(4096 / seed_ns, rel=1e-9)


def test_copy_scales_with_bytes():
    for src, dst in CostTable.node_pairs():
        one = DEFAULT_COSTS.copy_ns(4096, src, dst)
        assert DEFAULT_COSTS.copy_ns(0, src, dst) == 0
        assert DEFAULT_COSTS.copy_ns(2 * 4096, src, dst) == pytest.approx(2 * one)
        assert DEFAULT_COSTS.copy_ns(2 << 20, src, dst) == pytest.approx(512 * one)


def test_copy_node_pairs_ordered_by_locality():
    ns = {pair: DEFAULT_COSTS.copy_ns(4096, *pair) for pair in CostTable.node_pairs()}
    assert set(ns) == {(s, d) for s in range(3) for d in range(3)}
    assert ns[(0, 0)] < ns[(0, 1)] < ns[(1, 0)] < ns[(1, 1)]
    # The CXL tier (node 2) is the farthest: reading from it costs the most.
    assert ns[(1, 0)] < ns[(2, 0)] and ns[(1, 1)] < ns[(2, 1)]
    assert ns[(0, 1)] < ns[(0, 2)] and ns[(1, 1)] < ns[(1, 2)]


@pytest.mark.parametrize("src, dst", [(3, 0), (0, 3), (-1, 0), ("1", 0), (None, 0)])
def test_unknown_node_pair_is_a_clear_error(src, dst):
    with pytest.raises(CostError, match="node pair"):
        DEFAULT_COSTS.copy_ns(4096, src, dst)


@pytest.mark.parametrize("nbytes", [-1, 1.5, True])
def test_bad_byte_count_refused(nbytes):
    with pytest.raises(CostError, match="nbytes"):
        DEFAULT_COSTS.copy_ns(nbytes, 1, 0)


def test_overrides():
    slow = DEFAULT_COSTS.with_overrides(dma_unmap_page_ns=300.0, copy_bw_1_0=20.0)
    assert slow.op_ns(Op.DMA_UNMAP_PAGE) == 300.0
    assert slow.copy_ns(4096, 1, 0) == pytest.approx(204.8)
    assert slow.op_ns(Op.DMA_MAP_PAGE) == DEFAULT_COSTS.op_ns(Op.DMA_MAP_PAGE)
    assert DEFAULT_COSTS.dma_unmap_page_ns == 165.0         # the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_COSTS.dma_unmap_page_ns = 1.0


def test_override_rejects_unknown_names():
    with pytest.raises(CostError, match="unknown cost name.*dma_unmap_ns"):
        DEFAULT_COSTS.with_overrides(dma_unmap_ns=300.0)


@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf, "fast", None])
def test_override_rejects_bad_values(value):
    with pytest.raises(CostError, match="mmio_read_ns"):
        DEFAULT_COSTS.with_overrides(mmio_read_ns=value)


def test_zero_bandwidth_refused():
    with pytest.raises(CostError, match="copy_bw_0_0"):
        DEFAULT_COSTS.with_overrides(copy_bw_0_0=0.0)


def test_unknown_op_is_a_clear_error():
    with pytest.raises(CostError, match="not a sw_driver.port.Op"):
        DEFAULT_COSTS.op_ns("dma_teleport")


def test_as_dict_round_trips():
    values = DEFAULT_COSTS.as_dict()
    assert list(values) == CostTable.field_names()
    assert CostTable(**values) == DEFAULT_COSTS
    assert values["dma_map_page_ns"] == DEFAULT_COSTS.op_ns(Op.DMA_MAP_PAGE)


def _docs_rows():
    rows = {}
    for line in DOCS.read_text().splitlines():
        m = re.match(r"^\|\s*`(\w+)`\s*\|\s*([0-9.]+)\s*\|\s*([\w/]+)\s*\|\s*([\w-]+)\s*\|", line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), m.group(3), m.group(4))
    return rows


def test_docs_list_every_field_with_its_value():
    rows = _docs_rows()
    for info in CostTable.describe():
        assert info["name"] in rows, f"docs/costs.md has no row for {info['name']}"
        value, unit, kind = rows[info["name"]]
        assert value == pytest.approx(info["default"], rel=1e-4, abs=1e-9), info["name"]
        assert unit == info["unit"], info["name"]
        assert kind == info["kind"], info["name"]
    assert set(rows) == set(CostTable.field_names()), "docs/costs.md lists a field the code lacks"


def test_docs_quote_each_core_steps_estimate_and_the_fitted_scale():
    """docs/costs.md writes "estimate E x S" for each migration-core step: E its
    estimate (sim/host/seed_derived.py), S the one fitted scale."""
    from sim.host.seed_derived import CORE_STEP_ESTIMATES_NS, CORE_STEP_SCALE
    quoted = {}
    for line in DOCS.read_text().splitlines():
        m = re.match(r"^\|\s*`(\w+)`.*\| estimate ([0-9.]+) x (?:fitted scale )?([0-9.]+):",
                     line)
        if m:
            quoted[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    assert quoted == {name: (estimate, CORE_STEP_SCALE)
                      for name, estimate in CORE_STEP_ESTIMATES_NS.items()}


def test_docs_v1_sum_matches_the_table():
    """The v1 per-page CPU-side sum quoted in docs/costs.md is what the table gives."""
    from sim.memsys.iommu import FLUSH_QUEUE_ENTRIES
    c = DEFAULT_COSTS
    poll_tail = c.op_ns(Op.TX_STATUS) + (c.op_ns(Op.TX_STATUS) + c.op_ns(Op.POLL_ITERATION)) / 2
    terminate_registers = 3 * c.mmio_write_ns + 2 * c.mmio_read_ns
    lazy_invalidation = 2 * c.iotlb_invalidation_ns / FLUSH_QUEUE_ENTRIES
    # Each 4 KiB page is one IO page-table entry, written on map and cleared on unmap.
    page_table = 2 * (c.iommu_map_page_ns + c.iommu_unmap_page_ns)
    v1 = (page_table + 2 * c.op_ns(Op.DMA_MAP_PAGE) + c.op_ns(Op.PREP_MEMCPY) + c.op_ns(Op.DESC_STORE)
          + c.op_ns(Op.TX_SUBMIT) + c.op_ns(Op.ISSUE_PENDING) + c.mmio_write_ns + poll_tail
          + c.op_ns(Op.TERMINATE_SYNC) + terminate_registers + 2 * c.op_ns(Op.DMA_UNMAP_PAGE)
          + lazy_invalidation + c.op_ns(Op.FOLIO_METADATA))
    text = DOCS.read_text()
    assert f"**{v1:.0f} ns = {2 * v1:,.0f} cycles**" in text
