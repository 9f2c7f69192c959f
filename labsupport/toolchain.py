"""Find the tools the course uses, report their versions, and say how to install them.

Every optional tool has one entry in ``TOOLS``: how to find it, how to ask its
version, which lessons need it and the exact install line. Lessons call
``have(name)`` before using a tool and print ``missing(name)`` otherwise, so a
learner without Wine (say) still runs the rest of the course.

Paths to mimalloc's files come from the installed ``cmeel-mimalloc`` wheel,
never from hard-coded locations.
"""
from __future__ import annotations

import functools
import glob
import importlib.metadata
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT", "TOOLS", "DoctorReport", "MimallocFiles", "MissingTool", "Tool", "cache_dir", "doctor",
           "compiler", "example_path", "have", "mimalloc", "missing", "pid_alive", "require", "tool_path",
           "wine_program", "zig_argv"]

ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The course's cache folder: ``$LABSUPPORT_CACHE`` or ``~/.cache/labsupport``.

    Built C modules, the zig cache and the Wine prefix live here, so they are
    paid for once per machine rather than once per kernel.
    """
    path = Path(os.environ.get("LABSUPPORT_CACHE") or Path.home() / ".cache" / "labsupport")
    path.mkdir(parents=True, exist_ok=True)
    return path


def example_path(lesson: str, *parts: str) -> Path:
    """A file under ``native_examples/<lesson>/``."""
    return ROOT / "native_examples" / lesson / Path(*parts)


@dataclass(frozen=True)
class Tool:
    name: str            # what lessons call it
    kind: str            # "command", "python", "npm", "file" or "header"
    probe: str           # command name, distribution name, npm package, or glob
    lessons: str         # e.g. "04, 05"
    install: str         # exact install line
    version_args: tuple = ("--version",)


_APT = "sudo apt-get install -y"
TOOLS: tuple[Tool, ...] = (
    Tool("gcc", "command", "gcc", "all", f"{_APT} gcc"),
    Tool("g++", "command", "g++", "05, 06, 07", f"{_APT} g++"),
    Tool("gdb", "command", "gdb", "04, 06", f"{_APT} gdb"),
    Tool("setarch", "command", "setarch", "04 (gdb turns ASLR off with it)", f"{_APT} util-linux"),
    Tool("valgrind", "command", "valgrind", "07", f"{_APT} valgrind"),
    Tool("heaptrack", "command", "heaptrack", "07", f"{_APT} heaptrack", ("--version",)),
    Tool("strace", "command", "strace", "09", f"{_APT} strace", ("-V",)),
    Tool("pahole", "command", "pahole", "02", f"{_APT} dwarves"),
    Tool("mingw", "command", "x86_64-w64-mingw32-gcc", "02, 03, 04, 05", f"{_APT} gcc-mingw-w64-x86-64"),
    Tool("wine", "command", "wine", "02, 03, 04, 05", f"{_APT} wine wine64"),
    # gcc's own LeakSanitizer runtime (gcc -fsanitize=leak): no version in the package name
    Tool("lsan", "file", "/usr/lib/*/liblsan.so.0", "07", f"{_APT} liblsan0"),
    Tool("node", "command", "node", "08", f"{_APT} nodejs npm"),
    Tool("npm", "command", "npm", "08", f"{_APT} npm"),
    Tool("z3-solver (npm)", "npm", "z3-solver", "08", "npm install   (in the course folder)"),
    Tool("cffi", "python", "cffi", "all", "pip install cffi"),
    Tool("mimalloc", "python", "cmeel-mimalloc", "01, 04, 05, 06, 09", "pip install cmeel-mimalloc"),
    Tool("wasmtime", "python", "wasmtime", "08", "pip install wasmtime"),
    Tool("ziglang", "python", "ziglang", "08", "pip install ziglang"),
    Tool("pefile", "python", "pefile", "04, 05", "pip install pefile"),
    Tool("z3-solver (Python)", "python", "z3-solver", "08", "pip install z3-solver"),
    Tool("cmake", "python", "cmake", "06", "pip install cmake"),
    Tool("jsoncpp", "header", "/usr/include/jsoncpp/json/version.h", "06", f"{_APT} libjsoncpp-dev"),
)
_BY_NAME = {t.name: t for t in TOOLS} | {t.probe: t for t in TOOLS if t.kind == "command"}


def _tool(name: str) -> Tool:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown tool {name!r}; known: {', '.join(t.name for t in TOOLS)}") from None


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "?"


@functools.lru_cache(maxsize=None)
def _locate(name: str) -> tuple[str | None, str | None]:
    """(path or None, version or None) for a tool; cached per process."""
    t = _tool(name)
    if t.kind == "command":
        path = shutil.which(t.probe)
        return (path, _first_line([path, *t.version_args]) if path else None)
    if t.kind == "python":
        try:
            dist = importlib.metadata.distribution(t.probe)
        except importlib.metadata.PackageNotFoundError:
            return (None, None)
        return (str(dist.locate_file("")), dist.version)
    if t.kind == "npm":
        pkg = ROOT / "node_modules" / t.probe / "package.json"
        if not pkg.exists():
            return (None, None)
        import json
        return (str(pkg.parent), json.loads(pkg.read_text()).get("version"))
    if t.kind == "header":     # a -dev package: its version from a *VERSION_STRING define
        hits = sorted(glob.glob(t.probe))
        if not hits:
            return (None, None)
        import re
        m = re.search(r'VERSION_STRING\s+"([^"]+)"', Path(hits[-1]).read_text(errors="replace"))
        return (hits[-1], m.group(1) if m else "?")
    if t.kind == "file":
        hits = sorted(glob.glob(t.probe))
        return (hits[-1], "clang " + Path(hits[-1]).parts[-4]) if hits else (None, None)
    raise ValueError(t.kind)


def zig_argv() -> list[str]:
    """How to start zig (the ``ziglang`` wheel, as ``python -m ziglang``); raises MissingTool."""
    try:
        import ziglang  # noqa: F401
    except ImportError:
        raise MissingTool(missing("ziglang")) from None
    return [sys.executable, "-m", "ziglang"]


def compiler(name: str) -> list[str]:
    """The command line that starts a C compiler the course uses: ``"gcc"`` (or $CC),
    ``"mingw"`` (x86_64-w64-mingw32-gcc), ``"zig"`` (zig cc) or ``"zig-windows"``
    (zig cc -target x86_64-windows-gnu). Raises MissingTool naming what to install."""
    if name == "gcc":
        cc = os.environ.get("CC")
        return [cc] if cc else [require("gcc")]
    if name == "mingw":
        return [require("mingw")]
    if name == "zig":
        return [*zig_argv(), "cc"]
    if name == "zig-windows":
        return [*zig_argv(), "cc", "-target", "x86_64-windows-gnu"]
    raise ValueError(f"unknown compiler {name!r}: gcc, mingw, zig or zig-windows")


def have(*names: str) -> bool:
    """True when every tool named (TOOLS names or commands) is installed."""
    return all(_locate(n)[0] is not None for n in names)


def tool_path(name: str) -> str | None:
    """Path of the tool, or None."""
    return _locate(name)[0]


# Debian keeps Wine's real programs here; /usr/bin/wine is a wrapper script around them
_WINE_LIBDIR = Path("/usr/lib/wine")
_WINE_PROGRAMS = {"loader": ("wine64", "wine"), "server": ("wineserver64", "wineserver")}


def wine_program(kind: str) -> str | None:
    """Wine's ``"loader"`` (what starts a Windows program) or ``"server"``: Debian's own
    binaries in /usr/lib/wine (64-bit first), else the command on PATH; None without Wine."""
    names = _WINE_PROGRAMS[kind]
    for name in names:
        p = _WINE_LIBDIR / name
        if os.access(p, os.X_OK) and p.is_file():
            return str(p)
    return tool_path("wine") if kind == "loader" else shutil.which(names[-1])


def missing(*names: str) -> str:
    """One message naming what to install among ``names`` (only the absent ones, or all
    of them when none is absent); lessons print it instead of running a cell."""
    tools = [_tool(n) for n in names]
    absent = [t for t in tools if _locate(t.name)[0] is None] or tools
    what = " and ".join(t.name for t in absent)
    apt = [t.install[len(_APT):].split() for t in absent if t.install.startswith(_APT)]
    lines = [f"{_APT} {' '.join(dict.fromkeys(p for pkgs in apt for p in pkgs))}"] if apt else []
    lines += [t.install for t in absent if not t.install.startswith(_APT)]
    lessons = ", ".join(dict.fromkeys(t.lessons for t in absent))
    verb = "is" if len(absent) == 1 else "are"
    return (f"{what} {verb} not installed, so this cell does not run here. "
            f"Install {'it' if len(absent) == 1 else 'them'} with:  {';  '.join(lines)}   "
            f"(used by lesson(s) {lessons}). The rest of the lesson still runs.")


class MissingTool(RuntimeError):
    """Raised by ``require`` when a tool is absent; its message is ``missing(...)``."""


def require(*names: str) -> str:
    """Path of the (first) tool; raise MissingTool naming every absent one."""
    if not have(*names):
        raise MissingTool(missing(*names))
    return tool_path(names[0])


@dataclass(frozen=True)
class MimallocFiles:
    version: str
    include_dir: Path
    lib_dir: Path
    shared_lib: Path     # libmimalloc.so: for LD_PRELOAD or -lmimalloc
    static_lib: Path     # libmimalloc.a
    object_file: Path    # mimalloc.o: link first for a static override


@functools.lru_cache(maxsize=1)
def mimalloc() -> MimallocFiles:
    """Where the ``cmeel-mimalloc`` wheel put mimalloc's headers and libraries."""
    try:
        dist = importlib.metadata.distribution("cmeel-mimalloc")
    except importlib.metadata.PackageNotFoundError:
        raise MissingTool(missing("mimalloc")) from None
    files = [Path(dist.locate_file(f)) for f in dist.files or ()]

    def find(suffix: str) -> Path:
        for f in files:
            if str(f).endswith(suffix):
                return f
        raise MissingTool(f"the cmeel-mimalloc wheel has no file ending in {suffix}")

    header = find("/mimalloc.h")
    shared = find("/lib/libmimalloc.so")
    return MimallocFiles(
        version=dist.version,
        include_dir=header.parent,
        lib_dir=shared.parent,
        shared_lib=shared,
        static_lib=find("/libmimalloc.a"),
        object_file=find("/mimalloc.o"),
    )


