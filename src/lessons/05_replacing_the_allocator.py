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
# replaces the allocator on purpose, for the whole process: the `malloc` calls of the
# program, of its libraries, of libc itself and of a library opened later all go to
# mimalloc, and you will see the one kind of library that still keeps glibc's (one
# opened with `RTLD_DEEPBIND`). On Linux that is symbol interposition; on Windows it is
# patching the C runtime, which we build ourselves and run under Wine.
#
# **You will learn to**
# - override `malloc` with `LD_PRELOAD` (a program and a Python child) and by linking
#   `mimalloc.o` into the program, prove from inside the process who serves each call,
#   and predict where the override stops (link order of archives, `RTLD_DEEPBIND`, a
#   late `RTLD_GLOBAL`);
# - use mimalloc's switches (`MIMALLOC_VERBOSE`, `MIMALLOC_SHOW_STATS`) and spot the
#   ones that do nothing (`MI_VERBOSE`);
# - route C++ `new`/`delete` to mimalloc;
# - explain how `mimalloc-redirect.dll` works on Windows, by building the two patching
#   techniques (import table, C runtime entry points) and the "loaded too late" failure.
#
# **Time:** about 60 minutes. **Builds on:** 04 (two allocators in one process).

# %% [markdown]
# ## Setup

# %%
import os
import sys

import labsupport as lab
from labsupport import winlab
from labsupport.lessons import replacing

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
# block it asks mimalloc "is this yours?" (`mi_is_in_heap_region`: found at run time
# with `dlsym`, or, for a mimalloc linked into the program, through a weak reference;
# when no mimalloc is loaded the answer is glibc). It also prints which file the
# *name* `malloc` resolves to (`dlsym` then `dladdr`). Each block goes back to the
# module that allocated it.

# %%
winlab.build([SRC / "helper.c"], OUT / "libhelper.so", compiler="gcc", shared=True)
winlab.build([SRC / "lateplugin.c"], OUT / "lateplugin.so", compiler="gcc", shared=True)
link = [f"-L{OUT}", "-lhelper", "-Wl,-rpath,$ORIGIN", "-ldl", "-lpthread"]
winlab.build([SRC / "whoserves.c"], OUT / "whoserves", compiler="gcc", ldflags=link)
# static override: mimalloc.o linked into the program
winlab.build([MI.object_file, SRC / "whoserves.c"], OUT / "whoserves_static", compiler="gcc",
             ldflags=link)
PLUGIN = str(OUT / "lateplugin.so")


def whoserves(program="whoserves", env=None, args=(PLUGIN,)):
    return lab.run_program([str(OUT / program), *args], env=env, timeout=10)


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
# definitions in the global search order. Every module that looks `malloc` up in that
# order, libc's own internal calls included, binds to it (glibc documents this:
# *Replacing malloc* in its manual). `RTLD_LOCAL` hides the *plugin's* symbols from
# others; it does not stop the plugin from finding `malloc` in the global scope. (Not
# every library looks there first: the exercise after section 3 has one that does not.)
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
# `arena_reserve` is how much address space mimalloc reserves at a time: 1 GiB
# (`src/options.c` l.148 in v3.4.3: "reserve memory N KiB at a time"), the first time when
# it first needs memory for blocks. Arenas 2 to 8 are the same 1 GiB; from the ninth on
# the size doubles every 8 arenas, and a huge request gets an arena of at least its own
# size (`src/arena.c` l.328-341)
# ([lesson 03](03_virtual_memory.ipynb): reserved, not committed). The first lines verbatim (they contain an address and the
# build date, so this cell's output is not compared):

# %%
# NBVAL_IGNORE_OUTPUT
print("\n".join(whoserves(env=PRELOAD | {"MIMALLOC_VERBOSE": "1"}).stderr.splitlines()[:6]))

