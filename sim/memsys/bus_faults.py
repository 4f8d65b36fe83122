"""Faults on the bus: chosen AXI bursts of an engine answered with an error, or late.

A :class:`BusFaults` names bursts by their index on one engine's AXI port (the n-th
AR, the n-th AW accepted, from 0), which every back-end numbers alike: an error
burst gets SLVERR or DECERR on every beat (reads: zero data) or on its B (writes:
nothing written), whatever its address; a late burst's first R beat or its B comes
``delay`` cycles after it otherwise would. A delay far beyond the driver's
timeouts stands for a response that never comes: an AXI master cannot abandon a
transaction, so the engine waits for it, and the driver must time out and recover.

Address-based faults are the error regions (:mod:`sim.memsys.error_regions`);
the IOMMU's are unmapped pages (:mod:`sim.memsys.iommu`).
"""
from dataclasses import dataclass, field

import numpy as np

from sim.memsys.error_regions import RESP_NAMES

#: Fault kinds on one burst.
ERROR, DELAY = "error", "delay"


@dataclass(frozen=True)
class BusFaults:
    """The faulty bursts of one port: ``reads`` and ``writes`` map a burst index to
    ("error", RESP) or ("delay", cycles)."""
    reads: dict = field(default_factory=dict)
    writes: dict = field(default_factory=dict)

    def __post_init__(self):
        for direction in ("reads", "writes"):
            table = getattr(self, direction)
            if not isinstance(table, dict):
                raise ValueError(f"bus faults {direction}: expected a dict of burst index -> "
                                 f"fault, not {table!r}")
            checked = {}
            for index, fault in table.items():
                index = int(index)            # JSON keys are strings
                if index < 0:
                    raise ValueError(f"bus faults {direction}: burst index {index} < 0")
                checked[index] = _check_fault(direction, index, fault)
            object.__setattr__(self, direction, checked)

    def __bool__(self):
        return bool(self.reads or self.writes)

    def to_config(self):
        return {direction: {str(index): list(fault)
                            for index, fault in sorted(getattr(self, direction).items())}
                for direction in ("reads", "writes")}

    @classmethod
    def from_config(cls, config):
        """BusFaults from :meth:`to_config`'s dict (or BusFaults, or None: none)."""
        if config is None or isinstance(config, BusFaults):
            return config or cls()
        if not isinstance(config, dict) or set(config) - {"reads", "writes"}:
            raise ValueError(f"bus faults {config!r}: expected a dict with 'reads' and "
                             f"'writes'")
        return cls(**{k: dict(v) for k, v in config.items()})

    @classmethod
    def random(cls, rng, *, bursts, errors=0.0, delays=0.0, delay_cycles=100_000):
        """Faults on the first ``bursts`` bursts of each direction: each an error with
        probability ``errors`` (SLVERR or DECERR alike), else late by ``delay_cycles``
        with probability ``delays``; ``rng`` a numpy Generator."""
        def pick():
            table = {}
            draws = rng.random((bursts, 2))
            for index, (kind, resp) in enumerate(draws):
                if kind < errors:
                    table[index] = (ERROR, "SLVERR" if resp < 0.5 else "DECERR")
                elif kind < errors + delays:
                    table[index] = (DELAY, delay_cycles)
            return table
        return cls(reads=pick(), writes=pick())

    def native_rows(self):
        """(direction 0 read / 1 write, burst index, 0 error / 1 delay, RESP or cycles)
        per fault, as an int64 array (the native model's form)."""
        rows = [(d, index, 0 if kind == ERROR else 1, value)
                for d, table in enumerate((self.reads, self.writes))
                for index, (kind, value) in table.items()]
        return np.asarray(rows or np.zeros((0, 4)), dtype=np.int64)


def _check_fault(direction, index, fault):
    try:
        kind, value = fault
    except (TypeError, ValueError):
        raise ValueError(f"bus faults {direction}[{index}]: {fault!r} is not (kind, value)") \
            from None
    if kind == ERROR:
        resp = RESP_NAMES.get(value, value)
        if resp not in RESP_NAMES.values():
            raise ValueError(f"bus faults {direction}[{index}]: an error is SLVERR or DECERR, "
                             f"not {value!r}")
        return (ERROR, resp)
    if kind == DELAY:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"bus faults {direction}[{index}]: a delay is an int of cycles "
                             f">= 1, not {value!r}")
        return (DELAY, value)
    raise ValueError(f"bus faults {direction}[{index}]: kind {kind!r} is not {ERROR!r} or "
                     f"{DELAY!r}")
