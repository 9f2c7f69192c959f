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
# # 04 · Cross-module free: who frees what
#
# A pointer does not remember which allocator made it. When a library hands you
# memory, `free()` in your code is only correct if your `free` and the library's
# `malloc` are *the same allocator*. This lesson makes two allocators live in one
# process, crashes them for real (in a child process, so the notebook survives),
# does the same with Windows DLLs under Wine, and then fixes the design.
#
# **You will learn to**
# - build one library four ways and predict, for each, which allocator serves its
#   `malloc` and what happens when the program frees its memory;
# - read the real failures, and the silent ones: glibc's `free(): invalid size` (or,
#   up to glibc 2.41, `free(): invalid pointer`; SIGABRT) one way, a SIGSEGV inside
#   mimalloc's `mi_free` with no message the other way, and wrong frees that return as
#   if nothing happened;
# - see the silent opposite: a library that takes over `malloc` for the whole process;
# - build a Windows DLL and EXE, read which C runtime each imports, and see which heap
#   each block lives in (under Wine, and what Windows itself does);
# - design an API so ownership is never ambiguous, and check it (with a check that
#   also counts what your fix leaves behind).
#
# **Time:** about 60 minutes (plus one to three minutes, once per machine, while zig
# builds its Windows C library). **Builds on:** 00 (isolated runs), 01 (glibc chunks,
# mimalloc pages).

# %% [markdown]
# ## Setup
#
# The C for this lesson lives in `native_examples/04_cross_module_free/`. Builds go to
# the course cache. The Windows half needs MinGW-w64 and Wine; the first Wine start
# creates a private Wine prefix (a few seconds, once per machine).

# %%
import re

import labsupport as lab
# %load_ext labsupport
from labsupport import capability, winlab
from labsupport.lessons import cross_module
from labsupport.lessons.cross_module import outcome

SRC = lab.example_path("04_cross_module_free")
OUT = winlab.workdir("04")
MI = lab.mimalloc()
print("mimalloc", MI.version, "from the cmeel-mimalloc wheel")
WINDOWS = winlab.ready()

# %% [markdown]
# ## 1. Two allocators in one Linux process
#
# `textlib.c` is a tiny library: `text_greeting(name)` returns a new string made with
# `malloc`, `text_free(p)` frees it, and `text_owns(p)` asks the library's allocator
# whether `p` is one of its blocks (mimalloc's `mi_is_in_heap_region`). `app.c` is a
# program that uses it. We build the *same* library source four ways:
#
# | library | how | the library's `malloc` is |
# |---|---|---|
# | `libtext_private.so` | `libmimalloc.a` linked in, `-Wl,--exclude-libs,ALL` | mimalloc, **private** to the library |
# | `libtext_exported.so` | `libmimalloc.a` linked in, nothing hidden | mimalloc, **exported** |
# | `libtext_symbolic.so` | `libmimalloc.a` linked in, `-Wl,-Bsymbolic` | mimalloc, bound privately *and* exported |
# | `libtext_shared.so` | no allocator of its own | whatever the process uses |
#
# `--exclude-libs,ALL` turns every symbol that came from a static archive into a local
# one: the library's own calls to `malloc` bind to its copy of mimalloc, and nobody
# else can see that copy. `-Bsymbolic` binds the library's own calls to its own
# definitions too, but leaves them exported for everybody else. What "exported" does to
# the *program* depends on the order in which the dynamic linker searches the modules
# for a name: that comes in "The silent opposite" below.
#
# The library is short; the counters `text_made`/`text_live` are for exercise 2:

# %%
print((SRC / "textlib.c").read_text())

# %%
inc = f"-I{MI.include_dir}"
mimalloc_a = [str(MI.static_lib), "-lpthread"]
lib_builds = {
    "private":  dict(cflags=["-O2", inc], ldflags=mimalloc_a + ["-Wl,--exclude-libs,ALL"]),
    "exported": dict(cflags=["-O2", inc], ldflags=mimalloc_a),
    "symbolic": dict(cflags=["-O2", inc], ldflags=mimalloc_a + ["-Wl,-Bsymbolic"]),
    "shared":   dict(cflags=["-O2", "-DNO_OWN_ALLOCATOR"], ldflags=[]),
}
for kind, how in lib_builds.items():
    winlab.build([SRC / "textlib.c"], OUT / f"libtext_{kind}.so", compiler="gcc",
                 shared=True, **how)
    # the same app.c, linked against each library (and found next to it at run time)
    # -fPIE -pie: glibc's heap then lies far above the lowest 512 MiB (see below)
    winlab.build([SRC / "app.c"], OUT / f"app_{kind}", compiler="gcc", cflags=["-O2", "-fPIE"],
                 ldflags=["-pie", f"-L{OUT}", f"-ltext_{kind}", "-Wl,-rpath,$ORIGIN", "-ldl"])
    print(f"built libtext_{kind}.so and app_{kind}")


def app(kind, mode, *extra):
    """Run app_<kind> MODE in an isolated child and return the RunResult."""
    return lab.run_program([str(OUT / f"app_{kind}"), mode, *map(str, extra)], timeout=10)


# %% [markdown]
# ### Who owns each pointer?
#
# **Predict** for `app_private`: the program calls `malloc(32)`, the library calls
# `malloc` inside `text_greeting`. Which allocator serves each?

# %%
print(app("private", "owners"))

# %% [markdown]
# The program's `malloc` is glibc's (`dladdr` says the name resolves to `libc.so.6`);
# the library's string was made by the library's private mimalloc. Two allocators,
# one process, and nothing in the pointers says so.
#
# ### Program frees the library's string
#
# **Predict:** `app_private free-lib` calls glibc's `free()` on the string from
# `text_greeting`. Crash, leak, or nothing?

# %%
print(app("private", "free-lib"))

