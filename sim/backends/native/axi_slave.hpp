// The AXI4 slave, NUMA memory timing and IOMMU translation of sim/memsys/axi_slave.py,
// sim/memsys/fabric.py (the bandwidth the engines' ports share) and sim/memsys/iommu.py,
// in C++ for the compiled back-end.
//
// The Python classes are the reference: this file is a line-by-line port of
// AxiSlaveModel.step() and Iommu.translate()/allows(), with the same integer
// arithmetic, and tests/sim/backends/test_native_platform.py drives both with the same
// random traffic and checks that every output of every cycle is identical.
// Configuration (node timings, backpressure table, error regions) is computed
// once by the Python model and handed over as numbers, so it is not ported.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <list>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>
#include <vector>

namespace foliodma {

typedef __int128 i128;

enum { RESP_OKAY = 0, RESP_SLVERR = 2, RESP_DECERR = 3 };
enum { BURST_INCR = 1 };
// Defined in Python, passed by every build as -D (sim.backends.native.build.model_defines).
#ifndef FD_BACKPRESSURE_PERIOD
#error "build with the defines of sim.backends.native.build.model_defines()"
#endif
static const int64_t BACKPRESSURE_PERIOD = FD_BACKPRESSURE_PERIOD;
static const uint64_t AXI_BOUNDARY_BYTES = FD_AXI_BOUNDARY_BYTES;
static const size_t AXI_MAX_BURST_BEATS = FD_AXI_MAX_BURST_BEATS;
static const int PAGE_SHIFT = FD_PAGE_SHIFT;
// Directory levels 2 and 3 of the IO page table index the IOVA from these bits (iommu.py).
static const int LEVEL2_SHIFT = FD_LEVEL2_SHIFT, LEVEL3_SHIFT = FD_LEVEL3_SHIFT;
enum { STALL_AR, STALL_AW, STALL_W, STALL_R, STALL_B };

struct ProtocolError : std::runtime_error {
    explicit ProtocolError(const std::string &what) : std::runtime_error(what) {}
};

// The message of the latest failed C API call (of this thread).
inline std::string &last_error() {
    static thread_local std::string message;
    return message;
}

// Runs body (returning the call's status); -2 for an AXI protocol error, -1 for another.
template <class Body> int guarded(Body body) {
    try {
        return body();
    } catch (const ProtocolError &e) {
        last_error() = e.what();
        return -2;
    } catch (const std::exception &e) {
        last_error() = e.what();
        return -1;
    }
}

static std::string hex(uint64_t value) {
    char text[24];
    snprintf(text, sizeof text, "%#llx", (unsigned long long)value);
    return text;
}

// key -> cycle it is usable from, least recently used first (Python's OrderedDict).
class LruCycles {
  public:
    explicit LruCycles(size_t capacity) : capacity_(capacity) {}
    void set_capacity(size_t capacity) { clear(); capacity_ = capacity; }
    bool get(uint64_t key, int64_t &ready) {     // a hit also makes it most recent
        auto it = map_.find(key);
        if (it == map_.end()) return false;
        order_.splice(order_.end(), order_, it->second);
        ready = it->second->second;
        return true;
    }
    void fill(uint64_t key, int64_t ready) {
        auto it = map_.find(key);
        if (it != map_.end()) {
            it->second->second = ready;
            order_.splice(order_.end(), order_, it->second);
        } else {
            order_.emplace_back(key, ready);
            map_[key] = std::prev(order_.end());
        }
        if (map_.size() > capacity_) {
            map_.erase(order_.front().first);
            order_.pop_front();
        }
    }
    void erase(uint64_t key) {
        auto it = map_.find(key);
        if (it == map_.end()) return;
        order_.erase(it->second);
        map_.erase(it);
    }
    void clear() { map_.clear(); order_.clear(); }

