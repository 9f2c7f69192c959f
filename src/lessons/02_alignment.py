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
# # 02 · Alignment, measured on this machine
#
# Every type in C has an *alignment*: the number its address must be a multiple
# of. The compiler pads structs to honour it, allocators promise it, some
# instructions demand it, and the processor charges for ignoring it, sometimes a
# little, sometimes a lot. This lesson reads all of that from the real compiler,
# the real allocators and the real processor in front of you.
#
# **You will learn to**
# - read a struct's layout (every `sizeof`, `offsetof`, `alignof`, every hole) from
#   the compiler, draw it, and check the picture against `pahole`;
# - shrink a struct by reordering its fields, and say what `__attribute__((packed))` costs;
# - say what `malloc`, `aligned_alloc`, `posix_memalign`, `memalign`, mimalloc's
#   `mi_malloc_aligned` and Windows' `_aligned_malloc` promise, and what glibc really
#   does with arguments the standard forbids;
# - measure what a misaligned access costs (inside a cache line, across a line,
#   across a page; loads, stores and dependent loads) and what a split atomic costs;
# - make a misaligned SIMD load fault for real, turn every misaligned access into a
#   SIGBUS with x86's alignment-check flag, catch a misaligned pointer with UBSan, and
#   read a packed wire format without undefined behaviour;
# - write `my_aligned_alloc` / `my_aligned_free` over `malloc` and have it checked.
#
# **Time:** about 90 minutes. **Builds on:** 00 (`%%cffi`, isolated runs), 01 (glibc's
# chunks and their 16-byte granularity).

# %% [markdown]
# ## Setup

# %%
import platform
import re
import statistics
import subprocess

import labsupport as lab
# %load_ext labsupport
from labsupport import winlab

SRC = lab.example_path("02_alignment")
print("pahole:", "found" if lab.have("pahole") else lab.missing("pahole"))

# %% [markdown]
# ## 1. Layout from the compiler
#
# A record with a one-byte tag, a `double`, a `short`, an `int` and a one-byte flag
# holds 1 + 8 + 2 + 4 + 1 = 16 bytes of data.
#
# **Predict:** what is `sizeof(struct rec)` on this machine? Where does `value` start?
#
# The cell below compiles the structs with gcc (through cffi, as in lesson 00). The
# numbers after it are the compiler's own: cffi asks the C compiler for `sizeof`,
# `offsetof` and `alignof` of everything the cell declares.

# %%
# %%cffi lay
#include <stddef.h>
#include <stdint.h>

struct rec {               /* as someone first wrote it */
    char   tag;
    double value;
    short  id;
    int    count;
    char   flag;
};

struct point { int x, y; };

struct shape {             /* a struct inside a struct, and an array */
    char         kind;
    struct point corner;
    double       scale;
    short        ids[3];
};

struct rec  one_rec;       /* used, so the debug info (-g) describes them for pahole */
struct shape one_shape;

# %%
ffi = lay.ffi
for name in ("struct rec", "struct shape"):
    T = ffi.typeof(name)
    print(f"{name}: sizeof {ffi.sizeof(T)}, alignof {ffi.alignof(T)}")
    for field, info in T.fields:
        print(f"    {field:7} offsetof {ffi.offsetof(T, field):2}   sizeof {ffi.sizeof(info.type):2}"
              f"   alignof {ffi.alignof(info.type)}   ({info.type.cname})")

# %% [markdown]
# 32 bytes for 16 bytes of data: half of `struct rec` is padding. The rule the
# compiler follows is fixed by the platform's ABI (for Linux on x86-64, the
# [System V psABI](https://gitlab.com/x86-psABIs/x86-64-ABI), §3.1.2 "Data
# Representation"):
#
# 1. each field starts at the next multiple of its own alignment (`char` 1, `short`
#    2, `int` 4, `double` 8);
# 2. the struct's alignment is the largest alignment among its fields;
# 3. the struct's size is rounded up to a multiple of that alignment.
#
# Here is the same struct drawn by `lab.struct_layout`, which reads the layout from
# the built module (the model: fields, holes, size, alignment) and draws it: one
# box per byte, hatched padding, a rule at every 8- and (darker) 16-byte boundary,
# and a red rule at every 64-byte cache line when the struct is that big. The text
# under it is the same picture in characters (`|` every 16 bytes, `:` at 8).

# %%
lab.struct_layout(lay, "struct rec")

# %% [markdown]
# ### Check the picture against pahole
#
# `pahole` (from the `dwarves` package) reads the *debug information* gcc wrote
# (`-g`, DWARF) into the very module the picture came from, `lay.path`, and prints
# each struct with its holes. Two independent readers of the same compiled object
# must agree; the cell asserts that they do.

# %%
if lab.have("pahole"):
    for name in ("struct rec", "struct shape"):
        print(lab.pahole_text(lay.path, name))
        ok, report = lab.compare_with_pahole(lab.struct_layout(lay, name), lay.path)
        print(report, "\n")
        assert ok, report
else:
    print(lab.missing("pahole"))

# %% [markdown]
# pahole counts the same holes (`XXX 7 bytes hole, try to pack`) and calls the
# space at the end *padding*. For `struct shape`, the nested `struct point` is one
# member of size 8 and alignment 4 (the largest inside it), and `ids[3]` is 6 bytes
# with the alignment of one `short`.
#
# The widget below lets you point at any struct of a cell and any field in it:

# %%
lab.StructLayoutView(lay, "struct shape")

# %% [markdown]
# ### Arrays of structs: why the size is a multiple of the alignment
#
# **Predict:** `struct rec` ends with its last byte of data at offset 24. Why not
# make `sizeof` 25 and save 7 bytes?
#
# Because of arrays. Element `i` of an array starts at `i * sizeof(element)`, with
# no gaps allowed between elements. If the size were 25, element 1 would start at
# 25, and its `value` at 33, which is not a multiple of 8.

# %%
arr = ffi.new("struct rec[4]")
base = int(ffi.cast("uintptr_t", arr))
for i in range(4):
    off = int(ffi.cast("uintptr_t", ffi.addressof(arr[i], "value"))) - base
    print(f"arr[{i}].value at offset {off:3} from arr: offset % 8 = {off % 8}")
print("sizeof(struct rec[4]) =", ffi.sizeof("struct rec[4]"), "= 4 *", ffi.sizeof("struct rec"))

# %% [markdown]
# The 7 bytes of tail padding are what keeps every element's `value` aligned.
#
# ### Exercise 1: predict the layout
#
# The cell below compiles four more structs. Without running anything else, fill in
# `my_prediction` with `sizeof` and the offset of each field (on this machine,
# x86-64 Linux: `char` 1, `short` 2, `int` 4, `double` 8, for both size and
# alignment). Type the numbers in: an answer that asks the compiler (`struct_layout`,
# `offsetof`, `quiz.ffi`) or a library that lays out C structs itself (`ctypes`, numpy's
# `dtype`), in its own cell, in an earlier one whose result it copies or in a later one
# that changes it, is not a prediction, and the check refuses the obvious routes (it
# reads the cells' code, names only, not your notes: a determined detour gets past it,
# and only fools you). The check compares every number with the compiler's and, when
# one is wrong, tells you which rule decides it.

