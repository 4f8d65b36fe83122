"""The platform of a formal build, through which components state their properties."""
from dataclasses import dataclass

from amaranth.hdl import Assert, Assume, Cover


@dataclass(frozen=True)
class Property:
    """One stated property: ``kind`` is "assert" or "cover"; ``name`` is dotted
    (``<component>.<what>``) and unique."""
    name: str
    kind: str
    description: str


class Properties:
    """Passed as the ``platform`` of an elaboration for formal proof.

    A component whose ``elaborate`` gets a :class:`Properties` states its
    properties through it: :meth:`check` (a safety property), :meth:`cover`
    (a state that must be reachable) and :meth:`assume` (what the
    component's environment promises; always in force). Only the properties
    named in ``selected`` become Assert or Cover cells (all of them when
    ``selected`` is None), so that one proof run checks one property and a
    failure names it. Every property stated is listed in :attr:`stated`,
    whether selected or not.
    """

    def __init__(self, selected=None):
        self.selected = None if selected is None else frozenset(selected)
        self.stated = {}

    def _state(self, name, kind, description):
        if name in self.stated:
            raise ValueError(f"property {name!r} is stated twice")
        self.stated[name] = Property(name, kind, description)
        return self.selected is None or name in self.selected

    def check(self, m, name, test, description):
        """Assert ``test`` in every cycle (when ``name`` is selected)."""
        if self._state(name, "assert", description):
            m.d.comb += Assert(test, name)

    def cover(self, m, name, test, description):
        """Cover ``test``: a trace must reach a cycle where it holds (when selected)."""
        if self._state(name, "cover", description):
            m.d.comb += Cover(test, name)

    def assume(self, m, test, why):
        """Assume ``test`` in every cycle: a promise of the environment (``why``)."""
        m.d.comb += Assume(test, why)


def stating(platform):
    """The :class:`Properties` of a formal elaboration, or None for any other."""
    return platform if isinstance(platform, Properties) else None