  private:
    size_t capacity_;
    std::list<std::pair<uint64_t, int64_t>> order_;
    std::unordered_map<uint64_t, std::list<std::pair<uint64_t, int64_t>>::iterator> map_;
};

struct Fault { int64_t cycle; int64_t write; uint64_t addr; int64_t id; };

// The device side of sim.memsys.iommu.Iommu: which pages are reachable (mirrored from the
// Python page table by the back-end) and the translation caches with their timing.
class IommuUnit {
  public:
    bool enabled = false;
    int64_t walk_read_cycles = 0;
    int64_t walks = 0, walk_reads = 0;
    std::vector<Fault> faults;

    // IommuParams: cache sizes and the page shifts above 4 KiB a mapping may use.
    void configure(size_t iotlb_entries, size_t pde_entries, std::vector<int> shifts) {
        iotlb_.set_capacity(iotlb_entries);
        pde_.set_capacity(pde_entries);
        std::sort(shifts.rbegin(), shifts.rend());
        shifts_ = shifts;
    }
    // A page the engine may read (write: may write) now, or no longer.
    void add_page(uint64_t page, bool write) { (write ? writable_ : readable_).insert(page); }
    void remove_page(uint64_t page, bool write) { (write ? writable_ : readable_).erase(page); }
    // An IOMMU page above 4 KiB that one translation covers, or no longer.
    void add_leaf(int shift, uint64_t index) { leaves_.insert(leaf_key(shift, index)); }
    void remove_leaf(int shift, uint64_t index) { leaves_.erase(leaf_key(shift, index)); }
    void flush_all() { iotlb_.clear(); pde_.clear(); }
    void invalidate_range(uint64_t addr, uint64_t nbytes) {   // Iommu._invalidate_range
        uint64_t last = addr + nbytes - 1;
        for (int shift : all_shifts())
            for (uint64_t index = addr >> shift; index <= last >> shift; index++)
                iotlb_.erase(leaf_key(shift, index));
        for (uint64_t index = addr >> LEVEL3_SHIFT; index <= last >> LEVEL3_SHIFT; index++)
            pde_.erase(pde_key(3, index));
        for (uint64_t index = addr >> LEVEL2_SHIFT; index <= last >> LEVEL2_SHIFT; index++)
            pde_.erase(pde_key(2, index));
    }

    bool allows(uint64_t addr, bool write) const {
        return !enabled || (write ? writable_ : readable_).count(addr >> PAGE_SHIFT);
    }

    int64_t translate(uint64_t addr, int64_t cycle) {         // Iommu.translate
        const int64_t read = walk_read_cycles;
        if (!(enabled && read)) return cycle;
        int shift = PAGE_SHIFT;
        for (int s : shifts_)
            if (leaves_.count(leaf_key(s, addr >> s))) { shift = s; break; }
        uint64_t key = leaf_key(shift, addr >> shift);
        int64_t ready;
        if (iotlb_.get(key, ready)) return std::max(cycle, ready);
        int64_t start = cycle;
        if (!dte_valid_) {
            dte_valid_ = true;
            dte_ready_ = start = cycle + read;
            walk_reads++;
        } else {
            start = std::max(start, dte_ready_);
        }
        uint64_t directories[2] = {pde_key(3, addr >> LEVEL3_SHIFT),
                                   pde_key(2, addr >> LEVEL2_SHIFT)};
        int count = shift >= LEVEL3_SHIFT ? 0 : shift >= LEVEL2_SHIFT ? 1 : 2;
        int first_needed = 0;
        for (int depth = count; depth > 0; depth--) {
            int64_t cached;
            if (pde_.get(directories[depth - 1], cached)) {
                start = std::max(start, cached);
                first_needed = depth;
                break;
            }
        }
        int64_t t = start;
        for (int i = first_needed; i < count; i++) {
            t += read;
            pde_.fill(directories[i], t);
        }
        t += read;                                      // the leaf entry
        iotlb_.fill(key, t);
        walks++;
        walk_reads += count - first_needed + 1;
        return t;
    }