# %%
# %%cffi quiz
struct q1 { char c; int i; char d; };
struct q2 { short s; char c; double d; char e; };
struct q3 { char name[5]; int n; short k; };
struct q4 { char a; struct q1 inner; char b; };

struct q1 use1; struct q2 use2; struct q3 use3; struct q4 use4;

# %% tags=["solution"]
my_prediction = {            # replace every ... by the number you predict
    "q1": {"sizeof": ..., "c": ..., "i": ..., "d": ...},
    "q2": {"sizeof": ..., "s": ..., "c": ..., "d": ..., "e": ...},
    "q3": {"sizeof": ..., "name": ..., "n": ..., "k": ...},
    "q4": {"sizeof": ..., "a": ..., "inner": ..., "b": ...},
}
### BEGIN SOLUTION
my_prediction = {
    "q1": {"sizeof": 12, "c": 0, "i": 4, "d": 8},
    "q2": {"sizeof": 24, "s": 0, "c": 2, "d": 8, "e": 16},
    "q3": {"sizeof": 16, "name": 0, "n": 8, "k": 12},
    "q4": {"sizeof": 20, "a": 0, "inner": 4, "b": 16},
}
### END SOLUTION

# %% tags=["check"]
from labsupport.lessons.alignment import check_layout_prediction

check_layout_prediction(my_prediction, quiz)

# %% [markdown]
# The compiler's answer, with every hole, now that you have made your prediction:

# %%
for n in ("q1", "q2", "q3", "q4"):
    print(lab.struct_layout(quiz, f"struct {n}").text(), "\n")

# %% [markdown]
# ### Reorder the fields
#
# **Predict:** same five fields as `struct rec`, sorted from the largest alignment
# to the smallest. What is the size now?

# %%
# %%cffi lay2
struct rec_sorted {        /* the same fields, largest alignment first */
    double value;
    int    count;
    short  id;
    char   tag;
    char   flag;
};

struct rec_packed {        /* the original order, no padding at all */
    char   tag;
    double value;
    short  id;
    int    count;
    char   flag;
} __attribute__((packed));

struct rec_sorted use_sorted;
struct rec_packed use_packed;

# %%
print(lab.struct_layout(lay2, "struct rec_sorted").text())

# %% [markdown]
# 16 bytes, no hole: the same data in half the memory, and two records per 32 bytes
# instead of one. Sorting by decreasing alignment never leaves a hole between
# fields (each field's alignment divides the offset the previous ones end at); it
# is a good default, not the only good order. `pahole --reorganize` proposes an
# order for you, computed from the same debug information:

# %%
if lab.have("pahole"):
    print(lab.pahole_text(lay.path, "struct rec", reorganize=True))
else:
    print(lab.missing("pahole"))

# %% [markdown]
# pahole's proposal is also 16 bytes (`saved 16 bytes!`), with another order.
# Reordering costs nothing at run time by itself, with two provisos: it changes the
# type (every program, file format or network peer that depends on the old order must
# change with it), and in a struct larger than a cache line it decides which fields
# share a line, so fields used together are best kept together.
#
# ### `__attribute__((packed))` and what it costs
#
# `struct rec_packed` keeps the original order and tells gcc to leave out all
# padding. (cffi's own parser does not understand the attribute; labsupport declares
# such a struct to cffi with its fields and "...;", which makes cffi take every offset
# from the compiler instead of computing it.)
#
# **Predict:** its size, its alignment, and the offset of `value`?

# %%
packed = lab.struct_layout(lay2, "struct rec_packed")
print(packed.text())
if lab.have("pahole"):
    ok, report = lab.compare_with_pahole(packed, lay2.path)
    print(report)
    assert ok, report
else:
    print(lab.missing("pahole"))

# %% [markdown]
# 16 bytes too, like the reordered struct, but at a price:
#
# - **alignment 1**: `value` sits at offset 1, so it is misaligned in every element
#   of an array, and a `double *` to it is a misaligned pointer (undefined behaviour
#   to dereference, section 4; gcc warns `-Waddress-of-packed-member` when you take
#   one);
# - every access to `value` is a misaligned 8-byte access. Where that costs
#   something (section 3) is exactly where it crosses a cache line. An array of these
#   16-byte records that starts at a multiple of 16 (where `malloc` puts it) never has
#   a `value` across a line. But a packed struct has alignment 1, so an array of them
#   may start anywhere: after a 9-byte header in a file, say. And with a 9-byte packed
#   `{char; double;}` no start is safe:

