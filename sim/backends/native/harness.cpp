// The compiled back-end's simulation: one or more Verilated engines (one model,
// instantiated per engine), the native AXI slave port serving each one's m_axi (the
// ports share the memory system: AxiSlave::share, configured from Python), and an
// AXI4-Lite master on each one's s_axil, all stepped in C++. With several engines, an
// engine at rest (idle, nothing in flight, no register access) is not evaluated.
//
// Python (sim/backends/verilator.py) calls in at transaction level: an MMIO access,
// "wait n cycles", "wait for the interrupt", "run these check periods". Timing is
// the contract of sim/backends/base.py, as on pysim and Icarus: one step of the AXI
// model per rising edge with the values driven before it; irq and idle are
// sampled before the edge; AXI4-Lite VALIDs rise after the next edge, RREADY and
// BREADY are high from edge 1 on, and an access returns at the edge of its R/B
// handshake. Reset is held for RESET_CYCLES edges first, as under cocotb.
//
// The waveform (fd_sim_trace) is on model time, in fs: rising edge k at k periods,
// cycles skipped as idle passing as time with the clock high (sim/backends/waveform.py).
//
// Compile-time parameters: BEAT_BYTES, STRB_BYTES (of m_axi), HAS_IDLE (the DUT
// has an ``idle`` output). Verilator escapes "__" in port names as "___05F".
#include <memory>
#include <vector>

#include "Vtop.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

#include "axi_slave.hpp"

using namespace foliodma;

namespace {

// sim.backends.base's, passed as -D (sim.backends.native.build.model_defines).
const int RESET_CYCLES = FD_RESET_CYCLES;
const int64_t IDLE_CHECK_CYCLES = FD_IDLE_CHECK_CYCLES;
const uint32_t AXIL_PROT = FD_AXIL_PROT;

// One engine: its Verilated model, the AXI slave port serving its m_axi, and the
// values sampled from it before the latest edge it was evaluated at.
struct Engine {
    std::unique_ptr<Vtop> top;
    AxiSlave axi;
    bool irq = false, idle = false;
    bool woken = true;                  // evaluate at the next edge whatever it sampled
    // s_axil outputs sampled before the latest edge
    bool s_awready = false, s_wready = false, s_bvalid = false, s_arready = false,
         s_rvalid = false;
    uint32_t s_bresp = 0, s_rresp = 0, s_rdata = 0;
    // m_axi inputs of the AXI model, sampled before the latest edge
    Address ar, aw;
    bool has_ar = false, has_aw = false, has_w = false, w_last = false, r_ready = false,
         b_ready = false;
    uint8_t wdata[BEAT_BYTES], wstrb[STRB_BYTES];

    Engine(VerilatedContext *context, uint8_t *memory, uint64_t base, uint64_t size)
        : top(new Vtop(context)), axi(memory, base, size, BEAT_BYTES) {}

    // Idle with nothing in flight and not being accessed: its state cannot change.
    bool resting() const { return !woken && idle && !axi.busy(); }

    void drive_slave_outputs() {
        Vtop &t = *top;
        t.m_axi___05Farready = axi.arready;
        t.m_axi___05Fawready = axi.awready;
        t.m_axi___05Fwready = axi.wready;
        t.m_axi___05Frvalid = axi.rvalid;
        t.m_axi___05Frid = axi.rid;
        memcpy(&t.m_axi___05Frdata, axi.rdata.data(), BEAT_BYTES);
        t.m_axi___05Frresp = axi.rresp;
        t.m_axi___05Frlast = axi.rlast;
        t.m_axi___05Fbvalid = axi.bvalid;
        t.m_axi___05Fbid = axi.bid;
        t.m_axi___05Fbresp = axi.bresp;
    }

    bool sample_idle() {
#if HAS_IDLE
        return top->idle;
#else
        return false;
#endif
    }