  private:
    std::vector<int> all_shifts() const {
        std::vector<int> out(shifts_);
        out.push_back(PAGE_SHIFT);
        return out;
    }
    static uint64_t leaf_key(int shift, uint64_t index) { return index << 6 | shift; }
    static uint64_t pde_key(int level, uint64_t index) { return index << 2 | level; }
    std::unordered_set<uint64_t> readable_, writable_, leaves_;
    std::vector<int> shifts_{LEVEL2_SHIFT};
    LruCycles iotlb_{64}, pde_{32};
    bool dte_valid_ = false;
    int64_t dte_ready_ = 0;
};

// A paced resource (node or link) an access books, with its time in units of 1/p
// cycle: units per beat (and, for writes, the buffer room) (memory_system.Fabric).
struct Hop { int resource; i128 p, units, room; };
// At most three per access: the node, the link in front of it, the engine's I/O port.
static const int MAX_HOPS = 3;

// One node's timing, as Fabric.nodes holds it: latencies and the resources booked.
struct NodeTiming {
    int64_t read_latency = 1, write_latency = 1;
    std::vector<Hop> read_hops, write_hops;
};

// What the ports on one memory system share (Fabric.r_free / w_free).
struct Budgets {
    std::vector<i128> r_free, w_free;
};

struct Region { uint64_t start, end; int resp; };
struct NodeRange { uint64_t start, end; int node; };

struct Address { uint32_t id; uint64_t addr; uint32_t len, size, burst;
    bool operator==(const Address &o) const {
        return id == o.id && addr == o.addr && len == o.len && size == o.size && burst == o.burst;
    }
};

struct LogEntry4 { int64_t cycle; int64_t id; uint64_t addr; int64_t len; };
struct LogEntry2 { int64_t cycle; int64_t index; };
// A bus fault injected: (cycle, 0 read / 1 write, burst index, 0 error / 1 delay).
struct Injected { int64_t cycle; int64_t write; int64_t index; int64_t kind; };
// sim.memsys.bus_faults.BusFaults: a burst's fault, 0 error (value: RESP) / 1 delay (cycles).
struct BusFault { int kind; int64_t value; };

// AxiSlaveModel: see sim/memsys/axi_slave.py for the contract of step().
class AxiSlave {
  public:
    // Outputs for the cycle after the latest step (OUTPUTS order).
    uint8_t arready = 1, awready = 1, wready = 1;
    uint8_t rvalid = 0, rresp = RESP_OKAY, rlast = 0, bvalid = 0, bresp = RESP_OKAY;
    uint32_t rid = 0, bid = 0;
    std::vector<uint8_t> rdata;                 // beat_bytes, little-endian

    int64_t cycle = 0;
    bool record = true;
    std::vector<LogEntry4> ar_log, aw_log;
    std::vector<LogEntry2> w_log, r_log, b_log;
    std::vector<Injected> injected;
    std::shared_ptr<IommuUnit> iommu{new IommuUnit};   // shared by the ports of a device

    AxiSlave(uint8_t *memory, uint64_t base, uint64_t size, int beat_bytes)
        : memory_(memory), base_(base), size_(size), beat_(beat_bytes),
          strb_bytes_((beat_bytes + 7) / 8) {
        size_code_ = 0;
        while ((1 << size_code_) < beat_bytes) size_code_++;
        rdata.assign(beat_bytes, 0);
    }