# %%
for size, start in ((16, 0), (16, 9), (9, 0), (9, 5)):
    crossing = sum(1 for i in range(64) if (start + i * size + 1) // 64 != (start + i * size + 1 + 7) // 64)
    print(f"elements of {size:2} bytes from byte {start} of a line, double at offset 1: "
          f"{crossing:2} of 64 elements have their double across a 64-byte line")

# %% [markdown]
# On targets where the hardware refuses misaligned loads, gcc reads packed fields
# byte by byte instead. Use `packed` for formats on the wire or on disk (section 5
# shows the better way to read those), not to save memory in ordinary structs:
# reordering saves the same bytes at no cost.
#
# ### Exercise 2: reorder to a target size
#
# `struct sensor` below holds 31 bytes of data. Reorder its fields so that it is as
# small as those fields can be without `packed`: the sum of the field sizes rounded
# up to the struct's alignment, **32 bytes** on this machine (the check computes the
# target from the compiler's own numbers). Keep every field, with the same name and
# type; change only the order: no `__attribute__((packed))`, no `aligned(N)`, no
# `#pragma pack` (the check requires the original alignment and every field at a
# multiple of its own). Only about one order in twenty reaches the target.

# %%
# %%cffi given
struct sensor {
    short  kind;
    double reading;
    char   id;
    int    count;
    char   flags;
    double calib;
    short  unit;
    int    samples;
    char   status;
};
struct sensor use_sensor;
unsigned long sensor_size(void) { return sizeof(struct sensor); }

# %%
print("sizeof(struct sensor) as given:", given.sensor_size())

# %% tags=["solution"]
# %%cffi mine
struct sensor {
    // ### BEGIN SOLUTION
    double reading;
    double calib;
    int    count;
    int    samples;
    short  kind;
    short  unit;
    char   id;
    char   flags;
    char   status;
    // ### END SOLUTION
};
struct sensor use_sensor;

# %% tags=["check"]
from labsupport.lessons.alignment import check_reordered

check_reordered(mine, given)

# %% [markdown]
# ## 2. What the allocators promise
#
# `malloc` does not know what you will store in the block. C11 §7.22.3 says the
# pointer is "suitably aligned so that it may be assigned to a pointer to any type of
# object with a fundamental alignment requirement"; the largest fundamental alignment
# is `alignof(max_align_t)`. C23 (§7.24.3) adds "and size less than or equal to the
# size requested": a small block need only be aligned for the types that fit in it.
#
# **Predict:** what is `alignof(max_align_t)` here, and which addresses can
# `malloc(1)` return?

# %%
# %%cffi promise
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

size_t max_align(void) { return alignof(max_align_t); }

/* The largest power of two (up to 4096) that divides every one of n malloc(size) results. */
size_t common_alignment(size_t size, int n) {
    uintptr_t all = 0;
    void *blocks[64];
    for (int i = 0; i < n && i < 64; i++) {
        blocks[i] = malloc(size);
        all |= (uintptr_t)blocks[i];
    }
    for (int i = 0; i < n && i < 64; i++) free(blocks[i]);
    size_t a = 1;
    while (a < 4096 && !(all & a)) a <<= 1;
    return a;
}

# %%
print("alignof(max_align_t) =", promise.max_align())
for size in (1, 8, 24, 100, 1000):
    print(f"malloc({size:4}) x 64: every address a multiple of {promise.common_alignment(size, 64)}")

# %% [markdown]
# `max_align_t` is 16 bytes on x86-64 (its `long double` needs 16), and glibc's
# `malloc` hands out 16-aligned blocks, even for `malloc(1)`. That is the same 16 as
# lesson 01's chunk granularity: chunks are multiples of 16 bytes and start on
# 16-byte boundaries, and the pointer `malloc` returns is 16 bytes past a chunk's
# start (the previous-size and size fields), so it is a multiple of 16 as well.
#
# For more than 16 (a 64-byte cache line, a 4 KiB page, an AVX-512 vector), there
# are dedicated functions, each with its own rules:
#
# | function | standard | alignment must be | size |
# |---|---|---|---|
# | `aligned_alloc(al, size)` | C11, amended by C17 | "a valid alignment supported by the implementation" | C11: a multiple of `al` (else undefined); C17: anything |
# | `posix_memalign(&p, al, size)` | POSIX | a power of two and a multiple of `sizeof(void *)`, else `EINVAL` | anything |
# | `memalign(al, size)` | obsolete (glibc, SunOS) | a power of two | anything |
#
# C11 made both a wrong alignment and a size that is not a multiple of it undefined
# behaviour. Defect report 460 turned both into errors (`aligned_alloc` *fails by
# returning a null pointer*), and paper N2072 then removed the size rule altogether;
# C17 has both corrections (the Linux man page aligned_alloc(3) tells the history).
#
# **Predict:** this machine's glibc gets `aligned_alloc(64, 100)` (size not a
# multiple) and `aligned_alloc(24, 48)` (24 is not a power of two). NULL, a pointer,
# or a crash?

# %%
# NBVAL_IGNORE_OUTPUT
# which calls fail depends on the glibc version (2.38 made aligned_alloc strict), so this
# output is not compared; the next cell checks what it must show on every version
from labsupport.heap.glibc import glibc_version    # (2, 36) on Debian 12

print("this machine: glibc %d.%d" % glibc_version())
rules = lab.build_program([SRC / "aligned_alloc_rules.c"])
r = lab.run_program([rules])
print(r.stdout if r.ok else r)

# %% [markdown]
# The first line names this machine's glibc. `aligned_alloc` changed in glibc 2.38
# (commit d1417176a3, "aligned_alloc: conform to C17", 2023): before it, glibc 2.36's
# `malloc/malloc.c` made `aligned_alloc` an alias of `memalign` (line 3581), which
# rounds an alignment up to the next power of two; from 2.38 on
# it returns NULL with `EINVAL` for an alignment that is not a power of two, 0
# included, which is what C17's wording asks for. The next cell reads the output
# above and checks it against the rule for the version printed there.

# %%
strict = glibc_version() >= (2, 38)
result = {ln.split("->")[0].strip(): ln.split("->")[1] for ln in r.stdout.splitlines() if "->" in ln}


def gave_block(call):
    return result[call].split()[0] == "ptr"


def rejected(call):
    return result[call].split()[:2] == ["NULL", "errno=EINVAL"]


def rounded_up(call):
    return gave_block(call) and "rounded up" in result[call]


odd = ["aligned_alloc(24, 48)", "aligned_alloc(48, 96)"]
print("aligned_alloc(64, 100): a block although 100 is not a multiple of 64:",
      gave_block("aligned_alloc(64, 100)"))
print("aligned_alloc(24, 48), (48, 96): what this glibc's version does "
      "(before 2.38 rounded up, from 2.38 NULL/EINVAL):",
      all(rejected(c) if strict else rounded_up(c) for c in odd))
print("aligned_alloc(0, 16): likewise (before 2.38 a block, from 2.38 NULL/EINVAL):",
      rejected("aligned_alloc(0, 16)") if strict else gave_block("aligned_alloc(0, 16)"))
print("aligned_alloc(1, 16): a block:", gave_block("aligned_alloc(1, 16)"))
print("posix_memalign with 4, 24, 0: EINVAL:",
      all(rejected(f"posix_memalign(&p, {a}, 100)") for a in (4, 24, 0)))
print("memalign(24, 100) rounded up, memalign(3, 100) a block at least 4-aligned:",
      rounded_up("memalign(24, 100)") and gave_block("memalign(3, 100)"))
print("every block aligned and big enough:",
      all(" no" not in v and "NO" not in v for v in result.values() if "ptr" in v))

# %% [markdown]
# What glibc does (the output that starts with `this machine:` is the real run here):
#
# - `aligned_alloc(64, 100)` returns a 64-aligned block on every version: the C11
#   size rule is not enforced, which is what C17 allows anyway.
# - `aligned_alloc(24, 48)` depends on the version. glibc before 2.38 (Debian 12 has
#   2.36) does **not** fail: it rounds the alignment up to 32, like `memalign`. Under
#   C17's wording an unsupported alignment must give NULL, and glibc 2.38 and later
#   (Debian 13 has 2.41) do that: NULL with `EINVAL`, for `aligned_alloc(0, 16)` too.
#   Code that relied on the old leniency breaks when the system is upgraded.
# - `aligned_alloc(1, 16)` gives an ordinary block, as `malloc(16)` would.
# - `posix_memalign` is the strict one on every version: 4 (smaller than
#   `sizeof(void *)`), 24 (not a power of two) and 0 all give `EINVAL`, as its return
#   value (`posix_memalign` returns the error number instead of setting `errno`).
# - `memalign(24, ...)` succeeds, rounded up to 32, and even `memalign(3, ...)`
#   succeeds: glibc hands any alignment up to 16 straight to `malloc` (2.36's
#   `_mid_memalign`, line 3530), whose blocks are 16-aligned anyway.
#
# Portable code asks for a power of two, at least `sizeof(void *)`, **with a size that
# is a multiple of the alignment**, and frees with `free`. glibc forgives the size;
# others do not: gnulib's manual records that Solaris 11.4's `aligned_alloc` returns
# NULL for such a size, Android's libc checks it since API level 29, Android 10
# (bionic's `docs/status.md`: "New libc behavior in Q (API level 29): `aligned_alloc`
# correctly verifies that `size` is a multiple of `alignment`"), and AddressSanitizer
# stops the program:

# %%
# NBVAL_IGNORE_OUTPUT
# the report names the sanitizer's own words and addresses; the next cell checks the gist
asan_rules = lab.build_program([SRC / "aligned_alloc_size.c"], cflags=("-fsanitize=address", "-g"))
r = lab.run_program([asan_rules])
print("exit code", r.returncode)
print("\n".join(re.sub(r"==\d+==", "", ln) for ln in r.stderr.splitlines() if "ERROR" in ln))

# %%
print("AddressSanitizer stopped aligned_alloc(64, 100), whose size is not a multiple of 64:",
      r.returncode != 0 and "aligned" in r.stderr and "ERROR: AddressSanitizer" in r.stderr)

# %% [markdown]
# The [glibc manual](https://sourceware.org/glibc/manual/latest/html_node/Aligned-Memory-Blocks.html)
# documents these functions as the *latest* glibc implements them (`EINVAL` for
# `aligned_alloc`); an older glibc does what its own version did, as above.
#
# ### Types that need more than `malloc` promises
#
# C11's `alignas` (`_Alignas`) can ask for more than `alignof(max_align_t)`: a
# counter on a cache line of its own (so that two threads' counters never share a line)
# wants 64. The compiler honours that for variables it places itself, but `malloc`
# does not know the type: its promise stops at 16 here. And `realloc` of a block from
# `aligned_alloc` is only promised to be "suitably aligned" like any `malloc` block:
# if it has to move the block, the 64 is lost. `overaligned.c` tries both, built with
# UBSan's alignment check; its `realloc` grows each block to 1 MiB, a size glibc serves
# from a mapping of its own, so the block has to move.
#
# **Predict:** of 64 `malloc(sizeof(struct line))` blocks, how many are 64-aligned?
# Of 20 `aligned_alloc(64, 64)` blocks that `realloc` moved?

# %%
# NBVAL_IGNORE_OUTPUT
# the counts depend on where glibc's heap puts each block; the next cell checks what must hold
over = lab.build_program([SRC / "overaligned.c"], cflags=("-O1", "-g", "-fsanitize=alignment"))
r_malloc, r_realloc = lab.run_program([over, "malloc"]), lab.run_program([over, "realloc"])
print(r_malloc.stdout + r_realloc.stdout)
print("\n".join(re.sub(r"0x[0-9a-f]+", "<address>", ln).replace(str(SRC) + "/", "")
                for ln in r_malloc.stderr.splitlines() if "runtime error" in ln))

# %%
misaligned = int(re.search(r"; (\d+) of 64", r_malloc.stdout).group(1))
still = int(re.search(r"(\d+) of 20", r_realloc.stdout).group(1))
print("some malloc'd blocks of the 64-aligned struct are not 64-aligned:", misaligned > 0)
print("UBSan reported the write through one of them:", "requires 64 byte alignment" in r_malloc.stderr)
print("some aligned_alloc blocks lost their 64-byte alignment in realloc:", still < 20)

# %% [markdown]
# Most `malloc`'d blocks were not 64-aligned, and writing through one was undefined
# behaviour that UBSan caught ("requires 64 byte alignment"): for an over-aligned type
# use `aligned_alloc(alignof(T), size)` (C++17's `new` does this for you). And after
# `realloc`, an `aligned_alloc` block is an ordinary 16-aligned block (here each one
# landed 16 bytes past the start of its new mapping's page): to grow one,
# allocate a new aligned block, copy, and free the old one (Windows has
# `_aligned_realloc` for exactly this).
#
# ### mimalloc: `mi_malloc_aligned`
#
# mimalloc has its own aligned API; its blocks are freed with `mi_free`. The cell
# links the wheel's `libmimalloc.so` (`--mimalloc dynamic`).
#
# **Predict:** does mimalloc round an odd alignment up like glibc, or refuse it?

# %%
# %%cffi mi --mimalloc dynamic
#include <mimalloc.h>
#include <stdint.h>

/* 1 if aligned, 0 if misaligned, -1 if NULL; the block is freed again */
int mi_aligned_ok(long size, long alignment) {
    void *p = mi_malloc_aligned((size_t)size, (size_t)alignment);
    if (!p) return -1;
    int ok = (uintptr_t)p % (uintptr_t)alignment == 0;
    mi_free(p);
    return ok;
}

/* The largest power of two (up to 4096) that divides every one of n mi_malloc(size) results. */
size_t mi_common_alignment(size_t size, int n) {
    uintptr_t all = 0;
    void *blocks[64];
    for (int i = 0; i < n && i < 64; i++) {
        blocks[i] = mi_malloc(size);
        all |= (uintptr_t)blocks[i];
    }
    for (int i = 0; i < n && i < 64; i++) mi_free(blocks[i]);
    size_t a = 1;
    while (a < 4096 && !(all & a)) a <<= 1;
    return a;
}

size_t mi_usable(long size, long alignment) {
    void *p = mi_malloc_aligned((size_t)size, (size_t)alignment);
    size_t n = p ? mi_usable_size(p) : 0;
    mi_free(p);
    return n;
}

# %%
print("mimalloc", lab.mimalloc().version)
for size, al in ((100, 16), (100, 64), (1, 4096), (100, 1 << 16), (48, 24)):
    res = lab.run_c(mi, "mi_aligned_ok", size, al)     # isolated: an assertion could abort
    verdict = {1: "aligned", 0: "NOT aligned", -1: "NULL"}.get(res.value, res.status())
    print(f"mi_malloc_aligned({size}, {al}): {verdict}")

# %% [markdown]
# This mimalloc (its version printed above) returned NULL for alignment 24 (not a
# power of two) where glibc's `memalign` rounded up: the behaviour C17 asks of
# `aligned_alloc`. A 64 KiB alignment was served too.
#
# Plain `mi_malloc` keeps a promise of its own, the C23 one. **Predict:** how aligned
# are 64 blocks of `mi_malloc(8)`? Of `mi_malloc(24)`?

# %%
for size in (1, 8, 16, 24, 100):
    print(f"mi_malloc({size:3}) x 64: every address a multiple of {mi.mi_common_alignment(size, 64)}")

# %% [markdown]
# Blocks of 8 bytes or less come 8-aligned only: nothing of 8 bytes needs more, which
# C23 allows. Lesson 05 makes mimalloc the whole process's `malloc`; code that keeps
# flags in the low 4 bits of small `malloc` pointers, or that puts a 16-byte type in an
# 8-byte block, then breaks.
#
# ### Windows: `_aligned_malloc` needs `_aligned_free`
#
# The Microsoft C runtime has no `aligned_alloc`. Its `_aligned_malloc(size,
# alignment)` returns a block that **must** be freed with `_aligned_free`;
# [Microsoft's documentation](https://learn.microsoft.com/en-us/cpp/c-runtime-library/reference/aligned-malloc)
# says so in as many words (it also says that an alignment that is not a power of two
# calls the invalid-parameter handler, which ends the program by default, where glibc
# would return NULL or round up), because the returned pointer is not the start of the
# heap block (the CRT allocates more and steps forward, much like the exercise
# below). `native_examples/02_alignment/win_aligned.c` is a real Windows program;
# MinGW-w64 builds it (it links `msvcrt.dll`) and Wine runs it.
#
# **Predict:** what does a plain `free()` on an `_aligned_malloc` block do?

# %%
def wine(exe, *args, **kw):
    """run_wine, again if the output came back empty: now and then (about 1 run in 25
    here) Wine loses a short console program's output although the program ran."""
    for _ in range(3):
        r = winlab.run_wine(exe, *args, timeout=60, **kw)
        if r.stdout.strip():
            break
    return r


WIN = winlab.ready()
if WIN:
    out = winlab.workdir("02")
    exe = winlab.build([SRC / "win_aligned.c"], out / "win_aligned.exe", compiler="mingw")
    print("C runtime:", winlab.c_runtime(exe))
    print("--- _aligned_free (right):")
    print(wine(exe))
    print("--- free (wrong):")
    print(wine(exe, "free"))

# %%
if WIN:
    wrong = wine(exe, "free", debug="warn+heap")
    warn = [ln for ln in wrong.stderr.splitlines() if "heap" in ln]
    print("Wine's heap warnings:", [re.sub(r"[0-9A-F]{8,16}", "X", ln.split(":", 1)[1]) for ln in warn])

# %% [markdown]
# Under Wine (measured with Wine 8.0 and 10.0) the wrong `free` returns as if nothing
# happened: Wine's heap sees a pointer that is not the start of one of its blocks,
# prints a warning only when asked (`WINEDEBUG=warn+heap`: "invalid block type"), and
# ignores it; the block leaks.
# **Wine is not Windows.** On Windows, freeing a pointer that is not the start of a
# heap block is heap corruption. Microsoft's page says to use `_aligned_free` and not
# `free`, "which doesn't reclaim the aligned memory correctly and can lead to
# hard-to-diagnose bugs"; what exactly happens depends on the CRT and heap in use.
# Never rely on the silence you saw here.
#
# ### Exercise 3: `my_aligned_alloc` over `malloc`
#
# Write `my_aligned_alloc(size, alignment)` (alignment: a power of two, 8 or more)
# using only `malloc`, and `my_aligned_free(p)` that gives the memory back with
# `free` (and does nothing for NULL). The classic way: ask `malloc` for more than
# `size`, step forward to the next multiple of `alignment`, and remember where the
# real block started so that `my_aligned_free` can hand *that* pointer to `free`.
#
# The check first reads which functions your module calls (`nm -D --undefined-only`):
# `malloc` and `free`, and no other aligned allocator (nor `dlsym` to find one, nor
# `mmap` or `sbrk` under any of their names, nor any of mimalloc's `mi_` functions: a
# cell built with `--mimalloc` is refused). Then it builds
# `native_examples/02_alignment/aligned_check.c` against your cell and runs each case,
# alignments from 8 to 2 MiB (a huge page's), in an isolated child into which
# `aligned_forbid.c` is preloaded: while your functions run, glibc's aligned allocators
# (`aligned_alloc`, `memalign`, `posix_memalign`, `valloc`, `pvalloc` and their
# `__libc_` aliases) end the child. It asks for two blocks, checks their alignment, writes every
# byte of both, frees them, then allocates and frees up to 200,000 more while watching
# that glibc's heap stays flat (a leak makes it grow; the child also has a 512 MB
# memory limit). Freeing the wrong pointer is caught by glibc itself (`free(): invalid
# pointer`, SIGABRT). A few bytes written past the block are not: glibc rounds every
# block up to its 16-byte granularity, and the slack hides them. So the last cases run
# again under AddressSanitizer, whose blocks end exactly where you asked, and which
# marks freed memory: a block that never went back to `free` is caught there too.

# %% tags=["solution"]
# %%cffi myalloc
#include <stdint.h>
#include <stdlib.h>

// ### BEGIN SOLUTION
void *my_aligned_alloc(size_t size, size_t alignment) {
    /* room for the payload, for stepping forward, and for the real block's address */
    void *raw = malloc(size + alignment - 1 + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t start = (uintptr_t)raw + sizeof(void *);
    uintptr_t aligned = (start + alignment - 1) & ~(uintptr_t)(alignment - 1);
    ((void **)aligned)[-1] = raw;             /* just below the block we return */
    return (void *)aligned;
}

void my_aligned_free(void *p) {
    if (p) free(((void **)p)[-1]);
}
// ### END SOLUTION

# %% tags=["check"]
from labsupport.lessons.alignment import check_my_aligned

check_my_aligned(myalloc)

# %% [markdown]
# This is, in spirit, what `_aligned_malloc` does on Windows, and why its blocks need
# their own free. glibc's `aligned_alloc` does better: it carves the aligned chunk
# out of a larger one and gives the leftover pieces back to the heap, so plain
# `free` works.
#
# ## 3. The cost of misalignment, measured
#
# A misaligned access is one whose address is not a multiple of its size. For an
# 8-byte load or store there are three kinds, depending on what it straddles:
#
# - nothing: misaligned but inside one 64-byte cache line (bytes 4..11 of a line);
# - a cache line boundary (bytes 60..67): the access touches two lines;
# - a page boundary (the last 4 bytes of one 4 KiB page and the first 4 of the
#   next): two lines *and* two address translations.
#
# Two costs can differ: **throughput** (how many independent accesses per second the
# processor sustains) and **latency** (how long one access takes when the next one
# needs its result, as in walking a linked list).
#
# **Predict:** which of the three misaligned places costs more than an aligned access,
# for loads, for stores, and for a chain of dependent loads? Is any of them more than
# 10 times the aligned cost?
#
# `misalign_cost.c` times `movq` instructions written in inline assembly (so the
# compiler cannot change them), eight per loop iteration so that the loop's own cost
# is spread thin: eight independent loads, eight stores, or eight loads that each load
# the address the next one reads (a pointer chase: latency). It measures every place
# in each of nine rounds, rotating which place goes first, and keeps each place's
# fastest round (a round that another program interrupted is slower, never faster).
# The cell runs it in three separate processes and shows, for each place, the ratio
# to the aligned access of the same kind: the median of the three and their range.
# Where a place's times overlap the aligned ones it prints `~ aligned`:
# indistinguishable here. Only ratios mean anything: the absolute times depend on the
# clock speed and on whatever else this machine is running. These cells need an
# x86-64 processor running them itself: under an emulator (Docker's
# `--platform linux/amd64` on an arm64 Mac) they would time the emulator.

# %%
# NBVAL_IGNORE_OUTPUT
# the processor, and whether a hypervisor runs under it: what these timings depend on
from labsupport import capability
from labsupport.lessons.alignment import cost_table, split_lock_table

X86 = capability.check("x86-64-native")
print("this processor:", X86.detail if X86.ok else f"{X86.detail}: {X86.fix}")

# %%
cost = lab.build_program([SRC / "misalign_cost.c"], cflags=("-O2",))


def measure_access():
    r = lab.run_program([cost, "access"], timeout=60)
    assert r.ok, r
    t = {}
    for line in r.stdout.splitlines():
        where, kind, ns = line.split()
        t[where, kind] = float(ns)
    return t


# %%
# NBVAL_IGNORE_OUTPUT
runs = [measure_access() for _ in range(3)] if X86.ok else []      # three processes
print(cost_table(runs) if runs else "skipped: " + X86.detail)

# %%
# NBVAL_IGNORE_OUTPUT
import matplotlib.pyplot as plt

if runs:
    places = ["aligned", "inside_line", "across_line", "across_page"]
    kinds = ["load", "store", "latency"]
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for j, kind in enumerate(kinds):
        ratios = [[run[p, kind] / run["aligned", kind] for run in runs] for p in places]
        mid = [statistics.median(r) for r in ratios]
        err = [[m - min(r) for m, r in zip(mid, ratios)], [max(r) - m for m, r in zip(mid, ratios)]]
        ax.bar([x + (j - 1) * 0.27 for x in range(len(places))], mid, width=0.27, yerr=err, capsize=3, label=kind)
    ax.set_xticks(range(len(places)), [p.replace("_", " ") for p in places])
    ax.set_yscale("log")
    ax.set_ylabel("time / aligned (log)")
    ax.axhline(1, color="grey", lw=0.8)
    ax.set_title("8-byte accesses on this machine (median and range of 3 processes)")
    ax.legend()
    plt.show()

# %% [markdown]
# Your figures are above. As one example, in several rebuilds of this lesson on an AMD
# EPYC under KVM (a cloud virtual machine) it printed: inside a line, no difference at
# all (`~ aligned` for all three); across a line, loads about 2x, stores 3x to 4x and
# dependent loads 1.25x to 1.35x; across a page, loads about 2x, dependent loads 1.25x
# to 1.35x, and **stores about 68x to 330x**, varying from run to run (the stored output
# above is one of those runs). Another processor gives other factors, and
# not only smaller or larger ones: Intel's *Optimization Reference Manual* (its
# Skylake section) puts the penalty of a load split across pages at about 5 cycles,
# down from about 100 in the generation before, so on an older Intel processor the
# page-split *loads* are expensive too. What the manuals document is that accesses which
# split across lines and pages cost more; how much, for loads, stores and latency,
# is what the cell above measures on yours.
#
# So the honest summary is neither "misaligned is slow" nor "misaligned is free":
# misaligned **inside a line** costs nothing measurable on the machines measured;
# **splits** cost, by a factor that depends on the processor, and page-split stores
# can cost a lot. Natural alignment guarantees that no split ever happens (an aligned
# 8-byte object never crosses a 64-byte line).
#
# ## 4. Faults
#
# ### A SIMD aligned load
#
# SSE's `_mm_load_ps` promises the compiler a 16-byte aligned address; its
# instruction, `movaps`, faults on anything else (`_mm_loadu_ps` / `movups` is the
# unaligned twin). `simd_load.c` loads four floats at `data + offset`:

# %%
print((SRC / "simd_load.c").read_text())

# %% [markdown]
# **Predict:** built at `-O0`, `sum4_at(0)` and `sum4_at(4)`: which one works? And
# at `-O2`?

# %%
def outcome(r):
    """A returned value, or the signal: the explanation follows in the text (isolate's
    generic SIGSEGV text speaks of memory one may not touch; this one is not that)."""
    return f"returned {r.value}" if r.ok else f"killed by {r.signal or r.status()}"


if X86.ok:
    simd_O0 = lab.build_c_file(SRC / "simd_load.c", cflags=("-O0",))
    simd_O2 = lab.build_c_file(SRC / "simd_load.c", cflags=("-O2",))
    for label, mod in (("-O0", simd_O0), ("-O2", simd_O2)):
        for off in (0, 4):
            r = lab.run_c(mod, "sum4_at", off)              # isolated: it may fault
            print(f"{label} sum4_at({off}): " + outcome(r))
else:
    print("skipped:", X86.detail)

# %% [markdown]
# At `-O0` the misaligned call dies with SIGSEGV. This SIGSEGV is not a bad address:
# `movaps` on an address that is not a multiple of 16 raises a **general-protection
# fault** (#GP), which Linux delivers as SIGSEGV with `si_code` `SI_KERNEL` and no
# fault address (`si_addr` 0; `gp_user_force_sig_segv` in `arch/x86/kernel/traps.c`
# calls `force_sig(SIGSEGV)`, which fills in `SI_KERNEL`), where a touch of unmapped
# memory is a page fault: `SEGV_MAPERR` and the address. `fault_kind.c` catches both
# with a `SA_SIGINFO` handler and prints what the signal carried:

# %%
if X86.ok:
    print(lab.run_program([lab.build_program([SRC / "fault_kind.c"], cflags=("-O1",))]).stdout)
else:
    print("skipped:", X86.detail)

# %% [markdown]
# A handler (or a crash report) that prints `si_addr` 0 for a misaligned `movaps` is
# not saying the program read address 0. At `-O2` the same source "works". The
# instructions gcc chose tell why:

# %%
# NBVAL_IGNORE_OUTPUT
# this gcc's code (gcc 12, 14 and 16 chose the same here); the cell after it states the point
X86_GCC = platform.machine() in ("x86_64", "AMD64")     # the listing is x86-64 assembly


def instructions(path, opt, function, pattern):
    asm = subprocess.run(["gcc", opt, "-S", "-o", "-", str(path)], capture_output=True, text=True,
                         check=True).stdout
    body = asm.split(f"\n{function}:\n", 1)[1].split("\n\t.size", 1)[0]
    return [ln.strip() for ln in body.splitlines() if re.search(pattern, ln)]


sum4 = {}
for opt in ("-O0", "-O2") if X86_GCC else ():
    sum4[opt] = instructions(SRC / "simd_load.c", opt, "sum4_at", r"\b(mov\w*ps|movss|addss)\b")
    print(opt, "sum4_at:", sum4[opt])
if not X86_GCC:
    print("skipped: this gcc does not emit x86-64 code")

# %%
def loads_from_pointer(lines, op):
    """The `op` instructions that load from a register's address (not from the stack frame)."""
    return [ln for ln in lines if re.match(rf"{op}\s+\(%r(?!bp|sp)\w+\)", ln)]


if X86_GCC:
    print("-O0: the vector is loaded from the pointer with movaps:", bool(loads_from_pointer(sum4["-O0"], "movaps")))
    print("-O2: no movaps load from the pointer, a movss instead:",
          not loads_from_pointer(sum4["-O2"], "movaps") and bool(loads_from_pointer(sum4["-O2"], "movss")))

# %% [markdown]
# At `-O0`, `_mm_load_ps` became `movaps (%rax), %xmm0`, a load from the computed
# address: it faults (the other `movaps` move the vector to and from the stack, which
# gcc keeps 16-aligned). At
# `-O2`, gcc saw that only the sum of the four floats is used and replaced the
# vector load by four scalar loads (`movss`, `addss`), which have no alignment rule.
# The bug is still there, the optimiser just hid it: the next edit, flag or compiler
# version may bring `movaps` back. To demonstrate (or to rely on) a specific
# instruction, pin it. `sum4_movaps_at` issues `movaps` through inline assembly, so
# it faults at any optimisation level:

# %%
if X86.ok:
    for off in (0, 4):
        r = lab.run_c(simd_O2, "sum4_movaps_at", off)
        print(f"-O2 sum4_movaps_at({off}): " + outcome(r))
else:
    print("skipped:", X86.detail)

# %% [markdown]
# ### x86 can refuse every misaligned access
#
# "x86 doesn't care about alignment" is a default, not a property of the processor.
# Its flags register has an **alignment check** bit (AC, bit 18 of EFLAGS); with it
# set, and the kernel's CR0.AM bit set (Linux sets it), *any* misaligned data access
# in user mode raises an alignment-check exception (#AC), which Linux delivers as
# **SIGBUS**. A program can set the bit itself with `pushf`/`popf`.
# `alignment_check.c` reads an 8-byte value at byte 1 of a buffer, with the bit off,
# then on.
#
# **Predict:** what happens on the second read?

# %%
if X86.ok:
    ac = lab.build_program([SRC / "alignment_check.c"], cflags=("-O1",))
    for mode in ("off", "on"):
        r = lab.run_program([ac, mode])
        print(f"AC {mode}: {r.stdout.strip()} (exit code {r.returncode})")
else:
    print("skipped:", X86.detail)

# %% [markdown]
# With AC set the same `movq` that worked a line earlier raises SIGBUS with `si_code`
# `BUS_ADRALN` ("invalid address alignment"); the program's handler reported it and
# exited, without a handler the program would die. Nobody runs ordinary programs this way
# (glibc's own string functions read misaligned words on purpose), but it is how one
# finds misaligned accesses on x86 without a sanitizer, and it is what the processor
# does on targets where alignment checking is always on.

# %% [markdown]
# ### A misaligned atomic: split locks
#
# A `lock`-prefixed instruction (an atomic add, compare-and-swap...) on an operand
# that straddles two cache lines cannot be done by locking one line: the processor
# falls back to locking the memory bus for every core, a *split lock*. Recent
# processors can report it: Intel's *split lock detection* raises an alignment-check
# exception (**#AC**) before the instruction executes, and *bus lock detection* (some
# AMD processors have it too) raises a debug trap (**#DB**) after it. Linux uses
# whichever the processor has (`split_lock_detect=warn|fatal|ratelimit:N|off` on the
# kernel command line; [the kernel's documentation](https://docs.kernel.org/arch/x86/buslock.html)).
# In `warn` mode, the default where the feature exists, the two differ. With #AC
# (Intel's split lock detection) Linux logs a task's first offence, and with
# `/proc/sys/kernel/split_lock_mitigate` = 1 makes the offender **sleep 10 ms**
# ("misery factor #1"). With #DB (bus lock detection) `warn` only logs, every bus lock
# (rate-limited), with no sleep; only `ratelimit:N` slows the task there, to N bus
# locks a second (it sleeps 20 ms at a time until it may go on). In `fatal` mode the
# program gets **SIGBUS** either way.
# The code is `split_lock_warn()` and `handle_bus_lock()` in Linux 6.1's
# `arch/x86/kernel/cpu/intel.c` (lines 1232-1272 and 1324-1343; newer kernels moved
# them to `arch/x86/kernel/cpu/bus_lock.c`). A hypervisor's kernel applies the same
# treatment to a guest's split locks (`handle_guest_split_lock()`, line 1274), while
# Linux *inside* a guest never turns the detection on (`split_lock_setup()` returns at
# once when the CPU flag `hypervisor` is set, line 1379).
#
# **Predict:** an aligned `lock add` takes a few nanoseconds. How much longer does
# a split one take: 2x, 10x, 1000x? Does the time *per operation* depend on how many
# the program does?

# %%
# NBVAL_IGNORE_OUTPUT
# timings; on a host that traps split locks, a sleep per trap divided among the operations
locks = {}
if X86.ok:
    for n in (20, 200, 2000):
        r = lab.run_program([cost, "splitlock", str(n)], timeout=120)   # isolated: it may be slowed or killed
        if not r.ok:
            print(f"{n} split locks: {r.status()}")
            continue
        locks[n] = {" ".join(ln.split()[:2]): float(ln.split()[2]) for ln in r.stdout.splitlines()}
    print(split_lock_table(locks))
else:
    print("skipped:", X86.detail)

# %%
# NBVAL_IGNORE_OUTPUT
def read(path):
    try:
        return open(path).read().strip()
    except OSError as exc:
        return f"(not readable: {exc.strerror})"


cpu_flags = set(re.search(r"^flags\s*:(.*)$", read("/proc/cpuinfo"), re.M).group(1).split()) \
    if "flags" in read("/proc/cpuinfo") else set()
print("CPU flags: split_lock_detect", "yes" if "split_lock_detect" in cpu_flags else "no",
      "| bus_lock_detect", "yes" if "bus_lock_detect" in cpu_flags else "no",
      "| hypervisor (a virtual machine)", "yes" if "hypervisor" in cpu_flags else "no")
print("split_lock_detect on the kernel command line:",
      re.findall(r"split_lock_detect=\S+", read("/proc/cmdline")) or "not set (the kernel's default applies)")
print("/proc/sys/kernel/split_lock_mitigate:", read("/proc/sys/kernel/split_lock_mitigate"))
d = subprocess.run(["dmesg"], capture_output=True, text=True)
if d.returncode == 0:
    hits = [ln for ln in d.stdout.splitlines() if "split lock" in ln.lower() or "bus lock" in ln.lower()
            or "split_lock" in ln or "bus_lock" in ln]
    print("dmesg lines about split or bus locks:", len(hits))
    for ln in hits[-3:]:
        print("   ", re.sub(r"\[\d+\]|/\d+ ", "[pid] ", ln))
else:
    print("dmesg: not readable here:", (d.stderr.strip() or "permission denied"))

# %% [markdown]
# How to read your figures:
#
# - **The same order of magnitude at 20, 200 and 2,000** (on this lesson's AMD EPYC
#   virtual machine, about 1 to 3 microseconds each, roughly 500 to 1,700 times an
#   aligned `lock add`, in the builds so far; the longest run was sometimes 2 to 3 times
#   slower per operation than the shorter ones): that is the split lock itself, the whole
#   machine's memory traffic held up for each one. Nothing trapped it.
# - **A time per operation that falls as the count grows** (say 500 microseconds at 20,
#   50 at 200, 5 at 2,000): that is not the lock. It is the host kernel's 10 ms sleep
#   on a trapped split lock, after which it lets the task run unchecked for a moment,
#   divided by however many operations fitted in. A version of this lesson measured
#   "60 to 170 microseconds per operation" at n = 200 inside a virtual machine on an
#   Intel host, close to 10 ms / 200 = 50 microseconds: the hypervisor's trap, not the
#   bus lock.
# - **SIGBUS**: the kernel runs in `fatal` mode.
#
# Inside a virtual machine, "no split_lock_detect flag" and an empty `dmesg` say
# nothing about the host: the guest kernel never enables detection, by design. The
# conclusion holds either way: an atomic variable must be naturally aligned. C's
# `_Atomic` and `alignas` give it its alignment in an ordinary struct, but not inside
# a `packed` one: gcc 12 accepts an `_Atomic long` at offset 1 of a packed struct
# without a warning, even with `-Wall`. A packed struct is no place for an atomic.
#
# ### Undefined behaviour, even where x86 does not mind
#
# In C, converting a pointer to a type whose alignment it does not meet is already
# undefined behaviour (C11 §6.3.2.3p7), whatever the processor would do. x86
# executes a misaligned `mov` without complaint, so such bugs hide until the compiler
# picks an instruction that cares (the `movaps` above) or the code runs on a
# stricter target. UBSan's `-fsanitize=alignment` checks every access at run time.
#
# **Predict:** `misaligned_ub.c` reads an `int` at byte 1 of a buffer twice, once
# with `memcpy` and once through a cast `int *`. What does UBSan report?

# %%
print((SRC / "misaligned_ub.c").read_text())
ub = lab.build_program([SRC / "misaligned_ub.c"], cflags=("-fsanitize=alignment", "-g"))
r = lab.run_program([ub])
print("stdout:", r.stdout)
report = re.sub(r"0x[0-9a-f]+", "<address>", r.stderr).replace(str(SRC) + "/", "")
print("UBSan says:")
print("\n".join(report.splitlines()[:2]))      # then a dump of the bytes around it (not shown)

# %% [markdown]
# The program printed the same number twice, so on x86 the cast "worked"; UBSan
# still names the file, line and column of the cast read, and the alignment the type
# needs (the address is replaced by `<address>` here; UBSan goes on with a dump of
# the bytes around it, left out above). By default UBSan reports and goes on; `-fno-sanitize-recover=alignment`
# makes it stop the program instead, which is what you want in tests.
#
# ## 5. Network and file formats: reading a packed record
#
# A wire format is bytes with no padding: here a 2-byte type, a 4-byte length and
# an 8-byte timestamp at byte 6. Two common ways to read the timestamp from a
# received buffer:

# %%
print((SRC / "wire_read.c").read_text())

# %% [markdown]
# **Predict:** at `-O2`, is the `memcpy` version slower (a function call, a copy)?

# %%
# NBVAL_IGNORE_OUTPUT
# this gcc's code (gcc 12, 14 and 16 chose the same for both stamp functions here)
wire = {fn: instructions(SRC / "wire_read.c", "-O2", fn, r"^\s+[a-z]") if X86_GCC else []
        for fn in ("stamp_by_cast", "stamp_by_memcpy", "decode")}
for fn, lines in wire.items():
    print(f"{fn}:", lines if X86_GCC else "skipped: this gcc does not emit x86-64 code")

# %%
if X86_GCC:
    print("the cast and the memcpy compile to the same instructions:",
          wire["stamp_by_cast"] == wire["stamp_by_memcpy"])
    print("and that is one 8-byte load plus ret:",
          len(wire["stamp_by_memcpy"]) == 2 and wire["stamp_by_memcpy"][0].startswith("movq"))

# %% [markdown]
# gcc emits exactly the same single `movq 6(%rdi), %rax` for both: `memcpy` of a
# known small size is not a call, it is the load itself. The difference is that the
# `memcpy` version is correct C for any buffer address, while the cast is undefined
# behaviour twice over: the pointer is misaligned (UBSan would flag it as above), and
# it reads bytes of an `unsigned char` buffer as a `uint64_t`, which breaks the
# *strict aliasing* rule (C11 §6.5p7: an object may be read only through its own
# type, a compatible one, or a character type). UBSan's alignment check cannot see the
# second problem; the optimiser may still use it, for instance to keep an old value in
# a register across a write through another type. The cast happens to work on x86-64
# today; on stricter targets, with vector instructions that demand alignment, or after
# the next optimisation, it breaks. (The Linux kernel's idiom for the same job is
# `get_unaligned()`, a `memcpy` in disguise.) To
# get a record into a normal struct, `memcpy` each field into an ordinary, aligned
# struct (`decode` above: three loads, three stores) and work on that; do not
# overlay a `packed` struct pointer on the buffer. (Byte order is a separate
# question: this format is little-endian like x86; a big-endian one also needs
# `be64toh` and friends.)
#
# ## Summary
#
# - The compiler places each field at a multiple of its alignment, aligns the
#   struct like its most aligned field, and rounds its size up to a multiple of that,
#   so arrays stay aligned. `lab.struct_layout` and `pahole` read the same numbers
#   from the built object; reordering fields (largest alignment first, or
#   `pahole --reorganize`) removes holes at no run-time cost.
# - `__attribute__((packed))` removes padding by making fields misaligned: alignment
#   1, line splits in arrays, misaligned pointers.
# - glibc's `malloc` returns `alignof(max_align_t)` = 16-aligned blocks here;
#   mimalloc's blocks of 8 bytes or less are 8-aligned (C23 allows it). For more:
#   `posix_memalign` (strict, `EINVAL`), `aligned_alloc` (glibc before 2.38 accepts
#   what C17 says must fail; 2.38 and later refuse it; portable code also keeps the
#   size a multiple of the alignment), `mi_malloc_aligned` with `mi_free`, and on
#   Windows `_aligned_malloc` with `_aligned_free` only.
# - Misaligned inside a cache line: no measurable cost on the machines measured.
#   Across a line or a page: a cost that depends on the processor and on the kind of
#   access (measure it: here page-split stores were by far the worst). Split atomics:
#   hundreds of times an aligned one, and a kernel or hypervisor may trap them and put
#   the program to sleep.
# - Alignment faults are real on x86 (`movaps`; every access with the AC flag set),
#   and a misaligned pointer is undefined behaviour everywhere: read unaligned data
#   with `memcpy`, which costs nothing.
#
# **Myths corrected**
# - *"Misaligned access is always slow."* Not inside a cache line: indistinguishable
#   from aligned where this lesson was measured. The cost is in splits across lines
#   and pages, and it depends on the processor.
# - *"x86 doesn't care about alignment."* Its aligned SIMD loads fault (SIGSEGV
#   above), its alignment-check flag makes every misaligned access a SIGBUS, split
#   locks are slowed or trapped, page splits can cost a hundred times an aligned
#   access, and the C compiler is allowed to assume alignment even when the processor
#   would not mind.
# - *"malloc's blocks are always 16-aligned."* glibc's are on x86-64; mimalloc's small
#   ones are not, and C23 does not ask them to be.
#
# ## Further reading
#
# - System V Application Binary Interface, AMD64 Architecture Processor Supplement
#   (the x86-64 psABI), §3.1.2 Data Representation: sizes and alignments of every
#   type, struct layout rules. https://gitlab.com/x86-psABIs/x86-64-ABI
# - Intel® 64 and IA-32 Architectures Optimization Reference Manual: data alignment,
#   split loads and stores across cache lines and pages.
#   https://www.intel.com/content/www/us/en/developer/articles/technical/intel-sdm.html
# - ISO C11 (N1570): §6.2.8 Alignment of objects, §6.5.3.4 `_Alignof`, §7.19
#   `max_align_t`, §7.22.3.1 `aligned_alloc`; C17 (N2176) for the wording after
#   defect report 460. https://www.open-std.org/jtc1/sc22/wg14/www/docs/n1570.pdf ·
#   https://www.open-std.org/jtc1/sc22/wg14/www/docs/summary.htm#dr_460
# - The GNU C Library manual, "Allocating Aligned Memory Blocks".
#   https://sourceware.org/glibc/manual/latest/html_node/Aligned-Memory-Blocks.html
# - Linux kernel documentation, "Bus lock detection and handling" (split locks,
#   `split_lock_detect=`). https://docs.kernel.org/arch/x86/buslock.html
# - Linux kernel source: `arch/x86/kernel/cpu/intel.c` in 6.1 (`split_lock_warn`,
#   `handle_guest_split_lock`, `split_lock_setup`), `arch/x86/kernel/cpu/bus_lock.c` in
#   newer kernels; and the documentation "Unaligned Memory Accesses"
#   (https://docs.kernel.org/core-api/unaligned-memory-access.html), with
#   `get_unaligned()`.
# - The Linux man page aligned_alloc(3) (the C11, DR 460 and N2072 history), and
#   gnulib's portability notes on `aligned_alloc`.
#   https://man7.org/linux/man-pages/man3/aligned_alloc.3.html ·
#   https://www.gnu.org/software/gnulib/manual/html_node/aligned_005falloc.html
# - Microsoft, `_aligned_malloc` and `_aligned_free`.
#   https://learn.microsoft.com/en-us/cpp/c-runtime-library/reference/aligned-malloc
# - Arnaldo Carvalho de Melo, "The 7 dwarves: debugging information beyond gdb"
#   (pahole's design), Ottawa Linux Symposium 2007.
#
# **Next:** [lesson 03](03_virtual_memory.ipynb), *Virtual memory and mapped files*.
