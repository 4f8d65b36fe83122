"""What a scenario sees of the simulated device, on either simulator.

A *scenario* is an importable ``async def name(dev, **kwargs)`` returning a
JSON-serialisable result; it is named "package.module:function" so that the
cocotb process can import it too. It does its own memory setup and checks
inside the simulation, raises on failure, and returns a summary.

A device holds one or more engines (``dev.engines``), each a copy of the DUT with
its own AXI4-Lite registers and its own AXI4 master, all on one memory system
(one :class:`~sim.memsys.axi_slave.AxiSlaveModel` port per engine, sharing the
memory, the IOMMU and the nodes' and links' bandwidth: one
:class:`~sim.memsys.memory_system.Fabric`). Engine k's
registers are at MMIO addresses ``k * ENGINE_WINDOW_BYTES`` on; its interrupt is
line k (bit k of ``dev.irq_lines``). Every engine is clocked on every cycle; a
back-end may leave an engine that is idle, with nothing in flight and no
register access, unevaluated (its state would not change).

Timing contract (identical on both backends): ``dev.cycle`` counts rising
clock edges since reset was released (0 at scenario start); the scenario
resumes right after an edge, with the AXI slave model already stepped for that
edge. ``dev.irq`` is the IRQ level during the cycle that ended at that edge.
AXI4-Lite accesses follow cocotbext-axi's AxiLiteMaster timing: VALIDs rise
after the next edge, RREADY/BREADY are high from edge 1 on, and the call
returns at the edge of the R/B handshake.
"""
import abc
import dataclasses
import importlib
import inspect
import json
import weakref

from hw.axi import RESP_OKAY
from hw.regmap import REG_ADDR_WIDTH, REG_BYTES
from sim.memsys.axi_slave import AxiSlaveModel
from sim.memsys.iommu import Iommu, IommuParams
from sim.memsys.memory import Memory
from sim.memsys.fabric import EnginePorts, Fabric
from sim.memsys.memory_system import MemorySystem
from sim.backends.waveform import waveform_format

#: Bytes of MMIO address space per engine: its register window.
ENGINE_WINDOW_BYTES = 1 << REG_ADDR_WIDTH
#: The most engines one simulation holds (a platform's DMA engines).
MAX_ENGINES = 64
#: Every engine's IRQ line (bit k: engine k's), as a mask of ``Device.irq_lines``.
ALL_IRQ_LINES = (1 << MAX_ENGINES) - 1
#: An AXI4-Lite access with no response within this many cycles fails.
MMIO_TIMEOUT_CYCLES = 10_000
#: While waiting with idle skipping on, how often (in cycles) quiescence is checked.
IDLE_CHECK_CYCLES = 8
#: Rising edges with reset asserted before the scenario starts (cycle 0 after them).
RESET_CYCLES = 5
#: ``progress(cycle, ticked)`` is called about this often (in cycles): the cycle
#: reached, and how many of the cycles so far were simulated (not skipped as idle).
PROGRESS_INTERVAL = 10_000
#: AxPROT of every AXI4-Lite access: non-secure data, AxiLiteMaster's default.
AXIL_PROT = 0b010

_MEMORY_DEFAULTS = {"read_latency": 1, "write_latency": 1, "backpressure": 0.0, "seed": 0,
                    "error_regions": (), "memory_system": None, "engine_ports": None,
                    "bus_faults": (), "iommu": None, "iommu_params": None}


class ScenarioError(RuntimeError):
    """The scenario, or the simulation under it, failed; the message says why."""


class MmioError(RuntimeError):
    """An AXI4-Lite access got a non-OKAY response."""


def scenario_name(scenario):
    """The "package.module:function" name of a scenario given as its async function
    (defined at the top level of its module, so another process can import it) or
    as that name already."""
    if not callable(scenario):
        return scenario
    name = f"{scenario.__module__}:{scenario.__qualname__}"
    if "<" in scenario.__qualname__ or "." in scenario.__qualname__:
        raise ValueError(f"scenario {name!r} is not defined at the top level of its module")
    return name


def load_scenario(name):
    """The async function named "package.module:function"."""
    module_name, sep, function_name = name.partition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"scenario {name!r} is not of the form 'package.module:function'")
    module = importlib.import_module(module_name)
    function = getattr(module, function_name, None)
    if function is None:
        raise AttributeError(f"scenario {name!r}: module {module_name!r} has no "
                             f"{function_name!r}")
    if not inspect.iscoroutinefunction(function):
        raise TypeError(f"scenario {name!r} is not an async function")
    return function


