"""The memory system as the engines' AXI ports share it: the bandwidth of every node and
link (:mod:`sim.memsys.memory_system`), and of the I/O ports the engines reach the
fabric through.

A :class:`Fabric` is made once per simulation and handed to every engine's
:class:`~sim.memsys.axi_slave.AxiSlaveModel` port; each port books it in the order
the back-end steps them (engine 0 first), so every back-end computes the same
cycles. An access books the paced resources on its way, each serving it at its
own rate from its own "next free time": the node, the link in front of it, and
the engine's I/O port. A resource is paced only where it can be the limit: when
the ports that use it could move more than it does, one beat per cycle each.

:class:`EnginePorts` says how engines attach: ``engines_per_port`` consecutive
engines share one port (an I/O hub, as the two PTDMA devices of a Zen 2/3 root
complex share theirs), with its own bandwidth per direction; without one (the
default) an engine's port never limits it. A port adds no latency.
"""
import math
from dataclasses import asdict, dataclass

from sim.memsys.memory_system import check_positive, rate_per_cycle


@dataclass(frozen=True)
class EnginePorts:
    """How engines reach the memory fabric (see the module docstring).

    engines_per_port      -- consecutive engines sharing one I/O port.
    read_gbps, write_gbps -- each port's bandwidth towards the engines (their reads)
                             and from them (their writes), GB/s; None: no limit.
    """
    engines_per_port: int = 1
    read_gbps: float | None = None
    write_gbps: float | None = None

    def __post_init__(self):
        if isinstance(self.engines_per_port, bool) or not isinstance(self.engines_per_port,
                                                                     int) \
                or self.engines_per_port < 1:
            raise ValueError(f"engines_per_port={self.engines_per_port!r}: expected an int "
                             f">= 1")
        check_positive("engine port read_gbps", self.read_gbps, allow_none=True)
        check_positive("engine port write_gbps", self.write_gbps, allow_none=True)

    @property
    def limited(self):
        """Whether a port has a bandwidth limit at all."""
        return self.read_gbps is not None or self.write_gbps is not None

    def to_config(self):
        return asdict(self)

    @classmethod
    def from_config(cls, config):
        """EnginePorts from :meth:`to_config`'s dict (or an EnginePorts, or None)."""
        if config is None or isinstance(config, EnginePorts):
            return config or cls()
        if not isinstance(config, dict):
            raise ValueError(f"engine_ports {config!r} is not a dict")
        try:
            return cls(**config)
        except TypeError as error:
            raise ValueError(f"engine_ports {config!r}: {error}") from None


class Fabric:
    """What the AXI slave ports on one memory system share, at one bus width.

    system       -- the :class:`~sim.memsys.memory_system.MemorySystem`.
    beat_bytes   -- the ports' bus width in bytes.
    ports        -- how many ports (engines) move data on it.
    engine_ports -- an :class:`EnginePorts` (default: ports that never limit).

    Resources are the nodes, then the links, then the engines' I/O ports, each with
    a "next free time" per direction: ``r_free`` (its reads all served) and
    ``w_free`` (its write buffer drained). A resource with a rate of p/q bytes per
    cycle keeps its time in units of 1/p cycle (integers: one byte takes q units).
    Per node index, :attr:`nodes` holds (read latency, read hops, write latency,
    write hops), the hops being the paced node and link an access books: ((resource,
    p, units per beat), ...) for a read, ((resource, p, units per beat, buffer room
    in units), ...) for a write; :meth:`timings` adds a port's own.
    """

    def __init__(self, system, beat_bytes, ports=1, engine_ports=None):
        if system.write_buffer_bytes < beat_bytes:
            raise ValueError(f"memory_system write_buffer_bytes={system.write_buffer_bytes} "
                             f"is less than one beat ({beat_bytes} bytes)")
        if isinstance(ports, bool) or not isinstance(ports, int) or ports < 1:
            raise ValueError(f"ports={ports!r}: expected an int >= 1")
        self.system = system
        self.beat_bytes = beat_bytes
        self.ports = ports
        self.engine_ports = EnginePorts.from_config(engine_ports)
        self._room = system.write_buffer_bytes - beat_bytes

        def node_hops(i, rates, write):
            return self._hops(ports, [(system.resource_index(i, hop), rate)
                                      for hop, rate in enumerate(rates)], write)

        self.nodes = tuple((t.read_latency, node_hops(i, t.read_rates, False),
                            t.write_latency, node_hops(i, t.write_rates, True))
                           for i, t in enumerate(system.timings))
        # The engines' I/O ports, after the nodes and links: engine k's is group k // n.
        first_port = len(system.nodes) + len(system.links)
        n = self.engine_ports.engines_per_port
        groups = math.ceil(ports / n) if self.engine_ports.limited else 0
        read = rate_per_cycle(self.engine_ports.read_gbps, system.engine_mhz)
        write = rate_per_cycle(self.engine_ports.write_gbps, system.engine_mhz)
        self._port_hops = []
        for k in range(ports):
            users, resource = min(n, ports - k // n * n), first_port + k // n
            self._port_hops.append(
                (self._hops(users, [(resource, read)] if groups else [], False),
                 self._hops(users, [(resource, write)] if groups else [], True)))
        self.r_free = [0] * (first_port + groups)
        self.w_free = [0] * (first_port + groups)

    def _hops(self, users, rates, write):
        """The paced ones of (resource, rate) pairs for ``users`` ports: a rate below
        a beat per cycle each."""
        out = []
        for resource, rate in rates:
            if rate is not None and rate[0] < users * self.beat_bytes * rate[1]:
                p, q = rate
                out.append((resource, p, self.beat_bytes * q)
                           + ((self._room * q,) if write else ()))
        return tuple(out)

    def host_hops(self, node_index):
        """The resources a CPU access to node ``node_index`` books: the node and the link
        in front of it, each that has a rate (whether or not it paces the engines), as
        ((resource, p, q), ...) for reads and for writes (p/q bytes per cycle). The
        CPU reaches memory through the data fabric, not an engine's I/O port."""
        timing = self.system.timings[node_index]

        def hops(rates):
            return tuple((self.system.resource_index(node_index, hop), *rate)
                         for hop, rate in enumerate(rates) if rate is not None)
        return hops(timing.read_rates), hops(timing.write_rates)

    def book(self, write, hops, nbytes, cycle):
        """Book nbytes of another agent's reads (or writes) on ``hops`` (as
        :meth:`host_hops` gives them) from ``cycle`` on: each resource serves them from
        max(cycle, its free time) at its rate, so the engines' later accesses queue
        behind them, as theirs behind the engines'. Returns the cycle the last
        resource has served them (``cycle`` when none is paced)."""
        free = self.w_free if write else self.r_free
        done = cycle
        for resource, p, q in hops:
            free[resource] = max(free[resource], cycle * p) + nbytes * q
            done = max(done, -(-free[resource] // p))
        return done

    def timings(self, port):
        """Per node index, the node table of port ``port`` (0-based engine): each
        access also books the port's I/O port."""
        reads, writes = self._port_hops[port]
        return tuple((read_latency, read + reads, write_latency, write + writes)
                     for read_latency, read, write_latency, write in self.nodes)
