"""Generate the register reference from ``hw/regs.rdl``.

``python -m hw.docs OUTDIR`` writes ``OUTDIR/foliodma_regs.h`` (C header, by
peakrdl-cheader) and ``OUTDIR/registers.md`` (Markdown, by peakrdl-markdown).
The committed copies in ``docs/`` are checked against fresh output by the tests.
"""
import argparse
import tempfile
from pathlib import Path

from peakrdl_cheader.exporter import CHeaderExporter
from peakrdl_markdown import MarkdownExporter

from .regmap import compile_rdl

HEADER_NAME = "foliodma_regs.h"
MARKDOWN_NAME = "registers.md"
# Recorded in the Markdown as its source; relative so the output is machine-independent.
RDL_SOURCE = "hw/regs.rdl"


def write_c_header(path):
    """Write the C header to ``path``; its content (include guard too) does not depend on path."""
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp, HEADER_NAME)
        CHeaderExporter().export(compile_rdl().top, str(generated))
        Path(path).write_text(generated.read_text())


def write_markdown(path):
    """Write the Markdown register reference to ``path``."""
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp, MARKDOWN_NAME)
        MarkdownExporter().export(compile_rdl().top, str(generated), input_files=[RDL_SOURCE])
        Path(path).write_text(generated.read_text())


def write_docs(outdir):
    """Write both outputs into outdir (created if missing); returns their paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = outdir / HEADER_NAME, outdir / MARKDOWN_NAME
    write_c_header(paths[0])
    write_markdown(paths[1])
    return paths


def main(argv=None):
    """Write both outputs into the directory given on the command line."""
    parser = argparse.ArgumentParser(prog="python -m hw.docs", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="directory to write the outputs into")
    write_docs(parser.parse_args(argv).outdir)


if __name__ == "__main__":
    main()
