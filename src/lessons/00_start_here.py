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
# the buffer `b"a\0b\0\0c"`? The check calls your function on the buffers below and
# on others it makes up, each in a child process, so a crash in your C is reported,
# not fatal. It also puts each buffer right before memory that may not be read, as
# the end of a real buffer often is: read only the `n` bytes you were given. Some
# buffers hold bytes from 0x80 to 0xff, which are not zero either (and, in a
# `char`, which is signed on x86-64, they are negative).
#
# In your copy the cell below holds a line `LAB_NOT_DONE();` where your loop goes:
# delete it when you write the loop (it tells the check the exercise is not done yet).

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

# %% tags=["check"]
from labsupport.lessons.start_here import check_count_zeros

check_count_zeros(zeros)

# %% [markdown]
# ## 3. A crash the notebook survives
#
# C code runs inside the notebook's own process (the *kernel*). If it writes
# through a bad pointer, the operating system kills that process, and the kernel
# dies with it. So every demonstration that can crash, hang or eat memory in this
# course runs in a **child process** instead: `lab.run_c(module, "function", args...)`.
# The child has a time limit, a memory cap (a quarter of this machine's memory, at
# most 2 GiB, and at most half of the container's or JupyterHub's memory limit where
# there is one, so a runaway loop cannot take the machine down), a cap of 64
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

# The program's `unnoticed` mode frees `a`, lets the next `malloc(32)` hand the same
# block to a new owner `x`, then frees `a` a second time (a stale copy of the pointer,
# as in a real program), and mallocs `y`:

# %%
lab.run_program([double_free, "unnoticed"])

# %% [markdown]
# No. When the second `free` comes, the block belongs to `x`: glibc sees a chunk in
# use and has nothing to complain about, so it frees `x`'s block, and the next
# `malloc(32)` gives it to `y` as well. Nothing crashed, yet two blocks that the
# program believes are separate now share the same memory: writing one silently
# overwrites the other.
#
# **Predict:** one more pattern, `free(a); free(b); free(a)`, then three `malloc(32)`.
# The program runs with the tcache switched off (a glibc *tunable*, lesson 01), so the
# frees reach glibc's older lists. (Up to glibc 2.42 a full tcache list for that size does
# the same; on 2.43 it does not: `a` and `b` merge and the second `free(a)` lands in the
# tcache's list for the merged size, which checks nothing.) Caught or not?

# %%
# NBVAL_IGNORE_OUTPUT
# the outcome depends on the glibc (explained below); the next cell's line is the same on every version
import os

from labsupport.lessons.start_here import NO_TCACHE_ENV, as_its_glibc_does

print("this machine runs", os.confstr("CS_GNU_LIBC_VERSION"))
fastbin = lab.run_program([double_free, "fastbin"], env=NO_TCACHE_ENV)
fastbin

# %%
print(as_its_glibc_does(fastbin))

# %% [markdown]
# The answer depends on the glibc, and the cell above shows this machine's:
#
# - **Up to glibc 2.42** (Debian 12 and 13, most distributions today) nothing notices. A
#   small freed chunk that the tcache does not take goes to a *fastbin*, whose double-free
#   check compares it only with the chunk freed just before (glibc-2.36 `malloc/malloc.c`
#   l.4530-4535, "double free or corruption (fasttop)"). `b` came in between, so `a` goes
#   in twice, and the mallocs hand it out twice: `x` and `z` are the same memory.
# - **glibc 2.43** (Debian unstable) has no fastbins (commit bb5a4f5295, "malloc: Remove
#   fastbin infrastructure", December 2025). The chunks go to the normal bins, where `a`
#   and `b` merge into one free chunk; `a`'s size field now spans both, so the second
#   `free(a)` looks at the chunk after the merged one (the guard block) and finds its
#   "previous chunk in use" bit clear: `double free or corruption (!prev)`, SIGABRT.
#
# The same bug, caught by one version and missed by the one before: allocator checks are
# a moving target, and "it did not crash" says little about the program. A crash is the
# *lucky* outcome of a memory bug; tools such as valgrind and AddressSanitizer find the
# unlucky ones on every version (lesson 07 puts valgrind and LeakSanitizer to work).
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
# NBVAL_IGNORE_OUTPUT
# glibc's own chunk (block -1) is 592 bytes in glibc 2.26-2.29, 656 in 2.30-2.41, 768 from
# 2.42, and comes first or last: these offsets depend on the glibc, so they are not compared when the
# course is tested.
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
fig = lab.draw_heap(blocks, title="six malloc calls, two freed (glibc)", row_bytes=256)
fig.axes[0].set_xlabel("byte within row (256 bytes per row); rows are offsets from the heap's first size field",
                       fontsize=8)
fig

# %% [markdown]
# The same facts, checked from the table (these do not depend on glibc's version):

