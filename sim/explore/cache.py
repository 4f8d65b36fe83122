"""The exploration's result cache: one JSON file per evaluation, named by a hash of
everything its figures depend on.

A key covers the evaluation's kind, its full input (the request with its whole
machine, or the engine parameters and the area settings) and the version of the
code that computes it (:func:`model_version`: a hash of the model's sources, so
a change to the RTL, the driver or the model invalidates every result; the CLI
and the explorer are not part of it). A re-run computes only the evaluations
it does not find; two explorations share the ones they have in common.

Writes are atomic (a temporary file in the same directory, then ``os.replace``):
a reader sees a whole entry or none, whether writers run concurrently or are
killed mid-write, so an interrupted exploration resumes from what it finished.
Failed evaluations are not cached: a re-run tries them again.
"""
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

import sim

#: The sources of the model's figures, relative to the repository root: the RTL, the
#: driver, and the simulation below the experiments (platform, back-ends, host,
#: kernel, machine and platform files, the seed's figures).
MODEL_SOURCES = ("hw", "sw_driver", "sim/memsys", "sim/backends", "sim/host", "sim/kernel",
                 "sim/machine.py", "sim/machines", "sim/seed.py")
#: The sources of the area and clock figures: the RTL alone.
RTL_SOURCES = ("hw",)
SOURCE_SUFFIXES = (".py", ".cpp", ".hpp", ".rdl", ".toml")


def _root():
    return Path(sim.__file__).resolve().parent.parent


@functools.lru_cache(maxsize=None)
def source_version(parts):
    """A short hash of the files under ``parts`` (paths relative to the repository)."""
    h = hashlib.sha256()
    root = _root()
    for part in parts:
        path = root / part
        files = [path] if path.is_file() else sorted(
            p for p in path.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file())
        for file in files:
            h.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def model_version():
    """The version of the code behind a migration's figures."""
    return source_version(MODEL_SOURCES)


def rtl_version():
    """The version of the code behind an engine's area and clock."""
    return source_version(RTL_SOURCES)


def cache_key(kind, payload):
    """The key of an evaluation: a hash of its kind and its input (JSON-able data)."""
    text = json.dumps([kind, payload], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResultCache:
    """Evaluation results under ``root``, one file per key (see the module docstring)."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, key):
        return self.root / key[:2] / f"{key}.json"

    def get(self, key):
        """The cached result of ``key``, or None."""
        try:
            return json.loads(self.path(key).read_text())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except ValueError:           # not written by us: treat as missing, rewrite later
            return None

    def put(self, key, result):
        """Store ``result`` (JSON-able) under ``key``, atomically."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(result, out, default=str)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    def __len__(self):
        return sum(1 for _ in self.root.glob("*/*.json"))


def default_cache_dir():
    """The explorations' cache: under the native build cache's root
    (``$FOLIODMA_CACHE_DIR``, else ``~/.cache/foliodma``)."""
    from sim.backends.native.build import cache_root
    return cache_root() / "explore"