@dataclasses.dataclass
class PreparedRun:
    """What an in-process back-end starts a run from (:func:`prepare_run`)."""
    function: object            # the scenario's async function
    duts: list                  # the engines
    memory: object              # the Memory every engine's slave port shares
    slaves: list                # one AxiSlaveModel per engine
    kwargs: dict                # the scenario's arguments, after a JSON round trip
    params: dict                # dev.params, likewise


def prepare_run(backend, dut, scenario, kwargs, params, memory_config, vcd):
    """Check and build what a run of ``scenario`` (a name, :func:`scenario_name`) on
    ``backend`` needs: the waveform
    path's format, the scenario, the engines, the memory with a slave port per engine,
    and the arguments after the JSON round trip a run in another process makes (so
    every back-end sees equal inputs)."""
    if vcd is not None:
        waveform_format(backend, vcd)
    function = load_scenario(scenario)
    duts = engine_duts(dut)
    data_width, id_width = dut_bus_widths(duts[0])
    memory, slaves = build_memory(memory_config, data_width=data_width, id_width=id_width,
                                  engines=len(duts))
    kwargs, params = json.loads(json.dumps([kwargs, {} if params is None else params]))
    return PreparedRun(function, duts, memory, slaves, kwargs, params)


def run_result(backend, scenario, result):
    """The scenario's result after a JSON round trip; ScenarioError if it has none."""
    try:
        return json.loads(json.dumps(result))
    except TypeError as error:
        raise ScenarioError(f"{backend}: scenario {scenario} failed: TypeError: "
                            f"{error}") from error


def dut_bus_widths(dut):
    """(data_width, id_width) of the DUT's m_axi port, checking its interface."""
    for member in ("s_axil", "m_axi", "irq"):
        if not hasattr(dut, member):
            raise TypeError(f"DUT {dut!r} has no {member!r}: expected members s_axil (AXI4-Lite "
                            f"slave), m_axi (AXI4 master) and irq")
    return len(dut.m_axi.wdata), len(dut.m_axi.arid)


_verilog_texts = weakref.WeakKeyDictionary()
_verilog_by_params = {}


def dut_verilog(dut, name):
    """The DUT as Verilog with toplevel ``name`` (amaranth.back.verilog), converted once
    per DUT: a back-end's build step and its run share the conversion, and so do DUTs of
    one class built from equal ``params`` (a hashable build-parameter value, as the
    engine's :class:`~hw.params.EngineParams`: such a DUT's RTL is a function of its
    class and its params alone)."""
    params = getattr(dut, "params", None)
    try:
        texts = _verilog_by_params.setdefault((type(dut), params), {}) \
            if params is not None else _verilog_texts.setdefault(dut, {})
    except TypeError:               # params not hashable: convert per object
        texts = _verilog_texts.setdefault(dut, {})
    if name not in texts:
        from amaranth.back import verilog
        texts[name] = verilog.convert(dut, name=name, emit_src=False)
    else:
        # Its equal's conversion stands for its own: not "created but never used"
        # (the flag Amaranth's UnusedElaboratable warning reads).
        dut._MustUse__used = True
    return texts[name]


