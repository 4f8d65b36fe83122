"""The engine's contract as the tests state it: bursts, completion records, status.

One reference for the stage tests (test_legalizer.py, test_writer.py) and the
engine scenarios (engine_cases.py), so that a stage alone and the whole engine
are checked against the same statement of what the engine must do:

- :func:`legal_bursts`: the AXI bursts a copy is cut into;
- :func:`copy_outcome`: the status and byte count a copy's completion record
  must hold, from the responses its bursts got;
- :data:`ERRORS`: the status each kind of failure ends a descriptor with, and
  whether that leaves a completion record;
- :func:`record_beat`, :func:`record_write`: the one-beat AXI write that
  carries a completion record;
- :func:`channel_status`: STATUS of a channel once it is idle.

Plain Python (no simulator), so that the scenarios can use it in the cocotb
process too.
"""
from hw.axi import RESP_DECERR, RESP_OKAY, RESP_SLVERR
from hw.descriptor import RECORD_BYTES, Status, pack_record
from hw.params import AXI_BOUNDARY_BYTES


def legal_bursts(src, dst, length, params):
    """(src, dst, bytes) of the bursts a descriptor must be cut into, in order.

    Cut at burst_beats_max beats and wherever src or dst crosses a 4 KiB boundary.
    """
    limit = params.burst_beats_max * params.beat_bytes
    bursts, offset = [], 0
    while offset < length:
        n = min(length - offset, limit,
                AXI_BOUNDARY_BYTES - (src + offset) % AXI_BOUNDARY_BYTES,
                AXI_BOUNDARY_BYTES - (dst + offset) % AXI_BOUNDARY_BYTES)
        bursts.append((src + offset, dst + offset, n))
        offset += n
    return bursts


#: Status of a copy whose data read, or data write, got an error response.
READ_STATUS = {RESP_SLVERR: Status.READ_SLVERR, RESP_DECERR: Status.READ_DECERR}
WRITE_STATUS = {RESP_SLVERR: Status.WRITE_SLVERR, RESP_DECERR: Status.WRITE_DECERR}


def copy_outcome(burst_bytes, read_errors=None, write_errors=None):
    """(status, bytes) the completion record of a copy must hold.

    burst_bytes  -- the bytes of each of the copy's bursts, in order.
    read_errors  -- {burst index: RRESP} of the first erroneous beat read in a burst.
    write_errors -- {burst index: BRESP} of bursts whose write got an error.

    The first burst with an error ends the copy, its read error before its write
    response; the bytes are those of the bursts before it (copied and
    acknowledged without error). Without an error: SUCCESS and every byte.
    """
    read_errors, write_errors = read_errors or {}, write_errors or {}
    done = 0
    for i, nbytes in enumerate(burst_bytes):
        if read_errors.get(i, RESP_OKAY) != RESP_OKAY:
            return READ_STATUS[read_errors[i]], done
        if write_errors.get(i, RESP_OKAY) != RESP_OKAY:
            return WRITE_STATUS[write_errors[i]], done
        done += nbytes
    return Status.SUCCESS, done


#: Every way a descriptor can fail: kind -> (status, a completion record is written).
#: The channel halts with that status as its code.
ERRORS = {
    # An error response to a data read or write (bytes: see copy_outcome).
    "read_slverr": (Status.READ_SLVERR, True),
    "read_decerr": (Status.READ_DECERR, True),
    "write_slverr": (Status.WRITE_SLVERR, True),
    "write_decerr": (Status.WRITE_DECERR, True),
    # Refused before its first burst (0 bytes).
    "zero_length": (Status.ZERO_LENGTH, True),
    "src_misaligned": (Status.SRC_MISALIGNED, True),
    "dst_misaligned": (Status.DST_MISALIGNED, True),
    "len_misaligned": (Status.LEN_MISALIGNED, True),
    # Channel-only codes: no record can be written for these.
    "desc_read_error": (Status.DESC_READ_ERROR, False),
    "record_misaligned": (Status.RECORD_MISALIGNED, False),
    "record_write_error": (Status.RECORD_WRITE_ERROR, False),
}


def descriptor_check(fields, beat_bytes, fetch_error=False):
    """The Status of the first check a fetched descriptor (``fields``: src, dst, len,
    completion) fails, or 0 (hw.fetcher.descriptor_check's order)."""
    failures = (
        (fetch_error, Status.DESC_READ_ERROR),
        (fields["completion"] % RECORD_BYTES, Status.RECORD_MISALIGNED),
        (fields["len"] == 0, Status.ZERO_LENGTH),
        (fields["src"] % beat_bytes, Status.SRC_MISALIGNED),
        (fields["dst"] % beat_bytes, Status.DST_MISALIGNED),
        (fields["len"] % beat_bytes, Status.LEN_MISALIGNED),
    )
    return next((status for failed, status in failures if failed), 0)


def record_beat(completion, beat_bytes):
    """Address of the data beat that holds the record at completion (its AWADDR)."""
    return completion - completion % beat_bytes


def record_write(completion, status, nbytes, beat_bytes):
    """(AWADDR, WSTRB, the record's bytes) of the one-beat write of a completion
    record: the beat that holds it, with strobes on the record's bytes only."""
    addr = record_beat(completion, beat_bytes)
    return addr, ((1 << RECORD_BYTES) - 1) << (completion - addr), pack_record(status, nbytes)


def channel_status(code=0):
    """STATUS of an idle channel: halted with the code of its error (or ABORTED)
    when it has one, else all clear."""
    return {"busy": 0, "halted": int(code != 0), "code": int(code)}
