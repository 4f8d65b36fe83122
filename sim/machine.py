"""The machine a run models, as one immutable value: what a platform file describes.

A :class:`Machine` gathers everything about the modelled computer: the CPU and
engine clocks, the DMA engine's build parameters, the IOMMU's invalidation
mode, the memory nodes the engine sees (latency and bandwidth of local DRAM,
remote DRAM and the CXL tier, of the socket link and the CXL link in front of
the last two, and the fabric's write buffering), the cache
hierarchy of the cost-to-userspace model and the host cost table. Each value
keeps the one definition it has in its own module (:class:`hw.params.EngineParams`,
:mod:`sim.memsys.memory_system`, :mod:`sim.host.cache_params`,
:mod:`sim.host.costs`), with its source; this module only puts them together.

A platform file is TOML (read with :mod:`tomllib`) whose tables are the
:data:`SECTIONS`; it may give only the values it changes, the others come from
the built-in machine, the seed's (:data:`DEFAULT_MACHINE`, shipped as
``sim/machines/seed.toml``, which :func:`render_toml` writes with each value's
source as a comment). Values are addressed as ``section.key`` (e.g.
``memory.remote.read_latency_ns``); :meth:`Machine.with_values` changes some.
Two values are held once for the whole machine: the CPU clock (``clocks.cpu_ghz``,
also the cache model's core clock) and the LLC size (``cache.llc_bytes_per_ccx``,
also the cost table's ``llc_bytes``).
"""
import dataclasses
import math
import textwrap
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hw.params import EngineParams, ParameterError
from sim.backends.base import MAX_ENGINES
from sim.memsys.address_map import DRIVER_RING_ENTRIES, MAX_RING_ENTRIES
from sim.host.cache_params import CONSTANTS as CACHE_CONSTANTS, DEFAULT_HIERARCHY as DEFAULT_CACHE
from sim.host.cache_params import CacheModelError, CacheHierarchy
from sim.host.costs import DEFAULT_COSTS, CostError, CostTable
from sim.memsys import memory_system
from sim.memsys.fabric import EnginePorts
from sim.memsys.iommu import IommuParams
from sim.memsys.memory_system import (CXL_LINK, CXL_MEMORY, DEFAULT_ENGINE_MHZ, LOCAL_DRAM,
                                        REMOTE_DRAM, SOCKET_LINK, WRITE_BUFFER_BYTES, Link,
                                        Node, zen3_two_socket)
from sim.seed import CPU_GHZ
from sw_driver.dcbm import MAX_DMA_CHAN
from sw_driver.migrate_offload import MIGRATE_REASONS, check_reasons
from sw_driver.dma_mapping import DEFAULT_MAX_SEG_SIZE

#: The built-in platform files, in the package, by the name ``--platform`` takes.
BUILTIN_FILES = {name: resources.files("sim") / "machines" / f"{name}.toml"
                 for name in ("seed", "zen3-ptdma", "zen3-ptdma-v7")}
#: The key of a platform file naming the platform it starts from (a built-in name, or a
#: file, relative to this one): the values it leaves out are that platform's.
BASE_KEY = "base"
DEFAULT_FILE = BUILTIN_FILES["seed"]
#: The memory nodes by role, as ``memory.<role>`` tables.
NODE_ROLES = ("local", "remote", "cxl")
#: The links by role, as ``memory.<role>`` tables: in front of the remote and the CXL node.
LINK_ROLES = ("socket_link", "cxl_link")
NODE_KEYS = ("read_latency_ns", "write_latency_ns", "read_gbps", "write_gbps")
#: How a file says that a node's bandwidth is not limited (TOML has no null).
UNLIMITED = "unlimited"
#: How a file says dcbm takes every channel the platform has (nr_dma_chan).
ALL = "all"
#: How a file says that a page walk's reads take the read latency of the node holding
#: the IO page tables (iommu.walk_read_ns).
NODE_LATENCY = "node"
#: Cost-table fields that are not a file's values: they follow another value.
_COSTS_TIED = {"llc_bytes": "cache.llc_bytes_per_ccx"}


class MachineError(ValueError):
    """A platform file or value that cannot describe a machine; the message names it."""


