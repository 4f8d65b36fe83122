"""Several engines on one memory system: registers, interrupts and AXI ports per engine,
the same cycles on pysim and verilator, idle engines left unevaluated by verilator."""
import pytest

from hw.descriptor import FLAG_INTERRUPT, Status
from hw.engine import DmaEngine
from hw.params import EngineParams
from sim.backends import get_runner
from sim.backends.base import ALL_IRQ_LINES, ENGINE_WINDOW_BYTES
from sim.experiments.engine_io import EngineIO

SCENARIOS = "tests.sim.backends.test_engines"
PARAMS = EngineParams(data_width=64, max_burst=16, buffer_depth=64)
BASE = 0x1_0000_0000
SIZE = 1 << 20


def _layout(k):
    """(ring, record, src, dst) of engine k."""
    return (BASE + k * 0x1000, BASE + 0x8000 + k * 64, BASE + 0x1_0000 + k * 0x1_0000,
            BASE + 0x8_0000 + k * 0x1_0000)


async def copies_at_once(dev, *, nbytes, busy, irq_engine=None):
    """Engines in ``busy`` each copy nbytes at once (one descriptor on channel 0); the
    others stay idle. Returns per engine its last B cycle and bursts, and the irq lines."""
    ios = [EngineIO(dev, k) for k in range(dev.engines)]
    for k in busy:
        ring, record, src, dst = _layout(k)
        dev.memory.write(src, bytes((k * 7 + i) % 251 for i in range(nbytes)))
        await ios[k].setup_channel(0, ring, 4)
        if k == irq_engine:
            await ios[k].write("int_enable", 1)
            await ios[k].write("irq_coal", count=1)
        ios[k].post(0, src, dst, nbytes, FLAG_INTERRUPT if k == irq_engine else 0, record)
    for k in busy:
        await ios[k].doorbell(0)
    for k in busy:
        await ios[k].wait_idle(0)
    out = {"irq_lines": dev.irq_lines, "ports": []}
    for k, axi in enumerate(dev.axis):
        ring, record, src, dst = _layout(k)
        if k in busy:
            assert ios[k].record(record) == (Status.SUCCESS, nbytes)
            assert dev.memory.read(dst, nbytes) == dev.memory.read(src, nbytes)
        reads = [addr for _, _, addr, _ in axi.ar_log]
        assert all(src <= a < src + nbytes or ring <= a < ring + 0x1000 for a in reads), \
            f"engine {k} read outside its own ring and source"
        out["ports"].append({"bursts": len(axi.ar_log) + len(axi.aw_log),
                             "last_b": axi.b_log[-1][0] if axi.b_log else None})
    out["engine_edges"] = getattr(dev, "engine_edges", None)
    out["cycle"] = dev.cycle
    return out


async def register_windows(dev):
    """Each engine's ID register in its own window; an address past the last is refused."""
    ident = EngineIO(dev).regmap.register("id").address
    idents = [await dev.mmio_read(k * ENGINE_WINDOW_BYTES + ident) for k in range(dev.engines)]
    try:
        await dev.mmio_read(dev.engines * ENGINE_WINDOW_BYTES + ident)
    except ValueError as error:
        return {"idents": idents, "refused": str(error)}
    return {"idents": idents, "refused": None}


async def periods_until_an_irq_that_counts(dev):
    """Engine 0's interrupt is raised and left high; engine 1 then copies 16 KiB with an
    interrupt. run_periods stops at once on line 0, but with line 0 masked out (a lost
    interrupt the host ignores) only when engine 1's line rises."""
    ios = [EngineIO(dev, k) for k in range(2)]
    for k in range(2):
        ring, record, src, dst = _layout(k)
        await ios[k].setup_channel(0, ring, 4)
        await ios[k].write("int_enable", 1)
        await ios[k].write("irq_coal", count=1)
        ios[k].post(0, src, dst, 0x4000 if k else 64, FLAG_INTERRUPT, record)
    await ios[0].doorbell(0)
    await ios[0].wait_idle(0)
    await dev.wait_cycles(4)
    assert dev.irq_lines == 0b01
    at_once = await dev.run_periods([16] * 8)
    await ios[1].doorbell(0)
    started = dev.cycle
    masked = await dev.run_periods([16] * 10_000, irq_mask=ALL_IRQ_LINES & ~0b01)
    return {"at_once": at_once, "masked": masked, "waited": dev.cycle - started,
            "irq_lines": dev.irq_lines}


