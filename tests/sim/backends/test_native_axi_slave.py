"""The native AXI slave (sim/backends/native/axi_slave.hpp) against the Python reference.

A random AXI4 master drives both models with the same traffic, cycle by cycle:
reads and writes to every node kind, unmapped pages, error regions and
addresses outside memory; W data before its AW; random RREADY/BREADY,
backpressure and node bandwidth pacing; IOMMU maps, unmaps (strict and lazy)
and idle advances between cycles. Every output of every cycle, the handshake
logs, the memory contents and the IOMMU's faults and walk counts must be
identical; with two ports on one memory system (two engines), each port's.
"""
from collections import deque

import numpy as np
import pytest

from hw.axi import BURST_INCR
from sim.memsys.axi_slave import AxiProtocolError, AxiSlaveModel
from sim.memsys.iommu import Iommu, IommuParams
from sim.memsys.memory import Memory
from sim.memsys.fabric import EnginePorts, Fabric
from sim.memsys.bus_faults import BusFaults
from sim.memsys.memory_system import (CXL_LINK, CXL_MEMORY, LOCAL_DRAM, REMOTE_DRAM,
                                        SOCKET_LINK, MemorySystem)
from sim.backends.native.build import platform_library
from sim.backends.native.axi_slave import NativeAxi, load_library

BASE = 0x4000_0000
SIZE = 8 << 20
MiB = 1 << 20


@pytest.fixture(scope="module")
def lib():
    return load_library(platform_library().library)


def _system(engine_mhz, slow):
    """Local, remote and CXL nodes behind their links; with ``slow`` every node and
    link paces a narrow bus (the socket link slower than the remote node, the CXL link
    faster for reads and slower for writes than its node)."""
    nodes = [LOCAL_DRAM, REMOTE_DRAM, CXL_MEMORY]
    links = [SOCKET_LINK, CXL_LINK]
    if slow:
        nodes = [node.replace(read_gbps=g, write_gbps=g * 0.7, read_latency_ns=l,
                              write_latency_ns=l * 0.6)
                 for node, g, l in zip(nodes, (5.0, 3.3, 1.7), (30, 25.5, 21))]
        links = [link.replace(read_gbps=r, write_gbps=w, read_latency_ns=l,
                              write_latency_ns=l * 0.8)
                 for link, r, w, l in zip(links, (2.9, 2.3), (2.1, 0.9), (20, 40))]
    ranges = [(BASE + 2 * MiB, BASE + 4 * MiB, 1), (BASE + 6 * MiB, BASE + 7 * MiB, 2)]
    return MemorySystem(nodes, ranges, links=links, engine_mhz=engine_mhz,
                        write_buffer_bytes=256)


def _ports(lib, *, data_width, seed, ports, memory_system=None, backpressure=0.0, iommu=True,
           mode="lazy", flat=(3, 2), engine_ports=None, faults=None, iommu_params=None):
    """``ports`` Python models on one memory (one Fabric and IOMMU) and their native
    mirrors on another, with equal configuration and content: (pythons, natives)."""
    rng = np.random.default_rng(seed)
    content = rng.integers(0, 256, SIZE, dtype=np.uint8)
    regions = [(BASE + 0x3000, BASE + 0x3040, "read", "SLVERR"),
               (BASE + 0x5000, BASE + 0x5100, "write", "DECERR"),
               (BASE + 0x7010, BASE + 0x7020, "rw", "SLVERR")]
    sides = []
    for _ in range(2):
        memory = Memory(BASE, SIZE)
        memory.data[:] = content
        kwargs = {} if memory_system is not None else {"read_latency": flat[0],
                                                       "write_latency": flat[1]}
        fabric = None if memory_system is None else Fabric(memory_system, data_width // 8,
                                                           ports=ports,
                                                           engine_ports=engine_ports)
        shared = Iommu(iommu, IommuParams(mode=mode, **(iommu_params or {})))
        sides.append([AxiSlaveModel(memory, data_width=data_width, id_width=2,
                                    backpressure=backpressure, seed=seed + k,
                                    error_regions=regions, memory_system=fabric, port=k,
                                    iommu=shared, faults=faults and faults[k], **kwargs)
                      for k in range(ports)])
    pythons, mirrored = sides
    natives = []
    for model in mirrored:
        natives.append(NativeAxi(lib, model, **({"share_with": natives[0]} if natives else {})))
    return pythons, natives


def _pair(lib, **kwargs):
    """A Python model and a native one with equal configuration and memory."""
    (python,), (native,) = _ports(lib, ports=1, **kwargs)
    return python, native


