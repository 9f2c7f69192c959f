"""Windows binaries for lessons 04 and 05: build them, read their import tables,
run them under Wine.

    from labsupport import winlab
    winlab.build(["winlib.c"], out / "winlib.dll", compiler="mingw", shared=True)
    winlab.imports(out / "winlib.dll")        # {"msvcrt.dll": ["free", "malloc", ...], ...}
    winlab.prepare_wine()                     # creates the Wine prefix once (slow the first time)
    r = winlab.run_wine(out / "winapp.exe", "heaps", "winlib.dll")   # a lab.RunResult

Compilers: ``"mingw"`` (Debian's ``x86_64-w64-mingw32-gcc``, links ``msvcrt.dll``),
``"zig"`` (``python -m ziglang cc -target x86_64-windows-gnu``, links the UCRT) and,
for the Linux halves of the same lessons, ``"gcc"``. Every build and every Wine run
goes through ``lab.run_program`` with a timeout.

Wine runs headless with its own prefix under ``cache_dir()/wine``: ``WINEDEBUG=-all``
unless a channel is asked for, and ``WINEDLLOVERRIDES=winedbg.exe=d`` so a crash ends
the process with its exit code instead of starting Wine's debugger. Wine is not
Windows: lessons say which behaviour is Wine's.
"""
from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
from pathlib import Path

from .cbuild import CompileError, build_program
from .isolate import RunResult, run_program
from .wasm import zig_cache_dir, zig_env
from .toolchain import compiler as toolchain_compiler
from .toolchain import MissingTool, cache_dir, have, missing, wine_program

__all__ = ["BASE_OVERRIDES", "BuildError", "CREATE_OVERRIDES", "MINGW", "ZIG_WINDOWS_COLD_MESSAGE",
           "build", "c_runtime", "compiler_argv", "have_windows_tools", "imports", "prepare_wine", "ready",
           "run_wine", "why_not", "wine_env", "wine_loader", "wine_prefix", "workdir",
           "zig_windows_libc_cached"]

MINGW = "x86_64-w64-mingw32-gcc"
BASE_OVERRIDES = "winedbg.exe=d"
# Only while creating the prefix: do not offer to install Mono / Gecko (no display here).
CREATE_OVERRIDES = "winedbg.exe=d;mscoree=d;mshtml=d"


class BuildError(CompileError):
    """A compiler failed; the message is the compiler's own diagnostics."""


def have_windows_tools() -> bool:
    """True when both MinGW-w64 and Wine are installed."""
    return have("mingw") and have("wine")


def why_not() -> str:
    """What is missing for the Windows cells, as install lines ('' when nothing is)."""
    return "\n".join(missing(name) for name in ("mingw", "wine") if not have(name))


def ready() -> bool:
    """For a lesson's set-up cell: create the Wine prefix if MinGW and Wine are here,
    print one line saying so (or what to install), and return whether the Windows
    cells can run."""
    if not have_windows_tools():
        print(why_not())
        return False
    prepare_wine()
    print("Wine prefix ready; MinGW-w64 found")
    return True


def workdir(name: str) -> Path:
    """A build folder under the course cache, e.g. ``workdir("04")``."""
    path = cache_dir() / "build" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def compiler_argv(compiler: str) -> list[str]:
    """The command line that starts ``compiler`` ("mingw", "zig" or "gcc")."""
    if compiler in ("mingw", "gcc"):
        return toolchain_compiler(compiler)
    if compiler == "zig":
        return toolchain_compiler("zig-windows")
    raise ValueError(f"compiler must be 'mingw', 'zig' or 'gcc', not {compiler!r}")


# The first zig build for Windows compiles zig's copy of the MinGW-w64 C runtime into
# zig's cache, with no output of its own. Measured on 2-core machines: 70 s in one run,
# 157-171 s in others; afterwards a build takes a fraction of a second.
ZIG_WINDOWS_COLD_MESSAGE = ("building zig's Windows C library (MinGW-w64 CRT) into the course "
                            "cache: one to three minutes, once per machine...")


