"""An AXI4 protocol monitor over a port's handshake logs, independent of the slave model.

The slave (:class:`~sim.memsys.axi_slave.AxiSlaveModel`, or the native one) refuses a
master that changes a payload or drops VALID before READY, as it happens. This
monitor checks, after a run and on every back-end alike, what the logs of one port
show of both sides:

* every AR and AW: a burst of at most 256 beats, aligned to the beat, not crossing
  a 4 KiB boundary (the slave refuses such a burst too, as it happens; the monitor
  checks it again so that it stands on the logs alone);
* every AW gets exactly its number of W beats, in AW order (W data may come
  before its AW), and one B, in AW order, after the AW and its last W beat;
* every AR gets exactly its number of R beats, after the AR, bursts in AR order
  (the master uses one ID for its data, whose order AXI keeps);
* nothing is left half done: every burst got all its data and its response.

:func:`check_port` returns the violations found, as strings (none: the port kept the
protocol).
"""
from hw.params import AXI_BOUNDARY_BYTES, AXI_MAX_BURST_BEATS


def _bursts(name, log, beat):
    out = []
    for index, (cycle, _, addr, length) in enumerate(log):
        beats = length + 1
        if beats > AXI_MAX_BURST_BEATS:
            out.append(f"{name} {index} at cycle {cycle}: {beats} beats")
        if addr % beat:
            out.append(f"{name} {index} at cycle {cycle}: address {addr:#x} not aligned to "
                       f"{beat} bytes")
        if addr % AXI_BOUNDARY_BYTES + beats * beat > AXI_BOUNDARY_BYTES:
            out.append(f"{name} {index} at cycle {cycle}: {addr:#x} + {beats} beats crosses "
                       f"4 KiB")
    return out


def _beats(name, log, bursts, what, early=False):
    """Beats of (cycle, burst index) in ``log``: in burst order, the right count each,
    none before its burst's handshake unless ``early`` (W data may lead its AW).
    Returns the violations and each burst's last beat cycle."""
    out, last, count, expected = [], {}, {}, 0
    for cycle, index in log:
        if index >= len(bursts):
            out.append(f"{what} beat at cycle {cycle} for {name} {index}, which never came")
            continue
        if index < expected:
            out.append(f"{what} beat at cycle {cycle} for {name} {index} after it was done")
            continue
        if index > expected:
            out.append(f"{what} beat at cycle {cycle} for {name} {index} before {name} "
                       f"{expected} was done")
            expected = index
        if not early and cycle <= bursts[index][0]:
            out.append(f"{what} beat at cycle {cycle}, not after {name} {index} at "
                       f"{bursts[index][0]}")
        count[index] = count.get(index, 0) + 1
        last[index] = cycle
        if count[index] == bursts[index][3] + 1:
            expected = index + 1
    for index, burst in enumerate(bursts):
        if count.get(index, 0) != burst[3] + 1:
            out.append(f"{name} {index}: {count.get(index, 0)} {what} beats of "
                       f"{burst[3] + 1}")
    return out, last


def check_port(axi, beat_bytes):
    """The protocol violations the logs of port ``axi`` show (see the module docstring)."""
    ar, aw = axi.ar_log, axi.aw_log
    out = _bursts("AR", ar, beat_bytes) + _bursts("AW", aw, beat_bytes)
    violations, _ = _beats("AR", axi.r_log, ar, "R")
    out += violations
    violations, last_w = _beats("AW", axi.w_log, aw, "W", early=True)
    out += violations
    answered = [index for _, index in axi.b_log]
    if answered != list(range(len(answered))):
        out.append(f"B responses out of AW order: {answered[:8]}...")
    if len(answered) != len(aw):
        out.append(f"{len(aw)} AWs but {len(answered)} B responses")
    for cycle, index in axi.b_log:
        if index < len(aw) and cycle <= max(aw[index][0], last_w.get(index, -1)):
            out.append(f"B of AW {index} at cycle {cycle}, not after the AW and its last "
                       f"W beat")
    return out