    // --- configuration (from the Python model) ---
    void set_flat(int64_t read_latency, int64_t write_latency) {
        read_latency_ = read_latency;
        write_latency_ = write_latency;
    }
    void set_stall(const uint8_t *table) {      // 5 rows of BACKPRESSURE_PERIOD
        stall_.assign(table, table + 5 * BACKPRESSURE_PERIOD);
        has_stall_ = true;
        int64_t k = 1 % BACKPRESSURE_PERIOD;
        arready = !stalled(STALL_AR, k);
        awready = !stalled(STALL_AW, k);
        wready = !stalled(STALL_W, k);
    }
    void add_fault(int write, uint64_t index, int kind, int64_t value) {
        (write ? write_faults_ : read_faults_)[index] = {kind, value};
    }
    void add_region(uint64_t start, uint64_t end, int access, int resp) {  // 0 r, 1 w, 2 rw
        if (access != 1) read_regions_.push_back({start, end, resp});
        if (access != 0) write_regions_.push_back({start, end, resp});
    }
    void set_nodes(const std::vector<NodeTiming> &nodes, const std::vector<NodeRange> &ranges,
                   int default_node, size_t resources) {
        for (auto &n : nodes)
            if (n.read_hops.size() > MAX_HOPS || n.write_hops.size() > MAX_HOPS)
                throw std::runtime_error("an access books more than a node, a link and a "
                                         "port");
        nodes_ = nodes;
        ranges_ = ranges;
        default_node_ = default_node;
        has_nodes_ = true;
        budgets_.reset(new Budgets{std::vector<i128>(resources, 0),
                                   std::vector<i128>(resources, 0)});
        w_paced_ = false;
        for (auto &n : nodes) w_paced_ = w_paced_ || !n.write_hops.empty();
    }
    // Book `nbytes` of another agent's accesses (the CPU's) on the shared resources
    // `hops` (resource, p, q triples: p/q bytes per cycle) from `cycle` on, each from
    // its own free time, as Fabric.book; returns the cycle the last one has served them.
    int64_t book(int write, const int64_t *hops, int count, int64_t nbytes, int64_t cycle) {
        if (!has_nodes_) throw std::runtime_error("book: flat memory has no bandwidth to share");
        std::vector<i128> &free = write ? budgets_->w_free : budgets_->r_free;
        i128 done = cycle;
        for (int i = 0; i < count; i++) {
            size_t resource = (size_t)hops[3 * i];
            i128 p = hops[3 * i + 1], q = hops[3 * i + 2];
            if (resource >= free.size()) throw std::runtime_error("book: no such resource");
            free[resource] = std::max(free[resource], (i128)cycle * p) + (i128)nbytes * q;
            done = std::max(done, (free[resource] + p - 1) / p);
        }
        return (int64_t)done;
    }
    // Translate through the IOMMU of `other`, a port configured the same way (one
    // Fabric, or both flat), and book the memory system's bandwidth with it.
    void share(AxiSlave &other) {
        if (has_nodes_ != other.has_nodes_
            || (has_nodes_ && budgets_->r_free.size() != other.budgets_->r_free.size()))
            throw std::runtime_error("ports that share a memory system need its one "
                                     "configuration");
        budgets_ = other.budgets_;
        iommu = other.iommu;
    }

    bool busy() const {
        return !rq_.empty() || rbuf_active_ || !bq_.empty() || !aws_.empty() || !wdone_.empty()
            || !wcur_.empty();
    }
    void advance(int64_t n) {
        if (busy()) throw std::runtime_error("AxiSlaveModel.advance while transactions are in flight");
        cycle += n;
    }

