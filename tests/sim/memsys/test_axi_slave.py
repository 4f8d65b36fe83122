"""AxiSlaveModel (and Memory) driven directly by a scripted AXI4 master."""
from collections import deque

import numpy as np
import pytest

from hw.axi import BURST_INCR, RESP_DECERR, RESP_OKAY, RESP_SLVERR
from sim.memsys.axi_slave import OUTPUTS, AxiProtocolError, AxiSlaveModel
from sim.memsys.memory import Memory, MemoryAccessError

BASE = 0x8000_0000
SIZE = 0x10_0000
BEAT = 8            # 64-bit bus
SIZE_CODE = 3
FULL = 0xFF


class ScriptedMaster:
    """An AXI4-compliant master around the model, stepping it like an adapter does.

    Requests are queued as (earliest cycle, payload) and offered in order, each
    held until accepted. RREADY/BREADY are always high. Records R beats as
    (cycle, id, data, resp, last) and B's as (cycle, id, resp).
    """

    def __init__(self, model):
        self.model = model
        self.ar, self.aw, self.w = deque(), deque(), deque()
        self.r, self.b = [], []

    def read(self, addr, beats, *, at=1, id=0):
        self.ar.append((at, (id, addr, beats - 1, SIZE_CODE, BURST_INCR)))

    def write(self, addr, data, *, at=1, w_at=None, id=0, strobes=None):
        beats = len(data) // BEAT
        self.aw.append((at, (id, addr, beats - 1, SIZE_CODE, BURST_INCR)))
        for i in range(beats):
            strb = FULL if strobes is None else strobes[i]
            value = int.from_bytes(data[i * BEAT:(i + 1) * BEAT], "little")
            self.w.append((at if w_at is None else w_at, (value, strb, int(i == beats - 1))))

    def run(self, cycles):
        model = self.model
        for _ in range(cycles):
            n = model.cycle + 1
            out = dict(zip(OUTPUTS, model.outputs))
            offers = [q[0][1] if q and q[0][0] <= n else None for q in (self.ar, self.aw, self.w)]
            if out["rvalid"]:
                self.r.append((n, out["rid"], out["rdata"], out["rresp"], out["rlast"]))
            if out["bvalid"]:
                self.b.append((n, out["bid"], out["bresp"]))
            model.step(*offers, 1, 1)
            for queue, offer, ready in zip((self.ar, self.aw, self.w), offers,
                                           (out["arready"], out["awready"], out["wready"])):
                if offer is not None and ready:
                    queue.popleft()

    def idle(self):
        return not (self.ar or self.aw or self.w or self.model.busy())


def make(**kwargs):
    memory = Memory(BASE, SIZE)
    kwargs.setdefault("data_width", 64)
    return memory, AxiSlaveModel(memory, **kwargs)


def random_bytes(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def beats_of(r):
    return b"".join(data.to_bytes(BEAT, "little") for _, _, data, _, _ in r)


def test_memory_basics():
    memory = Memory(0x1000, 0x100)
    memory.write(0x1010, b"\x01\x02\x03")
    assert memory.read(0x100F, 5) == b"\x00\x01\x02\x03\x00"
    data = memory.fill_random(0x1080, 0x80, np.random.default_rng(3))
    assert memory.read(0x1080, 0x80) == data
    assert memory.contains(0x1000, 0x100) and not memory.contains(0x1001, 0x100)
    with pytest.raises(MemoryAccessError, match="outside memory"):
        memory.read(0xFF8, 16)
    with pytest.raises(MemoryAccessError, match="outside memory"):
        memory.write(0x10FF, b"ab")
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        memory.fill_random(0x1000, 4, 5)


def test_first_read_beat_after_read_latency():
    memory, model = make(read_latency=7)
    data = memory.fill_random(BASE, 4 * BEAT, np.random.default_rng(1))
    master = ScriptedMaster(model)
    master.read(BASE, 4, id=1)
    master.run(20)
    assert model.ar_log == [(1, 1, BASE, 3)]
    assert [beat[0] for beat in master.r] == [8, 9, 10, 11]
    assert [(beat[1], beat[3], beat[4]) for beat in master.r] == [(1, RESP_OKAY, 0)] * 3 + [
        (1, RESP_OKAY, 1)]
    assert beats_of(master.r) == data


def test_pipelined_bursts_return_back_to_back():
    memory, model = make(read_latency=20)
    data = memory.fill_random(BASE, 64 * BEAT, np.random.default_rng(2))
    master = ScriptedMaster(model)
    for i in range(4):
        master.read(BASE + i * 16 * BEAT, 16, id=i % 2)
    master.run(100)
    assert [entry[0] for entry in model.ar_log] == [1, 2, 3, 4]
    assert [beat[0] for beat in master.r] == list(range(21, 21 + 64))
    assert [i for i, beat in enumerate(master.r) if beat[4]] == [15, 31, 47, 63]
    assert [beat[1] for beat in master.r] == [0] * 16 + [1] * 16 + [0] * 16 + [1] * 16
    assert beats_of(master.r) == data
    assert master.idle()


def test_write_response_timing_and_data():
    memory, model = make(write_latency=6)
    master = ScriptedMaster(model)
    first, second = random_bytes(4 * BEAT, 1), random_bytes(2 * BEAT, 2)
    master.write(BASE, first, id=1)                             # W beats at 1..4
    master.write(BASE + 0x100, second, at=12, w_at=5, id=0)    # W before AW
    master.run(30)
    assert model.aw_log == [(1, 1, BASE, 3), (12, 0, BASE + 0x100, 1)]
    assert model.w_log == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 1), (6, 1)]
    assert master.b == [(4 + 6, 1, RESP_OKAY), (12 + 6, 0, RESP_OKAY)]
    assert memory.read(BASE, len(first)) == first
    assert memory.read(BASE + 0x100, len(second)) == second


