"""Back-end entry: checks each descriptor and splits it into legal bursts."""
from amaranth import Module, Signal, Mux
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .descriptor import FLAG_FENCE, FLAG_INTERRUPT, Status
from .formal.properties import stating
from .layouts import descriptor_entry, read_request, set_channel_bit, write_job
from .params import AXI_BOUNDARY_BYTES

#: Check failures that end a descriptor without a completion record: its fetch failed,
#: or the record's address is not aligned.
NO_RECORD = (Status.DESC_READ_ERROR, Status.RECORD_MISALIGNED)


class BurstLegalizer(wiring.Component):
    """Turns descriptors into paired read and write bursts.

    A burst is cut at ``burst_beats_max`` and wherever source or destination
    crosses a 4 KiB boundary, so read and write burst of a pair have the same
    length. Each issued read (``ar``, AXI ID 0) is queued as a DATA job for the
    write side (``job``, a register: the job is offered from the next cycle on,
    so that the job queue's fill level is not at the end of the issue
    decision); a read is issued only when the buffer has room for all its
    beats (``buffer_free``), ``reads_free`` and the job register has room.

    A descriptor that failed the fetcher's checks (``check``, see
    :func:`hw.fetcher.descriptor_check`) ends with an END of its code and no
    burst, with a record unless the code is one that gets none
    (:data:`NO_RECORD`). ``faulted`` pulses the channel of such a descriptor.
    A descriptor of a stopped channel (``stop``) is dropped (``dropped``
    pulses) if none of it was issued, else closed with an ABORTED END. A FENCE
    descriptor waits for ``backend_idle`` and its own job register to empty; the
    idle it sees is a cycle old (a register, so that the back-end's state is not
    at the start of the issue decision), which is safe: only this legalizer's job
    register gives the back-end new work, and a job pushed since shows in it.
    """

    def __init__(self, params):
        self.params = params
        n = params.channels
        super().__init__({
            "desc": In(stream.Signature(descriptor_entry(n))),
            "stop": In(n),
            "backend_idle": In(1),
            "buffer_free": In(range(params.buffer_depth + 1)),
            "reads_free": In(1),
            "ar": Out(stream.Signature(read_request())),
            "job": Out(stream.Signature(write_job(n))),
            "dropped": Out(n),
            "faulted": Out(n),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        n = p.channels
        beat_bytes = p.beat_bytes
        beat_shift = p.beat_shift

        active = Signal()
        issued_any = Signal()
        cur = Signal(descriptor_entry(n))
        remaining = Signal(32)
        planned = Signal()              # burst_bytes and last describe cur's next burst
        burst_bytes = Signal(range(AXI_BOUNDARY_BYTES + 1))
        last = Signal()
        m.d.comb += self.idle.eq(~active & ~self.job.valid)

        d = self.desc.payload
        beats = burst_bytes >> beat_shift
        cur_stopped = (self.stop >> cur.ch)[0]

        # The job a push queues: chosen by registers (``active``, the stop of the
        # current descriptor's channel), never by the decision to push, which
        # drives only ``job.valid``. Idle, it is the END of a descriptor that
        # failed its checks; active, a DATA burst of ``cur`` or, once stopped, its
        # ABORTED END.
        push = Signal()
        push_job = Signal(write_job(n))
        m.d.comb += [
            push_job.end.eq(~active | cur_stopped),
            push_job.ch.eq(Mux(active, cur.ch, d.ch)),
            push_job.completion.eq(Mux(active, cur.completion, d.completion)),
            push_job.irq.eq((Mux(active, cur.flags, d.flags) & FLAG_INTERRUPT) != 0),
            push_job.code.eq(Mux(active, Mux(cur_stopped, Status.ABORTED, 0), d.check)),
            push_job.record.eq(Mux(active, cur_stopped, ~d.check.matches(*NO_RECORD))),
            push_job.addr.eq(cur.dst),
            push_job.beats.eq(beats),
            push_job.last.eq(last),
        ]
        job_room = ~self.job.valid | self.job.ready
        with m.If(job_room):
            m.d.sync += [self.job.valid.eq(push), self.job.payload.eq(push_job)]

        def pulse(vector, ch):
            set_channel_bit(m, "comb", vector, ch, n)

        # Take a new descriptor. While idle, the descriptor at the queue's
        # head is loaded whether or not it is taken: only ``active`` says so.
        stopped = Signal()
        m.d.comb += stopped.eq((self.stop >> d.ch)[0])
        with m.If(~active):
            m.d.sync += [
                issued_any.eq(0),
                cur.eq(d),
                remaining.eq(d.len),
                planned.eq(0),
            ]
        with m.If(~active & job_room):
            m.d.comb += self.desc.ready.eq(1)
            with m.If(self.desc.valid):
                with m.If(stopped):
                    pulse(self.dropped, d.ch)
                with m.Elif(d.check != 0):
                    m.d.comb += push.eq(1)
                    pulse(self.faulted, d.ch)
                with m.Else():
                    m.d.sync += active.eq(1)

        # Plan the next burst of the active descriptor (cut at the 4 KiB boundaries
        # and the longest burst), then issue it in a later cycle: the boundary and
        # length arithmetic ends in registers, off the path that issues a burst.
        boundary = AXI_BOUNDARY_BYTES
        offset_bits = boundary.bit_length() - 1
        src_offset, dst_offset = cur.src[:offset_bits], cur.dst[:offset_bits]
        # The burst is the least of three limits: to the source's boundary, to the
        # destination's, and the longest burst. Every comparison among them is made on
        # the offsets in parallel with the subtractions, and "the rest fits" compares
        # the remainder with each limit on its own, so only one carry chain (a
        # subtraction, then a comparison) is in series before the choice.
        to_src = Signal(range(boundary + 1))
        to_dst = Signal(range(boundary + 1))
        src_nearer = Signal()           # to_src <= to_dst
        src_short = Signal()            # to_src < max_burst_bytes
        dst_short = Signal()            # to_dst < max_burst_bytes
        limit = Signal(range(boundary + 1))
        fits = Signal()                 # the rest of the descriptor is one burst
        plan_bytes = Signal(range(boundary + 1))
        max_burst_bytes = p.burst_beats_max * beat_bytes
        rest = remaining[:offset_bits + 1]
        m.d.comb += [
            to_src.eq(boundary - src_offset),
            to_dst.eq(boundary - dst_offset),
            src_nearer.eq(src_offset >= dst_offset),
            src_short.eq(src_offset > boundary - max_burst_bytes),
            dst_short.eq(dst_offset > boundary - max_burst_bytes),
            limit.eq(Mux(src_nearer,
                         Mux(src_short, to_src, max_burst_bytes),
                         Mux(dst_short, to_dst, max_burst_bytes))),
            fits.eq((remaining[offset_bits + 1:] == 0) & (rest <= to_src)
                    & (rest <= to_dst) & (rest <= max_burst_bytes)),
            plan_bytes.eq(Mux(fits, remaining, limit)),
        ]
        # The back-end and the job register were both empty in the cycle before.
        was_idle = Signal()
        m.d.sync += was_idle.eq(self.backend_idle & ~self.job.valid)
        fenced = (((cur.flags & FLAG_FENCE) != 0) & ~issued_any
                  & (~was_idle | self.job.valid))

        with m.If(active):
            with m.If(cur_stopped):
                with m.If(issued_any):
                    with m.If(job_room):
                        m.d.comb += push.eq(1)
                        m.d.sync += active.eq(0)
                with m.Else():
                    pulse(self.dropped, cur.ch)
                    m.d.sync += active.eq(0)
            with m.Elif(~planned):
                m.d.sync += [
                    burst_bytes.eq(plan_bytes),
                    last.eq(fits),
                    planned.eq(1),
                ]
            with m.Elif(~fenced & self.reads_free & (self.buffer_free >= beats)
                        & job_room):
                m.d.comb += [
                    self.ar.valid.eq(1),
                    self.ar.payload.addr.eq(cur.src),
                    self.ar.payload.len.eq(beats - 1),
                ]
                with m.If(self.ar.ready):
                    m.d.comb += push.eq(1)
                    m.d.sync += [
                        cur.src.eq(cur.src + burst_bytes),
                        cur.dst.eq(cur.dst + burst_bytes),
                        remaining.eq(remaining - burst_bytes),
                        issued_any.eq(1),
                        planned.eq(0),
                    ]
                    with m.If(last):
                        m.d.sync += active.eq(0)
        props = stating(platform)
        if props:
            props.check(m, "legalizer.stopped_issues_nothing",
                        ~self.ar.valid | (active & ~cur_stopped),
                        "no burst is issued for a stopped (or halted) channel")
        return m
