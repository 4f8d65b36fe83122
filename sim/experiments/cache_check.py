"""The cache model (:mod:`sim.host.cache`) against the seed's second table, and how cold
the pages are after a CPU or a DMA copy; ``python -m sim.experiments.cache_check`` prints
both.
"""
from sim import seed
from sim.host.cache import CacheModel
from sim.host.cache_params import (DEFAULT_TOUCHER, PAGE_BYTES, SEED_COLUMNS, CacheModelError,
                                   seed_mean)


#: The seed's "offload enabled" rows, read two ways: the v1 driver as posted (the CPU
#: copies every page again after the DMA) and as intended (DMA only).
DMA_READINGS = {"as_posted": "dma_then_cpu", "dma_only": "dma"}


def seed_comparison(model=None, dma_reading="as_posted"):
    """Model vs the seed's second table: one dict per (mode, row, column).

    Modes map to copiers: Generic Kernel and offload-disabled copy on the CPU;
    offload-enabled is ``DMA_READINGS[dma_reading]``. The toucher is the caller's
    own core (``move_pages`` copies in the caller's context). ``error`` is
    (model - seed) / seed.
    """
    model = CacheModel() if model is None else model
    if dma_reading not in DMA_READINGS:
        raise CacheModelError(f"dma_reading={dma_reading!r}: expected one of "
                              f"{', '.join(DMA_READINGS)}")
    copiers = {"cpu": "cpu", "batch-cpu": "cpu", "dma": DMA_READINGS[dma_reading]}
    out = []
    for mode in seed.MODES:
        for row in seed.TABLE2_WORKLOADS:
            pages = seed.PAGES[row]
            values = {
                "uncached_access": model.uncached_access_cycles_per_page(pages),
                "cached_access": model.cached_access_cycles_per_page(pages),
                "post_move_access": model.post_move_access_cycles_per_page(
                    pages, copier=copiers[mode], toucher=DEFAULT_TOUCHER),
            }
            for column in SEED_COLUMNS:
                measured = seed_mean(mode, row, column)
                out.append({"mode": mode, "row": row, "pages": pages, "column": column,
                            "seed": measured, "model": values[column],
                            "error": (values[column] - measured) / measured})
    return out


def format_seed_comparison(rows=None):
    """The comparison as a Markdown table (seed / model / error per column)."""
    rows = seed_comparison() if rows is None else rows
    by = {}
    for r in rows:
        by.setdefault((r["mode"], r["row"]), {})[r["column"]] = r
    head = "| mode | row | " + " | ".join(f"{c} seed / model / err" for c in SEED_COLUMNS) + " |"
    lines = [head, "|" + "---|" * (2 + len(SEED_COLUMNS))]
    for (mode, row), cols in by.items():
        cells = [f"{cols[c]['seed']:.1f} / {cols[c]['model']:.1f} / {cols[c]['error']:+.1%}"
                 for c in SEED_COLUMNS]
        lines.append(f"| {mode} | {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cold_cache_sweep(sizes=None, touchers=("same_core", "other_ccx", "other_socket"),
                     model=None):
    """post_move_access cycles/page by workload size for CPU copy, DMA copy, and DMA
    copy that allocates in the LLC: [{bytes, toucher, cpu, dma, dma_llc}]."""
    model = CacheModel() if model is None else model
    if sizes is None:
        sizes = [4 << 10, 64 << 10, 1 << 20, 2 << 20, 8 << 20, 16 << 20, 24 << 20,
                 32 << 20, 64 << 20, 1 << 30]
    out = []
    for nbytes in sizes:
        pages = max(1, nbytes // PAGE_BYTES)
        for t in touchers:
            out.append({"bytes": nbytes, "toucher": t,
                        "cpu": model.post_move_access_cycles_per_page(pages, copier="cpu", toucher=t),
                        "dma": model.post_move_access_cycles_per_page(
                            pages, copier="dma", dma_allocates_in_llc=False, toucher=t),
                        "dma_llc": model.post_move_access_cycles_per_page(
                            pages, copier="dma", dma_allocates_in_llc=True, toucher=t)})
    return out


def _size(n):
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k and n % k == 0:
            return f"{n // k} {unit}"
    return f"{n} B"


def main():
    print("Seed table 2 vs model, DMA rows read as posted (CPU re-copies after the DMA):")
    print(format_seed_comparison())
    print("\nSame, DMA rows read as DMA only (no CPU re-copy):")
    print(format_seed_comparison(seed_comparison(dma_reading="dma_only")))
    print("\npost_move_access cycles/page: CPU copy / DMA copy / DMA allocating in LLC")
    for r in cold_cache_sweep():
        print(f"  {_size(r['bytes']):>8} {r['toucher']:<13} {r['cpu']:8.1f} {r['dma']:8.1f} "
              f"{r['dma_llc']:8.1f}")


if __name__ == "__main__":
    main()
