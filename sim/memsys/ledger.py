"""Where the engines may write: the destinations and completion records of every
descriptor they were given, and the check that they wrote nowhere else.

A :class:`DescriptorLedger` watches the host's writes into the descriptor rings
(``observe``, as :class:`~sim.host.port.HostPort` reports them) and keeps what each
descriptor allows the engine to write. :func:`stray_writes` compares that with
what the bus wrote (:meth:`sim.memsys.memory.Memory.written_by_bus`, the memory
against its shadow of every CPU-side write): every byte a bus master changed must
lie in some descriptor's destination or record.
"""
import numpy as np

from hw.descriptor import DESC_BYTES, RECORD_BYTES, unpack_descriptor


class DescriptorLedger:
    """The descriptors written into the rings ``rings`` ((base, entries) each), and
    the ranges they let the engine write (``allowed``: (start, end) pairs)."""

    def __init__(self, rings):
        self.rings = [(base, base + entries * DESC_BYTES) for base, entries in rings]
        self.descriptors = 0
        self.allowed = []

    def observe(self, addr, data):
        """A host write of ``data`` at ``addr``: decode the descriptors it puts in a ring."""
        for start, end in self.rings:
            if start <= addr < end:
                for at in range(addr, addr + len(data) - DESC_BYTES + 1, DESC_BYTES):
                    if (at - start) % DESC_BYTES == 0:
                        offset = at - addr
                        _, dst, length, _, record = unpack_descriptor(
                            data[offset:offset + DESC_BYTES])
                        self.descriptors += 1
                        self.allowed.append((dst, dst + length))
                        self.allowed.append((record, record + RECORD_BYTES))
                return


def stray_writes(memory, allowed):
    """(bytes, [first few (start, end) runs]) a bus master changed outside the
    ``allowed`` (start, end) ranges, since ``memory.track()``."""
    written = memory.written_by_bus()
    if not len(written):
        return 0, []
    inside = np.zeros(len(written), dtype=bool)
    for start, end in allowed:
        lo, hi = np.searchsorted(written, [start, end])
        inside[lo:hi] = True
    stray = written[~inside]
    runs = []
    for addr in stray[:4096].tolist():
        if runs and runs[-1][1] == addr:
            runs[-1][1] = addr + 1
        elif len(runs) < 4:
            runs.append([addr, addr + 1])
    return int(len(stray)), [tuple(run) for run in runs]
