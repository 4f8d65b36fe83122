"""A design space: the axes an exploration varies, the workloads every point moves,
and how area and clock are measured; read from a TOML file.

A space file (``foliodma explore SPACE.toml``; examples in ``sim/spaces/``)::

    name = "which engine beats the CPU copy"
    [axes]                        # a value (fixed) or a list of values (an axis)
    platform = ["seed", "zen3-ptdma"]
    data_width = [64, 128, 256, 512]
    engine_mhz = ["fmax", "platform", 500]   # "fmax": the engine's own clock on the FPGA
    driver = "v3"
    channels = { from = 1, to = 16, factor = 2 }     # 1, 2, 4, 8, 16
    "memory.remote.read_gbps" = [80.0, 160.0]        # any platform value by name
    [[workloads]]
    folio_size = "2M"
    size = "256M"
    max_batch_pages = 65536       # optional: from_node (1), to_node (0), screen_size
    [area]                        # optional: family, device, fmax, cmos, target_mhz
    [search]                      # optional: method, budget, population, objectives, ...

Axis names are the Python API's short names (:data:`AXES`) and any platform value
as ``section.key``. Every combination of the axes is a :class:`Point`; its
:meth:`Point.machine` is the platform file with the point's values applied.
"""
import itertools
import math
import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sim.machine import SHORTHANDS, MachineError, load_machine, read_toml, shorthand_key
from sw_driver.dcbm import STRATEGIES

#: The built-in space files, by the name ``foliodma explore`` takes.
BUILTIN_SPACES = {path.stem: path for path in (resources.files("sim") / "spaces").iterdir()
                  if path.name.endswith(".toml")}

#: The engine's build parameters as axes; ``rings`` is the engine's channel count.
ENGINE_AXES = ("data_width", "max_burst", "outstanding_reads", "outstanding_writes",
               "buffer_depth", "prefetch_depth", "rings")

#: The clock an engine reaches on the FPGA: its Fmax after place and route.
FMAX = "fmax"
#: The platform's own engine clock (``clocks.engine_mhz`` of its file).
PLATFORM_CLOCK = "platform"

#: Every named axis and what it sets (see :meth:`Point.machine`).
AXES = {
    "platform": "a platform file, or a built-in name (seed, zen3-ptdma, zen3-ptdma-v7)",
    **{name: "engine build parameter" for name in ENGINE_AXES},
    "engines": "DMA engines on the memory system",
    "engines_per_port": "engines sharing one I/O port",
    "engine_mhz": f"engine clock in MHz, {FMAX!r}: the engine's own Fmax on the FPGA, or "
                  f"{PLATFORM_CLOCK!r}: the platform file's",
    "driver": "dcbm strategy: " + ", ".join(STRATEGIES),
    "channels": "channels dcbm uses (nr_dma_chan; on a one-engine platform without a "
                "rings axis, the engine's rings, as migrate --channels)",
    "max_inflight": "descriptors the provider keeps in a ring at once",
    "ring_entries": "descriptors per ring",
    "max_seg_size": "longest DMA segment a mapping merges (bytes)",
    "iommu_mode": "lazy or strict",
}

#: Objectives a front can be drawn over: row key -> (direction, label).
OBJECTIVES = {
    "dma_gbps": ("max", "GB/s end to end with DMA"),
    "speedup": ("max", "DMA GB/s / CPU GB/s"),
    "dma_cpu_s_per_gib": ("min", "CPU s per GiB moved with DMA"),
    "luts": ("min", "LUTs of one engine on area.family (carry cells as the LUTs they hold)"),
    "device_luts": ("min", "LUTs of every engine of the device"),
    "ffs": ("min", "flip-flops of one engine"),
    "bram": ("min", "block RAMs of one engine"),
    "fmax_mhz": ("max", "engine Fmax on the FPGA, MHz"),
}
DEFAULT_OBJECTIVES = ("dma_gbps:max", "device_luts:min")
#: Without area: what offload buys against what it costs the CPU.
NO_AREA_OBJECTIVES = ("dma_gbps:max", "dma_cpu_s_per_gib:min")
#: Objectives measured by the area evaluation (place and route for Fmax).
AREA_OBJECTIVES = ("luts", "device_luts", "ffs", "bram", "fmax_mhz")
SEARCH_METHODS = ("grid", "nsga2")


class SpaceError(ValueError):
    """A space file or value that cannot describe an exploration; the message names it."""


