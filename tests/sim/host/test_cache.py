"""The userspace-cost cache model: seed table 2 reproduced, physics, documented constants."""
import dataclasses
import re
from pathlib import Path

import pytest

from sim import seed
from sim.experiments.cache_check import cold_cache_sweep, format_seed_comparison, seed_comparison
from sim.host.cache import CacheModel
from sim.host.cache_params import (CONSTANTS, DEFAULT_HIERARCHY, LLC_BYTES_PER_CCX, PAGE_BYTES,
                                   SEED_COLUMNS, CacheModelError, CacheHierarchy)
from sim.host.costs import KINDS

DOCS = Path(__file__).resolve().parents[3] / "docs" / "cache.md"

POST_MOVE_TOLERANCE = 0.20        # the brief: every post_move_access cell within 20%
ACCESS_TOLERANCE = 0.25           # uncached_access / cached_access: within 25% (worst 20.8%)

MODEL = CacheModel()
SIZES_PAGES = [1, 2, 16, 64, 65, 128, 512, 2048, 2049, 4096, 6144, 8192, 16384, 131072]


def _cells(column, dma_reading="as_posted"):
    return [r for r in seed_comparison(dma_reading=dma_reading) if r["column"] == column]


# ---- the seed's second table ----------------------------------------------------------
def test_comparison_covers_every_seed_cell():
    rows = seed_comparison()
    assert len(rows) == len(seed.MODES) * len(seed.TABLE2_WORKLOADS) * len(SEED_COLUMNS) == 36
    for r in rows:
        assert r["pages"] == seed.PAGES[r["row"]]
        assert r["seed"] == seed.table2(r["mode"], r["row"], r["column"])[0]
        assert r["error"] == pytest.approx((r["model"] - r["seed"]) / r["seed"])


@pytest.mark.parametrize("row", _cells("post_move_access"),
                         ids=lambda r: f"{r['mode']}-{r['row']}")
def test_post_move_access_within_20_percent(row):
    assert abs(row["error"]) <= POST_MOVE_TOLERANCE, row


@pytest.mark.parametrize("column", ["uncached_access", "cached_access"])
def test_uncached_and_cached_within_stated_tolerance(column):
    for row in _cells(column):
        assert abs(row["error"]) <= ACCESS_TOLERANCE, row


def test_seed_derived_cells_are_exact_and_the_rest_is_not_fitted():
    # The two cells the two seed-derived constants come from.
    assert MODEL.post_move_access_cycles_per_page(262144) == pytest.approx(384.24, rel=1e-12)
    assert MODEL.cached_access_cycles_per_page(1) == pytest.approx(383.00, rel=1e-12)
    # Independent predictions that land close: the remote streams and the cold 4 KiB page.
    assert MODEL.uncached_access_cycles_per_page(262144) == pytest.approx(627.85, rel=0.05)
    assert MODEL.uncached_access_cycles_per_page(1) == pytest.approx(1269.40, rel=0.06)


def test_dma_rows_need_a_hot_destination():
    """Read as DMA only, the small DMA rows are off by >2x; the large ones still fit.
    The seed's DMA numbers match the v1 driver as posted (CPU re-copy after the DMA)."""
    for row in _cells("post_move_access", dma_reading="dma_only"):
        if row["mode"] != "dma":
            continue
        if row["row"] in ("4K", "2M"):
            assert row["error"] > 1.0, row
        else:
            assert abs(row["error"]) <= POST_MOVE_TOLERANCE, row
    # DDIO-like allocation would explain the 2MB row but not the 4KB one.
    alloc = MODEL.post_move_access_cycles_per_page(1, copier="dma", dma_allocates_in_llc=True)
    assert alloc / seed.table2("dma", "4K", "post_move_access")[0] - 1 > POST_MOVE_TOLERANCE
    alloc = MODEL.post_move_access_cycles_per_page(512, copier="dma", dma_allocates_in_llc=True)
    assert abs(alloc / seed.table2("dma", "2M", "post_move_access")[0] - 1) <= \
        POST_MOVE_TOLERANCE


