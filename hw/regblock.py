"""AXI4-Lite register block implementing the map of ``hw/regs.rdl``."""
import re

from amaranth import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In

from .axi import AXI4LiteSignature, RESP_OKAY
from .formal.properties import stating
from .regmap import CONSTANT, EXTERNAL, REG_ADDR_WIDTH, REG_BYTES, STORAGE


class RegisterBlockError(ValueError):
    """A bad register block configuration or field lookup."""


class FieldPort:
    """Connection point of one field to the engine.

    kind   -- the field's kind (see :mod:`hw.regmap`).
    value  -- Signal(width): driven by the block for "storage"; driven by the
              engine for "status" and readable "external" fields; None for
              "constant" and write-only fields.
    wstb   -- Signal(1) pulsed for one cycle when software writes the register
              ("external" only, else None).
    wdata  -- Signal(width): the field's bits of the write data, valid with wstb
              ("external" only, else None).
    """

    def __init__(self, register, field):
        name = re.sub(r"\W+", "_", register.path).strip("_") + "__" + field.name
        self.kind = field.kind
        self.value = None
        self.wstb = self.wdata = None
        if field.kind == STORAGE:
            self.value = Signal(field.width, init=field.reset, name=name)
        elif field.kind != CONSTANT and "r" in field.sw:
            self.value = Signal(field.width, name=name)
        if field.kind == EXTERNAL:
            self.wstb = Signal(name=name + "__wstb")
            self.wdata = Signal(field.width, name=name + "__wdata")


def register_write(width):
    """A stream of software's writes of a ``width``-bit field, as a stage takes
    them: ``valid`` in the cycle of the write (:attr:`FieldPort.wstb`),
    ``payload`` the field's bits (:attr:`FieldPort.wdata`)."""
    return stream.Signature(width, always_ready=True)


class RegisterBlock(wiring.Component):
    """AXI4-Lite slave for the global registers and chan[0 .. channels-1].

    One transaction at a time per direction; address bits 1:0 are ignored.
    AW and W are accepted in either order or together; in the cycle after both
    are held the write is applied, and B (always OKAY) rises at the same clock
    edge. Storage fields honour WSTRB per byte; external fields get their wstb
    pulse and the full wdata regardless of WSTRB. A read registers the data on
    the AR handshake and presents it (OKAY) with rvalid the next cycle, held
    until rready. Unmapped and unimplemented-channel addresses read 0 and
    ignore writes.
    """

    bus: In(AXI4LiteSignature(addr_width=REG_ADDR_WIDTH))

    def __init__(self, regmap, channels):
        if not 1 <= channels <= regmap.channels:
            raise RegisterBlockError(
                f"channels={channels!r} is out of range: expected 1..{regmap.channels}")
        self.regmap = regmap
        self.channels = channels
        self._registers = [reg for reg in regmap.registers
                           if reg.channel is None or reg.channel < channels]
        self._ports = {(reg.path, field.name): FieldPort(reg, field)
                       for reg in self._registers for field in reg.fields.values()}
        super().__init__()

    def field(self, path, name):
        """The :class:`FieldPort` of field ``name`` of the register at ``path``."""
        register = self.regmap.register(path)
        if register.channel is not None and register.channel >= self.channels:
            raise RegisterBlockError(
                f"register {path!r} belongs to channel {register.channel}, but only "
                f"{self.channels} channel(s) are implemented")
        if name not in register.fields:
            raise RegisterBlockError(
                f"register {path!r} has no field {name!r}; it has {', '.join(register.fields)}")
        return self._ports[path, name]

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        # --- Write: hold AW and W until both arrived, then apply and respond ---
        aw_held = Signal()
        w_held = Signal()
        waddr = Signal(REG_ADDR_WIDTH - (REG_BYTES - 1).bit_length())
        wdata = Signal(32)
        wstrb = Signal(4)
        m.d.comb += [bus.awready.eq(~aw_held & ~bus.bvalid),
                     bus.wready.eq(~w_held & ~bus.bvalid),
                     bus.bresp.eq(RESP_OKAY)]
        with m.If(bus.awvalid & bus.awready):
            m.d.sync += [aw_held.eq(1), waddr.eq(bus.awaddr[2:])]
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += [w_held.eq(1), wdata.eq(bus.wdata), wstrb.eq(bus.wstrb)]
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += bus.bvalid.eq(0)

        write = Signal()
        m.d.comb += write.eq(aw_held & w_held)
        for reg in self._registers:
            for field in reg.fields.values():
                if field.kind == EXTERNAL:
                    port = self._ports[reg.path, field.name]
                    m.d.comb += [port.wstb.eq(write & (waddr == reg.address // REG_BYTES)),
                                 port.wdata.eq(wdata[field.lsb:field.lsb + field.width])]
        with m.If(write):
            m.d.sync += [aw_held.eq(0), w_held.eq(0), bus.bvalid.eq(1)]
            with m.Switch(waddr):
                for reg in self._registers:
                    if any(field.kind == STORAGE for field in reg.fields.values()):
                        with m.Case(reg.address // REG_BYTES):
                            self._write_storage(m, reg, wdata, wstrb)

        # --- Read: the mux is evaluated only on the AR handshake ---
        m.d.comb += [bus.arready.eq(~bus.rvalid), bus.rresp.eq(RESP_OKAY)]
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += bus.rvalid.eq(0)
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += bus.rvalid.eq(1)
            with m.Switch(bus.araddr[2:]):
                for reg in self._registers:
                    with m.Case(reg.address // REG_BYTES):
                        m.d.sync += bus.rdata.eq(self._read_word(reg))
                with m.Default():
                    m.d.sync += bus.rdata.eq(0)
        props = stating(platform)
        if props:
            self._properties(m, props, write)
        return m

    def _properties(self, m, props, write):
        """Only a write changes a storage field: a read changes no register."""
        wrote = Signal()
        m.d.sync += wrote.eq(write)
        unchanged = []
        for port in self._ports.values():
            if port.kind == STORAGE:
                before = Signal.like(port.value, name=f"{port.value.name}_before")
                m.d.sync += before.eq(port.value)
                unchanged.append(port.value == before)
        props.check(m, "regs.read_writes_nothing", wrote | Cat(*unchanged).all(),
                    "a register's stored value changes only on a write to it")

    def _write_storage(self, m, reg, wdata, wstrb):
        """Update the storage fields of ``reg`` from ``wdata``, byte lanes gated by ``wstrb``."""
        for field in reg.fields.values():
            if field.kind != STORAGE:
                continue
            value = self._ports[reg.path, field.name].value
            for lane in range(REG_BYTES):
                lo = max(field.lsb, 8 * lane)
                hi = min(field.lsb + field.width, 8 * (lane + 1))
                if lo < hi:
                    with m.If(wstrb[lane]):
                        m.d.sync += value[lo - field.lsb:hi - field.lsb].eq(wdata[lo:hi])

    def _read_word(self, reg):
        """The 32-bit read value of ``reg``: each field at its bits, 0 elsewhere."""
        parts = []
        pos = 0
        for field in sorted(reg.fields.values(), key=lambda field: field.lsb):
            port = self._ports[reg.path, field.name]
            if field.kind == CONSTANT:
                value = Const(field.reset, field.width)
            elif port.value is not None:
                value = port.value
            else:
                continue
            parts += [Const(0, field.lsb - pos), value]
            pos = field.lsb + field.width
        return Cat(*parts, Const(0, 8 * REG_BYTES - pos))
