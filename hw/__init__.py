"""foliodma hardware: the scatter-gather DMA copy engine.

This package's top level imports no Amaranth: ``hw.params``, ``hw.descriptor``
and ``hw.regmap`` are the device's "register header", shared with the driver.
The RTL lives in modules that import Amaranth (``hw.engine`` and its parts).
"""