def test_write_data_applied_when_burst_completes():
    memory, model = make()
    master = ScriptedMaster(model)
    master.write(BASE, random_bytes(2 * BEAT), at=5, w_at=1)
    master.run(4)                   # both W beats accepted, AW not yet
    assert memory.read(BASE, 2 * BEAT) == bytes(2 * BEAT)
    master.run(2)
    assert memory.read(BASE, 2 * BEAT) == random_bytes(2 * BEAT)


def test_wstrb_honoured_per_byte():
    memory, model = make()
    memory.write(BASE, b"\xEE" * (2 * BEAT))
    master = ScriptedMaster(model)
    master.write(BASE, bytes(range(1, 2 * BEAT + 1)), strobes=[0b1000_0001, 0b0011_0000])
    master.run(10)
    expected = bytearray(b"\xEE" * (2 * BEAT))
    for i in (0, 7, 8 + 4, 8 + 5):
        expected[i] = i + 1
    assert memory.read(BASE, 2 * BEAT) == bytes(expected)
    assert master.b[0][2] == RESP_OKAY


def test_read_error_regions_and_outside_memory():
    memory, model = make(error_regions=[(BASE + 2 * BEAT, BASE + 3 * BEAT, "read", "SLVERR"),
                                        (BASE + 3 * BEAT, BASE + 4 * BEAT, "rw", RESP_DECERR)])
    data = memory.fill_random(BASE, 8 * BEAT, np.random.default_rng(4))
    master = ScriptedMaster(model)
    master.read(BASE, 8)
    master.read(BASE + SIZE, 2)                 # outside the memory
    master.run(30)
    resps = [beat[3] for beat in master.r]
    assert resps == [RESP_OKAY] * 2 + [RESP_SLVERR, RESP_DECERR] + [RESP_OKAY] * 4 + \
        [RESP_DECERR] * 2
    payload = beats_of(master.r)
    assert payload[:2 * BEAT] == data[:2 * BEAT]
    assert payload[2 * BEAT:4 * BEAT] == bytes(2 * BEAT)
    assert payload[4 * BEAT:8 * BEAT] == data[4 * BEAT:]
    assert payload[8 * BEAT:] == bytes(2 * BEAT)


def test_write_error_regions_write_nothing():
    memory, model = make(error_regions=[(BASE + 0x100, BASE + 0x101, "write", "SLVERR"),
                                        (BASE + 0x200, BASE + 0x300, "rw", "DECERR"),
                                        (BASE + 0x300, BASE + 0x400, "read", "SLVERR")])
    master = ScriptedMaster(model)
    for addr in (BASE + 0xF8, BASE + 0x200, BASE + 0x300, BASE + SIZE):
        master.write(addr, random_bytes(2 * BEAT, addr))
    master.run(20)
    assert [b[2] for b in master.b] == [RESP_SLVERR, RESP_DECERR, RESP_OKAY, RESP_DECERR]
    assert memory.read(BASE + 0xF8, 2 * BEAT) == bytes(2 * BEAT)
    assert memory.read(BASE + 0x200, 2 * BEAT) == bytes(2 * BEAT)
    assert memory.read(BASE + 0x300, 2 * BEAT) == random_bytes(2 * BEAT, BASE + 0x300)


@pytest.mark.parametrize("channel, payload, message", [
    ("ar", (0, BASE + 0xFC0, 15, SIZE_CODE, BURST_INCR), "crosses a 4 KiB boundary"),
    ("aw", (0, BASE, 0, 2, BURST_INCR), "only full-width beats"),
    ("ar", (0, BASE, 0, SIZE_CODE, 2), "only INCR"),
    ("aw", (0, BASE + 4, 0, SIZE_CODE, BURST_INCR), "not aligned"),
])
def test_address_checks(channel, payload, message):
    _, model = make()
    with pytest.raises(AxiProtocolError, match=message):
        model.step(payload if channel == "ar" else None, payload if channel == "aw" else None,
                   None, 0, 0)


