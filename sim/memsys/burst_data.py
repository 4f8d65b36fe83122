"""The data side of an AXI burst: what a read returns and what a write stores, with the
memory's bounds and the error regions (:mod:`sim.memsys.error_regions`) applied.

Regions here are ``(start, end, resp)`` triples of one direction; a beat outside the
memory gets DECERR, a beat touching a region the region's response.
"""
import numpy as np

from hw.axi import RESP_DECERR, RESP_OKAY


def read_burst(memory, regions, addr, beats, beat):
    """(data, per-beat RRESP or None when all OKAY) of a read of ``beats`` beats of
    ``beat`` bytes at addr; a failing beat reads as zeros."""
    nbytes = beats * beat
    if memory.contains(addr, nbytes) and not any(
            addr < end and start < addr + nbytes for start, end, _ in regions):
        offset = addr - memory.base
        return memory.data[offset:offset + nbytes].tobytes(), None
    chunks, resps = [], []
    for a in range(addr, addr + nbytes, beat):
        resp = RESP_OKAY
        if not memory.contains(a, beat):
            resp = RESP_DECERR
        else:
            for start, end, region_resp in regions:
                if a < end and start < a + beat:
                    resp = region_resp
                    break
        chunks.append(memory.read(a, beat) if resp == RESP_OKAY else bytes(beat))
        resps.append(resp)
    return b"".join(chunks), resps


def write_burst(memory, regions, addr, beats, beat):
    """Store one complete write burst, ``beats`` as (data, strb) pairs of ``beat`` bytes,
    at addr (nothing when it fails); returns its BRESP."""
    nbytes = len(beats) * beat
    if not memory.contains(addr, nbytes):
        return RESP_DECERR
    for start, end, resp in regions:
        if addr < end and start < addr + nbytes:
            return resp
    offset = addr - memory.base
    payload = np.frombuffer(b"".join(data.to_bytes(beat, "little") for data, _ in beats),
                            dtype=np.uint8)
    target = memory.data[offset:offset + nbytes]
    full = (1 << beat) - 1
    if all(strb == full for _, strb in beats):
        target[:] = payload
    else:
        strb_bytes = (beat + 7) // 8
        mask = np.concatenate([
            np.unpackbits(np.frombuffer(strb.to_bytes(strb_bytes, "little"), np.uint8),
                          bitorder="little")[:beat]
            for _, strb in beats]).astype(bool)
        np.copyto(target, payload, where=mask)
    return RESP_OKAY
