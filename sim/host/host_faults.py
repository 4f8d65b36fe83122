"""Faults on the host's side of the device, each at a chosen time of the host's
timeline (ns from the port's start), applied by :class:`sim.host.port.HostPort`:

* ``irq_lost``: the next interrupt a device raises is never delivered; its line is
  ignored until it drops (a driver that waits for it must time out);
* ``irq_twice``: the next interrupt delivered is delivered again right after its
  handlers ran (they find nothing new to do);
* ``mmio``: another agent writes a device register (``offset``, ``value``): a
  channel's CTRL.abort or CTRL.reset in the middle of a batch;
* ``revoke``: a live DMA mapping (the ``pick`` fraction of the IOMMU's list of
  them) becomes unreachable for ``duration_ns`` while transfers may be using it,
  an unmap that races them; the driver's own unmap later finds it as it left it.

:attr:`HostFaults.fired` records what each did when it fired.
"""
import math
from dataclasses import dataclass

KINDS = ("irq_lost", "irq_twice", "mmio", "revoke")


@dataclass(frozen=True)
class HostFault:
    """One fault (see the module docstring)."""
    at_ns: float
    kind: str
    offset: int = 0
    value: int = 0
    duration_ns: float = 0.0
    pick: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"host fault kind {self.kind!r}: expected one of "
                             f"{', '.join(KINDS)}")
        if not (isinstance(self.at_ns, (int, float)) and math.isfinite(self.at_ns)
                and self.at_ns >= 0):
            raise ValueError(f"host fault at_ns={self.at_ns!r}: expected a time >= 0")
        if not 0 <= self.pick <= 1:
            raise ValueError(f"host fault pick={self.pick!r}: expected a fraction 0..1")


class HostFaults:
    """The faults a port applies, by time (:meth:`fire` does it), and what became of
    each: ``fired``, one dict per fault fired with its ``kind``, ``at_ns`` and what it
    hit."""

    def __init__(self, faults=()):
        self.pending = sorted((f if isinstance(f, HostFault) else HostFault(**f)
                               for f in faults), key=lambda f: f.at_ns)
        self._restores = []             # (at_ns, (bus address, bytes)) of revoked mappings
        self.fired = []

    def next_ns(self):
        """Time of the next fault or restore (infinite when none is left)."""
        first = self.pending[0].at_ns if self.pending else math.inf
        return min([first] + [at for at, _ in self._restores]) if self._restores else first

    async def fire(self, port):
        """Apply everything due at the port's present time."""
        now = port.now_ns
        for at, mapping in [r for r in self._restores if r[0] <= now]:
            self._restores.remove((at, mapping))
            port.iommu.restore(*mapping)
        while self.pending and self.pending[0].at_ns <= now:
            fault = self.pending.pop(0)
            record = {"kind": fault.kind, "at_ns": fault.at_ns}
            if fault.kind == "irq_lost":
                port.lose_next_irq()
            elif fault.kind == "irq_twice":
                port.deliver_next_irq_twice()
            elif fault.kind == "mmio":
                await port.dev.mmio_write(fault.offset, fault.value)
                record.update(offset=fault.offset, value=fault.value)
            else:
                mappings = sorted(port.iommu.mappings())
                if mappings:
                    mapping = mappings[min(int(fault.pick * len(mappings)), len(mappings) - 1)]
                    port.iommu.revoke(*mapping)
                    self._restores.append((now + fault.duration_ns, mapping))
                    record.update(address=mapping[0], bytes=mapping[1])
            self.fired.append(record)
