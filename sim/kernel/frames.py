"""Where the folios live: the nodes' memory ranges, page frames, and each folio's
PTEs (source, destination or migration entry).
"""
import heapq
from dataclasses import dataclass

from sim.kernel.folios import MAX_FOLIO_BYTES


def _align(value, alignment):
    return -(-value // alignment) * alignment


def node_layout(plan, *, from_node, to_node, base, full):
    """{node: (start, size)} of the frames each node can hand out, from ``base`` on.

    The source node's region holds the simulated sources (and fixed slots for the
    folios with injected faults), the target node's the destinations.
    """
    bound = plan.simulated_bound(full)
    slack = 2 * MAX_FOLIO_BYTES
    faulty = len(plan.dma_fail | plan.poison) * MAX_FOLIO_BYTES
    need = {from_node: bound + slack + faulty}
    need[to_node] = need.get(to_node, 0) + bound + slack
    layout, start = {}, _align(base, MAX_FOLIO_BYTES)
    for node in sorted(need):
        size = _align(need[node], MAX_FOLIO_BYTES)
        layout[node] = (start, size)
        start += size
    return layout


class NodeFrames:
    """Frames of one node: size-aligned folios from a region, freed ones reused lowest
    address first, so that a batch's folios take the frames of the batch before in
    the same order (contiguous runs stay contiguous, and their DMA segments the same:
    sw_driver.dma_mapping)."""

    def __init__(self, node, start, size):
        self.node, self.start, self.end = node, start, start + size
        self._top = self.end
        self._next = start
        self._free = {}

    def alloc(self, size):
        free = self._free.get(size)
        if free:
            return heapq.heappop(free)
        addr = _align(self._next, size)
        if addr + size > self.end:
            raise MemoryError(f"node {self.node}: no {size}-byte frame left in "
                              f"[{self.start:#x}, {self.end:#x})")
        self._next = addr + size
        return addr

    def reserve_top(self, size, slot):
        """A fixed frame at the top of the region (slot 0, 1, ...): injected faults."""
        addr = self._top - (slot + 1) * MAX_FOLIO_BYTES
        if addr < self._next:
            raise MemoryError(f"node {self.node}: no room for reserved slot {slot}")
        self.end = min(self.end, addr)
        return addr

    def free(self, addr, size):
        heapq.heappush(self._free.setdefault(size, []), addr)


@dataclass
class FolioState:
    index: int
    size: int
    vaddr: int
    src: int
    digest: bytes
    dst: int = None
    status: str = "mapped"          # mapped -> unmapped -> migrated | kept
