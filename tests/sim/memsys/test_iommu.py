"""The IOMMU in front of the engine: only what the driver mapped is reachable.

Unit tests drive the IOMMU and the AXI slave model directly; the scenario
``iommu_copies`` runs the real engine behind a HostPort
(which turns the IOMMU on) and checks the completion status of copies whose
source or destination is not mapped, and that nothing outside the mapped
pages changed.
"""
import numpy as np
import pytest

from hw.axi import RESP_DECERR, RESP_OKAY
from hw.descriptor import DESC_BYTES, Status
from hw.engine import DmaEngine
from hw.params import EngineParams
from sim.memsys.axi_slave import AxiSlaveModel
from sim.backends.base import build_memory
from sim.experiments.engine_io import EngineIO
from sim.experiments.engine_scenarios import memory_config
from sim.memsys.address_map import COHERENT, DATA
from sim.host.port import HostPort
from sim.memsys.iommu import FLUSH_QUEUE_ENTRIES, PAGE_BYTES, Iommu, IommuError, IommuParams
from sim.memsys.memory import Memory
from tests.sim.memsys.test_axi_slave import BASE, BEAT, ScriptedMaster, random_bytes

PARAMS = EngineParams(channels=4)
PAGE = PAGE_BYTES


# --------------------------------------------------------------------------
# The IOMMU and the model alone
# --------------------------------------------------------------------------

def test_pages_are_counted_and_unmap_must_match_a_map():
    iommu = Iommu(True)
    assert iommu.map(0x10_0000 + 0x800, 0x1000) == 0x10_0800      # identity IOVA
    assert iommu.mapped_pages == 2                                  # it spans two pages
    iommu.map(0x10_1000, 64)                                        # shares the second
    assert iommu.allows(0x10_0000) and iommu.allows(0x10_1FC0, 64)
    assert not iommu.allows(0x10_2000) and not iommu.allows(0xF_F000)
    iommu.unmap(0x10_0800, 0x1000)
    assert not iommu.allows(0x10_0000) and iommu.allows(0x10_1000)
    with pytest.raises(IommuError, match="no such mapping"):
        iommu.unmap(0x10_0800, 0x1000)
    with pytest.raises(IommuError, match="no such mapping"):
        iommu.unmap(0x10_1000, 128)                 # not the size that was mapped
    iommu.unmap(0x10_1000, 64)
    assert iommu.mapped_pages == 0 and iommu.mappings() == {}
    with pytest.raises(IommuError):
        iommu.map(0x1000, 0)
    iommu.enabled = False
    assert iommu.allows(0x10_0000)                  # off: everything reachable
    with pytest.raises(ValueError, match="iommu="):
        Iommu("yes")


def test_the_model_refuses_unmapped_pages_with_decerr():
    memory = Memory(BASE, 0x10_0000)
    iommu = Iommu(True)
    model = AxiSlaveModel(memory, data_width=64, read_latency=3, write_latency=2,
                          iommu=iommu)
    secret = random_bytes(4 * BEAT, 1)
    memory.write(BASE + PAGE, secret)
    iommu.map(BASE, PAGE)
    master = ScriptedMaster(model)
    master.read(BASE + PAGE, 4, id=1)                          # not mapped
    master.write(BASE + 2 * PAGE, random_bytes(2 * BEAT, 2))   # not mapped
    master.write(BASE, random_bytes(2 * BEAT, 3), at=3)        # mapped
    master.run(30)
    # Zero data and DECERR on every beat, with the flat model's timing.
    assert [(r[0], r[2], r[3]) for r in master.r] == [(4 + i, 0, RESP_DECERR) for i in range(4)]
    assert master.b == [(2 + 2, 0, RESP_DECERR), (4 + 2, 0, RESP_OKAY)]
    assert memory.read(BASE + 2 * PAGE, 2 * BEAT) == bytes(2 * BEAT)
    assert memory.read(BASE, 2 * BEAT) == random_bytes(2 * BEAT, 3)
    assert iommu.faults == [(1, "read", BASE + PAGE, 1), (1, "write", BASE + 2 * PAGE, 0)]


