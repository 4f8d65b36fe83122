"""Descriptor and record layout: one definition, consistent with its own tables."""
from hw.descriptor import (DESC_BYTES, DESC_FIELDS, RECORD_BYTES, RECORD_FIELDS, Status,
                           pack_descriptor, pack_record, unpack_descriptor, unpack_record)


def test_fields_tile_the_descriptor():
    covered = sorted((offset, offset + width // 8) for _, offset, width in DESC_FIELDS)
    assert covered[0][0] == 0 and covered[-1][1] == DESC_BYTES
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:]))
    covered = sorted((offset, offset + width // 8) for _, offset, width in RECORD_FIELDS)
    assert covered[0][0] == 0 and covered[-1][1] == RECORD_BYTES


def test_pack_matches_field_table():
    values = {"src": 0x1122334455667788, "dst": 0x99AABBCCDDEEFF00, "len": 0x200000,
              "flags": 3, "completion": 0x1_0000_0008}
    raw = pack_descriptor(values["src"], values["dst"], values["len"], values["flags"],
                          values["completion"])
    for name, offset, width in DESC_FIELDS:
        assert int.from_bytes(raw[offset:offset + width // 8], "little") == values[name]
    assert unpack_descriptor(raw) == tuple(values.values())


def test_record_packs_and_unpacks_status():
    raw = (Status.READ_DECERR).to_bytes(4, "little") + (4096).to_bytes(4, "little")
    assert unpack_record(raw) == (Status.READ_DECERR, 4096)
    assert pack_record(Status.READ_DECERR, 4096) == raw
