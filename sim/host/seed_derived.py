"""The numbers the host cost table (:mod:`sim.host.costs`) takes from the seed.

Two groups, both from the seed's CPU rows only (never its DMA rows): the CPU
copy's read and write streams per node pair, and the migration core's
constants fitted by :mod:`sim.experiments.calibrate` (which prints the fit and
its residuals; a test keeps these values in step with it). Each value's
derivation is written out beside it.
"""
from sim import seed
from sim.memsys.memory_system import (CXL_LINK, CXL_MEMORY, LOCAL_DRAM, REMOTE_DRAM,
                                        SOCKET_LINK, read_latency_ns)
from sw_driver.folio import PAGE_SIZE

# The seed machine: AMD Zen 3 EPYC, 2 sockets, cpuinfo_cur_freq 2 GHz.
SEED_GHZ = seed.CPU_GHZ
PAGE = PAGE_SIZE

# --- Seed-derived quantities for the CPU copy (cycles per 4 KiB page) --------
# Seed table 1 (cover letter), "Generic Kernel", column folio_copy, promotion
# node 1 -> node 0; rows 256MB and 1GB (footprints far above the LLC, so the
# source is read from DRAM as in a real promotion of cold pages).
SEED_FOLIO_COPY_256MB = seed.table1("cpu", "256M", "folio_copy")[0]            # 815.40
SEED_FOLIO_COPY_1GB = seed.table1("cpu", "1G", "folio_copy")[0]                # 804.68
COPY_1_0_CYCLES = (SEED_FOLIO_COPY_256MB + SEED_FOLIO_COPY_1GB) / 2      # 810.04
# Seed table 2 (Shivank Garg's follow-up, 2024-06-25), "Generic Kernel", 1GB
# row: a read stream (one load per 64 B line) over pages on node 1 just after
# clflush (uncached_access) and over the same pages after they moved to node 0
# (post_move_access).
READ_REMOTE_CYCLES = seed.table2("cpu", "1G", "uncached_access")[0]            # 627.85
READ_LOCAL_CYCLES = seed.table2("cpu", "1G", "post_move_access")[0]             # 384.24
# Copy = read stream + write stream (additive, calibrated exactly at 1 -> 0):
WRITE_LOCAL_CYCLES = COPY_1_0_CYCLES - READ_REMOTE_CYCLES                 # 182.19
WRITE_REMOTE_CYCLES = WRITE_LOCAL_CYCLES * READ_REMOTE_CYCLES / READ_LOCAL_CYCLES  # 297.70
# Node 2, the optional CXL tier (sim/memsys/memory_system.py: a memory expander at 300 ns
# behind its link, against 100 local and 200 remote behind the socket link). One core's read stream is latency-bound (the
# seed's remote stream costs 1.63x the local one for 2x the latency): the cost per
# page is taken linear in the latency through the two measured points, and the
# write stream scaled like the remote one. Both stay above what the tier's
# bandwidth allows (24 GB/s read: 341 cycles/page; 20 GB/s write: 410).
READ_CXL_CYCLES = READ_LOCAL_CYCLES + (READ_REMOTE_CYCLES - READ_LOCAL_CYCLES) * (
    read_latency_ns(CXL_MEMORY, CXL_LINK) - read_latency_ns(LOCAL_DRAM)) / (
    read_latency_ns(REMOTE_DRAM, SOCKET_LINK) - read_latency_ns(LOCAL_DRAM))   # 871.46
WRITE_CXL_CYCLES = WRITE_LOCAL_CYCLES * READ_CXL_CYCLES / READ_LOCAL_CYCLES    # 413.21


# --- Migration core (mm/migrate.c): values fitted by sim/experiments/calibrate.py --------------
# Fitted to the seed's CPU rows only (table 1, "Generic Kernel" and "Offload
# disabled"; never its DMA rows). `python -m sim.experiments.calibrate` prints the fit, its
# residuals and these values; tests/sim/experiments/test_calibrate.py keeps them in step.
#
# First-principles estimates (ns) of the per-folio steps of migrate_pages() for a
# 4 KiB anonymous folio mapped once (arithmetic in docs/costs.md). With 4 KiB folios
# only their sum is visible in the seed, so the fit scales all of them by one factor.
CORE_STEP_ESTIMATES_NS = {
    "unmap_folio_ns": 400.0,
    "unmap_mapping_ns": 250.0,
    "unmap_pte_ns": 100.0,
    "move_folio_ns": 300.0,
    "restore_mapping_ns": 250.0,
    "restore_pte_ns": 100.0,
    "putback_folio_ns": 300.0,
}
CORE_STEP_SCALE = 0.8526            # fitted: the seed's non-copy time per 4 KiB folio
COLD_ROUTINE_NS = 816.3             # fitted: the 4KB rows' extra over 512+ page calls
COLD_COPY_NS = 142.3                # fitted: the 4KB rows' copy against the 2MB rows'
LLC_COPY_CYCLES = 512.12            # fitted: 2MB rows' folio_copy (source in the LLC)
COPY_WRITEBACK_CYCLES = 85.50       # fitted: batched copy minus per-folio copy, 256MB/1GB
JITTER_CORE = 0.0284                # fitted: RMS relative SD of migrate_pages, 2MB..1GB rows
JITTER_COPY = 0.1174                # fitted: RMS relative SD of folio_copy, 2MB..1GB rows
JITTER_COLD = 0.2086                # fitted: RMS relative SD of migrate_pages, 4KB rows
# Zen 3 EPYC (Milan): 32 MiB of L3 per CCD, shared by its 8 cores (AMD EPYC 7003
# product brief / PPR); the copying CPU's LLC.
LLC_BYTES = 32 << 20


def core_step_ns(name):
    """A migration-core step: its estimate times the one fitted scale, in ns."""
    return round(CORE_STEP_ESTIMATES_NS[name] * CORE_STEP_SCALE, 2)


def copy_bw(cycles_per_page):
    """Bytes per ns of a copy costing ``cycles_per_page`` at the seed's 2 GHz."""
    return PAGE / (cycles_per_page / SEED_GHZ)
