"""The bridge's client alone, against canned answers: what it sends, how it reads an
answer that comes in pieces, and what it makes of a bad status or a stranger."""
import struct

import pytest

from hw.board.bridge import (CMD_MEM_WRITE, CMD_PING, HEADER, INFO_WORDS, PING_MAGIC,
                             PROTOCOL_VERSION, STATUS_DECERR, STATUS_OK)
from sim.board.link import BridgeLink, LinkError


class Canned:
    """A serial port answering with ``answer``, ``piece`` bytes per read at most."""
    port = "/dev/ttyCANNED"

    def __init__(self, answer, piece=3):
        self.answer, self.piece, self.written = bytearray(answer), piece, bytearray()

    def write(self, data):
        self.written += data
        return len(data)

    def read(self, size=1):
        chunk = self.answer[:min(size, self.piece)]
        del self.answer[:len(chunk)]
        return bytes(chunk)

    def reset_input_buffer(self):
        pass


def ping_answer(magic=PING_MAGIC, version=PROTOCOL_VERSION):
    words = (magic, version, 25_000_000, 256 << 10, 25)
    return struct.pack(f"<{len(INFO_WORDS)}I", *words) + bytes([STATUS_OK])


def test_ping_sends_a_header_and_reads_an_answer_in_pieces():
    serial = Canned(ping_answer())
    link = BridgeLink(serial, resync_s=0)
    info = link.ping()
    assert bytes(serial.written) == HEADER.pack(CMD_PING, 0, len(INFO_WORDS))
    assert info == {"magic": PING_MAGIC, "version": PROTOCOL_VERSION, "clk_hz": 25_000_000,
                    "memory_bytes": 256 << 10, "divisor": 25}
    assert (link.sent, link.received) == (HEADER.size, 4 * len(INFO_WORDS) + 1)


def test_an_unaligned_write_merges_the_words_around_it():
    # The read of the two words it touches, then the write's status.
    serial = Canned(bytes(range(8)) + bytes([STATUS_OK]) + bytes([STATUS_OK]))
    BridgeLink(serial, resync_s=0).mem_write(0x102, b"\xAA\xBB\xCC")
    write = serial.written[HEADER.size:]
    assert write[:HEADER.size] == HEADER.pack(CMD_MEM_WRITE, 0x100, 2)
    assert write[HEADER.size:] == bytes([0, 1, 0xAA, 0xBB, 0xCC, 5, 6, 7])


@pytest.mark.parametrize("answer, message", [
    (ping_answer()[:-1] + bytes([STATUS_DECERR]), "status 0x03"),
    (ping_answer(magic=0x12345678), "not a foliodma board"),
    (ping_answer(version=PROTOCOL_VERSION + 1), "bridge protocol"),
])
def test_a_bad_answer_is_a_link_error(answer, message):
    with pytest.raises(LinkError, match=message):
        BridgeLink(Canned(answer), resync_s=0).ping()


def test_a_board_that_does_not_answer_is_a_link_error():
    with pytest.raises(LinkError, match="no answer from the board on /dev/ttyCANNED"):
        BridgeLink(Canned(b""), resync_s=0).ping()
