"""The calibration script: fits only the CPU rows, matches sim/host/costs.py, prints its sources."""
import io

import pytest

from sim import seed
from sim.experiments import calibrate
from sim.experiments.calibrate import UNKNOWNS, calibrate as run_calibration, jitter, main, report


@pytest.fixture(scope="module")
def result():
    return run_calibration()


def test_fitted_values_are_the_ones_in_costs(result):
    for name in UNKNOWNS:
        const, digits = calibrate.STORED[name]
        fitted = calibrate._stored_form(name, result["theta"][name])[1]
        stored = calibrate._stored_form(name, result["stored"][name])[1]
        assert fitted == pytest.approx(stored, abs=1.01 * 10 ** -digits), (name, const)
    for name, (value, _) in jitter().items():
        assert round(value, 4) == getattr(calibrate.costs_module, calibrate.JITTER_STORED[name])


def test_every_cpu_cell_within_ten_percent(result):
    assert len(result["residuals"]) == 16
    for cell, error in result["residuals"].items():
        assert abs(error) <= 0.10, cell
    assert result["linearity_error"] < 1e-3


def test_dma_rows_are_not_an_input(monkeypatch, result):
    changed = dict(seed.TABLE1)
    for key in [k for k in changed if k[0] == "dma"]:
        changed[key] = tuple(v * 3 for v in changed[key])
    monkeypatch.setattr(seed, "TABLE1", changed)
    again = calibrate.fit()
    for name in UNKNOWNS:
        assert again["theta"][name] == pytest.approx(result["theta"][name], rel=1e-9)


def test_report_prints_constants_residuals_and_sources(result):
    out = io.StringIO()
    report(result, out)
    text = out.getvalue()
    for name in UNKNOWNS:
        assert name in text
        assert calibrate.SOURCES[name] in text
    assert "Residuals" in text and "largest:" in text and "DIFFERS" not in text
    assert "The DMA rows are not used" in text


def test_main_runs(capsys):
    assert main([]) == 0
    assert "Fitted constants" in capsys.readouterr().out