@dataclass(frozen=True)
class Machine:
    """The modelled computer (see the module docstring). Immutable; compare with ==."""

    name: str = "seed: 2-socket AMD EPYC 7003 (Zen 3), the RFC's test machine"
    cpu_ghz: float = CPU_GHZ
    engine_mhz: float = DEFAULT_ENGINE_MHZ
    engine: EngineParams = EngineParams()
    engines: int = 1
    ring_entries: int = DRIVER_RING_ENTRIES
    nr_dma_chan: int | None = None
    dcbm_reasons: tuple | None = None
    max_inflight: int | None = None
    max_seg_size: int = DEFAULT_MAX_SEG_SIZE
    engine_ports: EnginePorts = EnginePorts()
    iommu: IommuParams = IommuParams()
    write_buffer_bytes: int = WRITE_BUFFER_BYTES
    local: Node = LOCAL_DRAM
    remote: Node = REMOTE_DRAM
    cxl: Node = CXL_MEMORY
    socket_link: Link = SOCKET_LINK
    cxl_link: Link = CXL_LINK
    cache: CacheHierarchy = DEFAULT_CACHE
    costs: CostTable = DEFAULT_COSTS

    def __post_init__(self):
        for name in ("cpu_ghz", "engine_mhz"):
            _check_clock(f"clocks.{name}", getattr(self, name))
        if isinstance(self.engines, bool) or not isinstance(self.engines, int) \
                or not 1 <= self.engines <= MAX_ENGINES:
            raise MachineError(f"dma.engines={self.engines!r}: expected an int in "
                               f"1..{MAX_ENGINES}")
        if isinstance(self.ring_entries, bool) or not isinstance(self.ring_entries, int) \
                or not 2 <= self.ring_entries <= MAX_RING_ENTRIES:
            raise MachineError(f"dma.ring_entries={self.ring_entries!r}: expected an int in "
                               f"2..{MAX_RING_ENTRIES}")
        if self.nr_dma_chan is not None and (
                isinstance(self.nr_dma_chan, bool) or not isinstance(self.nr_dma_chan, int)
                or not 1 <= self.nr_dma_chan <= min(MAX_DMA_CHAN, self.total_channels)):
            raise MachineError(f"dma.nr_dma_chan={self.nr_dma_chan!r}: expected {ALL!r} or an "
                               f"int in 1..{min(MAX_DMA_CHAN, self.total_channels)} (dcbm takes "
                               f"at most {MAX_DMA_CHAN}; the platform has {self.total_channels} "
                               f"channels: {self.engines} engine(s) x {self.engine.channels})")
        if self.dcbm_reasons is not None and (not isinstance(self.dcbm_reasons, tuple) or
                                              check_reasons(self.dcbm_reasons) is None):
            raise MachineError(f"dcbm_reasons={self.dcbm_reasons!r}: expected None or a tuple "
                               f"of {', '.join(MIGRATE_REASONS)}")
        if self.max_inflight is not None and (
                isinstance(self.max_inflight, bool) or not isinstance(self.max_inflight, int)
                or not 1 <= self.max_inflight < self.ring_entries):
            raise MachineError(f"dma.max_inflight={self.max_inflight!r}: expected {ALL!r} or an "
                               f"int in 1..{self.ring_entries - 1} (the ring's entries, one "
                               f"kept empty)")
        if isinstance(self.max_seg_size, bool) or not isinstance(self.max_seg_size, int) \
                or self.max_seg_size < self.engine.beat_bytes:
            raise MachineError(f"dma.max_seg_size={self.max_seg_size!r}: expected an int of "
                               f"at least one beat ({self.engine.beat_bytes} bytes)")
        if not isinstance(self.iommu, IommuParams):
            raise MachineError(f"iommu={self.iommu!r}: expected an IommuParams")
        if not isinstance(self.write_buffer_bytes, int) or self.write_buffer_bytes < 1:
            raise MachineError(f"memory.write_buffer_bytes={self.write_buffer_bytes!r}: expected "
                               f"an int >= 1 (bytes)")
        if self.cache.core_ghz != self.cpu_ghz:
            raise MachineError("cache.core_ghz must equal clocks.cpu_ghz (one CPU clock)")
        if self.costs.llc_bytes != self.cache.llc_bytes_per_ccx:
            raise MachineError("costs.llc_bytes must equal cache.llc_bytes_per_ccx (one LLC)")

    @property
    def total_channels(self):
        """The dmaengine channels the platform offers: every ring of every engine."""
        return self.engines * self.engine.channels

    @property
    def dcbm_channels(self):
        """dcbm's ``nr_dma_chan``: the value given, else every channel (at most 16)."""
        return self.nr_dma_chan or min(MAX_DMA_CHAN, self.total_channels)

    @property
    def nodes(self):
        """The memory nodes and links, by role."""
        return {role: getattr(self, role) for role in NODE_ROLES + LINK_ROLES}

    def memory_system(self, *, remote=(), cxl=()):
        """The :class:`~sim.memsys.memory_system.MemorySystem` the engines see: local
        DRAM, except the ``remote`` ranges (behind the socket link) and the ``cxl``
        ranges (behind the CXL link); see :func:`~sim.memsys.memory_system.zen3_two_socket`."""
        return zen3_two_socket(remote=remote, cxl=cxl, engine_mhz=self.engine_mhz,
                               local=self.local, remote_node=self.remote, cxl_node=self.cxl,
                               socket_link=self.socket_link, cxl_link=self.cxl_link,
                               write_buffer_bytes=self.write_buffer_bytes)

    # ---- values by name -----------------------------------------------------------
    def values(self):
        """{"section.key": value} of every value a platform file can give."""
        out = {"name": self.name, "clocks.cpu_ghz": self.cpu_ghz,
               "clocks.engine_mhz": self.engine_mhz}
        out["dma.engines"] = self.engines
        out["dma.ring_entries"] = self.ring_entries
        out.update({f"dma.{k}": v for k, v in self.engine.as_dict().items()})
        out["dma.nr_dma_chan"] = ALL if self.nr_dma_chan is None else self.nr_dma_chan
        out["dma.reason_mask"] = ALL if self.dcbm_reasons is None else list(self.dcbm_reasons)
        out["dma.max_inflight"] = ALL if self.max_inflight is None else self.max_inflight
        out["dma.max_seg_size"] = self.max_seg_size
        out["dma.engines_per_port"] = self.engine_ports.engines_per_port
        out["dma.port_read_gbps"] = self.engine_ports.read_gbps
        out["dma.port_write_gbps"] = self.engine_ports.write_gbps
        out["iommu.mode"] = self.iommu.mode
        out["iommu.iotlb_entries"] = self.iommu.iotlb_entries
        out["iommu.pde_entries"] = self.iommu.pde_entries
        out["iommu.page_sizes_kib"] = list(self.iommu.page_sizes_kib)
        out["iommu.walk_read_ns"] = (NODE_LATENCY if self.iommu.walk_read_ns is None
                                     else self.iommu.walk_read_ns)
        out["memory.write_buffer_bytes"] = self.write_buffer_bytes
        for role, node in self.nodes.items():
            out.update({f"memory.{role}.{k}": getattr(node, k) for k in NODE_KEYS})
        for f in dataclasses.fields(CacheHierarchy):
            if f.name != "core_ghz":
                out[f"cache.{f.name}"] = getattr(self.cache, f.name)
        out.update({f"costs.{k}": v for k, v in self.costs.as_dict().items()
                    if k not in _COSTS_TIED})
        return out

    def with_values(self, changes):
        """A machine with some values changed, by ``section.key`` name; MachineError
        names an unknown key or a bad value."""
        if not changes:
            return self
        values = self.values()
        unknown = sorted(set(changes) - set(values))
        if unknown:
            raise MachineError(f"unknown platform value(s): {', '.join(unknown)} (see "
                               f"`foliodma platform show` for every name)")
        values.update(changes)
        return machine_from_values(values)

    def as_dict(self):
        """Nested {section: {key: value}}, as the platform file and --json show it."""
        nested = {}
        for key, value in self.values().items():
            *path, last = key.split(".")
            table = nested
            for part in path:
                table = table.setdefault(part, {})
            table[last] = value
        return nested


