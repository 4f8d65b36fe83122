"""The native AXI slave (``axi_slave.hpp``) seen from Python through ctypes.

:class:`NativeAxi` takes its whole configuration from a Python
:class:`~sim.memsys.axi_slave.AxiSlaveModel` built from the same memory_config
(node timings, backpressure table, error regions, IOMMU walk time), so the
configuration is computed in one place; only the per-cycle behaviour is ported.
It serves the same :class:`~sim.memsys.memory.Memory` array in place (no copies), and
offers what scenarios and tests read of the Python model: the handshake logs,
``busy()``, ``advance()``, ``cycle``, ``iommu``, ``memory_system``.

:class:`NativeIommu` is the :class:`~sim.memsys.iommu.Iommu` (page table, unmap
policy, flush queue: the Python code) whose translation unit (IOTLB, page-walk
cache, walk timing, faults) lives in the native model; page-table changes are
mirrored to it as they happen.
"""
import ctypes

import numpy as np

from sim.memsys.axi_slave import OUTPUTS, AxiProtocolError, AxiSlaveModel
from sim.memsys.bus_faults import DELAY, ERROR
from sim.memsys.iommu import Iommu

_I64 = ctypes.c_int64
_U64 = ctypes.c_uint64
_P = ctypes.c_void_p
_INT = ctypes.c_int
#: Largest rate numerator/denominator the native model takes (it multiplies them
#: with cycle numbers in 128-bit arithmetic).
_RATE_LIMIT = 1 << 62
_ACCESS = {"read": 0, "write": 1, "rw": 2}
_MASK64 = (1 << 64) - 1

_SIGNATURES = {
    "fd_error": ([], ctypes.c_char_p),
    "fd_axi_new": ([_P, _U64, _U64, _INT], _P),
    "fd_axi_free": ([_P], None),
    "fd_axi_set_flat": ([_P, _I64, _I64], None),
    "fd_axi_set_stall": ([_P, _P], None),
    "fd_axi_add_region": ([_P, _U64, _U64, _INT, _INT], None),
    "fd_axi_set_nodes": ([_P, _P, _INT, _P, _INT, _P, _INT, _INT, _INT], _INT),
    "fd_axi_share": ([_P, _P], _INT),
    "fd_axi_set_record": ([_P, _INT], None),
    "fd_axi_set_faults": ([_P, _P, _INT], None),
    "fd_axi_injected": ([_P, _I64, _P], _I64),
    "fd_axi_cycle": ([_P], _I64),
    "fd_axi_book": ([_P, _INT, _P, _INT, _I64, _I64], _I64),
    "fd_axi_busy": ([_P], _INT),
    "fd_axi_advance": ([_P, _I64], _INT),
    "fd_axi_step": ([_P, _P, _P, _P, _P, _INT, _INT, _INT], _INT),
    "fd_axi_outputs": ([_P, _P, _P], None),
    "fd_axi_log": ([_P, _INT, _I64, _P], _I64),
    "fd_iommu_set": ([_P, _INT, _I64], None),
    "fd_iommu_configure": ([_P, _I64, _I64, _P, _I64], None),
    "fd_iommu_pages": ([_P, _P, _I64, _INT, _INT], None),
    "fd_iommu_leaves": ([_P, _P, _P, _I64, _INT], None),
    "fd_iommu_flush_all": ([_P], None),
    "fd_iommu_invalidate_range": ([_P, _U64, _U64], None),
    "fd_iommu_translate": ([_P, _U64, _I64], _I64),
    "fd_iommu_counters": ([_P, _P], None),
    "fd_iommu_faults": ([_P, _I64, _P], _I64),
}


def load_library(path, extra_signatures=None):
    """ctypes handle of a library with the platform API (and extra functions)."""
    lib = ctypes.CDLL(str(path))
    for name, (argtypes, restype) in {**_SIGNATURES, **(extra_signatures or {})}.items():
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = restype
    return lib


def check(lib, status):
    """Raise the native model's error for a non-zero status."""
    if status:
        message = lib.fd_error().decode()
        raise (AxiProtocolError if status == -2 else RuntimeError)(message)


