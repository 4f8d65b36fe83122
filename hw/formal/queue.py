"""A small in-order queue of registers, for monitors that remember what a bus promised."""
from amaranth import Array, Module, Signal


class MonitorQueue:
    """``depth`` entries of ``width`` bits, in flip-flops (no memory: a solver sees
    every entry). ``push`` (with ``data``) and ``pop`` act at the clock edge;
    ``head`` is the oldest entry, ``count`` how many are held. A push into a full
    queue is lost and ``overflow`` is high in that cycle: the monitor using it
    asserts that it never is.
    """

    def __init__(self, width, depth):
        self.width = width
        self.depth = depth
        self.push = Signal()
        self.pop = Signal()
        self.data = Signal(width)
        self.head = Signal(width)
        self.count = Signal(range(depth + 1))
        self.overflow = Signal()

    def build(self, m):
        """Add the queue's logic to module ``m``."""
        entries = Array(Signal(self.width, name=f"entry{i}") for i in range(self.depth))
        popping = self.pop & (self.count != 0)
        m.d.comb += [
            self.head.eq(entries[0]),
            self.overflow.eq(self.push & ~popping & (self.count == self.depth)),
        ]
        # Shift on pop; the pushed entry lands behind the ones that stay.
        for i in range(self.depth):
            nxt = entries[i + 1] if i + 1 < self.depth else entries[i]
            with m.If(popping):
                m.d.sync += entries[i].eq(nxt)
        slot = Signal(range(self.depth + 1))
        m.d.comb += slot.eq(self.count - popping)
        with m.If(self.push & (slot < self.depth)):
            m.d.sync += entries[slot].eq(self.data)
        with m.If(self.push & ~self.overflow & ~popping):
            m.d.sync += self.count.eq(self.count + 1)
        with m.Elif(~self.push & popping):
            m.d.sync += self.count.eq(self.count - 1)
        return m


def counter(m, width, up, down, name):
    """A count that ``up`` raises and ``down`` lowers at the clock edge (both: unchanged)."""
    count = Signal(width, name=name)
    m.d.sync += count.eq(count + up - down)
    return count
