"""Round-robin choice among requesters."""
from amaranth import Cat, Signal, Mux


def round_robin(m, requests, last, n):
    """Return (any, index): the first requester after ``last``, wrapping around.

    ``requests`` is an n-bit value, ``last`` the previous grant's index.
    Combinational; the caller registers ``last`` when it grants.
    """
    doubled = Cat(requests, requests)
    rotated = Signal(n)
    m.d.comb += rotated.eq(doubled >> (last + 1))
    offset = Signal(range(n + 1))
    for i in reversed(range(n)):
        with m.If(rotated[i]):
            m.d.comb += offset.eq(i)
    raw = last + 1 + offset
    index = Signal(range(2 * n + 1))
    m.d.comb += index.eq(Mux(raw >= n, raw - n, raw))
    return rotated.any(), index