# --------------------------------------------------------------------------
# Translation timing and invalidation modes
# --------------------------------------------------------------------------

MiB2 = 2 << 20


def _timed(mode="lazy", read=10, **params):
    iommu = Iommu(True, IommuParams(mode=mode, **params))
    iommu.walk_read_cycles = read
    return iommu


def test_a_miss_walks_the_levels_not_cached_and_a_hit_is_free():
    iommu = _timed()
    base = 0x4000_0000                                   # 1 GiB aligned
    for page in range(4):
        iommu.map(base + page * PAGE, PAGE)
    # Cold: device table entry, then levels 3, 2 and the leaf.
    assert iommu.translate(base, 100) == 100 + 4 * 10
    assert iommu.translate(base + 64, 120) == 140         # the walk in progress: wait for it
    assert iommu.translate(base + 64, 200) == 200         # cached
    assert iommu.translate(base + PAGE, 200) == 210       # same 2 MiB: the leaf only
    iommu.map(base + MiB2, PAGE)
    assert iommu.translate(base + MiB2, 300) == 320       # same 1 GiB: level 2 + leaf
    assert (iommu.walks, iommu.walk_reads) == (3, 4 + 1 + 2)


def test_a_whole_aligned_2mib_mapping_is_one_large_translation():
    iommu = _timed()
    iommu.map(0x4000_0000, PAGE)
    iommu.translate(0x4000_0000, 0)                       # warms DTE and level 3
    iommu.map(0x4020_0000, MiB2)
    assert iommu.translate(0x4020_0000, 100) == 110       # the level-2 entry is the leaf
    assert iommu.translate(0x4020_0000 + MiB2 - 64, 200) == 200   # same translation
    iommu.map(0x4060_0000 + PAGE, MiB2)                   # not aligned: 4 KiB translations
    assert iommu.translate(0x4060_0000 + PAGE, 300) == 320
    assert iommu.translate(0x4060_0000 + 2 * PAGE, 400) == 410


def test_a_mapping_is_laid_out_in_the_largest_pages_the_platform_allows():
    iommu = _timed(page_sizes_kib=(4, 16, 64, 2048))
    base = 0x4000_0000
    KiB = 1 << 10
    # 64 KiB aligned, 84 KiB long: one 64 KiB page, one 16 KiB page, one 4 KiB page.
    assert iommu.large_pages(base, 84 * KiB) == [(16, base >> 16), (14, base + 64 * KiB >> 14)]
    # Only 16 KiB aligned: 16 KiB pages up to the 64 KiB boundary, then a 64 KiB page.
    assert iommu.large_pages(base + 16 * KiB, 112 * KiB) == [
        (14, base + 16 * KiB >> 14), (14, base + 32 * KiB >> 14), (14, base + 48 * KiB >> 14),
        (16, base + 64 * KiB >> 16)]
    assert _timed().large_pages(base, 64 * KiB) == []         # the built-in: 4 KiB and 2 MiB
    assert iommu.large_pages(base, MiB2) == [(21, base >> 21)]


def test_a_64kib_page_is_one_translation_walked_to_level_1():
    iommu = _timed(page_sizes_kib=(4, 64, 2048))
    base = 0x4000_0000
    iommu.map(base, 64 << 10)
    assert iommu.translate(base, 100) == 140              # DTE, levels 3, 2, the leaf
    assert iommu.translate(base + (64 << 10) - 64, 200) == 200   # the same IOTLB entry
    iommu.map(base + (64 << 10), PAGE)                    # a 4 KiB page after it
    assert iommu.translate(base + (64 << 10), 300) == 310
    assert (iommu.walks, iommu.walk_reads) == (2, 5)
    # Unmapped, its pages are 4 KiB translations again (strict: invalidated at once).
    strict = _timed("strict", page_sizes_kib=(4, 64, 2048))
    strict.map(base, 64 << 10)
    strict.translate(base, 0)
    strict.unmap(base, 64 << 10)
    strict.map(base, 32 << 10)
    assert strict.translate(base + PAGE, 100) == 130      # levels 3, 2 and a 4 KiB leaf


