// The simulated board: the verilated board design (hw/board/top.py, BoardSoC) with its
// serial line driven and read bit by bit, as the USB-serial chip of a board does.
//
// The host's bytes wait in a queue and go out on the design's uart_rx pin, one 8N1
// frame after the other, DIVISOR cycles per bit; the design's uart_tx pin is sampled
// in the middle of each bit and its frames decoded into bytes. The clock runs only
// inside bd_run: between the host's calls the board's time stands still.
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>

#include "Vboard.h"
#include "verilated.h"

namespace {

constexpr int FRAME_BITS = 10;

struct Line {
    // Sending to the design.
    std::deque<uint8_t> queue;
    int send_bit = -1;          // bit of the frame on the line, -1: idle
    int send_timer = 0;
    uint16_t frame = 0;
    // Receiving from it.
    int recv_bit = -1;          // -1: waiting for a start bit
    int recv_timer = 0;
    uint8_t byte = 0;
    bool framing_error = false;
};

struct Board {
    VerilatedContext context;
    std::unique_ptr<Vboard> top;
    Line line;
    int divisor;
    uint64_t cycle = 0;
    uint64_t framing_errors = 0;

    explicit Board(int divisor_) : divisor(divisor_) {
        top.reset(new Vboard(&context));
        top->uart_rx = 1;
        top->rst = 1;
        top->clk = 0;
        top->eval();
        for (int k = 0; k < 4; ++k) tick();
        top->rst = 0;
    }

    void tick() {
        top->clk = 1;
        top->eval();
        top->clk = 0;
        top->eval();
        ++cycle;
    }

    // The rx pin's level for the next cycle.
    void drive() {
        Line& l = line;
        if (l.send_bit < 0 && !l.queue.empty()) {
            l.frame = static_cast<uint16_t>((1u << 9) | (l.queue.front() << 1));
            l.queue.pop_front();
            l.send_bit = 0;
            l.send_timer = divisor;
        }
        top->uart_rx = l.send_bit < 0 ? 1 : (l.frame >> l.send_bit) & 1;
        if (l.send_bit >= 0 && --l.send_timer == 0) {
            l.send_timer = divisor;
            if (++l.send_bit == FRAME_BITS) l.send_bit = -1;
        }
    }

    // Sample the tx pin after a cycle; true when a byte is complete (in line.byte).
    bool sample() {
        Line& l = line;
        int level = top->uart_tx & 1;
        if (l.recv_bit < 0) {
            if (!level) {
                l.recv_bit = 0;
                l.recv_timer = divisor / 2;     // to the middle of the start bit
            }
            return false;
        }
        if (--l.recv_timer) return false;
        l.recv_timer = divisor;
        if (l.recv_bit == 0 && level) {         // a glitch, not a start bit
            l.recv_bit = -1;
            return false;
        }
        if (l.recv_bit >= 1 && l.recv_bit <= 8)
            l.byte = static_cast<uint8_t>((l.byte >> 1) | (level << 7));
        if (++l.recv_bit < FRAME_BITS) return false;
        l.recv_bit = -1;
        if (!level) {
            ++framing_errors;
            return false;
        }
        return true;
    }
};

}  // namespace

extern "C" {

void* bd_new(int divisor) { return new Board(divisor); }

void bd_free(void* board) { delete static_cast<Board*>(board); }

void bd_send(void* handle, const uint8_t* data, int count) {
    Board* board = static_cast<Board*>(handle);
    board->line.queue.insert(board->line.queue.end(), data, data + count);
}

// Run until `want` bytes came from the design (stored in out) or max_cycles passed;
// returns the bytes received.
int bd_run(void* handle, uint8_t* out, int want, int64_t max_cycles) {
    Board* board = static_cast<Board*>(handle);
    int got = 0;
    for (int64_t k = 0; k < max_cycles && got < want; ++k) {
        board->drive();
        board->tick();
        if (board->sample()) out[got++] = board->line.byte;
    }
    return got;
}

uint64_t bd_cycle(void* handle) { return static_cast<Board*>(handle)->cycle; }

uint64_t bd_framing_errors(void* handle) {
    return static_cast<Board*>(handle)->framing_errors;
}

int bd_pending(void* handle) {
    Board* board = static_cast<Board*>(handle);
    return static_cast<int>(board->line.queue.size()) + (board->line.send_bit >= 0);
}

}  // extern "C"
