"""Run a trace against a real allocator: build the probe program, write the trace, run it fresh.

``glibc_probe.c`` and ``mi_probe.c`` (in ``native_examples/01_heap_managers/``)
replay a trace written with numeric ids and print what they find, one record
per line; ``heap.glibc`` and ``heap.mimalloc`` read those records back.
Every run is a fresh process, so the heap has no history.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..cbuild import build_program
from ..isolate import run_program
from ..toolchain import cache_dir, mimalloc
from .traces import Trace, example_dir

__all__ = ["build_probe", "write_trace", "run_probe"]


def build_probe(name: str) -> Path:
    """Compile ``glibc_probe`` or ``mi_probe`` (an executable) into the cache; reused when unchanged."""
    cflags = ["-O1", f"-I{example_dir()}"]
    ldflags: list = []
    if name == "mi_probe":
        mi = mimalloc()
        cflags.append(f"-I{mi.include_dir}")
        ldflags = [f"-L{mi.lib_dir}", "-lmimalloc", f"-Wl,-rpath,{mi.lib_dir}"]
    return build_program([example_dir() / f"{name}.c"], cflags=cflags, ldflags=ldflags)


def write_trace(trace: Trace) -> Path:
    """The trace with numeric ids, in a cache file named by its content (what a probe reads)."""
    text = trace.text(numeric=True)
    p = Path(cache_dir()) / "lesson01" / f"trace-{hashlib.sha256(text.encode()).hexdigest()[:12]}.trace"
    p.parent.mkdir(parents=True, exist_ok=True)
    if not p.exists():              # atomic: another process may read the same file at once
        tmp = p.with_name(f"{p.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, p)
    return p


def run_probe(argv, env=None) -> str:
    """Run a probe in a fresh child process; its stdout, or RuntimeError with what went wrong."""
    r = run_program([str(a) for a in argv], timeout=30, env=env)
    if not r.ok:
        raise RuntimeError(f"{Path(str(argv[0])).name} failed: {r}\n{r.stderr[-500:]}")
    return r.stdout