def test_the_iotlb_reach_is_its_entries_times_the_page_size():
    """Touching more pages than the IOTLB holds, round after round, misses every time
    with 4 KiB pages; the same bytes in 64 KiB pages stay within its reach."""
    def walks(page_sizes):
        iommu = _timed(iotlb_entries=8, page_sizes_kib=page_sizes)
        base = 0x4000_0000
        iommu.map(base, 16 * PAGE)
        for _ in range(3):
            for page in range(16):
                iommu.translate(base + page * PAGE, 10_000)
        return iommu.walks
    assert walks((4, 2048)) == 3 * 16
    assert walks((4, 64, 2048)) == 1
    with pytest.raises(ValueError, match="page_sizes_kib"):
        IommuParams(page_sizes_kib=(16, 2048))            # 4 KiB must be among them
    with pytest.raises(ValueError, match="iotlb_entries"):
        IommuParams(iotlb_entries=0)


def test_strict_invalidates_every_unmap_and_its_directory_entries():
    iommu = _timed("strict")
    base = 0x4000_0000
    iommu.map(base, PAGE)
    iommu.map(base + PAGE, PAGE)
    iommu.translate(base, 0)
    iommu.translate(base + PAGE, 100)
    assert iommu.unmap(base, PAGE) == 1 and iommu.invalidations == 1
    # The page's entry and the directory entries covering it are gone: a walk from
    # level 3 again (the device table entry stays cached).
    assert iommu.translate(base + PAGE, 200) == 200       # its own leaf stays cached
    iommu.map(base + 2 * PAGE, PAGE)
    assert iommu.translate(base + 2 * PAGE, 300) == 330
    assert iommu.unmap_ranges([(base + PAGE, PAGE), (base + 2 * PAGE, PAGE)]) == 1


def test_lazy_queues_unmaps_and_invalidates_the_domain_every_256():
    iommu = _timed("lazy")
    base = 0x4000_0000
    iommu.map(base, PAGE)
    iommu.translate(base, 0)
    flushes = []
    for n in range(FLUSH_QUEUE_ENTRIES):
        addr = base + (n + 1) * PAGE
        iommu.map(addr, PAGE)
        flushes.append(iommu.unmap(addr, PAGE))
        if n == 0:
            assert iommu.translate(base, 100) == 100      # still cached after an unmap
    assert flushes == [0] * (FLUSH_QUEUE_ENTRIES - 1) + [1] and iommu.invalidations == 1
    assert iommu.translate(base, 1000) == 1030            # domain flushed: levels 3, 2, leaf
    with pytest.raises(ValueError, match="iommu.mode="):
        Iommu(True, IommuParams(mode="deferred"))


def test_an_unmap_call_is_checked_whole_and_nothing_is_invalidated_when_off():
    iommu = _timed("strict")
    iommu.map(0x4000_0000, PAGE)
    with pytest.raises(IommuError, match="2 unmaps asked"):
        iommu.unmap_ranges([(0x4000_0000, PAGE), (0x4000_0000, PAGE)])
    assert iommu.is_mapped(0x4000_0000, PAGE)         # the refused call changed nothing
    iommu.enabled = False                             # no IOMMU in the path: no IOTLB
    assert iommu.unmap(0x4000_0000, PAGE) == 0 and iommu.invalidations == 0


def test_translation_is_free_when_off_or_untimed():
    iommu = _timed()
    iommu.map(0x4000_0000, PAGE)
    iommu.enabled = False
    assert iommu.translate(0x4000_0000, 5) == 5
    assert Iommu(True).translate(0x4000_0000, 5) == 5     # no walk timing set
    assert iommu.walks == 0


