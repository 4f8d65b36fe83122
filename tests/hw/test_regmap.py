"""The register map compiled from hw/regs.rdl, and its generated documentation."""
import subprocess
import sys
from pathlib import Path

import pytest

from hw import docs
from hw.params import MAX_CHANNELS
from hw.regmap import FieldValueError, UnknownRegisterError, load_regmap

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def regmap():
    return load_regmap()


def test_load_is_cached(regmap):
    assert load_regmap() is regmap


@pytest.mark.parametrize("path, address", [
    ("id", 0x000), ("version", 0x004), ("caps0", 0x008), ("caps2", 0x010),
    ("int_status", 0x014), ("irq_coal", 0x01C),
    ("chan[0].ring_base_lo", 0x100), ("chan[0].tail", 0x110),
    ("chan[3].tail", 0x100 + 3 * 0x40 + 0x10), ("chan[15].wr_wait_hi", 0x4FC),
])
def test_addresses(regmap, path, address):
    assert regmap.address(path) == address
    assert regmap.register(path).path == path


def test_fields(regmap):
    ident = regmap.register("id").fields["ident"]
    assert (ident.lsb, ident.width, ident.reset, ident.sw, ident.kind) == (
        0, 32, 0x46444D41, "r", "constant")
    caps0 = regmap.register("caps0").fields
    assert [(f.name, f.lsb, f.width, f.kind) for f in caps0.values()] == [
        ("beat_bytes_log2", 0, 4, "status"), ("channels", 4, 5, "status"),
        ("max_burst", 16, 9, "status")]
    coal = regmap.register("irq_coal").fields
    assert (coal["count"].reset, coal["count"].kind, coal["timer"].lsb, coal["timer"].width) == (
        1, "storage", 8, 24)
    assert {f.kind for f in regmap.register("int_status").fields.values()} == {"external"}
    tail = regmap.register("chan[2].tail").fields["index"]
    assert (tail.sw, tail.kind) == ("rw", "external")
    ctrl = regmap.register("chan[2].ctrl").fields
    assert [(f.name, f.lsb, f.sw, f.kind) for f in ctrl.values()] == [
        ("reset", 0, "w", "external"), ("abort", 1, "w", "external")]
    status = regmap.register("chan[2].status").fields
    assert (status["code"].lsb, status["code"].width, status["code"].kind) == (8, 8, "status")


def test_registers_in_address_order_with_channel_array(regmap):
    addresses = [reg.address for reg in regmap.registers]
    assert addresses == sorted(addresses)
    assert len(set(addresses)) == len(addresses)
    assert regmap.channels == MAX_CHANNELS
    chans = {reg.channel for reg in regmap.registers if reg.channel is not None}
    assert chans == set(range(MAX_CHANNELS))
    per_channel = [reg for reg in regmap.registers if reg.channel == MAX_CHANNELS - 1]
    assert len(per_channel) == 16
    assert all(reg.path.startswith(f"chan[{MAX_CHANNELS - 1}].") for reg in per_channel)
    assert all(reg.path == reg.path.lower() for reg in regmap.registers)


def test_extract_insert_round_trip(regmap):
    fields = regmap.register("chan[1].status").fields
    word = 0
    for name, value in (("busy", 1), ("halted", 0), ("code", 0xA5)):
        word = fields[name].insert(word, value)
    assert word == 0xA501
    assert [fields[name].extract(word) for name in ("busy", "halted", "code")] == [1, 0, 0xA5]
    assert fields["halted"].insert(word, 1) == 0xA503
    assert fields["code"].insert(0xFFFFFFFF, 0) == 0xFFFF00FF


def test_insert_overflow_and_bad_word(regmap):
    code = regmap.register("chan[0].status").fields["code"]
    with pytest.raises(FieldValueError, match="'code'.*8 bits"):
        code.insert(0, 0x100)
    with pytest.raises(FieldValueError):
        code.insert(0, -1)
    with pytest.raises(FieldValueError, match="32-bit"):
        code.extract(1 << 32)


def test_unknown_path(regmap):
    with pytest.raises(KeyError):
        regmap.register("chan[16].tail")
    with pytest.raises(UnknownRegisterError, match="'nope'"):
        regmap.address("nope")


def test_every_register_and_field_has_a_desc(regmap):
    for reg in regmap.registers:
        assert reg.desc.strip(), reg.path
        for field in reg.fields.values():
            assert field.desc.strip(), f"{reg.path}.{field.name}"


def test_committed_docs_are_up_to_date(tmp_path):
    docs.write_c_header(tmp_path / "header.h")
    docs.write_markdown(tmp_path / "registers.md")
    assert (DOCS_DIR / docs.HEADER_NAME).read_text() == (tmp_path / "header.h").read_text(), \
        "docs/foliodma_regs.h is stale: run `make regs`"
    assert (DOCS_DIR / docs.MARKDOWN_NAME).read_text() == (tmp_path / "registers.md").read_text(), \
        "docs/registers.md is stale: run `make regs`"


def test_docs_main(tmp_path):
    docs.main([str(tmp_path / "out")])
    assert "#define FOLIODMA_REGS_H" in (tmp_path / "out" / docs.HEADER_NAME).read_text()
    assert "int_status register" in (tmp_path / "out" / docs.MARKDOWN_NAME).read_text()


def test_regmap_imports_no_amaranth():
    code = "import sys, hw.regmap; hw.regmap.load_regmap(); assert 'amaranth' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=DOCS_DIR.parent)
