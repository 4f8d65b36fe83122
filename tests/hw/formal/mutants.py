"""Deliberately broken engines: an hw module's source with one edit, built in its place."""
import importlib.util
import types
from contextlib import contextmanager
from pathlib import Path
from unittest import mock


def mutant(module_name, old, new):
    """Module ``module_name`` (e.g. "hw.writer") compiled from its source with ``old``
    replaced by ``new``; ``old`` must occur exactly once, so that a mutation cannot
    silently stop applying when the source changes."""
    spec = importlib.util.find_spec(module_name)
    source = Path(spec.origin).read_text()
    count = source.count(old)
    if count != 1:
        raise AssertionError(f"{module_name}: {old!r} occurs {count} times, not once")
    module = types.ModuleType(module_name)
    module.__file__ = spec.origin
    module.__package__ = module_name.rpartition(".")[0]
    exec(compile(source.replace(old, new), spec.origin, "exec"), module.__dict__)
    return module


@contextmanager
def broken(module_name, component, old, new):
    """While inside, the engine builds ``component`` from the mutated module."""
    with mock.patch(f"hw.engine.{component}", getattr(mutant(module_name, old, new), component)):
        yield


#: Each broken engine: (name, module, component, old text, new text, the property that
#: must fail, the depth its counterexample needs at most).
BROKEN_ENGINES = [
    ("wlast one beat early", "hw.writer", "WritePort",
     "last_beat.eq(beats_left == 2)", "last_beat.eq(beats_left == 3)",
     "axi.w.burst_length", 24),
    ("ARVALID dropped without ARREADY", "hw.reader", "ReadPort",
     "with m.If(ar.valid & ar.ready):", "with m.If(ar.valid):",
     "axi.ar.held_until_ready", 12),
    ("a burst crossing 4 KiB", "hw.legalizer", "BurstLegalizer",
     "boundary = AXI_BOUNDARY_BYTES", "boundary = 2 * AXI_BOUNDARY_BYTES",
     "axi.ar.burst_legal", 16),
    ("a register write answered before its data", "hw.regblock", "RegisterBlock",
     "m.d.comb += write.eq(aw_held & w_held)", "m.d.comb += write.eq(aw_held | w_held)",
     "lite.b.one_per_write", 6),
]
