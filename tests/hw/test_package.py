"""The engine as IP: AMBA port names, the full AXI4 signal set, the ID width and reset
polarity of the user's, a FuseSoC core that lists and lints, an IP-XACT component."""
import os
import re
import subprocess
import sys
from pathlib import Path
from xml.dom import minidom

import pytest
from amaranth.sim import Simulator

from hw.amba import AXI_CACHE, AmbaTop, amba_verilog
from hw.package import CORE_NAME, write_package
from hw.params import SMALL_ENGINE
from sim.backends.verilator import verilator_root
from sim.cli.main import main

AXI4_MASTER = ("AWID AWADDR AWLEN AWSIZE AWBURST AWLOCK AWCACHE AWPROT AWQOS AWREGION AWVALID "
               "AWREADY WDATA WSTRB WLAST WVALID WREADY BID BRESP BVALID BREADY ARID ARADDR "
               "ARLEN ARSIZE ARBURST ARLOCK ARCACHE ARPROT ARQOS ARREGION ARVALID ARREADY RID "
               "RDATA RRESP RLAST RVALID RREADY").split()


def _ports(verilog, top="foliodma_engine"):
    """{name: (direction, width)} of the top module's ports."""
    body = verilog[verilog.index(f"module {top}("):]
    body = body[:body.index("endmodule")]
    return {match[3]: (match[1], int(match[2] or 0) + 1) for match in re.finditer(
        r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", body, re.M)}


def test_amba_names_the_full_axi4_set_and_the_users_id_width():
    ports = _ports(amba_verilog(AmbaTop(SMALL_ENGINE, id_width=6)))
    for signal in AXI4_MASTER:
        assert f"m_axi_{signal.lower()}" in ports, signal
    assert ports["m_axi_arid"] == ("output", 6) and ports["m_axi_rid"] == ("input", 6)
    assert ports["m_axi_awcache"] == ("output", 4) and ports["aresetn"] == ("input", 1)
    assert ports["s_axil_wdata"] == ("input", 32) and ports["irq"] == ("output", 1)
    assert not any("__" in name for name in ports)
    with pytest.raises(ValueError, match="id_width=0"):
        AmbaTop(SMALL_ENGINE, id_width=0)


@pytest.mark.parametrize("active_low", [True, False])
def test_the_registers_answer_through_the_amba_ports_in_either_reset_polarity(active_low):
    """Held in reset, then out of it, the engine answers an AXI4-Lite read of its ID
    register; the constant AXI4 signals hold their documented values."""
    top = AmbaTop(SMALL_ENGINE, reset_active_low=active_low)
    port = {p.name: p for p in top.ports}
    reset = port["aresetn" if active_low else "areset"]
    read = {}

    async def bench(ctx):
        ctx.set(reset, 0 if active_low else 1)
        for _ in range(3):
            await ctx.posedge(top.aclk)
        ctx.set(reset, 1 if active_low else 0)
        ctx.set(port["s_axil_araddr"], 0)
        ctx.set(port["s_axil_arvalid"], 1)
        ctx.set(port["s_axil_rready"], 1)
        for _ in range(20):
            await ctx.posedge(top.aclk)
            if ctx.get(port["s_axil_arready"]):
                ctx.set(port["s_axil_arvalid"], 0)
            if ctx.get(port["s_axil_rvalid"]):
                read["id"] = ctx.get(port["s_axil_rdata"])
                break
        read["cache"] = ctx.get(port["m_axi_arcache"])
    async def clock(ctx):
        while True:
            ctx.set(top.aclk, 1)
            await ctx.delay(5e-9)
            ctx.set(top.aclk, 0)
            await ctx.delay(5e-9)
    sim = Simulator(top)
    sim.add_process(clock)
    sim.add_testbench(bench)
    sim.run()
    assert read == {"id": 0x46444D41, "cache": AXI_CACHE}     # "FDMA"


def _fusesoc(*args, cwd, env=None):
    command = [str(Path(sys.executable).parent / "fusesoc"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)


def test_the_package_lists_and_lints_with_fusesoc(tmp_path, capsys):
    package = tmp_path / "ip"
    assert main(["verilog", *"--data-width 64 --out".split(), str(package)]) == 0
    assert f"fusesoc --cores-root {package} core list" in capsys.readouterr().out
    listed = _fusesoc("--cores-root", str(package), "core", "list", cwd=tmp_path)
    assert CORE_NAME in listed.stdout, listed.stdout + listed.stderr
    env = {**os.environ, "VERILATOR_ROOT": str(verilator_root())}
    linted = _fusesoc("--cores-root", str(package), "run", "--target", "lint", CORE_NAME,
                      cwd=tmp_path, env=env)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    # The control: without its waivers, Verilator's lint finds the export's patterns.
    (package / "lint.vlt").write_text("`verilator_config\n")
    unwaived = _fusesoc("--cores-root", str(package), "run", "--target", "lint", CORE_NAME,
                        cwd=tmp_path / "ip", env=env)
    assert unwaived.returncode != 0 and "%Warning" in unwaived.stdout + unwaived.stderr


def test_the_ip_xact_component_has_the_bus_interfaces_ports_and_register_map(tmp_path):
    paths = write_package(SMALL_ENGINE, tmp_path, id_width=3)
    assert {p.name for p in paths} == {"foliodma_engine.v", "lint.vlt", "foliodma_engine.core",
                                       "foliodma_engine.xml", "foliodma_regs.h",
                                       "registers.md"}
    doc = minidom.parse(str(tmp_path / "foliodma_engine.xml")).documentElement

    def text(node, tag):
        return node.getElementsByTagName("ipxact:" + tag)[0].firstChild.data
    interfaces = {text(bus, "name"): bus for bus in doc.getElementsByTagName("ipxact:busInterface")}
    assert set(interfaces) == {"m_axi", "s_axil"}
    master, slave = interfaces["m_axi"], interfaces["s_axil"]
    assert master.getElementsByTagName("ipxact:master")
    mapped = {text(m.getElementsByTagName("ipxact:logicalPort")[0], "name"):
              text(m.getElementsByTagName("ipxact:physicalPort")[0], "name")
              for m in master.getElementsByTagName("ipxact:portMap")}
    assert set(AXI4_MASTER) <= set(mapped) and mapped["AWCACHE"] == "m_axi_awcache"
    memory_map = slave.getElementsByTagName("ipxact:memoryMapRef")[0].getAttribute(
        "ipxact:memoryMapRef")
    maps = doc.getElementsByTagName("ipxact:memoryMap")
    assert [text(m, "name") for m in maps] == [memory_map]
    registers = [text(r, "name") for r in doc.getElementsByTagName("ipxact:register")]
    assert "id" in registers and len(registers) > 20
    verilog = _ports((tmp_path / "foliodma_engine.v").read_text())
    model = {text(p, "name"): p for p in doc.getElementsByTagName("ipxact:port")}
    assert set(model) == set(verilog)
    for name, (direction, width) in verilog.items():
        assert text(model[name], "direction") == direction[:-3 if direction == "input" else -3]
        vectors = model[name].getElementsByTagName("ipxact:left")
        assert (int(vectors[0].firstChild.data) + 1 if vectors else 1) == width, name
