"""Each deliberately broken engine fails the property that describes its bug, and the
same property holds for the real engine to the same depth."""
import pytest

from hw.formal.run import prove
from tests.hw.formal.mutants import BROKEN_ENGINES, broken, mutant


@pytest.mark.parametrize("case", BROKEN_ENGINES, ids=[case[0] for case in BROKEN_ENGINES])
def test_a_broken_engine_fails_its_property(case, tmp_path):
    _, module, component, old, new, prop, depth = case
    with broken(module, component, old, new):
        (result,) = prove(out_dir=tmp_path, depth=depth, only=[prop], induction_seconds=1)
    assert (result.name, result.status) == (prop, "failed")
    assert result.step <= depth and result.trace.endswith(".vcd")


def test_a_mutation_that_no_longer_applies_is_an_error():
    with pytest.raises(AssertionError, match="occurs 0 times"):
        mutant("hw.writer", "text that is not in the writer", "x")
