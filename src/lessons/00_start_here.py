# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 00 · Start here
#
# **What this course is.** A hands-on course on how programs get memory, share it
# and give it back — and on why that breaks at boundaries: between a program and
# its heap manager, between two modules, between two allocators, and between a
# garbage-collected language and the native or WebAssembly memory it drives. You
# run every failure for real on this machine, look at it drawn, and fix it.
#
# **In this notebook (about 35 minutes)** you will:
# 1. check that the tools the course uses are installed;
# 2. write C in a notebook cell and call it from Python, and solve a first
#    exercise that checks itself;
# 3. crash a C program on purpose — and see that the notebook survives;
# 4. draw a real heap, read from glibc's own bookkeeping, and predict chunk sizes
#    in a second exercise.
#
# **Prerequisites:** you can read a little C (pointers, `malloc`, `free`) and a
# little Python.
#
# **How to use the notebooks.** Run cells in order with <kbd>Shift</kbd>+<kbd>Enter</kbd>.
# Before each experiment you will find a **Predict** prompt: decide what you
# expect *before* running the cell; the surprise is where the learning is.
# If something goes wrong, *Kernel → Restart Kernel and Run All Cells* puts you
# back at a known state. Every lesson starts with the same two lines:

# %%
import labsupport as lab
# %load_ext labsupport

# %% [markdown]
# `labsupport` is the course's small helper package (its source is in
# `labsupport/` next to this folder, if you are curious). `%load_ext` adds the
# `%%cffi` cell magic you will meet below.
#
# ## 1. Is everything installed?
#
# The course uses real tools: gcc, valgrind, heaptrack, pahole, MinGW-w64 and
# Wine (to build and run Windows programs), node, and the mimalloc allocator.
# The *doctor* lists each one, its version and the lessons that need it. A
# missing tool only switches off the cells that need it, and each of those cells
# says exactly what to install. (This table differs from machine to machine.)

# %%
# NBVAL_IGNORE_OUTPUT
lab.doctor()

# %% [markdown]
# The same table is printed by `./lab doctor` in a terminal, which also *tries*
# what each lesson needs on this machine (ptrace for gdb and LeakSanitizer, Wine
# starting a program, valgrind, the memory cap) and says per lesson whether it
# runs fully, runs with some cells switched off, or cannot run.
#
# ## 2. C in a cell
#
# A cell that starts with `%%cffi` holds ordinary C, `#include`s and all. When
# you run it, gcc compiles it into a small Python extension (through
# [cffi](https://cffi.readthedocs.io/en/stable/overview.html#main-mode-of-usage),
# in "API mode") and the notebook gets a name, `c` by default, whose attributes
# are your C functions. Functions marked `static` stay private to the C, as they
# would in any C file.

# %%
# %%cffi
#include <stdio.h>
#include <string.h>

struct point { int x, y; };

int add(int a, int b) { return a + b; }

static int square(int v) { return v * v; }      /* private: not visible from Python */

int dist2(const struct point *p) { return square(p->x) + square(p->y); }

size_t length(const char *s) { return strlen(s); }

# %%
print(c)
print("add(40, 2) =", c.add(40, 2))
p = c.ffi.new("struct point *", {"x": 3, "y": 4})      # a struct allocated by cffi
print("dist2(3, 4) =", c.dist2(p))
print("length(b'memory') =", c.length(b"memory"))

# %% [markdown]
# Two things happen behind the scenes, and both matter when you experiment:
#
# - **Builds are cached.** The module's name is a hash of everything that affects
#   the build (the C text, the flags, any local header it includes, the compiler,
#   cffi and Python versions). Running an unchanged cell again takes
#   milliseconds; editing it produces a new module, so *your latest code always
#   runs*, in the same kernel, without a restart.
# - **C is compiled with `-O0 -g -Wall`** unless you add flags
#   (`%%cffi --cflags "-O2"`). The course's bugs are deliberate, and an
#   optimiser is allowed to delete code whose behaviour is undefined.
#
# Other options: `%%cffi NAME` binds another name, `-l LIB` links a library,
# `-I DIR` adds an include path, `--mimalloc static|dynamic` links the
# mimalloc allocator, `--file PATH` adds another C file. From Python code,
# `lab.build_c(source, ...)` does the same thing.
#
# ### When the C is wrong
#
# **Predict:** the cell below forgets a semicolon. What will you see, and which
# line number will it name?

