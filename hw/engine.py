"""The scatter-gather DMA copy engine: top level."""
from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .axi import AXI4LiteSignature, AXI4Signature, BURST_INCR
from .channel import ChannelControl
from .counters import COUNTERS, PerfCounters
from .fetcher import DescriptorFetcher
from .fifo import PrefetchFifo
from .formal.properties import stating
from .interrupts import InterruptControl
from .layouts import AXI_ID_WIDTH, write_job
from .legalizer import BurstLegalizer
from .params import EngineParams
from .reader import ReadPort
from .regblock import RegisterBlock
from .regmap import REG_ADDR_WIDTH, load_regmap
from .responses import ResponseFilter
from .writer import RECORD_WRITE_ID, WritePort


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
    (:class:`BurstLegalizer`, a job queue and :class:`WritePort`) copies
    them with many bursts in flight and writes a completion record for each.
    Both read through :class:`ReadPort`, which holds the read/write buffer.
    :class:`ChannelControl` keeps each ring's pointers and state,
    :class:`InterruptControl` INT_STATUS and the interrupt, and
    :class:`PerfCounters` the counters, and :class:`ResponseFilter` drops
    responses the engine was not owed (BUS_STATUS); this module only wires them.
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
        axi = self.m_axi

        regs = m.submodules.regs = RegisterBlock(self.regmap, n)
        fetcher = m.submodules.fetcher = DescriptorFetcher(p)
        legalizer = m.submodules.legalizer = BurstLegalizer(p)
        jobs = m.submodules.jobs = PrefetchFifo(write_job(n).size, p.outstanding_reads + 8)
        writer = m.submodules.writer = WritePort(p)
        reads = m.submodules.reads = ReadPort(p)
        channels = m.submodules.channels = ChannelControl(n)
        interrupts = m.submodules.interrupts = InterruptControl(n)
        counters = m.submodules.counters = PerfCounters(n)
        responses = m.submodules.responses = ResponseFilter(p)

        def reg(path, name):
            return regs.field(path, name)

        def software_write(path, name, stream):
            """Drive ``stream`` (a :func:`~hw.regblock.register_write`) with
            software's writes of an external register field."""
            port = reg(path, name)
            m.d.comb += [stream.valid.eq(port.wstb),
                         stream.payload.eq(port.wdata[:len(stream.payload)])]

        wiring.connect(m, wiring.flipped(self.s_axil), regs.bus)

        # --- Capabilities ---
        for path, name, value in (
                ("caps0", "beat_bytes_log2", p.beat_shift),
                ("caps0", "channels", n),
                ("caps0", "max_burst", p.max_burst),
                ("caps1", "outstanding_reads", p.outstanding_reads),
                ("caps1", "outstanding_writes", p.outstanding_writes),
                ("caps1", "prefetch_depth", p.prefetch_depth),
                ("caps2", "buffer_depth", p.buffer_depth)):
            m.d.comb += reg(path, name).value.eq(value)

        # --- Stages: fetcher -> legalizer -> job queue -> write port; reads through the
        # read port, whose buffer holds the data between read and write ---
        wiring.connect(m, fetcher.ar, reads.fetch_ar)
        wiring.connect(m, reads.fetch_r, fetcher.r)
        wiring.connect(m, fetcher.desc, legalizer.desc)
        wiring.connect(m, legalizer.ar, reads.copy_ar)
        wiring.connect(m, legalizer.job, jobs.w)
        wiring.connect(m, jobs.r, writer.job)
        wiring.connect(m, reads.beats, writer.buf)
        m.d.comb += [
            legalizer.buffer_free.eq(reads.free_beats),
            legalizer.reads_free.eq(reads.read_slot),
            legalizer.backend_idle.eq(writer.idle & jobs.empty & ~reads.reading),
            writer.arrived.eq(reads.data_beat),
            writer.reads_in_flight.eq(reads.reading),
        ]

        # --- AXI4 master: AR and R from the read port, AW, W and B from the write port ---
        m.d.comb += [
            axi.arvalid.eq(reads.axi_ar.valid), reads.axi_ar.ready.eq(axi.arready),
            axi.arid.eq(reads.axi_ar.payload.id), axi.araddr.eq(reads.axi_ar.payload.addr),
            axi.arlen.eq(reads.axi_ar.payload.len),
            axi.arsize.eq(p.beat_shift), axi.arburst.eq(BURST_INCR),
            responses.r_in.valid.eq(axi.rvalid), axi.rready.eq(responses.r_in.ready),
            responses.r_in.payload.id.eq(axi.rid), responses.r_in.payload.data.eq(axi.rdata),
            responses.r_in.payload.resp.eq(axi.rresp),
            responses.r_in.payload.last.eq(axi.rlast),
            axi.awvalid.eq(writer.aw.valid), writer.aw.ready.eq(axi.awready),
            axi.awid.eq(writer.aw.payload.id), axi.awaddr.eq(writer.aw.payload.addr),
            axi.awlen.eq(writer.aw.payload.len),
            axi.awsize.eq(p.beat_shift), axi.awburst.eq(BURST_INCR),
            axi.wvalid.eq(writer.w.valid), writer.w.ready.eq(axi.wready),
            axi.wdata.eq(writer.w.payload.data), axi.wstrb.eq(writer.w.payload.strb),
            axi.wlast.eq(writer.w.payload.last),
            responses.b_in.valid.eq(axi.bvalid), axi.bready.eq(responses.b_in.ready),
            responses.b_in.payload.id.eq(axi.bid), responses.b_in.payload.resp.eq(axi.bresp),
        ]
        # --- Responses: those owed go on to the read and write ports, others are dropped ---
        wiring.connect(m, responses.r_out, reads.axi_r)
        wiring.connect(m, responses.b_out, writer.b)
        software_write("bus_status", "unexpected_r", responses.clear_r)
        software_write("bus_status", "unexpected_b", responses.clear_b)
        m.d.comb += [
            responses.ar_done.eq(axi.arvalid & axi.arready), responses.ar_id.eq(axi.arid),
            responses.aw_done.eq(axi.awvalid & axi.awready), responses.aw_id.eq(axi.awid),
            responses.w_last_done.eq(axi.wvalid & axi.wready & axi.wlast),
            responses.w_id.eq(writer.w_id),
            reg("bus_status", "unexpected_r").value.eq(responses.unexpected_r),
            reg("bus_status", "unexpected_b").value.eq(responses.unexpected_b),
        ]

        # --- Channel control between the stages ---
        wiring.connect(m, writer.retire, channels.retired)
        m.d.comb += [
            channels.fetched.eq(fetcher.fetch_ptr),
            channels.fetching.eq(fetcher.issued),
            channels.dropped_unissued.eq(legalizer.dropped),
            channels.dropped_failed.eq(writer.dropped),
            channels.check_failed.eq(legalizer.faulted),
            channels.copy_failed.eq(writer.stop),
            fetcher.tail.eq(channels.ring_tail),
            fetcher.enable.eq(~channels.stopped),
            fetcher.rewind.eq(channels.cleared),
            legalizer.stop.eq(channels.stopped),
            writer.clear.eq(channels.cleared),
        ]

        # --- Interrupts ---
        software_write("int_status", "done", interrupts.clear_done)
        software_write("int_status", "error", interrupts.clear_error)
        m.d.comb += [
            interrupts.completion.eq(channels.notify),
            interrupts.halt.eq(channels.halting),
            interrupts.flush.eq(channels.cleared),
            interrupts.enable_done.eq(reg("int_enable", "done").value),
            interrupts.enable_error.eq(reg("int_enable", "error").value),
            interrupts.coal_count.eq(reg("irq_coal", "count").value),
            interrupts.coal_timer.eq(reg("irq_coal", "timer").value),
            reg("int_status", "done").value.eq(interrupts.done),
            reg("int_status", "error").value.eq(interrupts.error),
            self.irq.eq(interrupts.interrupt),
        ]

        # --- Performance counters ---
        m.d.comb += [
            counters.add_descs.eq(channels.completed),
            counters.add_bytes.eq(channels.retired_bytes),
            counters.add_busy.eq(channels.busy),
            counters.add_rd_wait.eq(writer.read_wait),
            counters.add_wr_wait.eq(writer.write_wait),
        ]

        # --- Registers of each channel ---
        for c in range(n):
            chan = f"chan[{c}]"
            software_write(f"{chan}.tail", "index", channels.tail_write[c])
            software_write(f"{chan}.ctrl", "abort", channels.abort_write[c])
            software_write(f"{chan}.ctrl", "reset", channels.reset_write[c])
            m.d.comb += [
                fetcher.ring_base[c].eq(Cat(reg(f"{chan}.ring_base_lo", "addr").value,
                                            reg(f"{chan}.ring_base_hi", "addr").value)),
                fetcher.ring_size[c].eq(reg(f"{chan}.ring_size", "entries").value),
                channels.entries[c].eq(reg(f"{chan}.ring_size", "entries").value),
                reg(f"{chan}.tail", "index").value.eq(channels.ring_tail[c]),
                reg(f"{chan}.head", "index").value.eq(channels.ring_head[c]),
                reg(f"{chan}.status", "busy").value.eq(channels.busy[c]),
                reg(f"{chan}.status", "halted").value.eq(channels.halted[c]),
                reg(f"{chan}.status", "code").value.eq(channels.code[c]),
            ]
            for registers in COUNTERS.values():
                for register in registers:
                    m.d.comb += reg(f"{chan}.{register}", "count").value.eq(
                        getattr(counters, register)[c])

        # Idle: no channel has work, no coalescing timer runs, every count is added.
        m.d.comb += self.idle.eq(~(channels.busy | interrupts.timing | counters.counting).any())
        props = stating(platform)
        if props:
            self._properties(m, props, fetcher, channels)
        return m

    def _properties(self, m, props, fetcher, channels):
        """Every descriptor fetched gets one completion record: never more records
        than descriptors, and as many once the engine is idle, unless a channel
        halted, aborted or was reset (a descriptor may then end without one)."""
        axi = self.m_axi
        fetched = Signal(8)
        records = Signal(8)
        troubled = Signal()             # a channel halted or was reset, at some time
        m.d.sync += [
            fetched.eq(fetched + (fetcher.issued != 0)),
            records.eq(records + (axi.awvalid & axi.awready & (axi.awid == RECORD_WRITE_ID))),
        ]
        with m.If(channels.halted.any() | channels.cleared.any()):
            m.d.sync += troubled.eq(1)
        props.check(m, "engine.one_record_per_descriptor",
                    (records <= fetched) & (~self.idle | troubled | (records == fetched)),
                    "each descriptor fetched gets exactly one completion record (unless "
                    "its channel halts or is reset)")
        props.cover(m, "engine.cover.descriptor_completes",
                    self.idle & (records == 1) & ~troubled,
                    "a descriptor completes with its record, and the engine is idle")
