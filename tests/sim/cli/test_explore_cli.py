"""foliodma explore on the command line: its outputs and its errors."""
import json

import pandas
import pytest

from sim.cli.main import main

SPACE = ('backend = "verilator"\n[axes]\ndriver = ["v2", "v3"]\n[area]\nenabled = false\n'
         '[[workloads]]\nfolio_size = "4K"\nsize = "256K"\n')


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    return path


def test_tables_and_every_output_file(space, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    status = main(["explore", str(space), "--workers", "0", "--cache-dir", str(tmp_path / "c"),
                   "--csv", str(out / "rows.csv"), "--parquet", str(out / "rows.parquet"),
                   "--html", str(out / "report.html"), "--plot", str(out / "front.svg"),
                   "--rows", "--wide"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    text = captured.out
    assert "Crossover: per workload" in text and "Pareto front per workload" in text
    assert "Which parameter matters" in text and "driver=v3" in text
    assert "evaluations: 3 computed (3 migration), 0 from the cache; 0 failed" in text
    assert "explore: 2 of 2 points done" in captured.err
    csv = pandas.read_csv(out / "rows.csv")
    parquet = pandas.read_parquet(out / "rows.parquet")
    assert list(csv["driver"]) == list(parquet["driver"]) == ["v2", "v3"]
    assert csv["dma_gbps"].tolist() == pytest.approx(parquet["dma_gbps"].tolist())
    page = (out / "report.html").read_text()
    # Self-contained, and each point's configuration in its hover text.
    assert "<script" in page and "<script src=" not in page and "driver: v3" in page
    assert (out / "front.svg").read_text().startswith("<?xml")


def test_parquet_takes_an_axis_of_numbers_and_words(tmp_path):
    from sim.cli.explore import write_parquet
    rows = [{"axes": {"engine_mhz": "fmax"}, "dma_gbps": 1.5, "busy": {"socket link": 0.5}},
            {"axes": {"engine_mhz": 1000}, "dma_gbps": 2.5, "busy": {}}]
    write_parquet(tmp_path / "rows.parquet", rows)
    frame = pandas.read_parquet(tmp_path / "rows.parquet")
    assert list(frame["axes.engine_mhz"]) == ["fmax", "1000"]
    assert list(frame["dma_gbps"]) == [1.5, 2.5]


def test_json_document(space, tmp_path, capsys):
    assert main(["explore", str(space), "--workers", "0", "--cache-dir", str(tmp_path / "c"),
                 "--json", "--quiet"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["objectives"] == ["dma_gbps:max", "dma_cpu_s_per_gib:min"]
    assert [row["driver"] for row in document["rows"]] == ["v2", "v3"]
    assert document["crossovers"][0]["workload"] == "4K x 256K"
    assert document["info"]["valid"] == 2 and document["info"]["evaluations"]["migration"] == 3


@pytest.mark.parametrize("arguments, message", [
    (["nope.toml"], "space file nope.toml: no such file (built-in spaces: crossover, quick"),
    (["{space}", "--search", "nsga2"], "the nsga2 search needs a budget"),
    (["{space}", "--objectives", "dma_gbps,luts"], "objective luts needs the engine's area"),
    (["{space}", "--workers", "0", "--scheduler", "tcp://127.0.0.1:1"], "in this process"),
    (["{space}", "--csv", "rows.txt"], "give a path ending in .csv"),
])
def test_errors_name_the_problem(space, tmp_path, capsys, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    arguments = [a.format(space=space) for a in arguments]
    try:
        status = main(["explore", *arguments, "--cache-dir", str(tmp_path / "c")])
    except SystemExit as exit_info:
        status = exit_info.code
    assert status == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_invalid_combinations_are_named_or_left_out_when_asked(tmp_path, capsys):
    path = tmp_path / "space.toml"
    text = ('backend = "verilator"\n[axes]\nengines = [1, 2]\nchannels = [1, 2, 4]\n'
            '[area]\nenabled = false\n[[workloads]]\nfolio_size = "4K"\nsize = "256K"\n')
    path.write_text(text)
    assert main(["explore", str(path), "--workers", "0", "--cache-dir",
                 str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "1 of 6 combinations are not valid machines (engines=2, channels=4:" in err
    assert "search.skip_invalid = true" in err
