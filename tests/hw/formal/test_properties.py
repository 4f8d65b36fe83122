"""The formal platform: only the selected properties become checks; each is stated once."""
import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.back import rtlil

from hw.formal.properties import Properties, stating


class _Stating(Elaboratable):
    def __init__(self, checks):
        self.checks = checks
        self.a = Signal()

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.a.eq(~self.a)
        for name in self.checks:
            platform.check(m, name, self.a | ~self.a, f"{name} holds")
        platform.cover(m, "t.cover.toggles", self.a, "a toggles")
        return m


def _checks(selected, checks=("t.one", "t.two")):
    props = Properties(selected)
    top = _Stating(checks)
    text = rtlil.convert(top, ports=[top.a], platform=props)
    return text.count('FLAVOR "assert"'), text.count('FLAVOR "cover"'), props


def test_only_the_selected_properties_become_checks():
    assert _checks(None)[:2] == (2, 1)
    assert _checks(["t.two"])[:2] == (1, 0)
    assert _checks(["t.cover.toggles"])[:2] == (0, 1)


def test_every_property_is_listed_whether_selected_or_not():
    *_, props = _checks(())
    assert [(p.name, p.kind) for p in props.stated.values()] == [
        ("t.one", "assert"), ("t.two", "assert"), ("t.cover.toggles", "cover")]


def test_a_property_stated_twice_is_an_error():
    props, m = Properties(), Module()
    m._MustUse__silence = True          # never elaborated: the second statement fails
    props.check(m, "t.one", Signal(), "once")
    with pytest.raises(ValueError, match="'t.one' is stated twice"):
        props.check(m, "t.one", Signal(), "twice")


def test_only_a_formal_elaboration_states_properties():
    assert stating(Properties()) is not None
    assert stating(None) is None and stating("formal") is None