# %% [markdown]
# glibc's `free` reads the chunk header in the 16 bytes before the pointer (lesson 01).
# A mimalloc block has no such header: the word there is whatever mimalloc keeps next
# to the block. glibc's sanity check on that size field fails (a chunk smaller than 32
# bytes, or one that would run past the end of the address space), it prints a message
# and calls `abort()`: SIGABRT. That is the *lucky* case: a check caught it.
#
# What glibc prints here depends on its version. Up to glibc 2.41 `free()` tested
# the size field at its start, with two messages: a size that runs past the end of the
# address space said `free(): invalid pointer` (glibc-2.41 `malloc/malloc.c:4558-4560`, in
# `_int_free_check`), one under 32 bytes `free(): invalid size` (l.4562-4564); the word
# before this block is of the first kind. glibc 2.42 merged its checks and moved
# this one after the tcache, with new words, `free(): invalid size` (commit 9b0c8ced9c,
# "malloc: Improve free checks", March 2025; glibc-2.42 `malloc.c:3551-3554`, in `__libc_free`). A
# Debian 12 or 13 machine prints the first, Debian unstable (glibc 2.43) the second;
# the output above is this machine's. Allocator checks are a moving target: a script
# that greps for one message breaks on the next glibc.
#
# ### The library frees the program's block
#
# **Predict:** `app_private lib-free` passes a glibc block to `text_free`, that is to
# mimalloc's `free`.

# %%
print(app("private", "lib-free"))

# %% [markdown]
# No message at all. Where did it stop? A debugger in batch mode (also in a child) shows
# the crashing function (and, below, why `text_free` is not among the frames). gdb
# needs `ptrace`, which many containers forbid: where the course's `ptrace` check fails
# (`python -m labsupport doctor`), the cell says why instead, so its output depends on
# the machine. Here it printed `frame 0: mi_free  in libtext_private.so`, then `main`.

# %%
# NBVAL_IGNORE_OUTPUT
# gdb needs ptrace: where the doctor's ptrace check fails, this cell says why instead
PTRACE = capability.check("ptrace")
if not lab.have("gdb"):
    print(lab.missing("gdb"))
elif not PTRACE.ok:
    print(f"gdb not run here: {PTRACE.detail}")
else:
    r = lab.run_program(["gdb", "-q", "-batch", "-ex", "run", "-ex", "bt",
                         "--args", str(OUT / "app_private"), "lib-free"], timeout=60)
    frames = [re.search(r"in (\w+) \(\)(?: from .*/(\S+))?", l) for l in r.stdout.splitlines()
              if l.startswith("#")]
    frames = [f for f in frames if f]
    for i, m in enumerate(frames):
        print(f"frame {i}: {m.group(1)}" + (f"  in {m.group(2)}" if m.group(2) else ""))
    if not frames:
        said = [l for l in (r.stderr + r.stdout).splitlines() if l.strip()]
        print(f"gdb could not trace here: {said[0] if said else r.status()}")

# %% [markdown]
# `text_free` does call `mi_free`, but as its last act: gcc `-O2` compiles that call as a
# jump (a *tail call*), so `text_free`'s frame is gone by the time `mi_free` faults, and
# the backtrace goes from `mi_free` straight to `main`:

# %%
lib = str(OUT / "libtext_private.so")
body = lab.run_program(["objdump", "-d", "--no-show-raw-insn", lib]).stdout.split("<text_free>:", 1)[1]
body = body.split("\n\n", 1)[0]
names = {}                                   # address -> the names nm gives it
for line in lab.run_program(["nm", lib]).stdout.splitlines():
    parts = line.split()                     # address, kind, name ("U name" when undefined)
    if len(parts) == 3:
        names.setdefault(int(parts[0], 16), []).append(parts[2])
for insn in body.splitlines():
    if "\tjmp " in insn or "\tcall " in insn:
        kind, target = insn.split()[1], int(insn.split()[2], 16)
        if "mi_free" in names.get(target, []):
            print(f"text_free reaches mi_free with a {kind}, "
                  f"{'so it leaves no frame of its own' if kind == 'jmp' else 'and keeps its frame'}")

# %% [markdown]
# mimalloc does not keep a header in front of each block. `mi_free` finds the block's
# *page* from the address alone (mimalloc 3 keeps metadata per page, lesson 01) and
# updates that page's free list. The lookup goes through a two-level page map: the
# address's top bits pick an entry of a table, which points to a *sub-map* covering
# 512 MiB of address space (`include/mimalloc/internal.h` l.635, mimalloc v3.4.3, the
# version of the course's wheel). A sub-map exists only where this mimalloc has memory,
# and for the lowest 512 MiB, which mimalloc always maps so that NULL finds no page
# (`src/page-map.c` l.272-288, "ensure there is a submap for the NULL address").
# `app` is built as a position-independent executable (`-fPIE -pie` above), so glibc's
# heap lies near `0x55...`, far above those 512 MiB: for a glibc block the entry is
# NULL. The copy inside `libtext_private.so` comes from the static `libmimalloc.a`,
# whose `mi_free` reads through that entry without testing it
# (`_mi_unchecked_ptr_page`, internal.h l.655-659): it reads near address 0, and that
# is the SIGSEGV inside `mi_free`. The crash needs a heap above the lowest 512 MiB: a
# block inside them finds the always-present sub-map, whose slot is NULL, and even this
# `mi_free` returns without a word (`src/free.c` l.181). A cold reader built `app` with
# `-no-pie`, where the kernel may place the heap that low: 2 of the 7 runs that finished
# returned.
#
# ### Is a wrong free always a crash?
#
# No. What happens depends on which allocator receives which pointer, and on what it
# finds at that address. Two more pairs, measured on this machine with the whole
# process under `LD_PRELOAD=libmimalloc.so` (lesson 05) and the library opened with
# `RTLD_DEEPBIND` (explained below: the library then keeps its own `malloc`):
#
# - `libtext_shared.so` has no allocator of its own, so with `RTLD_DEEPBIND` its
#   `malloc` is glibc's; the program's `free` is the preloaded mimalloc's;
# - `libtext_exported.so` carries its own static mimalloc: two mimalloc copies, each
#   with its own page map.
#
# **Predict** each line: SIGABRT, SIGSEGV, or "returned"?

