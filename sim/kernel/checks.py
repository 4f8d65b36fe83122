"""A migration run under faults: the faults set up, and what must hold at its end.

:class:`FaultedRun` arms a run (inside the scenario, on any back-end): the host
faults on the port (:mod:`sim.host.host_faults`), the driver's timeouts, the memory's
shadow (:meth:`sim.memsys.memory.Memory.track`) and a ledger of every descriptor
the driver writes (:mod:`sim.memsys.ledger`). :meth:`FaultedRun.report` then gives
what happened (faults fired and injected, timeouts, channel resets) and what must
be zero: bytes the engines wrote outside their descriptors' destinations and
records (``stray_bytes``), and AXI protocol violations on every port
(:mod:`sim.memsys.axi_monitor`). The migration core's own check (every folio at its
destination, intact, or intact at its source) says whether a byte was lost.
"""
from dataclasses import dataclass, field

from sim.memsys.axi_monitor import check_port
from sim.memsys.ledger import DescriptorLedger, stray_writes

#: Violations listed in a report, at most (all are counted).
LISTED = 8


@dataclass
class FaultedRun:
    """What a run under faults is armed with (all JSON-friendly).

    host_faults        -- :class:`sim.host.host_faults.HostFault` dicts.
    dcbm_timeout_ns    -- dcbm's wait for a channel's completions (None: its own).
    channel_timeout_ns -- the provider's wait for an aborted channel to drain.
    write_error_regions -- (start, end) ranges whose writes the memory fails (a
                          completion record's slot): the report counts the writes there.
    """
    host_faults: list = field(default_factory=list)
    dcbm_timeout_ns: float = None
    channel_timeout_ns: float = None
    write_error_regions: list = field(default_factory=list)

    def driver_settings(self):
        """(kwargs for foliodma_probe, kwargs for Dcbm)."""
        probe = {} if self.channel_timeout_ns is None else \
            {"channel_timeout_ns": self.channel_timeout_ns}
        dcbm = {} if self.dcbm_timeout_ns is None else {"timeout_ns": self.dcbm_timeout_ns}
        return probe, dcbm

    def arm(self, port, devices):
        """Start watching: the memory's shadow and the descriptor ledger of the rings."""
        port.dev.memory.track()
        self.ledger = DescriptorLedger([(chan.ring, chan.entries)
                                        for device in devices for chan in device.channels])
        port.write_observers.append(self.ledger.observe)

    def report(self, port, devices, dcbm):
        """What happened and what must be zero (see the module docstring)."""
        dev = port.dev
        stray, runs = stray_writes(dev.memory, self.ledger.allowed)
        violations = []
        for k, axi in enumerate(dev.axis):
            violations += [f"engine {k}: {v}" for v in check_port(axi, axi.beat_bytes)]
        injected = {}
        for axi in dev.axis:
            for _, direction, _, kind in axi.injected:
                key = f"bus_{direction}_{kind}"
                injected[key] = injected.get(key, 0) + 1
        fired = {}
        for record in port.faults.fired:
            fired[record["kind"]] = fired.get(record["kind"], 0) + 1
        region_writes = sum(1 for axi in dev.axis for _, _, addr, _ in axi.aw_log
                            if any(start <= addr < end for start, end in
                                   self.write_error_regions))
        errors = sum(len(chan.failed) for device in devices for chan in device.channels)
        return {"faults_fired": fired, "bus_faults_injected": injected,
                "record_error_writes": region_writes, "errors_reported": errors,
                "io_page_faults": len(port.iommu.faults),
                "timeouts": dcbm.timeouts, "channel_resets": sum(d.resets for d in devices),
                "descriptors": self.ledger.descriptors, "stray_bytes": stray,
                "stray_runs": [list(run) for run in runs],
                "protocol_violations": len(violations), "violations": violations[:LISTED]}
