"""The parameters of the cache model (:mod:`sim.host.cache`): the seed's Zen 3 EPYC.

Every constant below carries its unit, kind (the kinds of :mod:`sim.host.costs`:
a public fact, derived from the seed's tables, or an estimate) and source in
:data:`CONSTANTS`; :class:`CacheHierarchy` gathers them as one immutable value whose
fields a run may change. ``docs/cache.md`` repeats the table with the reasoning.
Two constants are derived from the seed (one cell each); nothing is fitted per row.
"""
import dataclasses
import math
from dataclasses import dataclass, field

from sim import seed
from sim.host.costs import ESTIMATE, MEASURED, SEED
from sim.host.seed_derived import LLC_BYTES, SEED_GHZ
from sim.memsys.memory_system import LOCAL_DRAM, REMOTE_DRAM, SOCKET_LINK, read_latency_ns
from sw_driver.folio import PAGE_SIZE

# --------------------------------------------------------------------------------
# Constants, of the kinds of sim/host/costs.py (KINDS): a public fact/measurement,
# derived from the seed's tables, or a first-principles estimate. docs/cache.md
# repeats them all.
# --------------------------------------------------------------------------------

# Seed machine: AMD Zen 3 EPYC (7003 "Milan"), 2 sockets, cpuinfo_cur_freq 2 GHz.
CORE_GHZ = SEED_GHZ
# x86 cache line; also the stride of the seed's loop (one load per line).
LINE_BYTES = 64
# THP was off in the seed: every folio is one 4 KiB page.
PAGE_BYTES = PAGE_SIZE
# Zen 3 core: 32 KiB L1D, 512 KiB private L2 (unchanged since Zen 1).
L1_BYTES = 32 * 1024
L2_BYTES = 512 * 1024
# Zen 3 CCX = CCD: up to 8 cores sharing one 32 MiB L3 (was 2 x 16 MiB in Zen 2).
LLC_BYTES_PER_CCX = LLC_BYTES
CORES_PER_CCX = 8
# "2-sockets, 32 cores": the CCX count per socket depends on the SKU; 4 is assumed.
# Only the "random" toucher (chance of sharing the copier's CCX) uses it.
CCX_PER_SOCKET = 4
SOCKETS = 2
# Zen 3 data TLBs: 64-entry L1 DTLB, 2048-entry L2 DTLB.
L1_DTLB_ENTRIES = 64
L2_DTLB_ENTRIES = 2048
# Load-to-use latencies in core cycles (L1, L2 as in every Zen; L3 of Zen 3).
L1_LATENCY_CYCLES = 4.0
L2_LATENCY_CYCLES = 12.0
LLC_LATENCY_CYCLES = 46.0
# DRAM and cache-to-cache latencies from a core, ns. Local DRAM: as the memory
# system (sim/memsys/memory_system.py) sees it from the I/O die, plus the core's CCD-IOD
# hop. Remote DRAM: the memory system's figure (see CONSTANTS for why not + hop).
CCD_IOD_HOP_NS = 15.0
LOCAL_DRAM_NS = LOCAL_DRAM.read_latency_ns + CCD_IOD_HOP_NS
REMOTE_DRAM_NS = read_latency_ns(REMOTE_DRAM, SOCKET_LINK)
CROSS_CCX_NS = 110.0
CROSS_SOCKET_CACHE_NS = 210.0
# Sequential streaming cost per 64 B line served by a cache level, cycles.
L1_LINE_CYCLES = 1.0
L2_LINE_CYCLES = 2.0
LLC_LINE_CYCLES = 64 / 24          # 2.667: ~24 B/cycle achieved of the 32 B/cycle L3 port
# Lines a core keeps in flight without prefetchers: its L1D miss buffers.
MLP_DEMAND = 24.0
# TLB costs per page, cycles.
TLB_L2_HIT_CYCLES = 7.0
PAGE_WALK_CYCLES = 25.0
# DMA writes into the LLC ("DDIO"-like): off on Zen 3; the share of the LLC it may use.
DMA_ALLOCATES_IN_LLC = False
DMA_LLC_FRACTION = 2 / 11

# ---- The seed's second table (sim/seed.py): the three read-stream columns -------------
SEED_COLUMNS = ("uncached_access", "cached_access", "post_move_access")


def seed_mean(mode, workload, column):
    return seed.table2(mode, workload, column)[0]


# ---- The two seed-derived constants (one cell each, Generic Kernel) -----------------
# Fixed cost of one timed run (rdtsc pair, loop entry/exit mispredictions, the first
# accesses to the pages[] array...): the 4KB cached_access cell minus its data part,
# one L1-resident page = L1 latency + 63 further lines at the L1 streaming cost.
MEASUREMENT_OVERHEAD_CYCLES = (seed_mean("cpu", "4K", "cached_access")
                               - (L1_LATENCY_CYCLES + 63 * L1_LINE_CYCLES))      # 316.0