# %% tags=["raises-exception"]
# %%cffi broken
int twice(int v) {
    return 2 * v
}

# %% [markdown]
# You get gcc's own message, pointing at the cell's line numbers (the `%%cffi`
# line is line 1), and no Python traceback. The kernel is fine: `c` from before
# still works.

# %%
c.add(1, 1)

# %% [markdown]
# ### Exercise 1: bytes are not strings
#
# Every exercise has a cell for your answer (in your copy of the notebook it holds
# a starter) and, right after it, a check that runs your code on several cases and
# says which case failed, what it expected, what it got, and a hint.
#
# A C string ends at its first zero byte. A buffer of bytes — what `malloc` hands
# out — has a length instead, and zero bytes are ordinary data in it. Complete
# `count_zeros(buf, n)`: how many of the `n` bytes at `buf` are zero.
#
# **Predict** first: what does a loop that stops at the first zero byte return for
# the buffer `b"a\0b\0\0c"`? The check runs your function in a child process
# (`isolate=True`), so a crash in your C is reported, not fatal.

# %% tags=["solution"]
# %%cffi zeros
#include <stddef.h>

size_t count_zeros(const char *buf, size_t n) {
    size_t count = 0;
    // ### BEGIN SOLUTION
    for (size_t i = 0; i < n; i++)
        if (buf[i] == 0)
            count++;
    // ### END SOLUTION
    return count;
}

# %%
buffers = [b"memory", b"a\0b\0\0c", b"\0\0\0\0", b"\0 at the start", b""]
lab.check((zeros, "count_zeros"),
          [lab.Case(args=(buf, len(buf)), expected=buf.count(0), label=f"count_zeros({buf!r}, {len(buf)})",
                    hint="look at all n bytes: here a zero byte is data, not the end of a string")
           for buf in buffers], isolate=True)

# %% [markdown]
# ## 3. A crash the notebook survives
#
# C code runs inside the notebook's own process (the *kernel*). If it writes
# through a bad pointer, the operating system kills that process, and the kernel
# dies with it. So every demonstration that can crash, hang or eat memory in this
# course runs in a **child process** instead: `lab.run_c(module, "function", args...)`.
# The child has a time limit, a memory cap (a quarter of this machine's memory, at
# most 2 GiB, so a runaway loop cannot take the machine down), a cap of 64
# processes, and optional CPU limits; its output is
# captured at the file-descriptor level (C's `printf` writes to fd 1, which
# Python's `print` redirection never sees), and you get back how it ended.
#
# Here are two bugs in C. `lab.run_c` runs one function of the module in a child:

# %%
# %%cffi crash
#include <stdio.h>

void write_null(void) {
    int *volatile p = NULL;     /* volatile: keep the compiler from "helping" */
    printf("about to write through NULL\n");
    *p = 42;
    printf("this line is never printed\n");
}

int divide(int a, int b) { return a / b; }

# %% [markdown]
# **Predict:** what happens when `write_null` runs?

# %%
lab.run_c(crash, "write_null")

# %% [markdown]
# The processor's memory protection stopped the write: the kernel sent the child
# **SIGSEGV**. The `printf` before it was kept on purpose: normally `stdout` into a
# file or pipe is buffered, and a buffer that was never flushed vanishes with the
# process. The child line-buffers C's output and installs a signal handler that
# writes whatever is still buffered before the process dies. Integer division by
# zero is another hardware trap, with another signal:

# %%
lab.run_c(crash, "divide", 7, 0)

# %%
print("The kernel is still alive:", c.add(20, 22))

# %% [markdown]
# The result is an object too, for code that wants to react to it:

# %%
r = lab.run_c(crash, "write_null")
print(r.signal, r.returncode, r.ok)
print(r.stdout.strip())