def test_wlast_checks():
    _, model = make()
    model.step(None, (0, BASE, 2, SIZE_CODE, BURST_INCR), (1, FULL, 0), 0, 0)
    with pytest.raises(AxiProtocolError, match="WLAST=1 on beat 1 but AWLEN=2"):
        model.step(None, None, (2, FULL, 1), 0, 0)
    _, model = make()
    model.step(None, (0, BASE, 0, SIZE_CODE, BURST_INCR), None, 0, 0)
    with pytest.raises(AxiProtocolError, match="WLAST=0 on beat 0 but AWLEN=0"):
        model.step(None, None, (1, FULL, 0), 0, 0)
    _, model = make()                       # W first, AW second
    model.step(None, None, (1, FULL, 1), 0, 0)
    with pytest.raises(AxiProtocolError, match="WLAST on beat 0 but its AWLEN=1"):
        model.step(None, (0, BASE, 1, SIZE_CODE, BURST_INCR), None, 0, 0)
    _, model = make()
    for _ in range(3):
        model.step(None, None, (1, FULL, 0), 0, 0)
    with pytest.raises(AxiProtocolError, match="3 beats without WLAST"):
        model.step(None, (0, BASE, 1, SIZE_CODE, BURST_INCR), None, 0, 0)


def stalled_model(channel):
    """A model whose `channel` READY is low in the next cycle."""
    _, model = make(backpressure=0.5, seed=1)
    index = OUTPUTS.index(f"{channel}ready")
    while model.outputs[index]:
        model.step(None, None, None, 0, 0)
    return model


@pytest.mark.parametrize("channel", ["ar", "aw", "w"])
def test_valid_must_hold_until_ready(channel):
    offer = (1, FULL, 0) if channel == "w" else (0, BASE, 0, SIZE_CODE, BURST_INCR)
    changed = (2, FULL, 0) if channel == "w" else (0, BASE + BEAT, 0, SIZE_CODE, BURST_INCR)

    def step(model, payload):
        model.step(*(payload if c == channel else None for c in ("ar", "aw", "w")), 0, 0)

    model = stalled_model(channel)
    step(model, offer)
    with pytest.raises(AxiProtocolError, match="payload changed"):
        step(model, changed)
    model = stalled_model(channel)
    step(model, offer)
    with pytest.raises(AxiProtocolError, match=f"{channel.upper()}VALID dropped"):
        step(model, None)


def traffic(**kwargs):
    memory, model = make(read_latency=3, write_latency=2, **kwargs)
    memory.fill_random(BASE, 0x1000, np.random.default_rng(5))
    master = ScriptedMaster(model)
    for i in range(8):
        master.read(BASE + i * 0x80, 16, id=i % 2)
        master.write(BASE + 0x2000 + i * 0x80, random_bytes(0x80, i), id=i % 2)
    cycles = 0
    while not master.idle():
        master.run(1)
        cycles += 1
    assert memory.read(BASE + 0x2000, 0x80) == random_bytes(0x80, 0)
    return cycles, (model.ar_log, model.aw_log, model.w_log, master.r, master.b)


def test_backpressure_is_reproducible_and_slows_down():
    fast, _ = traffic()
    slow, logs = traffic(backpressure=0.3, seed=11)
    again, logs_again = traffic(backpressure=0.3, seed=11)
    _, other_logs = traffic(backpressure=0.3, seed=12)
    assert (slow, logs) == (again, logs_again)
    assert logs != other_logs
    assert slow > fast * 1.2
    model = make(backpressure=0.3, seed=11)[1]
    stalls = 0
    for _ in range(2000):
        stalls += not model.step(None, None, None, 0, 0)[0]
    assert 450 < stalls < 750


def test_idle_step_returns_the_same_outputs_object():
    _, model = make()
    first = model.step(None, None, None, 0, 0)
    assert model.step(None, None, None, 0, 0) is first
    assert not model.busy()


def test_logging_can_be_switched_off():
    _, model = make(record=False)
    master = ScriptedMaster(model)
    master.read(BASE, 2)
    master.write(BASE, random_bytes(2 * BEAT))
    master.run(10)
    assert model.ar_log == model.aw_log == model.w_log == []
    assert len(master.r) == 2 and len(master.b) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"data_width": 48}, "data_width"),
    ({"read_latency": 0}, "read_latency"),
    ({"backpressure": 1.0}, "backpressure"),
    ({"error_regions": [(10, 5, "read", "SLVERR")]}, "start < end"),
    ({"error_regions": [(0, 5, "exec", "SLVERR")]}, "access"),
    ({"error_regions": [(0, 5, "rw", "OKAY")]}, "SLVERR or DECERR"),
])
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)