def test_copy_agent_makes_no_difference_beyond_the_llc():
    for pages in (131072, 262144):
        for toucher in ("same_core", "same_ccx", "other_ccx", "other_socket"):
            cpu = MODEL.post_move_access_cycles_per_page(pages, copier="cpu", toucher=toucher)
            for alloc in (False, True):
                dma = MODEL.post_move_access_cycles_per_page(
                    pages, copier="dma", dma_allocates_in_llc=alloc, toucher=toucher)
                assert dma == pytest.approx(cpu, rel=1e-3)


def test_docs_show_the_comparison_as_printed():
    assert format_seed_comparison() in DOCS.read_text()


def test_format_lists_every_row():
    text = format_seed_comparison()
    assert text.count("\n") == 2 + len(seed.MODES) * len(seed.TABLE2_WORKLOADS) - 1
    for mode in seed.MODES:
        assert f"| {mode} |" in text


# ---- physics ---------------------------------------------------------------------------
def test_bigger_than_llc_means_all_misses():
    llc_pages = LLC_BYTES_PER_CCX // PAGE_BYTES
    for pages in (llc_pages + 1, 2 * llc_pages, 262144):
        for copier in ("cpu", "dma", "dma_then_cpu"):
            run = MODEL.post_move_access(pages, copier=copier, dma_allocates_in_llc=True)
            assert set(run.served) == {"local_dram"}, (pages, copier, run.served)
        assert set(MODEL.cached_access(pages + 1).served) == {"remote_dram"}
    # Half the LLC is the limit for a CPU copy (source and destination share it).
    assert MODEL.post_move_access(llc_pages // 2).served == {"llc": llc_pages // 2 * 64}
    assert MODEL.hot_limit_bytes("cpu") == LLC_BYTES_PER_CCX // 2
    assert MODEL.hot_limit_bytes("dma") == 0
    assert MODEL.hot_limit_bytes("dma", True) == pytest.approx(LLC_BYTES_PER_CCX * 2 / 11, abs=64)


def test_hit_fraction_never_grows_with_size():
    for kwargs in ({"copier": "cpu"}, {"copier": "dma", "dma_allocates_in_llc": True},
                   {"copier": "dma"}):
        prev = 2.0
        for pages in SIZES_PAGES + [12288, 16383]:
            run = MODEL.post_move_access(pages, **kwargs)
            hit = 1 - run.fraction("local_dram")
            assert hit <= prev + 1e-12, (kwargs, pages)
            prev = hit


def test_cost_per_page_grows_as_lines_fall_out_of_each_level():
    # Beyond the fixed per-run costs, cycles/page only rise as the set outgrows a level.
    costs = [MODEL.post_move_access(p).line_cycles / p for p in SIZES_PAGES]
    assert costs == sorted(costs)
    costs = [MODEL.cached_access(p).line_cycles / p for p in SIZES_PAGES]
    assert costs == sorted(costs)


def test_dma_with_llc_allocation_equals_cpu_copy_for_small_sets():
    for pages in (1, 16, 256, 512, 1024):
        for toucher in ("same_ccx", "other_ccx", "other_socket"):
            cpu = MODEL.post_move_access_cycles_per_page(pages, copier="cpu", toucher=toucher)
            dma = MODEL.post_move_access_cycles_per_page(pages, copier="dma",
                                                         dma_allocates_in_llc=True, toucher=toucher)
            assert dma == pytest.approx(cpu, rel=1e-12), (pages, toucher)
    # On the copier's own core a CPU copy can do better still (L1/L2).
    assert MODEL.post_move_access_cycles_per_page(1) < \
        MODEL.post_move_access_cycles_per_page(1, copier="dma", dma_allocates_in_llc=True)


def test_cold_dma_costs_more_on_the_copiers_ccx_for_small_sets():
    for pages in (1, 512, 2048):
        for toucher in ("same_core", "same_ccx"):
            assert MODEL.dma_penalty(pages, toucher=toucher) > 1.5
        # Elsewhere the copy agent barely matters.
        assert MODEL.dma_penalty(pages, toucher="other_ccx") == pytest.approx(1.0, abs=0.06)
        assert MODEL.dma_penalty(pages, toucher="random") == pytest.approx(1.0, abs=0.06)


def test_dma_then_cpu_is_the_cpu_copy():
    for pages in SIZES_PAGES:
        for toucher in ("same_core", "same_ccx", "other_ccx", "other_socket", "random"):
            assert MODEL.post_move_access_cycles_per_page(pages, copier="dma_then_cpu",
                                                          toucher=toucher) == \
                MODEL.post_move_access_cycles_per_page(pages, copier="cpu", toucher=toucher)


def test_other_socket_toucher_is_slower():
    for pages in SIZES_PAGES:
        for copier in ("cpu", "dma"):
            for alloc in (False, True):
                same = [MODEL.post_move_access_cycles_per_page(pages, copier=copier,
                                                               dma_allocates_in_llc=alloc,
                                                               toucher=t)
                        for t in ("same_core", "same_ccx", "other_ccx")]
                far = MODEL.post_move_access_cycles_per_page(pages, copier=copier,
                                                             dma_allocates_in_llc=alloc,
                                                             toucher="other_socket")
                assert far > max(same), (pages, copier, alloc)
    # Remote pages cost more than local ones, cached or not.
    for pages in SIZES_PAGES:
        assert MODEL.uncached_access_cycles_per_page(pages, node="remote") > \
            MODEL.uncached_access_cycles_per_page(pages, node="local")


def test_cached_beats_uncached_and_cold_pages_cost_dram():
    for pages in (1, 512, 4096):
        assert MODEL.cached_access_cycles_per_page(pages) < \
            MODEL.uncached_access_cycles_per_page(pages)
    llc_pages = LLC_BYTES_PER_CCX // PAGE_BYTES
    assert MODEL.cached_access_cycles_per_page(2 * llc_pages) == pytest.approx(
        MODEL.uncached_access_cycles_per_page(2 * llc_pages), rel=1e-3)


def test_prefetchers_off_slow_dram_streams_only():
    off = CacheModel(CacheHierarchy(prefetch=False))
    for pages in (512, 262144):
        assert off.uncached_access_cycles_per_page(pages) > \
            1.4 * MODEL.uncached_access_cycles_per_page(pages)
    # L3-resident data does not depend on the miss concurrency.
    assert off.post_move_access_cycles_per_page(512) == \
        pytest.approx(MODEL.post_move_access_cycles_per_page(512))
    # The seed: with prefetchers off, CPU and (v1 as posted) DMA rows still agree.
    for pages in (seed.PAGES[w] for w in seed.TABLE2_WORKLOADS):
        assert off.post_move_access_cycles_per_page(pages, copier="dma_then_cpu") == \
            off.post_move_access_cycles_per_page(pages, copier="cpu")


def test_page_size_and_line_accounting():
    run = MODEL.post_move_access(512)
    assert run.lines == 512 * 64 and sum(run.served.values()) == run.lines
    assert run.total_cycles == pytest.approx(run.fixed_cycles + run.line_cycles + run.tlb_cycles)
    # A 2 MiB folio: one walk for 32768 lines, cheaper per byte than 512 small pages.
    huge = MODEL.post_move_access(1, page_size=2 << 20, copier="dma")
    small = MODEL.post_move_access(512, copier="dma")
    assert huge.lines == small.lines and huge.total_cycles < small.total_cycles


def test_sweep_shape():
    rows = cold_cache_sweep(sizes=[4096, 2 << 20, 1 << 30], touchers=("same_core",))
    assert [r["bytes"] for r in rows] == [4096, 2 << 20, 1 << 30]
    assert rows[1]["dma"] > 1.5 * rows[1]["cpu"] and rows[1]["dma_llc"] == rows[1]["cpu"]
    assert rows[2]["dma"] == pytest.approx(rows[2]["cpu"])


def test_bad_arguments_are_refused():
    with pytest.raises(CacheModelError, match="pages"):
        MODEL.post_move_access(0)
    with pytest.raises(CacheModelError, match="pages"):
        MODEL.post_move_access(1.5)
    with pytest.raises(CacheModelError, match="page_size"):
        MODEL.post_move_access(1, page_size=100)
    with pytest.raises(CacheModelError, match="copier"):
        MODEL.post_move_access(1, copier="gpu")
    with pytest.raises(CacheModelError, match="toucher"):
        MODEL.post_move_access(1, toucher="elsewhere")
    with pytest.raises(CacheModelError, match="node"):
        MODEL.uncached_access(1, node="cxl")
    with pytest.raises(CacheModelError, match="dma_llc_fraction"):
        CacheHierarchy(dma_llc_fraction=1.5)
    with pytest.raises(CacheModelError, match="local_dram_ns"):
        CacheHierarchy(local_dram_ns=-1)
    with pytest.raises(CacheModelError, match="unknown"):
        DEFAULT_HIERARCHY.replace(l4_bytes=1)
    with pytest.raises(CacheModelError, match="dma_reading"):
        seed_comparison(dma_reading="maybe")


# ---- constants: one documented place ---------------------------------------------------
def test_every_hierarchy_field_is_a_documented_constant():
    fields = {f.name: f for f in dataclasses.fields(CacheHierarchy) if f.name != "prefetch"}
    # PAGE_BYTES is the seed's page size (the default page_size argument), not a hierarchy field.
    assert {f.metadata["constant"] for f in fields.values()} == set(CONSTANTS) - {"PAGE_BYTES"}
    for name, f in fields.items():
        assert name.upper() == f.metadata["constant"]
        assert getattr(DEFAULT_HIERARCHY, name) == CONSTANTS[name.upper()].value


def test_every_constant_has_a_source_and_kind():
    import sim.host.cache_params as cache
    for name, c in CONSTANTS.items():
        assert getattr(cache, name) == c.value, name
        assert c.kind in KINDS, name
        assert len(c.source) > 30, name
    seed_derived = {n for n, c in CONSTANTS.items() if c.kind == "seed-derived"}
    assert seed_derived == {"MLP_PREFETCH", "MEASUREMENT_OVERHEAD_CYCLES"}


def _docs_table():
    rows = {}
    for line in DOCS.read_text().splitlines():
        m = re.match(r"\|\s*`([A-Z0-9_]+)`\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return rows


def test_docs_list_every_constant_with_its_value_unit_and_kind():
    table = _docs_table()
    assert set(table) == set(CONSTANTS), set(table) ^ set(CONSTANTS)
    for name, (value, unit, kind) in table.items():
        c = CONSTANTS[name]
        assert unit == c.unit, name
        assert kind == c.kind, name
        if isinstance(c.value, bool):
            assert value == str(c.value), name
        else:
            number = float(re.match(r"[-+0-9.eE]+", value).group(0))
            assert number == pytest.approx(c.value, rel=1e-3), name


def test_docs_usage_examples_print_what_they_say():
    """Each `m.<call>  # ...: value` line of the docs' usage block gives that value."""
    text = DOCS.read_text()
    block = text[text.index("```python"):text.index("```", text.index("```python") + 3)]
    checked = 0
    for line in block.splitlines():
        match = re.match(r"(m\.\S.*?)\s+#(?:[^#]*:)?\s*([0-9]+(?:\.[0-9]+)?)\s*$", line)
        if match:
            expression, shown = match.groups()
            value = eval(expression, {"m": MODEL})            # the docs' own expression
            decimals = len(shown.partition(".")[2])
            assert round(value, decimals) == float(shown), line
            checked += 1
    assert checked >= 6


def test_docs_sweep_table_is_what_the_model_gives():
    """Every row of the docs' "When DMA's cold cache matters" table, recomputed."""
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    rows = re.findall(r"^\| (\d+) (KiB|MiB|GiB) \| (\w+) \| (\d+) \| (\d+) \| (\d+) \| "
                      r"([0-9.]+) \|$", DOCS.read_text(), re.M)
    assert len(rows) >= 10
    for size, unit, toucher, cpu, dma, dma_llc, ratio in rows:
        pages = int(size) * units[unit] // PAGE_BYTES
        model = {alloc: MODEL.post_move_access_cycles_per_page(
                     pages, copier="dma", toucher=toucher, dma_allocates_in_llc=alloc)
                 for alloc in (False, True)}
        by_cpu = MODEL.post_move_access_cycles_per_page(pages, copier="cpu", toucher=toucher)
        assert (round(by_cpu), round(model[False]), round(model[True])) == \
            (int(cpu), int(dma), int(dma_llc)), (size, unit, toucher)
        assert round(model[False] / by_cpu, 2) == float(ratio), (size, unit, toucher)