def test_the_model_waits_for_the_walk_behind_a_memory_system():
    from sim.memsys.memory_system import MemorySystem, Node
    node = Node("dram", 0, read_latency_ns=7, write_latency_ns=6, read_gbps=None,
                write_gbps=None)

    def first_beats(enabled):
        memory = Memory(BASE, 0x10_0000)
        iommu = Iommu(enabled)
        model = AxiSlaveModel(memory, data_width=64, memory_system=MemorySystem([node]),
                              iommu=iommu)
        iommu.map(BASE, 2 * PAGE)
        master = ScriptedMaster(model)
        master.read(BASE, 2)
        master.write(BASE + PAGE, random_bytes(2 * BEAT, 4), at=40)   # after that walk
        master.run(80)
        return master.r[0][0], master.b[0][0], model

    r_off, b_off, _ = first_beats(False)
    r_on, b_on, model = first_beats(True)
    read = model.iommu.walk_read_cycles
    assert read == 7                      # one page-table read at the node's latency
    fixed = AxiSlaveModel(Memory(BASE, 0x10_0000), data_width=64,
                          memory_system=MemorySystem([node]),
                          iommu=Iommu(True, IommuParams(walk_read_ns=20.5)))
    assert fixed.iommu.walk_read_cycles == 21     # the platform's walk read, rounded up
    assert r_on - r_off == 4 * read       # cold: device table entry + three levels
    # The write's walk (the next page: its leaf only) runs while its data comes in;
    # B waits for whichever ends last.
    aw_cycle, last_w = model.aw_log[0][0], model.w_log[-1][0]
    assert b_on - b_off == max(last_w, aw_cycle + read) - last_w > 0


def test_memory_config_switches_it():
    for setting, enabled in ((None, False), (True, True), (False, False)):
        config = {"base": BASE, "size": PAGE} | ({} if setting is None else {"iommu": setting})
        _, (axi,) = build_memory(config, data_width=64, id_width=1)
        assert axi.iommu.configured is setting and axi.iommu.enabled is enabled


# --------------------------------------------------------------------------
# The engine behind a HostPort
# --------------------------------------------------------------------------

SIZE = 2 * PAGE
GUARD = b"\xa5"