def _section(values, prefix):
    return {key[len(prefix):]: value for key, value in values.items() if key.startswith(prefix)}


def _bandwidth(key, value):
    if value == UNLIMITED or value is None:
        return None
    if isinstance(value, str):
        raise MachineError(f"{key}={value!r}: expected GB/s or {UNLIMITED!r}")
    return value


def _check_clock(key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not (math.isfinite(value) and value > 0):
        raise MachineError(f"{key}={value!r}: a clock frequency must be a positive number")


def machine_from_values(values):
    """The Machine of a complete {"section.key": value} dict (as :meth:`Machine.values`)."""
    for key in ("clocks.cpu_ghz", "clocks.engine_mhz"):
        _check_clock(key, values[key])
    try:
        dma = _section(values, "dma.")
        engines, nr_dma_chan = dma.pop("engines"), dma.pop("nr_dma_chan")
        reason_mask = dma.pop("reason_mask")
        try:
            reasons = None if reason_mask == ALL else check_reasons(reason_mask)
        except ValueError:
            raise MachineError(f"dma.reason_mask={reason_mask!r}: expected {ALL!r} or a "
                               f"non-empty list of {', '.join(MIGRATE_REASONS)}") from None
        ring_entries, max_inflight = dma.pop("ring_entries"), dma.pop("max_inflight")
        max_seg_size = dma.pop("max_seg_size")
        engine_ports = EnginePorts(dma.pop("engines_per_port"),
                                   _bandwidth("dma.port_read_gbps", dma.pop("port_read_gbps")),
                                   _bandwidth("dma.port_write_gbps", dma.pop("port_write_gbps")))
        engine = EngineParams(**dma)
        iommu = _section(values, "iommu.")
        if iommu["walk_read_ns"] == NODE_LATENCY:
            iommu["walk_read_ns"] = None
        elif isinstance(iommu["walk_read_ns"], str):
            raise MachineError(f"iommu.walk_read_ns={iommu['walk_read_ns']!r}: expected ns or "
                               f"{NODE_LATENCY!r}")
        if isinstance(iommu["page_sizes_kib"], list):
            iommu["page_sizes_kib"] = tuple(iommu["page_sizes_kib"])
        iommu = IommuParams(**iommu)
        nodes = {}
        for role, default in (("local", LOCAL_DRAM), ("remote", REMOTE_DRAM), ("cxl", CXL_MEMORY),
                              ("socket_link", SOCKET_LINK), ("cxl_link", CXL_LINK)):
            given = _section(values, f"memory.{role}.")
            for key in ("read_gbps", "write_gbps"):
                given[key] = _bandwidth(f"memory.{role}.{key}", given[key])
            nodes[role] = default.replace(**given)
        cpu_ghz = values["clocks.cpu_ghz"]
        cache = DEFAULT_CACHE.replace(core_ghz=cpu_ghz, **_section(values, "cache."))
        costs = DEFAULT_COSTS.with_overrides(llc_bytes=cache.llc_bytes_per_ccx,
                                             **_section(values, "costs."))
        return Machine(name=values["name"], cpu_ghz=cpu_ghz,
                       engine_mhz=values["clocks.engine_mhz"], engine=engine, engines=engines,
                       ring_entries=ring_entries,
                       nr_dma_chan=None if nr_dma_chan == ALL else nr_dma_chan,
                       dcbm_reasons=reasons,
                       max_inflight=None if max_inflight == ALL else max_inflight,
                       max_seg_size=max_seg_size, engine_ports=engine_ports,
                       iommu=iommu,
                       write_buffer_bytes=values["memory.write_buffer_bytes"],
                       cache=cache, costs=costs, **nodes)
    except (ParameterError, CacheModelError, CostError, TypeError) as error:
        raise MachineError(str(error)) from None
    except ValueError as error:          # a Node's own check
        if isinstance(error, MachineError):
            raise
        raise MachineError(str(error)) from None


DEFAULT_MACHINE = Machine()


# ---- platform files ------------------------------------------------------------------
def flatten(table, prefix=""):
    """{"section.key": value} of a nested table (a platform file, :meth:`Machine.as_dict`)."""
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def read_toml(path, what, error, builtins):
    """The table of the TOML file ``path``; ``error`` (an exception class) says "<what>
    <path>: ..." of a missing file (naming the ``builtins``), an unreadable one, or
    bad TOML."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise error(f"{what} {path}: no such file ({builtins})") from None
    except OSError as problem:
        raise error(f"{what} {path}: {problem.strerror}") from None
    except tomllib.TOMLDecodeError as problem:
        raise error(f"{what} {path}: not valid TOML ({problem})") from None


def load_machine(path=None, base=DEFAULT_MACHINE, _seen=()):
    """The Machine a platform file describes (values it leaves out from ``base``, or
    from the platform its ``base`` key names); ``None``: ``base``. A name of
    :data:`BUILTIN_FILES` that is not a file here is that built-in platform.
    MachineError names a missing file, bad TOML, a bad value or a loop of bases."""
    if path is None:
        return base
    if str(path) in BUILTIN_FILES and not Path(path).exists():
        path = BUILTIN_FILES[str(path)]
    table = read_toml(path, "platform file", MachineError,
                      f"built-in platforms: {', '.join(BUILTIN_FILES)}")
    if BASE_KEY in table:
        parent = table.pop(BASE_KEY)
        if not isinstance(parent, str):
            raise MachineError(f"platform file {path}: {BASE_KEY} = {parent!r}: expected a "
                               f"built-in platform's name or a file")
        here = Path(str(path)).resolve()
        below = BUILTIN_FILES.get(parent) or here.parent / parent
        if Path(str(below)).resolve() in (*_seen, here):
            raise MachineError(f"platform file {path}: {BASE_KEY} = {parent!r} leads back to "
                               f"itself")
        base = load_machine(below, base, (*_seen, here))
    try:
        return base.with_values(flatten(table))
    except MachineError as error:
        raise MachineError(f"platform file {path}: {error}") from None


# ---- the file, with each value's source --------------------------------------------
SECTIONS = {
    "clocks": "Clocks: the CPU's (cycles per page, the cache model) and the DMA engine's "
              "(turns engine cycles into ns).",
    "dma": "The DMA engine's build parameters (hw.params.EngineParams): design choices of "
           "the modelled engine, not measurements.",
    "iommu": "The IOMMU in front of the engine (sim/memsys/iommu.py).",
    "memory": "The memory system the engines see from socket 0's I/O die "
              "(sim/memsys/memory_system.py): each node's own latency and bandwidth; the "
              "remote node sits behind the socket link and the CXL node behind the CXL "
              "link, whose latency adds to the node's and whose bandwidth every access "
              "that crosses it shares.",
    "cache": "The cache hierarchy of the cost-to-userspace model (sim/host/cache_params.py, "
             "docs/cache.md).",
    "costs": "Host CPU costs in ns, bandwidths in bytes/ns (sim/host/costs.py, docs/costs.md).",
}

_NODE_SOURCES = {
    ("local", "latency"): "DRAM latency 100 ns",
    ("remote", "latency"): "DRAM latency 100 ns",
    ("socket_link", "latency"): "socket link latency 100 ns",
    ("cxl", "latency"): "DRAM latency 100 ns",
    ("cxl_link", "latency"): "CXL latency 300 ns",
    ("local", "gbps"): "DRAM bandwidth 160 GB/s",
    ("remote", "gbps"): "DRAM bandwidth 160 GB/s",
    ("socket_link", "gbps"): "socket link bandwidth 100 GB/s",
    ("cxl", "gbps"): "CXL bandwidth 24/20 GB/s",
    ("cxl_link", "gbps"): "CXL bandwidth 24/20 GB/s",
}


def _engine_doc():
    """{field: its line of the EngineParams docstring}."""
    doc, lines = {}, EngineParams.__doc__.splitlines()
    for line in lines:
        name, sep, text = line.strip().partition(" -- ")
        if sep:
            doc[name.strip()] = text.strip()
        elif doc and line.strip():
            last = list(doc)[-1]
            doc[last] += " " + line.strip()
    return doc


#: Where the built-in value of ``section.key`` comes from, for the keys with a fixed
#: text (:func:`source_of` derives the others).
_SOURCES = {
    "name": "What this platform stands for.",
    "clocks.engine_mhz": (
        "Model choice: one engine cycle per ns; an ASIC-class clock for the engine "
        "(`foliodma synth` gives an FPGA's)."),
    "dma.engines": (
        "DMA engines on the platform, each a DmaEngine (one PCI device) with its own "
        "registers, interrupt and AXI master on the one memory system; the driver "
        "enumerates every ring of every engine as a channel, engine by engine."),
    "dma.ring_entries": (
        "Descriptors per channel ring, as the driver sets up each ring (a queue of "
        "the hardware's depth); the built-in engine's rings are memory rings, given "
        "1024 entries by the driver (a ring of 32 KiB)."),
    "dma.max_inflight": (
        f"Descriptors the provider driver keeps in a channel's ring at once; {ALL!r}: "
        f"as many as fit (the foliodma driver); 1: one at a time, the next one "
        f"posted from the completion interrupt of the one before (the Linux PTDMA "
        f"driver: pt_issue_pending starts a descriptor only when none is active)."),
    "dma.max_seg_size": (
        "The longest DMA segment a scatter-gather mapping merges for the device "
        "(dma_get_max_seg_size, bytes): the PCI core's default, 64 KiB "
        "(pci_device_add), which neither the foliodma nor the PTDMA driver raises; "
        "dcbm v3 prepares a descriptor per segment."),
    "dma.engines_per_port": (
        "Consecutive engines that share one I/O port into the memory fabric (an I/O "
        "hub); 1: each engine its own (sim/memsys/fabric.py)."),
    "dma.port_read_gbps": (
        f"Each I/O port's bandwidth towards the engines (their reads) and from them "
        f"(their writes), shared by its engines; {UNLIMITED!r}: no limit. No public "
        f"figure for a server's I/O hub: a what-if value."),
    "dma.port_write_gbps": (
        f"Each I/O port's bandwidth towards the engines (their reads) and from them "
        f"(their writes), shared by its engines; {UNLIMITED!r}: no limit. No public "
        f"figure for a server's I/O hub: a what-if value."),
    "dma.reason_mask": (
        f"dcbm's reason_mask module parameter (v6): the migration reasons (enum "
        f"migrate_reason, lower case: {', '.join(MIGRATE_REASONS)}) whose batches it "
        f"takes, the others copied by the CPU (should_batch); {ALL!r}: every reason, "
        f"as v2 to v5 take them."),
    "dma.nr_dma_chan": (
        f"dcbm's nr_dma_chan module parameter: the channels v2 and v3 spread a batch "
        f"over; {ALL!r}: every channel of the platform, at most {MAX_DMA_CHAN}."),
    "iommu.mode": (
        "x86 kernels build with IOMMU_DEFAULT_DMA_LAZY: unmaps queue in the flush "
        "queue; 'strict' waits for an invalidation per unmap."),
    "iommu.iotlb_entries": (
        "Leaf translations the IOTLB caches. Estimate: IOMMUs do not publish it; 64 "
        "is the size inferred for Intel's IOTLB from pcie-bench measurements "
        "(Neugebauer et al., SIGCOMM 2018). Its reach is this times the IOMMU page "
        "size a mapping uses."),
    "iommu.pde_entries": (
        "Directory entries the page-walk cache holds. Estimate: one per 2 MiB or "
        "1 GiB region in use; a migration batch touches a few."),
    "iommu.page_sizes_kib": (
        "The IOMMU page sizes a mapping may use, KiB (the driver's page-size bitmap; "
        "iommu_map lays a mapping out in the largest its alignment allows). Model "
        "choice: 4 KiB and 2 MiB, the two leaf sizes of a three-level table; AMD-Vi's "
        "v1 driver advertises every power of two (AMD_IOMMU_PGSIZES, larger sizes "
        "as repeated PTEs), which an aligned mTHP folio would use: e.g. "
        "[4, 16, 64, 256, 1024, 2048]."),
    "iommu.walk_read_ns": (
        f"One page-table read of a page walk, ns; {NODE_LATENCY!r}: the read latency "
        f"of the node holding the IO page tables (node 0, where the kernel allocates "
        f"them), as the IOMMU reads them from DRAM without a cache of its own beyond "
        f"the IOTLB and the page-walk cache."),
}


def source_of(key):
    """Where the built-in value of ``section.key`` comes from, as one sentence or more."""
    if key in _SOURCES:
        return _SOURCES[key]
    section, _, rest = key.partition(".")
    if key == "clocks.cpu_ghz":
        return CACHE_CONSTANTS["CORE_GHZ"].source
    if section == "dma":
        return _engine_doc()[rest]
    if key == "memory.write_buffer_bytes":
        return memory_system.WRITE_BUFFER_SOURCE
    if section == "memory":
        role, _, field = rest.partition(".")
        kind = "latency" if field.endswith("latency_ns") else "gbps"
        return memory_system.SOURCES[_NODE_SOURCES[role, kind]]
    if section == "cache":
        c = CACHE_CONSTANTS.get(rest.upper())
        if c is None:
            return "Hardware prefetchers on, as in the seed's runs (off: mlp_demand)."
        return f"[{c.kind}, {c.unit}] {c.source}"
    field = {f.name: f for f in dataclasses.fields(CostTable)}[rest]
    return f"[{field.metadata['kind']}, {field.metadata['unit']}] {field.metadata['source']}"


def _toml_value(value):
    if value is None:
        return f'"{UNLIMITED}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _comment(text, width=92):
    return [f"# {line}" for line in textwrap.wrap(text, width - 2)]


def render_toml(machine=DEFAULT_MACHINE):
    """The platform file of ``machine``: every value, each with its source above it."""
    values = machine.values()
    out = ["# foliodma platform file: the machine a run models (foliodma --platform FILE).",
           "# Each value's comment gives the source of the built-in (seed machine) value.",
           "# A file may give only the values it changes; the others are the built-in ones.",
           "# Written by `foliodma platform show --toml`.", "",
           *_comment(source_of("name")), f"name = {_toml_value(values['name'])}"]
    tables = {}
    for key, value in values.items():
        if key == "name":
            continue
        table, _, leaf = key.rpartition(".")
        tables.setdefault(table, []).append((key, leaf, value))
    for table, entries in tables.items():
        out.append("")
        if table in SECTIONS:
            out += _comment(SECTIONS[table])
        out.append(f"[{table}]")
        for key, leaf, value in entries:
            out += _comment(source_of(key))
            out.append(f"{leaf} = {_toml_value(value)}")
    return "\n".join(out) + "\n"


#: Command-line names of single values (options and Python API settings), by
#: the ``section.key`` they set.
SHORTHANDS = {"cpu_ghz": "clocks.cpu_ghz", "engine_mhz": "clocks.engine_mhz",
              "iommu_mode": "iommu.mode", "llc_bytes": "cache.llc_bytes_per_ccx",
              "dma_allocates_in_llc": "cache.dma_allocates_in_llc",
              "engines": "dma.engines", "nr_dma_chan": "dma.nr_dma_chan",
              "ring_entries": "dma.ring_entries", "max_inflight": "dma.max_inflight",
              "max_seg_size": "dma.max_seg_size", "engines_per_port": "dma.engines_per_port",
              **{f.name: f"dma.{f.name}" for f in dataclasses.fields(EngineParams)}}


def shorthand_key(machine, name, engines=None):
    """The ``section.key`` a single value by short name sets on ``machine`` (with
    ``engines`` engines, if that is given too). One rule beyond SHORTHANDS:
    ``channels`` is the channels a migration uses; on a one-engine platform it builds
    the engine with that many rings (``dma.channels``; dcbm takes them all), on a
    platform of several engines it is dcbm's ``nr_dma_chan`` (the engines keep their
    rings)."""
    if name not in SHORTHANDS:
        raise MachineError(f"unknown short name {name!r}: expected one of "
                           f"{', '.join(sorted(SHORTHANDS))}")
    if name == "channels" and (machine.engines if engines is None else engines) > 1:
        return "dma.nr_dma_chan"
    return SHORTHANDS[name]
