"""One-time preparations, paid once per machine, in the background on a first start.

Four steps are slow the first time and instant after: Wine's prefix (~10 s),
zig's C library for WebAssembly (~15-40 s), zig's C library for Windows
(~1-3 min) and Debian's C library of three releases, for lesson 01's glibc
versions side by side (~30 s). ``./lab setup`` and ``./lab test`` run them in the foreground;
``./lab start`` starts them in the background (``start_background``) and opens
JupyterLab at once. Progress lives in a small JSON file in the course cache,
so the doctor, a lesson, or a cell that needs a step can read it:
``wait_for("zig-windows")`` prints one line saying what it waits for and how
long that usually takes, then waits. A step nobody started is simply run by
whoever needs it, as before. The progress file and the waiting are in ``warmstate``
(which the builders import); this module runs the steps, so it imports the builders.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import toolchain
from .warmstate import STEPS, _write, status, status_line, wait_for

__all__ = ["STEPS", "run", "start_background", "status", "status_line", "wait_for"]

def _do(step: str) -> None:
    if step == "wine-prefix":
        from . import winlab
        winlab.prepare_wine()
    elif step == "zig-wasm":
        from . import wasm
        wasm.compile_wasm("int f(void) { return 1; }\n")
    elif step == "glibc-versions":
        from .heap import glibcs
        glibcs.fetch(say=lambda line: None)
    elif step == "zig-windows":
        from . import winlab
        with tempfile.TemporaryDirectory() as d:
            src = Path(d, "hello.c")
            src.write_text("#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
            winlab.build([src], Path(d, "hello.exe"), compiler="zig")
            # and a DLL: its start-up code (dllcrt2 and ~200 more MinGW-w64 runtime objects) is
            # built apart from an .exe's; lesson 04 builds one
            lib = Path(d, "one.c")
            lib.write_text("__declspec(dllexport) int one(void) { return 1; }\n")
            winlab.build([lib], Path(d, "one.dll"), compiler="zig", shared=True)


def run(steps=None, say=print) -> dict:
    """Run the steps in order (skipping those whose tools are missing), recording progress."""
    data = status()
    for step in steps or STEPS:
        what, usual, tools = STEPS[step]
        if not all(toolchain.have(t) for t in tools):
            data[step] = {"state": "skipped", "error": toolchain.missing(*tools)}
            _write(data)
            say(f"  {what}: skipped ({', '.join(tools)} not installed)")
            continue
        t0 = time.time()
        data[step] = {"state": "running", "since": t0, "pid": os.getpid()}
        _write(data)
        try:
            _do(step)
            data[step] = {"state": "done", "seconds": round(time.time() - t0, 1)}
            say(f"  {what}: ready ({time.time() - t0:.0f} s)")
        except toolchain.MissingTool as exc:  # this machine cannot have it (say, no Debian archive)
            data[step] = {"state": "skipped", "error": str(exc)}
            say(f"  {what}: skipped ({exc})")
        except Exception as exc:             # noqa: BLE001 - report and go on
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            data[step] = {"state": "failed", "error": first, "seconds": round(time.time() - t0, 1)}
            say(f"  {what}: failed ({first}); the cells that need it will try again")
        _write(data)
    return data


def start_background() -> int | None:
    """Start ``run()`` in a detached process unless every step is done or one is running.
    Returns its pid (None when nothing needed starting). Output goes to warmup.log."""
    data = status()
    if all(data.get(s, {}).get("state") in ("done", "skipped") for s in STEPS):
        return None
    if any(info.get("state") == "running" for info in data.values()):
        return None
    log = open(toolchain.cache_dir() / "warmup.log", "w")     # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen([sys.executable, "-m", "labsupport", "warmup"], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=str(toolchain.ROOT))
    return proc.pid