async def iommu_copies(dev):
    """Four copies on four channels, set up through the host port (IOMMU on):
    mapped -> SUCCESS; unmapped source -> READ_DECERR; unmapped destination ->
    WRITE_DECERR; mapped, copied, unmapped and posted again -> READ_DECERR. Nothing
    outside the mapped pages may change (the whole memory image is compared)."""
    port = HostPort(dev, coherent=COHERENT)
    iommu = port.iommu
    io = EngineIO(dev)
    rng = np.random.default_rng(7)
    src = [DATA + n * 4 * SIZE for n in range(4)]
    dst = [s + 2 * SIZE for s in src]
    sources = [dev.memory.fill_random(s, SIZE, rng) for s in src]
    for d in dst:
        dev.memory.write(d, GUARD * SIZE)
    records = port.alloc_coherent(4 * 64, align=64)
    for ch in range(4):
        await io.setup_channel(ch, port.alloc_coherent(16 * DESC_BYTES, align=DESC_BYTES), 16)
    mapped = {0: (True, True), 1: (False, True), 2: (True, False), 3: (True, True)}
    for ch, (map_src, map_dst) in mapped.items():
        if map_src:
            await port.iommu_map([(src[ch], SIZE, "bidirectional")])
        if map_dst:
            await port.iommu_map([(dst[ch], SIZE, "bidirectional")])

    async def copy(ch):
        record = records + 64 * ch
        io.post(ch, src[ch], dst[ch], SIZE, 0, record)
        await io.doorbell(ch)
        await dev.wait_until(lambda: io.record(record)[0] != Status.NOT_DONE, 100_000)
        return io.record(record)

    def image_outside_mapped():
        data = dev.memory.data.copy()
        for page in range(dev.memory.base // PAGE, (dev.memory.base + dev.memory.size) // PAGE):
            if iommu.is_mapped(page * PAGE, PAGE):
                data[page * PAGE - dev.memory.base:(page + 1) * PAGE - dev.memory.base] = 0
        return data

    before = image_outside_mapped()
    outcome = {}
    for ch in range(4):
        status, nbytes = await copy(ch)
        outcome[ch] = [status.name, nbytes]
    assert dev.memory.read(dst[0], SIZE) == sources[0]
    assert dev.memory.read(dst[3], SIZE) == sources[3]
    # Source unmapped: the engine read zeros with DECERR; the (mapped) destination may
    # hold them, nothing else changed.
    assert np.array_equal(image_outside_mapped(), before), "a write outside mapped pages"
    assert dev.memory.read(dst[2], SIZE) == GUARD * SIZE
    # Unmap channel 3's buffers: the same copy fails again and writes nothing.
    await port.iommu_unmap([(src[3], SIZE), (dst[3], SIZE)])
    dev.memory.write(dst[3], GUARD * SIZE)
    await io.reset_channel(3)
    status, nbytes = await copy(3)
    outcome["3 after unmap"] = [status.name, nbytes]
    assert dev.memory.read(dst[3], SIZE) == GUARD * SIZE
    faults = sorted({(kind, addr) for _, kind, addr, _ in iommu.faults})
    return {"outcome": outcome, "enabled": iommu.enabled,
            "faults": [[kind, addr - DATA] for kind, addr in faults],
            "mapped_pages": iommu.mapped_pages, "cycle": dev.cycle,
            "ar": len(dev.axi.ar_log), "aw": len(dev.axi.aw_log)}


def test_unmapped_source_or_destination_fails_through_the_engine_on_every_backend():
    from sim.backends import BACKENDS, get_runner
    config = memory_config(1 << 20, read_latency=20, write_latency=20)
    pysim, icarus, verilator = (
        get_runner(backend)(DmaEngine(PARAMS), iommu_copies, {},
                            memory_config=config, params=PARAMS.as_dict())
        for backend in BACKENDS)
    assert pysim == icarus == verilator
    assert pysim["enabled"]
    assert pysim["outcome"] == {"0": ["SUCCESS", SIZE], "1": ["READ_DECERR", 0],
                                "2": ["WRITE_DECERR", 0], "3": ["SUCCESS", SIZE],
                                "3 after unmap": ["READ_DECERR", 0]}
    # One IO page fault per 4 KiB burst tried: channel 1's source, channel 2's
    # destination, and channel 3's source and destination after the unmap.
    src, dst = (lambda ch: ch * 4 * SIZE), (lambda ch: ch * 4 * SIZE + 2 * SIZE)
    pages = lambda base: [base, base + PAGE]        # noqa: E731
    assert pysim["faults"] == sorted(
        [["read", a] for a in pages(src(1)) + pages(src(3))]
        + [["write", a] for a in pages(dst(2)) + pages(dst(3))])
    # Still mapped: the rings (a page each) and records (1 page), channel 0 (4), 1's dst
    # and 2's src (2 + 2).
    assert pysim["mapped_pages"] == 4 + 1 + 4 + 2 + 2


async def malicious_descriptors(dev):
    """Descriptors written into the ring by hand, past the driver, each on its own after
    a channel reset: from or to another process's page (never mapped), into the ring
    (mapped for the engine's reads only), from a buffer mapped only for the engine's
    writes, into one mapped only for its reads; then a legitimate copy. Returns each
    one's record status; checks that the engine wrote nothing but the legitimate
    destination and the records (the memory against its shadow)."""
    from sim.memsys.ledger import stray_writes
    port = HostPort(dev, coherent=COHERENT)
    io = EngineIO(dev)
    rng = np.random.default_rng(3)
    src, dst, victim = DATA, DATA + 2 * SIZE, DATA + 4 * SIZE
    dev.memory.fill_random(src, SIZE, rng)
    secret = dev.memory.fill_random(victim, SIZE, rng)
    ring = port.alloc_coherent(16 * DESC_BYTES, align=DESC_BYTES, direction="to_device")
    records = port.alloc_coherent(16 * 64, align=64)
    await io.setup_channel(0, ring, 16)
    readable = DATA + 6 * SIZE
    await port.iommu_map([(src, SIZE, "to_device"), (readable, SIZE, "to_device"),
                          (dst, SIZE, "from_device")])
    dev.memory.track()
    attempts = {"read another process's page": (victim, dst),
                "write another process's page": (src, victim),
                "write the ring": (src, ring),
                "read a buffer mapped for writes": (dst, readable),
                "write a buffer mapped for reads": (src, readable),
                "a legitimate copy": (src, dst)}
    outcome = {}
    for n, (what, (source, target)) in enumerate(attempts.items()):
        await io.reset_channel(0)
        record = records + 64 * n
        io.post(0, source, target, min(SIZE, DESC_BYTES * 16) if target == ring else SIZE, 0,
                record)
        await io.doorbell(0)
        await dev.wait_until(lambda: io.record(record)[0] != Status.NOT_DONE, 100_000)
        outcome[what] = io.record(record)[0].name
    stray, runs = stray_writes(dev.memory, [(dst, dst + SIZE), (records, records + 16 * 64)])
    assert stray == 0, f"the engine wrote outside what it was allowed: {runs}"
    assert dev.memory.read(victim, SIZE) == secret
    return {"outcome": outcome, "faults": len(port.iommu.faults), "cycle": dev.cycle}


def test_a_malicious_descriptor_reaches_nothing_the_driver_did_not_map_for_it():
    from sim.backends import BACKENDS, get_runner
    config = memory_config(1 << 20, read_latency=20, write_latency=20)
    results = [get_runner(backend)(DmaEngine(PARAMS), malicious_descriptors,
                                   {}, memory_config=config, params=PARAMS.as_dict())
               for backend in BACKENDS]
    assert results[1:] == results[:1] * 2
    assert results[0]["outcome"] == {
        "read another process's page": "READ_DECERR",
        "write another process's page": "WRITE_DECERR",
        "write the ring": "WRITE_DECERR",
        "read a buffer mapped for writes": "READ_DECERR",
        "write a buffer mapped for reads": "WRITE_DECERR",
        "a legitimate copy": "SUCCESS"}
    assert results[0]["faults"] >= 5


def test_a_mapping_gives_the_engine_the_rights_of_its_direction():
    iommu = Iommu(True)
    iommu.map(0x1000, PAGE, "to_device")
    iommu.map(0x2000, PAGE, "from_device")
    iommu.map(0x3000, PAGE)
    assert [iommu.allows(a) for a in (0x1000, 0x2000, 0x3000)] == [True, False, True]
    assert [iommu.allows(a, write=True) for a in (0x1000, 0x2000, 0x3000)] == \
        [False, True, True]
    iommu.map(0x1000, PAGE, "from_device")          # a second mapping adds the right
    assert iommu.allows(0x1000, write=True)
    with pytest.raises(IommuError, match="no such mapping"):
        iommu.unmap(0x2000, PAGE)                   # mapped from_device, not both ways
    iommu.unmap(0x1000, PAGE, "from_device")
    assert iommu.allows(0x1000) and not iommu.allows(0x1000, write=True)
    with pytest.raises(IommuError, match="DMA direction 'sideways'"):
        iommu.map(0x4000, PAGE, "sideways")
    # A revoked mapping (another agent's unmap racing the engine) until restored.
    iommu.revoke(0x3000, PAGE, "bidirectional")
    assert not iommu.allows(0x3000) and not iommu.allows(0x3000, write=True)
    iommu.restore(0x3000, PAGE, "bidirectional")
    assert iommu.allows(0x3000) and iommu.allows(0x3000, write=True)


def test_a_revocation_ends_with_the_mapping_it_hit():
    iommu = Iommu(True)
    iommu.map(0x1000, 2 * PAGE, "to_device")
    iommu.map(0x2000, PAGE, "to_device")           # shares the page at 0x2000
    iommu.revoke(0x1000, 2 * PAGE, "to_device")
    assert not iommu.allows(0x1000) and not iommu.allows(0x2000)
    iommu.unmap(0x1000, 2 * PAGE, "to_device")      # the driver's own unmap, before restore
    assert iommu.allows(0x2000) and not iommu.allows(0x1000)
    iommu.map(0x1000, PAGE, "to_device")            # a fresh mapping of the frame
    assert iommu.allows(0x1000)
    iommu.restore(0x1000, 2 * PAGE, "to_device")    # the fault's end: nothing left to undo
    assert iommu.allows(0x1000) and iommu.allows(0x2000)
    # Revoked twice, restored once: still unreachable; the second restore brings it back.
    iommu.revoke(0x2000, PAGE, "to_device")
    iommu.revoke(0x2000, PAGE, "to_device")
    iommu.restore(0x2000, PAGE, "to_device")
    assert not iommu.allows(0x2000)
    iommu.restore(0x2000, PAGE, "to_device")
    assert iommu.allows(0x2000)


def test_iommu_page_size_and_iotlb_reach_change_dma_time_as_walks_and_pte_writes_do():
    """zen3-ptdma, one PTDMA channel, 64 KiB folios. Walks at DRAM latency hide under
    the engine's pipelined reads: fewer of them (64 KiB IOMMU pages) leave the engine's
    time as it was, and the copy is faster only by the IO page-table entries the CPU
    no longer writes and clears (one per 64 KiB, not per 4 KiB, in source and
    destination). With a 1 us page-table read the walks do not hide: 64 KiB pages,
    16x fewer walks, the engine copies faster; an IOTLB of one entry, which the source
    and destination streams evict from each other, slower."""
    from sim.kernel.request import MigrateRequest, run_request
    from sim.machine import load_machine
    zen3 = load_machine("zen3-ptdma").with_values({"dma.nr_dma_chan": 1})

    def run(**values):
        machine = zen3.with_values({f"iommu.{k}": v for k, v in values.items()})
        return run_request(MigrateRequest(mode="dma", workload_bytes=4 << 20,
                                          folio_bytes=64 << 10, repeat=1,
                                          backend="verilator", machine=machine))

    mthp = [4, 64, 2048]
    pages_4k, pages_64k = run(), run(page_sizes_kib=mthp)
    assert pages_4k["iommu_walks"] > 15 * pages_64k["iommu_walks"]
    engine_4k, engine_64k = (row["copy_breakdown_cycles_per_page"] for row in (pages_4k,
                                                                               pages_64k))
    assert engine_64k["wait"] == pytest.approx(engine_4k["wait"], rel=1e-9)
    costs = zen3.costs
    saved_ns = 2 * (costs.iommu_map_page_ns + costs.iommu_unmap_page_ns) * (1 - 1 / 16)
    assert engine_4k["driver"] - engine_64k["driver"] == pytest.approx(saved_ns * zen3.cpu_ghz)

    def engine_wait(**values):
        row = run(walk_read_ns=1000.0, **values)
        return row["copy_breakdown_cycles_per_page"]["wait"], row["iommu_walks"]
    slow_4k, walks_4k = engine_wait()
    slow_64k, _ = engine_wait(page_sizes_kib=mthp)
    slow_1_entry, walks_1_entry = engine_wait(iotlb_entries=1)
    assert slow_64k < slow_4k / 1.03
    assert slow_1_entry > slow_4k / 0.9 and walks_1_entry > walks_4k
