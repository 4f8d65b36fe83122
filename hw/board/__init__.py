"""The engine on an FPGA board: an 8N1 UART (``uart``), on-chip memory behind an AXI4
slave (``memory``), the bridge from the serial line to the engine's registers and that
memory (``bridge``: its protocol defined once), the SoC and the boards (``top``), and
the bitstream build (``build``)."""