@dataclass
class DoctorReport:
    rows: list[dict]

    @property
    def ok(self) -> bool:
        return all(r["found"] for r in self.rows)

    def __str__(self) -> str:
        head = f"{'tool':20} {'found':6} {'version':42} {'lessons':12} install"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(f"{r['tool']:20} {'yes' if r['found'] else 'NO':6} "
                         f"{(r['version'] or '-')[:42]:42} {r['lessons']:12} "
                         f"{'' if r['found'] else r['install']}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self) -> str:
        from html import escape
        cells = "".join(
            f"<tr><td>{escape(r['tool'])}</td>"
            f"<td style='color:{'green' if r['found'] else 'crimson'}'>{'yes' if r['found'] else 'no'}</td>"
            f"<td>{escape(r['version'] or '-')}</td><td>{escape(r['lessons'])}</td>"
            f"<td>{'' if r['found'] else '<code>' + escape(r['install']) + '</code>'}</td></tr>"
            for r in self.rows)
        return ("<table><tr><th>tool</th><th>found</th><th>version</th><th>lessons</th>"
                f"<th>how to install</th></tr>{cells}</table>")


def doctor() -> DoctorReport:
    """Every tool the course uses: found or not, version, lessons, install line."""
    rows = []
    for t in TOOLS:
        path, version = _locate(t.name)
        rows.append(dict(tool=t.name, found=path is not None, version=version,
                         lessons=t.lessons, install=t.install, path=path))
    rows.append(dict(tool="python", found=True, version=sys.version.split()[0],
                     lessons="all", install="", path=sys.executable))
    return DoctorReport(rows)


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True