# %% [markdown]
# ### Your own experiments
#
# In your working copy you will also call C directly, `c.add(1, 2)`: fast, and
# pointers work, but a crash there kills the kernel, and every variable with it.
# Two safety nets:
#
# - `%%cffi NAME --isolate` makes every call of the cell's functions run in a
#   child, like `lab.run_c`: the value comes back, a crash becomes a Python
#   exception, `lab.IsolatedCallError`, and the kernel lives on. The price: a few
#   milliseconds a call, and only plain values (numbers, bytes) cross into the
#   child, since a pointer into the kernel's memory means nothing there.
# - If a direct call does kill the kernel, JupyterLab restarts it, and the next
#   `import labsupport` in this notebook says what killed its predecessor: the
#   signal, the C function, the cell, and where the bad address pointed.
#
# One more: **Kernel → Interrupt cannot stop C code.** Python checks for the
# interrupt only between its own instructions, never inside a C function, so an
# endless loop in a direct call runs until you restart the kernel. Through
# `lab.run_c` or `--isolate` it has a time limit (10 s unless you say otherwise).

# %%
# %%cffi risky --isolate
int plus(int a, int b) { return a + b; }
int write_null_too(void) { int *volatile p = 0; *p = 1; return 0; }

# %%
print(risky.plus(2, 3))
try:
    risky.write_null_too()
except lab.IsolatedCallError as err:
    print("caught:", err.result.signal, "- and the kernel is still here")

# %% [markdown]
# ### Freeing a block twice
#
# **Predict:** what does glibc do when a program frees the same block twice?
# (a) nothing, (b) the program continues but memory is corrupted, (c) something else.
#
# What an allocator can notice depends on what happened on its heap before, so
# this experiment is a small separate program, `native_examples/00_start_here/double_free.c`,
# whose heap starts empty on every run. `lab.build_program` compiles it (cached
# like the cells) and `lab.run_program` runs it in a child.

# %%
double_free = lab.build_program([lab.example_path("00_start_here", "double_free.c")])
lab.run_program([double_free, "caught"])

# %% [markdown]
# That is glibc's real message. Its *tcache* (a small per-thread cache of
# recently freed blocks, lesson 01) found the block already in the cache and
# called `abort()`, which raises **SIGABRT**.
#
# **Predict:** does glibc *always* catch a double free?

# %%
lab.run_program([double_free, "unnoticed"])

# %% [markdown]
# No. With the tcache for that size full (it holds 7 blocks), freed blocks go to
# a *fastbin*, whose check only compares with the block freed just before — and
# `a, b, a` passes it. Nothing crashed, yet two blocks that the program believes
# are separate now share the same memory: writing one silently overwrites the
# other. A crash is the *lucky* outcome of a memory bug; tools such as valgrind
# and AddressSanitizer find the unlucky ones (lesson 07 puts valgrind and LeakSanitizer to work).
#
# ## 4. A first heap picture
#
# When a program calls `malloc(24)`, where does the block go, and how big is it
# really? glibc's malloc writes an 8-byte header, the **size field**, just below
# every block it hands out; it holds the size of the whole *chunk*. The small
# program `native_examples/00_start_here/first_heap.c` asks for six blocks, frees
# two, and prints what glibc recorded. It runs as a separate program, so the heap
# it shows is a fresh one, the same on every run.
#
# **How the course draws a glibc chunk** (in every lesson): a chunk starts at its
# 8-byte size field and runs up to the next chunk's size field; everything after
# the size field is the program's to use. Offsets are decimal, counted from the
# size field of the heap's first chunk. (glibc's source starts a chunk 8 bytes
# earlier, at a word it calls `prev_size`; that word is the last 8 usable bytes
# of the chunk before, so both descriptions cover the same bytes.)
#
# **Predict:** `malloc(24)` and `malloc(16)`: which one takes more room?

# %%
exe = lab.build_program([lab.example_path("00_start_here", "first_heap.c")])
run = lab.run_program([exe])
print(run.stdout)

# %%
rows = [list(map(int, line.split())) for line in run.stdout.splitlines() if not line.startswith("#")]
blocks = []
for i, requested, chunk, offset, freed in rows:
    blocks.append(lab.Block(offset, 8, "meta"))                 # the chunk's 8-byte size field
    if i < 0:                                                   # glibc's own first chunk
        blocks.append(lab.Block(offset + 8, chunk - 8, "meta", owner="glibc's tcache"))
    else:                                                       # the rest of the chunk is the block
        blocks.append(lab.Block(offset + 8, chunk - 8, "free" if freed else "used",
                                owner=f"malloc({requested})"))