# %% [markdown]
# Where does `MI_VERBOSE` come from? mimalloc's *build* options are CMake variables named
# `MI_...` (`MI_OVERRIDE`, `MI_DEBUG`, `MI_SECURE`...); its *run-time* options are
# environment variables named `MIMALLOC_...`. Mixing the two prefixes is an easy slip.
#
# `MIMALLOC_SHOW_STATS=1` prints a statistics table when the process exits: per kind of
# memory the peak, total, freed and current amounts, then process figures (elapsed time,
# user and system time, page faults, peak RSS). Timings vary, so it is not compared:

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
# Two questions, answered two ways. *Which library defines the `malloc` the
# interpreter calls?* The dynamic linker itself can say: with `LD_DEBUG=bindings` it
# reports every symbol binding it makes (`LD_DEBUG_OUTPUT` sends the report to a
# file). *Who served a given block?* The child asks mimalloc, with `ctypes`, whether
# the buffer of a 1 MiB `bytearray` lies in its heap (CPython takes buffers that big
# from `malloc`; small objects come from its own pymalloc arenas):

# %%
import glob
import re
import tempfile

CHILD = r'''
import ctypes
process = ctypes.CDLL(None)                      # the global scope: every loaded library
is_mimalloc = getattr(process, "mi_is_in_heap_region", None)
if is_mimalloc:
    is_mimalloc.restype, is_mimalloc.argtypes = ctypes.c_bool, [ctypes.c_void_p]
buf = bytearray(1 << 20)
addr = ctypes.addressof((ctypes.c_char * 1).from_buffer(buf))
print("1 MiB bytearray served by:", "mimalloc" if is_mimalloc and is_mimalloc(addr) else "glibc")
'''


def malloc_bindings(report_dir, program):
    """The libraries the dynamic linker bound the name malloc to, from its own report.
    A binding to the program itself is left out: for a non-PIE program that is its PLT
    stub, the canonical address other libraries must use, not a definition."""
    found = set()
    for path in glob.glob(os.path.join(report_dir, "ld.*")):
        for m in re.finditer(r"to (\S+) \[\d+\]: normal symbol `malloc'", open(path).read()):
            if os.path.realpath(m.group(1)) != os.path.realpath(program):
                found.add(os.path.basename(m.group(1)))
    return ", ".join(sorted(found))


for env in [None, PRELOAD]:
    with tempfile.TemporaryDirectory() as d:
        debug = {"LD_DEBUG": "bindings", "LD_DEBUG_OUTPUT": os.path.join(d, "ld")}
        r = lab.run_program([real, "-c", CHILD], env={**(env or {}), **debug}, timeout=30)
        print("LD_PRELOAD" if env else "plain     ", "| malloc bound to:", malloc_bindings(d, real),
              "|", r.stdout.strip())

# %% [markdown]
# Why not ask the running interpreter where its `malloc` is, with
# `dladdr(dlsym(RTLD_DEFAULT, "malloc"))`, as `whoserves.c` does below? For a program
# built as a position-independent executable (gcc's default on Debian, and how
# `whoserves` is built) that names the library that defines `malloc`. But Debian's
# own `/usr/bin/python3` is built *non-PIE*: for such an executable `dlsym` returns
# the address of the executable's own PLT stub for `malloc` (the "canonical" address
# every library must agree on), and `dladdr` then names `python3.11`, whichever
# library really serves the calls. The linker's report shows the same effect (it binds
# the libraries' references to that stub, which is why the cell leaves bindings to the
# program itself out); its bindings *from* the program name the real definition on
# every build of the interpreter.

# %% [markdown]
# ## 3. Static override: `mimalloc.o` linked in
#
# Without any environment variable, link mimalloc *into the program*: the wheel ships
# `mimalloc.o`, one object file with all of mimalloc that defines `malloc` & co. The
# build above put it first on the link line, as mimalloc's README recommends
# (*Static override*: "link it as the first object file").
#
# **Predict:** does the `dlopen`ed library, which the program never linked against,
# now use glibc or mimalloc?

# %%
print(whoserves("whoserves_static").stdout)

