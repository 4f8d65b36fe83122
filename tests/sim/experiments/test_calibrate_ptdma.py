"""The PTDMA platforms against the points of the later postings they are calibrated on
(sim/experiments/calibrate_ptdma.py; the fit itself runs as a script: it simulates 1 GiB
a dozen times)."""
import pytest

from sim.experiments.calibrate_ptdma import (CALIBRATIONS, CostTable, cpu_gbps, fit_clock,
                                             load_machine)
from sim.host.costs import DEFAULT_COSTS


def _factor_of(group, platform):
    """The one factor the platform's file applies to a group's seed values."""
    factors = [getattr(DEFAULT_COSTS, name) / getattr(platform.costs, name) if group.divides
               else getattr(platform.costs, name) / getattr(DEFAULT_COSTS, name)
               for name in group.fields]
    assert max(factors) == pytest.approx(min(factors), rel=2e-3), group.name
    return factors[0]


@pytest.mark.parametrize("name", sorted(CALIBRATIONS))
def test_the_cpu_side_is_the_seeds_times_one_factor_per_group(name):
    """One number per group calibrates the CPU side (the file holds them rounded); every
    other cost is the seed's."""
    calibration, platform = CALIBRATIONS[name], load_machine(name)
    assert len(calibration.groups) == len(calibration.cpu_points)
    for group in calibration.groups:
        assert _factor_of(group, platform) != pytest.approx(1, abs=0.01)   # not the seed's
    fitted = {name for group in calibration.groups for name in group.fields}
    others = set(CostTable.field_names()) - fitted
    assert all(getattr(platform.costs, name) == getattr(DEFAULT_COSTS, name) for name in others)


def test_zen3_ptdma_meets_its_calibration_points():
    # The CPU points to 1% (the fit leaves rounding only); the DMA point within 10%.
    calibration = CALIBRATIONS["zen3-ptdma"]
    platform = load_machine(calibration.platform)
    for size, gbps in calibration.cpu_points.items():
        assert cpu_gbps(platform, size) == pytest.approx(gbps, rel=0.01)
    clock = fit_clock(platform, calibration.dma_point)
    assert clock["engine_mhz"] == platform.engine_mhz       # no step away from the file's
    assert clock["model_gbps"] == pytest.approx(calibration.dma_point["gbps"], rel=0.1)
    assert abs(clock["residual"]) < 0.002


def test_the_v7_kernel_is_zen3_ptdma_with_its_own_cpu_side():
    """The same hardware (engine clock, engines, their ports); the 64 KiB point, the one
    that sets the per-entry steps apart, met (the other three points run in the
    script: a minute and more)."""
    calibration = CALIBRATIONS["zen3-ptdma-v7"]
    v7, v3 = load_machine(calibration.platform), load_machine("zen3-ptdma")
    hardware = ("clocks.engine_mhz", "dma.engines", "dma.engines_per_port",
                "dma.port_read_gbps", "dma.max_inflight", "dma.data_width")
    assert {k: v7.values()[k] for k in hardware} == {k: v3.values()[k] for k in hardware}
    assert cpu_gbps(v7, 64 << 10) == pytest.approx(calibration.cpu_points[64 << 10], rel=0.01)
    # Per PTE, the v7.0 kernel's steps cost more than the seed's estimate; per folio, less.
    entry, per_folio = (_factor_of(group, v7) for group in calibration.groups[1::-1])
    assert entry > 1 > per_folio
