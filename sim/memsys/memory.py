"""Byte-exact backing store of the simulated bus memory."""
import numpy as np


class MemoryAccessError(IndexError):
    """An access falls (partly) outside the memory's address range."""


class Memory:
    """Bytes of bus addresses [base, base+size), zero-initialised.

    ``data`` is the numpy uint8 array itself (index = address - base); the AXI
    slave models (Python and native) write into it directly. After :meth:`track`,
    ``shadow`` follows every write made through the methods here (the CPU side's),
    so where the two differ a bus master wrote (:meth:`written_by_bus`).
    """

    def __init__(self, base, size):
        if not isinstance(base, int) or not isinstance(size, int):
            raise TypeError(f"Memory base and size must be ints, not {base!r} and {size!r}")
        if base < 0 or size <= 0 or base + size > 1 << 64:
            raise ValueError(f"Memory [{base:#x}, +{size:#x}) is not a non-empty range "
                             f"of the 64-bit address space")
        self.base = base
        self.size = size
        self.data = np.zeros(size, dtype=np.uint8)
        self.shadow = None

    def __repr__(self):
        return f"Memory(base={self.base:#x}, size={self.size:#x})"

    def contains(self, addr, n):
        """Whether all of [addr, addr+n) lies inside the memory."""
        return n >= 0 and self.base <= addr and addr + n <= self.base + self.size

    def _offset(self, addr, n):
        if not self.contains(addr, n):
            raise MemoryAccessError(
                f"access of {n} bytes at {addr:#x} is outside memory "
                f"[{self.base:#x}, {self.base + self.size:#x})")
        return addr - self.base

    def read(self, addr, n):
        """The n bytes at addr."""
        offset = self._offset(addr, n)
        return self.data[offset:offset + n].tobytes()

    def write(self, addr, data):
        """Store the bytes of data (bytes-like, or a 1-D uint8 array) at addr."""
        if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 1):
            data = np.frombuffer(bytes(data), dtype=np.uint8)
        offset = self._offset(addr, len(data))
        self.data[offset:offset + len(data)] = data
        if self.shadow is not None:
            self.shadow[offset:offset + len(data)] = data

    def copy(self, dst, src, n):
        """Copy the n bytes at src to dst (the ranges may overlap)."""
        to, frm = self._offset(dst, n), self._offset(src, n)
        self.data[to:to + n] = self.data[frm:frm + n]
        if self.shadow is not None:
            self.shadow[to:to + n] = self.data[to:to + n]

    def fill_random(self, addr, n, rng):
        """Fill [addr, addr+n) with bytes from the numpy Generator rng; returns them."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, not {type(rng).__name__}")
        offset = self._offset(addr, n)
        values = rng.integers(0, 256, size=n, dtype=np.uint8)
        self.data[offset:offset + n] = values
        if self.shadow is not None:
            self.shadow[offset:offset + n] = values
        return values.tobytes()

    def track(self):
        """Start the shadow: a copy of the memory that the CPU side's writes (through
        this class) keep current and a bus master's do not."""
        self.shadow = self.data.copy()

    def written_by_bus(self):
        """Addresses (sorted, a numpy array) whose bytes differ from the shadow: written
        by a bus master since :meth:`track` (a write of the same value leaves none)."""
        if self.shadow is None:
            raise RuntimeError("Memory.written_by_bus needs Memory.track first")
        return np.flatnonzero(self.data != self.shadow) + self.base
