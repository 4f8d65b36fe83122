"""The engine as an IP package for other flows: the Verilog of :class:`hw.amba.AmbaTop`,
a FuseSoC core, an IP-XACT component, the C header and the register reference.

:func:`write_package` writes into one directory:

* ``foliodma_engine.v``: the engine behind AMBA-named ports (:mod:`hw.amba`);
* ``foliodma_engine.core``: a FuseSoC CAPI2 core, its ``default`` target the Verilog,
  its ``lint`` target Verilator's lint with the waivers of ``lint.vlt`` (copied);
* ``foliodma_engine.xml``: an IP-XACT (IEEE 1685-2014) component: the register map
  from ``hw/regs.rdl`` through PeakRDL's IP-XACT exporter, with the bus interfaces
  (the AXI4 master ``m_axi``, the AXI4-Lite slave ``s_axil`` on that register map),
  the ports and the file set added here;
* ``foliodma_regs.h`` and ``registers.md`` (:mod:`hw.docs`).
"""
import shutil
from pathlib import Path
from xml.dom import minidom

from .amba import AmbaTop, amba_verilog
from .docs import write_docs
from .layouts import AXI_ID_WIDTH
from .regmap import compile_rdl

VENDOR, LIBRARY, VERSION = "foliodma.dev", "dma", "0.1.0"
#: The VLNV of the core in FuseSoC's form.
CORE_NAME = f"foliodma:{LIBRARY}:foliodma_engine:{VERSION}"
#: IP-XACT bus definitions (ARM's AMBA4 library): interface -> (bus type, abstraction).
BUS_TYPES = {"m_axi": ("AXI4", "AXI4_rtl"), "s_axil": ("AXI4Lite", "AXI4Lite_rtl")}
_NS = "ipxact:"
LINT_WAIVERS = Path(__file__).parent / "lint.vlt"


def write_package(params, out_dir, *, name="foliodma_engine", id_width=AXI_ID_WIDTH,
                  reset_active_low=True):
    """Write the package of the engine built with ``params`` into ``out_dir`` (see the
    module docstring); returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    top = AmbaTop(params, id_width=id_width, reset_active_low=reset_active_low)
    verilog = out_dir / f"{name}.v"
    verilog.write_text(amba_verilog(top, name))
    waivers = out_dir / LINT_WAIVERS.name
    shutil.copyfile(LINT_WAIVERS, waivers)
    core = out_dir / f"{name}.core"
    core.write_text(core_text(params, name, verilog.name, waivers.name))
    component = out_dir / f"{name}.xml"
    write_component(top, params, name, verilog.name, component)
    return [verilog, waivers, core, component, *write_docs(out_dir)]


def core_text(params, name, verilog, waivers):
    """The FuseSoC CAPI2 core of the package."""
    settings = ", ".join(f"{k}={v}" for k, v in params.as_dict().items())
    return f"""CAPI=2:
name: {CORE_NAME.replace('foliodma_engine', name)}
description: foliodma scatter-gather DMA engine, AXI4 master m_axi and AXI4-Lite registers s_axil ({settings})

filesets:
  rtl:
    files:
      - {verilog}
    file_type: verilogSource
  lint_waivers:
    files:
      - {waivers}
    file_type: vlt

targets:
  default:
    filesets: [rtl]
    toplevel: {name}
  lint:
    default_tool: verilator
    filesets: [rtl, lint_waivers]
    toplevel: {name}
    tools:
      verilator:
        mode: lint-only
        verilator_options: [-Wall]
