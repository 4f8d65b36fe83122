"""The DmaEngine on every backend: directed, randomized, errors, abort, interrupts, fence.

Every test runs once per backend through the ``sim`` fixture (pysim, Icarus
and the compiled Verilator back-end) with the same EngineParams and memory config; the scenarios in
tests/hw/engine_cases.py check everything themselves. The two runs of a test
store their results in a directory shared by the xdist workers, and whichever
finishes later asserts that they are identical (cycle numbers and a digest
of the AXI handshake logs), so the backends must agree cycle for cycle.
"""
import hashlib
import json
import os

import pytest

from hw.engine import DmaEngine
from hw.params import EngineParams
from sim.backends.base import ScenarioError
from sim.backends.icarus import run_icarus
from sim.backends.pysim import run_pysim
from sim.backends.verilator import run_verilator
from tests.hw import engine_cases as cases
from tests.hw.reference import ERRORS

#: A few parameter sets, reused so that Icarus builds stay cached.
PARAMS = {
    # 64-bit, four channels, shallow everything.
    "w64x4": EngineParams(data_width=64, channels=4, max_burst=16, outstanding_reads=4,
                          outstanding_writes=4, buffer_depth=64, prefetch_depth=2),
    # 256-bit, bursts of 4 beats: many bursts per descriptor.
    "w256b4": EngineParams(data_width=256, channels=2, max_burst=4, buffer_depth=32),
    # 512-bit, bursts up to a whole 4 KiB page.
    "w512": EngineParams(data_width=512, channels=2),
    # 128-bit, three channels, the least of every resource (one read, one write
    # in flight, a 16-beat buffer, one descriptor prefetched).
    "w128min": EngineParams(data_width=128, channels=3, max_burst=16, outstanding_reads=1,
                            outstanding_writes=1, buffer_depth=16, prefetch_depth=1),
}
#: Memory timings.
FAST = {}
SLOW = {"read_latency": 4, "write_latency": 3, "backpressure": 0.3, "seed": 11}
LATENT = {"read_latency": 7, "write_latency": 5}



# --------------------------------------------------------------------------
# Backend fixture and cross-backend comparison
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def shared_results(tmp_path_factory):
    """A directory shared by all xdist workers of this session."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    path = base / "engine-backend-results"
    path.mkdir(exist_ok=True)
    return path


class Sim:
    """Runs scenarios of tests.hw.engine_cases on one backend; compares with the others."""

    RUNNERS = {"pysim": run_pysim, "icarus": run_icarus, "verilator": run_verilator}

    def __init__(self, name, request, shared):
        self.name = name
        params = sorted((k, repr(v)) for k, v in request.node.callspec.params.items()
                        if k != "sim")
        self.key = hashlib.sha256(
            repr((request.node.module.__name__, request.node.originalname, params)).encode()
        ).hexdigest()[:20]
        self.shared = shared
        self.runs = 0

    def run(self, params, scenario, memory, context="", **kwargs):
        """Result of scenario on this backend; identical to the other backend's."""
        runner = self.RUNNERS[self.name]
        try:
            result = runner(DmaEngine(params), f"{cases.__name__}:{scenario}", kwargs,
                            memory_config=memory, params=params.as_dict())
        except ScenarioError as error:
            raise AssertionError(f"[{self.name}{' ' + context if context else ''}] "
                                 f"{error}") from error
        self.runs += 1
        self._compare(f"{self.key}-{self.runs}", result)
        return result

    def _compare(self, key, result):
        mine = self.shared / f"{key}.{self.name}.json"
        temporary = mine.with_suffix(".tmp")
        temporary.write_text(json.dumps(result, sort_keys=True))
        os.replace(temporary, mine)
        for name in self.RUNNERS:
            other = self.shared / f"{key}.{name}.json"
            if name != self.name and other.exists():
                theirs = json.loads(other.read_text())
                assert result == theirs, \
                    (f"backends differ: {self.name} {result}\n"
                     f"            {name} {theirs}")


@pytest.fixture(params=list(Sim.RUNNERS))
def sim(request, shared_results):
    return Sim(request.param, request, shared_results)


def params_ids(names):
    return [pytest.param(name, id=name) for name in names]


# --------------------------------------------------------------------------
# Directed
# --------------------------------------------------------------------------

@pytest.mark.parametrize("pname", params_ids(["w64x4", "w256b4", "w512"]))
def test_one_descriptor(sim, pname):
    p = PARAMS[pname]
    jobs = [[0, 0, 8192, 4096]]
    result = sim.run(p, "checked_batch", cases.memory_for([jobs], LATENT), jobs=jobs)
    assert result["jobs"] == 1


