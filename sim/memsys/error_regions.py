"""Error regions: address ranges where the memory answers a read or write with an error.

A region is ``(start, end, access, resp)``: end exclusive, ``access`` one of
"read", "write" or "rw", ``resp`` SLVERR or DECERR (the AXI code or its name).
The AXI slave model (:class:`sim.memsys.axi_slave.AxiSlaveModel`) answers
every burst that touches a region with that response; this is how failing or
poisoned memory is injected.
"""
from hw.axi import RESP_DECERR, RESP_SLVERR

RESP_NAMES = {"SLVERR": RESP_SLVERR, "DECERR": RESP_DECERR}
ACCESSES = ("read", "write", "rw")


def parse_error_region(region):
    """``(start, end, access, resp)`` with resp as an int; ValueError naming what is wrong."""
    try:
        start, end, access, resp = region
    except (TypeError, ValueError):
        raise ValueError(f"error region {region!r} is not a (start, end, access, resp) "
                         f"tuple") from None
    resp = RESP_NAMES.get(resp, resp)
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
        raise ValueError(f"error region {region!r}: need integer 0 <= start < end "
                         f"(end is exclusive)")
    if access not in ACCESSES:
        raise ValueError(f"error region {region!r}: access must be one of {ACCESSES}")
    if resp not in (RESP_SLVERR, RESP_DECERR):
        raise ValueError(f"error region {region!r}: resp must be SLVERR or DECERR "
                         f"({RESP_SLVERR} or {RESP_DECERR})")
    return start, end, access, resp


def parse_error_regions(regions):
    """Every region of ``regions`` checked, as a tuple."""
    return tuple(parse_error_region(r) for r in regions)