    // One clock edge. ar/aw/w null: VALID low. w_data has beat_bytes, w_strb strb_bytes.
    void step(const Address *ar, const Address *aw, const uint8_t *w_data, const uint8_t *w_strb,
              bool w_last, bool r_ready, bool b_ready) {
        int64_t n = ++cycle;
        bool has_w = w_data != nullptr;
        if (!ar && !aw && !has_w && !has_stall_ && !rbuf_active_ && rq_.empty() && bq_.empty()
            && aws_.empty() && wdone_.empty() && wcur_.empty())
            return;
        bool was_rvalid = rvalid, was_bvalid = bvalid;

        if (ar_held_ && !(ar && *ar == ar_hold_)) throw hold_error("AR", !ar);
        if (ar) {
            if (arready) { ar_held_ = false; accept_ar(*ar); }
            else { ar_hold_ = *ar; ar_held_ = true; }
        }
        if (was_rvalid && r_ready) {
            if (record) r_log.push_back({n, (int64_t)rindex_});
            if (rbeat_ == rlen_) {
                rbuf_active_ = false;
            } else {
                int64_t i = ++rbeat_;
                if (rpace_.hops) rnext_ = paced_beat(rpace_, i);
            }
        }
        if (aw_held_ && !(aw && *aw == aw_hold_)) throw hold_error("AW", !aw);
        if (aw) {
            if (awready) { aw_held_ = false; accept_aw(*aw); }
            else { aw_hold_ = *aw; aw_held_ = true; }
        }
        if (w_held_ && !(has_w && same_w(w_data, w_strb, w_last))) throw hold_error("W", !has_w);
        if (has_w) {
            if (wready) { w_held_ = false; accept_w(w_data, w_strb, w_last); }
            else {
                w_hold_data_.assign(w_data, w_data + beat_);
                w_hold_strb_.assign(w_strb, w_strb + strb_bytes_);
                w_hold_last_ = w_last;
                w_held_ = true;
            }
        }
        if (was_bvalid && b_ready) {
            Response done = bq_.front();
            bq_.pop_front();
            if (record) b_log.push_back({n, (int64_t)done.index});
        }

        // Outputs for cycle m = n + 1.
        int64_t m = n + 1;
        int64_t k = m % BACKPRESSURE_PERIOD;
        if (!(was_rvalid && !r_ready)) {
            rvalid = 0;
            if (!rbuf_active_ && !rq_.empty() && rq_.front().first <= m) {
                ReadBurst entry = rq_.front();
                rq_.pop_front();
                start_read(entry);
            }
            if (rbuf_active_ && rnext_ <= m && !(has_stall_ && stalled(STALL_R, k))) {
                rvalid = 1;
                size_t i = rbeat_;
                rid = rid_;
                memcpy(rdata.data(), rbuf_.data() + i * beat_, beat_);
                rresp = rresps_.empty() ? RESP_OKAY : rresps_[i];
                rlast = i == rlen_ ? 1 : 0;
            }
        }
        if (!(was_bvalid && !b_ready)) {
            bvalid = 0;
            if (!bq_.empty() && bq_.front().ready <= m && !(has_stall_ && stalled(STALL_B, k))) {
                bvalid = 1;
                bid = bq_.front().id;
                bresp = bq_.front().resp;
            }
        }
        if (has_stall_) {
            arready = !stalled(STALL_AR, k);
            awready = !stalled(STALL_AW, k);
            wready = !stalled(STALL_W, k);
        } else if (w_paced_) {
            wready = 1;
        }
        if (w_paced_ && wready && !aws_.empty()) {
            int node = aws_.front().node;
            if (node >= 0) {
                for (const Hop &h : nodes_[node].write_hops)
                    if (budgets_->w_free[h.resource] - (i128)m * h.p > h.room) {
                        wready = 0;
                        break;
                    }
            }
        }
    }

  private:
    // A paced burst's beats: per hop (base, units per beat, p), and the latency.
    struct Pace {
        int hops = 0;
        i128 base[MAX_HOPS] = {}, units[MAX_HOPS] = {}, p[MAX_HOPS] = {};
        int64_t latency = 0;
    };
    struct ReadBurst {
        int64_t first; uint32_t id; uint64_t addr; uint32_t len; uint64_t index;
        Pace pace; int fault;             // the RESP instead of the memory's, or 0
    };
    struct WriteBurst {
        uint32_t id; uint64_t addr; uint32_t len; uint64_t index; int node;
        int64_t latency; int fault; int64_t translated;
    };
    struct Response { int64_t ready; uint32_t id; int resp; uint64_t index; };
    typedef std::vector<uint8_t> Beats;         // beats x (data bytes, strb bytes)

    bool stalled(int row, int64_t k) const { return stall_[row * BACKPRESSURE_PERIOD + k]; }

    ProtocolError error(const std::string &message) const {
        return ProtocolError("AXI protocol error at cycle " + std::to_string(cycle) + ": "
                             + message);
    }
    ProtocolError hold_error(const char *channel, bool dropped) const {
        std::string c = channel;
        if (dropped)
            return error(c + "VALID dropped before " + c + "READY");
        return error(c + " payload changed while " + c + "VALID was high and " + c
                     + "READY low");
    }
    bool same_w(const uint8_t *data, const uint8_t *strb, bool last) const {
        return last == w_hold_last_ && !memcmp(data, w_hold_data_.data(), beat_)
            && !memcmp(strb, w_hold_strb_.data(), strb_bytes_);
    }