@pytest.mark.parametrize("pname, timing", [
    pytest.param("w64x4", FAST, id="w64x4"),
    pytest.param("w256b4", SLOW, id="w256b4-slow"),
])
def test_lengths(sim, pname, timing):
    """One beat, 2 and 3 beats, around a burst and around 4 KiB, in one batch."""
    p = PARAMS[pname]
    jobs = cases.length_jobs(p)
    sim.run(p, "checked_batch", cases.memory_for([jobs], timing), jobs=jobs)


# 32k beats: on the compiled simulators only (Amaranth's simulator takes half a minute; it
# runs the same scenario, smaller, in the tests above and below).
@pytest.mark.parametrize("sim", ["icarus", "verilator"], indirect=True)
def test_two_mebibytes(sim):
    p = PARAMS["w512"]
    size = 2 << 20
    jobs = [[0, 64, size + 8192, size]]     # src one beat past a page: every burst split
    result = sim.run(p, "checked_batch", cases.memory_for([jobs], {"read_latency": 3,
                                                                   "write_latency": 2}),
                     jobs=jobs)
    assert result["w_beats"] == size // 64 + 1      # data beats and one record


@pytest.mark.parametrize("pname, timing", [
    pytest.param("w256b4", SLOW, id="w256b4-slow"),
    pytest.param("w512", LATENT, id="w512"),
])
def test_page_boundary_crossings(sim, pname, timing):
    """src/dst at -beat, 0, +beat from a page end: bursts cut at every boundary."""
    p = PARAMS[pname]
    jobs = cases.crossing_jobs(p)
    sim.run(p, "checked_batch", cases.memory_for([jobs], timing), jobs=jobs)


def test_many_small_bursts(sim):
    """max_burst=4 on long, unaligned-to-page descriptors: hundreds of bursts."""
    p = PARAMS["w256b4"]
    alloc = cases.Allocator()
    jobs = [[ch, alloc.take(9 * 1024, 96), alloc.take(9 * 1024, 4096 - 160), 9 * 1024]
            for ch in (0, 1, 0, 1)]
    result = sim.run(p, "checked_batch", cases.memory_for([jobs], LATENT), jobs=jobs)
    assert result["ar_bursts"] > 4 * 9 * 1024 // 128


@pytest.mark.parametrize("pname, ring_size, batch", [
    pytest.param("w256b4", 4, 3, id="w256b4-ring4"),
    pytest.param("w64x4", 3, 2, id="w64x4-ring3"),
])
def test_ring_wraparound(sim, pname, ring_size, batch):
    p = PARAMS[pname]
    jobs = cases.spread_jobs(p, per_channel=3 * ring_size + 1, length=8 * p.beat_bytes * 4)
    result = sim.run(p, "ring_feed", cases.memory_for([jobs], SLOW),
                     jobs=jobs, ring_size=ring_size, batch=batch)
    assert result["wraps"] >= 3 and result["busy_doorbells"] > 0


def test_back_to_back_batches(sim):
    """Doorbells rung again while the previous batch still runs (large ring)."""
    p = PARAMS["w512"]
    jobs = cases.spread_jobs(p, per_channel=12, length=4096)
    result = sim.run(p, "ring_feed", cases.memory_for([jobs], LATENT),
                     jobs=jobs, ring_size=256, batch=4)
    assert result["busy_doorbells"] >= 4


def test_all_channels_busy(sim):
    p = PARAMS["w64x4"]
    jobs = cases.spread_jobs(p, per_channel=3, length=1024)
    result = sim.run(p, "checked_batch", cases.memory_for([jobs], SLOW),
                     jobs=jobs, concurrent=True)
    assert result["overlap_cycles"] > 0


# --------------------------------------------------------------------------
# Randomized
# --------------------------------------------------------------------------

@pytest.mark.parametrize("seed, pname", [(1, "w64x4"), (2, "w256b4"), (3, "w512"),
                                         (4, "w256b4"), (5, "w64x4"), (6, "w128min"),
                                         (8, "w128min")],
                         ids=lambda v: f"seed{v}" if isinstance(v, int) else v)
def test_random(sim, seed, pname):
    p = PARAMS[pname]
    kwargs, timing = cases.random_case(seed, p)
    sim.run(p, "ring_feed", cases.memory_for([kwargs["jobs"]], timing),
            context=f"seed={seed} params={pname} timing={timing}", **kwargs)


# --------------------------------------------------------------------------
# Errors and abort
# --------------------------------------------------------------------------

ALL_ERRORS = list(ERRORS)