def build_memory(memory_config, *, data_width, id_width, engines=1):
    """(Memory, [AxiSlaveModel per engine]) from a JSON-friendly memory_config dict: one
    slave port per engine, all on the one memory system (see the module docstring).

    Keys: base, size (required); read_latency, write_latency, backpressure,
    seed, error_regions (see :class:`~sim.memsys.axi_slave.AxiSlaveModel`);
    memory_system: a :meth:`sim.memsys.memory_system.MemorySystem.to_config` dict
    (per-node latency and bandwidth; then read_latency/write_latency must be
    left out); engine_ports: a :meth:`sim.memsys.fabric.EnginePorts.to_config` dict
    (engines sharing I/O ports, with a memory_system); bus_faults: per engine, from
    engine 0 on, a :meth:`sim.memsys.bus_faults.BusFaults.to_config` dict (the bursts it
    gets an error or a late response on); iommu: true, false or null (see :mod:`sim.memsys.iommu`; null: off
    for the engine alone, on under a :class:`~sim.host.port.HostPort`); iommu_params: a
    :meth:`sim.memsys.iommu.IommuParams.to_config` dict (invalidation mode, caches, page
    sizes, walk timing; default: IommuParams()).
    """
    unknown = set(memory_config) - {"base", "size", *_MEMORY_DEFAULTS}
    missing = {"base", "size"} - set(memory_config)
    if unknown or missing:
        raise ValueError(f"memory_config: unknown keys {sorted(unknown)}, missing keys "
                         f"{sorted(missing)}")
    config = {**_MEMORY_DEFAULTS, **memory_config}
    latencies = {}
    if config["memory_system"] is None:
        latencies = {"read_latency": config["read_latency"],
                     "write_latency": config["write_latency"]}
    else:
        flat = sorted({"read_latency", "write_latency"} & set(memory_config))
        if flat:
            raise ValueError(f"memory_config: {flat} given with a memory_system (the "
                             f"latencies are the memory system's nodes')")
    check_engines(engines)
    memory = Memory(config["base"], config["size"])
    fabric = None
    if config["memory_system"] is not None:
        fabric = Fabric(MemorySystem.from_config(config["memory_system"]), data_width // 8,
                        ports=engines, engine_ports=EnginePorts.from_config(
                            config["engine_ports"]))
    elif config["engine_ports"] is not None:
        raise ValueError("memory_config: engine_ports need a memory_system (flat memory has "
                         "no bandwidth to share)")
    faults = list(config["bus_faults"])
    if len(faults) > engines:
        raise ValueError(f"memory_config: bus_faults for {len(faults)} engines, but the run "
                         f"has {engines}")
    faults += [None] * (engines - len(faults))
    iommu = Iommu(config["iommu"], IommuParams.from_config(config["iommu_params"]))
    return memory, [AxiSlaveModel(memory, data_width=data_width, id_width=id_width,
                                  backpressure=config["backpressure"], seed=config["seed"] + k,
                                  error_regions=[tuple(r) for r in config["error_regions"]],
                                  memory_system=fabric, port=k, iommu=iommu,
                                  faults=faults[k], **latencies)
                    for k in range(engines)]


def check_engines(engines):
    """Raise ValueError unless engines is an int in 1..MAX_ENGINES."""
    if isinstance(engines, bool) or not isinstance(engines, int) \
            or not 1 <= engines <= MAX_ENGINES:
        raise ValueError(f"engines={engines!r}: expected an int in 1..{MAX_ENGINES}")


def engine_duts(dut):
    """The DUTs of a run as a list: ``dut`` is one DUT or a sequence of them (one per
    engine, all of one configuration: same class and ``params``)."""
    duts = list(dut) if isinstance(dut, (list, tuple)) else [dut]
    check_engines(len(duts))
    first = duts[0]
    for other in duts[1:]:
        if type(other) is not type(first) or getattr(other, "params", None) != \
                getattr(first, "params", None):
            raise ValueError(f"the engines of one run must share one configuration: "
                             f"{other!r} differs from {first!r}")
        if other is first:
            raise ValueError("each engine needs its own DUT object (one per engine)")
    return duts


def check_mmio(addr, value=0, engines=1):
    """(engine, register offset) of addr; ValueError unless addr is a register-aligned
    address in the register window of one of ``engines`` engines and value a u32."""
    end = engines * ENGINE_WINDOW_BYTES
    if not (isinstance(addr, int) and 0 <= addr < end and addr % REG_BYTES == 0):
        raise ValueError(f"MMIO address {addr!r} is not a {REG_BYTES}-byte aligned address "
                         f"below {end:#x} ({engines} engine(s) of {ENGINE_WINDOW_BYTES:#x} "
                         f"bytes of registers)")
    if not (isinstance(value, int) and 0 <= value < 1 << 32):
        raise ValueError(f"MMIO value {value!r} is not a 32-bit unsigned int")
    return divmod(addr, ENGINE_WINDOW_BYTES)


def check_response(kind, addr, resp):
    """Raise MmioError unless the AXI4-Lite response resp is OKAY."""
    if resp != RESP_OKAY:
        raise MmioError(f"MMIO {kind} at {addr:#05x} got response {resp} (not OKAY)")