def zig_windows_libc_cached() -> bool:
    """True when zig's cache already holds its Windows C library (``libmingw32.lib``)."""
    return any((zig_cache_dir() / "o").glob("*/libmingw32.lib"))


def build(sources, output, *, compiler: str = "mingw", shared: bool = False,
          cflags=("-O2",), ldflags=()) -> Path:
    """Compile and link ``sources`` into ``output`` (an .exe/.dll, or a Linux program/.so).

    ``cflags`` go before the sources, ``ldflags`` (objects, archives, ``-l``/``-Wl`` options)
    after them, as a linker wants (the names ``lab.build_program`` uses). Windows builds
    are stripped (``-s``). The build is
    ``lab.build_program``'s (cached by content); the result is copied to ``output`` so
    an EXE and its DLLs sit side by side, as Windows' loader wants. Raises BuildError
    (a ``lab.CompileError``) with the compiler's messages on failure.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    cflags = list(cflags) + (["-fPIC"] if shared and compiler == "gcc" else [])
    ldflags = [str(x) for x in ldflags] + (["-shared"] if shared else []) + ([] if compiler == "gcc" else ["-s"])
    if compiler == "zig" and not zig_windows_libc_cached():
        from .warmstate import wait_for
        wait_for("zig-windows")          # being prepared in the background? say so and wait
        if not zig_windows_libc_cached():
            print(ZIG_WINDOWS_COLD_MESSAGE, flush=True)
    try:
        built = build_program(sources, output=output.name, cflags=cflags, ldflags=ldflags,
                              compiler=compiler_argv(compiler), default_cflags=(),
                              env=zig_env() if compiler == "zig" else None)
    except CompileError as exc:
        raise BuildError(f"{compiler} build of {output.name} failed:\n{exc.diagnostics}",
                         exc.diagnostics) from None
    shutil.copyfile(built, output)
    output.chmod(0o755)
    return output


def imports(path) -> dict[str, list[str]]:
    """The import table of a PE file: DLL name -> imported function names (sorted)."""
    import pefile
    pe = pefile.PE(str(path), fast_load=True)
    try:
        pe.parse_data_directories(
            directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"]])
        table = {}
        for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []):
            names = sorted(i.name.decode() if i.name else f"#{i.ordinal}" for i in entry.imports)
            table[entry.dll.decode()] = names
        return table
    finally:
        pe.close()


def c_runtime(path) -> str:
    """Which C runtime a PE file binds to, read from its import table."""
    dlls = [d.lower() for d in imports(path)]
    if any(d.startswith("api-ms-win-crt-") or d == "ucrtbase.dll" for d in dlls):
        return "UCRT (ucrtbase.dll, through api-ms-win-crt-*.dll)"
    for d in dlls:
        if d == "msvcrt.dll" or (d.startswith("msvcr") and d.endswith(".dll")):
            return d
    return "no C runtime DLL"


def wine_loader() -> str:
    """The Wine loader to start programs with (``toolchain.wine_program``: Debian's wine64,
    else ``wine``)."""
    path = wine_program("loader")
    if path is None:
        raise MissingTool(missing("wine"))
    return path


def wine_prefix() -> Path:
    """The course's own Wine prefix (not ``~/.wine``)."""
    return cache_dir() / "wine"


def wine_env(debug: str | None = None) -> dict[str, str]:
    """Environment for a headless Wine run in the course prefix."""
    return {"WINEPREFIX": str(wine_prefix()), "WINEDEBUG": debug or "-all",
            "WINEDLLOVERRIDES": BASE_OVERRIDES, "WINEARCH": "win64", "DISPLAY": ""}


