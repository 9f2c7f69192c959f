"""Can this machine run what each lesson needs? Not only "is the tool installed".

A tool can be installed and still not work: containers (Docker, many JupyterHub
spawners, Binder) commonly forbid ``ptrace`` (gdb, LeakSanitizer) and
personality changes (``setarch -R``, which gdb also uses to turn ASLR off), a
Wine prefix can fail to start, valgrind can refuse an unknown CPU. Each check
here *does* the thing, once per process (a few seconds in all), and says why it
failed and what fixes it. ``capabilities()`` then tells per lesson: runs fully,
runs with some cells switched off (naming them), or cannot run.
"""
from __future__ import annotations

import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import toolchain

__all__ = ["CHECKS", "LESSONS", "Capability", "CapabilityReport", "capabilities", "check"]


@dataclass(frozen=True)
class Capability:
    name: str
    ok: bool
    detail: str          # what happened, in one line
    fix: str = ""        # what to do when not ok


def _program(src: str, *, cflags=(), ldflags=(), compiler=None, output=None):
    from .cbuild import build_program
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "probe.c")
        path.write_text(src)
        return build_program([path], cflags=cflags, ldflags=ldflags, compiler=compiler, output=output)


def _ptrace() -> Capability:
    """LeakSanitizer stops the threads of the process with ptrace: run a leaking program."""
    from .isolate import run_program
    if not toolchain.have("gcc"):
        return Capability("ptrace", False, "gcc is missing, so nothing to try", toolchain.missing("gcc"))
    try:
        exe = _program("#include <stdlib.h>\nvoid *keep;\nint main(void){ keep = malloc(7); keep = 0; return 0; }\n",
                       cflags=("-fsanitize=leak",))
    except Exception as exc:                 # noqa: BLE001 - reported, never raised
        return Capability("ptrace", False, f"cannot build with -fsanitize=leak: {str(exc).splitlines()[-1]}",
                          toolchain.missing("lsan"))
    r = run_program([exe], timeout=30)
    if "detected memory leaks" in r.stderr:
        return Capability("ptrace", True, "LeakSanitizer ran and found the planted leak")
    why = (r.stderr.strip().splitlines() or [r.status()])[-1][:100]
    return Capability("ptrace", False, f"LeakSanitizer could not run: {why}",
                      "this machine (often a container) forbids ptrace: in Docker add "
                      "--cap-add=SYS_PTRACE; on a hub, ask for it in the spawner's settings")


def _aslr_off() -> Capability:
    from .isolate import run_program
    setarch = toolchain.tool_path("setarch")
    if not setarch:
        return Capability("aslr-off", False, "setarch is missing", toolchain.missing("setarch"))
    r = run_program([setarch, "-R", "true"], timeout=10)
    if r.ok:
        return Capability("aslr-off", True, "setarch -R (personality ADDR_NO_RANDOMIZE) works")
    return Capability("aslr-off", False, f"setarch -R failed: {(r.stderr.strip() or r.status())[:100]}",
                      "containers often forbid personality(): gdb then warns that it cannot "
                      "disable address randomisation; the lessons still run")


def _wine() -> Capability:
    if not (toolchain.have("wine") and toolchain.have("mingw")):
        return Capability("wine-runs", False, "Wine or MinGW-w64 is missing",
                          toolchain.missing("wine", "mingw"))
    from . import winlab
    try:
        exe = _program('#include <stdio.h>\nint main(void){ puts("hello from Windows"); return 0; }\n',
                       compiler="x86_64-w64-mingw32-gcc", output="probe.exe")
        r = winlab.run_wine(exe, timeout=120)
    except Exception as exc:                 # noqa: BLE001
        return Capability("wine-runs", False, f"Wine could not start a program: {str(exc)[:100]}",
                          "run `python -m labsupport warmup` to create the Wine prefix, then retry")
    if r.ok and "hello from Windows" in r.stdout:
        return Capability("wine-runs", True, "a MinGW-built program ran under Wine")
    return Capability("wine-runs", False, f"Wine: {r.status()[:100]}",
                      "run `python -m labsupport warmup`; headless machines need no display for these programs")


def _valgrind() -> Capability:
    from .isolate import run_program
    if not toolchain.have("valgrind"):
        return Capability("valgrind-runs", False, "valgrind is missing", toolchain.missing("valgrind"))
    r = run_program(["valgrind", "-q", "--error-exitcode=9", "true"], timeout=60)
    if r.ok:
        return Capability("valgrind-runs", True, "valgrind ran a program")
    return Capability("valgrind-runs", False, f"valgrind failed: {(r.stderr.strip() or r.status())[-100:]}",
                      "valgrind may not know this CPU or kernel; lesson 07's other tools still run")


def _memory_cap() -> Capability:
    from .isolate import run_python

    def hog():
        blocks = []
        while True:
            blocks.append(bytearray(16 << 20))
    r = run_python(hog, timeout=30, max_rss_mb=128)
    if r.stopped_by == "memory":
        return Capability("memory-cap", True, "a child that ate memory was stopped at its cap")
    return Capability("memory-cap", False, f"the memory cap did not stop a hog: child {r.status()[:80]}",
                      "the cap needs Linux's /proc; without it, run risky cells only on your own laptop")