@dataclass(frozen=True)
class Workload:
    """What every point moves: ``size`` bytes of ``folio_bytes`` folios, in batches of
    at most ``max_batch_pages`` pages, node ``from_node`` to ``to_node``;
    ``screen_size`` a shorter run of the same shape for screening (None: none)."""
    folio_bytes: int
    size: int
    max_batch_pages: int = 512
    from_node: int = 1
    to_node: int = 0
    screen_size: int | None = None

    @property
    def label(self):
        from sim.cli.common import human_size
        return f"{human_size(self.folio_bytes)} x {human_size(self.size)}"


@dataclass(frozen=True)
class Area:
    """How a point's area and clock are measured: Yosys synthesis for ``family`` (one of
    :data:`hw.fpga.FAMILIES`: LUTs, FFs, block RAM), place and route on ``device`` for
    Fmax when ``fmax``, and a technology-independent CMOS transistor estimate when
    ``cmos``."""
    enabled: bool = True
    family: str = "ecp5"
    device: str = "85k"
    fmax: bool = True
    cmos: bool = False
    target_mhz: float = 100.0


@dataclass(frozen=True)
class Search:
    """How points are chosen: ``grid`` (every combination) or ``nsga2`` (a budget of
    evaluations, Optuna's NSGA-II); ``screen``: cheap evaluations first, the expensive
    ones only near the front."""
    method: str = "grid"
    budget: int | None = None
    population: int = 16
    seed: int = 0
    screen: bool = False
    near_front: float = 0.1
    agreement: float = 0.05
    objectives: tuple = None
    skip_invalid: bool = False


@dataclass(frozen=True)
class Point:
    """One configuration: (axis, value) pairs in the space's axis order."""
    values: tuple

    def __getitem__(self, name):
        return dict(self.values)[name]

    def get(self, name, default=None):
        return dict(self.values).get(name, default)

    @property
    def label(self):
        return ", ".join(f"{name}={value}" for name, value in self.values)

    def machine(self, base_dir=Path("."), fmax_mhz=None):
        """The Machine of this point: its platform file with its values applied; an
        ``engine_mhz`` of "fmax" takes ``fmax_mhz`` (None: the platform's clock, for
        checking before Fmax is known). MachineError names a bad combination."""
        values = dict(self.values)
        platform = values.pop("platform", None)
        path = None if platform is None else (
            platform if platform in _builtin_platforms() else str(base_dir / platform))
        machine = load_machine(path)
        if values.get("engine_mhz") == FMAX:
            values["engine_mhz"] = fmax_mhz
        if values.get("engine_mhz") in (None, PLATFORM_CLOCK):
            values.pop("engine_mhz", None)
        engines = values.get("engines", machine.engines)
        changes = {}
        for name, value in values.items():
            if name in ("driver",):
                continue
            if name == "rings":
                changes["dma.channels"] = value
            elif name == "channels" and "rings" in values:
                changes["dma.nr_dma_chan"] = value
            elif name in SHORTHANDS or name == "channels":
                changes[shorthand_key(machine, name, engines)] = value
            else:
                changes[name] = value
        return machine.with_values(changes)


def _builtin_platforms():
    from sim.machine import BUILTIN_FILES
    return BUILTIN_FILES


@dataclass(frozen=True)
class Space:
    """A space file, read and checked (see the module docstring)."""
    name: str
    axes: dict
    workloads: tuple
    area: Area = Area()
    search: Search = Search()
    backend: str = "auto"
    repeat: int = 1
    seed: int = 0
    base_dir: Path = Path(".")
    source: str = ""

    @property
    def varied(self):
        """The axes with more than one value."""
        return [name for name, values in self.axes.items() if len(values) > 1]

    @property
    def size(self):
        return math.prod(len(values) for values in self.axes.values())

    def points(self):
        """Every combination of the axes, in order (the last axis varies fastest)."""
        names = list(self.axes)
        return [Point(tuple(zip(names, combo)))
                for combo in itertools.product(*self.axes.values())]

    def objectives(self, given=None):
        """The objectives (``given``, else the file's, else the default), checked against
        what the space measures: SpaceError if one needs area that it does not."""
        default = DEFAULT_OBJECTIVES if self.area.enabled else NO_AREA_OBJECTIVES
        objectives = check_objectives(given or self.search.objectives or default)
        for key, _ in objectives:
            if key in AREA_OBJECTIVES and not self.area.enabled:
                raise SpaceError(f"objective {key} needs the engine's area: set area.enabled")
            if key == "fmax_mhz" and not self.area.fmax:
                raise SpaceError("objective fmax_mhz needs place and route: set area.fmax")
        return objectives

    def needs_fmax(self, point):
        return point.get("engine_mhz") == FMAX


