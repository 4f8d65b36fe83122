"""Internal payload layouts passed between the engine's stages."""
from amaranth.lib import data

from .descriptor import DESC_BYTES, DESC_FIELD_BITS, RECORD_FIELDS, Status
from .params import AXI_MAX_BURST_BEATS

CODE_WIDTH = 4
#: AXI ID bits of the engine's master port: 0 for data, 1 for descriptors and records.
AXI_ID_WIDTH = 1
#: AxLEN (beats - 1) and a beat count of up to AXI_MAX_BURST_BEATS.
BURST_LEN_BITS = (AXI_MAX_BURST_BEATS - 1).bit_length()
BURST_BEATS_BITS = AXI_MAX_BURST_BEATS.bit_length()
RECORD_FIELD_BITS = {name: width for name, _, width in RECORD_FIELDS}
assert max(Status) < 2 ** CODE_WIDTH


def channel_bits(channels):
    """Width of a channel number (at least one bit)."""
    return max(1, (channels - 1).bit_length())


def set_channel_bit(m, domain, vector, channel, channels):
    """In module m, set bit ``channel`` (a signal) of ``vector`` in ``domain``
    ("comb" or "sync"): one comparison per channel."""
    for c in range(channels):
        with m.If(channel == c):
            m.d[domain] += vector[c].eq(1)


def descriptor_entry(channels):
    """A fetched descriptor, as the front-end hands it to the legalizer."""
    return data.StructLayout({
        "ch": channel_bits(channels),
        **DESC_FIELD_BITS,
        "check": CODE_WIDTH,   # the first check it fails (a Status code), 0 if none
    })


def read_request():
    """One AXI read burst to issue: address and AxLEN (beats - 1)."""
    return data.StructLayout({"addr": 64, "len": BURST_LEN_BITS})


def read_beat(data_width):
    """A descriptor read's R beat, as the read port routes it to the fetcher."""
    return data.StructLayout({"data": data_width, "resp": 2, "last": 1})


def buffered_beat(data_width):
    """A beat in the read/write buffer, with the RRESP it was read with."""
    return data.StructLayout({"data": data_width, "resp": 2})


def write_job(channels):
    """One entry of the write side's in-order job queue.

    kind DATA: write ``beats`` buffered beats to ``addr``; ``last`` closes the
    descriptor. kind END: closes the descriptor without data, with ``code``
    (an error found before or while issuing; ``record`` says whether a
    completion record can be written).
    """
    return data.StructLayout({
        "end": 1,
        "ch": channel_bits(channels),
        "addr": 64,
        "beats": BURST_BEATS_BITS,
        "last": 1,
        "irq": 1,
        "completion": 64,
        "code": CODE_WIDTH,
        "record": 1,
    })


def retirement(channels):
    """A finished descriptor, ready for its completion record and retirement."""
    return data.StructLayout({
        "ch": channel_bits(channels),
        "completion": 64,
        "code": CODE_WIDTH,
        "bytes": RECORD_FIELD_BITS["bytes"],
        "irq": 1,
        "record": 1,
    })


def axi_address():
    """An AR or AW request: AXI ID, address and AxLEN (beats - 1)."""
    return data.StructLayout({"id": AXI_ID_WIDTH, "addr": 64, "len": BURST_LEN_BITS})


def axi_read_data(data_width):
    """An R beat: ID, data, RRESP and RLAST."""
    return data.StructLayout({"id": AXI_ID_WIDTH, "data": data_width, "resp": 2, "last": 1})


def axi_write_data(data_width):
    """A W beat: data, byte strobes and WLAST."""
    return data.StructLayout({"data": data_width, "strb": data_width // 8, "last": 1})


def axi_write_response():
    """A B response: ID and BRESP."""
    return data.StructLayout({"id": AXI_ID_WIDTH, "resp": 2})


DESC_BITS = DESC_BYTES * 8
