"""Responses the engine did not ask for: dropped at the AXI master port, and reported."""
from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .formal.properties import stating
from .layouts import AXI_ID_WIDTH, axi_read_data, axi_write_response
from .reader import DATA_ID, FETCH_ID
from .regblock import register_write
from .writer import DATA_WRITE_ID, RECORD_WRITE_ID


class ResponseFilter(wiring.Component):
    """Passes on the R beats and B responses the engine is owed; drops the others.

    Owed, by the AXI rules: an R beat of an ID with a read accepted (``ar_done``,
    ``ar_id``) and not yet ended by its RLAST beat; a B of an ID with a write
    whose AW was accepted (``aw_done``, ``aw_id``) and whose last W beat was
    accepted (``w_last_done``, ``w_id``) and that is not yet answered. Same-ID
    responses come in order, so counts per ID decide. A response in the same
    cycle as its request's handshake is early: the slave must wait for the
    handshake before it answers.

    Owed responses go through unchanged (``r_in`` to ``r_out``, ``b_in`` to
    ``b_out``, B with its ready). Any other is accepted at once (RREADY and
    BREADY high) and dropped, and sets ``unexpected_r`` or ``unexpected_b``
    (BUS_STATUS), which stay set until software clears them (``clear_r``,
    ``clear_b``: a write of 1). The beats within a burst are trusted to end at
    RLAST.
    """

    def __init__(self, params):
        self.params = params
        dw = params.data_width
        super().__init__({
            "ar_done": In(1), "ar_id": In(AXI_ID_WIDTH),
            "aw_done": In(1), "aw_id": In(AXI_ID_WIDTH),
            "w_last_done": In(1), "w_id": In(AXI_ID_WIDTH),
            "r_in": In(stream.Signature(axi_read_data(dw), always_ready=True)),
            "r_out": Out(stream.Signature(axi_read_data(dw), always_ready=True)),
            "b_in": In(stream.Signature(axi_write_response())),
            "b_out": Out(stream.Signature(axi_write_response())),
            "clear_r": In(register_write(1)),
            "clear_b": In(register_write(1)),
            "unexpected_r": Out(1),
            "unexpected_b": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        r, b = self.r_in, self.b_in
        # Whether each ID is owed a response is a register beside its counts, so that
        # passing a response on costs one LUT after the bus's inputs.
        owed_r = {rid: Signal(name=f"reads{rid}_owed") for rid in (DATA_ID, FETCH_ID)}
        owed_b = {bid: Signal(name=f"writes{bid}_owed")
                  for bid in (DATA_WRITE_ID, RECORD_WRITE_ID)}
        r_owed = Mux(r.payload.id == FETCH_ID, owed_r[FETCH_ID], owed_r[DATA_ID])
        b_owed = Mux(b.payload.id == RECORD_WRITE_ID, owed_b[RECORD_WRITE_ID],
                     owed_b[DATA_WRITE_ID])
        r_end = r.valid & r_owed & r.payload.last
        b_taken = b.valid & b_owed & self.b_out.ready

        for rid, limit in ((DATA_ID, p.outstanding_reads), (FETCH_ID, p.prefetch_depth)):
            opened = self.ar_done & (self.ar_id == rid)
            ended = r_end & (r.payload.id == rid)
            m.d.sync += owed_r[rid].eq(
                _nonzero_next(m, f"reads{rid}_open", limit, opened, ended, owed_r[rid]))
        for bid in (DATA_WRITE_ID, RECORD_WRITE_ID):
            answered = b_taken & (b.payload.id == bid)
            accepted, written = (Signal(name=f"writes{bid}_{what}_nonzero")
                                 for what in ("accepted", "written"))
            accepted_next = _nonzero_next(m, f"writes{bid}_accepted", p.outstanding_writes,
                                          self.aw_done & (self.aw_id == bid), answered,
                                          accepted)
            written_next = _nonzero_next(m, f"writes{bid}_written", p.outstanding_writes,
                                         self.w_last_done & (self.w_id == bid), answered,
                                         written)
            m.d.sync += [accepted.eq(accepted_next), written.eq(written_next),
                         owed_b[bid].eq(accepted_next & written_next)]

        m.d.comb += [
            self.r_out.valid.eq(r.valid & r_owed),
            self.r_out.payload.eq(r.payload),
            self.b_out.valid.eq(b.valid & b_owed),
            self.b_out.payload.eq(b.payload),
            b.ready.eq(Mux(b_owed, self.b_out.ready, 1)),
        ]
        for flag, clear, dropped in ((self.unexpected_r, self.clear_r, r.valid & ~r_owed),
                                     (self.unexpected_b, self.clear_b, b.valid & ~b_owed)):
            cleared = clear.valid & clear.payload
            m.d.sync += flag.eq((flag & ~cleared) | dropped)

        props = stating(platform)
        if props:
            props.cover(m, "responses.cover.unexpected_r", self.unexpected_r,
                        "an R beat nobody asked for is dropped and reported")
            props.cover(m, "responses.cover.unexpected_b", self.unexpected_b,
                        "a B nobody asked for is dropped and reported")
        return m


def _nonzero_next(m, name, limit, up, down, nonzero):
    """A count of at most ``limit`` that ``up`` raises and ``down`` lowers; returns
    whether it is nonzero after this cycle, given ``nonzero``, the register of whether
    it is now (one compare of the count, with 1, and no adder on the way)."""
    count = Signal(range(limit + 1), name=name)
    m.d.sync += count.eq(count + up - down)
    return up | (nonzero & ~(down & (count == 1)))
