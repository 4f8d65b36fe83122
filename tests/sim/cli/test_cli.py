"""The foliodma command line: bench output, clear errors for bad input."""
import json
import re
from pathlib import Path

import pytest

from sim.cli.common import parse_size
from sim.cli.main import main

REQUIRED_KEYS = {"bytes", "cycles", "bytes_per_cycle", "peak_bytes_per_cycle", "efficiency",
                 "folios", "backend", "doorbell_to_first_ar_cycles",
                 "max_descriptor_gap_cycles", "wall_seconds"}


def test_parse_size():
    assert parse_size("4K") == 4096
    assert parse_size("2M") == 2 << 20
    assert parse_size("1GiB") == 1 << 30
    assert parse_size("512") == 512


def test_bench_json(capsys):
    assert main(["bench", "--folios", "3", "--latency", "16", "--backend", "pysim", "--json",
                 "--quiet"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == 1 and document["command"] == "bench"
    assert document["settings"]["folios"] == 3 and document["settings"]["latency"] == 16
    result, = document["rows"]
    assert REQUIRED_KEYS <= set(result)
    assert result["bytes"] == 3 * 4096 and result["folios"] == 3
    assert result["backend"] == "pysim"
    assert result["peak_bytes_per_cycle"] == 32
    assert 0 < result["efficiency"] <= 1
    assert result["bytes_per_cycle"] == pytest.approx(result["bytes"] / result["cycles"])


def test_bench_table(capsys):
    assert main(["bench", "--folios", "2", "--latency", "8", "--data-width", "64",
                 "--backend", "pysim", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "64-bit" in out and "efficiency" in out and "pysim" in out


@pytest.mark.parametrize("argv, message", [
    (["bench", "--data-width", "100"], "data_width=100 is out of range"),
    (["bench", "--folio-size", "100"], "not a positive multiple of the 32-byte beat"),
    (["bench", "--folio-size", "0"], "--folio-size 0 is not a positive multiple"),
    (["bench", "--folio-size", "0", "--driver", "v1"], "folios are whole 4 KiB pages"),
    (["bench", "--vcd", "w.lxt", "--backend", "icarus"], "give a path ending in .vcd or .fst"),
    (["bench", "--vcd", "w.vcd", "--backend", "pysim,icarus"], "the waveform of one back-end"),
    (["bench", "--vcd", "w.fst", "--backend", "verilator"], "give a path ending in .vcd"),
    (["migrate", "--vcd", "w.fst", "--backend", "pysim"], "give a path ending in .vcd"),
    (["bench", "--driver", "v1", "--vcd", "w.vcd", "--compare-idle-skip"],
     "two runs would write one waveform file"),
    (["bench", "--iommu-mode", "strict", "--compare-idle-skip"],
     "--compare-idle-skip, --iommu-mode act on the driver stack: add --driver"),
    (["sweep", "channels", "1,2", "--channels", "2"],
     "--channels is swept over 1,2 and also given as 2"),
    (["verilog", "--engines", "2"], "--engines 2: verilog builds one engine"),
    (["synth", "--engines", "4"], "--engines 4: synth builds one engine"),
])
def test_bad_input_is_refused_before_running(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["bench", "--folio-size", "3x"], "'3x' is not a size"),
    (["bench", "--folios", "0"], "'0' must be at least 1"),
    (["bench", "--backpressure", "1.5"], "'1.5' must be in [0, 1)"),
    (["bench", "--latency", "-3"], "'-3' must be at least 1"),
    (["bench", "--read-latency", "0"], "'0' must be at least 1"),
    (["migrate", "--latency", "-5"], "'-5' must be at least 0"),
    (["verilog", "--name", "bad name"], "'bad name' is not a Verilog identifier"),
    (["regs", "--out", __file__], "is a file, not a directory"),
    (["bench", "--seed", "x"], "'x' is not an integer >= 0"),
    (["migrate", "--vcd", "no/such/dir/copy.vcd"], "directory 'no/such/dir' does not exist"),
    (["migrate", "--vcd", "."], "'.' is a directory"),
])
def test_bad_arguments_exit_with_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_iverilog_is_named(monkeypatch, capsys):
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert main(["bench", "--backend", "icarus", "--folios", "1", "--quiet"]) == 1
    assert "iverilog" in capsys.readouterr().err


def test_regs_writes_the_docs_kept_in_the_repo(tmp_path, capsys):
    assert main(["regs", "--out", str(tmp_path / "regs")]) == 0
    docs = Path(__file__).resolve().parents[3] / "docs"
    for name in ("foliodma_regs.h", "registers.md"):
        assert (tmp_path / "regs" / name).read_text() == (docs / name).read_text()
    assert "wrote" in capsys.readouterr().out


def test_sweep_runs_migrate_per_value(tmp_path, capsys):
    figure = tmp_path / "sweep.svg"
    assert main(["sweep", "remote-cpus", "0,2", "--copy", "cpu", "--workload", "8K",
                 "--repeat", "2", "--json", "--plot", str(figure)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["option"] == "remote-cpus" and out["values"] == ["0", "2"]
    assert [row["swept"] for row in out["rows"]] == [{"remote-cpus": 0}, {"remote-cpus": 2}]
    assert all(row["integrity"]["ok"] for row in out["rows"])
    # Two remote CPUs to shoot down cost IPIs: migrate_pages grows, the copy does not.
    lone, shared = out["rows"]
    assert shared["migrate_pages_cycles_per_page"] > lone["migrate_pages_cycles_per_page"]
    assert shared["folio_copy_cycles_per_page"] == lone["folio_copy_cycles_per_page"]
    text = figure.read_text()           # SVG with its text as text (svg.fonttype none)
    assert text.startswith("<?xml") and "migrate_pages, CPU cycles per page against " \
        "--remote-cpus" in text and ">cpu<" in text


def test_migrate_mt_cpu_on_worker_threads(capsys):
    argv = ["migrate", "--copy", "batch-cpu", "--copy", "mt-cpu", "--threads", "4",
            "--workload", "8M", "--folio-size", "2M", "--repeat", "1", "--quiet"]
    assert main([*argv, "--json"]) == 0
    batch, mt = json.loads(capsys.readouterr().out)["rows"]
    assert (batch["threads"], mt["mode"], mt["threads"]) == (None, "mt-cpu", 4)
    assert mt["copy_gbps"] > 2 * batch["copy_gbps"] and mt["integrity"]["ok"]
    assert main([*argv, "--wide"]) == 0
    assert "mt-cpu x4" in capsys.readouterr().out
    assert main(["migrate", "--copy", "cpu", "--threads", "2", "--quiet"]) == 2
    assert "--threads 2: only --copy mt-cpu and dma+mt-cpu have worker threads" in capsys.readouterr().err


def test_migrate_prints_when_the_folios_were_usable_again(capsys):
    argv = ["migrate", "--copy", "batch-cpu", "--workload", "2M", "--repeat", "1", "--quiet"]
    assert main([*argv, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["first_folio_us"] <= row["median_folio_us"] <= row["last_folio_us"]
    assert main([*argv, "--folio-latency"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("when the folios were usable again"):].splitlines()
    assert table[3].split() == ["batch-cpu", f"{row['migrate_gbps']:.2f}",
                                *(f"{row[key]:,.1f}" for key in
                                  ("first_folio_us", "median_folio_us", "last_folio_us"))]
    assert main(argv) == 0
    assert "when the folios were usable again" not in capsys.readouterr().out


def test_sweep_of_the_batch_size_draws_first_folio_latency(tmp_path, capsys):
    figure = tmp_path / "latency.svg"
    assert main(["sweep", "max-batch-pages", "16,512", "--copy", "batch-cpu", "--workload",
                 "2M", "--repeat", "1", "--quiet", "--json", "--measure", "first_folio_us",
                 "--plot", str(figure)]) == 0
    small, large = json.loads(capsys.readouterr().out)["rows"]
    assert small["first_folio_us"] * 4 < large["first_folio_us"]
    assert small["migrate_gbps"] < large["migrate_gbps"]
    assert "first folio usable again" in figure.read_text()
    assert main(["sweep", "max-batch-pages", "16,512", "--copy", "batch-cpu", "--workload",
                 "2M", "--repeat", "1", "--quiet", "--measure", "first_folio_us"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("when the folios were usable again"):].splitlines()
    assert table[1].split()[-6:] == ["first", "folio", "median", "folio", "last", "folio"]
    assert [line.split()[0] for line in table[3:5]] == ["16", "512"]


def test_swept_values_are_typed_as_the_option_parses_them_the_table_shows_the_text(tmp_path,
                                                                                 capsys):
    import csv
    argv = ["sweep", "folio-size", "4K,2M", "--copy", "cpu", "--repeat", "1", "--quiet"]
    assert main([*argv, "--json", "--csv", str(tmp_path / "rows.csv")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["values"] == ["4K", "2M"]                    # as typed
    assert [row["swept"] for row in document["rows"]] == [{"folio-size": 4096},
                                                          {"folio-size": 2 << 20}]
    table = list(csv.DictReader((tmp_path / "rows.csv").open()))
    assert [row["swept.folio-size"] for row in table] == ["4096", "2097152"]
    assert main([*argv, "--wide"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[3:5]] == ["4K", "2M"]
    assert main(["sweep", "driver", "v3", "--copy", "cpu", "--workload", "8K", "--repeat", "1",
                 "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["swept"] == {"driver": "v3"}


def test_sweep_table_leads_with_the_option(capsys):
    assert main(["sweep", "mappings", "1,3", "--copy", "batch-cpu", "--workload", "8K",
                 "--repeat", "2", "--quiet", "--wide"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sweep of --mappings over 1, 3")
    assert lines[1].split()[:2] == ["mappings", "mode"]
    assert [line.split()[0] for line in lines[3:5]] == ["1", "3"]


def test_tables_fit_120_columns_unless_wide(capsys):
    argv = ["migrate", "--copy", "cpu", "--copy", "batch-cpu", "--workload", "8K",
            "--repeat", "2", "--quiet"]
    assert main(argv) == 0
    narrow = capsys.readouterr().out.splitlines()
    table = narrow[narrow.index(next(l for l in narrow if l.startswith("----"))) - 3:]
    table = table[:table.index("")]
    assert max(len(line) for line in table) <= 120
    assert table[-1] == "(left out to fit 120 columns: F, wall s; --wide shows every column)"
    # CPU s/GiB: its header wrapped, its values right-aligned under it, 3 decimals.
    end = table[2].index("s/GiB") + len("s/GiB")
    assert table[1][:end].endswith("CPU")
    assert all(re.fullmatch(r"\d+\.\d{3}", line[:end].split()[-1]) for line in table[4:6])
    assert main(argv + ["--wide"]) == 0
    wide = capsys.readouterr().out.splitlines()
    header = next(line for line in wide if line.lstrip().startswith("mode"))
    assert header.split()[-2:] == ["wall", "s"] and len(header) > 120
    assert "left out" not in "\n".join(wide)


def test_format_table_keeps_a_narrow_table_on_one_line_and_never_drops_required_columns():
    from sim.cli.common import format_table, set_table_width
    rows = [{"a": 1, "b": "x" * 30}]
    columns = (("first column", "a", "{}"), ("second", "b", "{}"))
    try:
        set_table_width(50)
        assert format_table(rows, columns).splitlines()[0].split() == ["first", "column", "second"]
        set_table_width(40)
        wrapped = format_table(rows, columns).splitlines()
        assert [line.split() for line in wrapped[:2]] == [["first"], ["column", "second"]]
        assert max(len(line) for line in wrapped) <= 40
        set_table_width(30)                            # too narrow, nothing optional to drop
        assert format_table(rows, columns) == "\n".join(wrapped)
    finally:
        set_table_width(120)


@pytest.mark.parametrize("argv, message", [
    (["sweep", "plot", "a.svg"], "cannot sweep --plot: expected one of"),
    (["sweep", "copy", "cpu"], "cannot sweep --copy"),
    (["sweep", "set", "memory.remote.read_gbps=80"], "cannot sweep --set: expected one of"),
    (["sweep", "channels", "1,99"], "--channels 99: channels=99 is out of range"),
    (["sweep", "driver", "v1,v4"], "--driver 'v4': expected one of v1, v2, v3"),
    (["sweep", "folio-size", "4K,3x"], "--folio-size '3x': '3x' is not a size"),
    (["sweep", "folio-size", "4K,3K"], "--folio-size 3K: folio size 3072"),
    (["sweep", "folio-size", "4K,4M", "--workload", "8M"], "--folio-size 4M: folio size"),
    (["sweep", "channels", "1,1"], "--channels '1': the same value as '1', already swept"),
    (["sweep", "folio-size", "4K,4096"], "--folio-size '4096': the same value as '4K'"),
    (["sweep", "channels", "1,2", "--inject-poison", "999"], "index"),
    (["sweep", "to-node", "0,1", "--measure", "post_move_access", "--plot", "p.svg"],
     "--to-node 1: --measure post_move_access has no value"),
])
def test_sweep_refuses_bad_options_and_values_before_running(argv, message, monkeypatch,
                                                              capsys):
    def run_request(*args, **kwargs):
        raise AssertionError("a sweep with a bad value ran a simulation")
    monkeypatch.setattr("sim.kernel.request.run_request", run_request)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "--channels 1:" not in err            # options not swept are not blamed on a value


@pytest.mark.parametrize("argv, message", [
    (["sweep", "engines", "1,2,4", "--channels", "4"],
     "--engines 2: --channels 4: dma.nr_dma_chan=4: expected 'all' or an int in 1..2"),
    (["sweep", "data-width", "128,100"], "--data-width 100: data_width=100 is out of range"),
    (["migrate", "--folio-size", "12K"], "folio size 12288"),
])
def test_every_combination_is_checked_before_an_engine_is_built(argv, message):
    """Not a build, not even the import of the compiled back-end, before every value
    and option is checked (with the default --backend auto)."""
    import subprocess
    import sys
    check = ("import sys; from sim.cli.main import main; status = main(sys.argv[1:]); "
             "assert 'sim.backends.verilator' not in sys.modules, 'verilator imported'; "
             "sys.exit(status)")
    done = subprocess.run([sys.executable, "-c", check, *argv], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[3], timeout=120)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "built the" not in done.stderr


def test_an_error_found_while_running_is_a_message(monkeypatch, capsys):
    from sim.kernel.folios import MigrateError

    def run_request(*args, **kwargs):
        raise MigrateError("batches did not repeat their timing")
    monkeypatch.setattr("sim.kernel.request.run_request", run_request)
    assert main(["migrate", "--copy", "cpu", "--workload", "8K"]) == 2
    assert capsys.readouterr().err == \
        "foliodma migrate: error: batches did not repeat their timing\n"


@pytest.mark.parametrize("stop, status, err", [
    (KeyboardInterrupt, 130, "foliodma migrate: interrupted\n"),
    (BrokenPipeError, 1, ""),
])
def test_interrupt_and_closed_pipe_end_without_traceback(stop, status, err, monkeypatch,
                                                          capsys):
    def run_request(*args, **kwargs):
        raise stop()
    monkeypatch.setattr("sim.kernel.request.run_request", run_request)
    assert main(["migrate", "--copy", "cpu", "--workload", "8K"]) == status
    assert capsys.readouterr().err == err


def test_sweep_in_parallel_gives_the_same_rows(capsys):
    argv = ["sweep", "remote-cpus", "0,1,3", "--copy", "cpu", "--copy", "batch-cpu",
            "--workload", "16K", "--repeat", "3", "--json", "--quiet"]
    figures = ("migrate_pages_cycles_per_page", "folio_copy_cycles_per_page", "F", "swept")
    runs = []
    for jobs in ("1", "2"):
        assert main(argv + ["--jobs", jobs]) == 0
        rows = json.loads(capsys.readouterr().out)["rows"]
        runs.append([(row["mode"], *(row[key] for key in figures)) for row in rows])
    assert runs[0] == runs[1] and len(runs[0]) == 6


@pytest.mark.parametrize("backends, message", [
    ("icarus,cxx", "expected 'all' or distinct back-ends"),
    ("icarus,icarus", "expected 'all' or distinct back-ends"),
    ("", "expected 'all' or distinct back-ends"),
    ("auto,pysim", "auto picks one back-end; give it alone"),
])
def test_bench_backends_must_be_known_and_distinct(backends, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["bench", "--backend", backends])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def no_verilator(monkeypatch):
    """The compiled back-end cannot be built here (its tools missing)."""
    import sim.backends.verilator as verilator_backend

    def missing():
        raise verilator_backend.VerilatorNotFoundError("g++ not found on PATH (test)")
    monkeypatch.setattr(verilator_backend, "require_verilator", missing)


FALLBACK = "running on pysim: the compiled back-end is not available here (g++ not found"


@pytest.mark.parametrize("available", [True, False], ids=["builds", "missing"])
@pytest.mark.parametrize("argv", [["migrate", "--copy", "dma", "--workload", "8K", "--repeat", "1"],
                                  ["bench", "--folios", "2", "--latency", "8"]],
                         ids=["migrate", "bench"])
def test_backend_auto_is_the_default_and_falls_back_to_pysim_saying_why(argv, available,
                                                                         monkeypatch, capsys):
    if not available:
        no_verilator(monkeypatch)
    assert main([*argv, "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    row, = document["rows"]
    ran_on = "verilator" if available else "pysim"
    assert row["backend"] == ran_on
    assert document["settings"]["backend"] in (ran_on, [ran_on])     # bench takes a list
    assert (FALLBACK in captured.err) != available


@pytest.mark.parametrize("command", ["migrate", "sweep", "bench", "reproduce", "scaling",
                                     "stress"])
def test_every_backend_option_defaults_to_auto(command):
    from sim.cli.main import build_parser
    extra = {"sweep": ["channels", "1"]}.get(command, [])
    backend = build_parser().parse_args([command, *extra]).backend
    assert backend == (("auto",) if command == "bench" else "auto")


def test_sweep_resolves_auto_once_for_every_point(monkeypatch, capsys):
    no_verilator(monkeypatch)
    assert main(["sweep", "driver", "v2,v3", "--copy", "dma", "--workload", "8K", "--repeat",
                 "1", "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert [row["backend"] for row in json.loads(captured.out)["rows"]] == ["pysim", "pysim"]
    assert captured.err.count(FALLBACK) == 1


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == "foliodma 0.1.0"


def test_progress_rate_counts_simulated_cycles_over_the_last_interval(monkeypatch, capsys):
    from sim.cli import common as cli
    clock = iter([0.0, 0.5, 2.0, 4.0])
    monkeypatch.setattr(cli.time, "perf_counter", lambda: next(clock))
    progress = cli.Progress("run")
    progress(1000, 1000)            # 0.5 s after the start: too soon, not shown
    progress(50_000, 3000)          # 2 s: 3,000 simulated, 47,000 skipped
    progress(60_000, 13_000)        # 2 s later: 10,000 more simulated
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "run: cycle 50,000, 47,000 skipped as idle; simulating 1,500 cycles/s over the last 2.0 s",
        "run: cycle 60,000, 47,000 skipped as idle; simulating 5,000 cycles/s over the last 2.0 s"]


def test_csv_rows_of_migrate_and_reproduce_style_nesting(tmp_path, capsys):
    import csv
    path = tmp_path / "rows.csv"
    assert main(["migrate", "--copy", "cpu", "--copy", "batch-cpu", "--workload", "8K",
                 "--repeat", "2", "--csv", str(path), "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    table = list(csv.DictReader(path.open()))
    assert [row["mode"] for row in table] == ["cpu", "batch-cpu"]
    for row, written in zip(rows, table):
        assert float(written["migrate_pages_cycles_per_page"]) == \
            pytest.approx(row["migrate_pages_cycles_per_page"])
        assert float(written["breakdown_cycles_per_page.core"]) == \
            pytest.approx(row["breakdown_cycles_per_page"]["core"])
        assert written["integrity.ok"] == "True"
    with pytest.raises(SystemExit) as stop:
        main(["bench", "--csv", str(tmp_path / "rows.txt")])
    assert stop.value.code == 2 and "give a path ending in .csv" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["migrate", "--copy", "dma", "--workload", "16K", "--driver", "v2", "--repeat", "3",
     "--backend", "verilator", "--data-width", "128"],
    ["bench", "--folios", "3", "--latency", "30", "--backend", "pysim,verilator"],
], ids=["migrate", "bench"])
def test_a_json_result_runs_again_from_itself(argv, tmp_path, capsys):
    assert main([*argv, "--json", "--quiet"]) == 0
    first = capsys.readouterr().out
    (tmp_path / "result.json").write_text(first)
    assert main([argv[0], "--from-json", str(tmp_path / "result.json"), "--json",
                 "--quiet"]) == 0
    again = json.loads(capsys.readouterr().out)
    first = json.loads(first)
    assert again["settings"] == {**first["settings"],
                                 "from_json": str(tmp_path / "result.json")}

    def steady(rows):
        timing = {"wall_seconds", "cpu_seconds", "build_seconds", "build_cached",
                  "ticked_per_wall_second", "ticked_per_cpu_second"}
        return [{k: v for k, v in row.items() if k not in timing} for row in rows]
    assert steady(again["rows"]) == steady(first["rows"])


def test_from_json_refuses_another_commands_result(tmp_path, capsys):
    (tmp_path / "r.json").write_text(json.dumps({"schema_version": 1, "command": "bench",
                                                 "settings": {}, "rows": []}))
    assert main(["migrate", "--from-json", str(tmp_path / "r.json")]) == 2
    assert "not the --json output (schema version 1) of foliodma migrate" in \
        capsys.readouterr().err


def test_run_counter_estimates_the_time_left(monkeypatch):
    from sim.cli import common
    clock = iter([100.0, 110.0, 130.0, 160.0])
    monkeypatch.setattr(common.time, "perf_counter", lambda: next(clock))
    counter = common.RunCounter(3)
    assert counter.done() == "1 of 3 runs done, 10 s so far, about 20 s left"
    assert counter.done() == "2 of 3 runs done, 30 s so far, about 15 s left"
    assert counter.done() == "3 of 3 runs done, 60 s so far"


def test_verilog_writes_the_engine_without_this_machines_paths(tmp_path, capsys):
    out = tmp_path / "engine.v"
    assert main(["verilog", "--data-width", "64", "--out", str(out), "--name", "dma"]) == 0
    text = out.read_text()
    assert "module dma(" in text and "endmodule" in text
    assert str(Path.cwd()) not in text and "(* src =" not in text
    assert f"wrote {out} (64-bit" in capsys.readouterr().out