def _derive_mlp_prefetch():
    """Lines in flight with prefetchers on, from the 1GB post_move_access cell.

    That run reads 262144 freshly migrated local pages, far more than the LLC
    (every line from local DRAM) and the TLB (a walk per page), so
    seed * pages = overhead + latency + (n - 1) * L / MLP + pages * walk.
    """
    pages = seed.PAGES["1G"]
    n = pages * PAGE_BYTES // LINE_BYTES
    local = LOCAL_DRAM_NS * CORE_GHZ
    total = seed_mean("cpu", "1G", "post_move_access") * pages
    per_line = (total - MEASUREMENT_OVERHEAD_CYCLES - local - pages * PAGE_WALK_CYCLES) / (n - 1)
    return local / per_line


MLP_PREFETCH = _derive_mlp_prefetch()                                             # 40.98


@dataclass(frozen=True)
class Constant:
    value: object
    unit: str
    kind: str
    source: str


#: Every constant of the model, by module name, with its unit, kind and source.
#: docs/cache.md lists the same names and values (a test keeps them in step).
CONSTANTS = {
    "CORE_GHZ": Constant(CORE_GHZ, "GHz", MEASURED,
        "Seed: 'cpuinfo_cur_freq: 2 GHz', DVFS performance; the seed's rdtsc counts are read "
        "as core cycles at this clock (as sim/host/costs.py does)"),
    "LINE_BYTES": Constant(LINE_BYTES, "bytes", MEASURED,
        "x86 cache line; the seed's loop strides 64 bytes, one load per line"),
    "PAGE_BYTES": Constant(PAGE_BYTES, "bytes", MEASURED,
        "Seed: THP disabled, so every migrated folio is a 4 KiB page"),
    "L1_BYTES": Constant(L1_BYTES, "bytes", MEASURED,
        "Zen 3 L1D 32 KiB per core (AMD; unchanged since Zen 1, Chips and Cheese 'Deep "
        "Diving Zen 3 V-Cache' 2022-01-21)"),
    "L2_BYTES": Constant(L2_BYTES, "bytes", MEASURED,
        "Zen 3 private L2 512 KiB per core (AMD; AnandTech Milan review p.4)"),
    "LLC_BYTES_PER_CCX": Constant(LLC_BYTES_PER_CCX, "bytes", MEASURED,
        "Zen 3: one 32 MiB L3 per CCD shared by its 8 cores (AnandTech, 'AMD 3rd Gen EPYC "
        "Milan Review', p.4 'Topology, Memory Subsystem & Latency', 2021-03-15)"),
    "CORES_PER_CCX": Constant(CORES_PER_CCX, "cores", MEASURED,
        "Zen 3 CCX = CCD of up to 8 cores (AnandTech Milan review p.4); SKUs may enable fewer"),
    "CCX_PER_SOCKET": Constant(CCX_PER_SOCKET, "CCX", ESTIMATE,
        "Seed: '2-sockets, 32 cores'; SKU unknown, 4 CCDs per socket assumed; used only by "
        "the 'random' toucher"),
    "SOCKETS": Constant(SOCKETS, "sockets", MEASURED, "Seed: 2 sockets, one NUMA node each"),
    "L1_DTLB_ENTRIES": Constant(L1_DTLB_ENTRIES, "entries", MEASURED,
        "Zen 3 L1 DTLB: 64 entries (Chips and Cheese, 'Deep Diving Zen 3 V-Cache')"),
    "L2_DTLB_ENTRIES": Constant(L2_DTLB_ENTRIES, "entries", MEASURED,
        "Zen 3 L2 DTLB: 2048 entries (AMD Zen 3 documentation)"),
    "L1_LATENCY_CYCLES": Constant(L1_LATENCY_CYCLES, "cycles", MEASURED,
        "4 cycles, every Zen (AnandTech Rome review 'Memory Subsystem: Latency'; Chips and "
        "Cheese: same L1/L2 in all Zen generations)"),
    "L2_LATENCY_CYCLES": Constant(L2_LATENCY_CYCLES, "cycles", MEASURED,
        "12 cycles (AnandTech Rome review latency table; same L2 in Zen 3)"),
    "LLC_LATENCY_CYCLES": Constant(LLC_LATENCY_CYCLES, "cycles", MEASURED,
        "~46 cycles: Zen 2's L3 (~34-39) + the 7-8 cycles the unified 32 MiB CCX L3 added "
        "(Chips and Cheese, 'Deep Diving Zen 3 V-Cache')"),
    "LOCAL_DRAM_NS": Constant(LOCAL_DRAM_NS, "ns", ESTIMATE,
        "sim/memsys/memory_system.py's local DRAM latency (100 ns, seen from the I/O die) + "
        f"CCD_IOD_HOP_NS = {CCD_IOD_HOP_NS:g} ns, a core's request and data crossing "
        "between its CCD and the I/O die; public Zen 2/3 EPYC NPS1 load-to-use from a core "
        "is ~110-122 ns (AnandTech Rome review: 122 ns full random at 128 MB, TLB misses "
        "included)"),
    "REMOTE_DRAM_NS": Constant(REMOTE_DRAM_NS, "ns", ESTIMATE,
        "sim/memsys/memory_system.py's remote DRAM latency behind the socket link, taken as "
        "is from a core: local from a "
        "core + the xGMI hop both ways (~85-110 ns) = 200-225 ns, whose low end the seed's "
        "1GB remote read stream (627.85 cycles/page against 384.24 local, 1.63x) supports"),
    "CROSS_CCX_NS": Constant(CROSS_CCX_NS, "ns", ESTIMATE,
        "Read of a line held in another CCX's L3, same socket: request to the home on the "
        "I/O die, probe-filter hit, probe of the owning CCD, data back ~ DRAM latency; "
        "Milan's inter-CCD core-to-core bounce is ~80-110 ns (AnandTech Milan review p.4)"),
    "CROSS_SOCKET_CACHE_NS": Constant(CROSS_SOCKET_CACHE_NS, "ns", ESTIMATE,
        "Read from the other socket of a line cached in a CCX there: remote DRAM path with "
        "a probe instead of the DRAM access: ~200-220 ns"),
    "L1_LINE_CYCLES": Constant(L1_LINE_CYCLES, "cycles/line", ESTIMATE,
        "Loop issue bound: ~4 instructions per iteration (load-add, index add, fused "
        "compare-branch) at about one taken branch per cycle"),
    "L2_LINE_CYCLES": Constant(L2_LINE_CYCLES, "cycles/line", MEASURED,
        "64 B over the 32 B/cycle L2-to-L1 path (AMD Zen 3)"),
    "LLC_LINE_CYCLES": Constant(LLC_LINE_CYCLES, "cycles/line", ESTIMATE,
        "64 B at ~24 B/cycle, about 75% of the 32 B/cycle L3-to-L2 port a single core "
        "achieves on a sequential read = 2.667"),
    "MLP_DEMAND": Constant(MLP_DEMAND, "lines", ESTIMATE,
        "Prefetchers off: misses in flight limited by the L1D miss buffers, ~22-24 in "
        "Zen 2/3 class cores"),
    "MLP_PREFETCH": Constant(MLP_PREFETCH, "lines", SEED,
        "Little's law on the seed's 1GB post_move_access (Generic Kernel, 384.24 cycles/page, "
        "local DRAM, a walk per page): 64 B x 40.98 / 115 ns = 22.8 GB/s per core"),
    "TLB_L2_HIT_CYCLES": Constant(TLB_L2_HIT_CYCLES, "cycles/page", ESTIMATE,
        "L1 DTLB miss that hits the L2 DTLB: ~7 cycles once per page (latency steps in "
        "4 KiB-page latency plots of Zen 3)"),
    "PAGE_WALK_CYCLES": Constant(PAGE_WALK_CYCLES, "cycles/page", ESTIMATE,
        "Walk with page-walk-cache hits for the upper levels and the PTE line in L2 "
        "(~12) + walker ~10, partly overlapped (Zen 3 has 6 walkers, AnandTech Zen 3 "
        "deep dive): ~25 exposed per page"),
    "MEASUREMENT_OVERHEAD_CYCLES": Constant(MEASUREMENT_OVERHEAD_CYCLES, "cycles/run", SEED,
        "Seed 4KB cached_access (Generic) 383.00 minus one L1-resident page "
        "(4 + 63 x 1.0) = 316: rdtsc pair, loop entry/exit mispredictions, first touch of "
        "the pages[] array; paid once per timed run"),
    "DMA_ALLOCATES_IN_LLC": Constant(DMA_ALLOCATES_IN_LLC, "bool", ESTIMATE,
        "Zen 3 documents no DDIO-like allocation of DMA writes: a DMA write goes to memory "
        "and invalidates cached copies"),
    "DMA_LLC_FRACTION": Constant(DMA_LLC_FRACTION, "fraction", MEASURED,
        "When DMA writes allocate (Intel DDIO): 2 of the 11 LLC ways by default (Farshin et "
        "al., 'Reexamining Direct Cache Access...', USENIX ATC 2020)"),
}