    bool contains(uint64_t addr, uint64_t n) const {
        return base_ <= addr && (i128)addr + n <= (i128)base_ + size_;
    }
    int node_index(uint64_t addr) const {      // MemorySystem.node_index
        auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                                   [](uint64_t a, const NodeRange &r) { return a < r.start; });
        if (it != ranges_.begin()) {
            --it;
            if (addr < it->end) return it->node;
        }
        return default_node_;
    }

    void check_burst(const char *channel, const Address &a) const {
        std::string c = channel;
        if ((int)a.size != size_code_)
            throw error(c + "SIZE=" + std::to_string(a.size) + " but only full-width beats of "
                        + std::to_string(beat_) + " bytes are supported");
        if (a.burst != BURST_INCR)
            throw error(c + "BURST=" + std::to_string(a.burst) + ": only INCR bursts are supported");
        if (a.addr % beat_)
            throw error(c + "ADDR=" + hex(a.addr) + " is not aligned to the "
                        + std::to_string(beat_) + "-byte beat size");
        if (a.addr % AXI_BOUNDARY_BYTES + (uint64_t)(a.len + 1) * beat_ > AXI_BOUNDARY_BYTES)
            throw error(c + " burst at " + hex(a.addr) + " of " + std::to_string(a.len + 1)
                        + " beats crosses a 4 KiB boundary");
    }

    void accept_ar(const Address &ar) {
        check_burst("AR", ar);
        int64_t at = cycle;
        uint64_t index = ar_count_++;
        if (record) ar_log.push_back({at, ar.id, ar.addr, ar.len});
        int64_t delay;
        int fault = fault_of(read_faults_, 0, index, ar.addr, ar.id, delay);
        if (!has_nodes_) {
            rq_.push_back({at + read_latency_ + delay, ar.id, ar.addr, ar.len, index, Pace(),
                           fault});
            return;
        }
        if (!fault) at = iommu->translate(ar.addr, at);   // the request leaves once translated
        int node = node_index(ar.addr);
        const NodeTiming &t = nodes_[node];
        ReadBurst burst{at + t.read_latency + delay, ar.id, ar.addr, ar.len, index, Pace(),
                        fault};
        if (!fault) {
            std::vector<i128> &free = budgets_->r_free;
            Pace &pace = burst.pace;
            for (const Hop &h : t.read_hops) {
                i128 start = std::max(free[h.resource], (i128)at * h.p);
                free[h.resource] = start + (i128)(ar.len + 1) * h.units;
                pace.base[pace.hops] = start + h.units - 1;
                pace.units[pace.hops] = h.units;
                pace.p[pace.hops] = h.p;
                pace.hops++;
            }
            pace.latency = t.read_latency + delay;
        }
        rq_.push_back(burst);
    }

    // AxiSlaveModel._fault_of: the RESP a burst gets instead of the memory's (an IO page
    // fault's DECERR, else an injected error), or 0; delay: cycles its response is late.
    int fault_of(const std::unordered_map<uint64_t, BusFault> &faults, int write,
                 uint64_t index, uint64_t addr, uint32_t id, int64_t &delay) {
        delay = 0;
        if (!iommu->allows(addr, write)) {
            iommu->faults.push_back({cycle, write, addr, id});
            return RESP_DECERR;
        }
        auto it = faults.find(index);
        if (it == faults.end()) return 0;
        injected.push_back({cycle, write, (int64_t)index, it->second.kind});
        if (it->second.kind == 0) return (int)it->second.value;
        delay = it->second.value;
        return 0;
    }

    // AxiSlaveModel._paced_beat: the first cycle beat i may be presented.
    static int64_t paced_beat(const Pace &pace, int64_t i) {
        i128 ready = 0;
        for (int h = 0; h < pace.hops; h++)
            ready = std::max(ready, (pace.base[h] + i * pace.units[h]) / pace.p[h]);
        return (int64_t)ready + pace.latency;
    }