# %%
# NBVAL_IGNORE_OUTPUT
# lines 1 and 3 depend on the kernel's overcommit mode (see below), so the cell is not compared
PRELOAD = {"LD_PRELOAD": str(MI.shared_lib)}
for label, lib, mode in [
        ("preloaded mimalloc frees a glibc block", "libtext_shared.so", "free-lib"),
        ("glibc frees a preloaded-mimalloc block", "libtext_shared.so", "lib-free"),
        ("preloaded mimalloc frees the other copy's block", "libtext_exported.so", "free-lib"),
        ("the library's mimalloc frees the preloaded copy's block", "libtext_exported.so", "lib-free")]:
    r = lab.run_program([str(OUT / "app_private"), mode, str(OUT / lib)], env=PRELOAD, timeout=10)
    said = [l for l in r.stderr.splitlines() if l.strip()]
    print(f"{label:56} {r.signal or 'returned, exit ' + str(r.returncode)}"
          + (f"  ({said[-1].strip()})" if said else ""))
print("vm.overcommit_memory here:", open("/proc/sys/vm/overcommit_memory").read().strip())

# %% [markdown]
# Here only one of the four wrong frees was caught with a message (glibc's). The preloaded
# mimalloc took a glibc block and a block of another mimalloc copy and returned without
# a word (even with `MIMALLOC_SHOW_ERRORS=1`, measured); the static copy inside the
# library faulted on the preloaded copy's block. A wrong-allocator free ranges from an
# immediate crash, through a crash much later, to silent corruption or a silent leak:
# "it did not crash" proves nothing. (`app_private` is used because it does not link the
# file it opens: a file already loaded is not loaded a second time.)
#
# Why does the preloaded copy return where the static copy faults? They are built
# differently. mimalloc's `CMakeLists.txt` (v3.4.3 l.385-391) adds
# `-DMI_FREE_IS_CHECKED=1` to the *shared* library only, when `MI_OVERRIDE` is on (the
# default: a library that replaces `malloc` gets pointers it did not make). Its
# `mi_free` then looks the page up with `_mi_checked_ptr_page` (`internal.h` l.661-667,
# chosen at l.674-678), which gives NULL when there is no sub-map, and `mi_free` returns
# at once for a NULL page (`src/free.c` l.181), without a message. The static
# `libmimalloc.a` is built without it, so its `mi_free` uses the unchecked lookup above.
# The machine code of the two `mi_free`s shows the difference: does `mi_free` test the
# table's entry before it reads through it?

# %%
def mi_free_tests_the_entry(path):
    """Whether mi_free in `path` tests the page map's entry for NULL before reading through it."""
    nm = [l.split() for l in lab.run_program(["nm", path]).stdout.splitlines()]
    start = next(int(f[0], 16) for f in nm if len(f) == 3 and f[2] == "mi_free")
    code = lab.run_program(["objdump", "-d", "--no-show-raw-insn", f"--start-address={start:#x}",
                            f"--stop-address={start + 0x40:#x}", path]).stdout
    entry = None                             # the register the table's entry is loaded into
    for insn in (l.split("\t", 1)[1] for l in code.splitlines() if "\t" in l):
        if entry is None:
            m = re.match(r"mov\s+\(%\w+,%\w+,8\),(%\w+)", insn)
            entry = m and m.group(1)
        elif re.match(rf"test\s+{entry},{entry}", insn):
            return "yes: a NULL entry, no page, mi_free returns"
        elif f"({entry}," in insn:
            return "no: it reads through the entry"
    return "not found in its first instructions"


for label, path in [("libmimalloc.so (the preloaded copy)", MI.shared_lib),
                    ("libtext_private.so (libmimalloc.a's copy)", OUT / "libtext_private.so")]:
    print(f"{label:42} tests the entry? {mi_free_tests_the_entry(str(path))}")

# %% [markdown]
# A checked `mi_free` does not make a wrong free right: the block is not freed at all (a
# leak), and nothing says so. And both lookups read the table's entry itself without
# checking that this part of the table is committed. mimalloc v3.4.3 commits the table
# up front only if it is small, an option asks for it, or the OS overcommits memory
# (`src/page-map.c` l.258-259: `... || _mi_os_has_overcommit()`). Under
# `vm.overcommit_memory=2` it is committed piece by piece instead, and a part not
# committed yet is mapped `PROT_NONE` (`src/prim/unix/prim.c` l.487): reading it faults,
# checked build or not. A cold reader measured it without changing the machine's
# setting: mimalloc decides from the text of `/proc/sys/vm/overcommit_memory`
# (`src/prim/unix/prim.c` l.129-152), so the reader bind-mounted a file holding `2` over
# that path in a private mount namespace (`unshare -m`; the kernel itself stayed in mode
# 0). Line 1 then crashed (SIGSEGV, 4 of 4 runs), and line 3 crashed in 17 of 49 runs;
# the same done again with this lesson's programs (AMD EPYC, 2026-12-07): line 1 8 of 8,
# line 3 25 of 40, lines 2 and 4 unchanged, and with the real mode 0 lines 1 and 3
# returned every time (8 of 8, 40 of 40).
# The table is committed in 64 pieces of 4096 entries, each covering 2 TiB of addresses
# (`src/page-map.c` l.199 and l.218-227; `MI_MAX_VABITS` is 47 on x64, `bits.h`
# l.121-124), and each mimalloc copy places its memory at random between 2 and 6 TiB
# (`src/os.c` l.119-146). In the reader's 48 runs that printed the blocks' addresses,
# line 3 crashed exactly when the two copies' blocks fell in different 2 TiB pieces: the
# preloaded copy had not committed the part of its table for the other copy's block. So lines
# 1 and 3 depend on the mode, and the cell with the four wrong frees is not compared;
# its last line says which mode it ran under (0, Linux's default, where its lines in
# this book came from).
#
# ### The silent opposite: a library that takes over `malloc`
#
# **Predict:** `libtext_exported.so` carries mimalloc too, but exports it. Does
# `app_exported free-lib` crash?