# ---- reading a space file ------------------------------------------------------------
def _expand(name, value):
    """The values of one axis: a value, a list, or a range table {from, to, step|factor}."""
    if isinstance(value, dict):
        unknown = set(value) - {"from", "to", "step", "factor"}
        if unknown or not {"from", "to"} <= set(value) or ("step" in value) == ("factor" in value):
            raise SpaceError(f"axes.{name}: a range is {{from = A, to = B, step = S}} or "
                             f"{{from = A, to = B, factor = F}}, got {value}")
        start, stop = value["from"], value["to"]
        step, factor = value.get("step"), value.get("factor")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                   for v in (start, stop, step or factor)) or start > stop \
                or (step is not None and step <= 0) or (factor is not None and factor <= 1):
            raise SpaceError(f"axes.{name}: range {value}: expected numbers, from <= to, "
                             f"step > 0 or factor > 1")
        values, v = [], start
        while v <= stop * (1 + 1e-12):
            values.append(v)
            v = v + step if step is not None else v * factor
        return values
    values = value if isinstance(value, list) else [value]
    if not values:
        raise SpaceError(f"axes.{name}: an empty list")
    if len(set(map(repr, values))) != len(values):
        raise SpaceError(f"axes.{name}: a value given twice in {values}")
    return values


def _check_axis(name, values):
    if name not in AXES and "." not in name:
        raise SpaceError(f"axes.{name}: unknown axis; expected one of {', '.join(AXES)}, or a "
                         f"platform value as \"section.key\" (see `foliodma platform show`)")
    if name == "driver":
        bad = [v for v in values if v not in STRATEGIES]
        if bad:
            raise SpaceError(f"axes.driver: {bad}: expected one of {', '.join(STRATEGIES)}")
    if name == "engine_mhz":
        bad = [v for v in values if v not in (FMAX, PLATFORM_CLOCK) and not (
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0)]
        if bad:
            raise SpaceError(f"axes.engine_mhz: {bad}: expected MHz > 0, {FMAX!r} or "
                             f"{PLATFORM_CLOCK!r}")


def _size(where, value):
    from sim.cli.common import parse_size
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        try:
            return parse_size(value)
        except Exception:
            pass
    raise SpaceError(f"{where}={value!r}: expected a size such as 4K, 2M, 256M or bytes")


def _workload(index, table):
    where = f"workloads[{index}]"
    if not isinstance(table, dict):
        raise SpaceError(f"{where}: expected a table")
    known = {"folio_size", "size", "max_batch_pages", "from_node", "to_node", "screen_size"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise SpaceError(f"{where}: unknown key(s) {unknown}; expected {sorted(known)}")
    for key in ("folio_size", "size"):
        if key not in table:
            raise SpaceError(f"{where}: {key} is required")
    screen = table.get("screen_size")
    workload = Workload(folio_bytes=_size(f"{where}.folio_size", table["folio_size"]),
                        size=_size(f"{where}.size", table["size"]),
                        max_batch_pages=table.get("max_batch_pages", 512),
                        from_node=table.get("from_node", 1), to_node=table.get("to_node", 0),
                        screen_size=None if screen is None else
                        _size(f"{where}.screen_size", screen))
    if workload.screen_size is not None and not workload.screen_size < workload.size:
        raise SpaceError(f"{where}.screen_size must be smaller than its size")
    return workload


def _table(data, key, cls, where):
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise SpaceError(f"{where}: expected a table")
    fields = cls.__dataclass_fields__
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise SpaceError(f"{where}: unknown key(s) {unknown}; expected {sorted(fields)}")
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})
    except TypeError as error:
        raise SpaceError(f"{where}: {error}") from None


