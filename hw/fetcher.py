"""Front-end: fetches descriptors from each channel's ring in system memory."""
from amaranth import Cat, Const, Module, Signal, Mux
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .descriptor import DESC_BYTES, DESC_FIELDS, RECORD_BYTES, Status
from .formal.properties import stating
from .layouts import CODE_WIDTH, DESC_BITS, channel_bits, descriptor_entry, read_beat, read_request
from .rr import round_robin


class DescriptorFetcher(wiring.Component):
    """Fetches descriptors ahead of the copy, round-robin over channels with work.

    A channel has work while its fetch pointer differs from its tail and it is
    enabled. At most ``prefetch_depth`` descriptors are in flight or queued;
    ``issued`` pulses the channel whose descriptor fetch was issued. Read
    requests go out on ``ar`` (AXI ID 1); their R beats come back on ``r`` in
    order and leave as parsed descriptors on ``desc``. ``rewind`` puts a
    channel's fetch pointer back to 0.

    Each descriptor is checked as it is parsed, before it is queued, so that
    the legalizer taking it reads one code: ``desc.payload.check`` is the
    first check it fails, in the order of :func:`descriptor_check`, or 0.
    """

    def __init__(self, params):
        self.params = params
        n = params.channels
        super().__init__({
            "ring_base": In(data.ArrayLayout(64, n)),
            "ring_size": In(data.ArrayLayout(16, n)),
            "tail": In(data.ArrayLayout(16, n)),
            "enable": In(n),
            "rewind": In(n),
            "fetch_ptr": Out(data.ArrayLayout(16, n)),
            "issued": Out(n),
            "ar": Out(stream.Signature(read_request())),
            "r": In(stream.Signature(read_beat(params.data_width), always_ready=True)),
            "desc": Out(stream.Signature(descriptor_entry(n))),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        n = p.channels
        depth = p.prefetch_depth
        beat_bytes = p.beat_bytes
        beats_per_desc = max(1, DESC_BYTES // beat_bytes)

        # Descriptors fetched and not yet taken by the legalizer.
        slots = Signal(range(depth + 1))
        order = m.submodules.order = fifo.SyncFIFO(width=channel_bits(n) + 1, depth=depth)
        queue = m.submodules.queue = fifo.SyncFIFO(width=len(self.desc.payload.as_value()),
                                                   depth=depth)

        # Choose the next channel to fetch from.
        has_work = Signal(n)
        for c in range(n):
            m.d.comb += has_work[c].eq(self.enable[c] & (self.ring_size[c] != 0)
                                       & (self.fetch_ptr[c] != self.tail[c]))
        last = Signal(range(n))
        any_work, pick = round_robin(m, has_work, last, n)

        ar_free = ~self.ar.valid | self.ar.ready
        issue = Signal()
        m.d.comb += issue.eq(ar_free & any_work & (slots < depth) & order.w_rdy)
        with m.If(self.ar.valid & self.ar.ready):
            m.d.sync += self.ar.valid.eq(0)

        pick_addr = Signal(64)
        pick_ptr = Signal(16)
        with m.Switch(pick):
            for c in range(n):
                with m.Case(c):
                    m.d.comb += [
                        pick_ptr.eq(self.fetch_ptr[c]),
                        pick_addr.eq(self.ring_base[c] + self.fetch_ptr[c] * DESC_BYTES),
                    ]
        half = pick_addr[5] if beat_bytes > DESC_BYTES else Const(0)
        with m.If(issue):
            m.d.sync += [
                self.ar.valid.eq(1),
                self.ar.payload.addr.eq(pick_addr & ~(max(beat_bytes, DESC_BYTES) - 1)),
                self.ar.payload.len.eq(beats_per_desc - 1),
                last.eq(pick),
            ]
            m.d.comb += [
                order.w_en.eq(1),
                order.w_data.eq(Cat(pick[:channel_bits(n)], half)),
            ]
            for c in range(n):
                with m.If(pick == c):
                    m.d.comb += self.issued[c].eq(1)
                    wrap = pick_ptr + 1 == self.ring_size[c]
                    m.d.sync += self.fetch_ptr[c].eq(Mux(wrap, 0, pick_ptr + 1))
        for c in range(n):
            with m.If(self.rewind[c]):
                m.d.sync += self.fetch_ptr[c].eq(0)

        popped = self.desc.valid & self.desc.ready
        m.d.sync += slots.eq(slots + issue - popped)

        # Assemble the R beats of one descriptor.
        if beats_per_desc > 1:
            shift = Signal((beats_per_desc - 1) * p.data_width)
            raw = Cat(shift, self.r.payload.data)
            with m.If(self.r.valid):
                m.d.sync += shift.eq(raw[p.data_width:])
        else:
            raw = self.r.payload.data.word_select(order.r_data[-1], DESC_BITS) \
                if beat_bytes > DESC_BYTES else self.r.payload.data
        error = Signal()
        error_now = error | (self.r.payload.resp != 0)
        with m.If(self.r.valid):
            m.d.sync += error.eq(Mux(self.r.payload.last, 0, error_now))

        entry = Signal(descriptor_entry(n))
        for name, offset, width in DESC_FIELDS:
            m.d.comb += getattr(entry, name).eq(raw[offset * 8:offset * 8 + width])
        m.d.comb += [
            entry.ch.eq(order.r_data[:channel_bits(n)]),
            entry.check.eq(descriptor_check(entry, error_now, beat_bytes)),
            queue.w_data.eq(entry),
            queue.w_en.eq(self.r.valid & self.r.payload.last),
            order.r_en.eq(self.r.valid & self.r.payload.last),
            self.desc.valid.eq(queue.r_rdy),
            self.desc.payload.eq(queue.r_data),
            queue.r_en.eq(self.desc.ready),
        ]
        props = stating(platform)
        if props:
            props.check(m, "fetcher.stopped_fetches_nothing", (self.issued & ~self.enable) == 0,
                        "no descriptor is fetched for a stopped (or halted) channel")
        return m


def descriptor_check(entry, fetch_error, beat_bytes):
    """The Status code of the first check a fetched descriptor fails, else 0: its
    fetch returned an error (DESC_READ_ERROR), its record address is not 8-byte
    aligned (RECORD_MISALIGNED; neither of the two gets a record), its length is
    0, or src, dst or len is not a multiple of the beat."""
    misaligned = beat_bytes - 1
    checks = (
        (fetch_error, Status.DESC_READ_ERROR),
        (entry.completion[:RECORD_BYTES.bit_length() - 1] != 0, Status.RECORD_MISALIGNED),
        (entry.len == 0, Status.ZERO_LENGTH),
        ((entry.src & misaligned) != 0, Status.SRC_MISALIGNED),
        ((entry.dst & misaligned) != 0, Status.DST_MISALIGNED),
        ((entry.len & misaligned) != 0, Status.LEN_MISALIGNED),
    )
    code = Const(0, CODE_WIDTH)
    for failed, status in reversed(checks):
        code = Mux(failed, status, code)
    return code