# %% [markdown]
# mimalloc everywhere, and the name `malloc` resolves to *the program itself*. Why does
# a program export `malloc` at all? The linker puts a symbol of an executable into its
# dynamic symbol table when a shared library it links against refers to that name:
# `libc.so.6` (and `libhelper.so`) refer to `malloc`, so the program's definition is
# exported. And the program is first in the global search order: libc's internal calls,
# `libhelper.so` and the late `dlopen`ed plugin all bind to it. This is the same
# interposition as `LD_PRELOAD`, fixed at link time. (On macOS, mimalloc's README
# documents only the dynamic override, with `DYLD_INSERT_LIBRARIES` (*Dynamic Override on
# MacOS*); its *Static override* section speaks of "Unix-like systems" and of Windows, and
# says nothing about macOS either way. macOS's two-level namespace binds each library to
# the `malloc` of the library it was linked against, so linking mimalloc into the
# program would not reach the libraries the way it does here: lesson 06.)
#
# Does "first" on the link line matter? For an **object file**, no: the linker takes
# every object file it is given, wherever it stands, and there can be only one
# definition of `malloc` among them. For an **archive** (`libmimalloc.a`), yes: the
# linker takes a member out of an archive only to resolve a name that is *still
# undefined when it reaches the archive*, and it does not go back. The exercise below
# asks you to predict both.
#
# Lesson 04's `libtext_private.so` is the opposite: mimalloc linked in *and hidden*.
# Whether an embedded allocator takes over the process or stays private is decided by
# symbol visibility, not by the code.

# %% [markdown]
# ### Exercise 1: where does the override stop?
#
# Six new configurations, built or run in the next cell (nothing is printed). Predict,
# for each, whether **glibc** or **mimalloc** serves the allocation named. Reason from
# the search order, and from what the linker takes out of an archive:
#
# | configuration | how it was made |
# |---|---|
# | `mimalloc.o last` | `gcc whoserves.c ... -lhelper -ldl mimalloc.o`: the object file *last* |
# | `libmimalloc.a first` | `gcc libmimalloc.a whoserves.c ...`: the archive *before* the program's code |
# | `libmimalloc.a last` | `gcc whoserves.c ... libmimalloc.a`: the archive after it |
# | `LD_PRELOAD + RTLD_DEEPBIND` | `LD_PRELOAD=libmimalloc.so`, and a plugin opened with `dlopen(RTLD_LOCAL \| RTLD_DEEPBIND)`: it looks up names in *itself and its own dependencies first* (`dlopen(3)`), before the global scope |
# | `static mimalloc.o + RTLD_DEEPBIND` | `whoserves_static` from above, same `RTLD_DEEPBIND` plugin |
# | `RTLD_GLOBAL, late` | no preload; the first thing `main` does is `dlopen("libmimalloc.so", RTLD_NOW \| RTLD_GLOBAL)`, then it allocates |
#
# Write your answers into `PREDICTION` ("glibc" or "mimalloc"), typed as plain strings.
# The check runs every configuration and compares, without showing the answers; each
# case has a hint. (A prediction cell that runs the programs itself, with `whoserves()`
# or the check's helpers, is refused.)

# %%
DEEP = OUT / "deepplugin.so"          # lateplugin.c again, as another file (a file loads once)
winlab.build([SRC / "lateplugin.c"], DEEP, compiler="gcc", shared=True)
winlab.build([SRC / "whoserves.c"], OUT / "whoserves_o_last", compiler="gcc",
             ldflags=link + [MI.object_file])
winlab.build([MI.static_lib, SRC / "whoserves.c"], OUT / "whoserves_a_first", compiler="gcc",
             ldflags=link)
winlab.build([SRC / "whoserves.c"], OUT / "whoserves_a_last", compiler="gcc",
             ldflags=link + [MI.static_lib, "-lpthread"])
CONFIGS = {   # name: (program, environment, arguments)
    "mimalloc.o last": ("whoserves_o_last", None, ()),
    "libmimalloc.a first": ("whoserves_a_first", None, ()),
    "libmimalloc.a last": ("whoserves_a_last", None, ()),
    "LD_PRELOAD + RTLD_DEEPBIND": ("whoserves", PRELOAD, (f"deep:{DEEP}",)),
    "static mimalloc.o + RTLD_DEEPBIND": ("whoserves_static", None, (f"deep:{DEEP}",)),
    "RTLD_GLOBAL, late": ("whoserves", None, (f"global:{MI.shared_lib}", PLUGIN)),
}