    // Before the edge: settle with the clock low and sample what the edge acts on.
    void settle_and_sample() {
        Vtop &t = *top;
        t.clk = 0;
        t.eval();
        irq = t.irq;
        idle = sample_idle();
        s_awready = t.s_axil___05Fawready;
        s_wready = t.s_axil___05Fwready;
        s_bvalid = t.s_axil___05Fbvalid;
        s_bresp = t.s_axil___05Fbresp;
        s_arready = t.s_axil___05Farready;
        s_rvalid = t.s_axil___05Frvalid;
        s_rresp = t.s_axil___05Frresp;
        s_rdata = t.s_axil___05Frdata;
        has_ar = t.m_axi___05Farvalid;
        has_aw = t.m_axi___05Fawvalid;
        has_w = t.m_axi___05Fwvalid;
        if (has_ar)
            ar = {(uint32_t)t.m_axi___05Farid, (uint64_t)t.m_axi___05Faraddr,
                  (uint32_t)t.m_axi___05Farlen, (uint32_t)t.m_axi___05Farsize,
                  (uint32_t)t.m_axi___05Farburst};
        if (has_aw)
            aw = {(uint32_t)t.m_axi___05Fawid, (uint64_t)t.m_axi___05Fawaddr,
                  (uint32_t)t.m_axi___05Fawlen, (uint32_t)t.m_axi___05Fawsize,
                  (uint32_t)t.m_axi___05Fawburst};
        w_last = false;
        if (has_w) {
            memcpy(wdata, &t.m_axi___05Fwdata, BEAT_BYTES);
            memcpy(wstrb, &t.m_axi___05Fwstrb, STRB_BYTES);
            w_last = t.m_axi___05Fwlast;
        }
        r_ready = axi.rvalid && t.m_axi___05Frready;
        b_ready = axi.bvalid && t.m_axi___05Fbready;
    }

    // The edge itself: clock the model, then step the AXI port with what was sampled.
    void clock_and_step() {
        top->clk = 1;
        top->eval();
        axi.step(has_ar ? &ar : nullptr, has_aw ? &aw : nullptr, has_w ? wdata : nullptr, wstrb,
                 w_last, r_ready, b_ready);
    }

    // After the edge: drive the AXI port's outputs for the next cycle.
    void drive_after_edge() {
        drive_slave_outputs();
        if (axi.cycle == 1) {           // the AXI4-Lite master's R/B sinks: ready from edge 1
            top->s_axil___05Frready = 1;
            top->s_axil___05Fbready = 1;
        }
    }
};

struct Sim {
    std::unique_ptr<VerilatedContext> context{new VerilatedContext};
    std::vector<std::unique_ptr<Engine>> engines;
    int64_t mmio_timeout;
    int64_t skipped = 0, edges = 0, engine_edges = 0;
    int accessed = -1;                  // the engine of the MMIO access in progress
    std::vector<Engine *> active_;      // the engines evaluated at the latest edge
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> trace;
    uint64_t period_fs = 1000000;
    uint64_t last_dump = 0;
    bool dumped = false;
#endif

    Sim(uint8_t *memory, uint64_t base, uint64_t size, int64_t timeout, int count)
        : mmio_timeout(timeout) {
        context->randReset(0);
        for (int k = 0; k < count; k++)
            engines.emplace_back(new Engine(context.get(), memory, base, size));
    }

    // The waveform (engine 0) at cycle() periods plus `half` half periods, unless dumped
    // there already.
    void dump(uint64_t half) {
#if VM_TRACE
        uint64_t time = (uint64_t)(cycle() * 2 + half) * (period_fs / 2);
        if (trace && (!dumped || time > last_dump)) {
            trace->dump(time);
            last_dump = time;
            dumped = true;
        }
#endif
    }

    void reset() {
        for (auto &e : engines) {
            Vtop &t = *e->top;
            t.rst = 1;
            t.s_axil___05Fawvalid = t.s_axil___05Fwvalid = t.s_axil___05Farvalid = 0;
            t.s_axil___05Fbready = t.s_axil___05Frready = 0;
            e->drive_slave_outputs();
            for (int i = 0; i < RESET_CYCLES; i++) {
                t.clk = 0;
                t.eval();
                t.clk = 1;
                t.eval();
            }
            t.rst = 0;
            t.clk = 0;
            t.eval();
            e->irq = t.irq;
            e->idle = e->sample_idle();
        }
        dump(0);                        // cycle 0, at time 0
    }

