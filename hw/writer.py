"""Back-end exit: write port, B tracking and completion records."""
from amaranth import Cat, Const, Module, Signal, Mux
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .axi import RESP_DECERR, RESP_OKAY
from .descriptor import RECORD_BYTES, RECORD_FIELDS, Status
from .layouts import (AXI_ID_WIDTH, BURST_BEATS_BITS, CODE_WIDTH, axi_address,
                      axi_write_data, axi_write_response, buffered_beat, channel_bits,
                      retirement, set_channel_bit, write_job)
from .params import AXI_BOUNDARY_BYTES


#: AXI IDs of the writes: data bursts and completion records.
DATA_WRITE_ID, RECORD_WRITE_ID = 0, 1

#: Extra beats buffered before a burst starts from an idle W channel.
START_SLACK = 16


def _burst_done(channels):
    """A written burst (or a descriptor end) awaiting its turn in the B order."""
    return data.StructLayout({
        "end": 1, "ch": channel_bits(channels), "bytes": AXI_BOUNDARY_BYTES.bit_length(),
        "last": 1, "irq": 1,
        "completion": 64, "code": CODE_WIDTH, "record": 1,
    })


class WritePort(wiring.Component):
    """Writes buffered bursts and completion records, and retires descriptors.

    Jobs are taken in order. A DATA burst starts only when all its beats are
    in the buffer (counted from ``arrived``, one per beat written into the
    buffer; from idle, START_SLACK more unless no reads
    are in flight), so a started burst never waits for reads;
    its AW (ID 0) and W beats go out together and the next burst or record
    follows without an idle cycle. A beat read with an error is written with
    all strobes low. Completion records (ID 1, one beat, 8 strobed bytes) are
    written once every data write of their descriptor was acknowledged, and
    take the W channel before the next data burst.

    A descriptor's status is the first error among its bursts in order (read
    error, else write error), its byte count the bytes written before that
    error. After a channel's descriptor failed, its later descriptors are
    dropped without record (``dropped``) until ``clear``. ``stop`` pulses a
    channel on a data error, so no more of its bursts are issued. ``retire``
    emits each finished descriptor once its record is acknowledged. ``w_id``
    is the AXI ID of the write whose W beats are offered.
    """

    def __init__(self, params):
        self.params = params
        n = params.channels
        dw = params.data_width
        super().__init__({
            "job": In(stream.Signature(write_job(n))),
            "buf": In(stream.Signature(buffered_beat(dw))),
            "arrived": In(1),
            "reads_in_flight": In(1),
            "clear": In(n),
            "aw": Out(stream.Signature(axi_address())),
            "w": Out(stream.Signature(axi_write_data(dw))),
            "w_id": Out(AXI_ID_WIDTH),
            "b": In(stream.Signature(axi_write_response())),
            "retire": Out(stream.Signature(retirement(n), always_ready=True)),
            "dropped": Out(n),
            "stop": Out(n),
            "idle": Out(1),
            "read_wait": Out(n),
            "write_wait": Out(n),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        n = p.channels
        beat_bytes = p.beat_bytes
        all_strobes = (1 << beat_bytes) - 1

        burst_layout = _burst_done(n)
        # The queues that wait for B responses offer their head from a register (an entry
        # is seen two cycles after its write, not one: a B comes later anyway), so that
        # closing and retiring start from flip-flops; the record queue, whose head may
        # start the next write at once, is read straight from its memory.
        done_q = m.submodules.done_q = fifo.SyncFIFOBuffered(
            width=burst_layout.size, depth=p.outstanding_writes + 2)
        record_q = m.submodules.record_q = fifo.SyncFIFO(width=retirement(n).size, depth=4)
        retire_q = m.submodules.retire_q = fifo.SyncFIFOBuffered(
            width=retirement(n).size, depth=p.outstanding_writes + 2)
        done_head = data.View(burst_layout, done_q.r_data)
        record_head = data.View(retirement(n), record_q.r_data)
        retire_head = data.View(retirement(n), retire_q.r_data)

        # --- W channel: one transaction (data burst or record) at a time ---
        streaming = Signal()
        is_record = Signal()
        beats_left = Signal(BURST_BEATS_BITS)
        last_beat = Signal()            # beats_left == 1, kept as a register (WLAST)
        cur = Signal(write_job(n))
        cur_code = Signal(CODE_WIDTH)
        record_data = Signal(p.data_width)
        record_strb = Signal(beat_bytes)

        # Writes started (AW issued or about to be) and not yet answered by B: counted
        # when a write starts, so an AW still waiting for AWREADY counts too.
        writes_out = Signal(range(p.outstanding_writes + 1))
        aw_free = ~self.aw.valid | self.aw.ready
        can_issue = aw_free & (writes_out < p.outstanding_writes)
        w_fire = self.w.valid & self.w.ready
        ending = w_fire & last_beat
        w_free = ~streaming | ending

        # Beats in the buffer that belong to bursts not started yet (a burst starts
        # with all its beats buffered); a register, so the start decision below
        # compares it directly. ``cushion_beats`` is the same count less
        # START_SLACK (negative while fewer are buffered), so that the cushion too
        # is one comparison, with no addition before it.
        pending_beats = Signal(range(p.buffer_depth + 1))
        cushion_beats = Signal(range(-START_SLACK, p.buffer_depth + 1), init=-START_SLACK)

        # From idle, a burst starts once START_SLACK more beats than it needs are
        # buffered (or no more reads are coming): R also carries descriptor beats,
        # and this cushion keeps W streaming while records have not yet started
        # to fill the cycles those take.
        job = self.job.payload
        enough = pending_beats >= job.beats
        cushioned = streaming | (cushion_beats >= job.beats) | ~self.reads_in_flight
        record_next = Signal()          # a record goes before any data burst
        start_record = Signal()
        start_data = Signal()
        m.d.comb += [
            record_next.eq(record_q.r_rdy & record_head.record & retire_q.w_rdy),
            start_record.eq(w_free & can_issue & record_next),
            start_data.eq(w_free & can_issue & ~record_next & self.job.valid & ~job.end
                          & enough & cushioned & done_q.w_rdy),
        ]
        # Both next counts are computed whether or not a burst starts, and start_data
        # only chooses between them: the decision is not followed by an adder.
        for count in (pending_beats, cushion_beats):
            arrived = count + self.arrived
            m.d.sync += count.eq(Mux(start_data, arrived - job.beats, arrived))
        with m.If(self.aw.valid & self.aw.ready):
            m.d.sync += self.aw.valid.eq(0)
        with m.If(ending):
            m.d.sync += streaming.eq(0)

        lane = Signal(range(max(2, beat_bytes // RECORD_BYTES)))
        if beat_bytes > RECORD_BYTES:
            m.d.comb += lane.eq(record_head.completion[3:beat_bytes.bit_length() - 1])
        record_status = Signal(CODE_WIDTH)
        m.d.comb += record_status.eq(Mux(record_head.code == 0, Status.SUCCESS, record_head.code))
        # The record's fields in their order (hw.descriptor.RECORD_FIELDS), zero-extended.
        record_values = {"status": record_status, "bytes": record_head.bytes}
        record_word = Cat(*(Cat(record_values[name], Const(0, width - len(record_values[name])))
                            for name, _, width in RECORD_FIELDS))
        # Beat bookkeeping first: starting a new transaction below overrides it.
        beat_error = self.buf.payload.resp != RESP_OKAY
        read_code = Mux(self.buf.payload.resp == RESP_DECERR,
                        Status.READ_DECERR, Status.READ_SLVERR)
        code_now = Mux((cur_code == 0) & beat_error, read_code, cur_code)
        with m.If(w_fire):
            m.d.sync += [beats_left.eq(beats_left - 1), last_beat.eq(beats_left == 2)]
            with m.If(~is_record):
                m.d.sync += cur_code.eq(code_now)
                with m.If(beat_error):
                    set_channel_bit(m, "comb", self.stop, cur.ch, n)
        done_entry = Signal(burst_layout)
        m.d.comb += done_q.w_data.eq(done_entry)
        # The wide registers of the next write are loaded whether or not it starts,
        # chosen by ``record_next`` alone: the start decision drives only the few
        # below. The AW payload changes only while no AW waits; the record beat and
        # the current job only while they are not being written.
        with m.If(aw_free):
            m.d.sync += [
                self.aw.payload.id.eq(Mux(record_next, RECORD_WRITE_ID, DATA_WRITE_ID)),
                self.aw.payload.addr.eq(Mux(record_next,
                                            record_head.completion & ~(beat_bytes - 1),
                                            job.addr)),
                self.aw.payload.len.eq(Mux(record_next, 0, job.beats - 1)),
            ]
        with m.If(w_free | ~is_record):
            m.d.sync += [
                record_data.eq(record_word << (lane * 64)),
                record_strb.eq(Const((1 << RECORD_BYTES) - 1, beat_bytes) << (lane * 8)),
            ]
        with m.If(w_free):
            m.d.sync += cur.eq(job)
        with m.If(start_record):
            m.d.comb += [record_q.r_en.eq(1), retire_q.w_en.eq(1),
                         retire_q.w_data.eq(record_q.r_data)]
            m.d.sync += [self.aw.valid.eq(1), streaming.eq(1), is_record.eq(1),
                         beats_left.eq(1), last_beat.eq(1)]
        with m.Elif(start_data):
            m.d.comb += self.job.ready.eq(1)
            m.d.sync += [self.aw.valid.eq(1), streaming.eq(1), is_record.eq(0),
                         beats_left.eq(job.beats), last_beat.eq(job.beats == 1),
                         cur_code.eq(0)]
        # A descriptor end without data (a failed check or an abort) joins the B order
        # when no burst is open, in the same cycle as a record that starts: the two
        # share nothing, and its condition is then free of the record queue's head.
        with m.If(~streaming & self.job.valid & job.end & done_q.w_rdy):
            m.d.comb += [
                self.job.ready.eq(1),
                done_q.w_en.eq(1),
                done_entry.end.eq(1), done_entry.ch.eq(job.ch), done_entry.last.eq(1),
                done_entry.irq.eq(job.irq), done_entry.completion.eq(job.completion),
                done_entry.code.eq(job.code), done_entry.record.eq(job.record),
            ]
        m.d.sync += writes_out.eq(writes_out + (start_record | start_data)
                                  - (self.b.valid & self.b.ready))

        m.d.comb += [
            self.w.valid.eq(streaming & (is_record | self.buf.valid)),
            self.w.payload.data.eq(Mux(is_record, record_data, self.buf.payload.data)),
            self.w.payload.strb.eq(Mux(is_record, record_strb,
                                       Mux(beat_error, 0, all_strobes))),
            self.w.payload.last.eq(last_beat),
            self.w_id.eq(Mux(is_record, RECORD_WRITE_ID, DATA_WRITE_ID)),
            self.buf.ready.eq(streaming & ~is_record & self.w.ready),
        ]
        with m.If(ending & ~is_record):
            m.d.comb += [
                done_q.w_en.eq(1),
                done_entry.ch.eq(cur.ch), done_entry.bytes.eq(cur.beats * beat_bytes),
                done_entry.last.eq(cur.last), done_entry.irq.eq(cur.irq),
                done_entry.completion.eq(cur.completion), done_entry.code.eq(code_now),
                done_entry.record.eq(1),
            ]

        # --- B responses of data bursts, in order: close descriptors ---
        acc_code = Signal(CODE_WIDTH)
        acc_bytes = Signal(32)
        failed = Signal(n)
        head = done_head
        write_code = Mux(self.b.payload.resp == RESP_DECERR,
                         Status.WRITE_DECERR, Status.WRITE_SLVERR)
        burst_code = Mux(head.code != 0, head.code,
                         Mux(self.b.payload.resp != RESP_OKAY, write_code, 0))
        final_code = Signal(CODE_WIDTH)
        final_bytes = Signal(32)
        closing = Signal()
        with m.If(done_q.r_rdy & record_q.w_rdy):
            with m.If(head.end):
                m.d.comb += [
                    done_q.r_en.eq(1), closing.eq(1),
                    final_code.eq(Mux(acc_code != 0, acc_code, head.code)),
                    final_bytes.eq(acc_bytes),
                ]
            with m.Elif(self.b.valid & (self.b.payload.id == DATA_WRITE_ID)):
                m.d.comb += [
                    self.b.ready.eq(1), done_q.r_en.eq(1),
                    closing.eq(head.last),
                    final_code.eq(Mux(acc_code != 0, acc_code, burst_code)),
                    final_bytes.eq(Mux((acc_code == 0) & (burst_code == 0),
                                       acc_bytes + head.bytes, acc_bytes)),
                ]
                with m.If(self.b.payload.resp != RESP_OKAY):
                    set_channel_bit(m, "comb", self.stop, head.ch, n)
                m.d.sync += [acc_code.eq(final_code), acc_bytes.eq(final_bytes)]
        head_failed = (failed >> head.ch)[0]
        with m.If(closing):
            m.d.sync += [acc_code.eq(0), acc_bytes.eq(0)]
            with m.If(head_failed):
                set_channel_bit(m, "comb", self.dropped, head.ch, n)
            with m.Else():
                record = Signal(retirement(n))
                m.d.comb += [
                    record.ch.eq(head.ch), record.completion.eq(head.completion),
                    record.code.eq(final_code), record.bytes.eq(final_bytes),
                    record.irq.eq(head.irq), record.record.eq(head.record | (acc_code != 0)),
                    record_q.w_en.eq(1), record_q.w_data.eq(record),
                ]
                with m.If(final_code != 0):
                    set_channel_bit(m, "sync", failed, head.ch, n)
        for c in range(n):
            with m.If(self.clear[c]):
                m.d.sync += failed[c].eq(0)

        # A descriptor that gets no record goes straight to the retire order.
        with m.If(record_q.r_rdy & ~record_head.record & retire_q.w_rdy):
            m.d.comb += [record_q.r_en.eq(1), retire_q.w_en.eq(1),
                         retire_q.w_data.eq(record_q.r_data)]

        # --- Retire in order, once the record write is acknowledged ---
        with m.If(retire_q.r_rdy):
            with m.If(~retire_head.record):
                m.d.comb += [retire_q.r_en.eq(1), self.retire.valid.eq(1),
                             self.retire.payload.eq(retire_head)]
            with m.Elif(self.b.valid & (self.b.payload.id == RECORD_WRITE_ID)):
                m.d.comb += [
                    self.b.ready.eq(1), retire_q.r_en.eq(1), self.retire.valid.eq(1),
                    self.retire.payload.eq(retire_head),
                ]
                with m.If(self.b.payload.resp != RESP_OKAY):
                    m.d.comb += self.retire.payload.code.eq(Status.RECORD_WRITE_ERROR)
                    set_channel_bit(m, "comb", self.stop, retire_head.ch, n)
                    set_channel_bit(m, "sync", failed, retire_head.ch, n)

        m.d.comb += self.idle.eq(~streaming & ~self.job.valid & ~done_q.r_rdy
                                 & ~record_q.r_rdy & ~retire_q.r_rdy & ~self.aw.valid)

        # --- Where each channel's time goes ---
        for c in range(n):
            mine = cur.ch == c
            m.d.comb += [
                self.read_wait[c].eq(
                    (streaming & ~is_record & mine & ~self.buf.valid)
                    | (~streaming & self.job.valid & ~job.end & (job.ch == c)
                       & (pending_beats < job.beats))),
                self.write_wait[c].eq(
                    (streaming & ~is_record & mine & self.w.valid & ~self.w.ready)
                    | (~streaming & self.job.valid & ~job.end & (job.ch == c)
                       & (pending_beats >= job.beats) & ~can_issue)),
            ]
        return m
