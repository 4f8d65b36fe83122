"""Per-channel control: ring pointers, halt, abort and reset of every channel."""
from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .descriptor import Status
from .formal.properties import stating
from .layouts import CODE_WIDTH, RECORD_FIELD_BITS, retirement
from .regblock import register_write

#: Width of a ring index (HEAD, TAIL, RING_SIZE).
INDEX_BITS = 16


class ChannelControl(wiring.Component):
    """The state of each channel's descriptor ring, from software's and the stages' side.

    ``tail_write`` sets a channel's ``ring_tail``; every descriptor ``fetched``
    has not yet reached is work for the fetcher. A descriptor is in flight from
    its fetch (``fetching``) until it is dropped (``dropped_unissued``,
    ``dropped_failed``) or ``retired``. Each retirement of the channel advances
    ``ring_head`` (wrapping at ``entries``) and pulses ``completed`` if its code
    is 0; otherwise it pulses ``failed``, sets ``halted`` and ``code`` and
    pulses ``halting``. Once halted, a channel's later retirements change
    nothing. ``notify`` pulses with ``completed`` for a descriptor with the
    INTERRUPT flag; ``retired_bytes`` is the byte count of a completed or
    failed retirement, else 0.

    ``stopped`` (no more fetches or bursts) is set by ``check_failed``,
    ``copy_failed``, ``abort_write`` and ``reset_write`` (a write of 1). An
    abort completes once nothing is in flight: ``halted`` with code ABORTED
    unless already halted, and ``halting`` pulses. A reset completes likewise:
    it ends an abort, zeroes ``ring_head``, ``ring_tail``, ``halted`` and
    ``code``, clears ``stopped`` and pulses ``cleared`` (for the stages to
    rewind). ``busy`` while descriptors are in flight or still to be fetched
    (unless stopped), and while an abort or a reset is under way.
    """

    def __init__(self, channels):
        self.channels = n = channels
        index = data.ArrayLayout(INDEX_BITS, n)
        super().__init__({
            "entries": In(index),
            "tail_write": In(register_write(INDEX_BITS)).array(n),
            "abort_write": In(register_write(1)).array(n),
            "reset_write": In(register_write(1)).array(n),
            "fetched": In(index),
            "fetching": In(n),
            "dropped_unissued": In(n),
            "dropped_failed": In(n),
            "check_failed": In(n),
            "copy_failed": In(n),
            "retired": In(stream.Signature(retirement(n), always_ready=True)),
            "ring_tail": Out(index),
            "ring_head": Out(index),
            "halted": Out(n),
            "code": Out(data.ArrayLayout(CODE_WIDTH, n)),
            "busy": Out(n),
            "stopped": Out(n),
            "cleared": Out(n),
            "completed": Out(n),
            "failed": Out(n),
            "halting": Out(n),
            "notify": Out(n),
            "retired_bytes": Out(data.ArrayLayout(RECORD_FIELD_BITS["bytes"], n)),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.channels
        retire = self.retired.payload
        inflight = Signal(data.ArrayLayout(INDEX_BITS, n))
        aborting = Signal(n)
        resetting = Signal(n)

        for c in range(n):
            tail = self.ring_tail[c]
            head = self.ring_head[c]
            halted = self.halted[c]
            code = self.code[c]
            stop = self.stopped[c]
            mine = self.retired.valid & (retire.ch == c)
            # After a failure the channel stays at the failing descriptor: a later
            # one whose record was already under way retires without counting.
            ok = mine & (retire.code == 0) & ~halted
            failed = mine & (retire.code != 0) & ~halted
            m.d.comb += [
                self.completed[c].eq(ok),
                self.failed[c].eq(failed),
                self.notify[c].eq(ok & retire.irq),
                self.retired_bytes[c].eq(Mux(ok | failed, retire.bytes, 0)),
                self.busy[c].eq((inflight[c] != 0) | ((self.fetched[c] != tail) & ~stop)
                                | resetting[c] | aborting[c]),
            ]

            with m.If(self.tail_write[c].valid):
                m.d.sync += tail.eq(self.tail_write[c].payload)
            with m.If(ok):
                m.d.sync += head.eq(Mux(head + 1 == self.entries[c], 0, head + 1))
            with m.If(failed):
                m.d.sync += [halted.eq(1), code.eq(retire.code)]
                m.d.comb += self.halting[c].eq(1)
            m.d.sync += inflight[c].eq(inflight[c] + self.fetching[c]
                                       - self.dropped_unissued[c] - self.dropped_failed[c]
                                       - mine)

            # Stop issuing on an error, an abort or a reset; complete them once drained.
            with m.If(self.check_failed[c] | self.copy_failed[c]):
                m.d.sync += stop.eq(1)
            with m.If(self.abort_write[c].valid & self.abort_write[c].payload):
                m.d.sync += [stop.eq(1), aborting[c].eq(1)]
            with m.If(self.reset_write[c].valid & self.reset_write[c].payload):
                m.d.sync += [stop.eq(1), resetting[c].eq(1)]
            drained = inflight[c] == 0
            with m.If(aborting[c] & drained):
                m.d.sync += [aborting[c].eq(0), halted.eq(1),
                             code.eq(Mux(halted, code, Status.ABORTED))]
                m.d.comb += self.halting[c].eq(1)
            with m.If(resetting[c] & drained):
                m.d.sync += [resetting[c].eq(0), aborting[c].eq(0), stop.eq(0),
                             halted.eq(0), code.eq(0), head.eq(0), tail.eq(0)]
                m.d.comb += self.cleared[c].eq(1)
            props = stating(platform)
            if props:
                self._properties(m, props, c, inflight[c], aborting[c], resetting[c])
        return m

    def _properties(self, m, props, c, inflight, aborting, resetting):
        """Channel ``c``'s properties, and software's side of the ring assumed: TAIL
        is written below RING_SIZE and never moved back over submitted work, and
        RING_SIZE is not changed while the channel is busy."""
        head, tail, entries = self.ring_head[c], self.ring_tail[c], self.entries[c]
        written = self.tail_write[c]

        def ahead(index):               # entries from HEAD up to ``index``, in ring order
            return Mux(index >= head, index - head, index + entries - head)
        props.assume(m, ~written.valid | ((written.payload < entries)
                                          & (ahead(written.payload) >= ahead(tail))),
                     "software writes TAIL inside the ring, never back over its work")
        size_before = Signal.like(entries, name=f"entries{c}_before")
        busy_before = Signal(name=f"busy{c}_before")
        m.d.sync += [size_before.eq(entries), busy_before.eq(self.busy[c])]
        props.assume(m, ~busy_before | (entries == size_before),
                     "software does not resize a busy ring")

        props.check(m, f"channel{c}.head_behind_tail", ~self.completed[c] | (head != tail),
                    "HEAD advances only over submitted descriptors: it never passes TAIL")
        props.check(m, f"channel{c}.halted_is_stopped", ~self.halted[c] | self.stopped[c],
                    "a halted channel is stopped: nothing fetches or issues for it")
        abort_done = Signal(name=f"abort{c}_done")
        reset_done = Signal(name=f"reset{c}_done")
        m.d.sync += [
            abort_done.eq(aborting & (inflight == 0) & ~resetting & ~self.reset_write[c].valid),
            reset_done.eq(self.cleared[c]),
        ]
        props.check(m, f"channel{c}.abort_ends_idle", ~abort_done | ~self.busy[c],
                    "an abort completes with nothing in flight, and the channel idle")
        props.check(m, f"channel{c}.reset_clears",
                    ~reset_done | ((head == 0) & (tail == 0) & ~self.halted[c]
                                   & (self.code[c] == 0) & ~self.stopped[c]),
                    "a completed reset leaves HEAD, TAIL, the halt and its code zero")
        with_work = Signal(name=f"abort{c}_with_work")   # written while work was in flight
        with m.If(self.abort_write[c].valid & self.abort_write[c].payload & (inflight != 0)):
            m.d.sync += with_work.eq(1)
        props.cover(m, f"channel{c}.cover.abort_drains", aborting & (inflight == 0) & with_work,
                    "an abort written while descriptors are in flight drains and completes")
        props.cover(m, f"channel{c}.cover.error_halts", self.failed[c],
                    "a descriptor's error halts the channel")
        props.cover(m, f"channel{c}.cover.reset_completes", self.cleared[c] & self.halted[c],
                    "a reset of a halted channel completes")