def run(backend, scenario, engines, kwargs=None):
    duts = [DmaEngine(PARAMS) for _ in range(engines)]
    return get_runner(backend)(duts, f"{SCENARIOS}:{scenario}", kwargs or {},
                               memory_config={"base": BASE, "size": SIZE, "read_latency": 20,
                                              "write_latency": 20})


@pytest.fixture(params=["pysim", "verilator"])
def backend(request):
    return request.param


def test_each_engine_has_its_own_register_window(backend):
    result = run(backend, "register_windows", 3)
    assert len(set(result["idents"])) == 1 and result["idents"][0] != 0
    assert "below 0x3000 (3 engine(s)" in result["refused"]


def test_two_engines_copy_at_once_with_the_same_cycles_on_both_backends():
    kwargs = {"nbytes": 8192, "busy": [0, 1], "irq_engine": 1}
    pysim, verilator = (run(backend, "copies_at_once", 2, kwargs)
                        for backend in ("pysim", "verilator"))
    assert pysim["irq_lines"] == 0b10          # engine 1's line only
    assert all(port["bursts"] > 0 for port in pysim["ports"])
    del pysim["engine_edges"], verilator["engine_edges"]
    assert pysim == verilator


def test_verilator_leaves_idle_engines_unevaluated():
    kwargs = {"nbytes": 8192, "busy": [2]}
    result = run("verilator", "copies_at_once", 4, kwargs)
    assert [port["bursts"] > 0 for port in result["ports"]] == [False, False, True, False]
    # Engine 2 runs while it works; the idle ones only while their registers are read:
    # far fewer engine evaluations than 4 per cycle.
    assert 0.9 * result["cycle"] < result["engine_edges"] < 2 * result["cycle"]
    assert result == {**run("pysim", "copies_at_once", 4, kwargs), "engine_edges":
                      result["engine_edges"]}


def _refused(*params):
    """DUTs a run is expected to refuse (never elaborated: no UnusedElaboratable)."""
    duts = [DmaEngine(p) for p in params]
    for dut in duts:
        dut._MustUse__silence = True
    return duts


def test_icarus_runs_one_engine():
    from sim.backends.icarus import run_icarus
    with pytest.raises(ValueError, match="icarus back-end runs one engine, not 2"):
        run_icarus(_refused(PARAMS, PARAMS), register_windows, {},
                   memory_config={"base": BASE, "size": SIZE})


def test_engines_of_one_run_share_one_configuration():
    run_pysim = get_runner("pysim")
    with pytest.raises(ValueError, match="share one configuration"):
        run_pysim(_refused(PARAMS, EngineParams()), register_windows, {},
                  memory_config={"base": BASE, "size": SIZE})
    with pytest.raises(ValueError, match="its own DUT object"):
        engine, = _refused(PARAMS)
        run_pysim([engine, engine], register_windows, {},
                  memory_config={"base": BASE, "size": SIZE})


# --------------------------------------------------------------------------
# Engines sharing the memory system's bandwidth: a node, and a link
# --------------------------------------------------------------------------

KiB = 1 << 10
#: Node A (default, at BASE), nodes B and C behind one link L. 64-bit engines at 1 GHz
#: move 8 bytes per cycle each; A (10 GB/s) and L (6 GB/s) limit two of them, B and C
#: (20 GB/s) do not.
SHARED = {"nodes": [
    {"name": "A", "node_id": 0, "read_latency_ns": 20, "write_latency_ns": 20,
     "read_gbps": 10, "write_gbps": 10},
    {"name": "B", "node_id": 1, "read_latency_ns": 20, "write_latency_ns": 20,
     "read_gbps": 20, "write_gbps": 20, "link": "L"},
    {"name": "C", "node_id": 2, "read_latency_ns": 20, "write_latency_ns": 20,
     "read_gbps": 20, "write_gbps": 20, "link": "L"}],
    "links": [{"name": "L", "read_latency_ns": 10, "write_latency_ns": 10, "read_gbps": 6,
               "write_gbps": 6}],
    "ranges": [[BASE + 0x4_0000, BASE + 0x8_0000, 1], [BASE + 0x8_0000, BASE + 0xC_0000, 2]]}