@pytest.mark.parametrize("pname, kind, where", [
    *[pytest.param("w256b4", kind, "middle", id=f"w256b4-{kind}") for kind in ALL_ERRORS],
    *[pytest.param("w256b4", kind, where, id=f"w256b4-{kind}-{where}")
      for kind, where in (("read_slverr", "first"), ("read_decerr", "last"),
                          ("write_slverr", "first"), ("write_decerr", "last"))],
    *[pytest.param("w64x4", kind, "middle", id=f"w64x4-{kind}")
      for kind in ("read_decerr", "write_slverr", "len_misaligned", "desc_read_error")],
    *[pytest.param("w128min", kind, "middle", id=f"w128min-{kind}")
      for kind in ("read_slverr", "write_decerr")],
])
def test_error_halts_channel(sim, pname, kind, where):
    p = PARAMS[pname]
    kwargs, regions = cases.error_case(kind, p, where)
    timing = SLOW if kind.startswith(("read", "write")) else LATENT
    memory = cases.memory_for([kwargs["jobs"], kwargs["after_reset"]], timing, regions)
    sim.run(p, "error_halts_channel", memory, **kwargs)


def test_abort_mid_batch(sim):
    p = PARAMS["w256b4"]
    kwargs = cases.abort_case(p)
    del kwargs["after_abort"]
    memory = cases.memory_for([kwargs["jobs"], kwargs["after_reset"]], SLOW)
    result = sim.run(p, "abort_mid_batch", memory, **kwargs)
    assert result["cut"] == 1


def test_reset_while_busy(sim):
    """CTRL.reset without abort on a running channel, then abort of the idle channel."""
    p = PARAMS["w256b4"]
    kwargs = cases.abort_case(p)
    memory = cases.memory_for([kwargs["jobs"], kwargs["after_reset"], kwargs["after_abort"]],
                              LATENT)
    result = sim.run(p, "reset_while_busy", memory, **kwargs)
    assert result["cut"] == 1


@pytest.mark.parametrize("pname", params_ids(["w256b4", "w64x4"]))
def test_abort_and_reset_sweep(sim, pname):
    """CTRL.abort / CTRL.reset at many moments of a batch (fetch, copy, fence wait, end)."""
    p = PARAMS[pname]
    kwargs = cases.stop_sweep_case(p, [0, 2, 5, 9, 14, 20, 30, 45, 70, 100, 150, 220, 320,
                                       480, 700, 1000])
    memory = cases.memory_for(kwargs["jobs_per_round"], SLOW)
    result = sim.run(p, "stop_sweep", memory, strict_status=False, **kwargs)
    cuts = [cut for _, cut, _, _ in result["outcomes"]]
    assert any(cut is not None for cut in cuts) and None in cuts


@pytest.mark.parametrize("pname", params_ids(["w256b4", "w64x4"]))
def test_status_final_once_not_busy(sim, pname):
    """The first STATUS read with busy=0 after CTRL.abort / CTRL.reset already
    shows the outcome (halted+ABORTED, or all clear), as EngineIO.reset_channel
    and wait_idle assume."""
    p = PARAMS[pname]
    kwargs = cases.stop_sweep_case(p, [0, 2, 5, 9, 14, 20, 30, 45, 70, 100, 150, 220, 320,
                                       480, 700, 1000])
    memory = cases.memory_for(kwargs["jobs_per_round"], SLOW)
    sim.run(p, "stop_sweep", memory, strict_status=True, **kwargs)


# --------------------------------------------------------------------------
# Interrupts and fence
# --------------------------------------------------------------------------

IRQ_MEMORY = cases.memory_config(1 << 20, read_latency=2, write_latency=2)


def test_irq_count_coalescing(sim):
    p = PARAMS["w64x4"]
    result = sim.run(p, "irq_count_coalescing", IRQ_MEMORY, flags=[1, 1, 0, 1, 1, 1, 1, 1, 1],
                     count=4, batch=8, length=512)
    assert result["stepwise_events"] == [4, 8] and result["batch_events"] == [4, 8]


def test_irq_timer_coalescing(sim):
    p = PARAMS["w64x4"]
    result = sim.run(p, "irq_timer_coalescing", IRQ_MEMORY, timer=400, length=1024)
    assert 400 <= result["a_latency"] <= 416


def test_irq_timer_expiry_race(sim):
    """A completion retiring in the cycle the timer expires must not disable the timer."""
    sim.run(PARAMS["w64x4"], "irq_timer_expiry_race", IRQ_MEMORY, length=256)


def test_irq_enable_and_clear(sim):
    sim.run(PARAMS["w64x4"], "irq_enable_and_clear", IRQ_MEMORY, length=256)


def test_fence(sim):
    p = PARAMS["w256b4"]
    kwargs = cases.fence_case(p)
    sim.run(p, "fence_waits", cases.memory_for([kwargs["jobs"]], LATENT), **kwargs)
