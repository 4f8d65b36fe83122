"""The engine on a board: the SoC (engine, on-chip memory, UART bridge) and the boards
it is built for.

:class:`BoardSoC` is the design the board runs and the simulation runs alike: the
engine's AXI4 master on :class:`~hw.board.memory.BoardMemory`, the bridge
(:mod:`hw.board.bridge`) on the engine's registers and that memory, behind an 8N1
UART (:mod:`hw.board.uart`; a small FIFO on the receiving side). Its ports are the
UART's two pins, and the interrupt and a busy flag (not idle), which the board
shows on two LEDs. :class:`BoardTop` puts it on an amaranth-boards platform.

The engine on the board, its memory and the boards are stated here once
(:data:`BOARD_ENGINE`, :data:`BOARD_MEMORY_BYTES`, :data:`BOARDS`).
"""
import importlib
from dataclasses import dataclass, field

from amaranth import Elaboratable, Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from hw.engine import DmaEngine
from hw.layouts import AXI_ID_WIDTH
from hw.params import EngineParams

from .bridge import Bridge
from .memory import BoardMemory, check_size
from .uart import FRAME_BITS, UartRx, UartTx, check_divisor

#: The engine the board carries: the default engine (256-bit data, one channel).
BOARD_ENGINE = EngineParams()
#: On-chip memory: a batch of pages, their destinations, the ring and the records
#: (128 of the ECP5-85's 208 block RAMs at 256 bits).
BOARD_MEMORY_BYTES = 256 << 10
#: Bytes of the receive FIFO between the UART and the bridge.
RX_FIFO_BYTES = 16


@dataclass(frozen=True)
class BoardConfig:
    """Build parameters of :class:`BoardSoC`.

    engine         -- the engine's :class:`~hw.params.EngineParams`.
    memory_bytes   -- the on-chip memory (a power of two, at least 4 KiB).
    clk_hz         -- the clock the design runs at (PING reports it: GB/s from cycles).
    divisor        -- UART clock cycles per bit (clk_hz / baud).
    timeout_bytes  -- a command silent this many byte times is dropped.
    """
    engine: EngineParams = field(default_factory=lambda: BOARD_ENGINE)
    memory_bytes: int = BOARD_MEMORY_BYTES
    clk_hz: int = 25_000_000
    divisor: int = 25
    timeout_bytes: int = 1024

    def __post_init__(self):
        check_size(self.memory_bytes)
        check_divisor(self.divisor)
        if not (isinstance(self.clk_hz, int) and self.clk_hz > 0):
            raise ValueError(f"clk_hz={self.clk_hz!r}: expected a positive int")

    @property
    def baud(self):
        return self.clk_hz / self.divisor

    @property
    def timeout_cycles(self):
        return self.timeout_bytes * FRAME_BITS * self.divisor


@dataclass(frozen=True)
class Board:
    """A board the design is built for: its amaranth-boards platform
    ("module:Class"), clock, the baud rate of its USB-serial bridge, and how the
    user loads a bitstream."""
    name: str
    title: str
    platform: str
    clk_hz: int
    baud: int
    program: str

    def config(self):
        """The :class:`BoardConfig` of this board."""
        divisor = self.clk_hz // self.baud
        if self.clk_hz % self.baud:
            raise ValueError(f"{self.name}: {self.baud} baud is not a whole divisor of "
                             f"{self.clk_hz} Hz")
        return BoardConfig(clk_hz=self.clk_hz, divisor=divisor)

    def make_platform(self):
        module, name = self.platform.split(":")
        return getattr(importlib.import_module(module), name)()


BOARDS = {
    "ulx3s-85f": Board(
        name="ulx3s-85f", title="Radiona ULX3S with an ECP5-85F",
        platform="amaranth_boards.ulx3s:ULX3S_85F_Platform", clk_hz=25_000_000,
        # 25 MHz / 25: the FT231X on the board's USB port runs 1 Mbaud exactly.
        baud=1_000_000, program="openFPGALoader -b ulx3s {bitstream}"),
}
DEFAULT_BOARD = "ulx3s-85f"
#: The simulated board: the ULX3S design with the UART at this many cycles per bit,
#: so that a simulation moves its bytes in few cycles.
SIM_DIVISOR = 4


def board(name):
    """The :class:`Board` called ``name``; ValueError naming the known ones."""
    if name not in BOARDS:
        raise ValueError(f"unknown board {name!r}: expected one of {', '.join(BOARDS)}")
    return BOARDS[name]


def simulated_config(name=DEFAULT_BOARD):
    """The board's design as the simulation runs it (the UART at SIM_DIVISOR)."""
    config = board(name).config()
    return BoardConfig(engine=config.engine, memory_bytes=config.memory_bytes,
                       clk_hz=config.clk_hz, divisor=SIM_DIVISOR,
                       timeout_bytes=config.timeout_bytes)


class BoardSoC(wiring.Component):
    """The engine, its memory and the UART bridge (see the module docstring)."""

    uart_rx: In(1, init=1)
    uart_tx: Out(1, init=1)
    irq: Out(1)
    busy: Out(1)

    def __init__(self, config=BoardConfig()):
        self.config = config
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        c = self.config
        engine = m.submodules.engine = DmaEngine(c.engine)
        memory = m.submodules.memory = BoardMemory(
            size=c.memory_bytes, data_width=c.engine.data_width,
            addr_width=c.engine.addr_width, id_width=AXI_ID_WIDTH)
        bridge = m.submodules.bridge = Bridge(
            memory_bytes=c.memory_bytes, info=(c.clk_hz, c.memory_bytes, c.divisor),
            timeout_cycles=c.timeout_cycles)
        rx = m.submodules.uart_rx = UartRx(c.divisor)
        tx = m.submodules.uart_tx = UartTx(c.divisor)
        rx_fifo = m.submodules.rx_fifo = fifo.SyncFIFOBuffered(width=8, depth=RX_FIFO_BYTES)
        wiring.connect(m, engine.m_axi, memory.axi)
        wiring.connect(m, bridge.reg, engine.s_axil)
        wiring.connect(m, bridge.mem, memory.bridge)
        wiring.connect(m, rx.data, rx_fifo.w_stream)
        wiring.connect(m, rx_fifo.r_stream, bridge.rx)
        wiring.connect(m, bridge.tx, tx.data)
        m.d.comb += [rx.rx.eq(self.uart_rx), self.uart_tx.eq(tx.tx),
                     bridge.irq.eq(engine.irq), self.irq.eq(engine.irq),
                     self.busy.eq(~engine.idle)]
        return m


class BoardTop(Elaboratable):
    """:class:`BoardSoC` on an amaranth-boards platform: its UART on the board's
    USB-serial bridge, the interrupt on LED 0 and busy on LED 1 (the platform's
    default clock and power-on reset drive it)."""

    def __init__(self, config):
        self.config = config

    def elaborate(self, platform):
        m = Module()
        soc = m.submodules.soc = BoardSoC(self.config)
        uart = platform.request("uart", 0)
        leds = [platform.request("led", k) for k in range(2)]
        m.d.comb += [soc.uart_rx.eq(uart.rx.i), uart.tx.o.eq(soc.uart_tx),
                     leds[0].o.eq(soc.irq), leds[1].o.eq(soc.busy)]
        return m
