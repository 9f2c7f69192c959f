# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 01 · Heap managers
#
# **The question.** Your program asks for 24 bytes. The operating system only
# hands out memory in pages of 4096 bytes. Something in between — the *heap
# manager*, the code behind `malloc` and `free` — turns pages into small blocks
# and takes them back. How does it do that, what does it cost, and why does a
# heap that still has plenty of free bytes sometimes fail to hold a block?
#
# **In this notebook (about 165 minutes; sections 4, 6 and 7, about 45 minutes
# together, are optional on a first pass)** you will:
# 1. see why a heap exists: pages, the cost of asking the kernel for every object,
#    and how glibc grows its heap (`brk`) or maps big blocks (`mmap`);
# 2. run a small *teaching allocator* written in C — boundary tags, an explicit
#    free list, first / next / best fit, splitting and coalescing — step through
#    allocation traces with a widget that draws the heap after every step, and
#    write its coalescing yourself (exercise 1);
# 3. read glibc's real chunk headers, predict which freed chunk its *tcache* hands
#    back (exercise 2), watch neighbours merge with tcache switched off, step
#    through all of glibc's bins (tcache, fastbins, unsorted, small and large bins)
#    read live from its arena, predict which bin serves a request (exercise 3),
#    step one trace under glibc 2.36, 2.41 and 2.43 side by side and predict what
#    each version does (exercise 3b), and see when freed memory really goes back to
#    the kernel;
# 4. *(optional)* look at mimalloc's heap: pages of equal-size blocks, one size
#    class per page; step through one trace in the teaching allocator, glibc and
#    mimalloc side by side; record a real program's `malloc` calls and see which
#    sizes it asks for;
# 5. measure fragmentation on the same traces for all of them, and write a trace
#    on which best fit loses (exercise 4), and one on which glibc holds twice the
#    memory the program uses (exercise 5);
# 6. *(optional)* run two threads: glibc's second arena (the A bit), mimalloc's
#    thread-free list, and who gets a block back that another thread freed (exercise 6);
# 7. *(optional)* place Windows' heap manager in the same picture.
#
# **Builds on:** lesson 00 (C in a cell with `%%cffi`, crash isolation with
# `lab.run_c`, heap pictures with `lab.draw_heap`).
#
# Everything below runs for real on this machine (x86_64 Linux, glibc). Addresses
# change from run to run, so the notebook shows **offsets** from the start of a
# heap, and timings only as **ratios**.

# %%
import os

from matplotlib.figure import Figure

import labsupport as lab
from labsupport.heap.glibc import NO_TCACHE, glibc_steps, replay_glibc
from labsupport.heap.mimalloc import replay_mimalloc
from labsupport.heap.probes import build_probe
from labsupport.heap.talloc import heap_blocks, replay, talloc_module
from labsupport.heap.traces import live_bytes, load_trace, parse_trace
from labsupport.lessons import heap_managers as hm
from labsupport.widgets.glibcstep import GlibcStepper
from labsupport.widgets.stepper import Stepper
from labsupport.widgets.stepviews import list_html
from labsupport.widgets.text import format_table
# %load_ext labsupport

# %% [markdown]
# These imports are this lesson's tools, each from the module where its code lives.
# `labsupport.heap.traces` reads allocation *traces* (`alloc ID SIZE` / `free ID`, one
# per line); `labsupport.heap.talloc`, `heap.glibc` and `heap.mimalloc` replay them
# against the teaching allocator, glibc and mimalloc (`heap.probes` builds the C
# programs that do it); `labsupport.widgets` draws the heap after every step;
# `labsupport.lessons.heap_managers` holds this lesson's exercise checks. The C it
# drives is in `native_examples/01_heap_managers/`.
#
# ## 1. Why a heap exists
#
# The kernel gives a process memory with `mmap` (or by moving the *program
# break* with `brk`), always in whole **pages**.
#
# **Predict:** how big is a page here? If a program called `mmap` for each of its
# 24-byte objects, how much memory would one object really take, and how much
# slower would that be than `malloc`?

# %%
# %%cffi pages
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

long page_size(void) { return sysconf(_SC_PAGESIZE); }