# %%
print(app("exported", "owners"))
print(app("exported", "free-lib"))

# %% [markdown]
# No crash, and *both* pointers belong to the library's mimalloc: the program's
# `malloc` now resolves to `libtext_exported.so`. The dynamic linker resolves a name
# to the *first* definition in its search order: the program, then its libraries in
# the order of their `DT_NEEDED` entries, `libc.so.6` last. The library exports
# `malloc`, comes before libc, and so serves every `malloc` of every module that looks
# it up in that global order (lesson 05 measures that libc's internal calls follow
# too; a library opened with `RTLD_DEEPBIND`, next, does not). Nothing warns you, and
# it "works" only by the accident of link order: open the same library with `dlopen`
# and the order, and the answer, change.

# %%
r = lab.run_program(["readelf", "-d", str(OUT / "app_exported")])
print("\n".join(line.split()[-1] + "  (DT_NEEDED, in search order)"
                for line in r.stdout.splitlines() if "NEEDED" in line))

# %% [markdown]
# ### `RTLD_DEEPBIND`: private binding at load time
#
# Given a path, `app` opens the library with
# `dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)`. `RTLD_DEEPBIND` makes the
# library look up symbols in *itself and its own dependencies first*, before the
# global scope (glibc `dlopen(3)`). The exported build then binds to its own mimalloc
# again, while the program keeps glibc: two allocators, even without
# `--exclude-libs`.
#
# `app_shared` is the program for this: it is linked against `libtext_shared.so`, which
# has no allocator of its own, so the program's `malloc` is glibc's; the exported build
# then comes in only through `dlopen`.
#
# **Predict:** the outcome of `app_shared free-lib libtext_exported.so`.

# %%
deep = OUT / "libtext_exported.so"
print(app("shared", "owners", deep))
print(app("shared", "free-lib", deep))

# %% [markdown]
# ### Exercise 1: predict four outcomes
#
# Four configurations you have not run yet. For each, predict how `app` ends:
# `"OK"` (ran to its end: that does *not* mean the code is right), `"SIGABRT"` or
# `"SIGSEGV"`. Reason from two questions: which `malloc` does the library's code bind
# to, and which does the program's? Same allocator on both sides: no crash.
#
# - `-Bsymbolic` binds the library's own calls to its own definitions *and* leaves them
#   exported. Linked normally, who is first in the search order for the program?
# - Opened with plain `dlopen(RTLD_LOCAL)`, a library comes *after* libc in the search
#   order, for its own undefined names too.
#
# Fill in `PREDICTION` with the answers you reason out, typed as plain strings: the check
# runs each configuration in a child and compares, without showing the answers (a
# prediction cell that runs the programs itself, with `app()` or the check's helpers, is
# refused).

# %% tags=["solution"]
PREDICTION = {   # each: "OK", "SIGABRT" or "SIGSEGV"
    "-Bsymbolic, linked: the program free()s the library's string": "?",
    "-Bsymbolic, opened with plain dlopen: text_free() on the program's block": "?",
    "exported, opened with plain dlopen: the program free()s the library's string": "?",
    "exported, linked: text_free() on the program's block": "?",
}
### BEGIN SOLUTION
PREDICTION = {
    "-Bsymbolic, linked: the program free()s the library's string": "OK",
    "-Bsymbolic, opened with plain dlopen: text_free() on the program's block": "SIGSEGV",
    "exported, opened with plain dlopen: the program free()s the library's string": "OK",
    "exported, linked: text_free() on the program's block": "OK",
}
### END SOLUTION

# %% tags=["check"]
# runs the four configurations now, in children, and compares without showing the answers
cross_module.check_outcomes(PREDICTION, OUT)

# %% [markdown]
# ### The whole picture
#
# Every build, linked or opened with `dlopen` (plain `RTLD_LOCAL`, or with
# `RTLD_DEEPBIND`), and every direction, run for real (the exercise's answers are in
# it). "OK" means the program ran to its end; it does not mean the code is right.

# %%
rows = [("--exclude-libs, linked", "private", ()),
        ("-Bsymbolic, linked", "symbolic", ()),
        ("-Bsymbolic, dlopen", "shared", (OUT / "libtext_symbolic.so", "plain")),
        ("exported, linked", "exported", ()),
        ("exported, dlopen", "shared", (deep, "plain")),
        ("exported, RTLD_DEEPBIND", "shared", (deep,)),
        ("no own allocator, linked", "shared", ())]
modes = ["free-lib", "lib-free", "fixed", "callback"]
print(f"{'library, how loaded':26}" + "".join(f"{m:>10}" for m in modes))
for label, kind, extra in rows:
    print(f"{label:26}" + "".join(f"{outcome(app(kind, m, *extra)):>10}" for m in modes))

# %% [markdown]
# - `-Bsymbolic` is private only when the library is *opened*: linked, it still exports
#   `malloc`, and takes over the process like the exported build.
# - The exported library opened with plain `dlopen` comes *after* libc in the search
#   order: even its own calls to `malloc` now go to glibc, and its mimalloc sits unused.
#   Same file, opposite result, decided by how it was loaded:

# %%
print(app("shared", "owners", deep, "plain"))

# %% [markdown]
# `fixed` and `callback` are the two API fixes of section 3; they are correct in every
# configuration. On macOS the same situation arises without any special flag: its
# two-level namespace binds each library to the `malloc` of the library it linked
# against, so a statically linked allocator inside a dylib is private by default
# (lesson 06, [static vs dynamic mimalloc](06_static_vs_dynamic_mimalloc.ipynb), goes deeper).

