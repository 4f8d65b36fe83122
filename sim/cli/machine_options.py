"""The options that choose the modelled machine: --platform, --set, the engine
parameters, the clocks and the IOMMU mode, and the Machine they resolve to.
"""
from pathlib import Path

from hw.params import AXI_MAX_BURST_BEATS, MAX_CHANNELS
from sim.cli.common import positive_float, positive_int, UsageError
from sim.memsys.iommu import FLUSH_QUEUE_ENTRIES, MODES as IOMMU_MODES


def _builtin(key):
    """The built-in machine's value of ``section.key``, for --help."""
    from sim.machine import DEFAULT_MACHINE
    return DEFAULT_MACHINE.values()[key]


def add_platform_options(parser):
    """--platform FILE and --set KEY=VALUE: the machine a command models."""
    group = parser.add_argument_group(
        "platform (the modelled machine: `foliodma platform show` lists every value)")
    group.add_argument("--platform", type=Path, metavar="FILE|NAME",
                       help="platform file (TOML) to model instead of the built-in seed "
                            "machine; it may give only the values it changes. NAME: a "
                            "built-in platform, 'seed' or 'zen3-ptdma' (the later "
                            "postings' machine with 16 PTDMA engines; see `foliodma "
                            "platform show --platform zen3-ptdma`)")
    group.add_argument("--set", action="append", metavar="KEY=VALUE", dest="set_values",
                       help="change one platform value, e.g. memory.remote.read_latency_ns=250 "
                            "or costs.dma_map_page_ns=300 (repeatable; after --platform and "
                            "the single-value options below)")
    return group


def add_engine_options(parser):
    """Every EngineParams field as an option; each overrides the platform's value."""
    group = parser.add_argument_group("engine parameters (default: the platform's)")
    group.add_argument("--data-width", type=positive_int,
                       help="AXI data width in bits: 64, 128, 256 or 512 (built-in "
                            f"{_builtin('dma.data_width')})")
    group.add_argument("--channels", type=positive_int,
                       help=f"DMA channels the migration uses: on a one-engine platform, the "
                            f"engine's descriptor rings, 1..{MAX_CHANNELS} (built-in "
                            f"{_builtin('dma.channels')}); on a platform of several engines, "
                            f"dcbm's nr_dma_chan, of the engines' rings")
    group.add_argument("--engines", type=positive_int,
                       help=f"DMA engines (devices, each with its own registers and AXI "
                            f"master) on the memory system (built-in {_builtin('dma.engines')})")
    group.add_argument("--max-burst", type=positive_int,
                       help=f"longest AXI burst in beats, 1..{AXI_MAX_BURST_BEATS} "
                            f"(built-in {_builtin('dma.max_burst')})")
    group.add_argument("--outstanding-reads", type=positive_int,
                       help="data read bursts in flight (built-in "
                            f"{_builtin('dma.outstanding_reads')})")
    group.add_argument("--outstanding-writes", type=positive_int,
                       help="write bursts awaiting their response (built-in "
                            f"{_builtin('dma.outstanding_writes')})")
    group.add_argument("--buffer-depth", type=positive_int,
                       help="beats buffered between read and write side, a power of two "
                            f"(built-in {_builtin('dma.buffer_depth')})")
    group.add_argument("--prefetch-depth", type=positive_int,
                       help=f"descriptors fetched ahead (built-in {_builtin('dma.prefetch_depth')})")
    if not any(action.dest == "platform" for action in parser._actions):
        add_platform_options(parser)


def parse_set_value(text):
    """(key, value) of a --set KEY=VALUE; the value read as a TOML value (number,
    true/false, "string"), else as a bare string."""
    import tomllib
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set {text!r}: expected KEY=VALUE, e.g. clocks.engine_mhz=500")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key.strip(), parsed


def _option_values(args, machine):
    """[(option, section.key, value)] of the single-value options given, on machine
    (see :func:`sim.machine.shorthand_key` for ``--channels``)."""
    from sim.machine import SHORTHANDS, shorthand_key
    given = []
    for dest in (*SHORTHANDS, "llc_size"):
        value = getattr(args, dest, None)
        if value is not None and value is not False:
            key = "cache.llc_bytes_per_ccx" if dest == "llc_size" else \
                shorthand_key(machine, dest, getattr(args, "engines", None))
            given.append((f"--{dest.replace('_', '-')} {value}", key, value))
    return given


def machine_of(args):
    """The Machine a command models: --platform (else the built-in), then the single-value
    options, then every --set. A --from-json run starts from the machine its document
    recorded instead. UsageError names a bad file, option, key or value."""
    from sim.machine import DEFAULT_MACHINE, MachineError, flatten, load_machine
    recorded = getattr(args, "recorded_machine", None)
    try:
        machine = DEFAULT_MACHINE.with_values(flatten(recorded)) if recorded else \
            load_machine(getattr(args, "platform", None))
    except MachineError as error:
        raise UsageError(str(error)) from None
    changes = _option_values(args, machine)
    for text in getattr(args, "set_values", None) or ():
        key, value = parse_set_value(text)
        changes.append((f"--set {text}", key, value))
    for where, key, value in changes:
        try:
            machine = machine.with_values({key: value})
        except MachineError as error:
            raise UsageError(f"{where}: {error}") from None
    return machine


def engine_params(args):
    """The engine's parameters: the platform's, with the engine options applied."""
    return machine_of(args).engine


def add_platform_reading_options(group):
    """--v1-dma-only and --iommu-mode: how the seed's driver and kernel are read."""
    group.add_argument("--v1-dma-only", action="store_true",
                       help="dcbm v1 without its CPU copy after a successful DMA (default: "
                            "with it, as the posted code reads and the seed's "
                            "post_move_access column supports)")
    group.add_argument("--iommu-mode", choices=IOMMU_MODES,
                       help="the DMA API's IOTLB invalidation: lazy (x86's default: "
                            f"unmaps queue, one invalidation per {FLUSH_QUEUE_ENTRIES}) or "
                            "strict (each unmap waits for its invalidation) (default: the "
                            f"platform's; built-in {_builtin('iommu.mode')})")


def add_host_options(group):
    """Clocks and driver options shared by bench --driver and migrate."""
    group.add_argument("--engine-mhz", type=positive_float,
                       help="engine clock in MHz: turns cycles into ns (default: the "
                            f"platform's; built-in {_builtin('clocks.engine_mhz'):g})")
    group.add_argument("--cpu-ghz", type=positive_float,
                       help="CPU clock in GHz, for CPU cycles per page (default: the "
                            f"platform's; built-in {_builtin('clocks.cpu_ghz'):g}, as in "
                            "the seed)")
    add_platform_reading_options(group)
    group.add_argument("--no-idle-skip", action="store_true",
                       help="simulate idle engine time cycle by cycle instead of skipping it")
