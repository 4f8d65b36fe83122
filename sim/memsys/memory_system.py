"""The memory system the DMA engines see: NUMA nodes and the links in front of them,
each with its own latency and bandwidth.

A :class:`MemorySystem` maps bus address ranges to :class:`Node` s; a node may sit
behind a :class:`Link` (the socket-to-socket link in front of the other socket's
DRAM, a CXL link in front of a memory expander), which every access to it
crosses. The AXI slave model (:class:`sim.memsys.axi_slave.AxiSlaveModel`)
looks the node up once per burst, from the burst's address, and takes from it:

* the latency: a read's first R beat comes ``read_latency`` after its AR, a
  write's B ``write_latency`` after the write was taken in: the node's latency
  plus its link's (the sum in ns converted to engine cycles with
  ``engine_mhz``, rounded up, at least 1);
* the bandwidth, in bytes per engine cycle, per node, per link and per
  direction, shared by every burst of every channel of every engine on the
  memory system (a :class:`~sim.memsys.fabric.Fabric` holds what they share). A burst books its node
  and its link together and moves at the pace of the slower, so "remote DRAM"
  is limited by whichever of the DRAM and the link is slower, and two nodes
  behind one link share it. It is enforced on the data beats,
  deterministically, with a "next free time" per resource and direction kept
  in exact integer arithmetic (no floats, no randomness: every back-end
  computes the same cycles):

  - reads: a burst occupies its node for ``bytes / rate`` from
    ``max(AR cycle, node free)``; beat i can be presented once its bytes have
    been served, plus the latency. R beats still come back in AR order on the
    one R channel, so a burst to a slow node delays the bursts behind it, but
    two nodes serve their bursts in parallel.
  - writes: each node takes write data into a buffer of ``write_buffer_bytes``
    (the fabric's write buffering towards that node) that drains at the
    node's write rate; WREADY is low while the beat would overflow it, and a
    burst's B comes ``write_latency`` after its last byte drained. Beats that
    arrive before their AW (unknown node) are taken and charged when the AW
    comes.

  A node's or link's limit above what the engines' buses can move (one beat
  per cycle per engine) changes nothing: it is not paced, and a memory system
  without a binding limit is cycle-identical to the flat model with the same
  latencies. No work is done per cycle unless a transaction is in flight.

Limits of the model: reads and writes of one node have separate budgets (a
DRAM's shared data bus and its read/write turnarounds are not modelled), and so
have a link's two directions; the engines all sit on socket 0 (node 0's), so a
link's read direction carries data towards them; the only traffic is the
engines' (no CPU load on the nodes); R bursts and B
responses come back in request order also across AXI IDs, so a descriptor
fetch or record write waits behind slow data (the engine's data reads and
writes share one ID, whose order AXI keeps anyway).

Defaults (:data:`LOCAL_DRAM`, :data:`REMOTE_DRAM` behind :data:`SOCKET_LINK`,
:data:`CXL_MEMORY` behind :data:`CXL_LINK`) describe the seed's machine, a 2-socket
AMD Zen 3 EPYC (7003 "Milan"), as seen by a DMA engine on socket 0's I/O die;
:data:`SOURCES` gives the reasoning behind each value, and
:func:`zen3_two_socket` builds the system.
"""
import bisect
import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction

from hw.params import AXI_BOUNDARY_BYTES

#: The engine clock (MHz) when none is given: one cycle per ns.
DEFAULT_ENGINE_MHZ = 1000.0
#: Default write buffering per node (bytes), an estimate; see WRITE_BUFFER_SOURCE.
WRITE_BUFFER_BYTES = 16 * 1024
WRITE_BUFFER_SOURCE = (
    "Estimate: a DDR4 controller queues ~32 writes of 64 bytes per channel, 8 channels per "
    "socket: 8 x 32 x 64 = 16 KiB per node (with one 4 KiB burst's worth, writes "
    "alternating over two nodes overlap less).")


