# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Replacing the allocator for a whole process
#
# Lesson 04 showed what goes wrong when two allocators share a process. This lesson
# does it on purpose and *completely*: every `malloc` in the process, from the program,
# from its libraries, from libc itself and from a library opened later, goes to
# mimalloc. On Linux that is symbol interposition; on Windows it is patching the C
# runtime, which we build ourselves and run under Wine.
#
# **You will learn to**
# - override `malloc` with `LD_PRELOAD` (a program and a Python child) and with
#   `mimalloc.o` linked first, and prove from inside the process who serves each call;
# - use mimalloc's switches (`MIMALLOC_VERBOSE`, `MIMALLOC_SHOW_STATS`) and spot the
#   ones that do nothing (`MI_VERBOSE`);
# - route C++ `new`/`delete` to mimalloc;
# - explain how `mimalloc-redirect.dll` works on Windows, by building the two patching
#   techniques (import table, C runtime entry points) and the "loaded too late" failure.
#
# **Time:** about 45 minutes. **Builds on:** 04 (two allocators in one process).

# %% [markdown]
# ## Setup

# %%
import os
import sys

import labsupport as lab
from labsupport import winlab

SRC = lab.example_path("05_replacing_the_allocator")
OUT = winlab.workdir("05")
MI = lab.mimalloc()
PRELOAD = {"LD_PRELOAD": str(MI.shared_lib)}
print("mimalloc", MI.version, "from the cmeel-mimalloc wheel")
WINDOWS = winlab.ready()

# %% [markdown]
# ## 1. Who serves `malloc`? A program that can tell
#
# `whoserves.c` allocates five ways: `malloc` in the program, `strdup`, `asprintf`
# (which allocates *inside* libc), `malloc` inside `libhelper.so` (linked normally) and
# `malloc` inside `lateplugin.so` (opened later with `dlopen(RTLD_LOCAL)`). For each
# block it asks mimalloc "is this yours?" (`mi_is_in_heap_region`, looked up at run
# time: when no mimalloc is loaded the answer is glibc). It also prints which file the
# *name* `malloc` resolves to (`dlsym` then `dladdr`).

# %%
winlab.build([SRC / "helper.c"], OUT / "libhelper.so", compiler="gcc", shared=True)
winlab.build([SRC / "lateplugin.c"], OUT / "lateplugin.so", compiler="gcc", shared=True)
link = [f"-L{OUT}", "-lhelper", "-Wl,-rpath,$ORIGIN", "-ldl", "-lpthread"]
winlab.build([SRC / "whoserves.c"], OUT / "whoserves", compiler="gcc", libs=link)
# static override: mimalloc.o is the FIRST object on the link line
winlab.build([MI.object_file, SRC / "whoserves.c"], OUT / "whoserves_static", compiler="gcc",
             flags=["-O2", "-DSTATIC_MIMALLOC"], libs=link)
PLUGIN = str(OUT / "lateplugin.so")


def whoserves(program="whoserves", env=None):
    return lab.run_program([str(OUT / program), PLUGIN], env=env, timeout=10)


print(whoserves().stdout)

# %% [markdown]
# Plain: glibc everywhere, as expected.
#
# ## 2. Dynamic override: `LD_PRELOAD`
#
# **Predict:** with `LD_PRELOAD=libmimalloc.so`, which of the five allocations move to
# mimalloc? Think of `asprintf` (glibc calls `malloc` from inside libc) and of the
# library opened with `dlopen(RTLD_LOCAL)` *after* start-up.

# %%
print(whoserves(env=PRELOAD).stdout)

# %% [markdown]
# All of them. The dynamic linker loads a preloaded library right after the program,
# before every `DT_NEEDED` library, so its `malloc`, `free`, `strdup`... are the first
# definitions in the global search order. Every reference to `malloc` in any module,
# libc's own internal calls included, binds to it (glibc documents this: *Replacing
# malloc* in its manual). `RTLD_LOCAL` hides the
# *plugin's* symbols from others; it does not stop the plugin from finding `malloc`
# in the global scope.
#
# Note the `strdup` line: mimalloc exports its own `strdup` and `strndup`, so with
# mimalloc loaded `strdup` is not glibc's function at all. `asprintf` is the real
# test of a call made inside libc.
#
# ### mimalloc's switches are `MIMALLOC_*`
#
# mimalloc reads its options from environment variables named `MIMALLOC_` + option
# (mimalloc's `src/options.c`; documented at
# https://microsoft.github.io/mimalloc/environment.html). `MIMALLOC_VERBOSE=1` prints
# the options in effect at start-up; a popular misspelling, `MI_VERBOSE=1`, prints
# nothing:

