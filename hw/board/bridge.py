"""The bridge between a serial line and the board: its byte protocol, defined once
here, and the RTL that speaks it (:class:`Bridge`). The host's client
(``sim/board/link.py``) imports the constants below.

Every command is a 7-byte header, little-endian::

    u8   command     one of COMMANDS
    u32  address     a byte address (bits 1:0 ignored): in the on-chip memory for
                     MEM_*, in the engine's 4 KiB register window for REG_*
    u16  count       32-bit words to move (0: none)

followed, for the write commands (MEM_WRITE, REG_WRITE), by ``count`` words of 4
bytes, little-endian, for consecutive addresses. The board answers every command
with ``count`` words (for the read commands: MEM_READ, REG_READ, IRQ, PING; none
for a write), then one status byte: STATUS_OK, or the AXI response code of the
worst access (STATUS_SLVERR; STATUS_DECERR for an address outside the memory or
the window, which is not accessed and reads 0), or STATUS_BAD_COMMAND for an
unknown command (then no words are sent or taken).

MEM_READ / MEM_WRITE    words of the on-chip memory (which the engine's AXI4
                        master sees from bus address 0).
REG_READ / REG_WRITE    engine registers, each word one AXI4-Lite access.
IRQ                     the engine's interrupt line (bit 0), once per word.
PING                    the board's description, one word each (INFO_WORDS):
                        PING_MAGIC, PROTOCOL_VERSION, the clock in Hz, the memory's
                        bytes, the UART's clock cycles per bit.

The board answers in order and takes no new command before its answer is sent. A
command left unfinished (no byte for ``timeout_cycles`` in the middle of one) is
dropped and the bridge waits for a new header: a host resynchronizes by staying
silent that long.
"""
import struct

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.axi import AXI4LiteSignature, RESP_DECERR
from hw.regmap import REG_ADDR_WIDTH

from .memory import BridgePortSignature, WORD_BYTES, word_address_bits

CMD_MEM_READ, CMD_MEM_WRITE, CMD_REG_READ, CMD_REG_WRITE, CMD_IRQ, CMD_PING = range(1, 7)
COMMANDS = {"mem_read": CMD_MEM_READ, "mem_write": CMD_MEM_WRITE, "reg_read": CMD_REG_READ,
            "reg_write": CMD_REG_WRITE, "irq": CMD_IRQ, "ping": CMD_PING}
#: The commands followed by words from the host; the others answer with words.
WRITE_COMMANDS = (CMD_MEM_WRITE, CMD_REG_WRITE)
HEADER = struct.Struct("<BIH")
MAX_COUNT = (1 << 16) - 1

STATUS_OK = 0
STATUS_SLVERR = 2
STATUS_DECERR = 3
STATUS_BAD_COMMAND = 0x80

#: "FDMB" on the line.
PING_MAGIC = int.from_bytes(b"FDMB", "little")
PROTOCOL_VERSION = 1
#: What PING answers, word by word.
INFO_WORDS = ("magic", "version", "clk_hz", "memory_bytes", "divisor")