lab.draw_heap(blocks, title="six malloc calls, two freed (glibc; offsets from the first size field)",
              row_bytes=256)

# %% [markdown]
# What the picture shows, all read from glibc itself:
#
# - The heap starts with a 656-byte chunk that glibc allocated for itself: the
#   table of its *tcache*, a per-thread cache of freed blocks (lesson 01).
# - `malloc(24)` and `malloc(16)` both got a **32-byte chunk**: the 8-byte size
#   field plus room for 24 bytes. 32 bytes is glibc's smallest chunk on 64-bit
#   Linux, and every chunk size is a multiple of 16.
# - The blocks sit **next to each other** in the order they were asked for.
# - The **freed** blocks (grey) did not move and were not given back to the
#   operating system: they wait in the tcache for the next request of the same size.
# - Each block's room runs up to the next size field. Its last 8 bytes are what
#   glibc calls the next chunk's `prev_size`: glibc writes there only when the
#   block is free in one of its bins (not while it waits in the tcache), so while
#   the block is in use they are the program's. Lesson 01 takes the header apart
#   bit by bit.
#
# The same picture as a widget, with a block picker and a table (every later
# lesson uses it to draw its heaps):

# %%
lab.HeapMap(blocks, title="the same heap, explorable")

# %% [markdown]
# ### Exercise 2: predict the chunk size
#
# Write `chunk_size(n)`: the size of the chunk glibc uses for `malloc(n)` on this
# 64-bit Linux machine. The expected values are not typed in: the cell below
# measures them with a tiny C program, `native_examples/00_start_here/chunk_sizes.c`,
# that calls `malloc(n)` for each request in a **fresh process** and reads the
# size field. (Measured inside this notebook's own process, whose heap already
# holds Python's objects, a chunk can come out 16 bytes bigger: glibc sometimes
# hands out a whole free chunk rather than leave a sliver under 32 bytes. Lesson
# 01 shows one. The rule you write is the size glibc uses *at least*.)

# %%
requests = [0, 1, 8, 24, 25, 40, 41, 100, 1000, 4000]
sizes_exe = lab.build_program([lab.example_path("00_start_here", "chunk_sizes.c")])
measured = dict(tuple(map(int, line.split()))
                for line in lab.run_program([sizes_exe, *map(str, requests)]).stdout.splitlines())
print(f"measured {len(measured)} chunk sizes in a fresh process")

# %% tags=["solution"]
def chunk_size(n):
    size = n                                  # a first guess: change it
    ### BEGIN SOLUTION
    size = max(32, (n + 8 + 15) // 16 * 16)   # size field + request, up to 16, at least 32
    ### END SOLUTION
    return size

# %%
lab.check(chunk_size, [lab.Case(args=(n,), expected=measured[n],
                                hint="a chunk holds the request plus its 8-byte size field, "
                                     "is a multiple of 16, and is at least 32")
                       for n in requests])

# %% [markdown]
# ## Summary
#
# - `%%cffi` turns a cell of C into functions you call from Python; builds are
#   cached and edits always take effect.
# - Anything that can crash runs through `lab.run_c` / `lab.run_python` /
#   `lab.run_program`: you see the signal, the allocator's own message and an
#   explanation, and the notebook survives.
# - glibc's `malloc` carves the heap into chunks with an 8-byte size field just
#   below each pointer; a chunk is at least the request plus 8, rounded up to a
#   multiple of 16, and at least 32 bytes here. Measure such things in a fresh
#   process: a heap with a history can hand out a little more.
# - Exercises check themselves and tell you which case failed and why.
#
# **Myth corrected:** "a double free always crashes". glibc caught the first one
# because the block was still in its tcache; the second went unnoticed and left
# two live blocks sharing memory.
#
# ## Further reading
#
# - glibc wiki, [MallocInternals](https://sourceware.org/glibc/wiki/MallocInternals):
#   chunks, headers, bins and tcache, from the maintainers.
# - [cffi documentation](https://cffi.readthedocs.io/): how API mode compiles C for Python.
# - `man 7 signal` for SIGSEGV, SIGABRT and friends; `man 2 setrlimit` for the child's limits.
#
# **Next:** lesson 01, *Heap managers*.