    int64_t cycle() const { return engines[0]->axi.cycle; }
    bool irq() const {
        for (auto &e : engines) if (e->irq) return true;
        return false;
    }
    uint64_t irq_lines() const {
        uint64_t lines = 0;
        for (size_t k = 0; k < engines.size(); k++)
            if (engines[k]->irq) lines |= uint64_t(1) << k;
        return lines;
    }
    bool idle() const {
        for (auto &e : engines) if (!e->idle) return false;
        return true;
    }

    // One rising edge of every engine. An engine at rest is not evaluated: its AXI port
    // only counts the cycle (the single-engine case always evaluates, as before).
    void edge() {
        bool single = engines.size() == 1;
        active_.clear();
        for (auto &e : engines)
            if (single || !e->resting()) active_.push_back(e.get());
            else e->axi.advance(1);
        for (Engine *e : active_) e->settle_and_sample();
        dump(1);
        for (Engine *e : active_) e->clock_and_step();
        edges++;
        engine_edges += active_.size();
        dump(0);
        for (Engine *e : active_) {
            e->drive_after_edge();
            if (accessed < 0 || e != engines[accessed].get()) e->woken = false;
        }
    }

    bool quiescent() const {
        for (auto &e : engines) if (!e->idle || e->axi.busy()) return false;
        return true;
    }

    void wait_cycles(int64_t n, bool idle_skip) {           // Device.wait_cycles
        while (n) {
            if (idle_skip && quiescent()) {
                skipped += n;
                for (auto &e : engines) e->axi.advance(n);
                return;
            }
            int64_t chunk = idle_skip ? std::min(n, IDLE_CHECK_CYCLES) : n;
            for (int64_t i = 0; i < chunk; i++) edge();
            n -= chunk;
        }
    }

    // 0: response resp; 1: no response within mmio_timeout edges.
    int mmio_write(int engine, uint32_t addr, uint32_t value, int *resp) {
        Engine &e = *engines[engine];
        Vtop &t = *e.top;
        accessed = engine;
        e.woken = true;
        edge();
        t.s_axil___05Fawaddr = addr;
        t.s_axil___05Fawprot = AXIL_PROT;
        t.s_axil___05Fawvalid = 1;
        t.s_axil___05Fwdata = value;
        t.s_axil___05Fwstrb = 0xF;
        t.s_axil___05Fwvalid = 1;
        bool aw_pending = true, w_pending = true;
        int status = 1;
        for (int64_t i = 0; i < mmio_timeout; i++) {
            edge();
            if (aw_pending && e.s_awready) { aw_pending = false; t.s_axil___05Fawvalid = 0; }
            if (w_pending && e.s_wready) { w_pending = false; t.s_axil___05Fwvalid = 0; }
            if (e.s_bvalid) { *resp = e.s_bresp; status = 0; break; }
        }
        accessed = -1;
        return status;
    }

    int mmio_read(int engine, uint32_t addr, uint32_t *value, int *resp) {
        Engine &e = *engines[engine];
        Vtop &t = *e.top;
        accessed = engine;
        e.woken = true;
        edge();
        t.s_axil___05Faraddr = addr;
        t.s_axil___05Farprot = AXIL_PROT;
        t.s_axil___05Farvalid = 1;
        bool ar_pending = true;
        int status = 1;
        for (int64_t i = 0; i < mmio_timeout; i++) {
            edge();
            if (ar_pending && e.s_arready) { ar_pending = false; t.s_axil___05Farvalid = 0; }
            if (e.s_rvalid) { *resp = e.s_rresp; *value = e.s_rdata; status = 0; break; }
        }
        accessed = -1;
        return status;
    }

