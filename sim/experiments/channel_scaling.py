"""The later postings' experiment: GB/s of a 1 GiB move against dcbm's channel count.

The series measured ``move_pages()`` of 1 GiB with THP on, 4 KiB and 2 MiB folios,
the upstream CPU copy against dcbm v2 and v3 on 1..16 channels. Here every point is
one :class:`~sim.kernel.request.MigrateRequest` on one platform: batches of up to
262,144 pages (1 GiB in one batch), so that 2 MiB folios spread over the channels.
The figure is the end-to-end rate: bytes moved over the whole migrate_pages()
time (``migrate_gbps``), the same measure for the CPU and the DMA rows. The
postings' own figures (:data:`sim.seed.LATER_SCALING`, the CPU's from
:data:`sim.seed.LATER_POSTING`) are shown beside the model's: measured on the
real machine, never fitted except the three calibration points
(:mod:`sim.experiments.calibrate_ptdma`).
"""
import dataclasses

from sim import seed

#: The postings' sweep.
CHANNELS = (1, 2, 4, 8, 16)
FOLIO_SIZES = (4096, 2 << 20)
DRIVERS = ("v2", "v3")
WORKLOAD_BYTES = 1 << 30
#: 1 GiB of 4 KiB pages: the whole move in one batch.
MAX_BATCH_PAGES = 262_144


@dataclasses.dataclass(frozen=True)
class Point:
    """One run of the experiment: the CPU baseline (driver None, channels None), the
    mt-cpu copy on ``threads`` kernel workers, or dcbm with a driver on a channel
    count."""
    folio_bytes: int
    driver: str | None
    channels: int | None
    threads: int | None = None

    @property
    def series(self):
        """The line of the figure this point is on."""
        size = f"{self.folio_bytes >> 20} MiB" if self.folio_bytes >= 1 << 20 \
            else f"{self.folio_bytes >> 10} KiB"
        return f"{size} {self.copy}"

    @property
    def copy(self):
        """CPU, mt-cpu or the dcbm version."""
        return "mt-cpu" if self.threads else (self.driver or "CPU")

    @property
    def column(self):
        """The channel (or thread) count of the point; None for the CPU baseline."""
        return self.threads or self.channels


def scaling_points(folio_sizes=FOLIO_SIZES, drivers=DRIVERS, channels=CHANNELS, threads=()):
    """Per folio size: the CPU baseline, the mt-cpu copy on every thread count, then
    every driver on every channel count."""
    points = []
    for folio in folio_sizes:
        points.append(Point(folio, None, None))
        points += [Point(folio, None, None, n) for n in threads]
        points += [Point(folio, driver, n) for driver in drivers for n in channels]
    return points


def scaling_request(point, base, machine):
    """The request of a point: ``base`` (a MigrateRequest giving workload, batch size,
    back-end, repeat...) with the point's folio size, mode and driver, on ``machine``
    with the point's channel count (see :func:`sim.machine.shorthand_key`)."""
    from sim.machine import shorthand_key
    changes = {"folio_bytes": point.folio_bytes, "machine": machine}
    if point.threads:
        changes.update(mode="mt-cpu", flow=None, threads=point.threads)
    elif point.driver is None:
        changes.update(mode="cpu", flow=None)
    else:
        key = shorthand_key(machine, "channels")
        changes.update(mode="dma", driver=point.driver,
                       machine=machine.with_values({key: point.channels}))
    return dataclasses.replace(base, **changes)


#: The platform whose kernel ran RFC v4 (sim/machines/zen3-ptdma-v7.toml): of its
#: postings only the four calibration points are shown; the rest are held out.
LATER_KERNEL_PLATFORM = "zen3-ptdma-v7"

#: What the table's "measured" lines are, by platform.
MEASURED_NOTES = {
    LATER_KERNEL_PLATFORM:
        "measured: RFC v4's four calibration points (1 GiB move_pages() on the 2-socket "
        "Zen 3 with PTDMA, v7.0 kernel; sim/seed.py), which calibrate the zen3-ptdma-v7 "
        "platform. Every other figure is the model's prediction.",
    None:
        "measured: the postings' 1 GiB move_pages() on the 2-socket Zen 3 with PTDMA "
        "(upstream CPU copy and dcbm v3: RFC V3; dcbm v2: RFC V2; sim/seed.py). Only "
        "the CPU rows and v3's 1-channel 2 MiB point calibrate the zen3-ptdma "
        "platform; the rest is predicted.",
}

#: GB (10^9 bytes) in a GiB: GB per CPU-second from CPU seconds per GiB.
GB_PER_GIB = (1 << 30) / 1e9