# %%
def mimalloc_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith(("mimalloc:", "option"))]


for var in ["MIMALLOC_VERBOSE", "MI_VERBOSE"]:
    r = whoserves(env=PRELOAD | {var: "1"})
    lines = mimalloc_lines(r.stderr)
    print(f"{var}=1: mimalloc printed a start-up report: {'yes' if lines else 'no'}")
    for line in lines:
        if line.startswith("option 'verbose'") or line.startswith("option 'arena_reserve'"):
            print("   ", line.strip())

# %% [markdown]
# `arena_reserve` is the 1 GiB of address space mimalloc reserves at start (lesson 03:
# reserved, not committed). The first lines verbatim (they contain an address and the
# build date, so this cell's output is not compared):

# %%
# NBVAL_IGNORE_OUTPUT
print("\n".join(whoserves(env=PRELOAD | {"MIMALLOC_VERBOSE": "1"}).stderr.splitlines()[:6]))

# %% [markdown]
# `MIMALLOC_SHOW_STATS=1` prints a statistics table when the process exits (timings
# inside it vary, so it is not compared either):

# %%
# NBVAL_IGNORE_OUTPUT
r = whoserves(env=PRELOAD | {"MIMALLOC_SHOW_STATS": "1"})
print(r.stderr[:1500])

# %% [markdown]
# ### A Python child under `LD_PRELOAD`
#
# The same works for any program, Python included. Preload the *real interpreter
# binary*. Here `sys.executable` resolves to an ELF file:

# %%
real = os.path.realpath(sys.executable)
with open(real, "rb") as f:
    print("the interpreter is an ELF binary:", f.read(4) == b"\x7fELF")

# %% [markdown]
# If `python` on your `PATH` is a *shim* (pyenv, asdf: a shell script that starts the
# real interpreter), `LD_PRELOAD=... python` loads mimalloc into the shell, `env`,
# and every process the shim starts, not just Python. Start the binary directly.
#
# The child finds out for itself, with `ctypes`, where `malloc` comes from and who
# served the buffer of a 1 MiB `bytearray` (CPython takes buffers that big from
# `malloc`; small objects come from its own pymalloc arenas):

# %%
CHILD = r'''
import ctypes, os
class DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]
process = ctypes.CDLL(None)                      # the global scope: every loaded library
info = DlInfo()
malloc = ctypes.cast(process.malloc, ctypes.c_void_p).value
process.dladdr(ctypes.c_void_p(malloc), ctypes.byref(info))
print("malloc resolves to:", os.path.basename(info.dli_fname.decode()))
is_mimalloc = getattr(process, "mi_is_in_heap_region", None)
if is_mimalloc:
    is_mimalloc.restype, is_mimalloc.argtypes = ctypes.c_bool, [ctypes.c_void_p]
buf = bytearray(1 << 20)
addr = ctypes.addressof((ctypes.c_char * 1).from_buffer(buf))
print("1 MiB bytearray served by:", "mimalloc" if is_mimalloc and is_mimalloc(addr) else "glibc")
'''
for env in [None, PRELOAD]:
    r = lab.run_program([real, "-c", CHILD], env=env, timeout=30)
    print("LD_PRELOAD" if env else "plain     ", "|", r.stdout.strip().replace("\n", " | "))

# %% [markdown]
# ## 3. Static override: `mimalloc.o` first
#
# Without any environment variable, link mimalloc *into the program*: the wheel ships
# `mimalloc.o` (one object file with all of mimalloc, exporting `malloc` & co.), and it
# goes *first* on the link line so that its definitions are the ones the program
# exports. The build above did that for `whoserves_static`.
#
# **Predict:** does the `dlopen`ed library, which the program never linked against,
# now use glibc or mimalloc?