/* map 24 bytes, then write to the LAST byte of the page: is it ours too? */
int whole_page_is_yours(void) {
    char *p = mmap(NULL, 24, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    p[page_size() - 1] = 1;               /* no crash: the kernel mapped a whole page */
    munmap(p, 24);
    return 1;
}

/* distance between two 24-byte mappings, in bytes */
long mmap_distance(void) {
    char *a = mmap(NULL, 24, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *b = mmap(NULL, 24, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long d = labs((long)(b - a));
    munmap(a, 24); munmap(b, 24);
    return d;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* n objects of 24 bytes, each touched once: seconds for all of them */
double with_mmap(int n) {
    char **p = malloc(n * sizeof *p);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        p[i] = mmap(NULL, 24, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p[i][0] = 1;
    }
    for (int i = 0; i < n; i++) munmap(p[i], 24);
    double t = now() - t0;
    free(p);
    return t;
}

double with_malloc(int n) {
    char *volatile *p = malloc(n * sizeof *p);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        p[i] = malloc(24);
        p[i][0] = 1;
    }
    for (int i = 0; i < n; i++) free(p[i]);
    double t = now() - t0;
    free((void *)p);
    return t;
}

# %%
print("page size:", pages.page_size(), "bytes (Python agrees:", os.sysconf("SC_PAGESIZE"), ")")
print("writing the last byte of a 24-byte mapping works:", pages.whole_page_is_yours() == 1)
d = pages.mmap_distance()
print("two 24-byte mappings are a multiple of a page apart:", d % pages.page_size() == 0)

# %% [markdown]
# So one 24-byte object per mapping really costs a 4096-byte page, 170 times what
# the object needs. And time:

# %%
# NBVAL_IGNORE_OUTPUT
n = 20_000
t_mmap = min(pages.with_mmap(n) for _ in range(3))
t_malloc = min(pages.with_malloc(n) for _ in range(3))
print(f"{n:,} objects: mmap per object is {t_mmap / t_malloc:.0f}x slower than malloc")

# %% [markdown]
# (The figure is the one this run printed, in the cell's own output: it changes from
# run to run and from machine to machine, so this text quotes none.) Each `mmap` is a system call that creates a
# mapping, and the first write to it takes a page fault; `malloc(24)` is, most of
# the time, a few dozen instructions in user space.
#
# That is the job of a **heap manager**: get memory from the kernel in large
# pieces, rarely, and carve it into blocks of the sizes the program asks for,
# remembering which blocks are free so they can be used again.
#
# ### How glibc grows its heap
#
# glibc's main heap is one contiguous region that ends at the *program break*;
# `sbrk(0)` says where the break is. The probe below is a small C program
# (`native_examples/01_heap_managers/glibc_probe.c`) run as a **fresh process**,
# because the notebook's own heap is already full of Python's objects.
#
# **Predict:** the first `malloc(24)` moves the break. By how much: 32 bytes, one
# page, or more?

# %%
# NBVAL_IGNORE_OUTPUT
# where the first block lands and when the break moves depend on glibc's tcache chunk
# (its size and whether it comes first change with the version): not compared in tests
glibc_probe = build_probe("glibc_probe")
print(lab.run_program([glibc_probe, "brk"]).stdout)

# %% [markdown]
# The first `malloc(24)` moved the break by 135,168 bytes, i.e. 132 KiB: what was
# needed, plus 128 KiB of padding (glibc's `M_TOP_PAD`), rounded up to whole pages.
# Where the block sits depends on the glibc. With glibc 2.36 and 2.41 the probe
# printed `the block at +672`: 8 unused bytes (glibc's first chunk starts with a
# `prev_size` word nobody needs), a 656-byte chunk holding glibc's *tcache*
# (section 3), then our chunk's 8-byte size field. With glibc 2.43, which makes the
# tcache only at the first `free`, it printed `+16`. Then thousands of `malloc(24)`
# calls are served without any system call, until the padding is used up and the
# break moves again: after 4,202 more blocks the first time with 2.36 and 2.41
# (4,223 with 2.43, whose heap has no tcache chunk yet), then every 4,224 blocks
# (4,224 chunks of 32 bytes = 135,168 bytes). The cell's own output shows what this
# machine's glibc did.
#
# Large requests are different: glibc gives them their own mapping with `mmap`,
# so that `free` can return them to the kernel at once. The usual rule of thumb is
# "128 KiB and more goes to mmap". The probe, in a fresh process, makes these calls
# in this order:
#
# ```
# a = malloc(1000); b = malloc(131072); c = malloc(131072); d = malloc(200000);
# free(c); e = malloc(131072); free(d); f = malloc(200000);
# ```
#
# (131,072 bytes is 128 KiB.) **Predict** which of `a` to `f` get their own mapping
# (the probe reads bit M, "mmapped", of each chunk's header):

# %%
print(lab.run_program([glibc_probe, "mmap"]).stdout)

# %% [markdown]
# What happened, for real:
#
# - `b = malloc(131072)` came from the heap: glibc only considers `mmap` when the
#   free space at the end of the heap (the *top chunk*) is too small, and the
#   128 KiB padding had left enough room.
# - `c`, the same size, no longer fitted in the top chunk, so the threshold applied: `mmap`.
#   Its mapping is 135,168 bytes — whole pages. (Up to glibc 2.42 the chunk's size field
#   says 135,168 too; from 2.43 it counts 16 bytes less, the mapping's own header: commit
#   [614cfd0f8a](https://sourceware.org/git/?p=glibc.git;a=commit;h=614cfd0f8a2820aed54f9745077c7da0e6643bac),
#   "malloc: Change mmap chunk layout". So the probe prints the mapping's size.)
# - After `free(c)`, glibc **raised the threshold** to the size of the freed chunk
#   (the *dynamic mmap threshold*, documented in `mallopt(3)`), so `e`, the same
#   request again, came from the heap; after `free(d)`, even 200,000 bytes did.
#
# So "128 KiB" is only where the threshold starts.
#
# ## 2. A teaching allocator
#
# Real allocators are big (glibc's `malloc.c` alone is thousands of lines). The
# course's teaching allocator, `native_examples/01_heap_managers/talloc.c`, is about 150
# lines for the allocator itself (plus a heap checker), and does the classic
# things, over one fixed *arena*:
#
# ```
# arena:  [prologue 8][block][block] ... [block][epilogue 8]
# used:   [header 8][payload ............................][footer 8]
# free:   [header 8][next 8][prev 8][ ... unused ....... ][footer 8]
# ```
#
# Offsets in this section count from the start of the arena, and a block's offset
# is where its header is: the same picture as glibc's chunks in lesson 00 (a
# block starts at its size word). Offsets are decimal throughout the course.
#
# - **Boundary tags.** Every block starts with a *header* word, `size | used bit`,
#   and ends with a *footer* holding the same word (Knuth's boundary tags). From
#   any block, the header tells where the next block starts, and the word just
#   below the block — the previous block's footer — tells whether the previous
#   block is free and where it starts.
# - **Alignment.** Block sizes are multiples of 16, and the first block starts 8
#   bytes into a 16-aligned arena, so every payload is 16-byte aligned, as glibc's.
#   A request of *n* bytes takes a block of *n* + 16 rounded up to 16, at least 32.
# - **Explicit free list.** Free blocks are linked in a doubly linked list whose
#   links live *inside* the free blocks. `malloc` searches that list with a
#   placement **policy**: *first fit* (the first block that fits), *next fit* (first
#   fit, but resuming where the previous search stopped) or *best fit* (the smallest
#   block that fits). Freed blocks go to the front of the list (*LIFO*), or the list
#   is kept in address order.
# - **Splitting.** If the block found is bigger than needed by at least 32 bytes,
#   the rest becomes a new free block.
# - **Coalescing.** `free` merges the block with a free neighbour on either side,
#   so that free memory does not crumble into pieces too small to use.
#
# Here is `ta_malloc`, the core of it:

# %%
talloc = talloc_module()          # lab.build_c_file("native_examples/01_heap_managers/talloc.c")
print(hm.c_function("ta_malloc"))

# %% [markdown]
# Let's drive it by hand from Python. The arena is 1024 bytes of memory that
# Python owns; the C only ever touches it through the `ta_heap` bookkeeping.
#
# **Predict:** after `malloc(24)`, `malloc(100)` and `malloc(24)`, how big is each
# block, and at which offset does each payload start?

# %%
ffi, lib = talloc.ffi, talloc.lib
arena = ffi.new("unsigned char[]", 1024 + 15)
heap = ffi.new("ta_heap *")
# ta_init rounds the start up and the end down to multiples of 16: 1,024 bytes, wherever cffi put it
lib.ta_init(heap, arena, 1024 + 15, lib.TA_FIRST_FIT, lib.TA_LIFO, 1)
print("arena:", heap.size, "bytes")

a, b, c = lib.ta_malloc(heap, 24), lib.ta_malloc(heap, 100), lib.ta_malloc(heap, 24)
names = {a: "a", b: "b", c: "c"}
base = int(ffi.cast("uintptr_t", heap.base))
for p, name in names.items():
    off = int(ffi.cast("uintptr_t", p)) - base
    print(f"{name}: payload at +{off}, 16-aligned: {off % 16 == 0}")
lab.draw_heap(heap_blocks(talloc, heap, names), title="after a, b, c", row_bytes=256)

# %% [markdown]
# 24 bytes took a 48-byte block (24 + 16 = 40, rounded up to 48), 100 bytes a
# 128-byte block. The rest of the arena is one free block.
#
# **Predict:** now free `b`, then `a`. How many free blocks will there be after
# each step?

# %%
lib.ta_free(heap, b)
print("after free(b):", [(blk.offset, blk.size) for blk in heap_blocks(talloc, heap) if blk.state == "free"])
lib.ta_free(heap, a)
print("after free(a):", [(blk.offset, blk.size) for blk in heap_blocks(talloc, heap) if blk.state == "free"])
msg = ffi.new("char[]", 200)
print("invariant check:", lib.ta_check(heap, msg, 200), ffi.string(msg).decode() or "all invariants hold")

# %% [markdown]
# After `free(b)`: two free blocks, because `b`'s neighbours `a` and `c` are in use.
# After `free(a)`: still two, because `a` merged with the free block after it
# (48 + 128 = 176 bytes). `ta_check` walks the heap and the free list and checks
# every invariant: headers equal footers, sizes add up to the arena, no two free
# blocks touch, every free block is on the list once. The check of exercise 1
# runs it after every step.
#
# ### The trace stepper
#
# Calling functions by hand gets tedious. A **trace** is a small text file of
# operations (`native_examples/01_heap_managers/traces/*.trace`); the stepper
# replays it and lets you move through the steps with a slider. At each step you
# see the heap (blue: used, grey: free, orange: the prologue and epilogue tags; the
# block the step touched is outlined in red; `#1`, `#2`... is each free block's
# position on the free list), the free list, and a few figures: the *footprint*
# (bytes from the arena start to the end of the highest block in use), the bytes
# in free blocks below it (*holes*), and the *utilisation* (bytes the trace asked
# for and still holds, divided by the footprint); section 5 measures them. Change
# the policy with the drop-downs, or type your own trace and press *replay*.

# %%
print(load_trace("intro").text())

# %%
Stepper("intro")

# %% [markdown]
# Things to try: step to `alloc e 24` and explain where `e` goes; switch to best
# fit; replace the trace with one of your own. The same trace, replayed without
# the widget, gives the same states:

# %%
r = replay("intro")
print(r)
print(list_html(r.final, "free list").replace("<b>", "").replace("</b>", ""))

# %% [markdown]
# ### Exercise 1: write coalescing
#
# Below is `ta_coalesce` for the teaching allocator, half done: it merges a freed
# block with the block *after* it. `ta_free` calls it with a block that is already
# marked free but not yet on the free list; it must merge every free neighbour into
# one block, take merged neighbours off the free list (`ta_list_remove`), and return
# the merged block, which `ta_free` then puts on the list. The helpers you may use
# are in `native_examples/01_heap_managers/talloc.h`; here they are:

# %%
print(hm.talloc_helpers())

# %% [markdown]
# The cells compile `talloc.c` with `-DTA_LEARNER_COALESCE`, which leaves its own
# `ta_coalesce` out, so the one in the cell is used. The check replays four traces
# against that allocator **in a child process**, runs `ta_check` after every step,
# and reports the first step where an invariant broke. A crash or an endless loop
# in the C is reported the same way; the notebook keeps running.
#
# First the half-done version as it is. **Predict:** at which step of the
# `coalesce` trace will it fail, and why?

# %%
# %%cffi half -I ../native_examples/01_heap_managers --file ../native_examples/01_heap_managers/talloc.c --cflags "-DTA_LEARNER_COALESCE"
#include "talloc.h"

ta_block *ta_coalesce(ta_heap *h, ta_block *b)
{
    ta_block *next = ta_next_block(b);
    if (!ta_is_used(next)) {                     /* merge with the block after */
        ta_list_remove(h, next);
        ta_set(b, ta_size(b) + ta_size(next), 0);
    }
    /* TODO: merge with the block before, if it is free */
    return b;
}

# %%
hm.check_coalesce(half)

# %% [markdown]
# The message names the step and its operation: `free c` freed a block whose
# *previous* neighbour (`b`) was already free, and the two free blocks now touch.
# Here is the trace, step by step:

# %%
for i, line in enumerate(load_trace("coalesce").text().splitlines(), 1):
    print(f"step {i:>2}: {line}")

# %% [markdown]
# What does the check do with worse bugs? This version spins forever on a free
# neighbour; it runs in the child, which is stopped after 2 seconds, and the
# message says where:

# %%
# %%cffi spinning -I ../native_examples/01_heap_managers --file ../native_examples/01_heap_managers/talloc.c --cflags "-DTA_LEARNER_COALESCE"
#include "talloc.h"

ta_block *ta_coalesce(ta_heap *h, ta_block *b)
{
    while (!ta_prev_is_used(b)) { }              /* BUG: nothing changes inside the loop */
    return b;
}

# %%
hm.check_coalesce(spinning, traces=("coalesce",))

# %% [markdown]
# Now your turn: finish `ta_coalesce` in the cell below (it starts as the
# half-done version) so that the check after it passes on all four traces. Think
# about what the merged block's header *and* footer must say, and which blocks
# must leave the free list. In your copy the cell holds a line `LAB_NOT_DONE();`
# where your code goes: delete it when you write yours. Keep the cell's first line
# as it is: `-DTA_LEARNER_COALESCE` is what makes the allocator use your function.

# %% tags=["solution"]
# %%cffi mine -I ../native_examples/01_heap_managers --file ../native_examples/01_heap_managers/talloc.c --cflags "-DTA_LEARNER_COALESCE"
#include "talloc.h"

ta_block *ta_coalesce(ta_heap *h, ta_block *b)
{
    ta_block *next = ta_next_block(b);
    if (!ta_is_used(next)) {                     /* merge with the block after */
        ta_list_remove(h, next);
        ta_set(b, ta_size(b) + ta_size(next), 0);
    }
    // ### BEGIN SOLUTION
    if (!ta_prev_is_used(b)) {                   /* merge with the block before */
        ta_block *prev = ta_prev_block(b);
        ta_list_remove(h, prev);
        ta_set(prev, ta_size(prev) + ta_size(b), 0);
        b = prev;
    }
    // ### END SOLUTION
    return b;
}

# %% tags=["check"]
hm.check_coalesce(mine)

# %% [markdown]
# ## 3. The real thing: glibc's chunks
#
# glibc's allocator (ptmalloc2, described in the glibc wiki page
# [MallocInternals](https://sourceware.org/glibc/wiki/MallocInternals)) uses the
# same ideas with some tricks. The pictures and tables draw a chunk as lesson 00
# did: its 8-byte size field, then the bytes the program may use, up to the next
# chunk's size field; an offset is the position of a size field, in decimal, from
# the size field of the heap's first chunk.
#
# - a block is a **chunk**; the 8 bytes just below the pointer `malloc` returns
#   hold the chunk size, and its 3 low bits are flags: **P** = 1 (the *previous*
#   chunk is in use), **M** = 2 (this chunk was `mmap`ped), **A** = 4 (it belongs to
#   a *non-main arena*: one of the extra heaps glibc creates for threads other
#   than the first, at most 8 per core on 64-bit; threads share them, so an arena
#   is a pool, not one thread's private heap);
# - there is **no footer on a used chunk**: only a chunk that is free *in a bin*
#   writes its size into its last 8 bytes (glibc calls that word the next chunk's
#   `prev_size`) and clears the next chunk's P bit. While a chunk is in use, those
#   8 bytes are the program's. That saves 8 bytes per block compared with our
#   teaching allocator;
# - chunk sizes are multiples of 16, and the smallest chunk is 32 bytes.
#
# **Predict** the chunk size for `malloc(0)`, `malloc(24)`, `malloc(25)`, `malloc(100)`,
# and how many bytes of each the program may really use (`malloc_usable_size`).
# The probe measures them in a fresh process, allocating without freeing, so every
# chunk is cut from the top of a new heap:

# %%
print(lab.run_program([glibc_probe, "sizes", "0", "1", "24", "25", "40", "100", "1000"]).stdout)

# %% [markdown]
# A chunk is the request plus 8 bytes for the size field, rounded up to 16, and
# never below 32: `malloc(0)` and `malloc(24)` both get 32 bytes, and 24 of them are
# usable — everything after the size field up to the next chunk's size field. Those
# 24 bytes already include the 8 that glibc's source calls the next chunk's
# `prev_size`: there is nothing more to borrow. A = 0 because the probe runs in
# its main thread, in the main arena.
#
# That size is what glibc uses **at least**. In a heap with a history a chunk can be
# 16 bytes bigger: when the free chunk glibc picks would leave a remainder under
# 32 bytes (too small to be a chunk), it hands out the whole chunk. The probe builds
# such a heap on purpose: a free 1,072-byte chunk (too big for the tcache), then `malloc(1048)`:

# %%
print(lab.run_program([glibc_probe, "history"]).stdout)

# %% [markdown]
# So measure chunk sizes in a fresh process, as the probe does. In the notebook's
# own process, whose heap is full of Python's objects, `malloc(1000)` has been seen
# to return a 1,024-byte chunk, and the result depends on what ran before.
#
# ### tcache: last in, first out
#
# Since glibc 2.26 (commit [d5c3fafc43](https://sourceware.org/git/?p=glibc.git;a=commit;h=d5c3fafc4307c9b7a4c7d5cb381fcdbfad340bcc),
# "Add per-thread cache to malloc") each thread has a **tcache**: small lists of recently freed
# chunks, one list per chunk size for the 64 sizes from 32 to 1,040 bytes (requests
# up to 1,032 bytes), at most 7 chunks each (16 from glibc 2.43), used before anything else and without
# locking. A chunk in the tcache still *looks* in use: its neighbour's P bit stays 1,
# and glibc writes no `prev_size` for it.
#
# **Predict:** allocate `a`, `b`, `c` (40 bytes each), free them in that order, then
# allocate `x`, `y`, `z`. Which old chunk does each new one get?

# %%
lifo = parse_trace("""
alloc a 40
alloc b 40
alloc c 40
free a
free b
free c
alloc x 40
alloc y 40
alloc z 40
""", "lifo")
# offsets from the first chunk the program got (a's), which do not depend on glibc's version
before = {ch.owner: off for off, ch in hm.program_chunks(replay_glibc(lifo, stop=3).chunks) if ch.state == "used"}
after = {ch.owner: off for off, ch in hm.program_chunks(replay_glibc(lifo).chunks) if ch.state == "used"}
old = {off: name for name, off in before.items()}
for name in "xyz":
    print(f"{name} got the chunk of {old[after[name]]} (+{after[name]})")

# %% [markdown]
# The last chunk freed is the first reused: each tcache list is a stack. That is
# fast (and kind to the cache: the chunk was just touched).
#
# What happens to the bytes of a block once it is freed? A program that reads a
# block after freeing it (a *use-after-free*) often seems to work, because most of
# the block still holds the old data. **Predict** how many bytes of a freed 64-byte
# block `free` itself overwrites.

# %%
print(lab.run_program([glibc_probe, "uaf"]).stdout)

# %% [markdown]
# Only the first two words, 16 bytes: the tcache stores its list link there (the *next* pointer,
# "safe-linked", i.e. XORed with its own address shifted right by 12, since glibc
# 2.32, commit [a1a486d70e](https://sourceware.org/git/?p=glibc.git;a=commit;h=a1a486d70ebcc47a686ff5846875eacad0940e41),
# "Add Safe-Linking to fastbins and tcache") and a *key* that lets `free` spot a double
# free (lesson 00; since glibc 2.29, commit
# [bcdaad21d4](https://sourceware.org/git/?p=glibc.git;a=commit;h=bcdaad21d4635931d1bd3b54a7894276925d081d),
# "malloc: tcache double free check"). The other 48
# bytes still hold the old data. That is why the bug hides. What makes it a bug is
# the LIFO reuse just shown: the next `malloc` of that size hands the *same* block to
# another object, and from then on the stale pointer reads that object's data and
# its writes silently corrupt it.
# (The probe compares whole 8-byte words: the two words `free` writes hold an
# address and a random key, and any one of their bytes can equal `0xAB` by chance.)
#
# ### Exercise 2: which chunk comes back?
#
# A fresh process (with tcache, as always) runs this trace. For each of `x`, `y`,
# `z`, `w`: does it get the chunk of `a`, `b`, `c` or `d`, or a chunk that was never
# used before (`"new"`)? Put your prediction in `answer`; the check replays the
# trace in a fresh process and compares, without telling you the right answer.
# (The teaching allocator cannot help you here: glibc's rules are its own.)

# %%
print(hm.REUSE_TRACE)

# %% tags=["solution"]
answer = {"x": "?", "y": "?", "z": "?", "w": "?"}      # "a", "b", "c", "d" or "new"
### BEGIN SOLUTION
# 40 -> 48-byte chunks: b, d, a are freed into one tcache list (top: a, then d, then b);
# 100 -> a 112-byte chunk: c alone in its list. 24 -> 32 bytes: that list is empty,
# and tcache lists are exact-size, so z is cut from the top chunk.
answer = {"x": "a", "y": "c", "z": "new", "w": "d"}
### END SOLUTION

# %% tags=["check"]
hm.check_reuse(answer)

# %% [markdown]
# ### Turning tcache off: bins, coalescing and the top chunk
#
# glibc reads **tunables** from the environment at start-up
# ([manual](https://www.gnu.org/software/libc/manual/html_node/Memory-Allocation-Tunables.html)).
# `GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0` empties the
# tcache and the *fastbins* (another cache of small chunks that are not merged), so
# every free goes to the plain bins, where neighbours merge. (The *small bins* each
# hold chunks of one exact size; only the *large bins*, for chunks of 1,024 bytes
# and more, hold a range of sizes, kept sorted.) Tunables are read only
# when a process starts, so the probe runs as a fresh process with that variable set.
#
# **Predict:** four 40-byte chunks `a b c d`, the last one next to the top chunk.
# Free `b`, then `c`, then `d`. With tcache, what changes in the heap? Without?

# %%
# hm.chunk_table: offsets from a's chunk, glibc's own tcache chunk left out (its size and its
# place depend on glibc's version), "free in a bin" for any bin (glibc 2.41 changed which one)
merge = parse_trace("alloc a 40\nalloc b 40\nalloc c 40\nalloc d 40\nfree b\nfree c\nfree d\n", "merge")
print("WITH tcache, after free b, c, d:")
print(hm.chunk_table(replay_glibc(merge).chunks))

# %%
for stop, what in [(5, "free b"), (6, "free c"), (7, "free d")]:
    print(f"\nWITHOUT tcache (GLIBC_TUNABLES={NO_TCACHE}), after {what}:")
    print(hm.chunk_table(replay_glibc(merge, stop=stop, tunables=NO_TCACHE).chunks))

# %% [markdown]
# With tcache, nothing merges: `b`, `c`, `d` sit in the tcache, every P bit is still
# 1, and `d` stays a chunk of its own instead of merging into the top chunk. Without it:
#
# - after `free b`, `b` is a free chunk in a bin, and `c`'s **P bit is 0**;
# - after `free c`, `c` merged **backwards** with `b` into one 96-byte free chunk
#   (found through `b`'s size, which a chunk free in a bin writes into its last
#   8 bytes, just below `c`'s size field);
# - after `free d`, `d` merged with the free chunk before it *and* with the top
#   chunk: the heap ends right after `a` again.

# %% [markdown]
# ### Stepping through glibc's bins
#
# The tables show each chunk, but not *which list* glibc keeps a free chunk on.
# The **glibc stepper** replays a trace in a fresh process, as the probe above
# does, and after every operation reads glibc's own bookkeeping: the tcache (the
# heap's first chunk) and `main_arena`, the `struct malloc_state` in libc's data
# that holds every other bin, the top chunk and `system_mem`. libc does not export
# `main_arena`, so the probe finds it as the one place in libc's writable data whose
# `next` field points to itself (glibc initialises it with `.next = &main_arena`),
# and uses it only if its `system_mem` equals what `mallinfo2()` reports and its
# `top` is the top chunk ([malloc.c of glibc 2.36](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36),
# `struct malloc_state`). The lists it shows, roughly in the order `malloc` looks at them
# (for a small request, the small bin of exactly its size is checked before the
# unsorted bin is scanned; the large bins come after the scan):
#
# - **tcache** (per thread): 64 lists, one per chunk size from 32 to 1,040 bytes, at
#   most 7 chunks each (16 from 2.43; the tunable `glibc.malloc.tcache_count`), last in, first out.
#   `free` puts a chunk there first, `malloc` looks there first;
# - **fastbins** (in the arena): one list per chunk size from 32 to 128 bytes (the
#   request limit `DEFAULT_MXFAST` is 64 × 8 / 4 = 128 on 64-bit, and `set_max_fast`
#   makes it the largest fastbin chunk), last in, first out. A chunk of at most 128
#   bytes goes there when its tcache list is full. A fastbin chunk is **not merged**: its
#   neighbour's P bit stays 1, as for the tcache;
# - **unsorted**: one list. Any other freed chunk is first **merged** with its free
#   neighbours (into **top** if it touches the top chunk), then put at the head of
#   the unsorted bin. (From glibc 2.41 on, `free` puts only *large* chunks there: one of
#   small-bin size goes straight to its small bin; split remainders and chunks that
#   `malloc_consolidate` merged still go to the unsorted bin, commit
#   [e2436d6f](https://sourceware.org/git/?p=glibc.git;a=commitdiff;h=e2436d6f5aa47ce8da80c2ba0f59dfb9ffde08f3).
#   The cells below print which glibc ran them.) `malloc` scans the unsorted bin from its other end (the oldest
#   chunk): it takes an exact fit (with the tcache on, an exact fit of a tcache size
#   is first moved to the tcache while that tcache list has room, and the scan goes
#   on), and moves every other chunk it passes to its small or large bin (a small
#   request may also be cut at once from the remainder of the last split);
# - **small bins**: 62 lists, one exact size each (32 to 1,008 bytes), first in,
#   first out; **large bins**: 63 lists for 1,024 bytes and more, each a range of
#   sizes (`largebin 0x440+`: from 1,088 up to the next bin), kept sorted by size.
#   When no list has the exact size, `malloc` cuts the smallest bigger chunk it finds
#   in them and puts the rest (if it is at least 32 bytes) back in the unsorted bin;
# - **top**: what is left is cut from the top chunk; `av->system_mem` is what the
#   arena got from the kernel with `brk` (135,168 bytes for a small heap: 132 KiB).
#
# In the picture, used chunks are blue and carry their name, glibc's own tcache chunk is
# orange and says `meta`, as in every heap picture of the course; a free chunk carries its
# bin's letter and its place in that list: `T1` is the head of a **t**cache list, then `F`
# fastbin, `U` unsorted, `S` small bin, `L` large bin (the letters are the lists' keys
# beside the map too). Its colour says the same, from light to dark in that order (pale
# green, tan, mauve, dark green, plum; the top chunk, cut short, is pale and says `top`), so
# the bins can be told apart without colour as well as with it. The chunk the step touched is
# outlined in red. The label says where each `malloc`'s chunk came from. The box
# switches `GLIBC_TUNABLES` (tcache and fastbins off) and replays. A list is named by
# its kind and its chunk size in hex, the way heap debuggers such as pwndbg print
# chunk sizes (`tcache 0x70` is the tcache list of 112-byte chunks); the offsets and sizes in the
# lists are decimal, as everywhere in the course.
#
# These lists are glibc's own choices and they change between releases: the
# unsorted-bin change of 2.41 above is one. glibc 2.42 added 12 tcache lists for
# large chunks, off unless the tunable `glibc.malloc.tcache_max` is raised (commit
# [cbfd798810](https://sourceware.org/git/?p=glibc.git;a=commit;h=cbfd7988107b27b9ff1d0b57fa2c8f13a932e508),
# "malloc: add tcache support for large chunk caching"; 2.42's NEWS), and counts each
# list's free slots instead of its chunks (commit
# [7e10e30e64](https://sourceware.org/git/?p=glibc.git;a=commit;h=7e10e30e64aa2cc8ba50f2f83cb7cc2cdad134ad),
# "malloc: Count tcache entries downwards"): the heap's first chunk, which holds the
# tcache, grows from 656 to 768 bytes. glibc 2.43 (Debian's package 2.43-7, in unstable
# and testing in December 2026) removed the fastbins and
# `malloc_consolidate` altogether and
# raised the tcache's default of 7 chunks per list to 16 (commits
# [bb5a4f5295](https://sourceware.org/git/?p=glibc.git;a=commit;h=bb5a4f5295ced26532939703867c35f2ce8c149b),
# "malloc: Remove fastbin infrastructure", and
# [0b9210bd76](https://sourceware.org/git/?p=glibc.git;a=commit;h=0b9210bd760b5281f2e9f3e6640368ccb5f4a7ae),
# "malloc: set default tcache fill count to 16", December 2025), and makes a
# thread's tcache at its first `free` rather than its first `malloc` (commit
# [2bf2188fae](https://sourceware.org/git/?p=glibc.git;a=commit;h=2bf2188fae1f3e48d12fdd26f56ff6881fd0b316),
# "malloc: avoid need for tcache == NULL checks"). So the lists above are those of
# glibc 2.33 to 2.41, and this book's outputs come from the glibc its platform note
# names. glibc 2.44 (Debian experimental ships it as 2.44-3) keeps 2.43's structures
# (`struct malloc_state` and `tcache_perthread_struct` read the same in its `malloc/malloc.c`)
# and no longer moves exact fits from the unsorted bin into the tcache while `malloc` scans
# it (the `glibc.malloc.tcache_unsorted_limit` tunable is gone with that code). The probe
# knows the layouts of glibc 2.33 to 2.44 (it needs `mallinfo2`, new in 2.33); on any other
# glibc it stops with an error that names the version ("glibc 2.45 is not supported by
# this probe yet"), rather than draw wrong bins.
# After exercise 3, one trace runs under 2.36, 2.41 and 2.43 side by side.
#
# **Predict:** in the trace `intro` (section 2), where do `c` and `b` go when they are
# freed, and where does `e` come from — with tcache, and without?

# %%
GlibcStepper("intro")

# %% [markdown]
# The same replay without the widget, from step 5 on:

# %%
# NBVAL_IGNORE_OUTPUT
# which bin, and the offsets (built on glibc's tcache chunk), depend on glibc's version
from labsupport.heap.glibc import freed_small_chunk_bin, glibc_version

print("glibc %d.%d: a freed small chunk that neither tcache nor fastbins take goes to the" % glibc_version(),
      "unsorted bin" if freed_small_chunk_bin() == "unsorted" else "small bin of its size")
for tunables in (None, NO_TCACHE):
    print("GLIBC_TUNABLES:", tunables or "(not set)")
    for st in glibc_steps("intro", tunables)[5:]:
        came = f"chunk +{st.changed} from {st.served}" if st.served else f"chunk +{st.changed} freed"
        print(f"  {str(st.op):12} {came:36} bins: {st.bins_text().replace(chr(10), '; ')}")

# %% [markdown]
# With tcache, `c` (a 112-byte chunk) and `b` (32 bytes) each start a tcache list of
# their size, and `e` takes `b`'s chunk back from the tcache. Without it, `c` goes to
# the unsorted bin (glibc 2.41 and later: to its small bin); `b` merges with the free
# `c` after it into one 144-byte chunk; and `e` is **cut** from that chunk: `malloc`
# found no exact fit (up to glibc 2.40 it first moved the chunk from the unsorted bin
# to its small bin), split it, and put the 112-byte rest in the unsorted bin.
#
# Now the trace `fragment`, which section 5 measures: four buffers freed between
# small live blocks, then four requests. **Predict** which lists the freed buffers
# land in, with and without tcache, and whether any request is served from the top
# chunk. Then switch the box.

# %%
GlibcStepper("fragment")

# %% [markdown]
# With tcache, the two 80-byte and the two 272-byte chunks wait in two tcache lists,
# and the four requests take them back, last freed first. Without tcache all four
# wait in the unsorted bin, newest at the head (glibc 2.41 and later: in the two small
# bins of their sizes, also newest at the head); each request takes the exact fit
# nearest the other end, the oldest (`m1` gets `B`'s chunk, the first freed). Either
# way no request reaches the top chunk: the footprint stays where it was.
#
# A tour of the other lists: eight 40-byte blocks and one of 1,200 bytes are freed.
# **Predict** where the eighth 40-byte chunk goes, and what `alloc huge 2000` (a
# large request) does to it.

# %%
tour = parse_trace("".join(f"alloc a{i} 40\n" for i in range(1, 9)) + "alloc big 1200\nalloc pin 16\n"
                      + "".join(f"free a{i}\n" for i in range(1, 9)) + "free big\nalloc huge 2000\n"
                      + "alloc small 100\nfree pin\n", "tour")
GlibcStepper(tour)

# %%
# NBVAL_IGNORE_OUTPUT
# glibc 2.43 has no fastbins and keeps 16 chunks a tcache list; the offsets include the
# tcache chunk: this output depends on glibc's version, so tests do not compare it
steps = glibc_steps(tour)
for i in (18, 19, 20, 21):
    print(f"after {steps[i].op}:\n  " + steps[i].bins_text().replace("\n", "\n  "))

# %% [markdown]
# Up to glibc 2.42 (the output above names the lists this machine's glibc has):
#
# - `a1` to `a7` fill the tcache list for 48-byte chunks (7 is the limit); `a8` goes
#   to the **fastbin** of that size, `big` (1,216 bytes, too big for the tcache) to the
#   **unsorted** bin;
# - `alloc huge 2000` is a large request, and glibc first **consolidates** the
#   fastbins (`malloc_consolidate`): `a8` merges with the free `big` after it into a
#   1,264-byte chunk. No free chunk fits 2,016 bytes, so `huge` is cut from top, and
#   the scan of the unsorted bin has sorted the merged chunk into its **large bin**;
# - `alloc small 100` finds no 112-byte chunk anywhere, so glibc cuts the smallest
#   bigger one (the large-bin chunk) and puts the rest back in the unsorted bin.
#
# The first seven chunks never merged with anything: the tcache is fast because it
# skips all of that work, and it pays in memory (section 5 measures how much). With
# glibc 2.43 (16 chunks a tcache list, no fastbins) all eight 40-byte chunks wait in the
# tcache, and nothing is consolidated.
#
# ### Exercise 3: which chunk, from which bin?
#
# A fresh process (with tcache) runs the trace below. For each of `x`, `y`, `z`, `w`:
# which block's chunk does it get (`"a"` to `"e"`, or `"new"` for a chunk that no
# block had before), and where was that chunk just before the `malloc`: `"tcache"`,
# `"fastbin"`, `"unsorted"`, `"smallbin"`, `"largebin"` or `"top"`? When glibc cuts
# a request from a bigger free chunk, name the bin that bigger chunk was in. The
# check replays the trace and, on a wrong answer, shows the bins as they were just
# before that `malloc`. Use exactly these strings. You can also paste the trace into a
# `GlibcStepper` — but predict first.

# %%
print(hm.BIN_TRACE)

# %% tags=["solution"]
answer = {"x": ("?", "?"), "y": ("?", "?"), "z": ("?", "?"), "w": ("?", "?")}
### BEGIN SOLUTION
# x: 40 -> 48 B: the tcache list for 48 B holds c (freed last), then a.
# b (1,520 B) and d (3,008 B) are too big for the tcache: unsorted bin, b the oldest.
# y: 1500 -> 1,520 B: the scan starts at the oldest chunk, b, an exact fit.
# z: 2000 -> 2,016 B: d is no exact fit; glibc sorts it into a large bin and cuts z
#    from its start (the rest goes back to the unsorted bin). Before the call d was unsorted.
# w: 5000 -> 5,008 B: no free chunk is that big: top.
answer = {"x": ("c", "tcache"), "y": ("b", "unsorted"), "z": ("d", "unsorted"), "w": ("new", "top")}
### END SOLUTION

# %% tags=["check"]
hm.check_bins(answer)

# %% [markdown]
# ### One trace, three glibc versions
#
# The cells above ran this machine's glibc. The course also keeps the C library of three
# Debian releases (fetched once by the warm-up, from the package archive apt uses:
# `labsupport.heap.glibcs`): Debian 12's glibc 2.36, Debian 13's 2.41 and 2.43 (package
# 2.43-7, from unstable or testing).
# The third is **pinned to 2.43**, not to whatever unstable ships when you fetch it: the
# book's pictures and text of these replays, and exercise 3b, ask about these three versions,
# so a move of unstable to 2.44 must not change them (2.43 comes from unstable or testing while
# either still ships it; after that the view shows the other two and says why).
# The view below replays **one trace under all three at once**, each in its own fresh
# process started by that version's own loader (`ld-linux-x86-64.so.2 --library-path`),
# and moves them with one slider. The trace: eight 200-byte blocks `a1`..`a8`, seventeen
# 40-byte blocks `c1`..`c17`, a small `pin` (so that nothing touches the top chunk), then
# every `a` and every `c` freed, then `alloc big 2000`.
#
# **Predict** for each version, with the lists of this section: where does `a8`, the eighth
# 208-byte chunk freed, wait? Where do the seventeen 48-byte chunks wait? What does the large
# request `big` do to them? Then move the slider to step 34 (`free a8`), 51 (`free c17`) and 52.

# %%
# NBVAL_IGNORE_OUTPUT
# (the first run may print the download; without the three libraries it prints why instead)
from labsupport.widgets.sidebyside import bins_side_by_side, glibcs_view

three = parse_trace("".join(f"alloc a{i} 200\n" for i in range(1, 9)) + "".join(f"alloc c{i} 40\n" for i in range(1, 18))
                    + "alloc pin 16\n" + "".join(f"free a{i}\n" for i in range(1, 9))
                    + "".join(f"free c{i}\n" for i in range(1, 18)) + "alloc big 2000\n", "three_glibcs")
versions_view = glibcs_view(three)
versions_view

# %% [markdown]
# The same three replays as text, at those three steps (a list of three or more chunks is
# shown by its length; the offsets count from each heap's first chunk):

# %%
# NBVAL_IGNORE_OUTPUT
# (not compared: the versions come from Debian's archive, so offline or on Ubuntu this prints nothing)
if versions_view is not None:
    print(bins_side_by_side(versions_view.panels, (34, 51, 52)))

# %% [markdown]
# What changed, step by step (glibc's source, `malloc/malloc.c`, at each release's tag):
#
# - **Step 34, `free a8`.** The tcache list of 208-byte chunks is full after seven, so in
#   2.36 `a8` goes where `_int_free` puts every chunk the tcache and the fastbins do not
#   take: the **unsorted** bin ("Place the chunk in unsorted chunk list",
#   [2.36 line 4618](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36#l4618)).
#   In 2.41 the same chunk goes straight to the **small bin** of its size ("Place small
#   chunks directly in their smallbin, so they don't pollute the unsorted bin",
#   [2.41 line 4787](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.41#l4787),
#   commit [e2436d6f](https://sourceware.org/git/?p=glibc.git;a=commitdiff;h=e2436d6f5aa47ce8da80c2ba0f59dfb9ffde08f3),
#   "malloc: send freed small chunks to smallbin"). In 2.43 a tcache list holds **16**
#   chunks (`TCACHE_FILL_COUNT`, 7 in
#   [2.36 line 328](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36#l328),
#   16 from commit [0b9210bd76](https://sourceware.org/git/?p=glibc.git;a=commit;h=0b9210bd760b5281f2e9f3e6640368ccb5f4a7ae),
#   "malloc: set default tcache fill count to 16"), so `a8` is simply the tcache's eighth.
# - **The orange chunk.** glibc's own tcache chunk is 656 bytes at the start of the heap in
#   2.36 and 2.41, 768 bytes in 2.43. The growth came in 2.42: 64 lists for small chunks plus
#   12 for large ones, `TCACHE_MAX_BINS` = 76
#   ([2.42 lines 294-296](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.42#l294),
#   commit [cbfd798810](https://sourceware.org/git/?p=glibc.git;a=commit;h=cbfd7988107b27b9ff1d0b57fa2c8f13a932e508)),
#   each with a 2-byte count of free slots (`num_slots`,
#   [2.42 line 3129](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.42#l3129),
#   commit [7e10e30e64](https://sourceware.org/git/?p=glibc.git;a=commit;h=7e10e30e64aa2cc8ba50f2f83cb7cc2cdad134ad))
#   and an 8-byte list head: 76 × 10 = 760 bytes of struct, a 768-byte chunk (64 × 10 = 640:
#   656 before). In 2.43 it is no longer the heap's first chunk: the first `free` makes it,
#   cut from the top chunk wherever that is then (`tcache_free_init`, commit
#   [2bf2188fae](https://sourceware.org/git/?p=glibc.git;a=commit;h=2bf2188fae1f3e48d12fdd26f56ff6881fd0b316)),
#   which is why the 2.43 panel's first chunk, `a1`, starts at +0.
# - **Step 51, `free c17`.** In 2.36 and 2.41, seven 48-byte chunks fill their tcache list
#   and the other ten go to the **fastbin** of that size, unmerged. 2.43 has **no fastbins**
#   (commit [bb5a4f5295](https://sourceware.org/git/?p=glibc.git;a=commit;h=bb5a4f5295ced26532939703867c35f2ce8c149b),
#   "malloc: Remove fastbin infrastructure"): sixteen chunks fill the tcache list and the
#   seventeenth goes, like any small chunk since 2.41, to its **small bin**.
# - **Step 52, `alloc big 2000`.** A large request first runs `malloc_consolidate` when
#   fastbins hold chunks ([2.36 lines 3957-3962](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36#l3957)):
#   in 2.36 and 2.41 the ten fastbin chunks, neighbours in memory, merge into one 480-byte
#   chunk, which the scan of the unsorted bin sorts into its small bin (in 2.36 it also
#   sorts `a8`, which waited there). In 2.43 there is nothing to consolidate and nothing moves.
#   `big` itself is cut from top in all three.
#
# 2.43 has no release tag in the copy of glibc's repository this lesson was checked
# against: its lines are those of glibc's master branch of 20 January 2026 (commit
# 04e750e75b, whose `NEWS` heads "Version 2.43"), where `malloc/malloc.c` defines
# `TCACHE_FILL_COUNT` as 16 (line 317) and no longer mentions a fastbin; the panel runs
# Debian's package of the release. Allocator internals are a moving target: a picture of
# "glibc's bins" is a picture of one version's.
#
# ### Exercise 3b: which version serves it from where?
#
# A fresh process runs the trace below under each of the three versions: nine 150-byte
# blocks (160-byte chunks, neighbours in memory), a `pin`, all nine freed in order, then
# nine requests of 150 bytes. For `x8` and `x9`, under **each** version: which block's chunk
# does it get (`"a1"` to `"a9"`, `"pin"` or `"new"`), and where was that chunk just before the
# `malloc`: `"tcache"`, `"fastbin"`, `"unsorted"`, `"smallbin"`, `"largebin"` or `"top"`? When a
# request is cut from a bigger free chunk, name the bin that bigger chunk was in. Reason from
# the rules above (two neighbouring free chunks that neither the tcache nor a fastbin holds
# merge; a tcache list is last in, first out); the check replays the trace under each
# version's own C library and, on a wrong answer, shows that version's bins after the last
# `free` and its rules (the mallocs before `x8` are yours to follow). Predict first: a view of
# this trace (`glibcs_view(hm.VERSIONS_TRACE)`) shows it afterwards, but an answer read from
# replays in code is refused. On a machine that cannot fetch the three versions (apt there
# names no Debian archive, as on Ubuntu, or it is offline) the check grades a version it cannot
# run against what that version's Debian package did with this trace when the course was
# recorded, and says so.

# %%
print(hm.VERSIONS_TRACE)

# %% tags=["solution"]
answer = {"2.36": {"x8": ("?", "?"), "x9": ("?", "?")},
          "2.41": {"x8": ("?", "?"), "x9": ("?", "?")},
          "2.43": {"x8": ("?", "?"), "x9": ("?", "?")}}
### BEGIN SOLUTION
# 2.36 and 2.41: a1..a7 fill the tcache list of 160-byte chunks. a8's neighbours are a7 (in
#   the tcache, so "in use" to its neighbours) and a9 (in use): a8 waits alone. a9 then merges
#   with the free a8 into one 320-byte chunk: in the unsorted bin (2.36), in the small bin of
#   320 bytes (2.41). x1..x7 empty the tcache, last freed first (a7 .. a1).
#   x8: no 160-byte chunk is left anywhere; 2.36 sorts the 320-byte chunk from the unsorted
#   bin into its small bin, 2.41 finds it there, and both cut x8 from its start (a8's place);
#   the other 160 bytes (a9's place) go to the unsorted bin in both. x9: that exact fit.
# 2.43: 16 chunks a list, so all nine wait in the tcache; x1 gets a9 .. x8 gets a2, x9 a1.
answer = {"2.36": {"x8": ("a8", "unsorted"), "x9": ("a9", "unsorted")},
          "2.41": {"x8": ("a8", "smallbin"), "x9": ("a9", "unsorted")},
          "2.43": {"x8": ("a2", "tcache"), "x9": ("a1", "tcache")}}
### END SOLUTION

# %% tags=["check"]
hm.check_glibc_versions(answer)

# %% [markdown]
# ### When does freed memory go back to the kernel?
#
# After `free d` without tcache (above), everything but `a` had merged into the top
# chunk. **Predict:** the top chunk is now bigger than glibc's trim threshold
# (`M_TRIM_THRESHOLD`, 128 KiB to start with). Did that `free` give any memory back
# to the kernel?

# %%
top = replay_glibc(merge, tunables=NO_TCACHE).chunks[-1]
beyond = top.size - 128 * 1024       # its exact size depends on glibc's version (2.43: no tcache chunk here)
print(f"top chunk after free d ({top.state}):", "larger" if beyond > 0 else "not larger", "than 128 KiB;",
      "beyond a 128 KiB pad:", "less than one page" if beyond < os.sysconf("SC_PAGE_SIZE") else "at least one page")

# %% [markdown]
# The top chunk is larger than `M_TRIM_THRESHOLD`
# (128 KiB to start with, [`mallopt(3)`](https://man7.org/linux/man-pages/man3/mallopt.3.html)),
# and yet the heap was not shrunk. When `free` trims, it keeps `M_TOP_PAD` (128 KiB)
# and gives back only *whole pages* beyond it (`systrim` in malloc.c): what lies beyond
# the pad here is less than one page, so nothing went back.
#
# **Predict** for the program `native_examples/01_heap_managers/trim.c` (a fresh
# process): it allocates and touches 16,384 blocks of 1,000 bytes, plus one more
# block at the end of the heap (the *pin*). It frees the 16,384 blocks but keeps the
# pin, then calls `malloc_trim(0)`, then frees the pin. After each step: does the
# program break move, and does the resident memory (RSS, read from
# `/proc/self/status`) go down? The RSS column is the growth over the program's
# start, rounded to whole MiB.

# %%
# NBVAL_IGNORE_OUTPUT
trim = lab.build_program([lab.example_path("01_heap_managers", "trim.c")], cflags=("-O1",))
trimmed = lab.run_program([trim])
print(trimmed.stdout)

# %% [markdown]
# (RSS can differ a little between machines — transparent huge pages, for one — so
# that output is not compared when the course is tested; the conclusions are:)

# %%
import re

rows = [list(map(int, re.findall(r"[+]\s*(\d+) (?:KiB|MiB)", line)))
        for line in trimmed.stdout.splitlines()]
(brk_alloc, rss_alloc), (brk_freed, rss_freed), (brk_trim, rss_trim), (brk_pin, rss_pin) = \
    [row[:2] for row in rows]
top_after_pin = int(re.search(r"top chunk (\d+) B", trimmed.stdout).group(1))
print("free() in the middle moved the break:   ", brk_freed != brk_alloc)
print("free() in the middle lowered the RSS:   ", rss_freed < rss_alloc)
print("malloc_trim(0) returned most of the RSS:", rss_trim < rss_alloc / 4)
print("malloc_trim(0) moved the break by < 1 %:", brk_alloc - brk_trim < brk_alloc / 100)
print("freeing the pin kept a top chunk of M_TOP_PAD (128 KiB) plus less than a page:",
      131072 <= top_after_pin < 131072 + 4096 + 64)

# %% [markdown]
# - **Freed in the middle, nothing goes back.** 16 MiB are free, but they lie below
#   the pin, so they are not part of the top chunk (only about 104 KiB is) and
#   `free` has nothing to trim: break and RSS stay where they were.
# - **`malloc_trim(0)` goes further than `free`.** It returns every *whole free
#   page inside* the heap's free chunks with `madvise(MADV_DONTNEED)`
#   ([`malloc_trim(3)`](https://man7.org/linux/man-pages/man3/malloc_trim.3.html)):
#   the RSS drops back to where it started, while the break barely moves (only the
#   small top chunk is cut). The pages are still part of the heap's address range;
#   touching them again just maps fresh zero pages.
# - **Freed at the top, it goes back — all but the pad.** Freeing the pin merges
#   everything into the top chunk, and `free` shrinks the heap with `brk`, keeping
#   a top chunk of `M_TOP_PAD` plus less than a page.
#
# So memory free in a bin in the middle of the heap stays with the process (as far
# as RSS is concerned) until the program calls `malloc_trim`, or until everything
# above it is freed too: the first reason why a program's memory use rarely goes
# down after `free`. Memory parked in the **tcache** stays even through
# `malloc_trim`: `mtrim` walks only the arena's bins (after `malloc_consolidate`),
# never the tcache, and a tcache chunk still counts as in use, so it does not merge
# into its neighbours or the top chunk either
# ([malloc.c of glibc 2.36](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36#l5035),
# `mtrim`, and `__malloc_trim` just after it). `trim.c` frees blocks of 1,000 bytes,
# each 1,008-byte chunk inside the tcache's range, and yet most of them were
# returned: the tcache took only the first 7 (16 from glibc 2.43), and the rest went to the bins.
#
# A large request served by `mmap` is not in this heap at all, and `free` unmaps
# it at once:

# %%
big = replay_glibc("alloc small 100\nalloc big 300000\n")
print("chunks in the heap:", [(ch.owner, ch.size) for ch in big.chunks if ch.state == "used"])
page = os.sysconf("SC_PAGE_SIZE")     # the mapping: from glibc 2.43 the size field counts 16 bytes less
print("served by mmap:   ", [(name, -(-size // page) * page) for name, size in big.mmapped], "(mapping sizes)")

# %% [markdown]
# ## 4. mimalloc: pages of one size class each *(optional on a first pass)*
#
# [mimalloc](https://github.com/microsoft/mimalloc) (Leijen, Zorn and de Moura,
# *Mimalloc: Free List Sharding in Action*, APLAS 2019) takes another road. It
# rounds every request up to a **size class**, and each size class has its own
# **pages** (64 KiB here) that hold blocks of that one size only. There are no
# headers or footers on blocks: the page knows the block size.
#
# The probe `mi_probe.c` replays a trace in a private mimalloc heap (`mi_heap_new`)
# from the `cmeel-mimalloc` wheel, in a fresh process, and lists the heap's pages
# with `mi_heap_visit_blocks` (in address order; for each page, how many bytes
# mimalloc has carved into blocks so far, of the page's usable bytes), and the
# usable size of every block (`mi_usable_size`).
#
# **Predict:** how far apart are neighbouring size classes — a fixed number of
# bytes, or a fixed ratio? The cell asks for every size from 1 to 1,100 bytes:

# %%
usable = {}
for lo in range(1, 1101, 275):                       # four fresh processes of 275 requests
    chunk = parse_trace("".join(f"alloc r{n} {n}\n" for n in range(lo, min(lo + 275, 1101))))
    usable.update({int(k[1:]): v for k, v in replay_mimalloc(chunk).usable.items()})
classes = sorted(set(usable.values()))
print("size classes:", ", ".join(map(str, classes)))
gaps = [b / a - 1 for a, b in zip(classes, classes[1:]) if a >= 64]
print(f"from 64 bytes on, neighbours are {min(gaps):.1%} to {max(gaps):.1%} apart")
worst = max(range(65, 1101), key=lambda n: (usable[n] - n) / usable[n])
print(f"worst rounding above 64 bytes: {worst} -> {usable[worst]}, "
      f"{(usable[worst] - worst) / usable[worst]:.1%} of the block unused")

# %% [markdown]
# Up to 128 bytes the classes are 16 bytes apart (with an 8-byte class at the
# bottom); from there on there are **four classes per power of two** (128, 160, 192,
# 224, 256, 320, ...), so neighbours are 14 % to 25 % apart, and rounding up wastes
# at most about 20 % of a block above 64 bytes (`129` gets 160 bytes). Below that the
# fixed 16-byte steps waste more of a small block (the table below: `17` gets 32). That is internal
# fragmentation bought for speed: few classes, and blocks of one size per page.
#
# Free blocks are kept in *many* free lists — the paper's **free-list sharding**.
# First, there is not one free list per size class but **one per page**: a size
# class spread over twenty pages has twenty lists, and allocating or freeing touches
# only the list of the page at hand, which stays short and close in memory. Second,
# each page splits its list three ways: `free` (allocation pops from it), `local_free`
# (the owning thread's frees go here, and become the new `free` list when it runs
# out) and `thread_free` (frees from *other* threads, pushed with an atomic
# operation, so the owner needs no lock). To free a pointer, mimalloc must find its
# page: mimalloc 1 and 2 round the address down to the start of its segment;
# mimalloc 3 (the version here) looks the address up in a **page map**, a table with
# an entry per 64 KiB slice of the address space
# ([`src/page-map.c`](https://github.com/microsoft/mimalloc/blob/dev3/src/page-map.c)).
#
# Now glibc's chunk next to mimalloc's block for a few requests. **Predict:** for
# `malloc(9)` and `malloc(129)`, which of the two gives the bigger block?

# %%
requests = [0, 1, 9, 17, 24, 25, 40, 100, 129, 200, 1000, 4000]
sizes = parse_trace("".join(f"alloc r{i} {n}\n" for i, n in enumerate(requests)), "sizes")
g, m = replay_glibc(sizes), replay_mimalloc(sizes)
glibc_chunk = {ch.owner: ch.size for ch in g.chunks if ch.state == "used"}
print("request  glibc chunk (usable)  mimalloc block")
for op in sizes:
    print(f"{op.size:>7}  {glibc_chunk[op.id]:>11} ({glibc_chunk[op.id] - 8:>5})  {m.usable[op.id]:>14}")

# %% [markdown]
# mimalloc has an 8-byte class (glibc's minimum is a 32-byte chunk), but rounds
# larger requests to coarser classes (`129` → 160, `1000` → 1024), where glibc's
# chunks stay within 16 bytes of the request. Now the pages for the intro trace
# (`a` 24, `b` 0, `c` 100, `d` 40 bytes, then `c` and `b` freed and `e` 24
# allocated), and the three heaps side by side. **Predict:** how many mimalloc pages
# will the five blocks use?

# %%
mi = replay_mimalloc("intro")
print(mi.table())

# %%
intro_talloc = replay("intro").final.heap_blocks()
intro_glibc = replay_glibc("intro").picture(top=False)     # size fields drawn as in lesson 00
fig = Figure(figsize=(9, 7.5), layout="constrained")
axes = fig.subplots(3, 1)
lab.draw_heap([blk for blk in intro_talloc if blk.offset < 512], "teaching allocator (first fit): start of the arena",
              row_bytes=256, ax=axes[0])
lab.draw_heap(intro_glibc, "glibc: size fields (orange), the tcache chunk, then the chunks (top left out)",
              row_bytes=256, ax=axes[1])
# mimalloc: one row per page (its first 448 bytes, where the blocks in use are), so a row ends where a page does
ROW = 448
pages, first = sorted(mi.pages), 0
rows = []
for k, pg in enumerate(pages):
    rows += [lab.Block(k * ROW + blk.offset - first, blk.size, blk.state, blk.owner)
             for blk in mi.blocks if first <= blk.offset and blk.offset + blk.size <= first + min(ROW, pg.committed)]
    first += pg.committed
lab.draw_heap(rows, f"mimalloc: the first {ROW} bytes of each page, one page (one size class) a row",
              row_bytes=ROW, ax=axes[2])
axes[2].set_yticks([k + 0.5 for k in range(len(pages))])
axes[2].set_yticklabels([f"page {k + 1}: {pg.block_size} B" for k, pg in enumerate(pages)], fontsize=7)
axes[2].set_xlabel("byte within the page", fontsize=8)
fig

# %% [markdown]
# Reading the pictures: the teaching allocator and glibc put blocks of all sizes
# next to each other in one region, in the order they were asked for. mimalloc put
# `a` and `e` (24 bytes → class 32) in one page, `d` (40 → 48) in another, and kept a
# page for each class it has seen (`b` was class 8, `c` class 112, both freed now).
#
# **Why this is fast.** Allocation is "pop the head of this page's free list": no
# search, no splitting, no coalescing, no header to write. Freeing is "find the
# page (page map), push on its local list". Blocks of the same size sit together,
# so a loop over many small objects touches few cache lines and pages. Frees from
# other threads go to the page's separate `thread_free` list, so the owning thread
# needs no lock.
#
# **What it costs.** Every size class in use holds at least part of a page, and
# rounding to a class wastes the difference (internal fragmentation). A program
# that uses many sizes a few times each pays for many half-empty pages, as this
# tiny trace does. Section 5 measures it.
#
# ### Three managers, one trace
#
# One slider now drives three real replays of the same trace: the teaching allocator
# (section 2), glibc with its bins (section 3) and mimalloc with each page's lists. Each
# panel counts offsets from the start of its own heap (glibc: from the tcache's chunk;
# mimalloc: the committed part of each page, laid end to end in address order, so a
# block keeps its place).
#
# **Predict:** in the intro trace, `c` (100 bytes) and `b` are freed, then `e` asks for
# 24 bytes. Which manager gives `e` the place where `b` was, which gives it a neighbour
# of `a`, and which cuts it from fresh space?

# %%
# NBVAL_IGNORE_OUTPUT
# glibc's offsets include its tcache chunk, whose size and place depend on glibc's version
from labsupport.widgets.sidebyside import choices_text, compare_managers, manager_panels

print(choices_text(manager_panels("intro")))

# %%
compare_managers("intro")

# %% [markdown]
# - The teaching allocator (first fit, LIFO list) merged `b` with the free `c` behind it
#   when `b` was freed; that merged block is first on the list, so `e` is cut from its
#   front, at `b`'s old place, and the rest stays free.
# - glibc gives `e` `b`'s chunk too, but for another reason: `b` (a `malloc(0)`, a 32-byte
#   chunk) and `e` (24 bytes, also a 32-byte chunk) share one tcache list, and the tcache
#   answers exact sizes only. Had `e` asked for 40 bytes, glibc would have cut it from top.
# - mimalloc gives `e` a never-used block in the page of its size class (32 bytes), next to
#   `a`: `b` was in the 8-byte class's page, so it can never serve `e`, and freed blocks
#   wait on `local free` while the page's `free` list still has blocks.
#
# Step back through the panels to see the other choices: glibc's chunks sit one after the
# other in request order, mimalloc opened one page per size class, and the footprints in
# the last row differ more than tenfold for the same five blocks (mimalloc's cost for a
# tiny heap; section 5 measures larger ones).

# %% [markdown]
# ### A real program's trace
#
# Every trace so far was written by hand or by a random generator. What does a real
# program ask for? The course has a small **recorder**: a shared library
# (`native_examples/09_measuring_allocators/tracerec.c`, lesson 09 uses it too)
# that is loaded *before* glibc with `LD_PRELOAD`, so the program's `malloc`,
# `calloc`, `realloc` and `free` calls reach it first. It writes one line per call
# and passes the call on to glibc. `calloc` is written as an `alloc`; lesson 01's
# trace format has no `realloc`, so a `realloc` becomes *allocate the new block,
# free the old one* — what a `realloc` that moves the block does.
#
# What it records: only the process it starts (a program that program starts with
# `exec`, and a child made with `fork`, are not recorded); all threads, as one
# sequence (a lock around the bookkeeping); at most 200,000 calls unless told
# otherwise. The recorder's own tables are in `mmap`ed memory, so it never
# records itself. `memalign`, `posix_memalign` and `aligned_alloc` are not recorded
# (and the frees of their blocks are dropped).
#
# We record Python starting up and doing nothing: `python -I -S -c pass` (`-I -S`:
# Python ignores its `PYTHON*` environment variables and the user's folders and
# loads no installed packages, so the start-up is mostly the interpreter's own and
# much the same in every installation of one version).
#
# **Predict:** how many allocations does an interpreter make before it runs a
# program that does nothing: about 10, about 100, about 1,000, or about 100,000?
# And which request sizes will be the most common?

# %%
import sys

from labsupport.heap import recorder
from labsupport.widgets.sizeplot import plot_size_histogram, size_table

rec = recorder.record([sys.executable, "-I", "-S", "-c", "pass"], "python -I -S -c pass",
                      env={"LC_ALL": "C.UTF-8"})
allocs = rec.calls["alloc"] + rec.calls["realloc"]
# the option nearest on a log scale (Python versions differ: 918 to about 3,100 measured here)
print("allocations (malloc, calloc, realloc):",
      "about 10" if allocs < 32 else "about 100" if allocs < 316 else "about 1,000" if allocs < 10_000
      else "about 100,000")

# %%
# NBVAL_IGNORE_OUTPUT
# The exact counts depend on the Python version (and a little on the environment):
# not compared.
print(rec)
print(f"{len(rec):,} operations in lesson 01's format (each realloc became alloc + free)")
print("the first operations:", "; ".join(str(op) for op in rec.ops[:6]))

# %% [markdown]
# About a thousand allocations, and almost as many frees, before a line of your
# program runs (the exact counts are in the cell above; they depend on the Python
# version: 918 with Debian 12's Python 3.11, 2,176 with 3.13 and 3,108 with 3.12 on
# one machine) — and
# that is with Python's own small-object allocator (`pymalloc`) serving most
# objects of 512 bytes or less from arenas it gets with `mmap`, so those never
# reach `malloc` at all. Almost every block is freed again before the process
# ends.
#
# ### Which sizes?
#
# glibc rounds every request up to a **chunk size**: request + 8 bytes (the size
# field), rounded up to a multiple of 16, at least 32 (`request2size` in
# [malloc.c, glibc 2.36](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36)).
# Its fastest path is the **tcache**: per thread, one list per chunk size, for the
# 64 smallest sizes, 32 to 1,040 bytes (`TCACHE_MAX_BINS 64`; `tidx2usize(63)` =
# 1,032 bytes, the largest request it takes, tunable with `glibc.malloc.tcache_max`;
# at most 7 chunks per list by default (16 from glibc 2.43), `TCACHE_FILL_COUNT`, tunable with
# `glibc.malloc.tcache_count`; see the
# [tunables manual](https://www.gnu.org/software/libc/manual/html_node/Memory-Allocation-Tunables.html)).
# A `malloc` served from tcache takes no lock and searches nothing: it pops the
# head of one list.
#
# **Predict:** what share of this program's requests falls in the tcache range:
# under a quarter, about half, or more than three quarters?
#
# First check the rounding rule against glibc itself, then count. mimalloc's size
# classes are measured too (`mi_usable_size` of a fresh `mi_malloc(n)` in a child
# process), to be drawn as ticks on top of the histogram:

# %%
measured = recorder.glibc_chunk_sizes(2048)       # a fresh C program: malloc(0..2048), nothing freed
mi_classes = recorder.mimalloc_size_classes(1 << 18)
hist = recorder.size_histogram(rec)
share = hist.tcache_share
print("request + 8 rounded up to 16, at least 32, for requests 0..2048:",
      all(measured[n] == recorder.glibc_chunk_size(n) for n in range(2049)))
print("share of requests in tcache's range:",
      "more than three quarters" if share > 0.75 else "about half" if share > 0.4 else "under a half")
print("share of requests of at most 128 bytes:", "more than half" if hist.share_at_most(128) > 0.5 else "at most half")

# %%
# NBVAL_IGNORE_OUTPUT
# The figures vary a little with the Python version and environment: not compared.
print(size_table(hist, k=8))
print(f"requests of at most 128 bytes: {hist.share_at_most(128):.0%}; largest request: {hist.largest:,} B")
print("mimalloc's classes up to 1 KiB:", ", ".join(str(c) for c in mi_classes if c <= 1024))
plot_size_histogram(hist, mi_classes)

# %% [markdown]
# What the histogram shows (the exact shares are printed above; in the run that
# built this book, with Python 3.11, the three most common chunk sizes were the
# three smallest, 32, 48 and 64 bytes):
#
# - **Small requests dominate.** Most calls want a few dozen bytes: short strings,
#   small arrays of pointers, little C structs. A fast path for small sizes that
#   covers seven requests in eight pays off even if everything else stays slow.
# - **Sizes repeat.** The stems stand on a few chunk sizes, not spread over all of
#   them: a single small size can be a quarter of all requests, and a few larger
#   sizes come back dozens of times. A list *per size* (glibc's tcache and
#   fastbins, mimalloc's size classes) then almost always has a block of the right
#   size waiting, freed a moment ago by the same kind of object, and taking it needs
#   no search and no splitting.
# - **The tail is long but thin.** A few requests of tens or hundreds of KiB are
#   rare (a request above the 128 KiB `mmap` threshold gets its own `mmap`, as
#   shown earlier in this lesson; the largest request is printed above). Searching sorted bins
#   for those costs little in total.
# - **mimalloc's classes** (ticks on top, measured) are 16 bytes apart up to 128
#   and then four per power of two: the same idea as tcache (a list per size),
#   with coarser steps for bigger sizes and the free lists kept per page.
#
# Tcache covers *requests* up to 1,032 bytes, but it is a cache: each list holds at
# most 7 chunks (16 from glibc 2.43), so a program that frees 100 blocks of one size
# keeps 7 (16) in tcache and the rest go to a fastbin (up to glibc 2.42), or to the unsorted
# bin (up to 2.40) or a small bin (from 2.41).

# %% [markdown]
# ### Replaying a window of it
#
# A real trace is too long to step through, and it starts with a heap the
# teaching allocator has not seen. `recorder.window(trace, start, n)` cuts `n`
# operations out of it that replay on their own: frees of blocks allocated
# *before* the window are dropped (those blocks were never allocated here), blocks
# still live at its end stay allocated, and ids are renumbered 0, 1, 2, ...
# (The other choice, allocating the blocks live at `start` first, would need an
# arena as big as Python's whole heap at that moment, and would place them where
# the teaching allocator likes, not where glibc did.)
# `recorder.replay_window` replays it in the teaching allocator, in an arena (a
# power of two) big enough that nothing fails.
#
# **Predict:** the window below is 200 operations from the middle of start-up.
# Will the teaching allocator's free list stay short (at most 10 blocks) or grow
# longer? And how many of the window's allocations could a list per chunk size (what
# glibc's tcache is) serve from blocks freed earlier in the window: more than half?

# %%
start = len(rec) // 2
win = recorder.window(rec, start, 200)
r = recorder.replay_window(rec, start, 200)
print(f"{len(win)} operations from the middle of the recording")
longest = max(len(s.freelist) for s in r.states)
print("longest free list:", "at most 10 blocks" if longest <= 10 else "more than 10 blocks")
freed, reused, allocs = set(), 0, 0
for s in r.states[1:]:                       # first fit: which allocations got a place freed in the window?
    if s.op.kind == "free":
        freed.add(s.changed)
    else:
        allocs += 1
        reused += s.changed in freed
chunk, lists, served = {}, {}, 0             # a list per glibc chunk size, 7 deep (glibc 2.36's tcache)
for op in win.ops:
    if op.kind == "alloc":
        c = chunk[op.id] = recorder.glibc_chunk_size(op.size)
        if lists.get(c):
            lists[c].pop()
            served += 1
    elif len(lists.setdefault(chunk[op.id], [])) < 7:
        lists[chunk[op.id]].append(op.id)
print("allocations a list per chunk size serves from the window's own frees:",
      "more than half" if served > allocs / 2 else "at most half")
print("allocations first fit places where a block of the window was freed:",
      "more than half" if reused > allocs / 2 else "at most half")

# %%
# NBVAL_IGNORE_OUTPUT
# The window's contents depend on the recorded program's version: not compared.
print("first operations of the window:", "; ".join(str(op) for op in win.ops[:8]))
print(r)
print(f"of {allocs} allocations: {served} served by a list of their own chunk size, {reused} placed "
      f"by first fit where a block of the window was freed; free list at most {longest} blocks")

# %%
stepper = Stepper(win, arena_size=r.arena_size, editable=False)
stepper

# %% [markdown]
# Step through it (hover over a block for its offset, size and owner). The free
# list stays short (its longest is printed above) because most frees are followed
# soon by a request that fits the freed place. More than half of the window's
# allocations find a block of *their own chunk size* freed a moment before: that is the
# pattern tcache is built for, and glibc would not even search, it pops the list of that
# one size. First fit reuses freed places often too, but many of those are blocks
# of another size that it carves (the numbers above count both).
#
# The same window in the other two managers, on one slider (glibc's bins, mimalloc's
# pages):

# %%
compare_managers(win)

# %% [markdown]
# **Predict:** replay the same window with best fit. Will it examine more or fewer
# free-list entries than first fit? Will it leave more or fewer bytes in holes at
# the end?

# %%
first, best = r, recorder.replay_window(rec, start, 200, policy="best", arena_size=r.arena_size)
print("best fit examined", "more" if best.searched > first.searched else "not more",
      "free-list entries than first fit")

# %%
# NBVAL_IGNORE_OUTPUT
# The figures depend on the recorded window, so on the Python that was recorded: not compared.
print("best fit left", "fewer" if best.final.figures.holes < first.final.figures.holes else "not fewer",
      "bytes in holes at the end")
print(format_table([first.summary(), best.summary()]))

# %% [markdown]
# Best fit looks at every free block to find the tightest one, so it searches
# more (the table above has the counts). Whether it also leaves less in holes depends
# on the window: in the run that built this book (Python 3.11) it did; with Python
# 3.13's start-up (Debian 13) the same window came out the other way. One window
# proves as little as one trace did in section 5 (coming next). Real allocators
# avoid paying for the search by keeping *many* lists, one per size: the search
# for "the smallest free block that fits" becomes "the head of the list for this
# size".
#
# Why a *window*? The stepper's picture holds every block. On a random
# 10,000-operation trace (about 60 blocks at a time) a slider move took about
# 0.1 ms when this lesson was written (`benchmarks/bench_tracestep.py` measures it
# on your machine). The first 10,000 operations of Python importing six modules hold
# about 1,700 blocks at a time: keeping every step took some 250 MiB, so from 5,000
# operations on the stepper builds each step when it is shown (well under a second
# and about 10 MiB up front, then about half a millisecond a move). The browser gets
# every block once and then only what a move changed: about 1 KiB a move, where
# sending the whole picture again would be up to some 490 KiB of SVG. A few hundred
# operations show the patterns just as well. To record a program of your own:
#
# ```python
# t = recorder.record(["ls", "-R", "/usr/share/doc"])   # any program and its arguments
# recorder.size_histogram(t).tcache_share
# ```
#
# Sources: glibc 2.36 `malloc/malloc.c` (`request2size`, `TCACHE_MAX_BINS`,
# `tidx2usize`, `TCACHE_FILL_COUNT`,
# [source](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36));
# mimalloc's size classes: `mi_bin` in
# [`src/page-queue.c`](https://github.com/microsoft/mimalloc/blob/dev3/src/page-queue.c);
# `LD_PRELOAD`: [ld.so(8)](https://man7.org/linux/man-pages/man8/ld.so.8.html).

# %% [markdown]
# ## 5. Fragmentation, measured
#
# The same definitions for every allocator, and for every heap picture in the
# course (one function computes them, `labsupport.heap.model.fragmentation`; the
# stepper and the tables below call it). They are measured below the heap's
# high-water mark; the untouched space above it — glibc's top chunk, the rest of
# the teaching arena, unused pages — is room to grow into, not a hole:
#
# - **footprint**: bytes from the heap start to the end of the highest block in use
#   (for mimalloc: the carved part of its pages);
# - **utilisation** = bytes the program asked for and still holds / footprint;
# - **holes**: free bytes below the footprint; **largest hole**;
# - **external fragmentation** = 1 − largest hole / holes: 0 when the free memory is
#   one piece, close to 1 when it is crumbs.
#
# The tables also show each allocator's **fixed bookkeeping** inside the footprint
# and the peak footprint without it: glibc's tcache chunk (656 bytes in glibc 2.30 to
# 2.41, 768 from 2.42; with 2.36 and 2.41 it starts the heap and is there even when the
# tcache is switched off, with 2.43 the probe found none then), the teaching arena's
# 8-byte prologue; mimalloc keeps its page bookkeeping outside the carved bytes.
#
# The trace `fragment` keeps small objects alive between big buffers, frees the
# buffers, then asks for two medium blocks and two big ones again, in a 1 KiB arena.
#
# **Predict:** with first fit, do all four of the last allocations succeed? With best fit?

# %%
print(load_trace("fragment").text())

# %%
Stepper("fragment")

# %%
# NBVAL_IGNORE_OUTPUT
# glibc's rows depend on glibc's version (its tcache chunk, its bins): not compared in tests
print(hm.fragmentation_table("fragment"))

# %% [markdown]
# First fit (both list orders) carved the two medium blocks out of a big hole,
# so when the big buffers came back only one big hole was left: `alloc Y 256`
# **failed although 448 bytes were free** (272 in holes plus the 176-byte tail),
# because no single free block was big enough. That is external fragmentation.
# Best fit put the medium blocks in the medium holes and everything fitted.
# glibc and mimalloc never fail here: they would grow the heap, and glibc's
# per-size tcache happened to return exactly the right chunks. In the run stored
# here (glibc 2.36), glibc's peak footprint without its tcache chunk (the column
# `peak w/o meta B`) is 832 bytes, exactly the teaching allocator's best fit without
# its prologue.
#
# mimalloc's row has no external fragmentation, on purpose: its holes are the free
# slots in its pages, and every slot of a page has that page's one block size. The
# formula would say "close to 1" (many small pieces) for any mimalloc heap with a
# few free slots, although each slot fits exactly the requests of its class and no
# other. What means something there is the footprint and the utilisation: how many
# bytes the carved pages hold for how few live ones.
#
# One trace proves little. Here are 1,000 random operations (sizes 16 to 600
# bytes, at most 60 blocks alive), for every allocator, and the footprint after
# each step. **Predict:** which teaching policy needs the most memory here, and is
# glibc with its tcache tighter or looser than glibc without it?

# %%
# NBVAL_IGNORE_OUTPUT
# glibc's rows depend on glibc's version (its tcache chunk, its bins): not compared in tests
print(hm.fragmentation_table("random1000"))
mi_rand = replay_mimalloc("random1000")
carved = [pg[2] for pg in mi_rand.pages]
n_classes = len({pg.block_size for pg in mi_rand.pages})
print(f"\nmimalloc: {len(mi_rand.pages)} pages for {n_classes} size classes in use; "
      f"carved bytes per page: {min(carved):,} to {max(carved):,}")

# %%
rand = load_trace("random1000")
fig = Figure(figsize=(9, 4), layout="constrained")
ax = fig.add_subplot()
for p, o in [("first", "lifo"), ("first", "address"), ("next", "lifo"), ("best", "lifo")]:
    rp = replay(rand, p, o)
    ax.plot([s.figures.footprint for s in rp.states[1:]], label=f"teaching {p}/{o}", linewidth=1)
ax.plot(replay_glibc(rand).footprints, label="glibc", linewidth=1.5)
ax.plot(replay_glibc(rand, tunables=NO_TCACHE).footprints, label="glibc, no tcache", linewidth=1, linestyle="--")
ax.plot(replay_mimalloc(rand).footprints, label="mimalloc (carved page bytes)", linewidth=1.5)
ax.plot([live_bytes(rand, k) for k in range(1, len(rand) + 1)],
        label="live bytes requested", color="black", linewidth=1)
ax.set_xlabel("step")
ax.set_ylabel("bytes")
ax.set_title("footprint over the random1000 trace")
ax.legend(fontsize=7, ncol=2)
fig

# %% [markdown]
# What the numbers of the run stored here say (they come from the machine that ran
# the notebook, and they are deterministic: same trace, same allocator code, same
# result; glibc's rows change with glibc's version, which the platform note at the end
# of the notebook names: glibc 2.41, for one, puts freed small chunks straight into
# small bins, and 2.43 has no fastbins and 16 chunks a tcache list):
#
# - **Next fit** is the worst here by far: it keeps walking into fresh memory
#   instead of reusing the holes behind it. **Best fit** and **address-ordered
#   first fit** are the best of the teaching policies — which is what Wilson et al.
#   found over many real programs (see Further reading).
# - **glibc without tcache** is as tight as best fit (compare the columns without
#   the fixed bookkeeping): its small bins each hold one exact size and its large
#   bins are sorted by size, so it takes the smallest free chunk that fits — best
#   fit, in effect. **glibc with tcache** needs almost twice the footprint: the
#   tcache keeps up to 7 freed chunks per size (16 from glibc 2.43) unmerged, ready for reuse. It trades
#   memory for speed.
# - **mimalloc** has the largest footprint on this small trace: 17 size classes
#   are in use, and each has a page of which about 4 KiB or more has been carved
#   into blocks, for a few live blocks each. Its design pays off with many objects per
#   size class and with many threads; [lesson 09](09_measuring_allocators.ipynb) measures speed, and how
#   these figures compare with the benchmarks in the mimalloc paper.
#
# ### Exercise 4: a trace on which best fit loses
#
# Best fit never failed an allocation on the traces so far. Write a trace of **at
# most 12 operations** on which the teaching allocator with **best fit** fails an
# allocation and with **first fit** fails none (both with the LIFO free list, the
# default). A line `# arena: BYTES` (a multiple of 16) sets the arena size; without
# it the arena is 16 KiB, far too roomy. Remember the block sizes of section 2
# (request + 16, rounded up to 16, at least 32), that a block is split only when at
# least 32 bytes remain, and that the free list is searched from the block freed
# last. `Stepper(my_trace)` shows your trace step by step; the check replays it
# under both policies. A trace is a string, one operation a line, for example
# `"# arena: 256\nalloc a 24\nfree a\n"`.

# %% tags=["solution"]
my_trace = ...          # your trace, a string
### BEGIN SOLUTION
# Two holes, 96 B (freed last, so first on the list) and 64 B. A 32-byte block:
# first fit splits the 96 (leaving 64 + 64), best fit splits the 64 (leaving 96 + 32).
# Then two 64-byte blocks: first fit has two 64s; best fit puts the first in the 96,
# leaving 32 + 32, and the second fails.
my_trace = """\
# arena: 240
alloc A 80
alloc s1 16
alloc B 48
alloc s2 16
free B
free A
alloc r 16
alloc x 48
alloc y 48
"""
### END SOLUTION

# %% tags=["check"]
hm.check_first_beats_best(my_trace)

# %% [markdown]
# ### Exercise 5: make glibc hold twice what you use
#
# glibc never fails on these traces, but it can keep far more memory than the
# program holds. Write a trace of **at most 12 operations**, every request between
# 100 and 65,536 bytes (so neither rounding nor `mmap` does the work for you), on
# which glibc (default tunables) reaches a **footprint at least twice the peak live
# bytes**. The footprint here is what glibc holds below its top chunk (`mallinfo2`:
# `arena − keepcost`, what the stepper shows as `top`'s offset), without its own
# tcache chunk (656 bytes in glibc 2.30 to 2.41, 768 from 2.42); both are peaks over
# the whole trace. The check replays your trace in a fresh process; `GlibcStepper(my_trace)` shows why it does or does not work.

# %% tags=["solution"]
my_trace = ...          # your trace, a string
### BEGIN SOLUTION
# Each freed chunk waits in the tcache for a request of its exact size, and the
# next request is of another size, so it is cut from top: the footprint grows by
# every chunk while only one block is ever live (peak 1,000 bytes).
my_trace = """\
alloc a 1000
free a
alloc b 900
free b
alloc c 800
free c
alloc d 700
free d
"""
### END SOLUTION

# %% tags=["check"]
hm.check_footprint_trace(my_trace)

# %% [markdown]
# ## 6. Two threads *(optional on a first pass)*
#
# So far one thread did all the `malloc`s. Real programs have several, and an allocator
# with one lock would make them queue. glibc gives threads their own **arenas** (each
# with its own heap or heaps, its own bins and its own lock); mimalloc gives each thread its own **pages**.
# Both then have to answer the same question: what happens when thread A frees a block
# that thread B allocated?
#
# The probes here are small programs run as fresh processes
# (`native_examples/01_heap_managers/thread_probe.c` for glibc, `mi_probe.c xfree` for
# mimalloc); the two threads take turns at a barrier, so every run gives the same answer.
#
# ### A second thread's first `malloc`
#
# **Predict:** the main thread mallocs 24 bytes, then a second thread mallocs 24 bytes.
# Is thread 2's chunk in the same `[heap]` as the main thread's? What is its A bit
# (`NON_MAIN_ARENA`, the third flag bit of the size field, section 3)?

# %%
from labsupport.heap.mimalloc import mimalloc_steps
from labsupport.heap.threads import NO_TCACHE, arena_demo, mimalloc_cross_thread_free

# NBVAL_IGNORE_OUTPUT
# its first line names the glibc that ran it
two = arena_demo(24)
print(two.table(free=False))

# %% [markdown]
# Thread 2's chunk has the **A bit set** and lives in an **anonymous mapping**, not in
# `[heap]`: its first `malloc` made a new arena. In glibc 2.36, a thread's first `malloc`
# sets up its tcache, which asks for an arena (`arena_get2` in
# [arena.c](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/arena.c;hb=glibc-2.36#l924)):
# an arena left behind by a thread that exited, or else a new one (`_int_new_arena`),
# as long as there are fewer than 8 per core on a 64-bit machine
# (`NARENAS_FROM_NCORES`); after that, threads share arenas.
#
# The main arena (`main_arena`, a variable inside libc) grows the `[heap]` with `brk`.
# Every other arena lives in **heaps** that `new_heap` gets from `mmap`: it reserves
# `HEAP_MAX_SIZE` (`2 * DEFAULT_MMAP_THRESHOLD_MAX`, the 64 MiB measured above on
# this 64-bit machine) without access (`PROT_NONE`), starts on a multiple of that size,
# and makes only the part in use read-write (the 132 KiB above), growing it with
# `mprotect`. Because of that alignment, `free` finds the heap of any chunk by clearing the
# low bits of its address (`heap_for_ptr`), and the heap's first words (`heap_info`)
# point to the arena, whose `malloc_state` follows right behind them (the `+48` above).
# That is what the A bit is for: `arena_for_chunk` is "A clear: `main_arena`; A set:
# `heap_for_ptr(p)->ar_ptr`"
# ([arena.c lines 153-163](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/arena.c;hb=glibc-2.36#l153)).
#
# ### Freeing another thread's chunk
#
# **Predict:** now the main thread frees thread 2's chunk. Then the main thread calls
# `malloc(24)`, and after it thread 2 does. Which of the two gets that chunk back? And with
# the tcache turned off (`GLIBC_TUNABLES=glibc.malloc.tcache_count=0`, section 3)?

# %%
# NBVAL_IGNORE_OUTPUT
# it names the glibc that ran it, and which bin a chunk went to depends on the version
print(two.table(chunks=False))
print()
print(arena_demo(24, tunables=NO_TCACHE).table(chunks=False))

# %% [markdown]
# With the tcache, the chunk of thread 2's arena went into the **main thread's tcache**,
# and the main thread's next `malloc(24)` got it. Without the tcache it went back to
# **its own arena** (up to glibc 2.42 into a fastbin of arena 1; 2.43 has no fastbins),
# and thread 2 got it.
#
# The source says why
# ([malloc.c, glibc 2.36](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36)):
# `__libc_free` finds the chunk's arena (`ar_ptr = arena_for_chunk (p)`,
# [line 3384](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36#l3384)) and calls `_int_free (ar_ptr, p, 0)`. After its sanity checks,
# `_int_free` first tries the tcache ([line 4475](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36#l4475)):
# `if (tcache->counts[tc_idx] < mp_.tcache_count) { tcache_put (p, tc_idx); return; }`,
# and `tcache` is a `__thread` variable ([line 3139](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=glibc-2.36#l3139)): the tcache of the thread
# that calls `free`, whatever arena the chunk belongs to. Only when that tcache bin is
# full, the tcache is off, or the chunk is larger than the tcache takes (1,040 bytes)
# does `_int_free` go on with `ar_ptr`, the chunk's own arena: a fastbin (a lock-free push),
# or the arena's bins under its lock. So with the tcache, chunks **migrate** between
# threads: the main thread now uses a chunk whose A bit says "arena 1", and when it frees
# it later, the same rule applies again.

# %% [markdown]
# ### Exercise 6: who gets it back?
#
# The main thread first frees `own_freed` 24-byte chunks of its own, then thread 2's
# 24-byte chunk; then the main thread calls `malloc(24)`, and after it thread 2 does.
# Write `who_gets_it_back(tcache_on, own_freed)`: it returns `"main thread"` or
# `"thread 2"` (whose `malloc` gets thread 2's chunk), or `"neither"`. The check runs
# the real program (`arena_outcome`) for the book's cases and a few more, and compares,
# without showing the answers; your function runs where it cannot start that program
# itself. Think about how many chunks one tcache bin holds (section 3). That number
# changed in glibc 2.43 (from 7 to 16), so the cell below reads it for the glibc here
# as `per_list`; use that name.

# %%
# NBVAL_IGNORE_OUTPUT
# (7 up to glibc 2.42, 16 from 2.43: not compared)
from labsupport.heap.glibc import glibc_version, tcache_fill_count

per_list = tcache_fill_count()
print("glibc %d.%d: a tcache list holds at most" % glibc_version(), per_list, "chunks by default")

# %% tags=["solution"]
def who_gets_it_back(tcache_on, own_freed):
    ### BEGIN SOLUTION
    # free() tries the CALLING thread's tcache first; a tcache bin holds at most
    # mp_.tcache_count chunks (glibc.malloc.tcache_count: per_list, 7 by default up to
    # glibc 2.42, 16 from 2.43). When the main thread's bin is already full (or the
    # tcache is off), _int_free uses the chunk's own arena: a fastbin of arena 1 (from
    # 2.43, one of its bins), where thread 2's next malloc finds it. Otherwise the chunk
    # is on top of the main thread's tcache bin (LIFO): its next malloc takes it.
    return "main thread" if tcache_on and own_freed < per_list else "thread 2"
    ### END SOLUTION


# %% tags=["check"]
hm.check_who_gets_it_back(who_gets_it_back)

# %% [markdown]
# ### mimalloc: three free lists per page
#
# mimalloc does not put a freed block where the next `malloc` takes blocks from. Every
# page keeps **three** lists (`mi_page_t` in
# [types.h](https://github.com/microsoft/mimalloc/blob/v3.4.3/include/mimalloc/types.h#L382)):
# `free`, which `malloc` pops; `local_free`, for blocks the page's own thread frees;
# `xthread_free`, for blocks other threads free. `mimalloc_steps` replays a trace in a
# fresh process and reads these lists after every operation (the README's "free list
# multi-sharding": [readme.md](https://github.com/microsoft/mimalloc/blob/v3.4.3/readme.md)).
#
# **Predict:** one thread allocates `a`, `b`, `c` (64 bytes each), frees `a`, then `b`,
# then allocates `d`. With glibc's tcache, `d` would be `b` (last in, first out: section 3).
# Here?

# %%
small = "alloc a 64\nalloc b 64\nalloc c 64\nfree a\nfree b\nalloc d 64\n"
steps = mimalloc_steps(small)
print(f"lists read from mimalloc's pages: {steps.internals} {steps.why}")
for s in steps[1:]:
    lists = "; ".join(f"{b.name}: " + (", ".join(f"+{o}" for o in b.offsets[:3])
                                      + (f", ... ({len(b)} blocks)" if len(b) > 3 else "") or "empty")
                      for b in s.bins)
    print(f"{str(s.op):<11} block +{s.changed:<4} {lists}")

# %% [markdown]
# `d` is a block never used before: `a` and `b` went to the page's `local_free` list
# (newest first), and `malloc` keeps popping `free` until it is empty; only then does it
# move `local_free` over (`mi_free_block_local` in
# [src/free.c](https://github.com/microsoft/mimalloc/blob/v3.4.3/src/free.c#L28),
# `mi_page_free_quick_collect` at
# [src/page.c line 196](https://github.com/microsoft/mimalloc/blob/v3.4.3/src/page.c#L196) and
# `_mi_page_free_collect` in
# [src/page.c](https://github.com/microsoft/mimalloc/blob/v3.4.3/src/page.c#L206)).
# The fast path of `malloc` looks at one list and nothing else.
#
# ### mimalloc: a free from another thread
#
# **Predict:** thread 2 allocates `a` and `b` (48 bytes), frees `b` itself; then the main
# thread frees `a`. The page counts its blocks in use (`used`). Does `used` drop when `b`
# is freed? When `a` is freed?

# %%
print(mimalloc_cross_thread_free(48))

# %% [markdown]
# - Thread 2's own free of `b`: onto `local_free`, and `used` drops at once.
# - The main thread's free of `a`: onto the page's **thread-free list** with a
#   compare-and-swap loop (`mi_free_block_mt`,
#   [src/free.c](https://github.com/microsoft/mimalloc/blob/v3.4.3/src/free.c#L57)), no lock;
#   the main thread does not touch `used`, so the page still counts `a` as in use.
# - Thread 2's next `malloc` (`c`) takes a block from `free`, and `a` stays where it is:
#   the fast path does not look at the thread-free list.
# - When thread 2 **collects** (here `mi_collect(false)`; `malloc` does it too, but only
#   when a page has no blocks left on `free` *or* `local_free`: it first just moves
#   `local_free` over, or every so many calls), `_mi_page_free_collect` takes the whole thread-free list with an
#   atomic compare-and-swap, puts it in front of `local_free` and lowers `used`
#   ([src/page.c](https://github.com/microsoft/mimalloc/blob/v3.4.3/src/page.c#L142)).
#   Thread 2 gets `a` back only after the blocks on `free` are used up.
# - The main thread's own 48-byte blocks are on another page: pages belong to one thread.
#
# So the two allocators disagree: glibc lets the freeing thread keep the chunk (in its
# tcache), and sends it home only when the tcache bin is full, the tcache is off or the
# chunk is too big for it; mimalloc sends the block home, to its page's thread-free list
# (unless the owner thread has exited), and the owner takes it back when it collects.
#
# These are glibc 2.36 and mimalloc 3.4.3 on Linux. Other allocators (macOS's, Windows'
# heap) have their own schemes for threads, not measured here.

# %% [markdown]
# ## 7. Windows: the same split, other names *(optional on a first pass)*
#
# Windows has the same two layers, and the documentation names them:
#
# - **Pages from the kernel: `VirtualAlloc`.** It reserves address space and
#   commits pages; sizes are rounded up to whole pages, and reserved regions start
#   on a multiple of the *allocation granularity* (64 KiB on current Windows;
#   `GetSystemInfo` reports it as `dwAllocationGranularity`). That is `mmap`'s role.
#   [VirtualAlloc](https://learn.microsoft.com/en-us/windows/win32/api/memoryapi/nf-memoryapi-virtualalloc)
# - **Blocks from a heap: `HeapAlloc`.** Every process has a default heap
#   (`GetProcessHeap`) and can create more (`HeapCreate`). Blocks come back aligned to
#   `MEMORY_ALLOCATION_ALIGNMENT`: 8 bytes in 32-bit processes, 16 in 64-bit ones, the
#   same 16 as glibc. A growable heap hands requests too big for its blocks (close
#   to 512 KiB in 32-bit, 1,024 KiB in 64-bit processes) to `VirtualAlloc` — the
#   counterpart of glibc's mmap threshold.
#   [HeapAlloc](https://learn.microsoft.com/en-us/windows/win32/api/heapapi/nf-heapapi-heapalloc),
#   [HeapCreate](https://learn.microsoft.com/en-us/windows/win32/api/heapapi/nf-heapapi-heapcreate)
# - **Size classes there too.** Since Windows Vista the system uses the
#   *low-fragmentation heap* (LFH) as needed: it hands out blocks in predetermined
#   sizes (the smallest one that fits the request), the idea behind mimalloc's
#   size classes, and not for allocations above about 16 KiB. Its documentation
#   describes heap fragmentation as a *state*: available memory broken into small,
#   non-contiguous blocks, so that an allocation can fail although enough memory is
#   free in total. Section 5's external fragmentation is a number that measures how
#   far a heap is into that state; `alloc Y 256` failing there is the state itself.
#   [Low-fragmentation Heap](https://learn.microsoft.com/en-us/windows/win32/memory/low-fragmentation-heap),
#   [Comparing memory allocation methods](https://learn.microsoft.com/en-us/windows/win32/memory/comparing-memory-allocation-methods)
# - **`malloc` on Windows** is the C runtime's, and since Visual Studio 2012 the CRT
#   allocates from the process heap with `HeapAlloc`
#   ([Visual C++ change history](https://learn.microsoft.com/en-us/cpp/porting/visual-cpp-change-history-2003-2015)).
#   Lesson 04 shows what that does and does not mean for freeing across DLLs.
#
# (This section has no output on purpose: this machine runs Linux. Lessons 04 and 05
# run Windows programs under Wine, and say where Wine differs from Windows.)
#
# ## Summary
#
# - The kernel hands out **pages**; a heap manager carves them into blocks and keeps
#   track of the free ones. glibc grows its heap with `brk` in steps of about 132 KiB
#   and gives large blocks their own `mmap`ping.
# - A block carries bookkeeping: glibc puts an 8-byte size field with three flag
#   bits (P, M, A) below every pointer; a chunk is at least the request + 8 rounded
#   up to 16, and 32 at least, and everything after the size field up to the next
#   one is usable. A heap with a history may hand out 16 bytes more.
# - Boundary tags let `free` find both neighbours in constant time; an explicit free
#   list makes `malloc` search only free blocks; the placement policy decides how
#   fragmented the heap gets.
# - glibc's tcache reuses the last freed chunk of the same size first and does not
#   merge: fast, and it costs memory. Turn it off with `GLIBC_TUNABLES` and you see
#   P bits clear and chunks merge, into each other and into the top chunk.
# - Behind the tcache, glibc's arena keeps fastbins (small, unmerged), one unsorted
#   bin (where freed chunks wait, merged), small bins (one size each) and large bins
#   (size ranges, sorted); a large request first consolidates the fastbins. A freed
#   chunk is reused only for a request it fits, so a few live blocks can hold the
#   heap open at twice their size or more.
# - These lists are one version's. The same trace under glibc 2.36, 2.41 and 2.43 puts
#   the same freed chunk in the unsorted bin, in a small bin, or in the tcache (2.41
#   sends freed small chunks straight to their small bin; 2.42 has 76 tcache lists;
#   2.43 keeps 16 chunks a list and has no fastbins): what a heap picture shows, and
#   which bin serves a request, depends on the glibc that ran it.
# - `free` shrinks the heap only from the top, keeping 128 KiB of pad;
#   `malloc_trim(0)` also returns the whole pages of chunks free in a bin in the
#   middle, but not of chunks in the tcache (they count as in use).
# - mimalloc gives each size class its own pages of equal blocks, with free lists
#   per page: no search, no merging, and a page per size class to pay for. Rounding
#   to a class wastes up to about 20 % of a block for requests above 64 bytes, and
#   more for small ones (a 17-byte request gets a 32-byte block, 47 % unused).
# - Threads: glibc gives a second thread its own arena in an `mmap`ped heap (A bit
#   set), but `free` first offers a chunk to the *calling* thread's tcache, so chunks
#   migrate between threads while the tcache has room; mimalloc sends a block freed
#   by another thread back to its page's thread-free list, where the owner collects it.
#
# **Myths this lesson corrected**
#
# - *"malloc(n) uses n bytes."* It uses a chunk of at least n + 8 bytes rounded to 16,
#   never less than 32 (glibc, 64-bit); mimalloc rounds to a size class.
# - *"free gives memory back to the system."* Mostly it parks the block in the tcache
#   or a bin for reuse. `mmap`ped chunks go back at once; the top of the heap goes
#   back only in whole pages beyond a 128 KiB pad (section 3's top chunk stayed);
#   free memory in the middle of the heap goes back only when the program calls
#   `malloc_trim`, which returns the whole pages of chunks in a bin with `madvise`
#   (chunks in the tcache stay).
# - *"Everything of 128 KiB or more is mmapped."* Only when the top chunk cannot hold
#   it, and the threshold rises as mmapped chunks are freed.
# - *"Best fit always fragments least."* It did well on the random trace, and
#   still your 12-operation trace of exercise 4 makes it fail where first fit
#   succeeds: "best" is a local choice for one request, not a promise about the run.
#
# **Further reading (primary sources)**
#
# - glibc wiki, [MallocInternals](https://sourceware.org/glibc/wiki/MallocInternals):
#   chunks, arenas, bins, tcache.
# - `mallopt(3)` ([man7.org](https://man7.org/linux/man-pages/man3/mallopt.3.html)):
#   `M_MMAP_THRESHOLD` and its dynamic adjustment, `M_TOP_PAD`, `M_TRIM_THRESHOLD`;
#   glibc manual, [Memory Allocation Tunables](https://www.gnu.org/software/libc/manual/html_node/Memory-Allocation-Tunables.html);
#   [`malloc_trim(3)`](https://man7.org/linux/man-pages/man3/malloc_trim.3.html).
# - glibc source, [`malloc/malloc.c`](https://sourceware.org/git/?p=glibc.git;a=blob;f=malloc/malloc.c;hb=refs/heads/release/2.36/master)
#   (release 2.36): `struct malloc_state`, `request2size`, `tcache_put`, `_int_malloc`
#   (the order in which bins are searched), `malloc_consolidate`, `systrim`, `mtrim`.
# - glibc's commits that changed the bins since: [e2436d6f](https://sourceware.org/git/?p=glibc.git;a=commitdiff;h=e2436d6f5aa47ce8da80c2ba0f59dfb9ffde08f3)
#   (2.41, small chunks to their small bin), [cbfd798810](https://sourceware.org/git/?p=glibc.git;a=commit;h=cbfd7988107b27b9ff1d0b57fa2c8f13a932e508)
#   (2.42, tcache lists for large chunks), [bb5a4f5295](https://sourceware.org/git/?p=glibc.git;a=commit;h=bb5a4f5295ced26532939703867c35f2ce8c149b)
#   and [0b9210bd76](https://sourceware.org/git/?p=glibc.git;a=commit;h=0b9210bd760b5281f2e9f3e6640368ccb5f4a7ae)
#   (2.43, no fastbins, 16 chunks a tcache list); 2.42's `NEWS` (the large-chunk tcache).
#   glibc 2.44 (release tarball, `malloc/malloc.c`): the same structures as 2.43; `_int_malloc`
#   no longer stashes unsorted exact fits in the tcache.
# - The same drift seen by attackers: [shellphish/how2heap](https://github.com/shellphish/how2heap)
#   keeps one folder of heap techniques per glibc version (`glibc_2.36/`, `glibc_2.41/`, ...),
#   because a technique that works on one version's bins fails on the next.
# - D. Leijen, B. Zorn, L. de Moura, *Mimalloc: Free List Sharding in Action*,
#   APLAS 2019 (Microsoft Research technical report MSR-TR-2019-18),
#   [microsoft.com/research](https://www.microsoft.com/en-us/research/publication/mimalloc-free-list-sharding-in-action/);
#   mimalloc 3's page map: [`src/page-map.c`](https://github.com/microsoft/mimalloc/blob/dev3/src/page-map.c).
# - P. R. Wilson, M. S. Johnstone, M. Neely, D. Boles, *Dynamic Storage Allocation:
#   A Survey and Critical Review*, IWMM 1995: placement policies and fragmentation
#   measured on real programs.
# - D. E. Knuth, *The Art of Computer Programming*, vol. 1, section 2.5: boundary tags.
# - Microsoft Learn: [Heap functions](https://learn.microsoft.com/en-us/windows/win32/memory/heap-functions),
#   [HeapAlloc](https://learn.microsoft.com/en-us/windows/win32/api/heapapi/nf-heapapi-heapalloc),
#   [VirtualAlloc](https://learn.microsoft.com/en-us/windows/win32/api/memoryapi/nf-memoryapi-virtualalloc).
#
# **Next:** [lesson 02](02_alignment.ipynb), alignment — why those 16 bytes matter.
