"""The measured figures the model is calibrated on and compared with, held once.

Sources: the seed (the RFC v1 cover letter of the dcbm series, "mm: migration:
batch migration with DMA offload", with its table, and Shivank Garg's follow-up
of 2024-06-25 on the same thread) and a later posting of the series (dcbm v3,
its 1 GiB ``move_pages()`` results). All figures are CPU cycles per 4 KiB page at
2 GHz, as printed there.

Modes: ``cpu`` = Generic Kernel, ``batch-cpu`` = patched kernel with offload
disabled (batched flow, CPU copy), ``dma`` = offload enabled (dcbm v1). A
workload names the total size moved in 4 KiB folios (:data:`PAGES`).
"""

#: The seed machine's clock ("cpuinfo_cur_freq: 2 GHz", DVFS performance); its
#: cycle counts are read as core cycles at this clock.
CPU_GHZ = 2.0
MODES = ("cpu", "batch-cpu", "dma")
MODE_NAMES = {"cpu": "Generic Kernel", "batch-cpu": "Offload disabled",
              "dma": "Offload enabled (dcbm v1)"}
#: 4 KiB pages per workload.
PAGES = {"4K": 1, "2M": 512, "256M": 65536, "512M": 131072, "1G": 262144}

#: Table 1 (cover letter): migrate_pages() of a workload from node 1 to node 0;
#: (mode, workload) -> mean, SD of each of TABLE1_FIELDS: migrate_pages and
#: folio_copy (cycles per page) and the fraction F = folio_copy / migrate_pages.
TABLE1_WORKLOADS = ("4K", "2M", "256M", "1G")
TABLE1_FIELDS = ("migrate_pages", "folio_copy", "F")
TABLE1 = {
    ("cpu", "4K"): (17799.00, 4278.25, 794.00, 232.87, 0.0478, 0.0199),
    ("cpu", "2M"): (3478.42, 94.93, 493.84, 28.21, 0.1418, 0.0050),
    ("cpu", "256M"): (3668.56, 158.47, 815.40, 171.76, 0.2206, 0.0371),
    ("cpu", "1G"): (3769.98, 55.79, 804.68, 60.07, 0.2132, 0.0134),
    ("batch-cpu", "4K"): (14941.60, 2556.53, 799.60, 211.66, 0.0554, 0.0190),
    ("batch-cpu", "2M"): (3448.44, 83.74, 533.34, 37.81, 0.1545, 0.0085),
    ("batch-cpu", "256M"): (3723.56, 132.93, 907.64, 132.63, 0.2427, 0.0270),
    ("batch-cpu", "1G"): (3788.20, 46.65, 888.46, 49.50, 0.2344, 0.0107),
    ("dma", "4K"): (46739.80, 4827.15, 32222.40, 3543.42, 0.6904, 0.0423),
    ("dma", "2M"): (13798.10, 205.33, 10971.60, 202.50, 0.7951, 0.0033),
    ("dma", "256M"): (13217.20, 163.99, 10431.20, 167.25, 0.7891, 0.0029),
    ("dma", "1G"): (13309.70, 113.93, 10410.00, 117.77, 0.7821, 0.0023),
}

#: Table 2 (follow-up): move_pages(2) from node 1 to node 0, then a read stream
#: over the pages (one load per 64-byte line); (mode, workload) -> (mean, SD) of
#: each of TABLE2_FIELDS, cycles per page.
TABLE2_WORKLOADS = ("4K", "2M", "512M", "1G")
TABLE2_FIELDS = ("move_pages", "uncached_access", "cached_access", "post_move_access")
TABLE2 = {
    ("cpu", "4K"): ((193154.40, 50519.59), (1269.40, 163.11), (383.00, 31.92), (420.40, 77.04)),
    ("cpu", "2M"): ((4930.36, 100.74), (793.46, 82.39), (208.59, 2.07), (181.34, 11.55)),
    ("cpu", "512M"): ((4498.93, 146.95), (656.43, 23.08), (801.93, 111.80), (402.37, 15.26)),
    ("cpu", "1G"): ((4419.88, 203.91), (627.85, 13.24), (776.01, 94.27), (384.24, 7.33)),
    ("batch-cpu", "4K"): ((206370.20, 28303.18), (1265.20, 141.38), (385.40, 54.32),
                          (407.80, 52.60)),
    ("batch-cpu", "2M"): ((5110.16, 188.60), (794.05, 72.25), (208.65, 1.75), (177.48, 9.93)),
    ("batch-cpu", "512M"): ((4548.00, 188.91), (658.23, 23.63), (777.34, 113.15),
                            (403.48, 17.27)),
    ("batch-cpu", "1G"): ((4521.19, 195.13), (628.85, 14.72), (750.85, 98.22), (387.79, 9.49)),
    ("dma", "4K"): ((222818.00, 22710.80), (1277.80, 145.74), (405.20, 101.85),
                    (427.60, 130.13)),
    ("dma", "2M"): ((15590.80, 288.89), (799.36, 76.60), (208.79, 2.11), (183.21, 11.67)),
    ("dma", "512M"): ((14154.06, 197.59), (649.93, 20.35), (814.10, 109.81), (403.43, 13.79)),
    ("dma", "1G"): ((14415.04, 303.83), (629.03, 14.83), (731.16, 97.67), (385.08, 7.62)),
}