def check_positive(name, value, allow_none=False):
    """Raise ValueError naming ``name`` unless value is a positive finite number (or None
    where ``allow_none``)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not \
            (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r}: expected a positive number"
                         + (" or None (no limit)" if allow_none else ""))



def _check_timing(what, item):
    check_positive(f"{what}: read_latency_ns", item.read_latency_ns)
    check_positive(f"{what}: write_latency_ns", item.write_latency_ns)
    check_positive(f"{what}: read_gbps", item.read_gbps, allow_none=True)
    check_positive(f"{what}: write_gbps", item.write_gbps, allow_none=True)


@dataclass(frozen=True)
class Node:
    """One memory node as the DMA engine sees it.

    read_latency_ns  -- from a read request to its first data.
    write_latency_ns -- from the write data taken in (drained, when bandwidth
                        limits it) to the write response.
    read_gbps, write_gbps -- bandwidth in GB/s (= bytes/ns) per direction,
                        shared by all channels; None means no limit.
    link             -- the name of the :class:`Link` every access to the node
                        crosses (its latency adds to the node's), or None.
    """
    name: str
    node_id: int
    read_latency_ns: float
    write_latency_ns: float
    read_gbps: float | None
    write_gbps: float | None
    link: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise ValueError(f"node name {self.name!r} is not a string")
        if isinstance(self.node_id, bool) or not isinstance(self.node_id, int) \
                or self.node_id < 0:
            raise ValueError(f"node {self.name!r}: node_id={self.node_id!r} is not an int >= 0")
        _check_timing(f"node {self.name!r}", self)
        if self.link is not None and not isinstance(self.link, str):
            raise ValueError(f"node {self.name!r}: link={self.link!r} is not a link's name")

    def as_dict(self):
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Link:
    """A link between the engines and the nodes behind it, shared by every access
    that crosses it.

    read_latency_ns, write_latency_ns -- what crossing it adds to a read's first
                        data and to a write's response.
    read_gbps, write_gbps -- its bandwidth in GB/s towards the engines (their
                        reads) and away from them (their writes); None: no limit.
    """
    name: str
    read_latency_ns: float
    write_latency_ns: float
    read_gbps: float | None
    write_gbps: float | None

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise ValueError(f"link name {self.name!r} is not a string")
        _check_timing(f"link {self.name!r}", self)

    def as_dict(self):
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------
# Defaults: the seed's machine (2-socket AMD EPYC 7003 "Milan", Zen 3, NPS1,
# 8 x DDR4-3200 per socket, one DIMM per channel) and an optional CXL tier.
# ---------------------------------------------------------------------------

LOCAL_DRAM = Node("local DRAM", 0, read_latency_ns=100.0, write_latency_ns=100.0,
                  read_gbps=160.0, write_gbps=160.0)
SOCKET_LINK = Link("socket link", read_latency_ns=100.0, write_latency_ns=100.0,
                   read_gbps=100.0, write_gbps=100.0)
REMOTE_DRAM = Node("remote DRAM", 1, read_latency_ns=100.0, write_latency_ns=100.0,
                   read_gbps=160.0, write_gbps=160.0, link=SOCKET_LINK.name)
CXL_LINK = Link("CXL link", read_latency_ns=200.0, write_latency_ns=200.0,
                read_gbps=24.0, write_gbps=20.0)
CXL_MEMORY = Node("CXL memory", 2, read_latency_ns=100.0, write_latency_ns=100.0,
                  read_gbps=30.0, write_gbps=30.0, link=CXL_LINK.name)

#: Where each default comes from (estimates from public figures; arithmetic shown).
SOURCES = {
    "DRAM latency 100 ns": (
        "Public load-to-use measurements of DRAM on Zen 2/Zen 3 EPYC in NPS1 (AnandTech's "
        "Rome and Milan reviews, 'Topology, Memory Subsystem & Latency') are about 95-115 ns "
        "from a core; a device request enters the data fabric on the I/O die, next to the "
        "memory controllers, and skips the core's cache misses and the CCD-IOD hop: ~100 ns. "
        "Writes: the response comes once the line's home (the memory controller's coherence "
        "point) has ordered the write, one fabric round trip like a read; the DRAM array "
        "write itself is posted. The other socket's DRAM and the CXL expander's are DRAM "
        "too: 100 ns behind their links."),
    "socket link latency 100 ns": (
        "The xGMI socket-to-socket hop both ways: ~90-110 ns in public 2-socket Rome/Milan "
        "latency measurements, so remote DRAM is ~200 ns, read and write alike. The seed's "
        "own table 2 points the same way: a read stream over remote pages costs 627.85 "
        "cycles per page against 384.24 local (1.63x)."),
    "DRAM bandwidth 160 GB/s": (
        "8 channels x DDR4-3200 x 8 bytes = 204.8 GB/s peak per socket; sustained streams "
        "reach ~80% of it (STREAM-class results on 8-channel DDR4-3200 are 165-175 GB/s per "
        "socket, e.g. Microway's table: 171.5 GB/s typical): 160 GB/s per direction, local "
        "and remote socket alike."),
    "socket link bandwidth 100 GB/s": (
        "Remote DRAM is limited by the socket links, not by its DRAM: 4 xGMI-2 links x16 at "
        "16 GT/s = 4 x 32 = 128 GB/s per direction raw; ~80% after link-layer overhead: "
        "100 GB/s per direction (platforms that use 3 links for more PCIe lanes get ~75). "
        "AMD publishes no sustained figure for Milan's xGMI."),
    "CXL latency 300 ns": (
        "Zen 3 has no CXL: the tier is modelled as a Genoa-class (Zen 4) CXL 1.1 Type-3 "
        "memory expander. Genuine devices measure 2-5x local DRAM latency (Exploring and "
        "Evaluating Real-world CXL, arXiv 2405.14209: three vendors' cards), i.e. ~250-400 ns "
        "against ~100 ns local; vendors' best case is about one NUMA hop over local (The "
        "Next Platform, 'Just How Bad Is CXL Memory Latency?', 2022-12-05). Middle of the "
        "measured range: 300 ns, of which the expander's DRAM is 100 ns like any DRAM and the "
        "CXL link (root port, flit packing, the device's controller) the other 200 ns."),
    "CXL bandwidth 24/20 GB/s": (
        "The CXL link: a PCIe Gen5 x8 link (typical E3.S/add-in expanders): 8 x 32 GT/s = "
        "32 GB/s per direction raw; CXL.mem flits and link overhead leave ~80%: ~25 GB/s; "
        "measured genuine devices reach ~20-25 GB/s for reads: 24 GB/s read. Writes lower "
        "(20 GB/s): measured CXL store bandwidth trails load bandwidth, markedly on AMD "
        "platforms. The expander's own DRAM (one DDR5-4800 channel, 38.4 GB/s peak, ~80% "
        "sustained: 30 GB/s) is faster than its link."),
}


def read_latency_ns(node, link=None):
    """A read's latency to ``node`` through ``link`` (the Link in front of it, if any)."""
    return node.read_latency_ns + (link.read_latency_ns if link is not None else 0)


def _fraction(value):
    """The exact decimal value of an int or float (0.1 -> 1/10, not its binary value)."""
    return Fraction(value) if isinstance(value, int) else Fraction(repr(float(value)))


def latency_cycles(ns, engine_mhz):
    """Engine cycles (at engine_mhz) a latency of ``ns`` takes, rounded up, at least 1."""
    return _cycles(_fraction(ns), _fraction(engine_mhz))


def _cycles(ns, mhz):
    """ns as engine cycles at mhz (a Fraction), rounded up, at least 1."""
    return max(1, math.ceil(ns * mhz / 1000))


def rate_per_cycle(gbps, engine_mhz):
    """GB/s as (p, q): p/q bytes per engine cycle at engine_mhz (exact), or None for no
    limit."""
    if gbps is None:
        return None
    per_cycle = _fraction(gbps) * 1000 / _fraction(engine_mhz)
    return per_cycle.numerator, per_cycle.denominator


class _Timing:
    """A node's timing in engine cycles, its link's included (integers only).

    ``read_latency``/``write_latency``: the node's and its link's ns added, then
    converted. ``read_rates``/``write_rates``: per resource the access books (the
    node, then its link) the rate as (p, q), p/q bytes per cycle, or None.
    """
    __slots__ = ("node", "read_latency", "write_latency", "read_rates", "write_rates")

    def __init__(self, node, link, engine_mhz):
        mhz = _fraction(engine_mhz)
        self.node = node
        path = [node] + ([link] if link is not None else [])
        self.read_latency = _cycles(sum(_fraction(p.read_latency_ns) for p in path), mhz)
        self.write_latency = _cycles(sum(_fraction(p.write_latency_ns) for p in path), mhz)
        self.read_rates = tuple(rate_per_cycle(p.read_gbps, engine_mhz) for p in path)
        self.write_rates = tuple(rate_per_cycle(p.write_gbps, engine_mhz) for p in path)


class MemorySystem:
    """Address ranges -> nodes (some behind links), at a given engine clock.

    nodes              -- the :class:`Node` s (distinct node_id).
    ranges             -- (start, end, node_id), end exclusive, 4 KiB aligned,
                          not overlapping.
    links              -- the :class:`Link` s the nodes name (distinct names).
    default_node       -- node_id of every address outside the ranges.
    engine_mhz         -- the engine clock that turns ns into cycles; use the
                          host's ``engine_mhz`` (HostPort) for driver runs.
    write_buffer_bytes -- write buffering per node and per link (see the module
                          docstring).
    """

    def __init__(self, nodes, ranges=(), *, links=(), default_node=0,
                 engine_mhz=DEFAULT_ENGINE_MHZ, write_buffer_bytes=WRITE_BUFFER_BYTES):
        self.nodes = tuple(nodes)
        if not self.nodes or not all(isinstance(n, Node) for n in self.nodes):
            raise ValueError(f"nodes={nodes!r}: expected a non-empty sequence of Node")
        ids = [n.node_id for n in self.nodes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"node ids {ids} are not distinct")
        self.links = tuple(links)
        if not all(isinstance(link, Link) for link in self.links):
            raise ValueError(f"links={links!r}: expected a sequence of Link")
        link_names = [link.name for link in self.links]
        if len(set(link_names)) != len(link_names):
            raise ValueError(f"link names {link_names} are not distinct")
        for node in self.nodes:
            if node.link is not None and node.link not in link_names:
                raise ValueError(f"node {node.name!r} is behind link {node.link!r}, which is "
                                 f"not one of the links {link_names}")
        by_id = {n.node_id: n for n in self.nodes}
        check_positive("engine_mhz", engine_mhz)
        if isinstance(write_buffer_bytes, bool) or not isinstance(write_buffer_bytes, int) \
                or write_buffer_bytes < 1:
            raise ValueError(f"write_buffer_bytes={write_buffer_bytes!r}: expected an int "
                             f">= 1 (and at least one beat of the bus it serves)")
        if default_node not in by_id:
            raise ValueError(f"default_node={default_node!r} is not one of the node ids {ids}")
        self.engine_mhz = engine_mhz
        self.write_buffer_bytes = write_buffer_bytes
        self.default_node = default_node
        parsed = []
        for entry in ranges:
            try:
                start, end, node_id = entry
            except (TypeError, ValueError):
                raise ValueError(f"range {entry!r} is not a (start, end, node_id) "
                                 f"tuple") from None
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
                raise ValueError(f"range {entry!r}: need integer 0 <= start < end "
                                 f"(end exclusive)")
            if start % AXI_BOUNDARY_BYTES or end % AXI_BOUNDARY_BYTES:
                raise ValueError(f"range {entry!r}: start and end must be multiples of "
                                 f"{AXI_BOUNDARY_BYTES} (an AXI burst must not span two nodes)")
            if node_id not in by_id:
                raise ValueError(f"range {entry!r}: node {node_id!r} is not one of {ids}")
            parsed.append((start, end, node_id))
        parsed.sort()
        for (_, end, _), (start, _, _) in zip(parsed, parsed[1:]):
            if start < end:
                raise ValueError(f"ranges overlap at {start:#x}")
        self.ranges = tuple(parsed)
        self._starts = [start for start, _, _ in parsed]
        self._by_id = by_id
        self._index = {node_id: i for i, node_id in enumerate(ids)}
        self._link_index = {name: i for i, name in enumerate(link_names)}
        self.timings = tuple(_Timing(n, self.link_of(n), engine_mhz) for n in self.nodes)

    def __repr__(self):
        return (f"MemorySystem(nodes={[n.name for n in self.nodes]}, ranges="
                f"{[(hex(s), hex(e), n) for s, e, n in self.ranges]}, "
                f"links={[link.name for link in self.links]}, engine_mhz={self.engine_mhz})")

    def node(self, node_id):
        """The Node with this id."""
        return self._by_id[node_id]

    def link_of(self, node):
        """The Link in front of ``node`` (a Node), or None."""
        return None if node.link is None else self.links[self._link_index[node.link]]

    def node_index(self, addr):
        """Index (into ``nodes`` and ``timings``) of the node holding addr."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0:
            start, end, node_id = self.ranges[i]
            if addr < end:
                return self._index[node_id]
        return self._index[self.default_node]

    def node_index_of_id(self, node_id):
        """Index (into ``nodes`` and ``timings``) of the node with this id."""
        return self._index[node_id]

    def node_of(self, addr):
        """The Node holding addr."""
        return self.nodes[self.node_index(addr)]

    def resource_index(self, node_index, hop):
        """Index of a bandwidth resource of a :class:`~sim.memsys.fabric.Fabric`: the
        nodes first, in order, then the links; ``hop`` 0 is the node itself, 1 the link
        in front of it."""
        if hop == 0:
            return node_index
        return len(self.nodes) + self._link_index[self.nodes[node_index].link]

    # --- JSON-friendly form (memory_config["memory_system"]) ---
    def to_config(self):
        return {"nodes": [n.as_dict() for n in self.nodes],
                "ranges": [list(r) for r in self.ranges],
                "links": [link.as_dict() for link in self.links],
                "default_node": self.default_node, "engine_mhz": self.engine_mhz,
                "write_buffer_bytes": self.write_buffer_bytes}

    @classmethod
    def from_config(cls, config):
        """A MemorySystem from :meth:`to_config`'s dict (keys other than nodes optional)."""
        if isinstance(config, MemorySystem):
            return config
        if not isinstance(config, dict):
            raise ValueError(f"memory_system {config!r} is not a dict")
        known = {"nodes", "ranges", "links", "default_node", "engine_mhz",
                 "write_buffer_bytes"}
        unknown = set(config) - known
        if unknown or "nodes" not in config:
            raise ValueError(f"memory_system: unknown keys {sorted(unknown)}"
                             + ("" if "nodes" in config else ", missing key 'nodes'"))

        def build(kind, entries):
            out = []
            for entry in entries:
                if isinstance(entry, kind):
                    out.append(entry)
                    continue
                try:
                    out.append(kind(**entry))
                except TypeError as error:
                    raise ValueError(f"memory_system {kind.__name__.lower()} {entry!r}: "
                                     f"{error}") from None
            return out
        return cls(build(Node, config["nodes"]), [tuple(r) for r in config.get("ranges", ())],
                   links=build(Link, config.get("links", ())),
                   default_node=config.get("default_node", 0),
                   engine_mhz=config.get("engine_mhz", 1000.0),
                   write_buffer_bytes=config.get("write_buffer_bytes", WRITE_BUFFER_BYTES))


def zen3_two_socket(*, remote=(), cxl=(), engine_mhz=DEFAULT_ENGINE_MHZ, local=LOCAL_DRAM,
                    remote_node=REMOTE_DRAM, cxl_node=CXL_MEMORY, socket_link=SOCKET_LINK,
                    cxl_link=CXL_LINK, write_buffer_bytes=WRITE_BUFFER_BYTES):
    """The seed's machine as seen by an engine on socket 0: a MemorySystem.

    Everything is local DRAM (node 0) except the ``remote`` ranges (node 1, the
    other socket, behind the socket link) and the ``cxl`` ranges (node 2 behind
    the CXL link, present only if given); each is a sequence of (start, end),
    4 KiB aligned.
    """
    nodes = [local, remote_node.replace(link=socket_link.name)]
    links = [socket_link]
    if cxl:
        nodes.append(cxl_node.replace(link=cxl_link.name))
        links.append(cxl_link)
    ranges = [(s, e, remote_node.node_id) for s, e in remote] + \
             [(s, e, cxl_node.node_id) for s, e in cxl]
    return MemorySystem(nodes, ranges, links=links, default_node=local.node_id,
                        engine_mhz=engine_mhz, write_buffer_bytes=write_buffer_bytes)
