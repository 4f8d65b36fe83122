"""Engine parameters: ranges checked with a message naming the parameter."""
import pytest

from hw.params import EngineParams, ParameterError


@pytest.mark.parametrize("field, value", [
    ("data_width", 32), ("data_width", 1024), ("data_width", 100),
    ("addr_width", 32), ("channels", 0), ("channels", 17),
    ("max_burst", 0), ("max_burst", 257),
    ("outstanding_reads", 0), ("outstanding_writes", 65),
    ("buffer_depth", 100), ("buffer_depth", 8), ("prefetch_depth", 0),
])
def test_out_of_range_is_named(field, value):
    with pytest.raises(ParameterError, match=f"^{field}={value}"):
        EngineParams(**{field: value})


def test_buffer_must_hold_one_burst():
    with pytest.raises(ParameterError, match="one full burst"):
        EngineParams(data_width=64, max_burst=256, buffer_depth=128)


def test_burst_capped_by_4k_rule():
    assert EngineParams(data_width=512, max_burst=256).burst_beats_max == 64
    assert EngineParams(data_width=64, max_burst=16).burst_beats_max == 16
    assert EngineParams(data_width=256).peak_bytes_per_cycle == 32