# %% tags=["solution"]
PREDICTION = {   # each: "glibc" or "mimalloc"
    ("mimalloc.o last", "asprintf (allocates inside libc)"): "?",
    ("libmimalloc.a first", "malloc in the program"): "?",
    ("libmimalloc.a last", "malloc in the program"): "?",
    ("LD_PRELOAD + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"): "?",
    ("static mimalloc.o + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"): "?",
    ("RTLD_GLOBAL, late", "malloc in the program"): "?",
    ("RTLD_GLOBAL, late", "malloc in a dlopen'ed library"): "?",
}
### BEGIN SOLUTION
PREDICTION = {
    ("mimalloc.o last", "asprintf (allocates inside libc)"): "mimalloc",
    ("libmimalloc.a first", "malloc in the program"): "glibc",
    ("libmimalloc.a last", "malloc in the program"): "mimalloc",
    ("LD_PRELOAD + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"): "glibc",
    ("static mimalloc.o + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"): "glibc",
    ("RTLD_GLOBAL, late", "malloc in the program"): "glibc",
    ("RTLD_GLOBAL, late", "malloc in a dlopen'ed library"): "glibc",
}
### END SOLUTION

# %% tags=["check"]
# runs every configuration now and compares, without showing the answers
replacing.check_who_serves(PREDICTION, CONFIGS, whoserves)

# %% [markdown]
# ### What the exercise showed
#
# The two link orders for the object file, and the two for the archive, side by side:

# %%
for program in ["whoserves_static", "whoserves_o_last", "whoserves_a_first", "whoserves_a_last"]:
    r = replacing.parse_report(whoserves(program).stdout)
    print(f"{program:18} malloc resolves to {r['the name malloc resolves to']:18}"
          f" the program's malloc: {r['malloc in the program']:8}"
          f" asprintf: {r['asprintf (allocates inside libc)']}")

# %% [markdown]
# - `mimalloc.o` first or last: the same result. The README's "link it as the first
#   object file" is harmless advice, but the position of an object file does not
#   decide anything here.
# - `libmimalloc.a` first: the linker pulled nothing out of it, and glibc serves every
#   call, with no warning at all. Last: it works. Position matters for **archives**.
#   (That is one reason mimalloc ships `mimalloc.o`: "linkers give preference to that
#   over archives to resolve symbols", its README says.)
#
# And the libraries opened at run time:

# %%
for config in ["LD_PRELOAD + RTLD_DEEPBIND", "static mimalloc.o + RTLD_DEEPBIND", "RTLD_GLOBAL, late"]:
    print(f"--- {config}")
    print(whoserves(*CONFIGS[config]).stdout)

# %% [markdown]
# - **`RTLD_DEEPBIND`** beats both overrides: the plugin's own dependencies (`libc.so.6`)
#   come first, so its `malloc` is glibc's while the rest of the process uses mimalloc.
#   Two allocators again, as in lesson 04: a block from this plugin must go back to the
#   plugin (`whoserves` calls the plugin's own `plugin_free`; lesson 04 measured what a
#   wrong free does in exactly this setting: the preloaded mimalloc returned silently).
#   "Every `malloc` goes to mimalloc" is true only for modules that look `malloc` up in
#   the global order.
# - **`RTLD_GLOBAL`, late**: `libmimalloc.so` is loaded, its `mi_*` functions are found,
#   and it serves nothing: a library added to the global scope goes to its *end*. An
#   override has to be in place before the first lookup, which is what `LD_PRELOAD`
#   does on Linux and what `mimalloc-redirect.dll` must do on Windows (section 5).

# %% [markdown]
# ## 4. C++ `new` and `delete`
#
# C++ allocates through the replaceable global `operator new`/`operator delete`, which
# libstdc++ implements on top of `malloc`. Two ways to reach mimalloc:
#
# - override `malloc` (above): libstdc++'s `operator new` calls the new `malloc`;
# - include `mimalloc-new-delete.h` in **exactly one** source file: it *defines* every
#   form of the global `operator new`/`delete` to call mimalloc (`mi_new`, `mi_free`...).
#
# **Predict:** under `LD_PRELOAD`, where does `operator new` itself live?