# %%
print(whoserves("whoserves_static").stdout)

# %% [markdown]
# mimalloc everywhere, and the name `malloc` resolves to *the program itself*. The
# linker exports the program's `malloc` because `libc.so.6` refers to that name, and
# the program is first in the global search order: libc's internal calls, `libhelper.so` and the late
# `dlopen`ed plugin all bind to it. This is the same interposition as `LD_PRELOAD`,
# fixed at link time. (On macOS, mimalloc documents only the dynamic override with
# `DYLD_INSERT_LIBRARIES`; its two-level namespace binds each library to the `malloc`
# it was linked against, and static override is not supported there.)
#
# Lesson 04's `libtext_private.so` is the opposite: mimalloc linked in *and hidden*.
# Whether an embedded allocator takes over the process or stays private is decided by
# symbol visibility, not by the code.

# %% [markdown]
# ## 4. C++ `new` and `delete`
#
# C++ allocates through the replaceable global `operator new`/`operator delete`, which
# libstdc++ implements on top of `malloc`. Two ways to reach mimalloc:
#
# - override `malloc` (above): libstdc++'s `operator new` calls the new `malloc`;
#   mimalloc also exports the `operator new`/`delete` symbols itself;
# - include `mimalloc-new-delete.h` in **exactly one** source file: it *defines* every
#   form of the global `operator new`/`delete` to call mimalloc (`mi_new`, `mi_free`...).
#   This is the way where `malloc` is not overridden: on Windows without the redirect
#   DLL, on macOS, or with a static mimalloc built without override.

# %%
def cxx_demo():
    winlab.build([SRC / "cxx_new.cpp"], OUT / "cxx_plain", compiler="gcc",
                 flags=["-O2", "-x", "c++"], libs=["-ldl", "-lstdc++"])
    mi_lib = MI.shared_lib.parent
    winlab.build([SRC / "cxx_new.cpp", SRC / "mi_new_delete.cpp"], OUT / "cxx_header",
                 compiler="gcc", flags=["-O2", f"-I{MI.include_dir}", "-x", "c++"],
                 libs=[f"-L{mi_lib}", "-lmimalloc", f"-Wl,-rpath,{mi_lib}", "-ldl", "-lstdc++"])
    for label, program, env in [("plain", "cxx_plain", None), ("LD_PRELOAD", "cxx_plain", PRELOAD),
                                ("mimalloc-new-delete.h", "cxx_header", None)]:
        r = lab.run_program([str(OUT / program)], env=env, timeout=10)
        print(f"--- {label}\n{r.stdout}")


if lab.have("g++"):
    cxx_demo()
else:
    print(lab.missing("g++"))

# %% [markdown]
# With the header, `operator new` lives in the program itself. (Linking
# `libmimalloc.so` on Linux also interposes `malloc`, as in section 3; the header is
# what makes `new` independent of that.)

# %% [markdown]
# ## 5. Windows: how `mimalloc-redirect.dll` takes over the C runtime
#
# On Windows there is no global symbol search: each module (EXE or DLL) calls the C
# runtime through its **own import address table** (IAT), a table of function pointers
# the loader fills in from the CRT DLL's exports. Linking mimalloc into one module
# changes that module only. mimalloc's Windows override (its `bin/readme.md` and
# *Overriding malloc*, https://microsoft.github.io/mimalloc/overrides.html) therefore
# works like this:
#
# - `mimalloc.dll` (called `mimalloc-override.dll` until early 2025) holds the
#   allocator; `mimalloc-redirect.dll` is a separate, prebuilt, closed-source DLL that
#   must sit next to it. The redirect DLL **patches the C runtime's allocation entry
#   points** (`malloc`, `free`... in `ucrtbase.dll`) so every module's calls land in
#   mimalloc, whichever IAT they came through.
# - It must be loaded **before the CRT initialises**: `mimalloc.dll` must be early in
#   the EXE's import list. mimalloc's `minject` tool rewrites an EXE's import table so
#   that it is first (`minject --inplace`, `minject -l` lists it; debug builds use the
#   `-debug` DLL names, `--postfix=debug`). The program must use the DLL C runtime
#   (`/MD`).
# - Loaded too late (for example with `LoadLibrary` after start-up) it redirects
#   nothing and prints "standard malloc is _not_ redirected" (mimalloc issues #668,
#   #820). `MIMALLOC_DISABLE_REDIRECT=1` turns the redirect off.
#
# We cannot run that closed DLL here, but we can build the *mechanism* and watch it.
# `redirect.c` contains a tiny "new allocator" (a header with a tag in front of each
# block, on a heap of its own) that counts calls by calling module, and two patches:
#
# - `iat`: rewrite *the program's* IAT slots for `malloc`/`free`;
# - `crt`: overwrite the first 12 bytes of `malloc`/`free` *inside `msvcrt.dll`* with
#   `mov rax, new_malloc; jmp rax`, the way a redirect DLL patches the CRT. (Under Wine
#   the `msvcrt.dll` we patch is Wine's own, itself a PE DLL.)
#
# Both are applied in `main()`, after the CRT started and after the program and
# `plugin.dll` each allocated one block: the "loaded too late" situation. The new
# `free` recognises blocks it did not make and hands them back to the CRT's `free`.

