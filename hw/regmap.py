"""The register map of ``hw/regs.rdl``, compiled once and exposed as plain data.

No Amaranth here: the driver, the docs and the register block all read the map
through :func:`load_regmap`. The SystemRDL compiler is imported on first use
so that importing this module stays fast.

Each field has a *kind* derived from its RDL access properties:

constant  sw=r, hw=na: reads return the reset value.
status    sw=r, hw writes: reads return the engine's value.
storage   sw=rw, hw=r: held in the register block, read by the engine.
external  sw-writable and hw-written, or singlepulse, or woclr: the engine
          owns the value; writes are forwarded to it, reads return its value
          (sw=w fields read 0).
"""
import functools
import re
from dataclasses import dataclass
from pathlib import Path

RDL_FILE = Path(__file__).with_name("regs.rdl")
REG_BYTES = 4
#: The register window: byte addresses 0 .. 2**REG_ADDR_WIDTH - 1.
REG_ADDR_WIDTH = 12

CONSTANT, STATUS, STORAGE, EXTERNAL = "constant", "status", "storage", "external"


class RegMapError(ValueError):
    """``hw/regs.rdl`` uses a construct this map does not support."""


class UnknownRegisterError(KeyError):
    """A register path that is not in the map."""

    def __str__(self):
        return self.args[0]


class FieldValueError(ValueError):
    """A value does not fit a field, or a word does not fit a register."""


@dataclass(frozen=True)
class Field:
    """One field of a register: bits ``lsb .. lsb+width-1``."""
    name: str
    lsb: int
    width: int
    reset: int
    sw: str
    kind: str
    desc: str

    @property
    def mask(self):
        """The field's bits within the register word."""
        return ((1 << self.width) - 1) << self.lsb

    def extract(self, word):
        """This field's value in the register word ``word``."""
        _check_word(word)
        return (word & self.mask) >> self.lsb

    def insert(self, word, value):
        """``word`` with this field replaced by ``value``."""
        _check_word(word)
        if not 0 <= value < 1 << self.width:
            raise FieldValueError(
                f"value {value:#x} does not fit field {self.name!r} ({self.width} bits)")
        return (word & ~self.mask) | (value << self.lsb)


@dataclass(frozen=True)
class Register:
    """One 32-bit register at ``address``; ``channel`` is its chan[] index or None."""
    path: str
    address: int
    channel: int | None
    fields: dict
    desc: str


class RegMap:
    """All registers of the map, the chan[] array expanded, in address order."""

    def __init__(self, registers, channels):
        self.registers = tuple(sorted(registers, key=lambda reg: reg.address))
        #: Size of the chan[] array (the most channels an engine can have).
        self.channels = channels
        self._by_path = {reg.path: reg for reg in self.registers}

    def register(self, path):
        """The :class:`Register` at ``path`` (e.g. ``"chan[3].tail"``)."""
        try:
            return self._by_path[path]
        except KeyError:
            raise UnknownRegisterError(f"no register {path!r} in the register map") from None

    def address(self, path):
        """Byte address of the register at ``path``."""
        return self.register(path).address


def _check_word(word):
    if not 0 <= word < 1 << (8 * REG_BYTES):
        raise FieldValueError(f"register word {word:#x} is not a 32-bit unsigned value")


def compile_rdl():
    """The elaborated SystemRDL root of ``hw/regs.rdl`` (for the doc generators)."""
    from systemrdl import RDLCompiler
    compiler = RDLCompiler()
    compiler.compile_file(str(RDL_FILE))
    return compiler.elaborate()


def _kind(node):
    from systemrdl.rdltypes import AccessType
    path = node.get_path()
    sw, hw = node.get_property("sw"), node.get_property("hw")
    if node.get_property("singlepulse") or node.get_property("onwrite") is not None:
        return EXTERNAL
    if sw == AccessType.r and hw == AccessType.na:
        return CONSTANT
    if sw == AccessType.r and node.is_hw_writable:
        return STATUS
    if sw == AccessType.rw and node.is_hw_writable:
        return EXTERNAL
    if sw == AccessType.rw and hw == AccessType.r:
        return STORAGE
    raise RegMapError(f"field {path}: unsupported access sw={sw.name}, hw={hw.name}")


def _field(node):
    reset = node.get_property("reset")
    if reset is None:
        reset = 0
    elif not isinstance(reset, int):
        raise RegMapError(f"field {node.get_path()}: reset must be a constant")
    return Field(name=node.inst_name.lower(), lsb=node.lsb, width=node.width, reset=reset,
                 sw=node.get_property("sw").name, kind=_kind(node),
                 desc=node.get_property("desc") or "")


def _register(node, top):
    if node.get_property("regwidth") != 8 * REG_BYTES:
        raise RegMapError(f"register {node.get_path()}: only 32-bit registers are supported")
    path = node.get_path().removeprefix(top.inst_name + ".").lower()
    chan = re.match(r"chan\[(\d+)\]\.", path)
    return Register(path=path, address=node.absolute_address,
                    channel=int(chan.group(1)) if chan else None,
                    fields={f.name: f for f in map(_field, node.fields())},
                    desc=node.get_property("desc") or "")


@functools.lru_cache(maxsize=None)
def load_regmap():
    """The compiled register map (compiled once per process)."""
    from systemrdl.node import RegNode
    top = compile_rdl().top
    registers = [_register(node, top) for node in top.descendants(unroll=True)
                 if isinstance(node, RegNode)]
    return RegMap(registers, channels=top.get_child_by_name("chan").array_dimensions[0])