# %%
def cxx_demo():
    winlab.build([SRC / "cxx_new.cpp"], OUT / "cxx_plain", compiler="gcc",
                 cflags=["-O2", "-x", "c++"], ldflags=["-ldl", "-lstdc++"])
    for label, env in [("plain", None), ("LD_PRELOAD", PRELOAD)]:
        r = lab.run_program([str(OUT / "cxx_plain")], env=env, timeout=10)
        print(f"--- {label}\n{r.stdout}")


if lab.have("g++"):
    cxx_demo()
else:
    print(lab.missing("g++"))

# %% [markdown]
# Under `LD_PRELOAD`, `operator new` lives in `libmimalloc.so`: this build of mimalloc
# (the wheel's, built with mimalloc's default `MI_OVERRIDE=ON`) defines the C++
# operators *itself*, next to `malloc`. Count them, and see what the header adds on
# top of it (`mi_new_delete.cpp` is the one source file that includes it):

# %%
def defines_operators(path):
    r = lab.run_program(["nm", "-C", "--defined-only", str(path)], timeout=30)
    return sum(1 for line in r.stdout.splitlines()
               if " T operator new" in line or " T operator delete" in line)


for path in [MI.shared_lib, MI.static_lib, MI.object_file]:
    print(f"{path.name:15} defines {defines_operators(path)} forms of operator new/delete")
if lab.have("g++"):
    try:
        winlab.build([SRC / "cxx_new.cpp", SRC / "mi_new_delete.cpp"], OUT / "cxx_header",
                     compiler="gcc", cflags=["-O2", f"-I{MI.include_dir}", "-x", "c++"],
                     ldflags=["-x", "none", MI.static_lib, "-ldl", "-lpthread", "-lstdc++"])
        print("the header + libmimalloc.a: linked")
    except winlab.BuildError as exc:
        twice = exc.diagnostics.count("multiple definition of `operator")
        print(f"the header + libmimalloc.a: link error, {twice} operators defined twice")

# %% [markdown]
# With this mimalloc the header adds nothing on Linux: the library already defines
# every operator, and linking the header's definitions next to the static library is a
# "multiple definition" error. (The header's definitions *could* win over the shared
# `libmimalloc.so`, since the program is first in the search order, but then `new`
# goes to the very same mimalloc.) The header is for builds where nothing else replaces
# `operator new`: mimalloc built with `MI_OVERRIDE=OFF` and linked as a plain library,
# and Windows, where mimalloc's README recommends it "for best performance" next to the
# redirect DLL (*Dynamic override on Windows*). The header's own comment says the same:
# "On Windows, or when linking dynamically with mimalloc, these can be more performant
# than the standard new-delete operations." This course cannot show the Windows case
# running: there is no MSVC build here.