#: A later posting of the series (RFC V3, see LATER_SCALING_SOURCES): 1 GiB moved with
#: move_pages(), THP on, same machine family; end-to-end GB/s (upstream kernel's CPU
#: copy, and dcbm v3 on one channel).
LATER_POSTING = (
    {"copy": "cpu", "driver": None, "folio_bytes": 4 << 10, "gbps": 3.73},
    {"copy": "cpu", "driver": None, "folio_bytes": 2 << 20, "gbps": 10.67},
    {"copy": "dma", "driver": "v3", "folio_bytes": 2 << 20, "gbps": 12.50},
)

#: The four points of RFC v4 (the v7.0 kernel) that calibrate the zen3-ptdma-v7 platform
#: (sim/experiments/calibrate_ptdma.py), as issue 21 gives them: 1 GiB moved with
#: move_pages(), GB/s end to end; the upstream CPU copy at three folio sizes, and dcbm
#: on one channel with 2 MiB folios (modelled by dcbm v3). Every other figure of RFC v4
#: and of the postings after it is held out: what the model predicts, never an input.
LATER_KERNEL_POSTING = (
    {"copy": "cpu", "driver": None, "folio_bytes": 4 << 10, "gbps": 3.55},
    {"copy": "cpu", "driver": None, "folio_bytes": 64 << 10, "gbps": 6.16},
    {"copy": "cpu", "driver": None, "folio_bytes": 2 << 20, "gbps": 10.88},
    {"copy": "dma", "driver": "v3", "folio_bytes": 2 << 20, "gbps": 12.64},
)


#: The later postings' channel scaling on the same machine with its PTDMA engines:
#: 1 GiB moved with move_pages(), GB/s (mean, SD) by dcbm version, folio size and
#: dmaengine channels (nr_dma_chan). Only :data:`LATER_POSTING` calibrates anything (the
#: zen3-ptdma platform, sim/experiments/calibrate_ptdma.py); these points are compared
#: with, never fitted. dcbm v2 as posted in RFC V2 (per-folio dma_map_page, an
#: interrupt per folio), v3 as posted in RFC V3 (dma_map_sgtable per channel, one
#: interrupt per channel).
LATER_SCALING_SOURCES = {
    "v2": "Shivank Garg, '[PATCH RFC V2 0/9] Enhancements to Page Migration with "
          "Multi-threading and Batch Offloading to DMA', linux-mm, 2025-03-19, table b "
          "(https://lore.kernel.org/linux-mm/20250319192211.10092-1-shivankg@amd.com)",
    "v3": "Shivank Garg, '[RFC V3 0/9] Accelerate page migration with batch copying and "
          "hardware offload', linux-mm, 2025-09-23, tables a and c "
          "(https://lore.kernel.org/all/20250923174752.35701-1-shivankg@amd.com)",
}
LATER_SCALING = {
    ("v2", 4 << 10): {1: (0.46, 0.01), 2: (0.66, 0.02), 4: (0.91, 0.01), 8: (1.14, 0.00),
                      16: (1.19, 0.11)},
    ("v2", 2 << 20): {1: (11.79, 0.05), 2: (13.39, 0.08), 4: (24.52, 0.22), 8: (39.17, 0.58),
                      16: (55.45, 1.20)},
    ("v3", 4 << 10): {1: (2.75, 0.19), 2: (3.35, 0.19), 4: (4.01, 0.17), 8: (4.46, 0.16),
                      12: (4.60, 0.22), 16: (4.61, 0.25)},
    ("v3", 2 << 20): {1: (12.50, 0.24), 2: (14.23, 0.34), 4: (26.84, 0.91), 8: (45.27, 2.60),
                      12: (59.94, 4.19), 16: (63.69, 5.01)},
}


def table1(mode, workload, field):
    """Table 1's (mean, SD) of one field."""
    i = 2 * TABLE1_FIELDS.index(field)
    return TABLE1[(mode, workload)][i:i + 2]


def table2(mode, workload, field):
    """Table 2's (mean, SD) of one field."""
    return TABLE2[(mode, workload)][TABLE2_FIELDS.index(field)]
