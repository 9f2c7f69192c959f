"""labsupport.winlab: Windows builds, import tables, Wine runs (skipped without the tools)."""
from pathlib import Path

import pytest

import labsupport as lab
from labsupport import winlab

needs_mingw = pytest.mark.skipif(not lab.have("mingw"), reason=lab.missing("mingw"))
needs_wine = pytest.mark.skipif(not (lab.have("mingw") and lab.have("wine")),
                                reason=winlab.why_not() or "wine")

DLL = r"""
#include <stdlib.h>
__declspec(dllexport) void *give(size_t n) { return malloc(n); }
__declspec(dllexport) void take(void *p) { free(p); }
"""

EXE = r"""
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    char line[64] = "";
    if (argc > 1 && strcmp(argv[1], "echo") == 0) fgets(line, sizeof line, stdin);
    printf("hello %d %s\n", argc, line);
    fprintf(stderr, "to stderr\n");
    return 3;
}
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_missing_tools_name_the_package(monkeypatch):
    from labsupport import toolchain
    monkeypatch.setattr(toolchain, "_locate", lambda name: (None, None))     # nothing installed
    with pytest.raises(lab.MissingTool, match="gcc-mingw-w64-x86-64"):
        winlab.compiler_argv("mingw")
    monkeypatch.setattr(winlab, "have", lambda name: False)
    monkeypatch.setattr(toolchain.os, "access", lambda *a: False)          # no /usr/lib/wine either
    with pytest.raises(lab.MissingTool, match="wine64"):
        winlab.prepare_wine()
    assert "gcc-mingw-w64-x86-64" in winlab.why_not() and "wine" in winlab.why_not()


def test_unknown_compiler():
    with pytest.raises(ValueError, match="mingw"):
        winlab.compiler_argv("msvc")


def test_zig_command_targets_windows_gnu():
    argv = winlab.compiler_argv("zig")
    assert argv[-2:] == ["-target", "x86_64-windows-gnu"]
    from labsupport import wasm
    assert winlab.zig_env()["ZIG_GLOBAL_CACHE_DIR"] == str(wasm.zig_cache_dir())   # one zig cache


def test_gcc_build_and_run(tmp_path):
    exe = winlab.build([write(tmp_path, "p.c", EXE)], tmp_path / "p", compiler="gcc")
    r = lab.run_program([str(exe), "x"])
    assert r.returncode == 3 and r.stdout == "hello 2 \n"


def test_build_error_carries_diagnostics(tmp_path):
    src = write(tmp_path, "bad.c", "int main(void) { return undeclared; }\n")
    with pytest.raises(winlab.BuildError, match="undeclared"):
        winlab.build([src], tmp_path / "bad", compiler="gcc")


@needs_mingw
def test_mingw_dll_imports_msvcrt(tmp_path):
    dll = winlab.build([write(tmp_path, "d.c", DLL)], tmp_path / "d.dll", shared=True)
    table = winlab.imports(dll)
    assert {"malloc", "free"} <= set(table["msvcrt.dll"])
    assert winlab.c_runtime(dll) == "msvcrt.dll"


@needs_wine
def test_prefix_is_created_once():
    first = winlab.prepare_wine()
    assert "Wine prefix" in first
    assert "created earlier" in winlab.prepare_wine()
    assert (winlab.wine_prefix() / "drive_c").is_dir()


@needs_wine
def test_run_wine_exit_code_output_and_stdin(tmp_path):
    exe = winlab.build([write(tmp_path, "p.c", EXE)], tmp_path / "p.exe")
    r = winlab.run_wine(exe, "echo", input="typed\n", timeout=120)
    assert r.returncode == 3
    assert r.stdout == "hello 2 typed\n\n"        # \r\n turned into \n (fgets keeps the \n)
    assert "to stderr" in r.stderr
    assert "wine32" not in r.stderr               # no wrapper-script noise


@needs_wine
def test_run_wine_crash_is_an_exit_code(tmp_path):
    src = write(tmp_path, "c.c", "int main(void){ volatile int *p = 0; *p = 1; return 0; }\n")
    exe = winlab.build([src], tmp_path / "c.exe", cflags=("-O0",))
    r = winlab.run_wine(exe, timeout=120)
    assert not r.ok and not r.timed_out
    assert r.returncode == 0xC0000005 & 0xFF      # the access violation's low byte


@needs_wine
def test_redirect_demo_counts(tmp_path):
    """Lesson 05's IAT vs CRT patch demo, end to end (counts, not times)."""
    src = lab.example_path("05_replacing_the_allocator")
    winlab.build([src / "plugin.c"], tmp_path / "plugin.dll", shared=True)
    exe = winlab.build([src / "redirect.c"], tmp_path / "redirect.exe")
    iat = winlab.run_wine(exe, "iat", timeout=120).stdout
    crt = winlab.run_wine(exe, "crt", timeout=120).stdout
    assert "malloc from plugin.dll:    0 of 3" in iat
    assert "malloc from plugin.dll:    3 of 3" in crt
    assert "malloc inside msvcrt.dll:  1 of 1" in crt
    assert "never allocated: 2 -> handed back" in crt


