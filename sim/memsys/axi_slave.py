"""Cycle-level AXI4 slave serving a :class:`sim.memsys.memory.Memory`; pure Python.

Both simulators drive this one model through thin adapters, so they see the
same slave. Contract of :meth:`AxiSlaveModel.step`, called once per rising
clock edge:

* Cycles are numbered by edge: the first call is edge 1, and "cycle n" is the
  clock period that ends with edge n (handshakes of cycle n happen at edge n).
* Arguments: what the master drove during cycle n -- ``ar``/``aw`` are
  ``(id, addr, len, size, burst)`` tuples and ``w`` a ``(data, strb, last)``
  tuple, or None when the channel's VALID was low; ``rready``/``bready`` are
  only looked at when the model presented RVALID/BVALID in cycle n.
* A handshake happened when VALID and the model's own READY of cycle n were
  both high (likewise RVALID/BVALID with the master's RREADY/BREADY).
* Returns the :data:`OUTPUTS` tuple to drive during cycle n+1. The same tuple
  object comes back while nothing changes, so an adapter can skip writing
  with ``if outputs is not previous``.

Timing: an AR accepted at cycle t presents its first R beat in cycle
t+read_latency; beats of a burst and of successive bursts follow back to back
in acceptance order. A write's B is presented write_latency cycles after the
later of its AW and its last W beat; B's come in order. R data is read from
memory when the burst's first beat is presented; write data is applied when
the burst is complete (last W beat and AW both accepted).

With a :class:`~sim.memsys.memory_system.MemorySystem`, the latencies are those of
the node the burst's address falls in (and of the link in front of it), and
the read and write bandwidth of that node, its link and the engine's I/O port,
shared by all bursts of every port on the same :class:`~sim.memsys.fabric.Fabric`,
paces the R beats and WREADY; see :mod:`sim.memsys.fabric`. With the
:class:`~sim.memsys.iommu.Iommu` enabled, a burst
to a page that is not mapped gets DECERR (zero read data; nothing written),
decided when its AR or AW is accepted; behind a memory system, a mapped
burst also waits for its address translation (IOTLB and page walks, see
:mod:`sim.memsys.iommu`): a read is sent to its node once translated, a write's B
waits for it.
"""
from collections import deque

import numpy as np

from hw.axi import BURST_INCR, RESP_DECERR, RESP_OKAY
from hw.params import AXI_BOUNDARY_BYTES, AXI_MAX_BURST_BEATS
from sim.memsys.burst_data import read_burst, write_burst
from sim.memsys.error_regions import parse_error_regions
from sim.memsys.fabric import Fabric
from sim.memsys.bus_faults import ERROR, BusFaults
from sim.memsys.iommu import Iommu
from sim.memsys.memory_system import MemorySystem, latency_cycles

#: Order of the values returned by :meth:`AxiSlaveModel.step` (AXI signal names).
OUTPUTS = ("arready", "awready", "wready",
           "rvalid", "rid", "rdata", "rresp", "rlast",
           "bvalid", "bid", "bresp")

#: Backpressure decisions repeat with this period (a prime, so they do not line
#: up with power-of-two traffic patterns). They depend only on seed and cycle,
#: so skipping idle cycles never changes them.
BACKPRESSURE_PERIOD = 65521

_AR, _AW, _W, _R, _B = range(5)   # rows of the backpressure table


class AxiProtocolError(Exception):
    """The master broke an AXI4 rule (or used a feature the model does not support)."""


