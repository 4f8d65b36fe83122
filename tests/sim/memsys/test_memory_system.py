"""The NUMA memory system behind the engine: per-node latency and shared bandwidth.

Unit tests drive the AXI slave model directly; the scenario ``node_phases`` runs the
real engine, copies batches whose sources or destinations lie on chosen nodes, checks
every byte (sim.experiments.engine_scenarios.copy_batch) and measures each node's
latency and bandwidth from the AXI handshake logs.
"""
import hashlib

import numpy as np
import pytest

from hw.descriptor import RECORD_BYTES, Status
from hw.engine import DmaEngine
from hw.params import EngineParams
from sim.memsys.axi_slave import AxiSlaveModel
from sim.backends.base import build_memory
from sim.backends import get_runner
from sim.experiments.engine_io import EngineIO
from sim.experiments.engine_scenarios import GUARD, GUARD_BYTE, memory_config
from sim.memsys.address_map import DATA, MEM_BASE, RECORDS, RING_BYTES
from sim.memsys.memory import Memory
from sim.memsys.memory_system import (CXL_MEMORY, LOCAL_DRAM, REMOTE_DRAM, SOURCES, MemorySystem,
                                        Node, zen3_two_socket)
from tests.sim.memsys.test_axi_slave import BASE, BEAT, ScriptedMaster, random_bytes

KiB, MiB = 1 << 10, 1 << 20
PARAMS = EngineParams(channels=4)           # 256-bit: 32-byte beats
BEAT_BYTES = PARAMS.beat_bytes


# --------------------------------------------------------------------------
# The model alone (64-bit bus, 8-byte beats, scripted master)
# --------------------------------------------------------------------------

def _model(nodes, ranges, **kwargs):
    memory = Memory(BASE, 0x10_0000)
    system = MemorySystem(nodes, ranges, **kwargs)
    return memory, AxiSlaveModel(memory, data_width=64, memory_system=system)


FAST = Node("fast", 0, read_latency_ns=7, write_latency_ns=6, read_gbps=None, write_gbps=None)
SLOW = Node("slow", 1, read_latency_ns=20, write_latency_ns=30, read_gbps=2, write_gbps=4)
SLOW_PAGE = (BASE + 0x8000, BASE + 0x9000, 1)


def test_latency_comes_from_the_node_of_the_address():
    memory, model = _model([FAST, SLOW], [SLOW_PAGE])
    data = random_bytes(8 * BEAT, 3)
    memory.write(BASE, data)
    master = ScriptedMaster(model)
    master.read(BASE, 4)                          # fast node: 7 cycles (1 GHz)
    master.run(30)
    assert [beat[0] for beat in master.r] == [8, 9, 10, 11]
    # The slow node at 2 GB/s = 2 bytes per cycle: one 8-byte beat every 4 cycles,
    # each ready (20 cycles later) in the cycle its last byte was served.
    master = ScriptedMaster(model)
    start = model.cycle + 1
    master.read(SLOW_PAGE[0], 4, at=start)
    master.run(40)
    assert [beat[0] - start for beat in master.r] == [20 + 3, 20 + 7, 20 + 11, 20 + 15]
    assert [index for _, index in model.r_log] == [0] * 4 + [1] * 4


def test_a_fast_node_is_cycle_identical_to_the_flat_model():
    def traffic(model):
        master = ScriptedMaster(model)
        for i in range(6):
            master.read(BASE + i * 0x200, 16, at=1 + i)
            master.write(BASE + 0x4000 + i * 0x200, random_bytes(16 * BEAT, i), at=2 + i)
        master.run(300)
        return master.r, master.b, model.ar_log, model.aw_log, model.w_log
    flat = AxiSlaveModel(Memory(BASE, 0x10_0000), data_width=64, read_latency=7,
                         write_latency=6)
    # 64 GB/s at 1 GHz is 8 beats per cycle: never the limit of one AXI port.
    node = FAST.replace(read_gbps=64, write_gbps=64)
    _, paced = _model([node], [])
    assert traffic(paced) == traffic(flat)