# %% [markdown]
# ## 5. Windows: how `mimalloc-redirect.dll` takes over the C runtime
#
# On Windows there is no global symbol search: each module (EXE or DLL) built with the
# DLL C runtime (`/MD`, or MinGW's default) calls the CRT through its **own import
# address table** (IAT), a table of function pointers the loader fills in from the CRT
# DLL's exports. A module built with the static CRT (`/MT`) has its own copy of the CRT's
# code and imports no CRT at all (lesson 04): no redirect of the CRT DLL reaches it.
# Linking mimalloc into one module changes that module only. (mimalloc's README also
# describes a *static* override on Windows, added recently: the program is linked with
# the static release CRT, `/MT`, and with `mimalloc.obj`, which takes precedence over the
# CRT's definitions; that replaces `malloc` in that one module, like `mimalloc.o` in
# section 3. README v3.4.3, *Static override*, lines 568-570.) mimalloc's Windows
# override (its `bin/readme.md` and *Overriding malloc*,
# https://microsoft.github.io/mimalloc/overrides.html) therefore works like this:
#
# - `mimalloc.dll` (called `mimalloc-override.dll` until the releases of 2025-01-03,
#   v1.8.9 and v2.1.9: README, release notes) holds the allocator;
#   `mimalloc-redirect.dll` is a separate, prebuilt, closed-source DLL that must sit next
#   to it. The README says only that it "ensures that all calls to the C runtime malloc
#   API get redirected to mimalloc functions"; *how* shows in its trace output, which
#   users have posted: in mimalloc issue #542 it reads, line after line,
#   `resolve "free" at ucrtbase.dll!0x00007FFCDEB2F020 to mimalloc!0x00007FFC82F59FF0`
#   (the same for `malloc`, `realloc`, `_msize`, `_free_base`...). The redirect DLL
#   works on the C runtime's own **allocation entry points** in `ucrtbase.dll` (issue
#   #498 shows the same for the debug CRT, `ucrtbased.dll`), so the calls of every
#   module that uses that CRT DLL land in mimalloc, whichever IAT they came through.
#   The exact patching code is not public; the demo below builds that kind of patch.
# - It must be loaded **before the CRT initialises**, and the program must use the DLL C
#   runtime (`/MD`). mimalloc's README (*Dynamic override on Windows*) gets that load
#   order in the ordinary way: **link the program with `mimalloc.dll`'s import library
#   and call a mimalloc function**, "like `mi_version()`", in `main` (or use the linker
#   switch `/include:mi_version`), so that `mimalloc.dll` really is in the EXE's import
#   list, as early as possible. An import library that nothing references leaves no
#   import behind, which is why the call matters.
# - `minject` (in mimalloc's `bin/`) is for the other case: "we cannot always re-link an
#   executable": it patches an existing EXE's import table (`minject -l` lists it,
#   `--inplace` rewrites it).
# - Loaded too late (for example with `LoadLibrary` after start-up) it redirects
#   nothing (mimalloc issues #668, #820). In issue #170 (2019-11-15) the maintainer
#   says why: "If `mimalloc-redirect` loads too late (after `ucrtbase`) it disables
#   itself as it is not guaranteed to be robust in that case". The redirector's message ("standard malloc is
#   _not_ redirected" in the issues) is printed only when mimalloc's `verbose` or
#   `show_errors` option is on (`src/init.c` v3.4.3, lines 1016-1020). For a release
#   build of mimalloc both are off unless `MIMALLOC_VERBOSE=1` or
#   `MIMALLOC_SHOW_ERRORS=1` is set; a debug build (`MI_DEBUG`, `mimalloc-debug.dll`)
#   turns `show_errors` on by default (`src/options.c` v3.4.3, line 115). (The user in
#   issue #668, whose program used the debug CRT `ucrtbased.dll`, posted the message.)
#   `MIMALLOC_DISABLE_REDIRECT=1` turns the redirect off.
#
# We cannot run that closed DLL here, but we can build the *mechanism* and watch it.
# `redirect.c` contains a tiny "new allocator" (a header with a tag in front of each
# block, on a heap of its own) that counts calls by calling module, and two patches:
#
# - `iat`: rewrite *the program's* IAT slots for `malloc`/`free` (`iat-plugin` and
#   `iat-all` do it for `plugin.dll`, or both modules: the exercise below);
# - `crt`: overwrite the first 12 bytes of `malloc`/`free` *inside `msvcrt.dll`* with
#   `mov rax, new_malloc; jmp rax`, the way a redirect DLL patches the CRT. (Under Wine
#   the `msvcrt.dll` we patch is Wine's own, itself a PE DLL.)
#
# Both are applied in `main()`, after the CRT started and after the program and
# `plugin.dll` each allocated one block: the "loaded too late" situation. The real
# redirect DLL *refuses* to patch that late and only reports it; the demo patches
# anyway, to show why it refuses: frees that arrive after the patch carry pointers from
# allocations made before it. The mimalloc maintainer on a request to switch the
# redirect on while running (issue #582, 2022-05-11): "changing the override while
# running is very dangerous: already allocations may have happened and when you change
# allocators midway, the malloc may not match with the right free". The new
# `free` recognises blocks it did not make (it asks its own heap, `HeapValidate`, then
# checks its tag) and hands them back to the CRT's `free`.
#
# Every count printed below comes from this part of `redirect.c` (the caller is found
# from the return address, `caller_index`), so here it is to read:

# %%
redirect_c = (SRC / "redirect.c").read_text()
print(redirect_c[redirect_c.index("/* ---- the new allocator"):redirect_c.index("/* ---- patch 1")].rstrip())

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
# What if the new `free` trusts every pointer? With `naive` it still notices (and
# counts) a foreign block before it writes anything, but then hands it to its *own*
# heap's `HeapFree` instead of the CRT's `free`. Run both patches with `naive`:

# %%
if WINDOWS:
    for mode in ["iat", "crt"]:
        print(redirect(mode, "naive").stdout)

# %% [markdown]
# The new `free` passed 2 blocks it never made to its own heap. Under **Wine**,
# `HeapFree` with a pointer from another heap checks, fails and returns FALSE: the
# blocks leak, silently. On **Windows** `HeapFree` promises nothing for such a pointer
# (undefined: heap corruption is possible). And this demo is the *kind* version: it
# checks ownership before it writes into the header in front of a block. An allocator
# that trusted the pointer all the way would first write its bookkeeping into the 16
# bytes before the block, memory that belongs to the CRT's heap (the block's header or
# its neighbour), and so corrupt that heap before it even reached `HeapFree`. A real
# allocator has the same problem in its own form: mimalloc's `free` finds a block's
# metadata from its address, and lesson 04 measured both a SIGSEGV in `mi_free` (the
# static library's, which reads through a missing page-map entry) and a silent return on
# foreign pointers (the shared library's, built to check it). This is why the redirect must be in place before
# the CRT hands out its first block, and why it still has to recognise blocks from
# before it arrived.

# %% [markdown]
# ### Exercise 2: patch other import tables
#
# Two more modes patch import tables only, never the CRT itself:
#
# - `iat-plugin`: only `plugin.dll`'s IAT slots for `malloc`/`free`;
# - `iat-all`: the IAT slots of *both* modules, the program's and `plugin.dll`'s.
#
# The scenario is the same as above (the program and the plugin each keep one block
# from before the patch, then: 3 program blocks, 3 plugin blocks, one `_strdup` made
# inside `msvcrt.dll` and freed by the program, then both early blocks freed). Predict
# the counts `redirect.exe` will report. Fill in `PREDICTION_2` with numbers you typed
# (a cell that runs `redirect()` itself is refused); the check runs both modes under
# Wine and compares without showing the answers.

# %% tags=["solution"]
PREDICTION_2 = {   # each: a count
    ("iat-plugin", "malloc from the program"): "?",
    ("iat-plugin", "malloc from plugin.dll"): "?",
    ("iat-plugin", "blocks the new free() never allocated"): "?",
    ("iat-all", "malloc inside msvcrt.dll"): "?",
    ("iat-all", "blocks the new free() never allocated"): "?",
}
### BEGIN SOLUTION
PREDICTION_2 = {
    ("iat-plugin", "malloc from the program"): 0,
    ("iat-plugin", "malloc from plugin.dll"): 3,
    ("iat-plugin", "blocks the new free() never allocated"): 1,
    ("iat-all", "malloc inside msvcrt.dll"): 0,
    ("iat-all", "blocks the new free() never allocated"): 3,
}
### END SOLUTION

# %% tags=["check"]
# runs both modes under Wine now and compares, without showing the answers
if WINDOWS:
    replacing.check_redirect_counts(PREDICTION_2, redirect)
else:
    print(winlab.why_not())