# %%
if WINDOWS:
    winlab.build([SRC / "plugin.c"], OUT / "plugin.dll", compiler="mingw", shared=True)
    winlab.build([SRC / "redirect.c"], OUT / "redirect.exe", compiler="mingw")
    for name in ["redirect.exe", "plugin.dll"]:
        crt = winlab.imports(OUT / name)["msvcrt.dll"]
        print(f"{name:13} imports from msvcrt.dll: {', '.join(f for f in crt if f in ('malloc', 'free', '_strdup'))}")
else:
    print(winlab.why_not())

# %% [markdown]
# Two modules, two import tables, one CRT. **Predict** for each mode: which of the
# program's, the plugin's and the CRT's own (`_strdup`) allocations reach the new
# allocator?

# %%
def redirect(*args):
    return winlab.run_wine(OUT / "redirect.exe", *args, timeout=60)


if WINDOWS:
    for mode in ["none", "iat", "crt"]:
        print(redirect(mode).stdout)

# %% [markdown]
# - **`iat`** catches only the program's own calls: `plugin.dll` has its own IAT, and
#   `_strdup` calls `malloc` *inside* `msvcrt.dll`, never through any IAT. Worse, the
#   program frees the `_strdup` string with the new `free`: a block the new allocator
#   never made. That is one of the 2 "never allocated" blocks; the other is the
#   program's block from before the patch.
# - **`crt`** catches every caller: the program, the plugin and the CRT itself. The 2
#   foreign blocks are now the two made *before the patch* (one by the program, one by
#   the plugin), freed after it. A redirecting allocator must expect them: here they
#   are recognised and handed back to the CRT's `free`.
#
# Counting proves each claim: 3 of 3 vs 0 of 3 for the plugin, 0 of 1 vs 1 of 1 for
# `_strdup`.
#
# ### Loaded too late, handled naively
#
# What if the new `free` trusts every pointer? Run both patches with `naive`:

# %%
if WINDOWS:
    for mode in ["iat", "crt"]:
        print(redirect(mode, "naive").stdout)

# %% [markdown]
# The new `free` passed 2 blocks it never made to its own heap. Under **Wine**,
# `HeapFree` on the wrong heap fails and returns FALSE: the blocks leak, silently. On
# **Windows** that is undefined (heap corruption is likely), and a real allocator does
# not even get that far: mimalloc's `free` finds a block's metadata from its address
# (lesson 04 showed `mi_free` segfaulting on a glibc pointer). This is why the redirect
# must be in place before the CRT hands out its first block, and why it still has to
# recognise blocks from before it arrived.

# %% [markdown]
# ## 6. Exercise: predict, then let the check run it
#
# For each configuration and each call, predict whether **glibc** or **mimalloc**
# serves it. Edit `PREDICTION`; the check runs `whoserves` in every configuration
# and compares. Two of the entries below are wrong.

# %%
CONFIGS = {"plain": ("whoserves", None), "LD_PRELOAD": ("whoserves", PRELOAD),
           "static mimalloc.o": ("whoserves_static", None)}
