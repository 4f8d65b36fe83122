"""The explorer's benchmark: what Dask workers and the budgeted search buy.

``python -m sim.experiments.explore_bench`` (``make bench-explore``) prints:

1. the speedup of 2 Dask workers over 1 on the same 16 points (each run on an empty
   result cache, the engine's compiled simulation built beforehand, the local
   cluster's start-up included and shown);
2. how many evaluations Optuna's NSGA-II needs to find at least 90% of the Pareto
   front of a grid of 240 points (GB/s against LUTs), over several seeds: the grid is
   evaluated in full first (its results cached), then each search is replayed on
   that cache, in the order it asks for points.
"""
import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

from sim.explore import explore
from sim.explore.analysis import pareto_mask
from sim.explore.cache import default_cache_dir
from sim.explore.space import parse_space

#: 16 points that share one engine build: driver, clock and IOMMU mode.
SPEEDUP_SPACE = {
    "name": "benchmark: 16 points, one engine", "backend": "verilator",
    "axes": {"driver": ["v2", "v3"], "engine_mhz": [250, 500, 750, 1000],
             "iommu_mode": ["lazy", "strict"]},
    "workloads": [{"folio_size": "2M", "size": "64M", "max_batch_pages": 16384}],
    "area": {"enabled": False}}

#: 240 points, 24 engine builds: GB/s against LUTs (synthesis, no place and route).
SEARCH_SPACE = {
    "name": "benchmark: 240 points", "backend": "verilator",
    "axes": {"data_width": [64, 128, 256, 512], "outstanding_reads": [2, 4, 8],
             "buffer_depth": [128, 512], "driver": ["v2", "v3"],
             "engine_mhz": [200, 400, 600, 800, 1000]},
    "workloads": [{"folio_size": "2M", "size": "16M", "max_batch_pages": 4096}],
    "area": {"fmax": False},
    "search": {"objectives": ["dma_gbps:max", "luts:min"], "population": 16}}
FOUND = 0.9


def _spin(_=None):
    """Seconds a fixed CPU-bound loop takes."""
    started, total = time.perf_counter(), 0
    for i in range(20_000_000):
        total += i
    return time.perf_counter() - started


def spin_times(pool):
    """(seconds of the CPU-bound loop alone, seconds of the slower of two at once)."""
    return pool.apply(_spin), max(pool.map(_spin, [None, None]))


def speedup(say=print, rounds=3):
    """Wall time of the 16 points on 1 and on 2 workers, each on an empty cache: the
    best of ``rounds`` runs of each, taken in turn (the machine's other load only adds
    time), and the machine's own ceiling measured the same way."""
    import multiprocessing
    from hw.engine import DmaEngine
    from sim.backends import prepare
    space = parse_space(SPEEDUP_SPACE)
    prepare("verilator", DmaEngine(space.points()[0].machine().engine))
    walls, spins = {1: [], 2: []}, []
    with multiprocessing.get_context("spawn").Pool(2) as spinners:
        spin_times(spinners)                               # started and warm
        for _ in range(rounds):
            for workers in (1, 2):
                with tempfile.TemporaryDirectory() as cache:
                    started = time.perf_counter()
                    answers = explore(space, workers=workers, cache_dir=cache, progress=False)
                    walls[workers].append(time.perf_counter() - started)
                assert (answers.frame["status"] == "ok").all()
            spins.append(spin_times(spinners))
    evaluations = sum(answers.explorer.evaluated.values())
    for workers, times in walls.items():
        say(f"  {workers} worker(s): {min(times):6.1f} s for {len(answers.frame)} points "
            f"({evaluations} evaluations; best of {rounds}: "
            + ", ".join(f"{t:.1f}" for t in times) + ")")
    alone, both = (min(times) for times in zip(*spins))
    say(f"  speedup of 2 workers over 1: x{min(walls[1]) / min(walls[2]):.2f}; the ceiling on "
        f"this machine: two processes of a CPU-bound loop do x{2 * alone / both:.2f} the "
        f"work of one (best of {rounds}: {alone:.2f} s alone, {both:.2f} s two at once)")
    return walls


def _needed(space, cache_dir, seed, front):
    """Evaluations until the search with ``seed`` had found FOUND of ``front``."""
    import dataclasses
    seeded = dataclasses.replace(space, search=dataclasses.replace(space.search, seed=seed))
    answers = explore(seeded, workers=0, cache_dir=cache_dir, progress=False, method="nsga2",
                      budget=space.size)
    order = answers.exploration.info["evaluation_order"]
    target = math.ceil(FOUND * len(front))
    found = 0
    for count, label in enumerate(order, 1):
        found += label in front
        if found >= target:
            return count
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                        help="the grid's result cache (default: the explorer's)")
    parser.add_argument("--seeds", type=int, default=5, help="searches (default 5)")
    parser.add_argument("--workers", type=int, default=None,
                        help="workers for the grid (default: one per core)")
    parser.add_argument("--skip-speedup", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_speedup:
        print("1. Dask workers: the same 16 points (2 MiB folios, 64 MiB in one batch, "
              "verilator), each run on an empty cache")
        speedup()
    print(f"2. Budgeted search: evaluations NSGA-II needs to find {FOUND:.0%} of the front "
          f"(GB/s against LUTs) of a grid of {parse_space(SEARCH_SPACE).size} points")
    needed, front, size = _search(args)
    found = [n for n in needed.values() if n]
    target = math.ceil(FOUND * front)
    if found:
        print(f"  median {statistics.median(found):.0f} evaluations of {size} "
              f"({statistics.median(found) / size:.0%}), range {min(found)}..{max(found)}, "
              f"over {len(found)} of {len(needed)} seeds; the front has {front} points; "
              f"at random, {target} of them take {target * (size + 1) / (front + 1):.0f} "
              f"draws on average")


def _search(args):
    space = parse_space(SEARCH_SPACE)
    started = time.perf_counter()
    grid = explore(space, workers=args.workers, cache_dir=args.cache_dir, progress=True)
    frame = grid.frame
    failed = frame[frame["status"] != "ok"]
    if len(failed):
        raise SystemExit(f"grid points failed: {failed['error'].tolist()[:3]}")
    mask = pareto_mask(frame[["dma_gbps", "luts"]].to_numpy(), ["max", "min"])
    front = set(frame.loc[mask, "point"])
    print(f"  grid: {len(frame)} points in {time.perf_counter() - started:.0f} s "
          f"({sum(grid.explorer.evaluated.values())} evaluations computed, "
          f"{sum(grid.explorer.hits.values())} from the cache); its front: {len(front)} points")
    needed = {seed: _needed(space, args.cache_dir, seed, front) for seed in range(args.seeds)}
    labels = list(frame["point"])
    for seed, count in needed.items():
        blind = _needed_at_random(labels, front, seed)
        print(f"  seed {seed}: " + (f"{count} evaluations found {FOUND:.0%} of the front"
                                    if count else "did not find it within the grid's size")
              + f" (points drawn at random: {blind})")
    return needed, len(front), len(frame)


def _needed_at_random(labels, front, seed):
    """Evaluations until points drawn at random without repeats had found FOUND of
    ``front``: the baseline a search has to beat."""
    import random
    order = list(labels)
    random.Random(seed).shuffle(order)
    target, found = math.ceil(FOUND * len(front)), 0
    for count, label in enumerate(order, 1):
        found += label in front
        if found >= target:
            return count
    return None


if __name__ == "__main__":
    main()
