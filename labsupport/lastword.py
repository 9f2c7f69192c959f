"""A last word when C called directly in the kernel kills it.

``c.write_null()`` (not through ``lab.run_c``, not ``--isolate``) runs in the
kernel's own process: a fault kills the kernel, Jupyter restarts it, every
variable is gone and nothing says why. With this module installed (``import
labsupport`` in a notebook kernel does it), the kernel keeps a small record
file in the course cache:

- each direct call of a ``%%cffi`` function notes "f() from cell N" in a C
  buffer (two calls into a tiny C helper, about a microsecond);
- a signal handler (``crashflush.c``, async-signal-safe) appends the signal, the
  faulting address, that note and ``/proc/self/maps``; Python's ``faulthandler``
  adds the Python traceback in a second file.

The next ``import labsupport`` in a kernel of the same notebook prints what
killed its predecessor, once, and places the address: NULL plus an offset, the
heap, a library, a stack (or just below one: a stack overflow), or no mapping
at all. A kernel that ends normally, or is restarted by Jupyter, leaves nothing
to show.
"""
from __future__ import annotations

import atexit
import faulthandler
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .isolate import pid_alive
from .toolchain import cache_dir

__all__ = ["Crash", "guarded", "install", "previous_crash", "record_dir", "report_previous"]

_state: dict = {}


def record_dir() -> Path:
    d = cache_dir() / "lastword"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _session() -> str:
    """The notebook this kernel serves (Jupyter Server sets it), or '' when unknown."""
    return os.environ.get("JPY_SESSION_NAME", "")


