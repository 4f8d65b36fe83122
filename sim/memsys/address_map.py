"""Where things live in the simulated bus memory, for every scenario and the kernel model.

The window starts above 4 GiB, so the high address bits matter: first one
descriptor ring per channel, then the completion records, then the data
(folios, their destinations, page tables' targets) from ``DATA`` on.
"""
from hw.descriptor import DESC_BYTES

#: Memory window of the scenarios: above 4 GiB, so the high address bits matter.
MEM_BASE = 0x1_0000_0000
RING_BYTES = 64 * 1024            # one ring per channel, up to 2048 descriptors
RECORDS = MEM_BASE + 16 * RING_BYTES
RECORD_AREA = 1 << 20
DATA = RECORDS + RECORD_AREA
#: The driver's coherent memory (rings and records) in the driver scenarios: all below DATA.
COHERENT = (MEM_BASE, DATA - MEM_BASE)
#: Descriptors per ring the driver scenarios probe with (a ring holds RING_BYTES).
DRIVER_RING_ENTRIES = 1024
#: The most descriptors a ring of RING_BYTES holds.
MAX_RING_ENTRIES = RING_BYTES // DESC_BYTES