    void start_read(const ReadBurst &e) {
        rid_ = e.id;
        rlen_ = e.len;
        rindex_ = e.index;
        rbeat_ = 0;
        rpace_ = e.pace;
        rnext_ = e.pace.hops ? paced_beat(e.pace, 0) : e.first;
        rbuf_active_ = true;
        size_t nbytes = (size_t)(rlen_ + 1) * beat_;
        rbuf_.resize(nbytes);
        if (e.fault) {                 // IO page fault or injected error: no data
            std::fill(rbuf_.begin(), rbuf_.end(), 0);
            rresps_.assign(rlen_ + 1, e.fault);
            return;
        }
        bool clean = contains(e.addr, nbytes);
        for (auto &r : read_regions_)
            if (e.addr < r.end && r.start < e.addr + nbytes) clean = false;
        if (clean) {
            memcpy(rbuf_.data(), memory_ + (e.addr - base_), nbytes);
            rresps_.clear();
            return;
        }
        rresps_.assign(rlen_ + 1, RESP_OKAY);
        for (size_t i = 0; i <= rlen_; i++) {
            uint64_t a = e.addr + i * beat_;
            int resp = RESP_OKAY;
            if (!contains(a, beat_)) {
                resp = RESP_DECERR;
            } else {
                for (auto &r : read_regions_)
                    if (a < r.end && r.start < a + beat_) { resp = r.resp; break; }
            }
            if (resp == RESP_OKAY) memcpy(rbuf_.data() + i * beat_, memory_ + (a - base_), beat_);
            else memset(rbuf_.data() + i * beat_, 0, beat_);
            rresps_[i] = resp;
        }
    }

    void charge_write(int node, size_t beats) {
        std::vector<i128> &free = budgets_->w_free;
        for (const Hop &h : nodes_[node].write_hops)
            free[h.resource] = std::max(free[h.resource], (i128)cycle * h.p)
                + (i128)beats * h.units;
    }

    void accept_aw(const Address &aw) {
        check_burst("AW", aw);
        uint64_t index = aw_count_++;
        if (record) aw_log.push_back({cycle, aw.id, aw.addr, aw.len});
        int64_t delay;
        int fault = fault_of(write_faults_, 1, index, aw.addr, aw.id, delay);
        int node = -1;
        int64_t latency = write_latency_, translated = cycle;
        if (has_nodes_) {
            int where = node_index(aw.addr);
            latency = nodes_[where].write_latency;
            if (!nodes_[where].write_hops.empty() && !fault) node = where;
            if (!fault) translated = iommu->translate(aw.addr, cycle);
        }
        latency += delay;
        if (!wdone_.empty()) {
            Beats beats = std::move(wdone_.front());
            wdone_.pop_front();
            size_t count = beats.size() / beat_record();
            if (count != aw.len + 1)
                throw error("W burst " + std::to_string(index) + " had WLAST on beat "
                            + std::to_string(count - 1) + " but its AWLEN="
                            + std::to_string(aw.len) + " asks for " + std::to_string(aw.len + 1)
                            + " beats");
            if (node >= 0) charge_write(node, count);
            finish_write(aw.id, aw.addr, beats, index, node, latency, fault, translated);
        } else {
            if (aws_.empty()) {
                size_t count = wcur_.size() / beat_record();
                if (count > aw.len)
                    throw error("W burst " + std::to_string(index) + " has "
                                + std::to_string(count) + " beats without WLAST but its AWLEN="
                                + std::to_string(aw.len) + " asks for "
                                + std::to_string(aw.len + 1));
                if (node >= 0 && count) charge_write(node, count);   // beats that came first
            }
            aws_.push_back({aw.id, aw.addr, aw.len, index, node, latency, fault, translated});
        }
    }

    size_t beat_record() const { return beat_ + strb_bytes_; }

    bool full_strobes(const uint8_t *strb) const {
        if (beat_ < 8) return strb[0] == (1 << beat_) - 1;
        for (int i = 0; i < strb_bytes_; i++)
            if (strb[i] != 0xFF) return false;
        return true;
    }

