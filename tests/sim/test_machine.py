"""The platform: one Machine value, its file, and the commands that take it."""
import dataclasses
import json
import pickle

import pytest

from sim.cli.main import main
from sim.kernel.request import MigrateRequest, run_request
from sim.machine import (DEFAULT_FILE, DEFAULT_MACHINE, MachineError, load_machine,
                         render_toml)


def migrate_json(capsys, *extra):
    """The --json document of a small DMA migrate on the compiled back-end."""
    assert main(["migrate", "--copy", "dma", "--workload", "64K", "--repeat", "1",
                 "--backend", "verilator", "--json", "--quiet", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_shipped_file_is_the_built_in_machine_with_every_source():
    text = DEFAULT_FILE.read_text()
    assert text == render_toml(DEFAULT_MACHINE), \
        "sim/machines/seed.toml is stale: foliodma platform show --toml > sim/machines/seed.toml"
    assert load_machine(DEFAULT_FILE) == DEFAULT_MACHINE
    # Every value has a comment line (its source) right above it.
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert lines[i - 1].startswith("# "), line


def test_platform_show_json_prints_the_default_platform(capsys):
    assert main(["platform", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == json.loads(json.dumps(DEFAULT_MACHINE.as_dict()))
    # Remote DRAM: 100 ns of DRAM behind the 100 ns socket link.
    assert shown["memory"]["remote"]["read_latency_ns"] == 100.0
    assert shown["memory"]["socket_link"] == {"read_latency_ns": 100.0,
                                              "write_latency_ns": 100.0, "read_gbps": 100.0,
                                              "write_gbps": 100.0}
    assert shown["dma"]["data_width"] == 256


def test_one_llc_and_one_cpu_clock():
    machine = DEFAULT_MACHINE.with_values({"cache.llc_bytes_per_ccx": 16 << 20,
                                           "clocks.cpu_ghz": 3.0})
    assert machine.costs.llc_bytes == machine.cache.llc_bytes_per_ccx == 16 << 20
    assert machine.cache.core_ghz == 3.0
    assert "costs.llc_bytes" not in machine.values()
    with pytest.raises(MachineError, match="one LLC"):
        dataclasses.replace(machine, costs=DEFAULT_MACHINE.costs)


def test_a_modified_platform_file_changes_a_migrate_row(tmp_path, capsys):
    base = migrate_json(capsys)["rows"][0]
    slow = tmp_path / "slow-remote.toml"
    slow.write_text("name = \"slow remote\"\n[memory.remote]\nread_latency_ns = 800.0\n"
                    "read_gbps = 10.0\n")
    document = migrate_json(capsys, "--platform", str(slow))
    row = document["rows"][0]
    assert document["machine"]["name"] == "slow remote"
    assert document["machine"]["memory"]["remote"]["read_gbps"] == 10.0
    assert row["integrity"]["ok"]
    # The sources are on the remote node: a slower node makes the DMA copy slower.
    assert row["folio_copy_cycles_per_page"] > 1.1 * base["folio_copy_cycles_per_page"]
    assert row["migrate_pages_cycles_per_page"] > base["migrate_pages_cycles_per_page"]


def test_options_override_the_file_and_set_overrides_options(tmp_path, capsys):
    path = tmp_path / "two.toml"
    path.write_text("[dma]\nchannels = 2\ndata_width = 128\n[clocks]\nengine_mhz = 500.0\n")
    machine = migrate_json(capsys, "--platform", str(path), "--channels", "4",
                           "--set", "clocks.engine_mhz=250")["machine"]
    assert machine["dma"]["channels"] == 4          # the option over the file
    assert machine["dma"]["data_width"] == 128      # the file over the built-in
    assert machine["clocks"]["engine_mhz"] == 250   # --set last


@pytest.mark.parametrize("content, message", [
    ("[memory.remote]\nlatency = 3\n", "unknown platform value(s): memory.remote.latency"),
    ("[dma]\nchannels = 99\n", "channels=99 is out of range"),
    ("[clocks\n", "not valid TOML"),
    ("[memory.local]\nread_gbps = \"fast\"\n", "expected GB/s or 'unlimited'"),
    ("[clocks]\ncpu_ghz = 0\n", "a clock frequency must be a positive number"),
    ("[dma]\nring_entries = 32\nmax_inflight = 32\n", "dma.max_inflight=32: expected 'all' or "
                                                    "an int in 1..31"),
    ("[dma]\nmax_seg_size = 16\n", "dma.max_seg_size=16: expected an int of at least one beat"),
    ("[dma]\nengines = 2\nnr_dma_chan = 3\n", "dma.nr_dma_chan=3: expected 'all' or an int "
                                                "in 1..2"),
    ("[iommu]\npage_sizes_kib = [4, 48]\n", "iommu.page_sizes_kib=(4, 48): expected distinct "
                                            "powers of two"),
    ("[iommu]\nwalk_read_ns = \"dram\"\n", "iommu.walk_read_ns='dram': expected ns or 'node'"),
])
def test_bad_platform_files_are_named(tmp_path, capsys, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    assert main(["platform", "show", "--platform", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"platform file {path}" in err and message in err


def test_bad_set_values_are_named(capsys):
    assert main(["platform", "show", "--set", "iommu.mode=sometimes"]) == 2
    assert "--set iommu.mode=sometimes: iommu.mode='sometimes'" in capsys.readouterr().err
    assert main(["platform", "show", "--set", "no-equals-sign"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert main(["platform", "show", "--platform", "/no/such/file.toml"]) == 2
    assert "no such file (built-in platforms: seed, zen3-ptdma, zen3-ptdma-v7)" in \
        capsys.readouterr().err


def test_the_iommu_values_reach_the_simulated_translation(capsys):
    """64 KiB folios in 64 KiB IOMMU pages walk once per folio, not once per 4 KiB page;
    a slower page-table read makes the same walks cost more."""
    def row(*settings):
        extra = [arg for value in settings for arg in ("--set", value)]
        return migrate_json(capsys, "--folio-size", "64K", "--workload", "1M",
                            *extra)["rows"][0]
    built_in = row()
    mthp = row("iommu.page_sizes_kib=[4,64,2048]")
    slow = row("iommu.walk_read_ns=400")
    # The 1 MiB's source and destination: 2 x 256 walks in 4 KiB pages, 2 x 16 in 64 KiB
    # pages (the rings' and records' walks the same).
    assert built_in["iommu_walks"] - mthp["iommu_walks"] == 2 * (256 - 16)
    assert slow["iommu_walks"] == built_in["iommu_walks"]
    assert slow["folio_copy_ns"] > built_in["folio_copy_ns"]


def test_dcbm_takes_only_the_reasons_of_its_reason_mask(capsys):
    """move_pages() (MR_SYSCALL) with dcbm taking demotions alone: the CPU copies every
    folio; the same pages demoted go to the engine."""
    mask = ["--set", 'dma.reason_mask=["demotion"]']
    moved = migrate_json(capsys, *mask)
    demoted = migrate_json(capsys, *mask, "--reason", "demotion")
    assert moved["rows"][0]["dma_copied_folios"] == 0 and moved["rows"][0]["integrity"]["ok"]
    assert demoted["rows"][0]["dma_copied_folios"] == demoted["rows"][0]["folios"]
    assert demoted["settings"]["reason"] == "demotion"
    assert main(["platform", "show", "--set", 'dma.reason_mask=["tiering"]']) == 2
    assert "dma.reason_mask=['tiering']: expected 'all' or a non-empty list" in \
        capsys.readouterr().err


def test_a_built_in_platform_by_name(capsys):
    assert main(["platform", "show", "--platform", "zen3-ptdma", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"].startswith("zen3-ptdma")
    # PTDMA as the Linux driver shows it: 16 devices of one 32-entry queue, one
    # descriptor in flight each, a 64-byte data path.
    assert {key: shown["dma"][key] for key in ("engines", "channels", "ring_entries",
                                               "max_inflight", "data_width")} == \
        {"engines": 16, "channels": 1, "ring_entries": 32, "max_inflight": 1, "data_width": 512}
    assert load_machine("seed") == DEFAULT_MACHINE


def test_from_json_reruns_on_the_recorded_machine_without_the_file(tmp_path, capsys):
    path = tmp_path / "p.toml"
    path.write_text("[memory.remote]\nread_latency_ns = 400.0\n")
    first = migrate_json(capsys, "--platform", str(path))
    result = tmp_path / "r.json"
    result.write_text(json.dumps(first))
    path.unlink()                               # the JSON alone must be enough
    again = migrate_json(capsys, "--from-json", str(result))
    assert again["machine"] == first["machine"]
    for key in ("folio_copy_cycles_per_page", "migrate_pages_cycles_per_page",
                "simulated_cycles"):
        assert again["rows"][0][key] == first["rows"][0][key]


def test_a_request_is_immutable_and_travels_to_a_worker_unchanged():
    machine = DEFAULT_MACHINE.with_values({"costs.dma_map_page_ns": 900.0})
    request = MigrateRequest(mode="cpu", workload_bytes=8 << 10, repeat=1, machine=machine)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.mode = "dma"
    travelled = pickle.loads(pickle.dumps(request))
    assert travelled == request
    json.dumps(request.settings())
    assert run_request(travelled)["migrate_pages_cycles_per_page"] == \
        run_request(request)["migrate_pages_cycles_per_page"]


def test_a_platform_file_starts_from_the_platform_its_base_names(tmp_path, capsys):
    parent = tmp_path / "parent.toml"
    parent.write_text('base = "zen3-ptdma"\n[dma]\nring_entries = 16\n')
    child = tmp_path / "child.toml"
    child.write_text('base = "parent.toml"\n[clocks]\nengine_mhz = 150.0\n')
    machine = load_machine(child)
    ptdma = load_machine("zen3-ptdma")
    assert (machine.engine_mhz, machine.ring_entries) == (150.0, 16)
    assert machine.engines == ptdma.engines and machine.costs == ptdma.costs
    # A base that leads back to the file, and one that is no name, are refused.
    parent.write_text('base = "child.toml"\n')
    assert main(["platform", "show", "--platform", str(child)]) == 2
    assert "parent.toml: base = 'child.toml' leads back to itself" in capsys.readouterr().err
    parent.write_text("base = 3\n")
    assert main(["platform", "show", "--platform", str(child)]) == 2
    assert "base = 3: expected a built-in platform's name or a file" in capsys.readouterr().err