def _pointer(array):
    return array.ctypes.data_as(ctypes.c_void_p)


class _Log:
    """One handshake log as a list of tuples, fetched from the native model on read."""

    def __init__(self, lib, handle, which, width):
        self._lib, self._handle, self._which, self._width = lib, handle, which, width
        self._items = []

    def array(self):
        """The whole log as an int64 array (one row per entry), straight from the model."""
        count = self._lib.fd_axi_log(self._handle, self._which, 0, None)
        out = np.empty((count, self._width), dtype=np.int64)
        if count:
            self._lib.fd_axi_log(self._handle, self._which, 0, _pointer(out))
        return out

    def get(self):
        count = self._lib.fd_axi_log(self._handle, self._which, 0, None)
        have = len(self._items)
        if count > have:
            out = np.empty((count - have, self._width), dtype=np.int64)
            self._lib.fd_axi_log(self._handle, self._which, have, _pointer(out))
            if self._width == 4:        # (cycle, id, addr, len): addr is unsigned
                self._items.extend((c, i, a & _MASK64, n) for c, i, a, n in out.tolist())
            else:
                self._items.extend(map(tuple, out.tolist()))
        return self._items


class NativeIommu(Iommu):
    """An :class:`~sim.memsys.iommu.Iommu` whose translation unit is the native model's."""

    def __init__(self, lib, handle, python_iommu):
        self._native = None
        self._enabled = python_iommu.enabled
        super().__init__(python_iommu.configured, python_iommu.params)
        self.walk_read_cycles = python_iommu.walk_read_cycles
        self._lib, self._native = lib, handle
        self._fault_items = []
        shifts = np.asarray(self._large_shifts, dtype=np.int64)
        lib.fd_iommu_configure(handle, self.params.iotlb_entries, self.params.pde_entries,
                               _pointer(shifts), len(shifts))
        self._push_enabled()

    def _push_enabled(self):
        if self._native is not None:
            self._lib.fd_iommu_set(self._native, int(self._enabled), self.walk_read_cycles)

    @property
    def enabled(self):
        return self._enabled

    @enabled.setter
    def enabled(self, value):
        self._enabled = bool(value)
        self._push_enabled()

    def _counters(self):
        out = np.zeros(2, dtype=np.int64)
        self._lib.fd_iommu_counters(self._native, _pointer(out))
        return out

    @property
    def walks(self):
        return 0 if self._native is None else int(self._counters()[0])

    @walks.setter
    def walks(self, value):     # Iommu.__init__ zeroes it; the count lives natively
        pass

    @property
    def walk_reads(self):
        return 0 if self._native is None else int(self._counters()[1])

    @walk_reads.setter
    def walk_reads(self, value):
        pass

    @property
    def faults(self):
        """IO page faults: (cycle, "read" | "write", address, AXI id)."""
        if self._native is None:
            return []
        count = self._lib.fd_iommu_faults(self._native, 0, None)
        have = len(self._fault_items)
        if count > have:
            out = np.empty((count - have, 4), dtype=np.int64)
            self._lib.fd_iommu_faults(self._native, have, _pointer(out))
            self._fault_items.extend((c, "write" if w else "read", a & _MASK64, i)
                                     for c, w, a, i in out.tolist())
        return self._fault_items

    @faults.setter
    def faults(self, value):
        pass

    def translate(self, addr, cycle):
        return self._lib.fd_iommu_translate(self._native, addr, cycle)

    def _reachable_changed(self, readable, writable, leaves, *, mapped):
        for numbers, kind in ((readable, 0), (writable, 2)):
            if numbers:
                array = np.asarray(numbers, dtype=np.uint64)
                self._lib.fd_iommu_pages(self._native, _pointer(array), len(array), int(mapped),
                                         kind)
        if leaves:
            shifts = np.asarray([shift for shift, _ in leaves], dtype=np.int64)
            indices = np.asarray([index for _, index in leaves], dtype=np.uint64)
            self._lib.fd_iommu_leaves(self._native, _pointer(shifts), _pointer(indices),
                                      len(leaves), int(mapped))

    def _flush_caches(self):
        self._lib.fd_iommu_flush_all(self._native)

    def _invalidate_range(self, bus_addr, nbytes):
        self._lib.fd_iommu_invalidate_range(self._native, bus_addr, nbytes)