def platform_of(machine):
    """The built-in platform a machine names itself after (its name up to the colon)."""
    return machine.name.split(":")[0]


def measured(point, platform=None):
    """The postings' GB/s (mean, SD) of a point, or None where they did not measure it
    (or where it is held out): on zen3-ptdma-v7 RFC v4's calibration points, elsewhere
    the RFC V2/V3 figures."""
    if point.threads:
        return None                 # the postings' mt-cpu figures: predictions only
    if platform == LATER_KERNEL_PLATFORM:
        return next(((p["gbps"], None) for p in seed.LATER_KERNEL_POSTING
                     if p["folio_bytes"] == point.folio_bytes and p["driver"] == point.driver
                     and point.channels in (None, 1)), None)
    if point.driver is None:
        return next(((p["gbps"], None) for p in seed.LATER_POSTING
                     if p["copy"] == "cpu" and p["folio_bytes"] == point.folio_bytes), None)
    return seed.LATER_SCALING.get((point.driver, point.folio_bytes), {}).get(point.channels)


def gb_per_cpu_second(row):
    """GB moved per second of CPU time the migration consumed (its thread, interrupts
    and callbacks): what the move costs the machine."""
    return GB_PER_GIB / row["cpu_seconds_per_gib"]


def scaling_table(points, rows, channels, platform=None):
    """Per series, a line of the model's GB/s (the CPU's under every channel count, as
    it uses none, or the driver's at each count), one of the GB it moves per CPU-second,
    and one of the postings' GB/s where they measured it ("-" where not)."""
    lines = {}
    for point, row in zip(points, rows, strict=True):
        model = lines.setdefault(point.series, {"series": point.series, "source": "model"})
        cpu = lines.setdefault(point.series + " cpu", {"series": "", "source": "GB/CPU-s"})
        real = lines.setdefault(point.series + " measured",
                                {"series": "", "source": "measured"})
        got = measured(point, platform)
        for n in (channels if point.column is None else [point.column]):
            model[f"ch{n}"] = f"{row['migrate_gbps']:.2f}"
            cpu[f"ch{n}"] = f"{gb_per_cpu_second(row):.2f}"
            real[f"ch{n}"] = "-" if got is None else f"{got[0]:.2f}"
    return [line for line in lines.values()
            if line["source"] != "measured" or any(v != "-" for k, v in line.items()
                                                   if k.startswith("ch"))]


def scaling_figure(points, rows, channels, title, platform=None):
    """GB/s against channels, a line per folio size and driver; the CPU baselines as
    dashed horizontal lines; the postings' figures, where they measured, dotted in the
    same colors."""
    from sim.experiments.plot import line_chart
    series, baselines, real = {}, {}, {}
    for point, row in zip(points, rows, strict=True):
        got = measured(point, platform)
        if point.column is None:
            baselines[point.series] = row["migrate_gbps"]
            if got is not None:
                real[point.series] = got[0]
        else:
            at = channels.index(point.column)
            series.setdefault(point.series, [None] * len(channels))[at] = row["migrate_gbps"]
            if got is not None:
                real.setdefault(point.series, [None] * len(channels))[at] = got[0]
    return line_chart(title, "GB/s end to end (bytes / migrate_pages time)",
                      "dmaengine channels (dcbm nr_dma_chan)", list(channels), series,
                      baselines=baselines, measured=real)


def size_label(folio_bytes):
    """4K, 64K, 2M: a folio size as the CLI takes it."""
    return f"{folio_bytes >> 20}M" if folio_bytes >= 1 << 20 else f"{folio_bytes >> 10}K"


def folio_size_figure(points, rows, folio_sizes, title, platform=None):
    """GB/s against folio size, a line per driver and channel count, the CPU copies
    (upstream, mt-cpu per thread count) dashed; what was measured (on zen3-ptdma-v7
    the calibration points) as open markers in the line's color."""
    from sim.experiments.plot import line_chart
    series, real = {}, {}
    for point, row in zip(points, rows, strict=True):
        name = ("CPU" if point.column is None else f"mt-cpu {point.threads} thr"
                if point.threads else f"{point.driver} {point.channels} ch")
        at = folio_sizes.index(point.folio_bytes)
        series.setdefault(name, [None] * len(folio_sizes))[at] = row["migrate_gbps"]
        got = measured(point, platform)
        if got is not None:
            real.setdefault(name, [None] * len(folio_sizes))[at] = got[0]
    return line_chart(title, "GB/s end to end (bytes / migrate_pages time)", "folio size",
                      [size_label(size) for size in folio_sizes], series, measured=real,
                      dashed=[name for name in series if "CPU" in name or "cpu" in name])