# %% [markdown]
# ## 2. Windows: DLLs, C runtimes and heaps (built here, run under Wine)
#
# On Windows the question "whose `free`?" is "which C runtime (CRT)?". Each module
# (EXE or DLL) links a CRT, in one of two ways:
#
# - a **DLL CRT** (MSVC `/MD`; the MinGW-w64 and zig builds here, as their import
#   tables below show): the module's calls to
#   `malloc` go through *its own* import table to the CRT DLL it names there;
# - a **static CRT** (MSVC `/MT`): the CRT's code is copied *into* the module, which
#   then imports no CRT at all; its `malloc` is a private copy.
#
# Either way, two modules share an allocator only if they end up in the same copy of
# the same CRT. We build (all three with a DLL CRT):
#
# - `winlib.c` twice: with MinGW-w64 (`x86_64-w64-mingw32-gcc` as Debian packages it,
#   whose default is the old system `msvcrt.dll`; MinGW-w64 can also be built to default
#   to the UCRT, as MSYS2's `ucrt64` toolchain is) and with zig (`x86_64-windows-gnu`, which links the Universal
#   CRT, `ucrtbase.dll` through the `api-ms-win-crt-*.dll` names);
# - `winapp.c` with MinGW-w64: it loads the DLL named on its command line with
#   `LoadLibrary`, and looks at heaps with `_get_heap_handle()` (the heap a CRT
#   allocates from), `GetProcessHeap()`, and `HeapWalk`, which visits every block of a
#   heap and says whether it is allocated.
#
# The first zig build compiles zig's copy of the MinGW-w64 C runtime, with no output of
# its own: one to three minutes on a 2-core machine (measured: 70 s in one run,
# 157-171 s in others), once per machine; later builds take a fraction of a second.
# `winlab.build` prints one line when that is about to happen, so the next cell's
# output depends on the cache and is not compared.

# %%
# NBVAL_IGNORE_OUTPUT
if WINDOWS:
    winlab.build([SRC / "winlib.c"], OUT / "winlib_ucrt.dll", compiler="zig", shared=True)
    print("zig build done")

# %%
if WINDOWS:
    winlab.build([SRC / "winlib.c"], OUT / "winlib_msvcrt.dll", compiler="mingw", shared=True)
    winlab.build([SRC / "winapp.c"], OUT / "winapp.exe", compiler="mingw")
    for name in ["winapp.exe", "winlib_msvcrt.dll", "winlib_ucrt.dll"]:
        print(f"{name:18} C runtime: {winlab.c_runtime(OUT / name)}")
else:
    print(winlab.why_not())

# %% [markdown]
# The import table is where a module says which DLL provides each function it calls.
# `pefile` reads it; here are the entries that provide `malloc` and `free`:

# %%
if WINDOWS:
    for name in ["winapp.exe", "winlib_msvcrt.dll", "winlib_ucrt.dll"]:
        for dll, funcs in winlab.imports(OUT / name).items():
            heap_funcs = [f for f in funcs if f in ("malloc", "free", "_get_heap_handle")]
            if heap_funcs:
                print(f"{name:18} imports {', '.join(heap_funcs)} from {dll}")

# %% [markdown]
# ### Which heap does each module allocate from?
#
# **Predict** for the MinGW EXE with the MinGW DLL, then with the zig DLL: do they share
# one CRT heap? Is it the process heap?

# %%
def win(mode, dll, *more, debug=None):
    return winlab.run_wine(OUT / "winapp.exe", mode, dll, *more, debug=debug, timeout=60)


UCRT_LINE = "DLL's CRT heap is the process heap"   # differs between Wine versions: next cell
if WINDOWS:
    HEAPS = {dll: win("heaps", dll).stdout for dll in ["winlib_msvcrt.dll", "winlib_ucrt.dll"]}
    for dll, out in HEAPS.items():
        print(f"--- winapp.exe with {dll}")
        print("\n".join(line for line in out.splitlines() if line and not line.startswith(UCRT_LINE)) + "\n")

# %% [markdown]
# Under **Wine**: both MinGW modules bind to the one `msvcrt.dll` and share its heap;
# the zig DLL's `malloc` lives in `ucrtbase.dll`, which allocates from a different
# heap. Wine's `msvcrt.dll` creates a private heap, so its heap is not
# `GetProcessHeap()`.
#
# And `ucrtbase.dll`'s heap? That depends on the Wine version, so this cell is not
# compared when the book is re-run; it prints this machine's Wine and its answer:

# %%
# NBVAL_IGNORE_OUTPUT
# the answer depends on the Wine version (Wine 8.0: no; Wine 10.0: yes, both measured)
if WINDOWS:
    WINE = lab.run_program([winlab.wine_loader(), "--version"]).stdout.strip()
    UCRT_ON_PROCESS_HEAP = f"{UCRT_LINE}:     yes" in HEAPS["winlib_ucrt.dll"]
    print(f"{WINE}: winlib_ucrt.dll's CRT heap (ucrtbase.dll) is the process heap: "
          f"{'yes' if UCRT_ON_PROCESS_HEAP else 'no'}")
    for dll, out in HEAPS.items():
        print(f"{dll:18}", next(line for line in out.splitlines() if line.startswith(UCRT_LINE)))