# %%
mine = [row for row in rows if row[0] >= 0]
print("chunk of malloc(24):", mine[0][2], "bytes; chunk of malloc(16):", mine[4][2], "bytes")
print("each block starts where the one before ends:",
      all(b[3] == a[3] + a[2] for a, b in zip(rows, rows[1:])))
print("freed, and still in place between used blocks:", ", ".join(f"malloc({r[1]})" for r in mine if r[4]))

# %% [markdown]
# What the picture shows, all read from glibc itself:
#
# - One chunk (orange) glibc allocated for itself: the table of its *tcache*, a
#   per-thread cache of freed blocks (lesson 01): a count and a list head for each
#   of its lists. It is 592 bytes in glibc 2.26 to 2.29 (one-byte counts,
#   `char counts[TCACHE_MAX_BINS]`, glibc-2.29 `malloc/malloc.c:2918`), 656 bytes in
#   2.30 to 2.41 (two-byte counts, `uint16_t counts[TCACHE_MAX_BINS]`, glibc-2.30
#   `malloc.c:2908`, commit 5ad533e8e6 "Fix tcache count maximum (BZ #24531)") and
#   768 bytes from 2.42 on, whose tcache has 76 lists instead of 64 (glibc-2.42
#   `malloc.c:3129-3130`). Up to 2.42 glibc makes it at the first `malloc`, so it
#   starts the heap; from 2.43 on glibc makes it at the first `free`
#   (commit 2bf2188fae, "malloc: avoid need for tcache == NULL checks":
#   `tcache_free_init`, August 2025, released in 2.43), so there it comes after
#   the six blocks. The table above shows which glibc ran here.
# - `malloc(24)` and `malloc(16)` both got a **32-byte chunk**: the 8-byte size
#   field plus room for 24 bytes. 32 bytes is glibc's smallest chunk on 64-bit
#   Linux, and every chunk size is a multiple of 16.
# - The six blocks sit **next to each other** in the order they were asked for.
# - The **freed** blocks (grey) did not move and were not given back to the
#   operating system: they wait in the tcache for the next request of the same size.
# - Each block's room runs up to the next size field. Its last 8 bytes are what
#   glibc calls the next chunk's `prev_size`: glibc writes there only when the
#   block is free in the unsorted bin, a small bin or a large bin (not while it
#   waits in the tcache or, up to glibc 2.42, in a fastbin), so while the block is
#   in use they are the program's. Lesson 01 takes the header apart
#   bit by bit.
#
# The same picture as a widget, with a block picker and a table (every later
# lesson uses it to draw its heaps):

# %%
# NBVAL_IGNORE_OUTPUT
# (its summary counts glibc's own chunk, whose size depends on the glibc)
lab.HeapMap(blocks, title="the same heap, explorable")

# %% [markdown]
# ### Exercise 2: predict the chunk size
#
# Write `chunk_size(n)`: the size of the chunk glibc uses for `malloc(n)` on this
# 64-bit Linux machine, as a rule computed from `n`. The table above has the chunks
# of six requests; the check asks for 0, 1, 8, 24, 25, 40, 41, 100, 1000, 4000 and
# for others it picks. Its expected values are not typed in: it measures them with
# a tiny C program, `native_examples/00_start_here/chunk_sizes.c`, that calls
# `malloc(n)` for each request in a **fresh process** and reads the size field,
# with glibc's default settings whatever your notebook's environment holds (it
# empties `GLIBC_TUNABLES`, which lesson 01 uses to change glibc's malloc).
# (Measured inside this notebook's own process, whose heap already holds Python's
# objects, a chunk can come out 16 bytes bigger: glibc sometimes hands out a whole
# free chunk rather than leave a sliver under 32 bytes. Lesson 01 shows one. The
# rule you write is the size glibc uses *at least*.) Your function runs where it
# cannot start programs or load C: compute, don't measure.

# %% tags=["solution"]
def chunk_size(n):
    ### BEGIN SOLUTION
    return max(32, (n + 8 + 15) // 16 * 16)   # size field + request, up to 16, at least 32
    ### END SOLUTION

# %% tags=["check"]
from labsupport.lessons.start_here import check_chunk_size

check_chunk_size(chunk_size)

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
# because the block was still in its tcache; the second came after the block had
# been handed out again, went unnoticed, and left two live blocks sharing memory; the
# third is caught from glibc 2.43 on and missed by every version before it.
#
# ## Further reading
#
# - glibc wiki, [MallocInternals](https://sourceware.org/glibc/wiki/MallocInternals):
#   chunks, headers, bins and tcache, from the maintainers.
# - [cffi documentation](https://cffi.readthedocs.io/): how API mode compiles C for Python.
# - `man 7 signal` for SIGSEGV, SIGABRT and friends; `man 2 setrlimit` for the child's limits.
#
# **Next:** lesson 01, *Heap managers*.
