// C API of the native AXI slave (axi_slave.hpp) for ctypes: configuration, the
// IOMMU mirror, the handshake logs, and step() for the differential test.
// Every function that can fail returns 0 on success, else -2 (AXI protocol error)
// or -1 with fd_error() set.
#include "axi_slave.hpp"

using namespace foliodma;

extern "C" {

const char *fd_error() { return last_error().c_str(); }

AxiSlave *fd_axi_new(uint8_t *memory, uint64_t base, uint64_t size, int beat_bytes) {
    return new AxiSlave(memory, base, size, beat_bytes);
}
void fd_axi_free(AxiSlave *axi) { delete axi; }

void fd_axi_set_flat(AxiSlave *axi, int64_t read_latency, int64_t write_latency) {
    axi->set_flat(read_latency, write_latency);
}
void fd_axi_set_stall(AxiSlave *axi, const uint8_t *table) { axi->set_stall(table); }
void fd_axi_add_region(AxiSlave *axi, uint64_t start, uint64_t end, int access, int resp) {
    axi->add_region(start, end, access, resp);
}
// nodes: per node (read latency, write latency); hops: (node, 0 read / 1 write,
// resource, p, units per beat, buffer room) per paced resource an access books, in
// node order, times in units of 1/p cycle; ranges: (start, end, node index).
int fd_axi_set_nodes(AxiSlave *axi, const int64_t *nodes, int count, const int64_t *hops,
                     int hop_count, const uint64_t *ranges, int range_count, int default_node,
                     int resources) {
    std::vector<NodeTiming> timings(count);
    for (int i = 0; i < count; i++) {
        timings[i].read_latency = nodes[2 * i];
        timings[i].write_latency = nodes[2 * i + 1];
    }
    for (int i = 0; i < hop_count; i++) {
        const int64_t *h = hops + 6 * i;
        (h[1] ? timings[h[0]].write_hops : timings[h[0]].read_hops)
            .push_back({(int)h[2], (i128)h[3], (i128)h[4], (i128)h[5]});
    }
    std::vector<NodeRange> parsed(range_count);
    for (int i = 0; i < range_count; i++)
        parsed[i] = {ranges[3 * i], ranges[3 * i + 1], (int)ranges[3 * i + 2]};
    return guarded([&] { axi->set_nodes(timings, parsed, default_node, resources); return 0; });
}
int fd_axi_share(AxiSlave *axi, AxiSlave *other) {
    return guarded([&] { axi->share(*other); return 0; });
}
// rows: (0 read / 1 write, burst index, 0 error / 1 delay, RESP or cycles) per fault.
void fd_axi_set_faults(AxiSlave *axi, const int64_t *rows, int count) {
    for (int i = 0; i < count; i++) {
        const int64_t *r = rows + 4 * i;
        axi->add_fault((int)r[0], (uint64_t)r[1], (int)r[2], r[3]);
    }
}
// The injected faults from index `from` on into out (4 int64 each); returns the count.
int64_t fd_axi_injected(AxiSlave *axi, int64_t from, int64_t *out) {
    auto &log = axi->injected;
    if (out) memcpy(out, log.data() + from, (log.size() - from) * sizeof(Injected));
    return log.size();
}
void fd_axi_set_record(AxiSlave *axi, int record) { axi->record = record; }

int64_t fd_axi_cycle(AxiSlave *axi) { return axi->cycle; }
// The done cycle, or -1 on an error (fd_error says which).
int64_t fd_axi_book(AxiSlave *axi, int write, const int64_t *hops, int count, int64_t nbytes,
                    int64_t cycle) {
    int64_t done = -1;
    if (guarded([&] { done = axi->book(write, hops, count, nbytes, cycle); return 0; }))
        return -1;
    return done;
}
int fd_axi_busy(AxiSlave *axi) { return axi->busy(); }
int fd_axi_advance(AxiSlave *axi, int64_t n) {
    return guarded([&] { axi->advance(n); return 0; });
}

// ar, aw: (id, addr, len, size, burst) or null; w_data null: WVALID low.
int fd_axi_step(AxiSlave *axi, const uint64_t *ar, const uint64_t *aw, const uint8_t *w_data,
                const uint8_t *w_strb, int w_last, int r_ready, int b_ready) {
    return guarded([&] {
        Address a, b;
        if (ar) a = {(uint32_t)ar[0], ar[1], (uint32_t)ar[2], (uint32_t)ar[3], (uint32_t)ar[4]};
        if (aw) b = {(uint32_t)aw[0], aw[1], (uint32_t)aw[2], (uint32_t)aw[3], (uint32_t)aw[4]};
        axi->step(ar ? &a : nullptr, aw ? &b : nullptr, w_data, w_strb, w_last, r_ready, b_ready);
        return 0;
    });
}
// The OUTPUTS: arready awready wready rvalid rid rresp rlast bvalid bid bresp; rdata apart.
void fd_axi_outputs(AxiSlave *axi, uint64_t *out, uint8_t *rdata) {
    uint64_t values[10] = {axi->arready, axi->awready, axi->wready, axi->rvalid, axi->rid,
                           axi->rresp, axi->rlast, axi->bvalid, axi->bid, axi->bresp};
    memcpy(out, values, sizeof values);
    memcpy(rdata, axi->rdata.data(), axi->rdata.size());
}

// Logs: which 0 ar, 1 aw (4 values per entry), 2 w, 3 r, 4 b (2 values); copies entries
// [from, count) into out, returns the log's length.
int64_t fd_axi_log(AxiSlave *axi, int which, int64_t from, int64_t *out) {
    if (which < 2) {
        auto &log = which == 0 ? axi->ar_log : axi->aw_log;
        if (out)
            for (size_t i = from; i < log.size(); i++) {
                out[4 * (i - from)] = log[i].cycle; out[4 * (i - from) + 1] = log[i].id;
                out[4 * (i - from) + 2] = (int64_t)log[i].addr; out[4 * (i - from) + 3] = log[i].len;
            }
        return log.size();
    }
    auto &log = which == 2 ? axi->w_log : which == 3 ? axi->r_log : axi->b_log;
    if (out) memcpy(out, log.data() + from, (log.size() - from) * sizeof(LogEntry2));
    return log.size();
}

// --- the IOMMU unit ---
void fd_iommu_set(AxiSlave *axi, int enabled, int64_t walk_read_cycles) {
    axi->iommu->enabled = enabled;
    axi->iommu->walk_read_cycles = walk_read_cycles;
}
// IommuParams: the caches' entries and the page shifts above 4 KiB (count of them).
void fd_iommu_configure(AxiSlave *axi, int64_t iotlb_entries, int64_t pde_entries,
                        const int64_t *shifts, int64_t count) {
    axi->iommu->configure(iotlb_entries, pde_entries, std::vector<int>(shifts, shifts + count));
}
// kind: 0 pages the engine may read, 2 pages it may write.
void fd_iommu_pages(AxiSlave *axi, const uint64_t *pages, int64_t count, int add, int kind) {
    for (int64_t i = 0; i < count; i++) {
        if (add) axi->iommu->add_page(pages[i], kind == 2);
        else axi->iommu->remove_page(pages[i], kind == 2);
    }
}
// IOMMU pages above 4 KiB, as (shift, index) pairs (shifts[i], indices[i]).
void fd_iommu_leaves(AxiSlave *axi, const int64_t *shifts, const uint64_t *indices,
                     int64_t count, int add) {
    for (int64_t i = 0; i < count; i++) {
        if (add) axi->iommu->add_leaf(shifts[i], indices[i]);
        else axi->iommu->remove_leaf(shifts[i], indices[i]);
    }
}
void fd_iommu_flush_all(AxiSlave *axi) { axi->iommu->flush_all(); }
void fd_iommu_invalidate_range(AxiSlave *axi, uint64_t addr, uint64_t nbytes) {
    axi->iommu->invalidate_range(addr, nbytes);
}
int64_t fd_iommu_translate(AxiSlave *axi, uint64_t addr, int64_t cycle) {
    return axi->iommu->translate(addr, cycle);
}
void fd_iommu_counters(AxiSlave *axi, int64_t *out) {
    out[0] = axi->iommu->walks;
    out[1] = axi->iommu->walk_reads;
}
// Faults [from, ...) as (cycle, write, addr, id); returns how many there are.
int64_t fd_iommu_faults(AxiSlave *axi, int64_t from, int64_t *out) {
    auto &faults = axi->iommu->faults;
    if (out) memcpy(out, faults.data() + from, (faults.size() - from) * sizeof(Fault));
    return faults.size();
}

}  // extern "C"