class Device(abc.ABC):
    """The DUT as a scenario sees it (see the module docstring for timing).

    memory -- the :class:`~sim.memsys.memory.Memory` behind the engines' m_axi.
    axis   -- per engine, the :class:`~sim.memsys.axi_slave.AxiSlaveModel` port serving
              it (with its logs); ``axi`` is engine 0's.
    params -- the dict the caller passed to the backend.
    """

    def __init__(self, memory, axis, params):
        self.memory = memory
        self.axis = tuple(axis)
        self.axi = self.axis[0]
        self.engines = len(self.axis)
        self.params = params
        #: Skip, instead of simulating, cycles in which nothing can happen.
        self.idle_skip = False
        #: Cycles skipped so far (included in ``cycle``).
        self.skipped_cycles = 0

    @property
    @abc.abstractmethod
    def cycle(self):
        """Rising clock edges since reset release."""

    @property
    def irq(self):
        """Whether some engine's IRQ was high during the cycle that ended at the latest
        edge."""
        return bool(self.irq_lines)

    @property
    @abc.abstractmethod
    def irq_lines(self):
        """The engines' IRQ levels during that cycle: bit k is engine k's."""

    @abc.abstractmethod
    async def mmio_write(self, addr, value):
        """Write a 32-bit register; raises MmioError on a non-OKAY response."""

    @abc.abstractmethod
    async def mmio_read(self, addr):
        """Read a 32-bit register; raises MmioError on a non-OKAY response."""

    @property
    @abc.abstractmethod
    def dut_idle(self):
        """Every engine's ``idle`` output at the latest edge (False if it has none)."""

    def quiescent(self):
        """Nothing can change before the next register access: every engine is idle
        and the memory has no transaction in flight."""
        return self.dut_idle and not any(axi.busy() for axi in self.axis)

    async def wait_cycles(self, n):
        """Let n clock cycles pass (n >= 0).

        With ``idle_skip`` set, once the device is :meth:`quiescent` the rest
        of the cycles are counted without being simulated: the RTL would not
        change in them, so the outcome is the same, only faster.
        """
        if not (isinstance(n, int) and n >= 0):
            raise ValueError(f"wait_cycles({n!r}): expected an int >= 0")
        while n:
            if self.idle_skip and self.quiescent():
                self.skipped_cycles += n
                for axi in self.axis:
                    axi.advance(n)
                await self._skip(n)
                return
            chunk = min(n, IDLE_CHECK_CYCLES) if self.idle_skip else n
            await self._edges(chunk)
            n -= chunk

    async def _skip(self, n):
        """Let n idle cycles pass without simulating them (``skipped_cycles`` and the
        AXI model count them already): a back-end counts them in ``cycle`` and lets
        them pass as time on its waveform (see :mod:`sim.backends.waveform`)."""

    @abc.abstractmethod
    async def _edges(self, n):
        """Let n >= 1 clock edges pass."""

    async def run_periods(self, cycles, irq_mask=ALL_IRQ_LINES):
        """Wait the periods of ``cycles`` (a sequence of ints >= 0) in turn, each as
        :meth:`wait_cycles`; before every period but the first, stop if one of the
        ``irq_mask`` lines is high or, with ``idle_skip``, the device is
        :meth:`quiescent`. Returns how many periods ran. (A back-end may run them all
        natively: the host's interrupt wait hands its check periods over in one call.)"""
        for i, n in enumerate(cycles):
            if i and (self.irq_lines & irq_mask or (self.idle_skip and self.quiescent())):
                return i
            await self.wait_cycles(n)
        return len(cycles)

    @abc.abstractmethod
    async def wait_irq(self, timeout_cycles):
        """Wait until irq is seen high; False if not within timeout_cycles edges."""

    async def wait_until(self, predicate, timeout_cycles, poll_cycles=16):
        """Poll predicate() every poll_cycles edges; TimeoutError after timeout_cycles."""
        if poll_cycles < 1:
            raise ValueError(f"poll_cycles={poll_cycles!r} must be >= 1")
        start = self.cycle
        while not predicate():
            waited = self.cycle - start
            if waited >= timeout_cycles:
                raise TimeoutError(f"wait_until: {getattr(predicate, '__name__', predicate)} "
                                   f"still false after {waited} cycles (at cycle {self.cycle})")
            await self.wait_cycles(min(poll_cycles, timeout_cycles - waited))
