"""The zen3-ptdma platform against the three points of the later posting it is calibrated on
(sim/experiments/calibrate_ptdma.py; the fit itself runs as a script: it simulates 1 GiB
a dozen times)."""
import pytest

from sim import seed
from sim.experiments.calibrate_ptdma import (COPY_FIELDS, CORE_FIELDS, DMA_POINT, PLATFORM,
                                             cpu_gbps, fit_clock)
from sim.host.costs import DEFAULT_COSTS
from sim.machine import load_machine


@pytest.fixture(scope="module")
def platform():
    return load_machine(PLATFORM)


def test_the_cpu_side_is_the_seeds_times_one_factor_per_group(platform):
    """Two numbers calibrate the CPU side: one factor on every per-folio migration step,
    one on every CPU copy's time; the file holds them rounded."""
    for fields, ratio in ((CORE_FIELDS, lambda new, old: new / old),
                          (COPY_FIELDS, lambda new, old: old / new)):
        factors = [ratio(getattr(platform.costs, name), getattr(DEFAULT_COSTS, name))
                   for name in fields]
        assert max(factors) == pytest.approx(min(factors), rel=2e-3)
        assert factors[0] != pytest.approx(1, abs=0.01)       # calibrated, not the seed's
    others = set(DEFAULT_COSTS.field_names()) - {*CORE_FIELDS, *COPY_FIELDS}
    assert all(getattr(platform.costs, name) == getattr(DEFAULT_COSTS, name) for name in others)


def test_the_platform_meets_its_calibration_points(platform):
    # The CPU points to 1% (the fit leaves rounding only); the DMA point within 10%.
    for point in seed.LATER_POSTING:
        if point["copy"] == "cpu":
            assert cpu_gbps(platform, point["folio_bytes"]) == \
                pytest.approx(point["gbps"], rel=0.01)
    clock = fit_clock(platform)
    assert clock["engine_mhz"] == platform.engine_mhz       # no step away from the file's
    assert clock["model_gbps"] == pytest.approx(DMA_POINT["gbps"], rel=0.1)
    assert abs(clock["residual"]) < 0.002