def install() -> bool:
    """Start keeping a record for this kernel. Idempotent; False when it cannot."""
    if _state.get("lib") is not None:
        return True
    if os.name != "posix":
        return False
    from .isolate import _load_crash_flush
    lib = _load_crash_flush()
    if lib is None:
        return False
    d = record_dir()
    pid = os.getpid()
    rec, tb = d / f"{pid}.rec", d / f"{pid}.traceback"
    fd = os.open(rec, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    os.write(fd, f"session {_session()}\n".encode())
    tb_file = open(tb, "w")                    # noqa: SIM115 - kept open for the handler
    faulthandler.enable(file=tb_file, all_threads=False)
    if lib.labsupport_guard_install(fd) != 0:
        return False
    lib.labsupport_guard_note.argtypes = [__import__("ctypes").c_char_p]
    _state.update(lib=lib, fd=fd, tb_file=tb_file, files=(rec, tb))
    atexit.register(_forget)
    return True


def _forget() -> None:
    """A normal end: nothing to report next time."""
    for p in _state.get("files", ()):
        try:
            p.unlink()
        except OSError:
            pass


def _cell() -> str:
    """' from cell N' in a notebook kernel, else ''. Runs at every ``c.f`` lookup, so no import
    statement here (one cost 15 us): IPython is running only if it is already imported."""
    ip = _state.get("shell")
    if ip is None:
        ipython = sys.modules.get("IPython")
        if ipython is None:
            return ""
        try:
            ip = ipython.get_ipython()       # traitlets' instance(): ~10 us, so kept once found
        except Exception:                      # noqa: BLE001
            return ""
        if ip is None:
            return ""
        _state["shell"] = ip                 # a kernel has one shell for its whole life
    try:
        # IPython counts the running cell before running it: it is execution_count - 1
        return f" from cell {max(1, ip.execution_count - 1)}"
    except Exception:                          # noqa: BLE001
        return ""


def guarded(fn, name: str):
    """``fn`` wrapped so that a crash inside it is recorded with its name and cell."""
    lib = _state.get("lib")
    if lib is None:
        return fn
    note = lib.labsupport_guard_note
    label = f"{name}(){_cell()}".encode()

    def call(*args):
        note(label)
        try:
            return fn(*args)
        finally:
            note(None)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = getattr(fn, "__doc__", None)
    return call


@dataclass
class Crash:
    signal: str
    address: int
    call: str
    where: str
    traceback: str
    session: str

    def __str__(self) -> str:
        from .isolate import SIGNAL_HELP
        who = f" in {self.call}" if self.call else " (not inside a %%cffi function call)"
        lines = [f"The previous kernel{' of this notebook' if self.session else ''} died of "
                 f"{self.signal}{who}.",
                 f"  {self.signal}: {SIGNAL_HELP.get(self.signal, 'a signal')}"]
        if self.signal in ("SIGSEGV", "SIGBUS"):
            lines.append(f"  The faulting address was {self.where}.")
        if self.traceback:
            lines.append("  Python was here when it died:")
            lines += ["    " + line for line in self.traceback.splitlines()[:8]]
        lines.append("  Your variables are gone with it. Code that may crash is safer through "
                     "lab.run_c(c, \"f\", ...) or a cell built with %%cffi --isolate: the crash then "
                     "happens in a child and the kernel lives on.")
        return "\n".join(lines)


def _place(addr: int, maps: list[str]) -> str:
    """Say where ``addr`` lies, in words, without printing it raw."""
    if addr < 4096:
        return f"NULL + {addr} (a NULL pointer, or a small offset from one: a field of a NULL struct)"
    regions = []
    for line in maps:
        parts = line.split(None, 5)
        if len(parts) < 5 or "-" not in parts[0]:
            continue
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        name = parts[5].strip() if len(parts) > 5 else ""
        regions.append((lo, hi, parts[1], name))
    for lo, hi, perms, name in regions:
        if lo <= addr < hi:
            what = {"[heap]": "the heap (the brk area)", "[stack]": "the main thread's stack"}.get(
                name, f"{os.path.basename(name)}" if name.startswith("/") else "an anonymous mapping")
            return (f"{addr - lo:,} bytes into {what}, mapped {perms} "
                    f"({'no write permission there' if 'w' not in perms else 'a mapped page'})")
    for lo, hi, perms, name in regions:
        if name == "[stack]" and 0 <= lo - addr <= 1 << 20:
            return f"{lo - addr:,} bytes below the stack: almost surely a stack overflow (endless recursion)"
    return "in no mapping at all: freed and unmapped memory, or a pointer that was never valid"


def _parse(text: str, tb: str) -> Crash | None:
    head, _, maps = text.partition("\nmaps\n")
    fields = {}
    for line in head.splitlines():
        k, _, v = line.partition(" ")
        fields[k] = v
    if "signal" not in fields:
        return None
    try:
        name = signal.Signals(int(fields["signal"])).name
    except ValueError:
        name = f"signal {fields['signal']}"
    addr = int(fields.get("address", "0x0"), 16)
    frames = [line.strip() for line in tb.splitlines() if line.strip().startswith("File")
              and "site-packages" not in line and "/lib/python3" not in line]
    return Crash(name, addr, fields.get("call", ""), _place(addr, maps.splitlines()),
                 "\n".join(frames), fields.get("session", ""))


def previous_crash(session: str | None = None) -> Crash | None:
    """The newest recorded crash of a dead kernel of this notebook; its files are removed.
    Records of dead kernels that ended without a crash are removed too."""
    session = _session() if session is None else session
    found = None
    for rec in sorted(record_dir().glob("*.rec"), key=lambda p: p.stat().st_mtime):
        try:
            pid = int(rec.stem)
        except ValueError:
            continue
        if pid == os.getpid() or pid_alive(pid):
            continue
        tb = rec.with_suffix(".traceback")
        text = rec.read_text(errors="replace")
        # only a kernel that knows its notebook reports (never a headless run such as nbval)
        mine = bool(session) and text.startswith(f"session {session}\n")
        stale = time.time() - rec.stat().st_mtime > 7 * 86400
        if not (mine or stale):
            continue                       # another notebook's: it will show it itself
        crash = _parse(text, tb.read_text(errors="replace") if tb.exists() else "") if mine else None
        found = crash or found
        for p in (rec, tb):
            try:
                p.unlink()
            except OSError:
                pass
    return found


def report_previous(file=None) -> Crash | None:
    crash = previous_crash()
    if crash is not None:
        print(str(crash), file=file or sys.stderr)
    return crash