    bool wait_irq(int64_t timeout) {                       // Device.wait_irq
        for (int64_t i = 0; i < timeout; i++) {
            if (irq()) return true;
            edge();
        }
        return irq();
    }

    // Device.run_periods: before every period but the first, stop if one of the
    // irq_mask lines is high or (idle skipping) the device is quiescent; returns the
    // periods run.
    int64_t run_periods(const int64_t *cycles, int64_t count, bool idle_skip,
                        uint64_t irq_mask) {
        for (int64_t i = 0; i < count; i++) {
            if (i && ((irq_lines() & irq_mask) || (idle_skip && quiescent()))) return i;
            wait_cycles(cycles[i], idle_skip);
        }
        return count;
    }
};

}  // namespace

extern "C" {

Sim *fd_sim_new(uint8_t *memory, uint64_t base, uint64_t size, int64_t mmio_timeout,
                int engines) {
    return new Sim(memory, base, size, mmio_timeout, engines);
}
void fd_sim_free(Sim *sim) {
#if VM_TRACE
    if (sim->trace) {
        sim->dump(0);                   // the end: cycles skipped at the very end pass too
        sim->trace->close();
    }
#endif
    delete sim;
}
AxiSlave *fd_sim_axi(Sim *sim, int engine) { return &sim->engines[engine]->axi; }
int fd_sim_beat_bytes() { return BEAT_BYTES; }

// Waveform to path (VCD), time in fs at period_fs (even) per cycle; -1 without a
// trace build or with several engines.
int fd_sim_trace(Sim *sim, const char *path, uint64_t period_fs) {
#if VM_TRACE
    if (sim->engines.size() != 1) {
        last_error() = "a waveform of several engines is not supported on this back-end "
                       "(pysim writes one)";
        return -1;
    }
    sim->context->traceEverOn(true);
    sim->trace.reset(new VerilatedVcdC);
    sim->engines[0]->top->trace(sim->trace.get(), 99);
    sim->trace->set_time_unit("1fs");
    sim->trace->set_time_resolution("1fs");
    sim->trace->open(path);
    sim->period_fs = period_fs;
    return 0;
#else
    last_error() = "this build has no waveform support";
    return -1;
#endif
}

void fd_sim_reset(Sim *sim) { sim->reset(); }

int fd_sim_mmio_write(Sim *sim, int engine, uint32_t addr, uint32_t value, int *resp) {
    return guarded([&] { return sim->mmio_write(engine, addr, value, resp); });
}
int fd_sim_mmio_read(Sim *sim, int engine, uint32_t addr, uint32_t *value, int *resp) {
    return guarded([&] { return sim->mmio_read(engine, addr, value, resp); });
}
int fd_sim_edges(Sim *sim, int64_t n) {
    return guarded([&] { for (int64_t i = 0; i < n; i++) sim->edge(); return 0; });
}
int fd_sim_wait_cycles(Sim *sim, int64_t n, int idle_skip) {
    return guarded([&] { sim->wait_cycles(n, idle_skip); return 0; });
}
int fd_sim_wait_irq(Sim *sim, int64_t timeout, int *seen) {
    return guarded([&] { *seen = sim->wait_irq(timeout); return 0; });
}
int fd_sim_run_periods(Sim *sim, const int64_t *cycles, int64_t count, int idle_skip,
                       uint64_t irq_mask, int64_t *done) {
    return guarded([&] {
        *done = sim->run_periods(cycles, count, idle_skip, irq_mask);
        return 0;
    });
}

int64_t fd_sim_cycle(Sim *sim) { return sim->cycle(); }
int64_t fd_sim_skipped(Sim *sim) { return sim->skipped; }
int64_t fd_sim_simulated_edges(Sim *sim) { return sim->edges; }
int64_t fd_sim_engine_edges(Sim *sim) { return sim->engine_edges; }
uint64_t fd_sim_irq_lines(Sim *sim) { return sim->irq_lines(); }
int fd_sim_idle(Sim *sim) { return sim->idle(); }
int fd_sim_quiescent(Sim *sim) { return sim->quiescent(); }

}  // extern "C"