CALLS = ["malloc in the program", "asprintf (allocates inside libc)", "malloc in a dlopen'ed library"]

PREDICTION = {
    ("plain", "malloc in the program"): "glibc",
    ("plain", "asprintf (allocates inside libc)"): "glibc",
    ("plain", "malloc in a dlopen'ed library"): "glibc",
    ("LD_PRELOAD", "malloc in the program"): "mimalloc",
    ("LD_PRELOAD", "asprintf (allocates inside libc)"): "mimalloc",
    ("LD_PRELOAD", "malloc in a dlopen'ed library"): "mimalloc",
    ("static mimalloc.o", "malloc in the program"): "mimalloc",
    ("static mimalloc.o", "asprintf (allocates inside libc)"): "glibc",
    ("static mimalloc.o", "malloc in a dlopen'ed library"): "glibc",
}

# %% tags=["solution"]
PREDICTION = {(config, call): "glibc" if config == "plain" else "mimalloc"
              for config in CONFIGS for call in CALLS}

# %%
def measured():
    """Run whoserves in each configuration: {(config, call): allocator}."""
    truth = {}
    for config, (program, env) in CONFIGS.items():
        for line in whoserves(program, env).stdout.splitlines():
            for call in CALLS:
                if line.startswith(call):
                    truth[(config, call)] = line.split()[-1]
    return truth


TRUTH = measured()
lab.check(lambda config, call: PREDICTION.get((config, call), "?"), [
    lab.Case(args=key, expected=TRUTH[key], label=f"{key[0]}: {key[1]}",
             hint="A program that defines malloc itself is first in the global search "
                  "order, like a preloaded library: every module that looks up malloc, "
                  "libc and dlopen'ed libraries included, gets the program's.")
    for key in TRUTH
], name="who serves malloc")

# %% [markdown]
# ## Summary
#
# - On Linux, whoever defines `malloc` first in the global search order serves the
#   whole process: a preloaded library (`LD_PRELOAD`) or the executable itself
#   (`mimalloc.o` linked first). libc's internal calls and libraries opened later
#   follow. Prove it from inside: `dladdr(dlsym(RTLD_DEFAULT, "malloc"))`,
#   `mi_is_in_heap_region(p)`.
# - mimalloc's options are `MIMALLOC_*` environment variables; `MI_VERBOSE` does nothing.
# - C++: `operator new` follows `malloc` when `malloc` is overridden; otherwise
#   `mimalloc-new-delete.h` in one source file.
# - On Windows each module has its own import table. Patching one IAT catches one
#   module; patching the CRT entry points catches everybody, including the CRT itself.
#   That is what `mimalloc-redirect.dll` does, and why it must load before the CRT
#   initialises (`minject`) and still hand back blocks allocated before it.
#
# **Myths corrected**
# - "`MI_VERBOSE=1` shows mimalloc's settings": the variables are `MIMALLOC_*`.
# - "A library opened with `RTLD_LOCAL` keeps glibc's malloc": `RTLD_LOCAL` hides the
#   library's symbols, not the global `malloc` from it.
# - "Linking mimalloc into my DLL replaces malloc on Windows": only for that module's
#   calls; the process-wide override is the redirect DLL.
#
# **Further reading**
# - mimalloc, *Overriding malloc*: https://microsoft.github.io/mimalloc/overrides.html and
#   *Environment options*: https://microsoft.github.io/mimalloc/environment.html
# - mimalloc `bin/readme.md` (Windows override, `minject`): https://github.com/microsoft/mimalloc/tree/main/bin
# - mimalloc issues #668 and #820 (redirect loaded after the CRT).
# - `ld.so(8)` (`LD_PRELOAD`), `dlopen(3)`, `dladdr(3)`; the glibc manual, *Replacing malloc*:
#   https://www.gnu.org/software/libc/manual/html_node/Replacing-malloc.html
# - Microsoft, *PE Format* (import directory, IAT): https://learn.microsoft.com/windows/win32/debug/pe-format
# - Leijen, Zorn, de Moura, *Mimalloc: Free List Sharding in Action*, APLAS 2019.
