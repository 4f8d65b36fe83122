"""Evaluating points of a space: their migrations and their engine's area, through the
cache and a pool of workers, into rows.

For each point and workload, a row holds the point's whole configuration (every
engine parameter, the device, the clock, the driver and its channels, the
platform), the DMA migration's figures beside the CPU copy's on the same
machine, the engine's area and Fmax, and what limits the migration. An
evaluation is one of:

* an engine's area (:func:`sim.explore.evaluate.run_area`), once per engine
  configuration: synthesis, and place and route where Fmax is needed;
* a migration (:func:`sim.explore.evaluate.run_migration`): the DMA run of the
  point, and the CPU baseline, which every engine configuration on one machine
  and workload shares.

A point whose clock is "fmax" runs its migration once its engine's place and route
has given the clock. Every evaluation is looked up in the cache first and stored
there when it finishes; a failed one is reported, counted, and leaves the others
running.
"""
import collections
import functools
import math
import sys
import time
from dataclasses import dataclass, field

from sim.explore.analysis import limiter
from sim.explore.evaluate import (area_key, baseline_request, dma_request, migration_key,
                                  run_area, run_migration)
from sim.explore.space import FMAX, PLATFORM_CLOCK
from sim.kernel.request import MigrateRequest

@dataclass
class Failure:
    """An evaluation that raised; ``message`` says what."""
    message: str


@dataclass
class Job:
    """One evaluation to run (or find in the cache)."""
    key: str
    kind: str
    function: object
    args: tuple


@dataclass
class PointRun:
    """What one point needs evaluated at one stage, and how far it is."""
    point: object
    stage: str
    machine: object
    area: str | None = None
    pairs: list = field(default_factory=list)     # per workload: [workload, size, dma, cpu]
    waiting: int = 0
    failed: bool = False


class Progress:
    """Progress on stderr: points done of the total, from the cache, the rate and the
    time left, and every failure as it happens."""

    def __init__(self, total, enabled=True, label="explore", stream=None):
        self.total, self.enabled, self.label = total, enabled, label
        self.stream = stream or sys.stderr
        self.done = self.cached = self.failed = 0
        self.started = time.perf_counter()
        self._last = 0.0

    def point(self, from_cache, failed):
        self.done += 1
        self.cached += from_cache
        self.failed += failed
        now = time.perf_counter()
        if self.enabled and (now - self._last >= 1.0 or self.done == self.total):
            self._last = now
            self._say(self.line(now))

    def line(self, now=None):
        now = time.perf_counter() if now is None else now
        computed, minutes = self.done - self.cached, (now - self.started) / 60
        text = f"{self.label}: {self.done} of {self.total} points done"
        if self.cached:
            text += f" ({self.cached} from the cache)"
        if computed and minutes > 0:
            rate = computed / minutes
            text += f", {rate:.1f} points/min"
            if self.done < self.total:
                text += f", about {_duration((self.total - self.done) / rate * 60)} left"
        if self.failed:
            text += f", {self.failed} failed"
        return text

    def failure(self, what, message):
        if self.enabled:
            self._say(f"{self.label}: FAILED {what}: {message}")

    def _say(self, text):
        print(text, file=self.stream, flush=True)


def clock_kind(engine_mhz):
    """Where a point's engine clock comes from: "fmax" (the FPGA's), "platform" (the
    platform file's) or "given" (a number of MHz in the space)."""
    return engine_mhz if engine_mhz in (FMAX, PLATFORM_CLOCK) else "given"