def _resources() -> Capability:
    free_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    disk = shutil.disk_usage(toolchain.cache_dir())
    disk_mb = disk.free // (1 << 20)
    ok = (free_mb is None or free_mb >= 1024) and disk_mb >= 2048
    detail = f"{free_mb if free_mb is not None else '?'} MB memory available, {disk_mb:,} MB free disk for the cache"
    return Capability("resources", ok, detail,
                      "" if ok else "the course wants about 1 GB of free memory and 2 GB of disk "
                      "(zig's C libraries, Wine's prefix, built programs)")


def _x86_native() -> Capability:
    """Lesson 02 times x86 instructions and makes them fault: that needs an x86-64 processor
    running them itself, not an emulator (qemu-user, Rosetta under Docker's
    --platform linux/amd64) whose timings and faults are its own. A hypervisor is fine for
    faults but shapes the timings: it is named."""
    import platform
    machine = platform.machine()
    if machine not in ("x86_64", "AMD64"):
        return Capability("x86-64-native", False, f"this processor is {machine}, not x86-64",
                          "the x86-only cells of lesson 02 print a note instead; run them on an x86-64 machine")
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    fields = {}
    for ln in info.splitlines():
        if not ln.strip():
            break                                   # the first processor is enough
        key, _, value = ln.partition(":")
        fields[key.strip()] = value.strip()
    vendor, model = fields.get("vendor_id", ""), " ".join(fields.get("model name", "").split())
    if vendor not in ("GenuineIntel", "AuthenticAMD", "HygonGenuine") or "QEMU" in model or "Virtual" in model:
        return Capability("x86-64-native", False, f"an emulated x86-64 ({vendor or 'no vendor'}, {model or '?'})",
                          "timings and faults here are the emulator's: run lesson 02 on a real x86-64 machine")
    hyper = " under a hypervisor" if "hypervisor" in fields.get("flags", "").split() else ""
    return Capability("x86-64-native", True, f"{model or vendor}{hyper}")


CHECKS = {"ptrace": _ptrace, "aslr-off": _aslr_off, "wine-runs": _wine, "valgrind-runs": _valgrind,
          "memory-cap": _memory_cap, "resources": _resources, "x86-64-native": _x86_native}

# lesson -> capabilities it uses, and what is switched off without each
LESSONS = {
    "00": {"memory-cap": "the runaway-loop demonstration"},
    "01": {},
    "02": {"wine-runs": "_aligned_malloc under Wine",
           "x86-64-native": "the misalignment timings, split locks and the movaps / alignment-check faults"},
    "03": {"wine-runs": "VirtualAlloc under Wine", "memory-cap": "the overcommit demonstration"},
    "04": {"wine-runs": "the Windows DLL/EXE half", "ptrace": "the gdb backtrace",
           "aslr-off": "(gdb warns; nothing is switched off)"},
    "05": {"wine-runs": "the Windows redirect half"},
    "06": {"ptrace": "the gdb backtrace"},
    "07": {"ptrace": "LeakSanitizer", "valgrind-runs": "valgrind"},
    "08": {},
    "09": {},
}
ESSENTIAL = ("resources",)


@functools.lru_cache(maxsize=None)
def check(name: str) -> Capability:
    """Run one check (cached for this process)."""
    try:
        return CHECKS[name]()
    except Exception as exc:                 # noqa: BLE001 - a check never raises
        return Capability(name, False, f"the check itself failed: {exc}", "")


@dataclass
class CapabilityReport:
    checks: list[Capability]
    lessons: dict[str, tuple[str, list[str]]]     # lesson -> (verdict, reasons)

    def __str__(self) -> str:
        lines = [f"{'capability':14} {'ok':4} what happened"]
        for c in self.checks:
            lines.append(f"{c.name:14} {'yes' if c.ok else 'NO':4} {c.detail}")
            if not c.ok and c.fix:
                lines.append(f"{'':19}fix: {c.fix}")
        lines.append("")
        lines.append(f"{'lesson':7} verdict")
        for lesson, (verdict, reasons) in self.lessons.items():
            lines.append(f"{lesson:7} {verdict}" + (": " + "; ".join(reasons) if reasons else ""))
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def capabilities(names=None) -> CapabilityReport:
    """Every check (or those named), and per lesson: runs fully / with cells off / cannot run."""
    names = list(names or CHECKS)
    results = {n: check(n) for n in names}
    lessons = {}
    tools = toolchain.doctor().rows
    for lesson, needs in LESSONS.items():
        if any(n in results and not results[n].ok for n in ESSENTIAL):
            lessons[lesson] = ("cannot run", [results[n].detail for n in ESSENTIAL if not results[n].ok])
            continue
        off = [f"{what} (no {cap})" for cap, what in needs.items() if cap in results and not results[cap].ok]
        off += [f"cells needing {r['tool']}" for r in tools
                if not r["found"] and (lesson in r["lessons"] or r["lessons"] == "all")]
        if any(r["lessons"] == "all" and not r["found"] for r in tools):
            lessons[lesson] = ("cannot run", [r["tool"] + " is missing" for r in tools
                                              if r["lessons"] == "all" and not r["found"]])
        else:
            lessons[lesson] = ("runs fully", []) if not off else ("runs with cells switched off", off)
    return CapabilityReport([results[n] for n in names], lessons)
