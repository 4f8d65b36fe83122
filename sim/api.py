"""foliodma from Python, for notebooks and scripts.

Every function returns plain data: a row is a dict of numbers and strings (as
``--json`` prints it), and a list of rows goes straight into
``pandas.DataFrame(rows)``. Settings are the fields of
:class:`sim.kernel.request.MigrateRequest` (``mode``, ``workload_bytes``,
``folio_bytes``, ``driver``, ``backend``, ...), by name, and the machine's:
``platform`` (a platform file), ``machine`` (a :class:`sim.machine.Machine`),
``values`` ({"section.key": value}, as ``--set``), and single values by their
short names (:data:`sim.machine.SHORTHANDS`: ``data_width``, ``channels``,
``engine_mhz``, ``cpu_ghz``, ``iommu_mode``, ``llc_bytes``, ...). ``backend`` is
"auto" unless given: verilator where it builds here, else pysim (with a warning saying
why); a row's ``backend`` names the one it ran on.

    from sim.api import run_migrate, sweep
    row = run_migrate(mode="dma", driver="v3", backend="verilator")
    rows = sweep("data_width", [64, 128, 256], mode="dma", backend="verilator")
    slow = run_migrate(mode="dma", values={"memory.remote.read_latency_ns": 400.0})

:func:`explore` returns a pandas DataFrame instead: an exploration of a design space
(``foliodma explore``), one row per point and workload.
"""
import dataclasses

from sim.backends import AUTO_BACKEND, BACKEND_CHOICES, chosen_backend
from sim.experiments.bench import run_bench as _engine_bench, run_driver_bench
from sim.kernel.request import MigrateRequest, run_request
from sim.machine import SHORTHANDS, load_machine, shorthand_key

_REQUEST_FIELDS = {field.name for field in dataclasses.fields(MigrateRequest)} - {"machine"}
_MACHINE_SETTINGS = {"platform", "machine", "values"}


def machine_of(platform=None, machine=None, values=None, **short):
    """The Machine of a platform file (or ``machine``, else the built-in), with
    ``values`` and single values by short name applied."""
    if platform is not None and machine is not None:
        raise ValueError("give a platform file or a machine, not both")
    base = machine if machine is not None else load_machine(platform)
    changes = {shorthand_key(base, name, short.get("engines")): value
               for name, value in short.items()}
    return base.with_values({**changes, **(values or {})})


def migrate_request(**settings):
    """A MigrateRequest from its settings by name (see the module docstring);
    ValueError names an unknown one."""
    unknown = set(settings) - _REQUEST_FIELDS - _MACHINE_SETTINGS - set(SHORTHANDS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}: expected fields of MigrateRequest, "
                         f"platform, machine, values or one of {sorted(SHORTHANDS)}")
    request = {name: value for name, value in settings.items() if name in _REQUEST_FIELDS}
    machine = machine_of(**{name: value for name, value in settings.items()
                            if name not in _REQUEST_FIELDS})
    return MigrateRequest(machine=machine, **request)


def run_migrate(request=None, **settings):
    """One ``foliodma migrate`` row: a MigrateRequest, or its settings by name
    (``mode`` is required: "cpu", "batch-cpu", "dma", "mt-cpu" or "dma+mt-cpu")."""
    if request is None:
        request = migrate_request(**settings)
    elif settings:
        raise ValueError("give a request or settings, not both")
    return run_request(request)


def sweep(option, points, **settings):
    """One row per value in ``points`` of ``option`` (a setting's name, see
    :func:`migrate_request`), the other settings fixed; each row says its value
    under ``swept``."""
    if option in settings:
        raise ValueError(f"{option} is swept and also given as {settings[option]!r}")
    rows = []
    for value in points:
        row = run_migrate(**settings, **{option: value})
        row["swept"] = {option: value}
        rows.append(row)
    return rows


def run_bench(*, backend=AUTO_BACKEND, folios=512, folio_size=4096, latency=200, driver=None,
              numa=False, platform=None, machine=None, values=None, **short):
    """One ``foliodma bench`` row: the engine alone (``driver`` None) or through the
    driver stack (``driver`` "v1", "v2", "v3" or "none"), with its throughput figures
    and the simulation's speed; the machine's settings as for :func:`migrate_request`
    (the engine alone uses only its engine parameters). ``backend`` "auto" (the
    default) runs on verilator if it builds here, else pysim; the row names which."""
    unknown = set(short) - set(SHORTHANDS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}: expected one of "
                         f"{sorted(SHORTHANDS)}, platform, machine or values")
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"backend={backend!r}: expected one of {', '.join(BACKEND_CHOICES)}")
    chosen = machine_of(platform, machine, values, **short)
    if driver is None and numa:
        raise ValueError("numa=True acts on the driver stack: give a driver")
    backend = chosen_backend(backend, chosen.engine)
    if driver is None:
        return _engine_bench(chosen.engine, backend=backend, folios=folios,
                             folio_size=folio_size, read_latency=latency, write_latency=latency)
    return run_driver_bench(chosen.engine, backend=backend, driver=driver, folios=folios,
                            folio_size=folio_size, read_latency=latency, write_latency=latency,
                            machine=chosen, numa=numa)


def explore(space, *, workers=None, scheduler=None, cache_dir=None, objectives=None,
            method=None, budget=None, screen=None, backend=None, progress=False):
    """``foliodma explore`` of ``space`` (a space file, a built-in space's name, or a
    :class:`sim.explore.space.Space`): a pandas DataFrame, one row per point and
    workload (its whole configuration, the DMA and CPU figures, area and Fmax, what
    limits it, ``on_front``). ``frame.attrs`` holds the answers: ``crossovers``,
    ``sensitivity`` and ``info``. ``workers``: the local Dask cluster's size (default
    one per core; 0: in this process); ``scheduler``: an existing cluster's address;
    ``method`` ("grid", "nsga2"), ``budget``, ``screen``, ``backend``, ``objectives``
    (e.g. ["dma_gbps:max", "luts:min"]) as the space file's; ``progress``: on stderr."""
    from sim.explore import explore as run
    answers = run(space, workers=workers, scheduler=scheduler, cache_dir=cache_dir,
                  objectives=objectives, progress=progress, method=method, budget=budget,
                  screen=screen, backend=backend)
    frame = answers.frame
    document = answers.as_dict()
    frame.attrs.update(crossovers=document["crossovers"], sensitivity=document["sensitivity"],
                       info=document["info"])
    return frame