def _checked_settings(data_width, id_width, read_latency, write_latency, backpressure,
                      with_memory_system):
    """Check a slave's bus widths, latencies and backpressure; the latencies to use
    (1 cycle when not given). With a memory system its nodes give the latencies."""
    if not (isinstance(data_width, int) and 8 <= data_width <= 1024
            and data_width & (data_width - 1) == 0):
        raise ValueError(f"data_width={data_width!r}: expected a power of two in 8..1024")
    if not (isinstance(id_width, int) and 1 <= id_width <= 32):
        raise ValueError(f"id_width={id_width!r}: expected 1..32")
    if with_memory_system:
        given = [name for name, value in (("read_latency", read_latency),
                                          ("write_latency", write_latency))
                 if value is not None]
        if given:
            raise ValueError(f"{' and '.join(given)} given with a memory_system: the "
                             f"latencies are the memory system's nodes'")
    read_latency = 1 if read_latency is None else read_latency
    write_latency = 1 if write_latency is None else write_latency
    for name, value in (("read_latency", read_latency), ("write_latency", write_latency)):
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{name}={value!r}: expected an int >= 1 (cycles; the "
                             f"model's outputs are registered)")
    if not (isinstance(backpressure, (int, float)) and 0 <= backpressure < 1):
        raise ValueError(f"backpressure={backpressure!r}: expected a probability "
                         f"0 <= p < 1")
    return read_latency, write_latency


