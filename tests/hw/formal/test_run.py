"""The proof runner: check cells named by property, one elaboration for every run, and
proofs of the properties that hold by induction within the test suite's time."""
import re

import pytest

from hw.formal.run import FormalError, elaborate, keep_checks, prove

#: The properties k-induction proves in seconds each (`foliodma formal` proves the same
#: and bounds the rest: README, "Formal sign-off").
INDUCTIVE = ["regs.read_writes_nothing", "fetcher.stopped_fetches_nothing",
             "legalizer.stopped_issues_nothing", "channel0.reset_clears",
             "interrupts0.reset_leaves_nothing", "axi.ar.held_until_ready",
             "axi.aw.held_until_ready", "axi.w.held_until_ready",
             "lite.b.held_until_ready", "lite.r.held_until_ready"]


@pytest.fixture(scope="module")
def everything():
    return elaborate()


def _named_checks(text):
    return sorted(re.findall(r"cell \$check \\(\S+)", text))


def test_every_stated_property_is_a_check_cell_named_after_it(everything):
    text, props = everything
    assert _named_checks(text) == sorted(props.stated)
    assert all(prop.description for prop in props.stated.values())


def test_keep_checks_leaves_only_the_chosen_properties_and_every_assumption(everything):
    text, props = everything
    kept = keep_checks(text, props.stated, ["axi.w.burst_length"])
    assert _named_checks(kept) == ["axi.w.burst_length"]
    assert kept.count('FLAVOR "assume"') == text.count('FLAVOR "assume"') > 0


def test_an_unknown_property_prefix_is_an_error_naming_the_properties(tmp_path):
    with pytest.raises(FormalError, match="no property matches nothing.here.*axi.w.burst_length"):
        prove(out_dir=tmp_path, only=["nothing.here"])


def test_the_inductive_properties_are_proved_unbounded(tmp_path):
    results = prove(out_dir=tmp_path, only=INDUCTIVE, depth=8)
    assert {r.name: r.status for r in results} == dict.fromkeys(INDUCTIVE, "proved")
