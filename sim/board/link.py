"""The host's end of the bridge protocol (defined in :mod:`hw.board.bridge`), over a
serial port: a pyserial ``Serial`` on a real board, or
:class:`sim.board.simulated.SimulatedSerial` on the simulated one.
"""
import struct
import time

from hw.board.bridge import (CMD_IRQ, CMD_MEM_READ, CMD_MEM_WRITE, CMD_PING, CMD_REG_READ,
                             CMD_REG_WRITE, HEADER, INFO_WORDS, MAX_COUNT, PING_MAGIC,
                             PROTOCOL_VERSION, STATUS_OK, WRITE_COMMANDS)
from hw.board.memory import WORD_BYTES

#: Seconds a read may wait for the next bytes of the board's answer.
READ_TIMEOUT_S = 2.0
#: Seconds of silence after which the board drops a command cut short (longer than
#: its timeout of 1024 byte times at 1 Mbaud).
RESYNC_S = 0.05


class LinkError(RuntimeError):
    """The board did not answer, answered something else, or reported an error."""


def open_serial(path, baud):
    """A pyserial port on ``path`` at ``baud``, 8N1; LinkError naming the problem."""
    import serial
    try:
        return serial.Serial(path, baudrate=baud, timeout=READ_TIMEOUT_S)
    except (serial.SerialException, OSError) as error:
        raise LinkError(f"cannot open {path}: {error}") from None


class BridgeLink:
    """Commands of the bridge protocol over ``serial`` (write, read, reset_input_buffer).
    ``sent`` and ``received`` count the bytes on the line."""

    def __init__(self, serial, resync_s=RESYNC_S):
        self.serial = serial
        self.resync_s = resync_s
        self.sent = 0
        self.received = 0
        self.info = None

    def _read(self, nbytes, what):
        """nbytes from the board: LinkError when a read's timeout passes with none (a
        long answer may take several)."""
        data = bytearray()
        while len(data) < nbytes:
            chunk = self.serial.read(nbytes - len(data))
            if not chunk:
                break
            data += chunk
        self.received += len(data)
        if len(data) != nbytes:
            raise LinkError(f"no answer from the board on {self._where()} ({what}: "
                            f"{len(data)} of {nbytes} bytes before the timeout); is the "
                            f"board programmed with the foliodma design, at this baud rate?")
        return bytes(data)

    def _where(self):
        return getattr(self.serial, "port", None) or "the serial port"

    def command(self, cmd, address, count, payload=b""):
        """Send one command (and its words); the words of its answer, as bytes.
        LinkError when its status is not STATUS_OK."""
        if not 0 <= count <= MAX_COUNT:
            raise ValueError(f"count {count}: expected 0..{MAX_COUNT} words")
        self.serial.write(HEADER.pack(cmd, address, count) + payload)
        self.sent += HEADER.size + len(payload)
        answer = 0 if cmd in WRITE_COMMANDS else count * WORD_BYTES
        data = self._read(answer + 1, f"command {cmd} at {address:#x}")
        status = data[-1]
        if status != STATUS_OK:
            raise LinkError(f"the board answered status {status:#04x} to command {cmd} at "
                            f"address {address:#x} ({count} words)")
        return data[:-1]

    def ping(self):
        """Resynchronize (silence, then drop stale input), then PING: the board's
        description as a dict of INFO_WORDS; LinkError if it is not a foliodma board."""
        if self.resync_s:
            time.sleep(self.resync_s)
        self.serial.reset_input_buffer()
        words = struct.unpack(f"<{len(INFO_WORDS)}I",
                              self.command(CMD_PING, 0, len(INFO_WORDS)))
        info = dict(zip(INFO_WORDS, words))
        if info["magic"] != PING_MAGIC:
            raise LinkError(f"not a foliodma board: PING answered {info['magic']:#010x}")
        if info["version"] != PROTOCOL_VERSION:
            raise LinkError(f"the board speaks bridge protocol {info['version']}, this host "
                            f"{PROTOCOL_VERSION}")
        self.info = info
        return info

    # --- words and bytes ---

    def reg_read(self, offset):
        return int.from_bytes(self.command(CMD_REG_READ, offset, 1), "little")

    def reg_write(self, offset, value):
        self.command(CMD_REG_WRITE, offset, 1, value.to_bytes(WORD_BYTES, "little"))

    def irq(self):
        """The engine's interrupt line."""
        return bool(int.from_bytes(self.command(CMD_IRQ, 0, 1), "little") & 1)

    def mem_read(self, addr, nbytes):
        """nbytes of the board's memory from addr (any alignment)."""
        start = addr - addr % WORD_BYTES
        end = -(-(addr + nbytes) // WORD_BYTES) * WORD_BYTES
        data = bytearray()
        for at in range(start, end, MAX_COUNT * WORD_BYTES):
            count = min(MAX_COUNT, (end - at) // WORD_BYTES)
            data += self.command(CMD_MEM_READ, at, count)
        return bytes(data[addr - start:addr - start + nbytes])

    def mem_write(self, addr, data):
        """Write bytes at addr; a partial word at either end is read first and merged."""
        data = bytes(data)
        start = addr - addr % WORD_BYTES
        end = -(-(addr + len(data)) // WORD_BYTES) * WORD_BYTES
        if (start, end) != (addr, addr + len(data)):
            merged = bytearray(self.mem_read(start, end - start))
            merged[addr - start:addr - start + len(data)] = data
            data = bytes(merged)
        for at in range(0, len(data), MAX_COUNT * WORD_BYTES):
            chunk = data[at:at + MAX_COUNT * WORD_BYTES]
            self.command(CMD_MEM_WRITE, start + at, len(chunk) // WORD_BYTES, chunk)
