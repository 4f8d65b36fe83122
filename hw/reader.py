"""Read side: the AXI read channels shared by fetcher and copy, and the read/write buffer."""
from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .fifo import PrefetchFifo
from .layouts import (axi_address, axi_read_data, buffered_beat, read_beat,
                      read_request)

#: AXI IDs of the reads: descriptor fetches and data reads.
FETCH_ID, DATA_ID = 1, 0


class ReadPort(wiring.Component):
    """Issues the reads of both stages on one AXI read port and routes the beats back.

    AR: one request registered at a time; descriptor fetches (``fetch_ar``,
    ID 1) go before data reads (``copy_ar``, ID 0). R is always accepted
    (``axi_r``): beats of ID 1 go to ``fetch_r``, beats of ID 0 into the
    buffer, which ``beats`` (data and RRESP) empties in order.

    A data read is issued only when the buffer has room for all its beats:
    ``free_beats`` counts the beats neither buffered nor reserved by an
    issued read (a register), so the buffer never refuses a beat.
    ``data_beat`` pulses for each beat written into the buffer.
    ``read_slot`` is high while fewer than ``outstanding_reads`` data reads
    are in flight, ``reading`` while any is.
    """

    def __init__(self, params):
        self.params = params
        dw = params.data_width
        super().__init__({
            "fetch_ar": In(stream.Signature(read_request())),
            "copy_ar": In(stream.Signature(read_request())),
            "fetch_r": Out(stream.Signature(read_beat(dw), always_ready=True)),
            "beats": Out(stream.Signature(buffered_beat(dw))),
            "data_beat": Out(1),
            "free_beats": Out(range(params.buffer_depth + 1), init=params.buffer_depth),
            "read_slot": Out(1),
            "reading": Out(1),
            "axi_ar": Out(stream.Signature(axi_address())),
            "axi_r": In(stream.Signature(axi_read_data(dw), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        ar = self.axi_ar
        r = self.axi_r
        buffer = m.submodules.buffer = PrefetchFifo(buffered_beat(p.data_width).size,
                                                     p.buffer_depth)
        wiring.connect(m, buffer.r, wiring.flipped(self.beats))

        # --- AR: descriptor fetches before data reads ---
        data_read_issued = Signal()
        with m.If(ar.valid & ar.ready):
            m.d.sync += ar.valid.eq(0)
        with m.If(~ar.valid | ar.ready):
            with m.If(self.fetch_ar.valid):
                m.d.comb += self.fetch_ar.ready.eq(1)
                m.d.sync += [ar.valid.eq(1), ar.payload.id.eq(FETCH_ID),
                             ar.payload.addr.eq(self.fetch_ar.payload.addr),
                             ar.payload.len.eq(self.fetch_ar.payload.len)]
            with m.Elif(self.copy_ar.valid):
                m.d.comb += [self.copy_ar.ready.eq(1), data_read_issued.eq(1)]
                m.d.sync += [ar.valid.eq(1), ar.payload.id.eq(DATA_ID),
                             ar.payload.addr.eq(self.copy_ar.payload.addr),
                             ar.payload.len.eq(self.copy_ar.payload.len)]

        # --- R: descriptor beats to the fetcher, data beats to the buffer ---
        m.d.comb += [
            self.data_beat.eq(r.valid & (r.payload.id == DATA_ID)),
            self.fetch_r.valid.eq(r.valid & (r.payload.id == FETCH_ID)),
            self.fetch_r.payload.data.eq(r.payload.data),
            self.fetch_r.payload.resp.eq(r.payload.resp),
            self.fetch_r.payload.last.eq(r.payload.last),
            buffer.w.valid.eq(self.data_beat),
            buffer.w.payload.eq(Cat(r.payload.data, r.payload.resp)),
        ]

        # --- Accounting: data reads in flight, free buffer beats ---
        reads_out = Signal(range(p.outstanding_reads + 1))
        burst_beats = self.copy_ar.payload.len + 1
        popped = self.beats.valid & self.beats.ready
        # Both next free counts are computed, and the read issued only chooses: the
        # issue decision is not followed by an adder.
        freed = self.free_beats + popped
        m.d.sync += [
            reads_out.eq(reads_out + data_read_issued - (self.data_beat & r.payload.last)),
            self.free_beats.eq(Mux(data_read_issued, freed - burst_beats, freed)),
        ]
        m.d.comb += [self.read_slot.eq(reads_out < p.outstanding_reads),
                     self.reading.eq(reads_out != 0)]
        return m