def _area(data):
    """The [area] table: a family of hw.fpga, and one of its devices (its default when
    none is given; the ECP5 one when the family is left out)."""
    from hw.fpga import FAMILIES
    area = _table(data, "area", Area, "area")
    if area.family not in FAMILIES:
        raise SpaceError(f"area.family={area.family!r}: expected one of {', '.join(FAMILIES)}")
    family = FAMILIES[area.family]
    if "device" not in data.get("area", {}) and area.family != Area.family:
        area = dataclasses.replace(area, device=family.default_device)
    if area.fmax and family.nextpnr is None:
        raise SpaceError(f"area.fmax needs place and route, which {family.title} does not "
                         f"have on PyPI: set area.fmax = false")
    if area.fmax and area.device not in family.devices:
        raise SpaceError(f"area.device={area.device!r}: {family.title} devices are "
                         f"{', '.join(family.devices)}")
    return area


def _split_objective(objective):
    """(key, direction or "") of "key:direction", "key" or a (key, direction) pair."""
    if isinstance(objective, tuple):
        return objective[0], None, objective[1]
    return str(objective).partition(":")


def check_objectives(objectives):
    """The objectives as (key, direction) pairs; SpaceError names a bad one."""
    out = []
    for text in objectives:
        key, _, direction = _split_objective(text)
        if key not in OBJECTIVES:
            raise SpaceError(f"objective {text!r}: expected one of {', '.join(OBJECTIVES)}, "
                             f"optionally with :max or :min")
        direction = direction or OBJECTIVES[key][0]
        if direction not in ("max", "min"):
            raise SpaceError(f"objective {text!r}: the direction is max or min")
        out.append((key, direction))
    if len(out) < 2 or len({k for k, _ in out}) != len(out):
        raise SpaceError(f"objectives {list(objectives)}: give at least two different ones")
    return tuple(out)


def parse_space(data, base_dir=Path("."), source="<space>"):
    """A Space from a space file's parsed TOML; SpaceError names what is wrong."""
    known = {"name", "axes", "workloads", "area", "search", "backend", "repeat", "seed"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpaceError(f"unknown key(s) {unknown}; expected {sorted(known)}")
    axes_table = data.get("axes", {})
    if not isinstance(axes_table, dict):
        raise SpaceError("axes: expected a table")
    axes = {}
    for name, value in axes_table.items():
        values = _expand(name, value)
        _check_axis(name, values)
        axes[name] = values
    workloads = data.get("workloads")
    if not isinstance(workloads, list) or not workloads:
        raise SpaceError("a space needs at least one [[workloads]] table (folio_size, size)")
    area = _area(data)
    search = _table(data, "search", Search, "search")
    if search.method not in SEARCH_METHODS:
        raise SpaceError(f"search.method={search.method!r}: expected one of "
                         f"{', '.join(SEARCH_METHODS)}")
    if search.method == "nsga2" and not (isinstance(search.budget, int) and search.budget > 0):
        raise SpaceError("search.method = \"nsga2\" needs search.budget, the evaluations "
                         "it may spend (an int > 0)")
    if search.objectives is not None:
        check_objectives(search.objectives)
    if FMAX in axes.get("engine_mhz", ()) and not (area.enabled and area.fmax):
        raise SpaceError("axes.engine_mhz has \"fmax\": it needs area.enabled and area.fmax "
                         "(place and route gives the clock)")
    repeat = data.get("repeat", 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise SpaceError(f"repeat={repeat!r}: expected an int >= 1")
    space = Space(name=str(data.get("name", source)), axes=axes,
                  workloads=tuple(_workload(i, w) for i, w in enumerate(workloads)),
                  area=area, search=search, backend=data.get("backend", "auto"),
                  repeat=repeat, seed=data.get("seed", 0), base_dir=Path(base_dir),
                  source=source)
    space.objectives()
    return space


def load_space(path):
    """The Space of a file, or of a built-in space by name (:data:`BUILTIN_SPACES`)."""
    source = str(path)
    if source in BUILTIN_SPACES and not Path(path).exists():
        path = BUILTIN_SPACES[source]
        source = f"built-in, sim/spaces/{path.name}"
    path = Path(path)
    data = read_toml(path, "space file", SpaceError,
                     f"built-in spaces: {', '.join(sorted(BUILTIN_SPACES))}")
    try:
        return parse_space(data, base_dir=path.parent, source=source)
    except SpaceError as error:
        raise SpaceError(f"space file {path}: {error}") from None


def check_point(space, point):
    """The point's machine, checked (MachineError/SpaceError name the problem)."""
    try:
        return point.machine(space.base_dir)
    except MachineError as error:
        raise SpaceError(f"{point.label}: {error}") from None

