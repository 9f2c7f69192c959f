"""One-time preparations, paid once per machine, in the background on a first start.

Three steps are slow the first time and instant after: Wine's prefix (~10 s),
zig's C library for WebAssembly (~15-40 s) and zig's C library for Windows
(~1-3 min). ``./lab setup`` and ``./lab test`` run them in the foreground;
``./lab start`` starts them in the background (``start_background``) and opens
JupyterLab at once. Progress lives in a small JSON file in the course cache,
so the doctor, a lesson, or a cell that needs a step can read it:
``wait_for("zig-windows")`` prints one line saying what it waits for and how
long that usually takes, then waits. A step nobody started is simply run by
whoever needs it, as before.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import toolchain
from .isolate import pid_alive

__all__ = ["STEPS", "run", "start_background", "status", "status_line", "wait_for"]

# name -> (what it is, usual first-time cost, tools it needs)
STEPS = {
    "wine-prefix": ("Wine's prefix (a fake Windows folder)", "about 10 s", ("wine",)),
    "zig-wasm": ("zig's C library for WebAssembly", "15-40 s", ("ziglang",)),
    "zig-windows": ("zig's C library for Windows", "1-3 minutes", ("ziglang",)),
}


def _status_path() -> Path:
    return toolchain.cache_dir() / "warmup.json"


def status() -> dict:
    """{step: {"state": pending|running|done|skipped|failed, "since": t, "seconds": s, "pid": p}}"""
    try:
        data = json.loads(_status_path().read_text())
    except (OSError, ValueError):
        return {}
    for info in data.values():           # a runner that died mid-step leaves "running" behind
        if info.get("state") == "running" and not pid_alive(info.get("pid", 0)):
            info["state"] = "failed"
            info["error"] = "the warm-up process ended before this step did"
    return data



def _write(data: dict) -> None:
    path = _status_path()
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _do(step: str) -> None:
    if step == "wine-prefix":
        from . import winlab
        winlab.prepare_wine()
    elif step == "zig-wasm":
        from . import wasm
        wasm.compile_wasm("int f(void) { return 1; }\n")
    elif step == "zig-windows":
        from . import winlab
        with tempfile.TemporaryDirectory() as d:
            src = Path(d, "hello.c")
            src.write_text("#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
            winlab.build([src], Path(d, "hello.exe"), compiler="zig")


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


def status_line() -> str:
    """One line for the doctor or a lesson: what is ready and what is still being prepared."""
    data = status()
    parts = []
    for step, (what, usual, _) in STEPS.items():
        info = data.get(step, {})
        state = info.get("state", "pending")
        if state == "running":
            parts.append(f"{what}: being prepared ({time.time() - info['since']:.0f} s so far, "
                         f"usually {usual})")
        elif state == "done":
            parts.append(f"{what}: ready")
        elif state == "failed":
            parts.append(f"{what}: failed ({info.get('error', '?')})")
        elif state == "skipped":
            parts.append(f"{what}: not installed")
        else:
            parts.append(f"{what}: not prepared yet (the first cell that needs it does it)")
    return "; ".join(parts)


def wait_for(step: str, say=print, poll: float = 1.0, timeout: float = 900) -> bool:
    """If ``step`` is being prepared in the background, say so once and wait for it.
    Returns True when it is done (or nobody is preparing it: the caller does it itself)."""
    info = status().get(step, {})
    if info.get("state") != "running" or info.get("pid") == os.getpid():
        return True                      # nobody else is preparing it (or it is us)
    what, usual, _ = STEPS[step]
    say(f"waiting for {what}, being prepared in the background since "
        f"{time.time() - info['since']:.0f} s (usually {usual}, once per machine)...")
    t0 = time.time()
    while time.time() - t0 < timeout:
        time.sleep(poll)
        info = status().get(step, {})
        if info.get("state") != "running":
            return info.get("state") == "done"
    return False
