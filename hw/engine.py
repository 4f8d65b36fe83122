"""The scatter-gather DMA copy engine: top level."""
from amaranth import Cat, Module, Signal, Mux
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from .axi import AXI4LiteSignature, AXI4Signature, BURST_INCR
from .descriptor import Status
from .fetcher import DescriptorFetcher
from .layouts import AXI_ID_WIDTH, CODE_WIDTH, buffered_beat, write_job
from .legalizer import BurstLegalizer
from .params import EngineParams
from .regblock import RegisterBlock
from .regmap import REG_ADDR_WIDTH, load_regmap
from .writer import WritePort

COUNTERS = ("descs", "bytes", "busy", "rd_wait", "wr_wait")


class DmaEngine(wiring.Component):
    """Multi-channel scatter-gather memory-to-memory DMA engine.

    Ports: ``s_axil`` (AXI4-Lite slave, registers of ``hw/regs.rdl``),
    ``m_axi`` (AXI4 master shared by all channels), ``irq`` (level), ``idle``
    (no channel has work, nothing is in flight, no coalescing timer runs and
    the counters are up to date: nothing changes until a register is written;
    usable for clock gating).

    Each channel owns a descriptor ring in memory; writing its TAIL register
    submits every descriptor up to it. The front-end (:class:`DescriptorFetcher`)
    prefetches descriptors round-robin over busy channels; the back-end
    (:class:`BurstLegalizer`, a read/write buffer and :class:`WritePort`) copies
    them with many bursts in flight and writes a completion record for each.
    On an error a channel halts at the failing descriptor (HEAD stays there)
    with the code in STATUS; later descriptors of the channel get no record
    (except after RECORD_WRITE_ERROR, found only when the record's write is
    answered: records of descriptors finished meanwhile may already be
    written). The channel stays halted until software sets CTRL.reset, which, once the
    channel's work has drained, zeroes HEAD, TAIL and the error. CTRL.abort
    stops a channel after the bursts already issued complete.
    """

    def __init__(self, params=EngineParams()):
        self.params = params
        self.regmap = load_regmap()
        super().__init__({
            "s_axil": In(AXI4LiteSignature(addr_width=REG_ADDR_WIDTH)),
            "m_axi": Out(AXI4Signature(addr_width=params.addr_width,
                                       data_width=params.data_width,
                                       id_width=AXI_ID_WIDTH)),
            "irq": Out(1),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        n = p.channels
        beat_shift = p.beat_shift
        axi = self.m_axi

        regs = m.submodules.regs = RegisterBlock(self.regmap, n)
        wiring.connect(m, wiring.flipped(self.s_axil), regs.bus)
        fetcher = m.submodules.fetcher = DescriptorFetcher(p)
        legalizer = m.submodules.legalizer = BurstLegalizer(p)
        writer = m.submodules.writer = WritePort(p)
        buffer = m.submodules.buffer = fifo.SyncFIFOBuffered(
            width=buffered_beat(p.data_width).size, depth=p.buffer_depth)
        jobs = m.submodules.jobs = fifo.SyncFIFOBuffered(
            width=write_job(n).size, depth=p.outstanding_reads + 8)

        def reg(path, name):
            return regs.field(path, name)

        # --- Capabilities ---
        for path, name, value in (
                ("caps0", "beat_bytes_log2", beat_shift),
                ("caps0", "channels", n),
                ("caps0", "max_burst", p.max_burst),
                ("caps1", "outstanding_reads", p.outstanding_reads),
                ("caps1", "outstanding_writes", p.outstanding_writes),
                ("caps1", "prefetch_depth", p.prefetch_depth),
                ("caps2", "buffer_depth", p.buffer_depth)):
            m.d.comb += reg(path, name).value.eq(value)

        # --- AR: descriptor fetches (ID 1) before data reads (ID 0) ---
        reads_out = Signal(range(p.outstanding_reads + 1))
        # Buffer beats neither holding data nor reserved by an issued read; kept as
        # a register so that the legalizer compares against it directly.
        buffer_free = Signal(range(p.buffer_depth + 1), init=p.buffer_depth)
        data_read_issued = Signal()
        m.d.comb += [axi.arsize.eq(beat_shift), axi.arburst.eq(BURST_INCR),
                     axi.awsize.eq(beat_shift), axi.awburst.eq(BURST_INCR)]
        with m.If(axi.arvalid & axi.arready):
            m.d.sync += axi.arvalid.eq(0)
        with m.If(~axi.arvalid | axi.arready):
            with m.If(fetcher.ar.valid):
                m.d.comb += fetcher.ar.ready.eq(1)
                m.d.sync += [axi.arvalid.eq(1), axi.arid.eq(1),
                             axi.araddr.eq(fetcher.ar.payload.addr),
                             axi.arlen.eq(fetcher.ar.payload.len)]
            with m.Elif(legalizer.ar.valid):
                m.d.comb += [legalizer.ar.ready.eq(1), data_read_issued.eq(1)]
                m.d.sync += [axi.arvalid.eq(1), axi.arid.eq(0),
                             axi.araddr.eq(legalizer.ar.payload.addr),
                             axi.arlen.eq(legalizer.ar.payload.len)]

        # --- R: descriptor beats to the fetcher, data beats to the buffer ---
        data_beat = axi.rvalid & (axi.rid == 0)
        m.d.comb += [
            axi.rready.eq(1),
            fetcher.r.valid.eq(axi.rvalid & (axi.rid == 1)),
            fetcher.r.payload.data.eq(axi.rdata),
            fetcher.r.payload.resp.eq(axi.rresp),
            fetcher.r.payload.last.eq(axi.rlast),
            buffer.w_en.eq(data_beat),
            buffer.w_data.eq(Cat(axi.rdata, axi.rresp)),
        ]
        burst_beats = legalizer.ar.payload.len + 1
        m.d.sync += [
            reads_out.eq(reads_out + data_read_issued - (data_beat & axi.rlast)),
            buffer_free.eq(buffer_free - Mux(data_read_issued, burst_beats, 0)
                           + writer.popped),
        ]

        # --- Legalizer -> job queue -> write port ---
        wiring.connect(m, fetcher.desc, legalizer.desc)
        m.d.comb += [
            legalizer.buffer_free.eq(buffer_free),
            legalizer.reads_free.eq(reads_out < p.outstanding_reads),
            legalizer.backend_idle.eq(writer.idle & ~jobs.r_rdy & (reads_out == 0)),
            jobs.w_en.eq(legalizer.job.valid),
            jobs.w_data.eq(legalizer.job.payload),
            legalizer.job.ready.eq(jobs.w_rdy),
            writer.job.valid.eq(jobs.r_rdy),
            writer.job.payload.eq(jobs.r_data),
            jobs.r_en.eq(writer.job.ready),
            writer.buf.valid.eq(buffer.r_rdy),
            writer.buf.payload.eq(buffer.r_data),
            buffer.r_en.eq(writer.buf.ready),
            writer.arrived.eq(data_beat),
            writer.reads_in_flight.eq(reads_out != 0),
        ]

        # --- AW / W / B ---
        m.d.comb += [
            axi.awvalid.eq(writer.aw.valid), writer.aw.ready.eq(axi.awready),
            axi.awid.eq(writer.aw.payload.id), axi.awaddr.eq(writer.aw.payload.addr),
            axi.awlen.eq(writer.aw.payload.len),
            axi.wvalid.eq(writer.w.valid), writer.w.ready.eq(axi.wready),
            axi.wdata.eq(writer.w.payload.data), axi.wstrb.eq(writer.w.payload.strb),
            axi.wlast.eq(writer.w.payload.last),
            writer.b.valid.eq(axi.bvalid), axi.bready.eq(writer.b.ready),
            writer.b.payload.id.eq(axi.bid), writer.b.payload.resp.eq(axi.bresp),
        ]

        # --- Interrupt configuration ---
        int_done = Signal(n)
        int_error = Signal(n)
        status_reg = "int_status"
        done_port = reg(status_reg, "done")
        error_port = reg(status_reg, "error")
        m.d.comb += [done_port.value.eq(int_done), error_port.value.eq(int_error)]
        enable_done = reg("int_enable", "done").value
        enable_error = reg("int_enable", "error").value
        coal_count = reg("irq_coal", "count").value
        coal_timer = reg("irq_coal", "timer").value
        m.d.comb += self.irq.eq(((int_done & enable_done[:n]) != 0)
                                | ((int_error & enable_error[:n]) != 0))
        set_done = Signal(n)
        set_error = Signal(n)
        clear_done = Mux(done_port.wstb, done_port.wdata[:n], 0)
        clear_error = Mux(error_port.wstb, error_port.wdata[:n], 0)
        m.d.sync += [int_done.eq((int_done & ~clear_done) | set_done),
                     int_error.eq((int_error & ~clear_error) | set_error)]

        retire = writer.retire.payload
        retire_ok = writer.retire.valid & (retire.code == 0)
        retire_failed = writer.retire.valid & (retire.code != 0)
        threshold = Mux(coal_count == 0, 1, coal_count)

        # --- Per-channel state ---
        channel_idle = Signal(n)
        m.d.comb += self.idle.eq(channel_idle.all())
        for c in range(n):
            chan = f"chan[{c}]"
            base = Cat(reg(f"{chan}.ring_base_lo", "addr").value,
                       reg(f"{chan}.ring_base_hi", "addr").value)
            size = reg(f"{chan}.ring_size", "entries").value
            tail_port = reg(f"{chan}.tail", "index")
            ctrl_reset = reg(f"{chan}.ctrl", "reset")
            ctrl_abort = reg(f"{chan}.ctrl", "abort")

            tail = Signal(16)
            head = Signal(16)
            stop = Signal()
            halted = Signal()
            code = Signal(CODE_WIDTH)
            inflight = Signal(16)
            aborting = Signal()
            resetting = Signal()
            pending = Signal(8)
            timer = Signal(24)
            mine = retire.ch == c

            m.d.comb += [
                fetcher.ring_base[c].eq(base),
                fetcher.ring_size[c].eq(size),
                fetcher.tail[c].eq(tail),
                fetcher.enable[c].eq(~stop),
                legalizer.stop[c].eq(stop),
                tail_port.value.eq(tail),
                reg(f"{chan}.head", "index").value.eq(head),
                reg(f"{chan}.status", "halted").value.eq(halted),
                reg(f"{chan}.status", "code").value.eq(code),
            ]
            busy = ((inflight != 0) | ((fetcher.fetch_ptr[c] != tail) & ~stop)
                    | resetting | aborting)
            counting = Signal()         # a counter increment is still to be added
            m.d.comb += [
                reg(f"{chan}.status", "busy").value.eq(busy),
                channel_idle[c].eq(~busy & (timer == 0) & ~counting),
            ]

            with m.If(tail_port.wstb):
                m.d.sync += tail.eq(tail_port.wdata)
            # After a failure the channel stays at the failing descriptor: a later
            # one whose record was already under way retires without counting.
            ok = retire_ok & mine & ~halted
            failed = retire_failed & mine & ~halted
            with m.If(ok):
                m.d.sync += head.eq(Mux(head + 1 == size, 0, head + 1))
            with m.If(failed):
                m.d.sync += [halted.eq(1), code.eq(retire.code)]
                m.d.comb += set_error[c].eq(1)
            m.d.sync += inflight.eq(inflight + fetcher.issued[c] - legalizer.dropped[c]
                                    - writer.dropped[c] - (writer.retire.valid & mine))

            # Stop issuing on an error, an abort or a reset; complete them once drained.
            with m.If(legalizer.faulted[c] | writer.stop[c]):
                m.d.sync += stop.eq(1)
            with m.If(ctrl_abort.wstb & ctrl_abort.wdata):
                m.d.sync += [stop.eq(1), aborting.eq(1)]
            with m.If(ctrl_reset.wstb & ctrl_reset.wdata):
                m.d.sync += [stop.eq(1), resetting.eq(1)]
            drained = inflight == 0
            with m.If(aborting & drained):
                m.d.sync += [aborting.eq(0), halted.eq(1),
                             code.eq(Mux(halted, code, Status.ABORTED))]
                m.d.comb += set_error[c].eq(1)
            with m.If(resetting & drained):
                m.d.sync += [resetting.eq(0), aborting.eq(0), stop.eq(0), halted.eq(0),
                             code.eq(0), head.eq(0), tail.eq(0), pending.eq(0), timer.eq(0)]
                m.d.comb += [fetcher.clear[c].eq(1), writer.clear[c].eq(1)]

            # Interrupt coalescing: by count, and by a timer from the first unsignalled one.
            counted = ok & retire.irq
            expired = timer == 1
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.If(expired | (counted & (pending + 1 >= threshold))):
                m.d.sync += [pending.eq(0), timer.eq(0)]
                m.d.comb += set_done[c].eq(1)
            with m.Elif(counted):
                m.d.sync += pending.eq(pending + 1)
                with m.If(pending == 0):
                    m.d.sync += timer.eq(coal_timer)

            # --- Performance counters ---
            increments = {
                "descs": ok,
                "bytes": Mux(ok | failed, retire.bytes, 0),
                "busy": busy,
                "rd_wait": writer.read_wait[c],
                "wr_wait": writer.write_wait[c],
            }
            registered = []
            for name in COUNTERS:
                # Count straight into the register block's inputs: no extra logic
                # between counter and register. The increment is registered first,
                # so that a counter adds what happened one cycle earlier: its long
                # carry chain then starts at a register (and the channel is idle
                # only once every increment is added).
                if name == "descs":
                    counter = reg(f"{chan}.descs", "count").value
                else:
                    counter = Cat(reg(f"{chan}.{name}_lo", "count").value,
                                  reg(f"{chan}.{name}_hi", "count").value)
                increment = Signal.like(increments[name], name=f"{chan}_{name}_increment")
                m.d.sync += [increment.eq(increments[name]),
                             counter.eq(counter + increment)]
                registered.append(increment)
            m.d.comb += counting.eq(Cat(registered).any())
        return m
