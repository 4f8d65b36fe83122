"""The bridge in Amaranth's simulator, on the board's memory and the engine's register
block, its bytes given and taken as streams (the UART is tested alone): every
command of the protocol, its errors, and the resynchronization after a command cut
short."""
import struct

from amaranth import Elaboratable, Module
from amaranth.lib import wiring

from hw.board.bridge import (Bridge, CMD_IRQ, CMD_MEM_READ, CMD_MEM_WRITE, CMD_PING,
                             CMD_REG_READ, CMD_REG_WRITE, HEADER, INFO_WORDS, PING_MAGIC,
                             PROTOCOL_VERSION, STATUS_BAD_COMMAND, STATUS_DECERR, STATUS_OK)
from hw.board.memory import BoardMemory
from hw.regblock import RegisterBlock
from hw.regmap import load_regmap
from tests.hw.board.bench import run

SIZE = 8192
TIMEOUT = 60
INFO = (25_000_000, SIZE, 25)


class Harness(Elaboratable):
    def __init__(self):
        self.bridge = Bridge(memory_bytes=SIZE, info=INFO, timeout_cycles=TIMEOUT)
        self.memory = BoardMemory(size=SIZE, data_width=64, addr_width=64, id_width=1)
        self.regs = RegisterBlock(load_regmap(), 1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge, m.submodules.memory = self.bridge, self.memory
        m.submodules.regs = self.regs
        wiring.connect(m, self.bridge.mem, self.memory.bridge)
        wiring.connect(m, self.bridge.reg, self.regs.bus)
        return m


def exchange(steps, irq=0):
    """Run ``steps``: (bytes to send, bytes expected back, idle cycles after); the
    bytes the bridge sent back for each step."""
    dut = Harness()
    answers = []

    async def bench(ctx):
        ctx.set(dut.bridge.irq, irq)
        bridge = dut.bridge
        for data, expect, idle in steps:
            got = bytearray()
            pending = list(data)
            ctx.set(bridge.tx.ready, 1)
            for _ in range(20_000):
                if len(got) == expect and not pending:
                    break
                ctx.set(bridge.rx.valid, bool(pending))
                ctx.set(bridge.rx.payload, pending[0] if pending else 0)
                _, _, taken, sent, byte = await ctx.tick().sample(
                    bridge.rx.ready, bridge.tx.valid, bridge.tx.payload)
                if pending and taken:
                    pending.pop(0)
                if sent:
                    got.append(byte)
            ctx.set(bridge.rx.valid, 0)
            await ctx.tick().repeat(idle + 1)
            answers.append(bytes(got))

    run(dut, bench)
    return answers


def command(cmd, address, count, words=()):
    return HEADER.pack(cmd, address, count) + b"".join(w.to_bytes(4, "little") for w in words)


def words(data):
    return list(struct.unpack(f"<{len(data) // 4}I", data))


def test_ping_describes_the_board():
    (answer,) = exchange([(command(CMD_PING, 0, len(INFO_WORDS)), 4 * len(INFO_WORDS) + 1, 0)])
    assert words(answer[:-1]) == [PING_MAGIC, PROTOCOL_VERSION, *INFO]
    assert answer[-1] == STATUS_OK


def test_memory_words_written_read_back_and_outside_is_decerr():
    data = [0x11223344, 0xDEADBEEF, 0x0BADF00D, 0x55AA55AA, 0x01020304]
    end = SIZE - 4 * len(data)                   # the last words, over three rows
    steps = [(command(CMD_MEM_WRITE, end, len(data), data), 1, 0),
             (command(CMD_MEM_READ, end, len(data)), 4 * len(data) + 1, 0),
             (command(CMD_MEM_READ, SIZE - 4, 2), 9, 0),
             (command(CMD_MEM_WRITE, SIZE, 1, [7]), 1, 0)]
    write, read, outside_read, outside_write = exchange(steps)
    assert write == bytes([STATUS_OK])
    assert words(read[:-1]) == data and read[-1] == STATUS_OK
    # The last word of the memory, then one outside it: 0 and DECERR.
    assert words(outside_read[:-1]) == [data[-1], 0] and outside_read[-1] == STATUS_DECERR
    assert outside_write == bytes([STATUS_DECERR])


def test_registers_through_axi4_lite():
    regmap = load_regmap()
    ident, ring = regmap.address("id"), regmap.address("chan[0].ring_base_lo")
    steps = [(command(CMD_REG_READ, ident, 1), 5, 0),
             (command(CMD_REG_WRITE, ring, 2, [0x1000, 0x2]), 1, 0),
             (command(CMD_REG_READ, ring, 2), 9, 0),
             (command(CMD_REG_READ, 1 << 12, 1), 5, 0)]
    ident_answer, write, read, outside = exchange(steps)
    assert words(ident_answer[:-1]) == [regmap.register("id").fields["ident"].reset]
    assert write == bytes([STATUS_OK])
    assert words(read[:-1]) == [0x1000, 0x2] and read[-1] == STATUS_OK
    assert outside == bytes(4) + bytes([STATUS_DECERR])


def test_irq_line_and_unknown_command():
    irq, bad = exchange([(command(CMD_IRQ, 0, 1), 5, 0), (command(0x7F, 0, 3), 1, 0)], irq=1)
    assert irq == bytes([1, 0, 0, 0, STATUS_OK])
    assert bad == bytes([STATUS_BAD_COMMAND])


def test_a_command_cut_short_is_dropped_after_the_timeout():
    cut = command(CMD_MEM_WRITE, 0, 2, [0xAAAAAAAA])[:-2]   # header and half a word
    steps = [(cut, 0, TIMEOUT + 5),
             (command(CMD_MEM_READ, 0, 1), 5, 0),
             (command(CMD_PING, 0, 1), 5, 0)]
    nothing, read, ping = exchange(steps)
    assert nothing == b""
    assert read == bytes(4) + bytes([STATUS_OK])         # the cut write wrote nothing
    assert words(ping[:-1]) == [PING_MAGIC]