COPIERS = ("cpu", "dma", "dma_then_cpu")
TOUCHERS = ("same_core", "same_ccx", "other_ccx", "other_socket", "random")
#: The seed's reader: move_pages() copies in the caller's context.
DEFAULT_TOUCHER = TOUCHERS[0]
NODES = ("local", "remote")


class CacheModelError(ValueError):
    """A bad argument to the cache model."""


def _constant_field(name):
    c = CONSTANTS[name]
    return field(default=c.value, metadata={"constant": name, "unit": c.unit,
                                            "kind": c.kind, "source": c.source})


@dataclass(frozen=True)
class CacheHierarchy:
    """The CPU's caches and memory as the cache model sees them, all defaults from the
    module constants (the seed's Zen 3 EPYC)."""

    core_ghz: float = _constant_field("CORE_GHZ")
    line_bytes: int = _constant_field("LINE_BYTES")
    l1_bytes: int = _constant_field("L1_BYTES")
    l2_bytes: int = _constant_field("L2_BYTES")
    llc_bytes_per_ccx: int = _constant_field("LLC_BYTES_PER_CCX")
    cores_per_ccx: int = _constant_field("CORES_PER_CCX")
    ccx_per_socket: int = _constant_field("CCX_PER_SOCKET")
    sockets: int = _constant_field("SOCKETS")
    l1_dtlb_entries: int = _constant_field("L1_DTLB_ENTRIES")
    l2_dtlb_entries: int = _constant_field("L2_DTLB_ENTRIES")
    l1_latency_cycles: float = _constant_field("L1_LATENCY_CYCLES")
    l2_latency_cycles: float = _constant_field("L2_LATENCY_CYCLES")
    llc_latency_cycles: float = _constant_field("LLC_LATENCY_CYCLES")
    local_dram_ns: float = _constant_field("LOCAL_DRAM_NS")
    remote_dram_ns: float = _constant_field("REMOTE_DRAM_NS")
    cross_ccx_ns: float = _constant_field("CROSS_CCX_NS")
    cross_socket_cache_ns: float = _constant_field("CROSS_SOCKET_CACHE_NS")
    l1_line_cycles: float = _constant_field("L1_LINE_CYCLES")
    l2_line_cycles: float = _constant_field("L2_LINE_CYCLES")
    llc_line_cycles: float = _constant_field("LLC_LINE_CYCLES")
    mlp_demand: float = _constant_field("MLP_DEMAND")
    mlp_prefetch: float = _constant_field("MLP_PREFETCH")
    tlb_l2_hit_cycles: float = _constant_field("TLB_L2_HIT_CYCLES")
    page_walk_cycles: float = _constant_field("PAGE_WALK_CYCLES")
    measurement_overhead_cycles: float = _constant_field("MEASUREMENT_OVERHEAD_CYCLES")
    dma_allocates_in_llc: bool = _constant_field("DMA_ALLOCATES_IN_LLC")
    dma_llc_fraction: float = _constant_field("DMA_LLC_FRACTION")
    #: Hardware prefetchers on (the seed's main runs); off uses ``mlp_demand``.
    prefetch: bool = True

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in ("bool", bool):
                if not isinstance(v, bool):
                    raise CacheModelError(f"{f.name}={v!r}: expected True or False")
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise CacheModelError(f"{f.name}={v!r}: expected a finite number")
            if f.name in ("dma_llc_fraction",):
                if not 0 < v <= 1:
                    raise CacheModelError(f"{f.name}={v!r}: expected 0 < fraction <= 1")
            elif v <= 0:
                raise CacheModelError(f"{f.name}={v!r}: expected a positive value")
        if not (self.l1_bytes < self.l2_bytes < self.llc_bytes_per_ccx):
            raise CacheModelError("cache sizes must grow: l1_bytes < l2_bytes < llc_bytes_per_ccx")
        for name in ("l1_bytes", "l2_bytes", "llc_bytes_per_ccx"):
            if getattr(self, name) % self.line_bytes:
                raise CacheModelError(f"{name} must be a multiple of line_bytes")

    def replace(self, **changes):
        """A copy with some fields changed (unknown names are refused)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise CacheModelError(f"unknown cache field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    # ---- derived quantities ---------------------------------------------------------
    def lines(self, nbytes):
        return nbytes // self.line_bytes

    @property
    def mlp(self):
        """Lines a core keeps in flight on a miss stream."""
        return self.mlp_prefetch if self.prefetch else self.mlp_demand

    def miss_line_cycles(self, latency_ns):
        """Streaming cost per line of misses with ``latency_ns`` (Little's law)."""
        return latency_ns * self.core_ghz / self.mlp


DEFAULT_HIERARCHY = CacheHierarchy()
