"""``foliodma scaling``: the later postings' channel-scaling experiment, small."""
import json

import pytest

from sim.cli.main import main

MiB = 1 << 20
SMALL = ["scaling", "--platform", "zen3-ptdma", "--workload", "16M", "--folio-sizes", "2M",
         "--drivers", "v3", "--channels", "1,2", "--backend", "verilator", "--repeat", "2",
         "--quiet"]


def test_scaling_spreads_a_batch_over_engines_and_shows_the_measured_figures(tmp_path, capsys):
    figure = tmp_path / "scaling.svg"
    assert main(SMALL + ["--json", "--plot", str(figure)]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [row["point"] for row in rows] == [
        {"folio_bytes": 2 * MiB, "driver": None, "channels": None, "threads": None,
         "measured_gbps": 10.67},
        {"folio_bytes": 2 * MiB, "driver": "v3", "channels": 1, "threads": None,
         "measured_gbps": 12.50},
        {"folio_bytes": 2 * MiB, "driver": "v3", "channels": 2, "threads": None,
         "measured_gbps": 14.23}]
    cpu, one, two = rows
    assert (cpu["mode"], one["mode"], two["mode"]) == ("cpu", "dma", "dma")
    assert all(row["integrity"]["ok"] and row["batches"] == 1 for row in rows)
    # Two channels are the two PTDMA engines of one root complex, sharing its I/O
    # port (zen3-ptdma's pairs): the copy hardly speeds up.
    assert one["migrate_gbps"] < two["migrate_gbps"] < 1.15 * one["migrate_gbps"]
    text = figure.read_text()
    assert ">2 MiB v3<" in text and ">2 MiB CPU<" in text and "against channels" in text


def test_unpaired_engines_are_one_set_away(capsys):
    # Each engine on a port of its own: two channels nearly double the copy (the
    # CPU's part of the move does not shrink).
    assert main(SMALL + ["--json", "--set", "dma.engines_per_port=1"]) == 0
    _, one, two = json.loads(capsys.readouterr().out)["rows"]
    assert 1.6 * one["migrate_gbps"] < two["migrate_gbps"] < 2 * one["migrate_gbps"]


def test_scaling_table_puts_the_postings_figures_under_the_models(capsys):
    assert main(SMALL) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("folio size"))
    assert lines[header].split()[-6:] == ["1", "ch", "GB/s", "2", "ch", "GB/s"]
    cpu, cpu_cost, cpu_measured, v3, v3_cost, v3_measured = (
        line.split() for line in lines[header + 2:header + 8])
    assert cpu[:4] == ["2", "MiB", "CPU", "model"] and cpu[4] == cpu[5]
    assert cpu_measured == ["measured", "10.67", "10.67"]
    assert v3[:4] == ["2", "MiB", "v3", "model"]
    assert v3_measured == ["measured", "12.50", "14.23"]
    # GB per CPU-second: the CPU copy costs its whole time; DMA frees most of it.
    assert cpu_cost[0] == v3_cost[0] == "GB/CPU-s"
    assert float(cpu_cost[1]) == pytest.approx(float(cpu[4]), rel=0.01)
    assert float(v3_cost[1]) > 5 * float(v3[4])


def test_the_later_kernel_shows_only_its_calibration_points_and_draws_against_folio_size(
        tmp_path, capsys):
    figure = tmp_path / "sizes.svg"
    assert main(["scaling", "--platform", "zen3-ptdma-v7", "--workload", "4M", "--folio-sizes",
                 "64K,2M", "--drivers", "v3", "--channels", "1,2", "--threads", "2",
                 "--backend", "verilator", "--repeat", "1", "--quiet", "--json", "--plot",
                 str(figure), "--plot-against", "folio-size"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [row["point"]["measured_gbps"] for row in rows] == [6.16, None, None, None,
                                                               10.88, None, 12.64, None]
    assert [row["mode"] for row in rows[:4]] == ["cpu", "mt-cpu", "dma", "dma"]
    assert rows[1]["threads"] == 2 and rows[1]["point"]["threads"] == 2
    text = figure.read_text()
    assert ">v3 2 ch<" in text and ">CPU<" in text and ">mt-cpu 2 thr<" in text
    assert ">64K<" in text
    assert "on zen3-ptdma-v7: GB/s against folio size" in text


@pytest.mark.parametrize("option, value, message", [
    ("--channels", "1,0", "'0': '0' must be at least 1"),
    ("--channels", "2,2", "'2' is given twice"),
    ("--drivers", "v3,v9", "'v9' is not a driver (expected one of v1, v2, v3)"),
    ("--folio-sizes", "4K,3K", "'3K': folio size 3072"),
])
def test_scaling_refuses_bad_values_before_running(option, value, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["scaling", option, value, "--quiet"])
    assert stop.value.code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err


def test_sweep_of_channels_draws_the_cpu_as_a_baseline(tmp_path, capsys):
    figure = tmp_path / "channels.svg"
    assert main(["sweep", "channels", "1,4", "--platform", "zen3-ptdma", "--workload", "8M",
                 "--folio-size", "2M", "--max-batch-pages", "2048", "--copy", "cpu",
                 "--copy", "dma", "--backend", "verilator", "--repeat", "2", "--quiet",
                 "--measure", "migrate_gbps", "--json", "--plot", str(figure)]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    cpu = [row["migrate_gbps"] for row in rows if row["mode"] == "cpu"]
    dma = [row["migrate_gbps"] for row in rows if row["mode"] == "dma"]
    assert cpu[0] == cpu[1] and dma[1] > 1.5 * dma[0]
    text = figure.read_text()
    # The CPU line is dashed (stroke-dasharray), the DMA line solid.
    assert ">cpu<" in text and ">dma (v3)<" in text and "stroke-dasharray" in text