class Bridge(wiring.Component):
    """The protocol's board side. ``rx``/``tx``: bytes from and to the UART; ``reg``:
    the AXI4-Lite master to the engine's registers; ``mem``: the memory's word port;
    ``irq``: the engine's interrupt. ``info``: the PING words after the magic and the
    version (clk_hz, memory_bytes, divisor)."""

    def __init__(self, *, memory_bytes, info, timeout_cycles):
        if len(info) != len(INFO_WORDS) - 2:
            raise ValueError(f"info: expected {INFO_WORDS[2:]}, got {info!r}")
        self.memory_bytes = memory_bytes
        self.info = (PING_MAGIC, PROTOCOL_VERSION, *info)
        self.timeout_cycles = timeout_cycles
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "reg": Out(AXI4LiteSignature(addr_width=REG_ADDR_WIDTH)),
            "mem": Out(BridgePortSignature(word_address_bits(memory_bytes))),
            "irq": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        self.header = Signal(8 * HEADER.size)
        self.command = self.header[:8]
        self.address = Signal(32)
        self.left = Signal(16)
        self.word = Signal(32)
        self.status = Signal(8)
        self.index = Signal(16)
        self.byte = Signal(range(WORD_BYTES))
        self.silent = Signal(range(self.timeout_cycles + 1))

        with m.FSM():
            self._receive(m)
            self._access_memory(m)
            self._access_registers(m)
            self._send(m)
        return m

    def _next_word(self, m):
        """The FSM's step after a word: the status once all are done, else the next."""
        m.d.sync += [self.address.eq(self.address + WORD_BYTES), self.index.eq(self.index + 1),
                     self.left.eq(self.left - 1), self.byte.eq(0)]
        with m.If(self.left == 1):
            m.next = "STATUS"
        with m.Elif(self._writing()):
            m.next = "RECEIVE"
        with m.Else():
            m.next = "ACCESS"

    def _writing(self):
        return Cat(*(self.command == cmd for cmd in WRITE_COMMANDS)).any()

    def _take_byte(self, m, on_byte, abandon):
        """Take a byte from rx (``on_byte(payload)``), or count a silent cycle and
        abandon the command after timeout_cycles of them (if ``abandon``)."""
        m.d.comb += self.rx.ready.eq(1)
        with m.If(self.rx.valid):
            m.d.sync += self.silent.eq(0)
            on_byte(self.rx.payload)
        with m.Elif(abandon):
            m.d.sync += self.silent.eq(self.silent + 1)
            with m.If(self.silent == self.timeout_cycles):
                m.d.sync += [self.silent.eq(0), self.index.eq(0)]
                m.next = "HEADER"

    def _receive(self, m):
        """HEADER, DISPATCH and RECEIVE (a word of a write command)."""
        got = self.index      # header bytes so far (reset for each command)
        with m.State("HEADER"):
            def header_byte(byte):
                m.d.sync += [self.header.eq(Cat(self.header[8:], byte)), got.eq(got + 1)]
                with m.If(got == HEADER.size - 1):
                    m.next = "DISPATCH"
            self._take_byte(m, header_byte, got != 0)
        with m.State("DISPATCH"):
            fields = self.header[8:]
            m.d.sync += [self.address.eq(fields[:32]), self.left.eq(fields[32:48]),
                         self.status.eq(STATUS_OK), self.index.eq(0), self.byte.eq(0)]
            known = Cat(*(self.command == cmd for cmd in COMMANDS.values())).any()
            with m.If(~known):
                m.d.sync += self.status.eq(STATUS_BAD_COMMAND)
                m.next = "STATUS"
            with m.Elif(fields[32:48] == 0):
                m.next = "STATUS"
            with m.Elif(self._writing()):
                m.next = "RECEIVE"
            with m.Else():
                m.next = "ACCESS"
        with m.State("RECEIVE"):
            def data_byte(byte):
                m.d.sync += [self.word.eq(Cat(self.word[8:], byte)), self.byte.eq(self.byte + 1)]
                with m.If(self.byte == WORD_BYTES - 1):
                    m.next = "ACCESS"
            self._take_byte(m, data_byte, 1)

    def _outside(self, m):
        """The address is outside the memory or the window: DECERR, and it reads 0."""
        m.d.sync += [self.status.eq(self.status | RESP_DECERR), self.word.eq(0)]
        m.next = "REPLY"

    def _access_memory(self, m):
        """ACCESS: one word of the command (memory, interrupt line, PING; registers
        in REG_* states)."""
        mem = self.mem
        mem_bits = self.memory_bytes.bit_length() - 1
        with m.State("ACCESS"):
            with m.Switch(self.command):
                with m.Case(CMD_MEM_READ, CMD_MEM_WRITE):
                    with m.If(self.address[mem_bits:].any()):
                        self._outside(m)
                    with m.Else():
                        m.d.comb += [mem.req.eq(1), mem.we.eq(self.command == CMD_MEM_WRITE),
                                     mem.addr.eq(self.address[2:mem_bits]),
                                     mem.wdata.eq(self.word)]
                        with m.If(mem.ack):
                            with m.If(self.command == CMD_MEM_READ):
                                m.d.sync += self.word.eq(mem.rdata)
                            m.next = "REPLY"
                with m.Case(CMD_REG_READ, CMD_REG_WRITE):
                    with m.If(self.address[REG_ADDR_WIDTH:].any()):
                        self._outside(m)
                    with m.Elif(self.command == CMD_REG_READ):
                        m.next = "REG_AR"
                    with m.Else():
                        m.next = "REG_AW_W"
                with m.Case(CMD_IRQ):
                    m.d.sync += self.word.eq(self.irq)
                    m.next = "REPLY"
                with m.Case(CMD_PING):
                    with m.Switch(self.index):
                        for k, value in enumerate(self.info):
                            with m.Case(k):
                                m.d.sync += self.word.eq(value)
                        with m.Default():
                            m.d.sync += self.word.eq(0)
                    m.next = "REPLY"
        with m.State("REPLY"):
            with m.If(self._writing()):
                self._next_word(m)
            with m.Else():
                m.next = "SEND"

    def _access_registers(self, m):
        """One AXI4-Lite access of the engine's registers."""
        reg = self.reg
        aw_done, w_done = Signal(), Signal()
        m.d.comb += [reg.awaddr.eq(self.address), reg.araddr.eq(self.address),
                     reg.wdata.eq(self.word), reg.wstrb.eq(0xF)]
        with m.State("REG_AW_W"):
            m.d.comb += [reg.awvalid.eq(~aw_done), reg.wvalid.eq(~w_done)]
            aw = aw_done | reg.awready
            w = w_done | reg.wready
            m.d.sync += [aw_done.eq(aw), w_done.eq(w)]
            with m.If(aw & w):
                m.d.sync += [aw_done.eq(0), w_done.eq(0)]
                m.next = "REG_B"
        with m.State("REG_B"):
            m.d.comb += reg.bready.eq(1)
            with m.If(reg.bvalid):
                m.d.sync += self.status.eq(self.status | reg.bresp)
                m.next = "REPLY"
        with m.State("REG_AR"):
            m.d.comb += reg.arvalid.eq(1)
            with m.If(reg.arready):
                m.next = "REG_R"
        with m.State("REG_R"):
            m.d.comb += reg.rready.eq(1)
            with m.If(reg.rvalid):
                m.d.sync += [self.word.eq(reg.rdata), self.status.eq(self.status | reg.rresp)]
                m.next = "REPLY"

    def _send(self, m):
        """SEND a read word, byte by byte, then the next; STATUS ends the command."""
        with m.State("SEND"):
            m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(self.word[:8])]
            with m.If(self.tx.ready):
                m.d.sync += [self.word.eq(self.word >> 8), self.byte.eq(self.byte + 1)]
                with m.If(self.byte == WORD_BYTES - 1):
                    self._next_word(m)
        with m.State("STATUS"):
            m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(self.status)]
            with m.If(self.tx.ready):
                m.d.sync += self.index.eq(0)
                m.next = "HEADER"