def test_ready_names_what_is_missing(monkeypatch, capsys):
    from labsupport import toolchain
    monkeypatch.setattr(toolchain, "_locate", lambda name: (None, None))
    monkeypatch.setattr(winlab, "have", toolchain.have)
    monkeypatch.setattr(winlab, "missing", toolchain.missing)
    assert winlab.ready() is False
    out = capsys.readouterr().out
    assert "apt-get install -y gcc-mingw-w64-x86-64" in out and "apt-get install -y wine wine64" in out


def test_zig_cold_cache_says_so_once(monkeypatch, tmp_path, capsys):
    """A cold zig cache prints the 'minutes, once per machine' line; a warm one prints nothing."""
    monkeypatch.setenv("LABSUPPORT_ZIG_CACHE", str(tmp_path / "zig"))
    calls = []

    def fake_build_program(*args, **kwargs):
        calls.append(kwargs)
        built = tmp_path / "x.dll"
        built.write_bytes(b"MZ")
        return built

    monkeypatch.setattr(winlab, "build_program", fake_build_program)
    monkeypatch.setattr(winlab, "compiler_argv", lambda c: ["zig"])
    src = write(tmp_path, "d.c", DLL)
    winlab.build([src], tmp_path / "out" / "d.dll", compiler="zig", shared=True)
    assert winlab.ZIG_WINDOWS_COLD_MESSAGE in capsys.readouterr().out
    lib = tmp_path / "zig" / "o" / "0123abcd" / "libmingw32.lib"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"!<arch>\n")
    assert winlab.zig_windows_libc_cached()
    winlab.build([src], tmp_path / "out" / "d.dll", compiler="zig", shared=True)
    assert capsys.readouterr().out == ""
    assert len(calls) == 2


def test_wine_dlls_copied_into_the_prefix_become_links(tmp_path):
    """wineboot copies Wine's own DLLs into the prefix byte for byte (~630 MB): those become
    links to Wine's files; a file that differs stays a file."""
    from labsupport.winlab import link_wine_dlls
    own = [d for d in Path("/usr/lib").glob("*/wine/x86_64-windows") if (d / "ntdll.dll").is_file()]
    if not own:
        pytest.skip("Wine's x86_64-windows DLL folder is not installed")
    sys32 = tmp_path / "drive_c" / "windows" / "system32"
    sys32.mkdir(parents=True)
    (sys32 / "ntdll.dll").write_bytes((own[0] / "ntdll.dll").read_bytes())
    (sys32 / "kernel32.dll").write_bytes(b"MZ not Wine's own")
    assert link_wine_dlls(tmp_path) == 1
    assert (sys32 / "ntdll.dll").is_symlink() and (sys32 / "ntdll.dll").resolve() == (own[0] / "ntdll.dll").resolve()
    assert not (sys32 / "kernel32.dll").is_symlink()
    assert link_wine_dlls(tmp_path) == 0          # a second pass finds nothing left to link
