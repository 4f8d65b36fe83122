"""A FIFO whose outputs come from flip-flops loaded on early enables."""
from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


class PrefetchFifo(wiring.Component):
    """A first-word-fall-through FIFO of ``depth`` entries in a memory (block RAM for
    the read/write buffer, LUT RAM for the job queue).

    The memory is read ahead into a two-entry output stage, and ``r`` is offered
    from there, so every output is a flip-flop: a block RAM's read data, which
    arrives late in the cycle (ECP5: 5.6 ns after the clock at speed grade 6),
    only enters registers, and the wide registers load on enables that do not
    depend on the consumer taking an entry (that decides only the read address
    and the counts). An entry written in cycle t is offered from cycle t + 3
    (Amaranth's SyncFIFOBuffered: t + 2); a stream of entries leaves at one per
    cycle. ``w.ready`` is low only while the memory holds ``depth`` entries (up
    to two more wait in the output stage); ``empty`` while none is anywhere.
    """

    def __init__(self, width, depth):
        if depth < 2:
            self._MustUse__silence = True       # not built, so not unused either
            raise ValueError(f"depth must be at least 2, got {depth}")
        self.width = width
        self.depth = depth
        super().__init__({
            "w": In(stream.Signature(width)),
            "r": Out(stream.Signature(width)),
            "empty": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self.depth
        storage = m.submodules.storage = Memory(shape=self.width, depth=depth, init=[])
        w_port = storage.write_port()
        r_port = storage.read_port(domain="sync")

        def after(pointer):
            return Mux(pointer == depth - 1, 0, pointer + 1)

        produce = Signal(range(depth))
        consume = Signal(range(depth))
        stored = Signal(range(depth + 1))       # entries in the memory, not yet read out
        # ``w.ready`` is a register too: ``stored != depth``, computed a cycle ahead.
        room = Signal(init=1)
        written = self.w.valid & self.w.ready
        m.d.comb += [
            self.w.ready.eq(room),
            w_port.addr.eq(produce),
            w_port.data.eq(self.w.payload),
            w_port.en.eq(written),
        ]
        with m.If(written):
            m.d.sync += produce.eq(after(produce))

        # Output stage: two registers used as a ring; ``arriving`` while the read issued
        # in the cycle before delivers its entry. The memory is read every cycle at
        # ``consume``; an issued read moves ``consume`` on.
        out = [Signal(self.width, name=f"out{i}") for i in range(2)]
        out_head = Signal()
        out_count = Signal(range(3))
        arriving = Signal()
        popped = self.r.valid & self.r.ready
        m.d.comb += [
            self.r.valid.eq(out_count != 0),
            self.r.payload.eq(Mux(out_head, out[1], out[0])),
            self.empty.eq((stored == 0) & ~arriving & (out_count == 0)),
        ]
        # Read ahead while the stage will have room for the entry when it arrives.
        issue = Signal()
        held = out_count + arriving
        m.d.comb += [
            issue.eq((stored != 0) & ((held <= 1) | ((held == 2) & popped))),
            r_port.addr.eq(consume),
            r_port.en.eq(1),
        ]
        with m.If(issue):
            m.d.sync += consume.eq(after(consume))
        # The counts' next values are computed for both outcomes; the late ``issue``
        # and ``popped`` only choose.
        after_write = stored + written
        after_arrival = out_count + arriving
        m.d.sync += [
            arriving.eq(issue),
            stored.eq(Mux(issue, after_write - 1, after_write)),
            room.eq(Mux(issue, after_write - 1 != depth, after_write != depth)),
            out_count.eq(Mux(popped, after_arrival - 1, after_arrival)),
            out_head.eq(out_head ^ popped),
        ]
        # The arriving entry goes behind the ones held (into the head's register when
        # the stage is empty, or full and its head leaves now).
        slot = out_head ^ out_count[0]
        with m.If(arriving):
            for i in range(2):
                with m.If(slot == i):
                    m.d.sync += out[i].eq(r_port.data)
        return m
