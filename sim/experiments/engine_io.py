"""Programming the engine from a scenario: registers by name, rings in memory.

A thin layer over :class:`sim.backends.base.Device` for tests and benchmarks, the
engine's test bench: no host costs, times in cycles. The full Linux-style driver
lives in ``sw_driver``; the two program a ring alike (``program_ring``). Register addresses and fields
come from ``hw/regs.rdl`` (via :mod:`hw.regmap`), descriptors from
:mod:`hw.descriptor`.
"""
from hw.descriptor import DESC_BYTES, RECORD_BYTES, pack_descriptor, unpack_record
from hw.regmap import load_regmap
from sw_driver.foliodma import program_ring


class EngineIO:
    """Register and descriptor-ring access to one DmaEngine behind ``dev``: engine
    number ``engine`` of its engines (registers from ``engine * ENGINE_WINDOW_BYTES``)."""

    def __init__(self, dev, engine=0):
        from sim.backends.base import ENGINE_WINDOW_BYTES
        self.dev = dev
        self.base = engine * ENGINE_WINDOW_BYTES
        self.regmap = load_regmap()
        self.rings = {}        # channel -> (base, size)
        self.tails = {}        # channel -> software's tail index

    async def read(self, path, field=None):
        """A register's value, or one field of it."""
        register = self.regmap.register(path)
        word = await self.dev.mmio_read(self.base + register.address)
        return register.fields[field].extract(word) if field else word

    async def write(self, path, value=None, **fields):
        """Write a whole register value, or the given fields (others 0)."""
        register = self.regmap.register(path)
        if value is None:
            value = 0
            for name, field_value in fields.items():
                value = register.fields[name].insert(value, field_value)
        await self.dev.mmio_write(self.base + register.address, value)

    async def read_counter(self, channel, name):
        """A 64-bit per-channel counter (bytes, busy, rd_wait, wr_wait)."""
        lo = await self.read(f"chan[{channel}].{name}_lo")
        hi = await self.read(f"chan[{channel}].{name}_hi")
        return hi << 32 | lo

    async def setup_channel(self, channel, ring_base, ring_size):
        """Point a channel at an empty ring of ring_size descriptors (as the driver
        does: :func:`sw_driver.foliodma.program_ring`)."""
        await program_ring(self.dev, self.regmap, self.base, channel, ring_base, ring_size)
        self.rings[channel] = (ring_base, ring_size)
        self.tails[channel] = 0

    def post(self, channel, src, dst, length, flags, completion):
        """Write one descriptor at the channel's software tail; returns its index.

        The completion record is cleared first (status 0 = not done).
        """
        base, size = self.rings[channel]
        index = self.tails[channel]
        self.dev.memory.write(completion, bytes(RECORD_BYTES))
        self.dev.memory.write(base + index * DESC_BYTES,
                              pack_descriptor(src, dst, length, flags, completion))
        self.tails[channel] = (index + 1) % size
        return index

    async def doorbell(self, channel):
        """Submit everything posted on the channel: one MMIO write."""
        await self.write(f"chan[{channel}].tail", self.tails[channel])

    def record(self, completion):
        """(Status, bytes) of a completion record in memory."""
        return unpack_record(self.dev.memory.read(completion, RECORD_BYTES))

    async def status(self, channel):
        """The channel's STATUS fields as a dict (busy, halted, code)."""
        register = self.regmap.register(f"chan[{channel}].status")
        word = await self.dev.mmio_read(self.base + register.address)
        return {name: field.extract(word) for name, field in register.fields.items()}

    async def wait_idle(self, channel, timeout_cycles=1_000_000):
        """Poll STATUS until the channel is not busy; returns the STATUS fields."""
        start = self.dev.cycle
        while (status := await self.status(channel))["busy"]:
            if self.dev.cycle - start > timeout_cycles:
                raise TimeoutError(f"channel {channel} still busy after {timeout_cycles} cycles")
            await self.dev.wait_cycles(32)
        return status

    async def reset_channel(self, channel):
        """Set CTRL.reset and wait until the channel is idle and clear again. (The
        driver's reset, ``FoliodmaDevice._reset``, is the driver's own: its timeout in
        host time, a retry when another agent halts the channel again, its interrupt
        bits cleared; this one is a test bench's, in cycles.)"""
        await self.write(f"chan[{channel}].ctrl", reset=1)
        status = await self.wait_idle(channel)
        if status["halted"]:
            raise RuntimeError(f"channel {channel} still halted after reset")
        self.tails[channel] = 0
