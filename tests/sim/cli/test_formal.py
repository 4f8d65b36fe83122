"""`foliodma formal`: lists the properties, proves the chosen ones, and says what failed."""
import json

from hw.formal import run as formal_run
from hw.formal.run import prove
from sim.cli.main import main
from tests.hw.formal.mutants import broken


def test_list_names_every_property_with_its_kind(capsys):
    assert main(["formal", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert "axi.w.burst_length" in names and "channel0.cover.abort_drains" in names
    assert len(names) == len(set(names))


def test_a_proof_prints_its_table_and_json(tmp_path, capsys, monkeypatch):
    proved = []

    def recorded(*args, **kwargs):
        proved.append(prove(*args, **kwargs))
        return proved[-1]
    monkeypatch.setattr(formal_run, "prove", recorded)
    assert main(["formal", "--only", "lite.r.held,lite.cover", "--depth", "6",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "lite.r.held_until_ready" in out and "proved (k-induction" in out
    assert "lite.cover.write_then_read" in out and "reached at step" in out
    # The same results as JSON (not proved a second time).
    monkeypatch.setattr(formal_run, "prove", lambda *args, **kwargs: proved[0])
    assert main(["formal", "--only", "lite.r.held,lite.cover", "--json"]) == 0
    rows = {row["name"]: row["status"] for row in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["lite.r.held_until_ready"] == "proved"
    assert rows["lite.cover.write_then_read"] == "reached"


def test_a_failure_exits_1_and_names_the_property_and_its_trace(tmp_path, capsys):
    with broken("hw.regblock", "RegisterBlock", "m.d.comb += write.eq(aw_held & w_held)",
                "m.d.comb += write.eq(aw_held | w_held)"):
        status = main(["formal", "--only", "lite.b.one_per_write", "--depth", "6",
                       "--induction-seconds", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 1
    assert "lite.b.one_per_write failed:" in out and ".vcd" in out


def test_an_unknown_property_is_a_clear_error(capsys):
    assert main(["formal", "--only", "no.such"]) == 1
    assert "no property matches no.such" in capsys.readouterr().err