# %% [markdown]
# - **Wine 8.0** (Debian 12): `msvcrt.dll` and `ucrtbase.dll` each keep a private heap
#   (measured); neither is the process heap. Wine's CRTs are built from one source,
#   `dlls/msvcrt/heap.c`, whose `msvcrt_init_heap` created that heap with `HeapCreate`
#   for every CRT version (for example at
#   [commit 3514e65](https://github.com/wine-mirror/wine/blob/3514e65f261b74beba75be49e1f9b3b292d1e69b/dlls/msvcrt/heap.c)).
# - **Wine 10.0** (Debian 13): `ucrtbase.dll`'s `_get_heap_handle()` returns
#   `GetProcessHeap()` (measured), as the real UCRT does (below); `msvcrt.dll` still
#   keeps a private heap. Program and DLL still do not share a heap.
#
# On **Windows** the UCRT, and every Visual C++ CRT since Visual Studio 2012 (the static
# `/MT` one included), allocates from the process heap, `GetProcessHeap()` (Microsoft,
# *Visual C++ change history 2003-2015*, VS 2012 section; the UCRT's own source,
# `heap_handle.cpp`). So the old explanation "each `/MT` DLL has its own heap, that is
# why cross-module free crashes" is out of date as a statement about *Win32 heaps*.
#
# Microsoft's page *Potential errors passing CRT objects across DLL boundaries* still
# says that every copy of the CRT has "its own heap manager" and its own state (`FILE*`
# handles, environment variables, locale) valid only in that copy. The two statements
# fit together: a *heap manager* is the CRT code and bookkeeping around the heap (the
# debug CRT's header in front of every block and its list of blocks, `new`/`delete`,
# `_set_new_handler`...), and each `/MT` module has its own copy of it, even when all
# copies ask the same Win32 heap for memory. So cross-module free is **still
# unsupported**: a debug CRT's block has a header a release CRT does not expect,
# `new`/`delete` may be replaced per module, a module may use a custom allocator (as the
# Linux library above did). One old failure did go away with VS 2012: a block that
# outlives the DLL that allocated it is no longer in a heap destroyed at unload. The
# rule that survives is the one from section 1.
#
# And Windows' own `msvcrt.dll`, the CRT of every MinGW-w64 module here? It is a
# Windows component, not a Visual C++ runtime that Microsoft documents for
# applications (Raymond Chen, *Windows is not a Microsoft Visual C/C++ Run-Time
# delivery channel*). Which heap it allocates from on Windows is **not verified** by this
# course: we found no Microsoft statement, and we cannot run Windows here. Under Wine
# (above) it keeps a private heap: that is Wine's `msvcrt.dll`, not Windows'.
#
# ### Which heap owns each block?
#
# `-` means "not a block of this heap".

# %%
if WINDOWS:
    OWNERS = win("owners", "winlib_ucrt.dll").stdout
    print("\n".join(line for line in OWNERS.splitlines() if not line.startswith("string from the DLL")))

# %% [markdown]
# The program's block is in the program's CRT heap under every Wine. Where the DLL's
# string is found depends on the Wine version again (not compared):

# %%
# NBVAL_IGNORE_OUTPUT
# depends on the Wine version: Wine 8.0 finds it in the DLL's own CRT heap; Wine 10.0
# lists it in no heap (it sits inside a low-fragmentation-heap group, see below)
if WINDOWS:
    print(WINE)
    print(next(line for line in OWNERS.splitlines() if line.startswith("string from the DLL")))

# %% [markdown]
# Under Wine 8.0 the string is an allocated block of `ucrtbase.dll`'s private heap.
# Under Wine 10.0 it is in the process heap, but `HeapWalk` does not list it as a
# block of its own: Wine's heap serves small requests from its *low-fragmentation
# heap* (LFH), groups of equal-sized blocks that `HeapWalk` reports as one allocated
# entry (measured: the string lies 224 bytes into an allocated entry of 1,512 bytes),
# so the table shows `-` in every column. Windows has a low-fragmentation heap too,
# which it uses "as needed" since Windows Vista (Microsoft Learn, *Low-fragmentation
# Heap*).
#
# ### The wrong free, under Wine
#
# **Predict:** the EXE calls its `free` (msvcrt) on the string from the zig DLL (UCRT).
# On Linux this aborted. Here?

# %%
if WINDOWS:
    WRONG = win("wrong-free", "winlib_ucrt.dll")
    # how much the heap grew depends on the Wine version (next cells); that it grew does not
    print(re.sub(r"grew by \d+ MiB", "grew", str(WRONG)))

# %% [markdown]
# It "returns", and nothing crashes. But was the string freed? The program then makes
# 512 more strings of 16 KiB (8 MiB) and frees them the same way, and sums the
# allocated blocks of the DLL's heap with `HeapWalk` before and after: the heap grew,
# so some of those blocks are still allocated. By how much depends on the Wine
# version (not compared; Wine 8.0 measured 8 MiB, Wine 10.0 4 MiB):

# %%
# NBVAL_IGNORE_OUTPUT
# the growth depends on the Wine version (printed)
if WINDOWS:
    print(WINE, "|", re.search(r"the DLL's heap .*", WRONG.stdout).group(0))

# %% [markdown]
# A leak shows as growth, but growth alone does not say *which* frees were ignored.
# A sharper test: free a string wrongly, ask the DLL for the next one of the same
# size, and see whether it gets the address just freed. That happens only if the
# free really freed it (`winapp reuse`: 600 small strings, then 600 of 16 KiB):

# %%
# NBVAL_IGNORE_OUTPUT
# depends on the Wine version (printed): Wine 8.0 never reuses; Wine 10.0 reuses small
# strings at once and 16 KiB strings after the first 258
if WINDOWS:
    print(WINE)
    print(win("reuse", "winlib_ucrt.dll").stdout.strip())
    print("--- same CRT (winlib_msvcrt.dll):")
    print(win("reuse", "winlib_msvcrt.dll").stdout.strip())

# %% [markdown]
# With one CRT on both sides every address comes back at once: the frees are real.
# Across the two CRTs the two Wine versions differ:
#
# - **Wine 8.0** (Debian 12): no address ever came back. `msvcrt.dll`'s `free` calls
#   `HeapFree` on *its* private heap; Wine's heap sees a block of another heap and
#   refuses (`HeapFree` returns `FALSE`, `GetLastError()` 87, `ERROR_INVALID_PARAMETER`:
#   measured by hand when this was written; `winapp` does not print it). Every wrong
#   free is a silent leak: 512 strings of 16 KiB grew the
#   heap by the full 8 MiB.
# - **Wine 10.0** (Debian 13): small strings came back every time, 16 KiB strings
#   after the first 258 (measured). Wine's heap checks "is this block from the heap I
#   was given?" only for ordinary blocks; a block of the low-fragmentation heap is
#   handed back to its own group whatever heap handle came with it (Wine's
#   `dlls/ntdll/heap.c`, function `unsafe_block_from_ptr`: the `BLOCK_FLAG_LFH` branch
#   skips the "mismatching heap" test). The LFH takes over a block size only after a
#   number of allocations of that size, so the first 258 big strings were ordinary
#   blocks, refused and leaked (about 4 MiB), and the rest were really freed.
#
# So the same wrong free leaks every block on one Wine and frees most blocks on the
# next. Wine says what it refused only on a debug channel, `WINEDEBUG=warn+heap`.
# Here is the single wrong free of the small string again (the last argument, 0, skips
# the 512 repeats), with addresses and thread ids replaced so the output is stable
# (not compared: Wine 8.0 warns once, Wine 10.0 frees the LFH block and says nothing):