"""


def _element(doc, tag, text=None, **attributes):
    node = doc.createElement(_NS + tag)
    if text is not None:
        node.appendChild(doc.createTextNode(str(text)))
    for key, value in attributes.items():
        node.setAttribute(_NS + key, str(value))
    return node


def _tree(doc, tag, *children, text=None, **attributes):
    node = _element(doc, tag, text, **attributes)
    for child in children:
        node.appendChild(child)
    return node


def _bus_interface(doc, top, interface, memory_map):
    bus, abstraction = BUS_TYPES[interface]
    amba = {"vendor": "amba.com", "library": "AMBA4", "version": "r0p0_0"}
    port_maps = [_tree(doc, "portMap",
                       _tree(doc, "logicalPort", _element(doc, "name",
                                                           port.name[len(interface) + 1:].upper())),
                       _tree(doc, "physicalPort", _element(doc, "name", port.name)))
                 for port in top.ports if port.name.startswith(interface + "_")]
    abstraction_ref = _element(doc, "abstractionRef", name=abstraction, **amba)
    if interface == "m_axi":
        mode = _tree(doc, "master", _element(doc, "addressSpaceRef", addressSpaceRef="m_axi"))
    else:
        mode = _tree(doc, "slave", _element(doc, "memoryMapRef", memoryMapRef=memory_map))
    return _tree(doc, "busInterface", _element(doc, "name", interface),
                 _element(doc, "busType", name=bus, **amba),
                 _tree(doc, "abstractionTypes",
                       _tree(doc, "abstractionType", abstraction_ref,
                             _tree(doc, "portMaps", *port_maps))),
                 mode)


def _port(doc, port, direction):
    wire = _tree(doc, "wire", _element(doc, "direction", direction))
    if len(port) > 1:
        wire.appendChild(_tree(doc, "vectors", _tree(doc, "vector",
                                                     _element(doc, "left", len(port) - 1),
                                                     _element(doc, "right", 0))))
    return _tree(doc, "port", _element(doc, "name", port.name), wire)


def write_component(top, params, name, verilog, path):
    """The IP-XACT component of :class:`AmbaTop` ``top`` into ``path``."""
    from peakrdl_ipxact import IPXACTExporter
    IPXACTExporter(vendor=VENDOR, library=LIBRARY, version=VERSION).export(
        compile_rdl().top, str(path), component_name=name)
    doc = minidom.parse(str(path))
    component = doc.documentElement
    memory_maps = component.getElementsByTagName(_NS + "memoryMaps")[0]
    memory_map = memory_maps.getElementsByTagName(_NS + "name")[0].firstChild.data
    interfaces = _tree(doc, "busInterfaces",
                       *(_bus_interface(doc, top, interface, memory_map)
                         for interface in BUS_TYPES))
    spaces = _tree(doc, "addressSpaces", _tree(
        doc, "addressSpace", _element(doc, "name", "m_axi"),
        _element(doc, "range", f"'h1{'0' * (params.addr_width // 4)}"),
        _element(doc, "width", params.data_width)))
    component.insertBefore(interfaces, memory_maps)
    component.insertBefore(spaces, memory_maps)
    model = _tree(doc, "model",
                  _tree(doc, "views", _tree(doc, "view", _element(doc, "name", "rtl"),
                                            _element(doc, "componentInstantiationRef",
                                                     "verilog"))),
                  _tree(doc, "instantiations", _tree(
                      doc, "componentInstantiation", _element(doc, "name", "verilog"),
                      _element(doc, "language", "verilog"),
                      _element(doc, "moduleName", name),
                      _tree(doc, "fileSetRef", _element(doc, "localName", "rtl")))),
                  _tree(doc, "ports", *(_port(doc, port, direction)
                                        for port, direction in top.directions)))
    file_sets = _tree(doc, "fileSets", _tree(
        doc, "fileSet", _element(doc, "name", "rtl"),
        _tree(doc, "file", _element(doc, "name", verilog),
              _element(doc, "fileType", "verilogSource"))))
    after = memory_maps.nextSibling
    component.insertBefore(model, after)
    component.insertBefore(file_sets, after)
    text = doc.toprettyxml(indent="  ", newl="\n")
    # The exporter's own indentation stays as text nodes: drop the blank lines it leaves.
    Path(path).write_text("".join(line for line in text.splitlines(keepends=True)
                                  if line.strip()))