class AxiSlaveModel:
    """AXI4 slave with pipelined latency, random backpressure and error regions.

    memory         -- the :class:`~sim.memsys.memory.Memory` served.
    data_width     -- data bus width in bits (power of two, 8..1024); only
                      full-width INCR bursts are accepted.
    id_width       -- AXI ID width in bits (1..32).
    read_latency   -- cycles from AR handshake to first R beat (>= 1; default 1).
    write_latency  -- cycles from a complete write burst to its B (>= 1; default 1).
    backpressure   -- probability (0 <= p < 1) that in a given cycle each of
                      ARREADY/AWREADY/WREADY is low and a new RVALID/BVALID is
                      withheld, independently per channel.
    seed           -- seed of the backpressure pattern.
    error_regions  -- (start, end, access, resp) with end exclusive, access
                      "read"/"write"/"rw", resp SLVERR/DECERR (int or name); see
                      :mod:`sim.memsys.error_regions`.
    record         -- keep the handshake logs (``ar_log``, ``aw_log``: (cycle,
                      id, addr, len); ``w_log``: (cycle, index of the AW);
                      ``r_log``: (cycle, index of the AR) per R beat; ``b_log``:
                      (cycle, index of the AW) per B). May be switched at any time.
    memory_system  -- a :class:`~sim.memsys.memory_system.MemorySystem` (or its config
                      dict): per-node latency and bandwidth, instead of
                      read_latency/write_latency (give one or the other); or a
                      :class:`~sim.memsys.fabric.Fabric`, the memory system's
                      bandwidth as this port shares it with other ports (engines).
    port           -- which of the fabric's ports (engines) this one is.
    faults         -- a :class:`~sim.memsys.bus_faults.BusFaults` (or its config dict): the
                      bursts of this port answered with an error or late; each one
                      injected is logged in ``injected`` as (cycle, "read" | "write",
                      burst index, "error" | "delay").
    iommu          -- the :class:`~sim.memsys.iommu.Iommu` in front of the memory
                      (default: a new one, disabled).
    """

    def __init__(self, memory, *, data_width, id_width=1, read_latency=None,
                 write_latency=None, backpressure=0.0, seed=0, error_regions=(), record=True,
                 memory_system=None, port=0, iommu=None, faults=None):
        fabric = memory_system if isinstance(memory_system, Fabric) else None
        if memory_system is not None:
            memory_system = fabric.system if fabric else MemorySystem.from_config(memory_system)
        read_latency, write_latency = _checked_settings(
            data_width, id_width, read_latency, write_latency, backpressure,
            memory_system is not None)
        self.memory = memory
        self.data_width = data_width
        self.id_width = id_width
        self.beat_bytes = data_width // 8
        self.read_latency = read_latency
        self.write_latency = write_latency
        self.backpressure = backpressure
        self.seed = seed
        self.error_regions = parse_error_regions(error_regions)
        self._read_regions = tuple((s, e, resp) for s, e, access, resp in self.error_regions
                                   if access != "write")
        self._write_regions = tuple((s, e, resp) for s, e, access, resp in self.error_regions
                                    if access != "read")
        self._size_code = self.beat_bytes.bit_length() - 1

        self.record = record
        self.ar_log = []
        self.aw_log = []
        self.w_log = []
        self.r_log = []
        self.b_log = []

        self.iommu = Iommu() if iommu is None else iommu
        self.faults = BusFaults.from_config(faults)
        self.injected = []
        self.memory_system = memory_system
        self.fabric = None
        self._nodes = None
        self._w_paced = False
        if memory_system is not None:
            self._join_fabric(memory_system, fabric, port)

        if backpressure:
            rows = np.random.default_rng(seed).random((5, BACKPRESSURE_PERIOD)) < backpressure
            self._stall = [row.tolist() for row in rows]
        else:
            self._stall = None
        self._reset_channels()

    def _join_fabric(self, memory_system, fabric, port):
        """Take port ``port`` of ``fabric`` (a new one of ``memory_system`` when None):
        its nodes' timings, the shared R and W slots, and the IOMMU's walk time."""
        if fabric is None:
            fabric = Fabric(memory_system, self.beat_bytes)
        elif fabric.beat_bytes != self.beat_bytes:
            raise ValueError(f"a fabric of {fabric.beat_bytes}-byte beats serves no "
                             f"{self.data_width}-bit port")
        if not (isinstance(port, int) and 0 <= port < fabric.ports):
            raise ValueError(f"port={port!r}: the fabric has ports 0..{fabric.ports - 1}")
        self.fabric = fabric
        self._nodes = fabric.timings(port)
        self._r_free, self._w_free = fabric.r_free, fabric.w_free   # shared by the ports
        self._w_paced = any(write for *_, write in self._nodes)
        self._node_index = memory_system.node_index
        # IO page tables live on the default (local) node: a walk reads them there,
        # unless the platform gives the walk's read time.
        walk_ns = self.iommu.params.walk_read_ns
        self.iommu.walk_read_cycles = fabric.nodes[
            memory_system.node_index_of_id(memory_system.default_node)][0] \
            if walk_ns is None else latency_cycles(walk_ns, memory_system.engine_mhz)

    def _reset_channels(self):
        """The AXI channels' state at cycle 0: nothing accepted, nothing to answer."""
        self.cycle = 0
        # Master payloads offered while our READY was low: they must be held.
        self._ar_hold = self._aw_hold = self._w_hold = None
        # Read side: accepted bursts (first_cycle, id, addr, len, AR index, pacing,
        # fault: the RESP it gets instead of the memory's, or 0) and the one in progress.
        self._rq = deque()
        self._rbuf = None           # bytes of the burst being returned, or None
        self._rresps = None         # per-beat RRESP, or None when all OKAY
        self._rid = self._rlen = self._rbeat = 0
        self._rindex = 0            # AR index of the burst being returned
        self._rpace = None          # (((base, beat units, p) per hop), latency), when paced
        self._rnext = 0             # first cycle the next R beat may be presented
        self._ar_count = 0
        # Write side: AWs waiting for their data, W data waiting for its AW.
        # (id, addr, len, AW index, node or None, latency, fault, translated at)
        self._aws = deque()
        self._wcur = []             # (data, strb) beats of the W burst in progress
        self._wdone = deque()       # complete W bursts whose AW has not come yet
        self._w_index = 0           # index of the AW the next W beat belongs to
        self._aw_count = 0
        self._bq = deque()          # (first_cycle, id, resp, AW index)

        k = 1 % BACKPRESSURE_PERIOD
        stall = self._stall
        self.outputs = (0 if stall and stall[_AR][k] else 1,
                        0 if stall and stall[_AW][k] else 1,
                        0 if stall and stall[_W][k] else 1,
                        0, 0, 0, RESP_OKAY, 0,
                        0, 0, RESP_OKAY)

    def log_array(self, name):
        """A handshake log ("ar_log", "aw_log": 4 columns; "w_log", "r_log", "b_log": 2)
        as an int64 array, one row per entry."""
        log = getattr(self, name)
        width = 4 if name in ("ar_log", "aw_log") else 2
        return np.array(log, dtype=np.int64).reshape(len(log), width)

    @property
    def backpressure_table(self):
        """Per channel row (AR, AW, W, R, B) and cycle modulo BACKPRESSURE_PERIOD, whether
        it stalls; None without backpressure."""
        return self._stall

    @property
    def node_timings(self):
        """Per memory-system node, what this port's accesses book: (read latency, read
        hops, write latency, write hops) (see :class:`~sim.memsys.fabric.Fabric`);
        None without a memory system."""
        return self._nodes

    def book(self, write, addr, nbytes):
        """Another agent's (the CPU's) nbytes of reads or writes at addr, booked now on
        the memory system this port shares (:meth:`sim.memsys.fabric.Fabric.book`);
        the cycle they are served by."""
        if self.fabric is None:
            raise ValueError("book: flat memory has no bandwidth to share")
        hops = self.fabric.host_hops(self._node_index(addr))[bool(write)]
        return self.fabric.book(write, hops, nbytes, self.cycle)

    def busy(self):
        """Whether an accepted transaction has not completed yet."""
        return bool(self._rq or self._rbuf is not None or self._bq
                    or self._aws or self._wdone or self._wcur)

    def advance(self, n):
        """Count n cycles in which nothing happened (only while not busy)."""
        if self.busy():
            raise RuntimeError("AxiSlaveModel.advance while transactions are in flight")
        self.cycle += n

    def step(self, ar, aw, w, rready, bready):
        """Advance one clock edge; see the module docstring for the contract."""
        n = self.cycle = self.cycle + 1
        if (ar is None and aw is None and w is None and self._stall is None
                and self._rbuf is None and not (self._rq or self._bq or self._aws
                                                or self._wdone or self._wcur)):
            return self.outputs     # idle: READYs high, no VALIDs, nothing to do

        (arready, awready, wready, rvalid, rid, rdata, rresp, rlast,
         bvalid, bid, bresp) = self.outputs

        if self._ar_hold is not None and ar != self._ar_hold:
            raise self._hold_error("AR", self._ar_hold, ar)
        if ar is not None:
            if arready:
                self._ar_hold = None
                self._accept_ar(ar)
            else:
                self._ar_hold = ar
        if rvalid and rready:
            if self.record:
                self.r_log.append((n, self._rindex))
            if self._rbeat == self._rlen:
                self._rbuf = None
            else:
                i = self._rbeat = self._rbeat + 1
                if self._rpace is not None:
                    self._rnext = self._paced_beat(i)
        if self._aw_hold is not None and aw != self._aw_hold:
            raise self._hold_error("AW", self._aw_hold, aw)
        if aw is not None:
            if awready:
                self._aw_hold = None
                self._accept_aw(aw)
            else:
                self._aw_hold = aw
        if self._w_hold is not None and w != self._w_hold:
            raise self._hold_error("W", self._w_hold, w)
        if w is not None:
            if wready:
                self._w_hold = None
                self._accept_w(w)
            else:
                self._w_hold = w
        if bvalid and bready:
            done = self._bq.popleft()
            if self.record:
                self.b_log.append((n, done[3]))

        # Outputs for cycle m = n + 1.
        m = n + 1
        stall = self._stall
        k = m % BACKPRESSURE_PERIOD
        if not (rvalid and not rready):
            rvalid = 0
            if self._rbuf is None and self._rq and self._rq[0][0] <= m:
                self._start_read(self._rq.popleft())
            if self._rbuf is not None and self._rnext <= m and not (stall and stall[_R][k]):
                rvalid = 1
                i = self._rbeat
                beat = self.beat_bytes
                rid = self._rid
                rdata = int.from_bytes(self._rbuf[i * beat:(i + 1) * beat], "little")
                rresp = self._rresps[i] if self._rresps else RESP_OKAY
                rlast = 1 if i == self._rlen else 0
        if not (bvalid and not bready):
            bvalid = 0
            bq = self._bq
            if bq and bq[0][0] <= m and not (stall and stall[_B][k]):
                bvalid = 1
                _, bid, bresp, _ = bq[0]
        if stall:
            arready = 0 if stall[_AR][k] else 1
            awready = 0 if stall[_AW][k] else 1
            wready = 0 if stall[_W][k] else 1
        elif self._w_paced:
            wready = 1
        if self._w_paced and wready and self._aws:
            node = self._aws[0][4]
            if node is not None:
                for resource, p, _, room in self._nodes[node][3]:
                    if self._w_free[resource] - m * p > room:
                        wready = 0      # a write buffer on the way is full
                        break

        outputs = (arready, awready, wready, rvalid, rid, rdata, rresp, rlast,
                   bvalid, bid, bresp)
        if outputs != self.outputs:
            self.outputs = outputs
        return self.outputs

    def _error(self, message):
        return AxiProtocolError(f"AXI protocol error at cycle {self.cycle}: {message}")

    def _hold_error(self, channel, held, now):
        if now is None:
            return self._error(f"{channel}VALID dropped before {channel}READY "
                               f"(payload was {held})")
        return self._error(f"{channel} payload changed while {channel}VALID was high and "
                           f"{channel}READY low: {held} -> {now}")

    def _check_burst(self, channel, addr, length, size, burst):
        beat = self.beat_bytes
        if size != self._size_code:
            raise self._error(f"{channel}SIZE={size} ({1 << size} bytes) but only full-width "
                              f"beats of {beat} bytes (SIZE={self._size_code}) are supported")
        if burst != BURST_INCR:
            raise self._error(f"{channel}BURST={burst}: only INCR ({BURST_INCR}) bursts "
                              f"are supported")
        if addr % beat:
            raise self._error(f"{channel}ADDR={addr:#x} is not aligned to the {beat}-byte "
                              f"beat size")
        if addr % AXI_BOUNDARY_BYTES + (length + 1) * beat > AXI_BOUNDARY_BYTES:
            raise self._error(f"{channel} burst at {addr:#x} of {length + 1} beats x {beat} "
                              f"bytes crosses a 4 KiB boundary")

    def _accept_ar(self, ar):
        arid, addr, length, size, burst = ar
        self._check_burst("AR", addr, length, size, burst)
        cycle = self.cycle
        index = self._ar_count
        self._ar_count += 1
        if self.record:
            self.ar_log.append((cycle, arid, addr, length))
        fault, delay = self._fault_of(self.faults.reads, "read", index, addr, arid)
        if self._nodes is None:
            self._rq.append((cycle + self.read_latency + delay, arid, addr, length, index, None,
                             fault))
            return
        if not fault:
            cycle = self.iommu.translate(addr, cycle)   # the request leaves once translated
        node = self._node_index(addr)
        latency, hops = self._nodes[node][:2]
        pace = None
        if hops and not fault:
            # The node, its link and the engine's I/O port each serve this burst's
            # bytes from max(now, its free time) on, at its rate; beat i is ready
            # (latency after) the cycle the last of them served its last byte in.
            free = self._r_free
            pace = []
            for resource, p, beat_units in hops:
                start = max(free[resource], cycle * p)
                free[resource] = start + (length + 1) * beat_units
                pace.append((start + beat_units - 1, beat_units, p))
            pace = (tuple(pace), latency + delay)
        self._rq.append((cycle + latency + delay, arid, addr, length, index, pace, fault))

    def _fault_of(self, faults, direction, index, addr, axi_id):
        """(RESP the burst gets instead of the memory's, or 0; cycles its response is
        late): an IO page fault (DECERR), else an injected bus fault."""
        if not self.iommu.allows(addr, write=direction == "write"):
            self.iommu.faults.append((self.cycle, direction, addr, axi_id))
            return RESP_DECERR, 0
        injected = faults.get(index)
        if injected is None:
            return 0, 0
        kind, value = injected
        self.injected.append((self.cycle, direction, index, kind))
        return (value, 0) if kind == ERROR else (0, value)

    def _paced_beat(self, i):
        """The first cycle beat i of the paced burst being returned may be presented."""
        hops, latency = self._rpace
        return max((base + i * units) // p for base, units, p in hops) + latency

    def _start_read(self, entry):
        first, self._rid, addr, self._rlen, self._rindex, pace, fault = entry
        self._rbeat = 0
        self._rpace = pace
        self._rnext = first if pace is None else self._paced_beat(0)
        if fault:       # IO page fault or injected error: no data, the error on every beat
            self._rbuf = bytes((self._rlen + 1) * self.beat_bytes)
            self._rresps = [fault] * (self._rlen + 1)
            return
        self._rbuf, self._rresps = read_burst(self.memory, self._read_regions, addr,
                                              self._rlen + 1, self.beat_bytes)

    def _charge_write(self, node, beats):
        """Put beats of write data into the write buffers on the way to the node (its
        own, its link's, the I/O port's) at this cycle."""
        cycle, free = self.cycle, self._w_free
        for resource, p, beat_units, _ in self._nodes[node][3]:
            free[resource] = max(free[resource], cycle * p) + beats * beat_units

    def _accept_aw(self, aw):
        awid, addr, length, size, burst = aw
        self._check_burst("AW", addr, length, size, burst)
        index = self._aw_count
        self._aw_count += 1
        if self.record:
            self.aw_log.append((self.cycle, awid, addr, length))
        fault, delay = self._fault_of(self.faults.writes, "write", index, addr, awid)
        node = None             # the node whose write bandwidth paces this burst
        latency = self.write_latency
        translated = self.cycle  # the write commits once its address is translated
        if self._nodes is not None:
            where = self._node_index(addr)
            latency, paced = self._nodes[where][2:]
            if paced and not fault:
                node = where
            if not fault:
                translated = self.iommu.translate(addr, self.cycle)
        latency += delay
        if self._wdone:
            beats = self._wdone.popleft()
            if len(beats) != length + 1:
                raise self._error(f"W burst {index} had WLAST on beat {len(beats) - 1} but "
                                  f"its AWLEN={length} asks for {length + 1} beats")
            if node is not None:
                self._charge_write(node, len(beats))
            self._finish_write(awid, addr, beats, index, node, latency, fault, translated)
        else:
            if not self._aws:
                if len(self._wcur) > length:
                    raise self._error(f"W burst {index} has {len(self._wcur)} beats without "
                                      f"WLAST but its AWLEN={length} asks for {length + 1}")
                if node is not None and self._wcur:
                    self._charge_write(node, len(self._wcur))   # beats that came first
            self._aws.append((awid, addr, length, index, node, latency, fault, translated))

    def _accept_w(self, w):
        data, strb, last = w
        if self.record:
            self.w_log.append((self.cycle, self._w_index))
        beats = self._wcur
        beats.append((data, strb))
        if self._aws:
            awid, addr, length, index, node, latency, fault, translated = self._aws[0]
            if bool(last) != (len(beats) == length + 1):
                raise self._error(f"W burst {self._w_index}: WLAST={int(bool(last))} on beat "
                                  f"{len(beats) - 1} but AWLEN={length}")
            if node is not None:
                self._charge_write(node, 1)
            if last:
                self._aws.popleft()
                self._finish_write(awid, addr, beats, index, node, latency, fault, translated)
        elif last:
            self._wdone.append(beats)
        elif len(beats) == AXI_MAX_BURST_BEATS:
            raise self._error(f"W burst {self._w_index} has {AXI_MAX_BURST_BEATS} beats "
                              f"without WLAST")
        if last:
            self._wcur = []
            self._w_index += 1

    def _finish_write(self, awid, addr, beats, index, node, latency, fault, translated):
        resp = fault or write_burst(self.memory, self._write_regions, addr, beats,
                                    self.beat_bytes)
        ready = max(self.cycle, translated) + latency
        if node is not None:
            # B once the burst's last byte has drained from every write buffer on the way.
            drained = max((self._w_free[resource] - 1) // p
                          for resource, p, _, _ in self._nodes[node][3])
            ready = max(ready, drained + latency)
        self._bq.append((ready, awid, resp, index))
