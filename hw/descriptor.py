"""Descriptor and completion-record layout, and status codes: defined once.

Used by the RTL (``hw.engine``), the driver (``sw_driver``), the docs and the
tests. No Amaranth here: this is the device's "descriptor header".

Descriptor (32 bytes, little-endian, 32-byte aligned in the ring)::

    0x00  u64  src         source bus address (multiple of the beat size)
    0x08  u64  dst         destination bus address (multiple of the beat size)
    0x10  u32  len         bytes to copy (non-zero multiple of the beat size)
    0x14  u32  flags       bit 0 INTERRUPT, bit 1 FENCE
    0x18  u64  completion  address of the completion record (8-byte aligned)

Completion record (8 bytes), written by the engine for every descriptor it
finishes, after all of the descriptor's data writes were acknowledged::

    0x00  u32  status      a :class:`Status` code; 0 means "not written yet"
    0x04  u32  bytes       bytes copied and acknowledged before any error
"""
import enum
import struct

DESC_BYTES = 32
RECORD_BYTES = 8

# (name, byte offset, width in bits) of each descriptor field.
DESC_FIELDS = (
    ("src", 0, 64),
    ("dst", 8, 64),
    ("len", 16, 32),
    ("flags", 20, 32),
    ("completion", 24, 64),
)
RECORD_FIELDS = (
    ("status", 0, 32),
    ("bytes", 4, 32),
)
#: Width in bits of each descriptor field, by name.
DESC_FIELD_BITS = {name: width for name, _, width in DESC_FIELDS}

FLAG_INTERRUPT = 1 << 0   # count this descriptor toward the completion interrupt
FLAG_FENCE = 1 << 1       # start only after every earlier descriptor has completed

_DESC = struct.Struct("<QQIIQ")
_RECORD = struct.Struct("<II")


class Status(enum.IntEnum):
    """Completion record status and channel error codes."""
    NOT_DONE = 0            # record not written yet (software clears it before submitting)
    SUCCESS = 1
    READ_SLVERR = 2         # a data read returned SLVERR
    READ_DECERR = 3         # a data read returned DECERR
    WRITE_SLVERR = 4        # a data write returned SLVERR
    WRITE_DECERR = 5        # a data write returned DECERR
    ZERO_LENGTH = 6
    SRC_MISALIGNED = 7      # src not a multiple of the beat size
    DST_MISALIGNED = 8      # dst not a multiple of the beat size
    LEN_MISALIGNED = 9      # len not a multiple of the beat size
    ABORTED = 10            # stopped by the channel's abort bit
    # Channel-only codes (no record can be written for these):
    DESC_READ_ERROR = 11    # fetching the descriptor returned SLVERR/DECERR
    RECORD_MISALIGNED = 12  # completion address not 8-byte aligned
    RECORD_WRITE_ERROR = 13 # writing the completion record failed


def pack_descriptor(src, dst, length, flags, completion):
    """The 32 bytes of one descriptor."""
    return _DESC.pack(src, dst, length, flags, completion)


def unpack_descriptor(raw):
    """(src, dst, len, flags, completion) from 32 bytes."""
    return _DESC.unpack(bytes(raw))


def pack_record(status, nbytes):
    """The 8 bytes of a completion record."""
    return _RECORD.pack(int(status), nbytes)


def unpack_record(raw):
    """(Status, bytes) from the 8 bytes of a completion record."""
    status, nbytes = _RECORD.unpack(bytes(raw))
    return Status(status), nbytes