class RandomMaster:
    """An AXI4-compliant random master: holds every offer until its handshake, keeps W
    beats in AW order (sometimes ahead of their AW), never crosses 4 KiB."""

    def __init__(self, rng, beat, size_code):
        self.rng, self.beat, self.size_code = rng, beat, size_code
        self.ar = self.aw = None
        self.w = deque()            # W beats of bursts whose AW was created
        self.w_offer = None

    def _address(self):
        rng, beat = self.rng, self.beat
        kind = rng.integers(0, 10)
        if kind == 0:
            page = BASE + 0x3000 + int(rng.integers(0, 5)) * 0x1000     # error regions
        elif kind == 1:
            page = BASE + SIZE - 0x1000 + int(rng.integers(0, 2)) * 0x1000   # last, beyond
        elif kind == 2:
            page = BASE - 0x1000                                        # outside memory
        else:
            page = BASE + int(rng.integers(0, SIZE // 0x1000)) * 0x1000
        offset = int(rng.integers(0, 4096 // beat)) * beat
        room = (4096 - offset) // beat
        length = int(rng.integers(1, min(room, 16) + 1))
        return page + offset, length

    def offers(self, rng_ready):
        rng = self.rng
        if self.ar is None and rng.random() < 0.3:
            addr, beats = self._address()
            self.ar = (int(rng.integers(0, 4)), addr, beats - 1, self.size_code, BURST_INCR)
        if self.aw is None and rng.random() < 0.25:
            addr, beats = self._address()
            self.aw = (int(rng.integers(0, 4)), addr, beats - 1, self.size_code, BURST_INCR)
            for i in range(beats):
                data = int.from_bytes(rng.bytes(self.beat), "little")
                strb = (1 << self.beat) - 1 if rng.random() < 0.7 else \
                    int(rng.integers(0, 1 << min(self.beat, 62)))
                self.w.append((data, strb, int(i == beats - 1)))
        if self.w_offer is None and self.w and rng.random() < 0.8:
            self.w_offer = self.w.popleft()
        return self.ar, self.aw, self.w_offer, rng_ready.random() < 0.8, \
            rng_ready.random() < 0.8

    def handshakes(self, outputs):
        arready, awready, wready = outputs[:3]
        if self.ar is not None and arready:
            self.ar = None
        if self.aw is not None and awready:
            self.aw = None
        if self.w_offer is not None and wready:
            self.w_offer = None


def _iommu_event(rng, iommus, live):
    """Map (for the engine's reads, writes or both), unmap, revoke or restore a random
    range on both IOMMUs (same calls)."""
    if live and rng.random() < 0.1:
        mapping = live[int(rng.integers(0, len(live)))]
        restore = rng.random() < 0.5
        for iommu in iommus:                # another agent's unmap, for a while
            iommu.revoke(*mapping)
            if restore:
                iommu.restore(*mapping)
        return
    if live and rng.random() < 0.4:
        ranges = [live.pop(int(rng.integers(0, len(live))))]
        for iommu in iommus:
            iommu.unmap_ranges(ranges)
        return
    if rng.random() < 0.2:
        region = BASE + int(rng.integers(0, SIZE // (2 * MiB))) * 2 * MiB
        entry = (region, 2 * MiB)           # a large (2 MiB) translation
    elif len(iommus[0].params.page_sizes_kib) > 2 and rng.random() < 0.2:
        # With mTHP page sizes: an aligned 16 or 64 KiB mapping.
        size = int(rng.choice([16, 64])) << 10
        entry = (BASE + int(rng.integers(0, SIZE // size)) * size, size)
    else:
        entry = (BASE + int(rng.integers(0, SIZE // 0x1000)) * 0x1000,
                 int(rng.integers(1, 9)) * 0x1000)
        entry = (entry[0], min(entry[1], BASE + SIZE - entry[0]))
    direction = str(rng.choice(["bidirectional", "bidirectional", "to_device", "from_device"]))
    for iommu in iommus:
        iommu.map(*entry, direction)
    live.append((*entry, direction))


def _drive(python, native, *, seed, cycles, beat, size_code, book=0.0):
    """Random traffic on each port (lists of ports: one random master per pair), the
    ports stepped in order every cycle, as the back-ends step their engines; with
    ``book``, in that fraction of cycles the CPU reads or writes a random page through
    the first port's fabric (:meth:`AxiSlaveModel.book`), served by the same cycle."""
    if not isinstance(python, list):
        python, native = [python], [native]
    rng = np.random.default_rng(seed + 100)
    masters = [RandomMaster(rng, beat, size_code) for _ in python]
    ready_rng = np.random.default_rng(seed + 200)
    iommus = (python[0].iommu, native[0].iommu)
    live = []
    for _ in range(40):                      # most pages mapped at the start
        _iommu_event(rng, iommus, live)
    outputs = [model.outputs for model in python]
    assert [model.outputs for model in native] == outputs
    for _ in range(cycles):
        if rng.random() < 0.02:
            _iommu_event(rng, iommus, live)
        if book and rng.random() < book:
            write, addr = bool(rng.integers(0, 2)), BASE + (int(rng.integers(0, SIZE >> 12)) << 12)
            nbytes = int(rng.integers(1, 4097))
            assert native[0].book(write, addr, nbytes) == python[0].book(write, addr, nbytes)
        if rng.random() < 0.01:
            calls = int(rng.integers(1, 300))
            assert iommus[0].account_unmap_calls(calls) == iommus[1].account_unmap_calls(calls)
        if not any(model.busy() for model in python) and all(
                m.ar is None and m.aw is None and not m.w and m.w_offer is None
                for m in masters) and rng.random() < 0.5:
            skip = int(rng.integers(1, 5000))
            for model in (*python, *native):
                model.advance(skip)
        for k, master in enumerate(masters):
            ar, aw, w, rready, bready = master.offers(ready_rng)
            ready = (rready and outputs[k][3], bready and outputs[k][8])
            expected = python[k].step(ar, aw, w, *ready)
            got = native[k].step(ar, aw, w, *ready)
            assert got == expected, f"port {k}: outputs differ at cycle {python[k].cycle}"
            master.handshakes(outputs[k])
            outputs[k] = expected
            assert native[k].busy() == python[k].busy() and native[k].cycle == python[k].cycle


def _assert_same_state(python, native):
    for k, (one, mirror) in enumerate(zip(python, native) if isinstance(python, list)
                                      else [(python, native)]):
        for log in ("ar_log", "aw_log", "w_log", "r_log", "b_log"):
            assert getattr(mirror, log) == getattr(one, log), f"port {k}: {log}"
    if isinstance(python, list):
        python, native = python[0], native[0]
    assert np.array_equal(native.memory.data, python.memory.data)
    assert native.iommu.faults == python.iommu.faults
    assert (native.iommu.walks, native.iommu.walk_reads) == \
        (python.iommu.walks, python.iommu.walk_reads)


#: An IOMMU unlike the default: every mTHP page size, tiny caches, a fixed walk read.
SMALL_IOMMU = {"page_sizes_kib": (4, 16, 64, 2048), "iotlb_entries": 3, "pde_entries": 2,
               "walk_read_ns": 37.0}


@pytest.mark.parametrize("data_width, engine_mhz, slow, backpressure, mode, seed, iommu", [
    (64, 1000.0, True, 0.0, "lazy", 1, None),
    (64, 700.0, True, 0.3, "strict", 2, None),
    (128, 1000.0, False, 0.0, "strict", 3, None),
    (256, 1333.3, True, 0.2, "lazy", 4, None),
    (512, 900.0, True, 0.0, "lazy", 5, None),
    (128, 1000.0, True, 0.1, "strict", 6, SMALL_IOMMU),
], ids=["w64", "w64-700MHz-bp", "w128-fast-nodes", "w256-1333MHz-bp", "w512",
        "w128-mthp-pages-small-caches"])
def test_cycle_identical_on_a_memory_system(lib, data_width, engine_mhz, slow, backpressure,
                                            mode, seed, iommu):
    python, native = _pair(lib, data_width=data_width, seed=seed,
                           memory_system=_system(engine_mhz, slow), backpressure=backpressure,
                           mode=mode, iommu_params=iommu)
    _drive(python, native, seed=seed, cycles=6000, beat=data_width // 8,
           size_code=(data_width // 8).bit_length() - 1)
    _assert_same_state(python, native)
    assert python.iommu.faults and python.iommu.walks and python.r_log and python.b_log


@pytest.mark.parametrize("data_width, engine_mhz, slow, backpressure, ports, engine_ports", [
    (64, 1000.0, True, 0.0, 2, None),
    (256, 850.0, True, 0.2, 2, None),
    (256, 1000.0, False, 0.0, 2, None),
    (64, 1000.0, True, 0.1, 3, EnginePorts(2, read_gbps=4.1, write_gbps=3.7)),
], ids=["w64", "w256-850MHz-bp", "w256-default-nodes", "w64-3-ports-sharing-io-ports"])
def test_ports_on_one_memory_system_are_cycle_identical(lib, data_width, engine_mhz, slow,
                                                        backpressure, ports, engine_ports):
    """Engines' ports book one fabric's bandwidth (nodes, links, I/O ports shared by
    engine pairs) and share the IOMMU: both models agree on every output of every
    port; the ports competed for a paced resource."""
    pythons, natives = _ports(lib, data_width=data_width, seed=11, ports=ports,
                              memory_system=_system(engine_mhz, slow),
                              backpressure=backpressure, engine_ports=engine_ports)
    _drive(pythons, natives, seed=11, cycles=6000, beat=data_width // 8,
           size_code=(data_width // 8).bit_length() - 1)
    _assert_same_state(pythons, natives)
    fabric = pythons[0].fabric
    assert all(model.fabric is fabric for model in pythons)
    assert all(native.iommu is natives[0].iommu for native in natives)
    assert all(model.r_log and model.b_log for model in pythons)
    assert any(fabric.r_free)
    if not slow:        # DRAM moves more than the two ports' 64 bytes per cycle: never paced
        assert fabric.r_free[:2] == fabric.w_free[:2] == [0, 0]
    if engine_ports:    # engines 0 and 1 share I/O port 0, engine 2 has port 1 alone
        assert len(fabric.r_free) == 5 + 2 and fabric.r_free[5] and fabric.r_free[6]


@pytest.mark.parametrize("slow, ports", [(True, 1), (True, 2), (False, 2)],
                         ids=["one", "two-ports", "two-ports-default-nodes"])
def test_the_cpus_traffic_books_the_fabric_alike(lib, slow, ports):
    """The CPU's reads and writes booked on the engines' fabric between their bursts:
    both models serve them by the same cycle and agree on every output after (the
    engines' bursts queue behind them alike)."""
    pythons, natives = _ports(lib, data_width=64, seed=31, ports=ports,
                              memory_system=_system(1000.0, slow))
    _drive(pythons, natives, seed=31, cycles=4000, beat=8, size_code=3, book=0.05)
    _assert_same_state(pythons, natives)
    fabric = pythons[0].fabric
    assert all(fabric.r_free) and all(fabric.w_free)     # every node and link was booked


@pytest.mark.parametrize("slow, ports", [(True, 1), (False, 2)], ids=["one", "two-ports"])
def test_bus_faults_are_cycle_identical(lib, slow, ports):
    """Errors and late responses on random bursts of each port: both models inject the
    same ones at the same cycles and agree on every output."""
    rng = np.random.default_rng(21)
    faults = [BusFaults.random(rng, bursts=400, errors=0.05, delays=0.05, delay_cycles=300)
              for _ in range(ports)]
    pythons, natives = _ports(lib, data_width=64, seed=21, ports=ports,
                              memory_system=_system(1000.0, slow), faults=faults)
    _drive(pythons, natives, seed=21, cycles=6000, beat=8, size_code=3)
    _assert_same_state(pythons, natives)
    for python, native in zip(pythons, natives):
        assert native.injected == python.injected
        kinds = {(direction, kind) for _, direction, _, kind in python.injected}
        assert kinds == {("read", "error"), ("read", "delay"), ("write", "error"),
                         ("write", "delay")}


@pytest.mark.parametrize("backpressure, iommu", [(0.0, False), (0.4, True)],
                         ids=["flat", "flat-bp-iommu-untimed"])
def test_cycle_identical_on_flat_memory(lib, backpressure, iommu):
    python, native = _pair(lib, data_width=64, seed=9, backpressure=backpressure, iommu=iommu)
    _drive(python, native, seed=9, cycles=5000, beat=8, size_code=3)
    _assert_same_state(python, native)
    assert python.iommu.walks == 0 and bool(python.iommu.faults) == iommu


@pytest.mark.parametrize("offers", [
    # A burst across 4 KiB, a narrow beat, a changed AR held under stall, WLAST too early.
    [((0, BASE + 0xFF8, 1, 3, BURST_INCR), None, None)],
    [((0, BASE, 0, 2, BURST_INCR), None, None)],
    [(None, (0, BASE, 1, 3, BURST_INCR), None), (None, None, (1, 0xFF, 1))],
], ids=["4k-crossing", "narrow", "early-wlast"])
def test_protocol_errors_are_raised_by_both(lib, offers):
    python, native = _pair(lib, data_width=64, seed=0, iommu=False)
    raised = []
    for model in (python, native):
        try:
            for ar, aw, w in offers:
                model.step(ar, aw, w, 1, 1)
        except AxiProtocolError as error:
            raised.append(str(error).split(":")[0])
    assert raised == ["AXI protocol error at cycle 1"] * 2 or \
        raised == ["AXI protocol error at cycle 2"] * 2


def test_advance_refuses_while_busy(lib):
    python, native = _pair(lib, data_width=64, seed=0, iommu=False)
    for model in (python, native):
        model.step((0, BASE, 3, 3, BURST_INCR), None, None, 1, 1)
        with pytest.raises(RuntimeError, match="in flight"):
            model.advance(10)