# %%
from collections import Counter


def heap_warnings(stderr):
    """Wine's heap warnings, addresses removed, identical lines counted."""
    lines = [re.sub(r"\b[0-9A-Fa-f]{4,16}\b", "…", l)
             for l in stderr.splitlines() if ":heap:" in l]
    return "\n".join(f"{n:6} x {line}" for line, n in Counter(lines).items())


# NBVAL_IGNORE_OUTPUT
# depends on the Wine version (printed): one warning under Wine 8.0, none under Wine 10.0
if WINDOWS:
    r = win("wrong-free", "winlib_ucrt.dll", 0, debug="warn+heap")
    print(WINE, "| heap warnings:")
    print(heap_warnings(r.stderr) or "none")

# %% [markdown]
# Under Wine 8.0: one wrong free, one *mismatching heap* warning, and no error
# anywhere else. Under Wine 10.0 none: that free was not refused. (We measure heap
# growth with debugging off: with a heap channel on, Wine keeps freed blocks aside for
# its checks, and then even correct frees look like growth, measured.)
#
# **This is Wine's behaviour, not Windows'.** On Windows, freeing a block with the wrong
# CRT or into the wrong heap is undefined: it may be ignored, corrupt the heap and crash
# later, or stop the process at once with a heap-corruption exception
# (`0xC0000374`). Windows' documentation for `HeapFree` only promises anything for a
# pointer returned by `HeapAlloc`/`HeapReAlloc` *of that heap*. Never read "Wine did
# not crash" as "it is fine on Windows", nor one Wine version's outcome as Wine's.
#
# ### Same CRT, same heap
#
# With the MinGW DLL both modules use the same `msvcrt.dll`, so the "wrong" free is
# served by the right allocator:

# %%
if WINDOWS:
    print(win("owners", "winlib_msvcrt.dll").stdout)
    print(win("wrong-free", "winlib_msvcrt.dll").stdout)
    r = win("wrong-free", "winlib_msvcrt.dll", 0, debug="warn+heap")
    print("heap warnings:", heap_warnings(r.stderr) or "none")

# %% [markdown]
# No growth, no warning: the blocks were really freed. This is "one shared runtime": it
# works because both sides use one CRT DLL. It breaks again the moment one module is
# rebuilt with another toolchain, as the zig DLL shows.

# %% [markdown]
# ## 3. The fix is in the API
#
# Three designs make ownership unambiguous:
#
# 1. **The module that allocates exports the function that frees.** `text_free`,
#    `win_free`; in real libraries `H5free_memory`, `sqlite3_free`, `xmlFree`,
#    kvazaar's `api->chunk_free` ([lesson 07](07_plugin_leaks.ipynb)). The caller never calls `free()` on what it did not allocate.
# 2. **The caller passes its allocator in.** `text_greeting_with(name, malloc)`
#    allocates with the caller's function, so the caller frees with the caller's `free`.
#    Many C libraries take the caller's allocation functions: Lua's `lua_newstate(f, ud)`:
#    one function that allocates, resizes and frees; zlib's `zalloc`/`zfree` fields of a
#    `z_stream`; SQLite a struct of them (`sqlite3_config(SQLITE_CONFIG_MALLOC, ...)`).
# 3. **One shared runtime.** Every module uses the same dynamic C runtime (on Windows:
#    all `/MD` with the same CRT; on Linux: nobody carries a private allocator). This
#    works until one module does not: it is a build rule, not an API guarantee.
#
# `app.c` has both fixes as modes: `fixed` gives each block back to the module that
# made it (fix 1), `callback` has the library allocate with the program's `malloc`
# (fix 2). They are code paths of the same binaries, not rebuilt programs: the builds
# and the ways of loading stay exactly those that crashed above.
#
# **Predict:** the three configurations that crashed or misbehaved above, in the two
# fixed modes: any crash left?

# %%
for label, kind, extra in [rows[0], rows[2], rows[5]]:
    print(f"{label:26} fixed: {outcome(app(kind, 'fixed', *extra)):4}"
          f"  callback: {outcome(app(kind, 'callback', *extra))}")
print(app("private", "callback"))

# %%
if WINDOWS:
    print(win("fixed", "winlib_ucrt.dll").stdout)
    r = win("fixed", "winlib_ucrt.dll", 0, debug="warn+heap")
    print("heap warnings:", heap_warnings(r.stderr) or "none")

# %% [markdown]
# Clean on every configuration: no crash on Linux, and under Wine no growth and no heap
# warning. (Fix 2, the callback, is shown on Linux only: `winapp.c` has no callback mode.)

# %% [markdown]
# ### Exercise 2: find the ownership bug
#
# The cell below is a small module that uses `libtext_private.so` (the library with the
# private mimalloc). `greeting_length(name)` should return the length of the greeting
# for `name`, and leave no memory behind. As given it crashes (the module is built with
# `--isolate`, so the call runs in a child):
#
# `strdup` here is glibc's: it allocates with the program's `malloc`.

# %%
LIBDIR = str(OUT)    # where libtext_private.so was built

# %%
# %%cffi given --isolate -l text_private -L {LIBDIR} --ldflags "-Wl,-rpath,{LIBDIR}"
#include <string.h>
#include <stdlib.h>

char *text_greeting(const char *name);   /* from textlib: give back with text_free */
void text_free(void *p);

int greeting_length(const char *name)
{
    char *g = text_greeting(name);     /* made by the library's allocator */
    char *copy = strdup(g);            /* made by this module's malloc */
    int n = (int)strlen(copy);
    free(g);
    text_free(copy);
    return n;
}

