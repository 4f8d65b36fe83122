"""foliodma from Python, for notebooks and scripts.

Every function returns plain data: a row is a dict of numbers and strings (as
``--json`` prints it), and a list of rows goes straight into
``pandas.DataFrame(rows)``. Settings are the fields of
:class:`sim.kernel.request.MigrateRequest` (``mode``, ``workload_bytes``,
``folio_bytes``, ``driver``, ``backend``, ...) and of
:class:`hw.params.EngineParams` (``data_width``, ``channels``, ...), by name.

    from sim.api import run_migrate, sweep
    row = run_migrate(mode="dma", driver="v3", backend="verilator")
    rows = sweep("data_width", [64, 128, 256], mode="dma", backend="verilator")
"""
import dataclasses

from hw.params import EngineParams
from sim.experiments.bench import run_bench as _engine_bench, run_driver_bench
from sim.kernel.request import MigrateRequest, run_request
from sim.platform.memory_system import DEFAULT_ENGINE_MHZ
from sim.seed import CPU_GHZ

_ENGINE_FIELDS = {field.name for field in dataclasses.fields(EngineParams)}
_REQUEST_FIELDS = {field.name for field in dataclasses.fields(MigrateRequest)} - {"params"}


def migrate_request(**settings):
    """A MigrateRequest from request and engine settings by name; ValueError names an
    unknown one."""
    unknown = set(settings) - _ENGINE_FIELDS - _REQUEST_FIELDS
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}: expected fields of MigrateRequest "
                         f"or EngineParams")
    engine = {name: value for name, value in settings.items() if name in _ENGINE_FIELDS}
    request = {name: value for name, value in settings.items() if name in _REQUEST_FIELDS}
    return MigrateRequest(params=EngineParams(**engine), **request)


def run_migrate(request=None, **settings):
    """One ``foliodma migrate`` row: a MigrateRequest, or its settings by name
    (``mode`` is required: "cpu", "batch-cpu" or "dma")."""
    if request is None:
        request = migrate_request(**settings)
    elif settings:
        raise ValueError("give a request or settings, not both")
    return run_request(request)


def sweep(option, values, **settings):
    """One row per value of ``option`` (a MigrateRequest or EngineParams field), the
    other settings fixed; each row says its value under ``swept``."""
    if option in settings:
        raise ValueError(f"{option} is swept and also given as {settings[option]!r}")
    rows = []
    for value in values:
        row = run_migrate(**settings, **{option: value})
        row["swept"] = {option: value}
        rows.append(row)
    return rows


def run_bench(*, backend="pysim", folios=512, folio_size=4096, latency=200, driver=None,
              engine_mhz=DEFAULT_ENGINE_MHZ, cpu_ghz=CPU_GHZ, numa=False, **engine):
    """One ``foliodma bench`` row: the engine alone (``driver`` None) or through the
    driver stack (``driver`` "v1", "v2", "v3" or "none"), with its throughput figures
    and the simulation's speed; ``engine`` holds EngineParams fields."""
    params = EngineParams(**engine)
    if driver is None:
        if numa:
            raise ValueError("numa=True acts on the driver stack: give a driver")
        return _engine_bench(params, backend=backend, folios=folios, folio_size=folio_size,
                             read_latency=latency, write_latency=latency)
    return run_driver_bench(params, backend=backend, driver=driver, folios=folios,
                            folio_size=folio_size, read_latency=latency, write_latency=latency,
                            engine_mhz=engine_mhz, cpu_ghz=cpu_ghz, numa=numa)