@functools.lru_cache(maxsize=256)
def source_in_llc(folio_bytes, workload_bytes, llc_bytes):
    """The share of a workload's source bytes still in the LLC when the CPU copies them
    (:func:`sim.kernel.folios.llc_resident`)."""
    from sim.kernel.folios import llc_resident
    sizes = [folio_bytes] * (workload_bytes // folio_bytes)
    resident = llc_resident(sizes, llc_bytes)
    return sum(size for size, hot in zip(sizes, resident) if hot) / workload_bytes


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Explorer:
    """Evaluates points of ``space`` on ``pool`` through ``cache``; ``area_dir`` holds the
    synthesis and place-and-route files."""

    def __init__(self, space, cache, pool, area_dir, progress=True):
        self.space, self.cache, self.pool = space, cache, pool
        self.area_dir = area_dir
        self.progress_enabled = progress
        self.results = {}
        self.requests = {}                          # key -> the DMA MigrateRequest
        self.evaluated = collections.Counter()      # kind -> computed (not cached)
        self.hits = collections.Counter()           # kind -> from the cache

    # ---- planning ----------------------------------------------------------------------
    def _plan(self, point, stage, sizes):
        machine = point.machine(self.space.base_dir)
        run = PointRun(point, stage, machine)
        area = self.space.area
        fmax = self.space.needs_fmax(point)
        jobs = []
        if area.enabled:
            place = fmax or (stage == "full" and area.fmax)
            run.area = area_key(machine.engine, area, place)
            jobs.append(Job(run.area, "area", run_area,
                            (machine.engine, area, place, str(self.area_dir / run.area))))
        for workload in self.space.workloads:
            size = sizes.get(workload, workload.size)
            request = dma_request(self.space, point, workload, machine, size)
            cpu = baseline_request(request)
            pair = [workload, size, None if fmax else migration_key(request),
                    migration_key(cpu)]
            if not fmax:
                self.requests[pair[2]] = request
            run.pairs.append(pair)
            jobs.append(Job(pair[3], "migration", run_migration, (cpu,)))
            if not fmax:
                jobs.append(Job(pair[2], "migration", run_migration, (request,)))
        return run, jobs

    def _fmax_job(self, run, pair, area_result):
        """The DMA job of a point clocked at its Fmax, once the Fmax is known."""
        workload, size = pair[0], pair[1]
        run.machine = run.point.machine(self.space.base_dir, fmax_mhz=area_result["fmax_mhz"])
        request = dma_request(self.space, run.point, workload, run.machine, size)
        pair[2] = migration_key(request)
        self.requests[pair[2]] = request
        return Job(pair[2], "migration", run_migration, (request,))

    # ---- running -----------------------------------------------------------------------
    def evaluate(self, points, stage="full", sizes=None, label="explore"):
        """Rows of ``points`` at ``stage`` (every workload at its full size, or at
        ``sizes[workload]``), evaluated through the cache on the pool."""
        runs, jobs_of = [], {}
        for point in points:
            run, jobs = self._plan(point, stage, sizes or {})
            runs.append(run)
            for job in jobs:
                jobs_of.setdefault(job.key, job)
        users = collections.defaultdict(list)       # key -> runs waiting on it
        for run in runs:
            for key in dict.fromkeys(self._keys(run)):
                users[key].append(run)
                run.waiting += 1
        progress = Progress(len(runs), self.progress_enabled, label)
        queue, futures = self.pool.completed(), {}
        computed = set()

        def settle(key, from_cache):
            for run in users.pop(key, ()):
                if isinstance(self.results[key], Failure):
                    run.failed = True
                elif key == run.area and self.space.needs_fmax(run.point):
                    for pair in run.pairs:
                        job = self._fmax_job(run, pair, self.results[key])
                        users[job.key].append(run)
                        run.waiting += 1
                        want(job)
                run.waiting -= 1
                if run.waiting == 0:
                    mine = set(self._keys(run))
                    progress.point(from_cache=not (mine & computed),
                                   failed=run.failed or any(
                                       isinstance(self.results.get(k), Failure) for k in mine))

        def want(job):
            if job.key in self.results:
                if self.results[job.key] is not None:      # done; else in flight
                    settle(job.key, True)
                return
            hit = self.cache.get(job.key)
            if hit is not None:
                self.results[job.key] = hit
                self.hits[job.kind] += 1
                settle(job.key, True)
                return
            self.results[job.key] = None
            future = self.pool.submit(job.function, *job.args)
            futures[future] = job.key
            queue.add(future)
            jobs_of[job.key] = job

        for job in list(jobs_of.values()):
            want(job)
        for future in queue:
            key = futures[future]
            job = jobs_of[key]
            try:
                result = future.result()
                self.cache.put(key, result)
                self.evaluated[job.kind] += 1
            except Exception as error:           # the point is reported, the rest go on
                result = Failure(f"{type(error).__name__}: {error}".splitlines()[0])
                progress.failure(self._what(job, users.get(key, ())), result.message)
            self.results[key] = result
            computed.add(key)
            settle(key, False)
        return [row for run in runs for row in self._rows(run)]

    @staticmethod
    def _keys(run):
        keys = [run.area] if run.area else []
        for _, _, dma, cpu in run.pairs:
            keys += [k for k in (dma, cpu) if k]
        return keys

    @staticmethod
    def _what(job, runs):
        """What a job is, for a person: its kind and the points that needed it."""
        from sim.cli.common import human_size
        points = "; ".join(dict.fromkeys(run.point.label for run in runs)) or "?"
        if job.kind == "area":
            return f"area of the engine of {points}"
        request = job.args[0]
        return (f"{'CPU copy' if request.mode == 'cpu' else 'DMA'} migration of "
                f"{human_size(request.workload_bytes)}B in {human_size(request.folio_bytes)}B "
                f"folios for {points}")

    # ---- rows --------------------------------------------------------------------------
    def _rows(self, run):
        area = self.results.get(run.area) if run.area else None
        rows = []
        for workload, size, dma_key, cpu_key in run.pairs:
            dma, cpu = self.results.get(dma_key), self.results.get(cpu_key)
            rows.append(self._row(run, workload, size, area, dma, cpu,
                                  {"dma": dma_key, "cpu": cpu_key, "area": run.area}))
        return rows

    def _row(self, run, workload, size, area, dma, cpu, keys):
        point, machine = run.point, run.machine
        values = dict(point.values)
        engine = machine.engine.as_dict()
        engine["rings"] = engine.pop("channels")
        engine.pop("addr_width")
        row = {"point": point.label, "axes": {k: v for k, v in point.values},
               "platform": str(values.get("platform", "seed")),
               "driver": values.get("driver", MigrateRequest.driver),
               "channels": machine.dcbm_channels, "engines": machine.engines,
               "engines_per_port": machine.engine_ports.engines_per_port,
               "clock": clock_kind(values.get("engine_mhz", PLATFORM_CLOCK)),
               "engine_mhz": machine.engine_mhz, **engine,
               **{name: value for name, value in values.items() if "." in name},
               "workload": workload.label, "folio_bytes": workload.folio_bytes,
               "workload_bytes": size, "from_node": workload.from_node,
               "to_node": workload.to_node, "max_batch_pages": workload.max_batch_pages,
               "stage": run.stage, "status": "ok", "error": None,
               **{f"{kind}_key": key for kind, key in keys.items()}}
        failures = [r.message for r in (area, dma, cpu) if isinstance(r, Failure)]
        if area is None and run.area:
            failures.append("its engine's area was not evaluated")
        if failures or dma is None or cpu is None:
            row.update(status="failed", error="; ".join(failures) or "not evaluated")
            return row
        if area is not None:
            row.update({k: area.get(k) for k in ("luts", "ffs", "lutram", "bram", "fmax_mhz",
                                                 "comb", "cmos_transistors")})
            row["device_luts"] = area["luts"] * machine.engines
            row["area_family"] = area.get("family")
            row["area_device"] = area.get("device")
        row.update(self._figures(dma, cpu, machine, workload, row["driver"]))
        return row

    @staticmethod
    def _figures(dma, cpu, machine, workload, driver):
        in_llc = source_in_llc(workload.folio_bytes, cpu["workload_bytes"],
                               int(machine.costs.llc_bytes))
        where = f"node {workload.from_node} DRAM" if in_llc == 0 else \
            "LLC" if in_llc == 1 else f"{in_llc:.0%} LLC, rest node {workload.from_node} DRAM"
        name, busy = limiter(dma, machine, driver, workload)
        return {"dma_gbps": dma["migrate_gbps"], "dma_copy_gbps": dma["copy_gbps"],
                "dma_cpu_s_per_gib": dma.get("cpu_seconds_per_gib", math.nan),
                "cpu_gbps": cpu["migrate_gbps"],
                "cpu_cpu_s_per_gib": cpu.get("cpu_seconds_per_gib", math.nan),
                "speedup": dma["migrate_gbps"] / cpu["migrate_gbps"],
                "beats_cpu": dma["migrate_gbps"] > cpu["migrate_gbps"],
                "source": where, "source_in_llc": in_llc,
                "integrity": "ok" if dma["integrity"]["ok"] and cpu["integrity"]["ok"]
                else "FAILED",
                "limiter": name, "busy": busy,
                "batches": f"{dma['simulated_batches']} + {dma['extrapolated_batches']}",
                "dma_wall_seconds": dma["wall_seconds"]}
