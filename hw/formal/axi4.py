"""Properties of the engine's AXI4 master port, against any slave that keeps its side."""
from amaranth import Cat, Elaboratable, Module, Signal

from ..axi import BURST_INCR
from ..descriptor import DESC_BYTES
from ..params import AXI_BOUNDARY_BYTES
from ..reader import DATA_ID, FETCH_ID
from .queue import MonitorQueue, counter

#: Width of the monitor's counts (a bounded proof never gets near it).
COUNT_BITS = 8


def held_until_ready(m, name, valid, ready, payload):
    """Assert that ``valid``, once high, stays high with ``payload`` unchanged until
    ``ready``: the AXI rule for a source (``props.assume`` it for the slave's)."""
    waiting = Signal(name=f"{name.replace('.', '_')}_waiting")
    before = Signal(len(payload), name=f"{name.replace('.', '_')}_before")
    m.d.sync += [waiting.eq(valid & ~ready), before.eq(payload)]
    return ~waiting | (valid & (payload == before))


class AXI4MasterProperties(Elaboratable):
    """States, for the AXI4 master ``bus`` of an engine built with ``params``:

    - every VALID (AR, AW, W) is held with its payload until READY;
    - every AR and AW is an INCR burst of full beats (AxSIZE the bus width),
      beat-aligned, no longer than the engine's longest burst (a descriptor
      fetch: its descriptor's beats) and not crossing a 4 KiB boundary;
    - each write's W beats follow its AW's presentation (AWVALID), exactly
      AWLEN+1 of them, WLAST on the last only;
    - at most ``outstanding_reads`` data reads (ID 0), ``prefetch_depth``
      descriptor fetches (ID 1) and ``outstanding_writes`` writes are in flight.

    The slave is free in everything its side of the protocol allows, which is
    assumed: R and B are held until READY; an R beat owed (of an ID with an
    accepted read not yet ended) answers the oldest, RLAST on its last beat.
    It may also break the protocol with responses nobody is owed, at any
    time: R beats of an ID with no read open, a B of an ID with no write
    whose AW and last W were both accepted (the engine drops them,
    :class:`hw.responses.ResponseFilter`), and every property must still hold.
    """

    def __init__(self, bus, params):
        self.bus = bus
        self.params = params

    def elaborate(self, platform):
        m = Module()
        props = platform
        bus, p = self.bus, self.params
        beat_bytes = p.beat_bytes
        fetch_beats = max(1, DESC_BYTES // beat_bytes)
        longest = max(p.burst_beats_max, fetch_beats)

        # --- The slave's side, assumed ---
        props.assume(m, held_until_ready(m, "axi.r", bus.rvalid, bus.rready,
                                         Cat(bus.rid, bus.rdata, bus.rresp, bus.rlast)),
                     "a slave holds R until RREADY")
        props.assume(m, held_until_ready(m, "axi.b", bus.bvalid, bus.bready,
                                         Cat(bus.bid, bus.bresp)),
                     "a slave holds B until BREADY")

        # --- Handshakes and burst shapes ---
        for channel, valid, ready, payload in (
                ("ar", bus.arvalid, bus.arready,
                 Cat(bus.arid, bus.araddr, bus.arlen, bus.arsize, bus.arburst)),
                ("aw", bus.awvalid, bus.awready,
                 Cat(bus.awid, bus.awaddr, bus.awlen, bus.awsize, bus.awburst)),
                ("w", bus.wvalid, bus.wready, Cat(bus.wdata, bus.wstrb, bus.wlast))):
            props.check(m, f"axi.{channel}.held_until_ready",
                        held_until_ready(m, f"axi.{channel}", valid, ready, payload),
                        f"{channel.upper()}VALID stays high, its payload unchanged, "
                        "until READY")
        for channel, valid, addr, length, size, burst in (
                ("ar", bus.arvalid, bus.araddr, bus.arlen, bus.arsize, bus.arburst),
                ("aw", bus.awvalid, bus.awaddr, bus.awlen, bus.awsize, bus.awburst)):
            offset = addr[:AXI_BOUNDARY_BYTES.bit_length() - 1]
            end = offset + (length + 1) * beat_bytes
            legal = ((burst == BURST_INCR) & (size == p.beat_shift)
                     & (addr[:p.beat_shift] == 0) & (length < longest)
                     & (end <= AXI_BOUNDARY_BYTES))
            props.check(m, f"axi.{channel}.burst_legal", ~valid | legal,
                        f"an {channel.upper()} is an INCR burst of full, aligned beats, "
                        f"at most {longest} of them, within one 4 KiB page")

        # --- Reads: answered in order per ID; counted in flight ---
        ar_done = bus.arvalid & bus.arready
        r_beat = bus.rvalid & bus.rready
        r_owed = {}
        for rid, limit, label in ((DATA_ID, p.outstanding_reads, "data reads"),
                                  (FETCH_ID, p.prefetch_depth, "descriptor fetches")):
            reads = MonitorQueue(8, limit + 1)
            reads.build(m)
            beat = Signal(8, name=f"r{rid}_beat")
            owed = (bus.rid == rid) & (reads.count != 0)
            mine = r_owed[rid] = r_beat & owed
            m.d.comb += [reads.push.eq(ar_done & (bus.arid == rid)), reads.data.eq(bus.arlen),
                         reads.pop.eq(mine & bus.rlast)]
            with m.If(mine):
                m.d.sync += beat.eq(beat + 1)
                with m.If(bus.rlast):
                    m.d.sync += beat.eq(0)
            props.assume(m, ~(bus.rvalid & owed) | (bus.rlast == (beat == reads.head)),
                         "a slave's R beats of a read end with RLAST on its last beat")
            props.check(m, f"axi.r{rid}.in_flight", (reads.count <= limit) & ~reads.overflow,
                        f"at most {limit} {label} (ARID {rid}) in flight")

        # --- Writes: W beats against presented AWs; B against finished writes ---
        aw_new = Signal()
        aw_waiting = Signal()
        m.d.sync += aw_waiting.eq(bus.awvalid & ~bus.awready)
        m.d.comb += aw_new.eq(bus.awvalid & ~aw_waiting)
        presented = MonitorQueue(9, p.outstanding_writes + 2)
        presented.build(m)
        w_beat = bus.wvalid & bus.wready
        w_last = w_beat & bus.wlast
        sent = Signal(8)
        # The write whose W beats go now: the oldest presented AW not yet written, or,
        # when none waits, the AW presented in this cycle (a one-beat write may then
        # finish at once, and is neither queued nor taken from the queue).
        none_waiting = presented.count == 0
        head_len = Signal(8)
        written = Signal(1)             # its AWID
        m.d.comb += [
            head_len.eq(presented.head[:8]), written.eq(presented.head[8]),
            presented.push.eq(aw_new & ~(none_waiting & w_last)),
            presented.data.eq(Cat(bus.awlen, bus.awid)),
            presented.pop.eq(w_last),
        ]
        with m.If(none_waiting):
            m.d.comb += [head_len.eq(bus.awlen), written.eq(bus.awid)]
        with m.If(w_beat):
            m.d.sync += sent.eq(sent + 1)
            with m.If(bus.wlast):
                m.d.sync += sent.eq(0)
        props.check(m, "axi.w.follows_aw", ~bus.wvalid | ~none_waiting | aw_new,
                    "W is offered only for a write whose AW was offered")
        props.check(m, "axi.w.burst_length",
                    ~bus.wvalid | (bus.wlast == (sent == head_len)),
                    "each write has exactly AWLEN+1 W beats, WLAST on the last only")

        aw_done = bus.awvalid & bus.awready
        b_owed = Signal()
        b_done = bus.bvalid & bus.bready & b_owed
        in_flight = counter(m, COUNT_BITS, aw_done, b_done, "writes_in_flight")
        for bid in (0, 1):
            accepted = counter(m, COUNT_BITS, aw_done & (bus.awid == bid), b_done & (bus.bid == bid),
                               f"aw{bid}_unanswered")
            finished = counter(m, COUNT_BITS, w_beat & bus.wlast & (written == bid),
                               b_done & (bus.bid == bid), f"w{bid}_unanswered")
            with m.If((bus.bid == bid) & (accepted != 0) & (finished != 0)):
                m.d.comb += b_owed.eq(1)
        props.check(m, "axi.writes.in_flight", in_flight <= p.outstanding_writes,
                    f"at most {p.outstanding_writes} writes (data and records) in flight")

        # --- Reachability ---
        props.cover(m, "axi.cover.data_read", r_owed[DATA_ID] & bus.rlast,
                    "a data read burst completes")
        props.cover(m, "axi.cover.data_write", b_done & (bus.bid == 0),
                    "a data write burst is acknowledged")
        props.cover(m, "axi.cover.record_write", b_done & (bus.bid == 1),
                    "a completion record's write is acknowledged")
        return m