    void accept_w(const uint8_t *data, const uint8_t *strb, bool last) {
        if (record) w_log.push_back({cycle, (int64_t)w_index_});
        wcur_.insert(wcur_.end(), data, data + beat_);
        wcur_.insert(wcur_.end(), strb, strb + strb_bytes_);
        size_t count = wcur_.size() / beat_record();
        if (!aws_.empty()) {
            WriteBurst front = aws_.front();
            if (last != (count == front.len + 1))
                throw error("W burst " + std::to_string(w_index_) + ": WLAST="
                            + std::to_string(last ? 1 : 0) + " on beat "
                            + std::to_string(count - 1) + " but AWLEN="
                            + std::to_string(front.len));
            if (front.node >= 0) charge_write(front.node, 1);
            if (last) {
                aws_.pop_front();
                finish_write(front.id, front.addr, wcur_, front.index, front.node, front.latency,
                             front.fault, front.translated);
            }
        } else if (last) {
            wdone_.push_back(wcur_);
        } else if (count == AXI_MAX_BURST_BEATS) {
            throw error("W burst " + std::to_string(w_index_) + " has "
                        + std::to_string(AXI_MAX_BURST_BEATS) + " beats without WLAST");
        }
        if (last) {
            wcur_.clear();
            w_index_++;
        }
    }

    void finish_write(uint32_t id, uint64_t addr, const Beats &beats, uint64_t index, int node,
                      int64_t latency, int fault, int64_t translated) {
        int resp = fault ? fault : write(addr, beats);
        int64_t ready = std::max(cycle, translated) + latency;
        if (node >= 0) {       // B once the burst's last byte has drained from the buffers
            i128 drained = 0;
            for (const Hop &h : nodes_[node].write_hops)
                drained = std::max(drained, (budgets_->w_free[h.resource] - 1) / h.p);
            ready = std::max(ready, (int64_t)drained + latency);
        }
        bq_.push_back({ready, id, resp, index});
    }

    int write(uint64_t addr, const Beats &beats) {
        size_t count = beats.size() / beat_record();
        uint64_t nbytes = count * beat_;
        if (!contains(addr, nbytes)) return RESP_DECERR;
        for (auto &r : write_regions_)
            if (addr < r.end && r.start < addr + nbytes) return r.resp;
        uint8_t *target = memory_ + (addr - base_);
        for (size_t i = 0; i < count; i++) {
            const uint8_t *data = beats.data() + i * beat_record();
            const uint8_t *strb = data + beat_;
            uint8_t *out = target + i * beat_;
            if (full_strobes(strb)) {
                memcpy(out, data, beat_);
                continue;
            }
            for (int byte = 0; byte < beat_; byte++)
                if (strb[byte >> 3] >> (byte & 7) & 1) out[byte] = data[byte];
        }
        return RESP_OKAY;
    }

    uint8_t *memory_;
    uint64_t base_, size_;
    int beat_, strb_bytes_, size_code_;
    int64_t read_latency_ = 1, write_latency_ = 1;
    bool has_stall_ = false;
    std::vector<uint8_t> stall_;
    std::vector<Region> read_regions_, write_regions_;
    std::unordered_map<uint64_t, BusFault> read_faults_, write_faults_;
    bool has_nodes_ = false, w_paced_ = false;
    std::vector<NodeTiming> nodes_;
    std::vector<NodeRange> ranges_;
    int default_node_ = 0;
    std::shared_ptr<Budgets> budgets_;

    bool ar_held_ = false, aw_held_ = false, w_held_ = false;
    Address ar_hold_{}, aw_hold_{};
    std::vector<uint8_t> w_hold_data_, w_hold_strb_;
    bool w_hold_last_ = false;

    std::deque<ReadBurst> rq_;
    bool rbuf_active_ = false;
    std::vector<uint8_t> rbuf_, rresps_;
    uint32_t rid_ = 0;
    size_t rlen_ = 0, rbeat_ = 0;
    uint64_t rindex_ = 0;
    Pace rpace_;
    int64_t rnext_ = 0;
    uint64_t ar_count_ = 0;

    std::deque<WriteBurst> aws_;
    Beats wcur_;
    std::deque<Beats> wdone_;
    uint64_t w_index_ = 0, aw_count_ = 0;
    std::deque<Response> bq_;
};

}  // namespace foliodma