class NativeAxi:
    """The native AXI slave, configured as ``model`` (an AxiSlaveModel), serving
    ``model.memory``. ``handle``: the model inside a compiled simulation (it is
    then owned by it); None: a model of its own (freed with this object).
    ``share_with``: a NativeAxi mirroring a port on the same fabric as ``model``
    (another engine's): both then translate through one IOMMU and book one
    memory system's bandwidth."""

    def __init__(self, lib, model, handle=None, share_with=None):
        if not isinstance(model, AxiSlaveModel):
            raise TypeError(f"NativeAxi needs the AxiSlaveModel it mirrors, not {model!r}")
        if share_with is not None and model.fabric is not share_with.fabric:
            raise ValueError("NativeAxi share_with: the two models must be ports of one "
                             "memory system fabric (or both of flat memory)")
        self._lib = lib
        self.memory = model.memory
        self.memory_system = model.memory_system
        self.fabric = model.fabric
        self.beat_bytes = model.beat_bytes
        self.data_width = model.data_width
        self._owned = handle is None
        if handle is None:
            handle = lib.fd_axi_new(_pointer(model.memory.data), model.memory.base,
                                    model.memory.size, model.beat_bytes)
        self._handle = handle
        self._configure(model)
        if share_with is None:
            self.iommu = NativeIommu(lib, handle, model.iommu)
        else:
            check(lib, lib.fd_axi_share(handle, share_with._handle))
            self.iommu = share_with.iommu
        self._logs = {name: _Log(lib, handle, which, width) for name, which, width in (
            ("ar_log", 0, 4), ("aw_log", 1, 4), ("w_log", 2, 2), ("r_log", 3, 2),
            ("b_log", 4, 2))}
        self._record = model.record
        lib.fd_axi_set_record(handle, int(model.record))

    def _configure(self, model):
        lib, handle = self._lib, self._handle
        lib.fd_axi_set_flat(handle, model.read_latency, model.write_latency)
        self.faults = model.faults
        if model.faults:
            self._fault_rows = model.faults.native_rows()
            lib.fd_axi_set_faults(handle, _pointer(self._fault_rows), len(self._fault_rows))
        for start, end, access, resp in model.error_regions:
            lib.fd_axi_add_region(handle, start, end, _ACCESS[access], resp)
        table = model.backpressure_table
        if table is not None:
            self._stall = np.ascontiguousarray(table, dtype=np.uint8)
            lib.fd_axi_set_stall(handle, _pointer(self._stall))
        fabric = model.fabric
        if fabric is not None:
            system = fabric.system
            nodes, hops = [], []
            for i, (read_latency, reads, write_latency, writes) in enumerate(model.node_timings):
                nodes.append((read_latency, write_latency))
                hops += [(i, 0, *hop, 0) for hop in reads]
                hops += [(i, 1, *hop) for hop in writes]
            if any(v >= _RATE_LIMIT for hop in hops for v in hop):
                raise ValueError(f"memory system at engine_mhz={system.engine_mhz}: a node or "
                                 f"link rate needs integers beyond 2**62, more than the native "
                                 f"back-end supports; give the clock and rates in fewer digits")
            nodes = np.asarray(nodes, dtype=np.int64)
            hops = np.asarray(hops or np.zeros((0, 6)), dtype=np.int64)
            ranges = np.asarray([(s, e, system.node_index_of_id(n)) for s, e, n in system.ranges]
                                or np.zeros((0, 3)), dtype=np.uint64)
            check(lib, lib.fd_axi_set_nodes(
                handle, _pointer(nodes), len(nodes), _pointer(hops), len(hops),
                _pointer(ranges), len(ranges), system.node_index_of_id(system.default_node),
                len(fabric.r_free)))

    def book(self, write, addr, nbytes):
        """As :meth:`sim.memsys.axi_slave.AxiSlaveModel.book`, on the native fabric."""
        if self.fabric is None:
            raise ValueError("book: flat memory has no bandwidth to share")
        hops = self.fabric.host_hops(self.memory_system.node_index(addr))[bool(write)]
        table = np.asarray(hops or np.zeros((0, 3)), dtype=np.int64)
        done = self._lib.fd_axi_book(self._handle, int(bool(write)), _pointer(table),
                                     len(hops), nbytes, self.cycle)
        if done < 0:
            check(self._lib, done)
        return done

    def __del__(self):
        if getattr(self, "_owned", False) and self._handle:
            self._lib.fd_axi_free(self._handle)
            self._handle = None

    # --- what scenarios read of an AxiSlaveModel ---
    ar_log = property(lambda self: self._logs["ar_log"].get())
    aw_log = property(lambda self: self._logs["aw_log"].get())
    w_log = property(lambda self: self._logs["w_log"].get())
    r_log = property(lambda self: self._logs["r_log"].get())
    b_log = property(lambda self: self._logs["b_log"].get())

    def log_array(self, name):
        """As :meth:`AxiSlaveModel.log_array`."""
        return self._logs[name].array()

    @property
    def injected(self):
        """The bus faults injected, as :attr:`AxiSlaveModel.injected` lists them."""
        count = self._lib.fd_axi_injected(self._handle, 0, None)
        out = np.empty((count, 4), dtype=np.int64)
        if count:
            self._lib.fd_axi_injected(self._handle, 0, _pointer(out))
        return [(c, "write" if w else "read", i, DELAY if k else ERROR)
                for c, w, i, k in out.tolist()]

    @property
    def record(self):
        return self._record

    @record.setter
    def record(self, value):
        self._record = bool(value)
        self._lib.fd_axi_set_record(self._handle, int(self._record))

    @property
    def cycle(self):
        return self._lib.fd_axi_cycle(self._handle)

    def busy(self):
        return bool(self._lib.fd_axi_busy(self._handle))

    def advance(self, n):
        check(self._lib, self._lib.fd_axi_advance(self._handle, n))

    # --- stepping from Python (the differential test; the back-end steps natively) ---
    def step(self, ar, aw, w, rready, bready):
        """As :meth:`AxiSlaveModel.step`; returns the OUTPUTS tuple."""
        beat = self.beat_bytes
        ar_array = np.asarray(ar, dtype=np.uint64) if ar is not None else None
        aw_array = np.asarray(aw, dtype=np.uint64) if aw is not None else None
        if w is not None:
            data, strb, last = w
            w_data = np.frombuffer(data.to_bytes(beat, "little"), dtype=np.uint8)
            w_strb = np.frombuffer(strb.to_bytes((beat + 7) // 8, "little"), dtype=np.uint8)
        check(self._lib, self._lib.fd_axi_step(
            self._handle, None if ar is None else _pointer(ar_array),
            None if aw is None else _pointer(aw_array),
            None if w is None else _pointer(w_data), None if w is None else _pointer(w_strb),
            int(bool(w[2])) if w is not None else 0, int(bool(rready)), int(bool(bready))))
        return self.outputs

    @property
    def outputs(self):
        values = np.zeros(10, dtype=np.uint64)
        rdata = np.zeros(self.beat_bytes, dtype=np.uint8)
        self._lib.fd_axi_outputs(self._handle, _pointer(values), _pointer(rdata))
        (arready, awready, wready, rvalid, rid, rresp, rlast, bvalid, bid,
         bresp) = map(int, values)
        return (arready, awready, wready, rvalid, rid, int.from_bytes(rdata.tobytes(), "little"),
                rresp, rlast, bvalid, bid, bresp)


assert OUTPUTS == ("arready", "awready", "wready", "rvalid", "rid", "rdata", "rresp", "rlast",
                   "bvalid", "bid", "bresp"), "NativeAxi.outputs follows OUTPUTS"
