"""Build parameters of the DMA engine, defined once and checked.

The same dataclass configures the RTL (``hw.engine``), is reported by the
read-only capabilities registers, and is read back by the driver.
"""
from dataclasses import dataclass, asdict

#: Channels the register map has room for (``hw/regs.rdl`` sizes its array to this).
MAX_CHANNELS = 16
#: AXI4 limits an INCR burst to 256 beats and forbids crossing a 4 KiB boundary.
AXI_MAX_BURST_BEATS = 256
AXI_BOUNDARY_BYTES = 4096


class ParameterError(ValueError):
    """An engine parameter is out of its supported range."""


@dataclass(frozen=True)
class EngineParams:
    """Build-time parameters of :class:`hw.engine.DmaEngine`.

    data_width          -- AXI4 data bus width in bits (64, 128, 256 or 512).
    addr_width          -- AXI4 address width in bits (64).
    channels            -- independent descriptor rings (1..16).
    max_burst           -- longest AXI4 burst in beats (1..256); bursts are also
                           split at every 4 KiB boundary.
    outstanding_reads   -- data read bursts in flight at once (1..64).
    outstanding_writes  -- write bursts (data and completion records) awaiting
                           their B response at once (1..64).
    buffer_depth        -- beats held between read and write side (a power of
                           two, 16..4096, at least one full burst).
    prefetch_depth      -- descriptors fetched ahead of the one being copied (1..16).
    """
    data_width: int = 256
    addr_width: int = 64
    channels: int = 1
    max_burst: int = 128
    outstanding_reads: int = 8
    outstanding_writes: int = 8
    buffer_depth: int = 512
    prefetch_depth: int = 4

    def __post_init__(self):
        def check(name, ok, expected):
            if not ok:
                raise ParameterError(
                    f"{name}={getattr(self, name)!r} is out of range: expected {expected}")
        check("data_width", self.data_width in (64, 128, 256, 512), "64, 128, 256 or 512")
        check("addr_width", self.addr_width == 64, "64")
        check("channels", 1 <= self.channels <= MAX_CHANNELS, f"1..{MAX_CHANNELS}")
        check("max_burst", 1 <= self.max_burst <= AXI_MAX_BURST_BEATS,
              f"1..{AXI_MAX_BURST_BEATS} beats")
        check("outstanding_reads", 1 <= self.outstanding_reads <= 64, "1..64")
        check("outstanding_writes", 1 <= self.outstanding_writes <= 64, "1..64")
        check("buffer_depth",
              16 <= self.buffer_depth <= 4096 and self.buffer_depth & (self.buffer_depth - 1) == 0,
              "a power of two in 16..4096 beats")
        check("buffer_depth", self.buffer_depth >= self.burst_beats_max,
              f"at least one full burst ({self.burst_beats_max} beats)")
        check("prefetch_depth", 1 <= self.prefetch_depth <= 16, "1..16")

    @property
    def beat_bytes(self):
        """Bytes per data beat; addresses and lengths must be multiples of it."""
        return self.data_width // 8

    @property
    def beat_shift(self):
        """log2(beat_bytes): AxSIZE, and the shift from bytes to beats."""
        return self.beat_bytes.bit_length() - 1

    @property
    def burst_beats_max(self):
        """Longest burst actually issued: max_burst, capped by the 4 KiB rule."""
        return min(self.max_burst, AXI_BOUNDARY_BYTES // self.beat_bytes)

    @property
    def peak_bytes_per_cycle(self):
        """Copy bandwidth of the bus: one full beat read and written per cycle."""
        return self.beat_bytes

    def as_dict(self):
        return asdict(self)


#: A small engine: 64-bit data, one channel, bursts of 16 beats, two in flight each way,
#: a 16-beat buffer, one descriptor ahead (the engine that fits the small FPGAs:
#: :mod:`hw.fpga`).
SMALL_ENGINE = EngineParams(data_width=64, max_burst=16, outstanding_reads=2,
                            outstanding_writes=2, buffer_depth=16, prefetch_depth=1)