def test_write_bandwidth_paces_wready_and_b():
    # 4 GB/s = half a beat per cycle, a write buffer of 4 beats.
    memory, model = _model([FAST, SLOW], [SLOW_PAGE], write_buffer_bytes=32)
    master = ScriptedMaster(model)
    data = random_bytes(16 * BEAT, 5)
    master.write(SLOW_PAGE[0], data)
    master.run(80)
    cycles = [cycle for cycle, _ in model.w_log]
    # Back to back until the buffer is full (4 beats, plus the 3 drained meanwhile),
    # then one beat every 2 cycles, as fast as it drains.
    assert cycles == [1, 2, 3, 4, 5, 6, 7] + list(range(9, 26, 2))
    # B once the last byte drained (16 beats x 2 cycles from cycle 1) + 30 cycles.
    assert master.b == [(32 + 30, 0, 0)]
    assert model.b_log == [(62, 0)]
    assert memory.read(SLOW_PAGE[0], len(data)) == data


def test_two_nodes_serve_reads_in_parallel():
    other = SLOW.replace(name="slow 2", node_id=2)
    _, model = _model([FAST, SLOW, other], [SLOW_PAGE, (BASE + 0x9000, BASE + 0xA000, 2)])
    master = ScriptedMaster(model)
    for i in range(4):      # alternate nodes: 4 bursts of 32 beats (256 bytes)
        master.read(SLOW_PAGE[0] + 0x1000 * (i % 2) + 0x100 * (i // 2), 32)
    master.run(400)
    # One node alone would need 4 x 256 / 2 = 512 cycles; two in parallel about half.
    last = master.r[-1][0]
    assert len(master.r) == 128 and 256 <= last - 20 < 300


def test_configuration_round_trip_and_checks():
    system = zen3_two_socket(remote=[(0x1000_0000, 0x2000_0000)],
                             cxl=[(0x2000_0000, 0x3000_0000)], engine_mhz=1500)
    again = MemorySystem.from_config(system.to_config())
    assert again.to_config() == system.to_config()
    assert [n.name for n in again.nodes] == ["local DRAM", "remote DRAM", "CXL memory"]
    assert again.node_of(0x1000_0000) == REMOTE_DRAM and again.node_of(0x2FFF_FFFF) == CXL_MEMORY
    assert again.node_of(0x0) == LOCAL_DRAM and again.node_of(0x3000_0000) == LOCAL_DRAM
    assert [t.read_latency for t in again.timings] == [150, 300, 450]      # at 1.5 GHz
    assert len(SOURCES) == 6
    with pytest.raises(ValueError, match="multiples of 4096"):
        MemorySystem([LOCAL_DRAM], [(0x800, 0x2000, 0)])
    with pytest.raises(ValueError, match="overlap"):
        MemorySystem([LOCAL_DRAM], [(0, 0x2000, 0), (0x1000, 0x3000, 0)])
    with pytest.raises(ValueError, match="node 5 is not one of"):
        MemorySystem([LOCAL_DRAM], [(0, 0x1000, 5)])
    with pytest.raises(ValueError, match="read_gbps"):
        Node("x", 0, 1, 1, 0, None)
    base = {"base": BASE, "size": 0x1000, "memory_system": system.to_config()}
    with pytest.raises(ValueError, match="given with a memory_system"):
        build_memory({**base, "read_latency": 5}, data_width=64, id_width=1)
    with pytest.raises(ValueError, match="unknown keys"):
        build_memory({**base, "memory_system": {"nodes": [], "speed": 1}}, data_width=64,
                     id_width=1)
    _, (axi,) = build_memory(base, data_width=64, id_width=1)
    assert axi.memory_system.to_config() == system.to_config() and not axi.iommu.enabled


# --------------------------------------------------------------------------
# The engine on the memory system
# --------------------------------------------------------------------------

# Test nodes at 1 GHz: 8 GB/s = 8 bytes per cycle, a quarter of the 32-byte bus.
HOME = Node("home", 0, read_latency_ns=20, write_latency_ns=20, read_gbps=None, write_gbps=None)
NODE_A = Node("A", 1, read_latency_ns=50, write_latency_ns=50, read_gbps=8, write_gbps=8)
NODE_B = NODE_A.replace(name="B", node_id=2)
REGION_A = (DATA, DATA + 1 * MiB)
REGION_B = (DATA + 1 * MiB, DATA + 2 * MiB)
HOME_DATA = 2 * MiB                 # offsets from DATA from here on are on node 0
TWO_NODES = MemorySystem([HOME, NODE_A, NODE_B], [(*REGION_A, 1), (*REGION_B, 2)])


def node_figures(axi, marks):
    """Per node, from the logs since marks (lengths of the logs at the phase start):
    data bytes read and written, the cycles from first to last data beat, their
    ratio, and the latency of the first data burst (AR to first R beat; last W beat to B).
    """
    ar_from, aw_from, r_from, w_from, b_from = marks
    system = axi.memory_system
    figures = {}

    def entry(addr):
        return figures.setdefault(system.node_of(addr).name, {})

    def account(kind, cycle, addr):
        node = entry(addr)
        first, last, beats = node.get(kind, (cycle, cycle, 0))
        node[kind] = (min(first, cycle), max(last, cycle), beats + 1)
    for cycle, index in axi.r_log[r_from:]:
        _, ident, addr, _ = axi.ar_log[index]
        if ident == 0:
            account("read", cycle, addr)
            entry(addr).setdefault("read_latency", cycle - axi.ar_log[index][0])
    last_w = {}
    for cycle, index in axi.w_log[w_from:]:
        _, ident, addr, _ = axi.aw_log[index]
        if ident == 0:
            account("write", cycle, addr)
            last_w[index] = cycle
    for cycle, index in axi.b_log[b_from:]:
        _, ident, addr, _ = axi.aw_log[index]
        if ident == 0:
            entry(addr).setdefault("write_latency", cycle - last_w[index])
    for cycle, index in axi.b_log[b_from:]:
        _, ident, addr, _ = axi.aw_log[index]
        if ident == 0:
            entry(addr)["last_b"] = cycle
    for node in figures.values():
        for kind in ("read", "write"):
            if kind in node:
                first, last, beats = node.pop(kind)
                node[f"{kind}_bytes"] = beats * BEAT_BYTES
                node[f"{kind}_cycles"] = last - first + 1
                node[f"{kind}_bytes_per_cycle"] = beats * BEAT_BYTES / (last - first + 1)
                if kind == "write":
                    # Writes drain after their W beats: first W beat to last B.
                    node["write_to_last_b_cycles"] = node.pop("last_b") - first + 1
    return figures


def _marks(axi):
    return (len(axi.ar_log), len(axi.aw_log), len(axi.r_log), len(axi.w_log), len(axi.b_log))


def _digest(axi):
    text = repr((axi.ar_log, axi.aw_log, axi.w_log, axi.r_log, axi.b_log)).encode()
    return hashlib.sha256(text).hexdigest()[:16]


async def node_phases(dev, *, phases, seed=0):
    """Copy each phase's jobs [channel, src, dst, length] (offsets from DATA) after the
    previous phase finished, checking every byte, every record and the guard bytes;
    per phase: the copy's bytes per cycle (doorbell to last record) and each node's
    figures from the logs (:func:`node_figures`)."""
    io = EngineIO(dev)
    rng = np.random.default_rng(seed)
    for ch in range(PARAMS.channels):
        await io.setup_channel(ch, MEM_BASE + ch * RING_BYTES, 64)
    guard = bytes([GUARD_BYTE]) * GUARD
    results, posted = [], 0
    for jobs in phases:
        marks = _marks(dev.axi)
        expected = []
        for ch, src, dst, length in jobs:
            src, dst = DATA + src, DATA + dst
            data = dev.memory.fill_random(src, length, rng)
            dev.memory.write(dst - GUARD, guard + bytes([GUARD_BYTE]) * length + guard)
            record = RECORDS + posted * RECORD_BYTES
            posted += 1
            io.post(ch, src, dst, length, 0, record)
            expected.append((dst, length, data, record))
        doorbell = dev.cycle
        for ch in sorted({job[0] for job in jobs}):
            await io.doorbell(ch)
        await dev.wait_until(lambda: all(io.record(e[3])[0] != Status.NOT_DONE
                                         for e in expected), 1_000_000, poll_cycles=16)
        done = dev.cycle
        for n, (dst, length, data, record) in enumerate(expected):
            assert io.record(record) == (Status.SUCCESS, length), f"job {n}: {io.record(record)}"
            assert dev.memory.read(dst, length) == data, f"job {n}: destination differs"
            assert dev.memory.read(dst - GUARD, GUARD) == guard
            assert dev.memory.read(dst + length, GUARD) == guard
        nbytes = sum(job[3] for job in jobs)
        results.append({"nodes": node_figures(dev.axi, marks),
                        "copy_bytes_per_cycle": nbytes / (done - doorbell),
                        "doorbell": doorbell, "done": done})
    return {"phases": results, "digest": _digest(dev.axi), "cycle": dev.cycle}


def _jobs(channels, per_channel, size, src_at, dst_at):
    """Jobs [channel, src, dst, size]: src_at(channel, i) and dst_at(channel, i) give
    the offsets from DATA of the i-th job of a channel (one page between destinations)."""
    return [[ch, src_at(ch, i), dst_at(ch, i), size]
            for i in range(per_channel) for ch in range(channels)]


def _run(backend, phases, system, extent=4 * MiB):
    runner = get_runner(backend)
    config = memory_config(extent, memory_system=system.to_config())
    return runner(DmaEngine(PARAMS), node_phases, {"phases": phases},
                  memory_config=config, params=PARAMS.as_dict())


SIZE = 4 * KiB                  # one 128-beat burst per job
PER_CHANNEL = 8


def _dst_home(ch, i):
    return HOME_DATA + (ch * PER_CHANNEL + i) * (SIZE + 4 * KiB)


def _src_home(ch, i):
    return HOME_DATA + MiB + (ch * PER_CHANNEL + i) * SIZE


def _src_on(split):
    """Source offsets: on node A, or when split every other job of each channel on
    node B. (The engine fetches up to prefetch_depth descriptors of a channel at a
    time and keeps 4 bursts in its 512-beat buffer: alternating nodes within each
    channel keeps both nodes busy.)"""
    def at(ch, i):
        base = REGION_B[0] - DATA if split and i % 2 else 0
        return base + (ch * PER_CHANNEL + i) * SIZE
    return at


def _dst_on(split):
    def at(ch, i):
        base = REGION_B[0] - DATA if split and i % 2 else 0
        return base + (ch * PER_CHANNEL + i) * (SIZE + 4 * KiB)
    return at


READ_ONE = _jobs(4, PER_CHANNEL, SIZE, _src_on(False), _dst_home)
READ_TWO = _jobs(4, PER_CHANNEL, SIZE, _src_on(True), _dst_home)
WRITE_ONE = _jobs(4, PER_CHANNEL, SIZE, _src_home, _dst_on(False))
WRITE_TWO = _jobs(4, PER_CHANNEL, SIZE, _src_home, _dst_on(True))


HOME_ONLY = _jobs(4, PER_CHANNEL, SIZE, _src_home, _dst_home)


def _write_rate(node, latency):
    """Bytes per cycle a node's writes drained at: first W beat to its last byte
    drained (the last B, less the write latency)."""
    return node["write_bytes"] / (node["write_to_last_b_cycles"] - latency)


def test_channels_saturate_a_node_and_a_second_node_adds_bandwidth():
    # On the compiled back-end: the others give the same cycles (the test below).
    result = _run("verilator", [HOME_ONLY, READ_ONE, READ_TWO, WRITE_ONE, WRITE_TWO],
                  TWO_NODES)
    home, read_one, read_two, write_one, write_two = result["phases"]
    total = 4 * PER_CHANNEL * SIZE
    # Without a node limit the 4 channels run at the bus peak (32 bytes per cycle).
    assert home["copy_bytes_per_cycle"] > 28
    # The same 4 channels reading from node A get its 8 bytes/cycle: a quarter.
    a = read_one["nodes"]["A"]
    assert a["read_bytes"] == total
    assert a["read_bytes_per_cycle"] == pytest.approx(8, rel=0.005)
    assert 7.5 < read_one["copy_bytes_per_cycle"] <= 8
    # First data: 50 cycles of latency + 3 cycles to serve a 32-byte beat at 8 B/cycle.
    assert a["read_latency"] == 50 + 3
    # Every other folio on node B: both nodes serve in parallel, neither above its
    # limit; the copy gets 1.6x or more (the engine's 4-burst buffer and in-order R
    # channel keep it under 2x).
    for name in ("A", "B"):
        node = read_two["nodes"][name]
        assert node["read_bytes"] == total // 2 and node["read_bytes_per_cycle"] <= 8.01
    assert read_two["copy_bytes_per_cycle"] > 1.6 * read_one["copy_bytes_per_cycle"]
    # The same for writes: WREADY paced by the node's write buffer draining at 8 B/cycle.
    a = write_one["nodes"]["A"]
    assert _write_rate(a, 50) == pytest.approx(8, rel=0.005)
    assert 7.5 < write_one["copy_bytes_per_cycle"] <= 8
    for name in ("A", "B"):
        assert _write_rate(write_two["nodes"][name], 50) <= 8.01
    assert write_two["copy_bytes_per_cycle"] > 1.6 * write_one["copy_bytes_per_cycle"]
    # The home node (the reads of the write phases) is not paced: 20 cycles.
    assert write_one["nodes"]["home"]["read_latency"] == 20


def test_numa_and_cxl_defaults_seen_by_the_engine():
    """The seed's machine: local, remote and CXL nodes at the defaults (1 GHz engine,
    one channel, 16 folios of 4 KiB per phase)."""
    system = zen3_two_socket(remote=[REGION_A], cxl=[REGION_B])
    cxl = REGION_B[0] - DATA
    folios = range(16)
    phases = {"local": [[0, _src_home(0, i), _dst_home(0, i), SIZE] for i in folios],
              "remote read": [[0, i * SIZE, _dst_home(0, i), SIZE] for i in folios],
              "CXL read": [[0, cxl + i * SIZE, _dst_home(0, i), SIZE] for i in folios],
              "CXL write": [[0, _src_home(0, i), cxl + i * (SIZE + 4 * KiB), SIZE]
                            for i in folios]}
    result = dict(zip(phases, _run("pysim", list(phases.values()), system)["phases"]))
    local = result["local"]["nodes"]["local DRAM"]
    assert local["read_latency"] == 100 and local["write_latency"] == 100
    # 160 GB/s is above the 32-byte bus at 1 GHz: the engine reads at its peak (less
    # the descriptor beats on the same R channel).
    assert local["read_bytes_per_cycle"] == pytest.approx(32, rel=0.01)
    remote = result["remote read"]["nodes"]["remote DRAM"]
    assert remote["read_latency"] == 200
    assert remote["read_bytes_per_cycle"] == pytest.approx(32, rel=0.01)
    cxl_read = result["CXL read"]["nodes"]["CXL memory"]
    # 300 ns, plus the one cycle a 32-byte beat takes at 24 bytes per cycle.
    assert cxl_read["read_latency"] == 300 + 1
    assert cxl_read["read_bytes_per_cycle"] == pytest.approx(24, rel=0.005)
    cxl_write = result["CXL write"]["nodes"]["CXL memory"]
    assert _write_rate(cxl_write, 300) == pytest.approx(20, rel=0.005)
    assert cxl_write["write_bytes_per_cycle"] < 28       # WREADY paced once 16 KiB buffered
    assert cxl_write["write_latency"] >= 300
    # Each tier slower than local: copy time from doorbell to the last record.
    took = {name: phase["done"] - phase["doorbell"] for name, phase in result.items()}
    assert took["local"] < took["remote read"] < took["CXL read"]
    assert took["CXL read"] > 1.2 * took["local"] and took["CXL write"] > 1.4 * took["local"]


def test_every_backend_is_cycle_identical_on_a_memory_system():
    # Half the jobs of the phases above (4 a channel): both nodes and the write pacing
    # still at work, in half the cycles of the RTL simulators.
    phases = [_jobs(4, 4, SIZE, _src_on(True), _dst_home),
              _jobs(4, 4, SIZE, _src_home, _dst_on(False))]
    pysim = _run("pysim", phases, TWO_NODES)
    assert _run("icarus", phases, TWO_NODES) == pysim
    assert _run("verilator", phases, TWO_NODES) == pysim
    assert pysim["phases"][0]["copy_bytes_per_cycle"] > 12     # two nodes at 8 B/cycle
