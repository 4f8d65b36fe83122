"""foliodma's software: a Linux-style driver stack, in plain async Python.

Mirrors the kernel pieces: ``dmaengine`` (the client API and provider
contract, cookies, completions), ``dma_mapping`` (dma_map_page and
scatter-gather tables), ``foliodma`` (the provider driver for our engine),
``dcbm`` (the DMA core batch migrator and the migration core's offload hook),
``folio`` and ``folios_copy`` (the CPU copy). It sees the device only through
a :class:`~sw_driver.port.Port` and through the register map and descriptor
layout defined beside the RTL (``hw.regmap``, ``hw.descriptor``,
``hw.params``: no Amaranth, nothing from ``sim``).
"""
