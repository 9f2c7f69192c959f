"""The one-time preparations' progress, for whoever needs a step (``labsupport.warmup`` runs them).

``status()`` reads the small JSON file in the course cache that ``warmup.run`` writes;
``wait_for("zig-windows")``, called by a builder (``wasm``, ``winlab``) before it needs a step,
prints one line saying what it waits for and how long that usually takes, then waits.
Kept apart from ``warmup`` so that the builders can wait for a step without importing the
module that runs them (which imports the builders).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from . import toolchain
from .toolchain import pid_alive

__all__ = ["STEPS", "status", "status_line", "wait_for"]

# name -> (what it is, usual first-time cost, tools it needs)
STEPS = {
    "glibc-versions": ("glibc 2.36, 2.41 and the newest, side by side (Debian's libc6)", "about 30 s",
                       ()),          # needs apt-get and dpkg-deb: heap.glibcs.fetch says so (MissingTool)
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