# %%
try:
    print(given.greeting_length(b"world"))    # the child's stderr, if any, is shown too
except lab.IsolatedCallError as exc:
    print(f"greeting_length(b'world') did not return: {exc.result.signal}")

# %% [markdown]
# Find *every* ownership bug and write the fixed function in the next cell: it is the
# same module, `host`, with the two lines that free left out (apply fix 1: each block
# goes back to the module that made it). Then run the check after it. The check calls
# your function in an isolated child, once for each of two names and then 100 more
# times with the names taking turns (every length is compared), and counts what the
# calls left behind: the library's strings not given back to it (`text_live()`, a
# counter inside `textlib.c`; `text_made()` counts the strings it made) and the growth of
# glibc's heap (`mallinfo2()`). A "fix" that simply stops freeing does not crash, and
# fails the check; so does one that never asks the library for the greeting.

# %% tags=["solution"]
# %%cffi host -l text_private -L {LIBDIR} --ldflags "-Wl,-rpath,{LIBDIR}"
#include <string.h>
#include <stdlib.h>

char *text_greeting(const char *name);   /* from textlib: give back with text_free */
void text_free(void *p);

int greeting_length(const char *name)
{
    char *g = text_greeting(name);     /* made by the library's allocator */
    char *copy = strdup(g);            /* made by this module's malloc */
    int n = (int)strlen(copy);
    // ### BEGIN SOLUTION
    text_free(g);                      /* the library's block back to the library */
    free(copy);                        /* our block back to our malloc */
    // ### END SOLUTION
    return n;
}

# %% tags=["check"]
cross_module.check_greeting_length(host, LIBDIR)

# %% [markdown]
# ## Summary
#
# - A pointer carries no owner. `free` must be the `free` of the allocator that made
#   the block; otherwise anything from a crash to silence: glibc aborted
#   (`free(): invalid size`, up to glibc 2.41 `free(): invalid pointer`), a static
#   mimalloc (`libmimalloc.a`, whose `mi_free` reads through the page map's entry without
#   testing it) segfaulted with no message, the preloaded mimalloc (the shared
#   library, built with `MI_FREE_IS_CHECKED`) returned silently from a glibc block and
#   from another mimalloc copy's block, and Wine 8 silently leaked every wrongly freed block while Wine 10
#   freed some and leaked others.
# - Two allocators end up in one Linux process whenever two modules bind the name
#   `malloc` to different definitions. Seen here: a library that carries its own
#   allocator and binds to it privately (`--exclude-libs`; `-Bsymbolic` or
#   `RTLD_DEEPBIND` when it is opened with `dlopen`), and a library with *no* allocator
#   of its own opened with `RTLD_DEEPBIND` in a process whose `malloc` was replaced
#   (`LD_PRELOAD`: the library keeps glibc's, the rest uses mimalloc). Without private
#   binding, an exported allocator *linked* into the program silently takes over
#   `malloc` for every module that looks it up in the global order; opened late with
#   plain `dlopen`, it comes after libc and its allocator sits unused.
# - On Windows a `/MD` module calls the CRT DLL it imports; a `/MT` module carries its
#   own CRT copy and imports none. Since VS 2012 Microsoft's CRTs allocate from the
#   process heap, yet each CRT copy keeps its own heap manager and state, and
#   cross-module free is still unsupported.
# - The fix is the API: export the free, or take the caller's allocator.
#
# **Myths corrected**
# - "Each `/MT` DLL has its own heap": not its own Win32 heap since Visual Studio 2012;
#   what remains per CRT copy is its heap manager and state (debug headers, `FILE*`,
#   environment, locale), plus `new`/`delete` pairs and custom allocators.
# - "A wrong free always crashes": the preloaded mimalloc returned silently twice above
#   (its checked `mi_free` ignores a block it cannot find, and the block leaks).
# - "It ran fine under Wine, so it is fine on Windows": Wine 8 ignores a wrong-heap
#   free, Wine 10 ignores some and performs others; Windows may corrupt the heap.
# - "It does not crash, so it is correct": the exported library case never crashes and
#   is still wrong.
#
# **Further reading**
# - Microsoft Learn, *Potential errors passing CRT objects across DLL boundaries*:
#   https://learn.microsoft.com/cpp/c-runtime-library/potential-errors-passing-crt-objects-across-dll-boundaries
# - Microsoft Learn, *Visual C++ change history 2003-2015* (VS 2012: CRT uses the process heap):
#   https://learn.microsoft.com/cpp/porting/visual-cpp-change-history-2003-2015
# - Wine's heap and CRT heap code: `dlls/ntdll/heap.c` (`unsafe_block_from_ptr`, the
#   low-fragmentation heap) and `dlls/msvcrt/heap.c` (`msvcrt_init_heap`):
#   https://gitlab.winehq.org/wine/wine/-/tree/master/dlls (mirror: https://github.com/wine-mirror/wine)
# - Microsoft Learn, *Low-fragmentation Heap*:
#   https://learn.microsoft.com/windows/win32/memory/low-fragmentation-heap
# - Microsoft Learn, `HeapFree`, `HeapWalk`, `GetProcessHeap`, `_get_heap_handle`;
#   *CRT library features* (`/MD`, `/MT`):
#   https://learn.microsoft.com/cpp/c-runtime-library/crt-library-features
# - Raymond Chen, *Windows is not a Microsoft Visual C/C++ Run-Time delivery channel*:
#   https://devblogs.microsoft.com/oldnewthing/20140411-00/?p=1273
# - `dlopen(3)` (`RTLD_DEEPBIND`), `ld(1)` (`--exclude-libs`, `-Bsymbolic`).
# - Ulrich Drepper, *How To Write Shared Libraries* (symbol lookup and interposition):
#   https://akkadia.org/drepper/dsohowto.pdf
# - mimalloc, *Overriding malloc*: https://microsoft.github.io/mimalloc/overrides.html