def prepare_wine(timeout: float = 600) -> str:
    """Create the Wine prefix once (``wineboot --init``); later calls return at once.

    Returns a one-line status. Safe when two kernels call it together (a file lock).
    """
    if not have("wine"):
        raise MissingTool(missing("wine"))
    from .warmstate import wait_for
    wait_for("wine-prefix")              # being prepared in the background? say so and wait
    prefix = wine_prefix()
    ready = prefix / ".labsupport-ready"
    if ready.exists():
        return f"Wine prefix ready (created earlier): {prefix.name}/ in the course cache"
    with open(cache_dir() / "wine.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return f"Wine prefix ready (created earlier): {prefix.name}/ in the course cache"
        env = wine_env() | {"WINEDLLOVERRIDES": CREATE_OVERRIDES}
        r = run_program([wine_loader(), "wineboot", "--init"], env=env, timeout=timeout)
        if not r.ok:
            raise RuntimeError(f"wineboot failed: {r.status()}\n{r.stderr[-2000:]}")
        server = wine_program("server")
        if server:      # wait until the prefix is written completely
            run_program([server, "-w"], env=env, timeout=timeout)
        linked = link_wine_dlls(prefix)
        ready.write_text("created by labsupport.winlab\n")
    return (f"Wine prefix created: {prefix.name}/ in the course cache"
            + (f" ({linked} of Wine's own DLLs linked, not copied)" if linked else ""))


def link_wine_dlls(prefix: Path) -> int:
    """Replace each file ``wineboot`` copied byte for byte from Wine's own DLL folder into the
    prefix by a symbolic link to it; returns how many. Wine 8's ``wineboot --init`` copies
    about 620 PE files (~630 MB of a ~690 MB prefix) into ``drive_c/windows/system32``; Wine
    loads the same bytes either way, and a program that opens ``C:\\windows\\system32\\X.dll``
    still reads them. A file that differs (or a Wine without that folder) stays as it is."""
    import filecmp
    wine_dlls = [d for d in Path("/usr/lib").glob("*/wine/x86_64-windows") if (d / "ntdll.dll").is_file()]
    wine_dlls += [d for d in Path("/usr/lib/wine").glob("x86_64-windows") if (d / "ntdll.dll").is_file()]
    if not wine_dlls or not (prefix / "drive_c").is_dir():
        return 0
    own = wine_dlls[0]
    linked = 0
    for f in (prefix / "drive_c").rglob("*"):
        if f.is_symlink() or not f.is_file():
            continue
        theirs = own / f.name
        if (theirs.is_file() and theirs.stat().st_size == f.stat().st_size
                and filecmp.cmp(f, theirs, shallow=False)):
            tmp = f.with_name(f.name + ".labsupport-link")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(theirs)
            os.replace(tmp, f)
            linked += 1
    return linked


def run_wine(exe, *args, debug: str | None = None, env: dict | None = None, cwd=None,
             timeout: float = 60, input=None) -> RunResult:
    """Run a Windows program under Wine in an isolated child; returns a ``lab.RunResult``.

    ``cwd`` defaults to the program's folder (so its DLLs are found there).
    ``debug`` is a WINEDEBUG channel list such as ``"warn+heap"`` (default ``-all``).
    Line ends are turned into ``\\n``. A crash shows as a nonzero exit code: the Windows
    exit code is the exception code (0xC0000005 for an access violation) and a Linux
    parent sees its low 8 bits (5).
    """
    prepare_wine()
    exe = Path(exe)
    full_env = wine_env(debug) | dict(env or {})
    # One Wine run at a time per prefix, across processes: measured, two programs run
    # at once in one prefix sometimes lost all of one program's output (exit code 0,
    # empty stdout and stderr; 3 of 12 runs).
    with open(cache_dir() / "wine-run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = run_program([wine_loader(), str(exe), *map(str, args)], env=full_env,
                        cwd=str(cwd or exe.parent), timeout=timeout, input=input)
    return dataclasses.replace(r, stdout=r.stdout.replace("\r\n", "\n"),
                               stderr=r.stderr.replace("\r\n", "\n"))