ON = {"A": BASE + 0x1_0000, "B": BASE + 0x4_0000, "C": BASE + 0x8_0000}
COPY = 32 * KiB


async def copies_on_nodes(dev, *, nodes):
    """Engine k copies COPY bytes within node ``nodes[k]`` (None: stays idle), all
    doorbells rung together; per engine the copy's rate in bytes per cycle, from its
    first data read to its last write response."""
    ios = [EngineIO(dev, k) for k in range(dev.engines)]
    busy = [k for k, node in enumerate(nodes) if node is not None]
    jobs = {}
    for k in busy:
        src = ON[nodes[k]] + k * 2 * COPY
        ring, record = BASE + k * 0x1000, BASE + 0x8000 + k * 64
        jobs[k] = (src, src + COPY, ring, record)
        dev.memory.write(src, bytes((k * 5 + i) % 253 for i in range(COPY)))
        await ios[k].setup_channel(0, ring, 4)
        ios[k].post(0, src, src + COPY, COPY, 0, record)
    for k in busy:
        await ios[k].doorbell(0)
    for k in busy:
        await ios[k].wait_idle(0)
    rates = []
    for k, axi in enumerate(dev.axis):
        if k not in busy:
            rates.append(None)
            continue
        src, dst, ring, record = jobs[k]
        assert ios[k].record(record) == (Status.SUCCESS, COPY)
        assert dev.memory.read(dst, COPY) == dev.memory.read(src, COPY)
        first = min(cycle for cycle, _, addr, _ in axi.ar_log if src <= addr < dst)
        rates.append(COPY / (axi.b_log[-1][0] - first))
    return rates


def _rates(*nodes, engine_ports=None):
    duts = [DmaEngine(PARAMS) for _ in nodes]
    config = {"base": BASE, "size": SIZE, "memory_system": SHARED}
    if engine_ports:
        config["engine_ports"] = engine_ports
    return get_runner("verilator")(duts, copies_on_nodes, {"nodes": list(nodes)},
                                   memory_config=config)


def test_two_engines_on_one_node_share_its_bandwidth():
    alone, _ = _rates("A", None)
    both = _rates("A", "A")
    assert alone > 7                               # near the bus's 8 bytes per cycle
    assert sum(both) == pytest.approx(10, rel=0.05)     # node A's 10 GB/s, shared
    assert max(both) < 0.65 * alone


def test_engines_on_different_nodes_do_not_slow_each_other_below_the_links_limit():
    on_a, _ = _rates("A", None)
    on_b, _ = _rates("B", None)
    assert on_b == pytest.approx(6, rel=0.1) and on_b <= 6  # B behind the 6 GB/s link
    # At once, each engine copies as fast as it did alone.
    assert _rates("A", "B") == pytest.approx([on_a, on_b], rel=0.01)
    # Two nodes behind one link: together they reach its limit, not less.
    behind = _rates("B", "C")
    assert sum(behind) == pytest.approx(6, rel=0.05)
    assert min(behind) > 2.5


def test_engines_behind_one_io_port_share_it_and_others_do_not():
    # Engines 0 and 1 share I/O port 0 (5 GB/s each way), engine 2 has port 1; node B
    # and C's link (6 GB/s) is not reached by one port's 5.
    ports = {"engines_per_port": 2, "read_gbps": 5, "write_gbps": 5}
    alone = _rates("B", None, None, engine_ports=ports)[0]
    assert alone == pytest.approx(5, rel=0.1) and alone <= 5
    pair = _rates("B", "A", None, engine_ports=ports)
    assert sum(pair[:2]) == pytest.approx(5, rel=0.05)      # one port, different nodes
    apart = _rates("B", None, "A", engine_ports=ports)[0::2]
    assert apart == pytest.approx([alone, _rates(None, None, "A", engine_ports=ports)[2]],
                                  rel=0.01)


def test_run_periods_stops_only_on_the_lines_of_its_mask():
    results = [run(backend, "periods_until_an_irq_that_counts", 2)
               for backend in ("pysim", "verilator")]
    assert results[0] == results[1]
    result = results[0]
    assert result["at_once"] == 1
    # 16 KiB at 8 bytes a beat: over 2048 cycles before engine 1's line rises.
    assert 2048 // 16 < result["masked"] < 10_000 and result["irq_lines"] == 0b11
    assert result["waited"] == 16 * result["masked"]