# %% [markdown]
# ## Summary
#
# - On Linux, whoever defines `malloc` first in the global search order serves every
#   module that looks it up there: a preloaded library (`LD_PRELOAD`) or the executable
#   itself (`mimalloc.o` linked in, first or last). libc's internal calls and libraries
#   opened later follow; a library opened with `RTLD_DEEPBIND` does not (it keeps
#   glibc's `malloc`, measured under both overrides), and a `libmimalloc.so` opened late
#   with `RTLD_GLOBAL` serves nothing. `libmimalloc.a` placed before the code that
#   calls `malloc` is silently ignored. Prove it from inside:
#   `dladdr(dlsym(RTLD_DEFAULT, "malloc"))`, `mi_is_in_heap_region(p)`.
# - mimalloc's options are `MIMALLOC_*` environment variables; `MI_VERBOSE` does nothing.
# - C++: the wheel's mimalloc defines `operator new`/`delete` itself, so they follow
#   the `malloc` override; `mimalloc-new-delete.h` (in one source file) is for builds
#   where nothing replaces them (mimalloc without override, Windows).
# - On Windows each module built with the DLL CRT (`/MD`) has its own import table
#   (a `/MT` module has its own CRT copy and imports none). Patching one IAT catches one
#   module; patching the CRT entry points catches everybody, including the CRT itself.
#   That is what `mimalloc-redirect.dll` does, and why it must load before the CRT
#   initialises (link `mimalloc.dll`'s import library and call `mi_version()`; `minject`
#   for an EXE you cannot re-link) and still hand back blocks allocated before it.
#
# **Myths corrected**
# - "`MI_VERBOSE=1` shows mimalloc's settings": the variables are `MIMALLOC_*`.
# - "A library opened with `RTLD_LOCAL` keeps glibc's malloc": `RTLD_LOCAL` hides the
#   library's symbols, not the global `malloc` from it.
# - "Linking mimalloc into my DLL replaces malloc on Windows": only for that module's
#   calls; the process-wide override is the redirect DLL.
# - "`mimalloc.o` must come first on the link line": for an object file the position
#   did not matter (measured); for the archive `libmimalloc.a` it does, and first is the
#   *wrong* place.
# - "Every `malloc` goes to mimalloc under `LD_PRELOAD`": not in a library opened with
#   `RTLD_DEEPBIND`.
# - "On Windows you need `minject`": mimalloc's README makes linking `mimalloc.dll`'s
#   import library and calling `mi_version()` (or `/include:mi_version`) the main way;
#   `minject` is for executables you cannot re-link.
# - "A debug program needs the `-debug` DLL": `-debug` is the name CMake gives a
#   non-release build *of mimalloc* (`mimalloc-debug.dll`; `minject --postfix=debug`
#   injects that one); it says nothing about how your program is built.
# - "If the redirect failed, mimalloc tells you": a release build of mimalloc says so
#   only with `MIMALLOC_VERBOSE=1` or `MIMALLOC_SHOW_ERRORS=1` (a debug build shows
#   errors by default); otherwise the program just runs on the CRT's allocator.
#
# **Further reading**
# - mimalloc, *Overriding malloc*: https://microsoft.github.io/mimalloc/overrides.html and
#   *Environment options*: https://microsoft.github.io/mimalloc/environment.html
# - mimalloc's README, *Static override* and *Dynamic override on Windows*:
#   https://github.com/microsoft/mimalloc#static-override ; `bin/readme.md` (Windows
#   override, `minject`): https://github.com/microsoft/mimalloc/tree/main/bin ; the
#   redirector message and `MIMALLOC_VERBOSE`/`MIMALLOC_SHOW_ERRORS`: `src/init.c`,
#   `src/options.c`.
# - Lesson 06, [static vs dynamic mimalloc](06_static_vs_dynamic_mimalloc.ipynb).
# - mimalloc issues #668 and #820 (redirect loaded after the CRT), #582 (blocks from
#   before the redirect), #542 and #498 (redirect traces: `resolve "free" at ucrtbase.dll!...
#   to mimalloc!...`).
# - `ld.so(8)` (`LD_PRELOAD`), `dlopen(3)`, `dladdr(3)`; the glibc manual, *Replacing malloc*:
#   https://www.gnu.org/software/libc/manual/html_node/Replacing-malloc.html
# - Microsoft, *PE Format* (import directory, IAT): https://learn.microsoft.com/windows/win32/debug/pe-format
# - Leijen, Zorn, de Moura, *Mimalloc: Free List Sharding in Action*, APLAS 2019.
