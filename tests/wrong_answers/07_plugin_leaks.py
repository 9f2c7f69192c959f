"""Seeded wrong answers for lesson 07 (tests/test_wrong_answers.py runs them).

WRONG[n]: for the n-th cell tagged `solution`, whole replacements of that cell, each with its
kind and a fragment of the hint the check must print for it.
"""

# Exercise 2's cell around the learner's encode_batch: the given declarations and tail.
HEAD = """%%cffi batch -l miniheif -L {LIBDIR} -I {INC} --ldflags "-Wl,-rpath,{LIBDIR}"
#include <stdint.h>
#include <stdlib.h>
#include "miniheif.h"

extern void leakcount_arm(long fail_at) __attribute__((weak));   /* the counting allocator */
extern long leakcount_disarm(void) __attribute__((weak));

#define CAPACITY 200

"""

TAIL = """long encode_batch_failing(const char *plugin, int n, long fail_at, long *allocations)
{
    if (!leakcount_arm)
        return -100;               /* not under the counting allocator */
    leakcount_arm(fail_at);
    long result = encode_batch(plugin, n);
    *allocations = leakcount_disarm();
    return result;
}
"""


def c_cell(body: str, includes: str = "") -> str:
    """An exercise-2 cell: the given declarations (plus includes), encode_batch, the given tail."""
    return HEAD.replace("#include <stdlib.h>\n", "#include <stdlib.h>\n" + includes) + body + "\n" + TAIL


# cleans up on the encode error, forgets the allocation-failure paths
FORGETS_CLOSE = """long encode_batch(const char *plugin, int n)
{
    struct mh_context *ctx;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK)
        return -e.code;
    uint8_t *out = malloc(CAPACITY);
    uint8_t *pixels = malloc(64);
    if (!out || !pixels)
        return -MH_ERR_NOMEM;
    long total = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK) {
            free(pixels);
            free(out);
            mh_close(ctx);
            return -e.code;
        }
        total += (long)size;
    }
    free(pixels);
    free(out);
    mh_close(ctx);
    return total;
}
"""

# leaks nothing, but reports the bytes encoded so far instead of the error (the review's
# loophole: the old check never looked at the result)
PARTIAL_TOTAL = """long encode_batch(const char *plugin, int n)
{
    struct mh_context *ctx = NULL;
    uint8_t *out = NULL, *pixels = NULL;
    long total = 0;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK)
        goto done;
    out = malloc(CAPACITY);
    pixels = malloc(64);
    if (!out || !pixels)
        goto done;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK)
            break;                       /* stop, but report what was encoded so far */
        total += (long)size;
    }
done:
    free(pixels);
    free(out);
    mh_close(ctx);
    return total;
}
"""

# switches the check's fault injection off, so nothing ever fails
DISARMS = """long encode_batch(const char *plugin, int n)
{
    if (leakcount_disarm)
        leakcount_disarm();              /* no failures, no leaks */
    struct mh_context *ctx;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK)
        return -e.code;
    uint8_t *out = malloc(CAPACITY);
    uint8_t *pixels = malloc(64);
    if (!out || !pixels)
        return -MH_ERR_NOMEM;
    long total = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK)
            return -e.code;
        total += (long)size;
    }
    free(pixels);
    free(out);
    mh_close(ctx);
    return total;
}
"""

# keeps a strdup'ed copy that leaks on every error path: libc.so made that block, and the old
# counter charged it to libc and missed it (the review's second loophole)
STRDUP_LEAK = """long encode_batch(const char *plugin, int n)
{
    struct mh_context *ctx = NULL;
    uint8_t *out = NULL, *pixels = NULL;
    char *name = strdup(plugin);         /* kept for an error message */
    long result = 0;
    if (!name)
        return -MH_ERR_NOMEM;
    struct mh_error e = mh_open(name, &ctx);
    if (e.code != MH_OK) {
        result = -e.code;
        goto done;
    }
    out = malloc(CAPACITY);
    pixels = malloc(64);
    if (!out || !pixels) {
        result = -MH_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK) {
            result = -e.code;
            goto done;                   /* name is still needed by the caller's log... */
        }
        result += (long)size;
    }
    free(name);
done:
    free(pixels);
    free(out);
    mh_close(ctx);
    return result;
}
"""

# the totals the notebook printed, as a formula; the encoder never runs (review 06-07, 1a)
HARD_CODED = """long encode_batch(const char *plugin, int n)
{
    struct mh_context *ctx = NULL;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK)
        return -e.code;
    mh_close(ctx);
    return 170L * n;                     /* the book printed n=1: 170, n=3: 510 */
}
"""

# the given leaking code, re-arming the fault injection so that nothing fails (review 06-07, 1b)
REARMS = """long encode_batch(const char *plugin, int n)
{
    if (leakcount_arm)
        leakcount_arm(0);                /* restart counting, with no failure planned */
    struct mh_context *ctx;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK)
        return -e.code;
    uint8_t *out = malloc(CAPACITY);
    uint8_t *pixels = malloc(64);
    if (!out || !pixels)
        return -MH_ERR_NOMEM;
    long total = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK)
            return -e.code;
        total += (long)size;
    }
    free(pixels);
    free(out);
    mh_close(ctx);
    return total;
}
"""

# the reference with cache-line aligned pixels from aligned_alloc, never freed: leaks on every
# call, and the old counting allocator did not see aligned blocks (review 06-07, 1c)
ALIGNED_LEAK = """long encode_batch(const char *plugin, int n)
{
    struct mh_context *ctx = NULL;
    uint8_t *out = NULL, *pixels = NULL;
    long result = 0;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK) {
        result = -e.code;
        goto done;
    }
    out = malloc(CAPACITY);
    pixels = aligned_alloc(64, 64);   /* cache-line aligned pixels */
    if (!out || !pixels) {
        result = -MH_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK) {
            result = -e.code;
            goto done;
        }
        result += (long)size;
    }
done:
    free(out);
    mh_close(ctx);
    return result;
}
"""

# the reference with a positive error code
POSITIVE = """long encode_batch(const char *plugin, int n)
{
    struct mh_context *ctx = NULL;
    uint8_t *out = NULL, *pixels = NULL;
    long result = 0;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK) {
        result = -e.code;
        goto done;
    }
    out = malloc(CAPACITY);
    pixels = malloc(64);
    if (!out || !pixels) {
        result = -MH_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK) {
            result = e.code;
            goto done;
        }
        result += (long)size;
    }
done:
    free(pixels);
    free(out);
    mh_close(ctx);
    return result;
}
"""

# the reference plus a log FILE closed only on the normal path (review 06-07)
FOPEN_LEAK = """long encode_batch(const char *plugin, int n)
{
    struct mh_context *ctx = NULL;
    uint8_t *out = NULL, *pixels = NULL;
    long result = 0;
    FILE *log = fopen("/dev/null", "w");
    if (!log) return -MH_ERR_NOMEM;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK) {
        result = -e.code;
        goto done;
    }
    out = malloc(CAPACITY);
    pixels = malloc(64);
    if (!out || !pixels) {
        result = -MH_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK) {
            result = -e.code;
            goto done;
        }
        result += (long)size;
    }
    fclose(log);
done:
    free(pixels);
    free(out);
    mh_close(ctx);
    return result;
    return 0;
}
"""

# The reference solution, from which the review2 answers below are made by one change each.
REFERENCE = """long encode_batch(const char *plugin, int n)
{
    struct mh_context *ctx = NULL;
    uint8_t *out = NULL, *pixels = NULL;
    long result = 0;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK) {
        result = -e.code;
        goto done;
    }
    out = malloc(CAPACITY);
    pixels = malloc(64);
    if (!out || !pixels) {
        result = -MH_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK) {
            result = -e.code;
            goto done;
        }
        result += (long)size;
    }
done:
    free(pixels);
    free(out);
    mh_close(ctx);
    return result;
}
"""


def _changed(old: str, new: str, text: str = REFERENCE, count: int = 1) -> str:
    """REFERENCE with old replaced by new (old must occur exactly count times)."""
    assert text.count(old) == count, old
    return text.replace(old, new)


# review2 06-07, 1(a): throw-away allocations pad the allocation count, and the total is the
# book's per-image size: the encoder never runs
PADDED_FORMULA = """long encode_batch(const char *plugin, int n)
{
    for (int i = 0; i < 200; i++)
        free(malloc(16));                /* look busy for the allocation count */
    return 170L * n;                     /* the book printed n=1: 170, n=3: 510 */
}
"""

# review2 06-07, 1(b): padding, then the fault injection switched off, then the given leaking code
PADS_THEN_DISARMS = """long encode_batch(const char *plugin, int n)
{
    for (int i = 0; i < 200; i++)
        free(malloc(16));
    if (leakcount_disarm)
        leakcount_disarm();              /* nothing fails from here on */
    struct mh_context *ctx;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK)
        return -e.code;
    uint8_t *out = malloc(CAPACITY);
    uint8_t *pixels = malloc(64);
    if (!out || !pixels)
        return -MH_ERR_NOMEM;
    long total = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK)
            return -e.code;
        total += (long)size;
    }
    free(pixels);
    free(out);
    mh_close(ctx);
    return total;
}
"""

# review2 06-07, 1(c): the reference plus a shortcut on the buffer-full path, which leaks: the
# error path nobody runs, unless the check makes an image overflow the buffer
FULL_BUFFER_LEAK = _changed("""        if (e.code != MH_OK) {
            result = -e.code;""", """        if (e.code == MH_ERR_BUFFER_FULL)
            return -e.code;              /* image too big for out: give up at once */
        if (e.code != MH_OK) {
            result = -e.code;""")

# review2 06-07, 1(d): every failure returned as -1, not minus its code
MINUS_ONE = _changed("result = -MH_ERR_NOMEM;", "result = -1;",
                     _changed("result = -e.code;", "result = -1;", count=2))

# review2 06-07, 1(e): every failure path returns the total the book printed
TOTAL_ON_ERROR = _changed("result = -MH_ERR_NOMEM;", "result = 170L * n;",
                          _changed("result = -e.code;", "result = 170L * n;", count=2))

# review2 06-07 (weaker): pixels from glibc's internal __libc_malloc, never freed, which the
# counting allocator does not interpose
LIBC_MALLOC_LEAK = _changed("    pixels = malloc(64);", "    pixels = __libc_malloc(64);",
                            _changed("    free(pixels);\n", ""))

# review2 06-07 (weaker): pixels from mmap, never unmapped
MMAP_LEAK = _changed("    pixels = malloc(64);",
                     "    pixels = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n"
                     "    if (pixels == MAP_FAILED) pixels = NULL;",
                     _changed("    free(pixels);\n", ""))

# review3 06-07, 2: 1000 throw-away allocations in front, so a sweep that stopped at N = 999
# never reached the real allocations, whose failure path is the given early return (leaks ctx
# and the other buffer)
PADDED_SWEEP = _changed("""    struct mh_error e = mh_open(plugin, &ctx);""",
                        """    for (int i = 0; i < 1000; i++)
        free(malloc(16));          /* warm up */
    struct mh_error e = mh_open(plugin, &ctx);""",
                        _changed("""    if (!out || !pixels) {
        result = -MH_ERR_NOMEM;
        goto done;
    }""", """    if (!out || !pixels)
        return -MH_ERR_NOMEM;""", count=1))

# review3 06-07, 1: three ways around the counting allocator that a list of names missed
VALLOC_LEAK = _changed("    pixels = malloc(64);", "    pixels = __libc_valloc(64);",
                       _changed("    free(pixels);\n", ""))
DLSYM_LEAK = _changed("    pixels = malloc(64);",
                      "    { void *(*real)(size_t) = (void *(*)(size_t))dlsym((void *)-1L /* RTLD_NEXT */, \"malloc\"); "
                      "pixels = real(64); }",
                      _changed("    free(pixels);\n", ""))
SYSCALL_MMAP_LEAK = _changed("    pixels = malloc(64);",
                             "    pixels = (uint8_t *)syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, "
                             "MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);",
                             _changed("    free(pixels);\n", ""))
# review5 06-07, 1: pixels from CPython's own allocator, never freed (invisible to the
# counting allocator; a cffi module is linked against CPython, so it links)
PYMEM_LEAK = _changed("    pixels = malloc(64);", "    pixels = PyMem_Malloc(64);",
                      _changed("    free(pixels);\n", ""))

WRONG = {
    # Exercise 1: classify five report excerpts.
    1: [
        # takes every record that comes from the encoder as "definitely lost"
        ("partial", """ANSWERS = {1: "definitely lost", 2: "definitely lost", 3: "not a leak",
           4: "not a leak", 5: "definitely lost"}
""", "what points to them"),
        # values equal to anything
        ("gaming", """class Anything(str):
    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0


ANSWERS = {n: Anything("definitely lost") for n in range(1, 6)}
""", "plain text"),
        # heaptrack's word, which the task says is not a kind
        ("forbidden", """ANSWERS = {1: "definitely lost", 2: "indirectly lost", 3: "leaked", 4: "not a leak",
           5: "leaked"}
""", "'leaked' is not a kind"),
        # LeakSanitizer's own word for report 2
        ("partial", """ANSWERS = {1: "definitely lost", 2: "Indirect", 3: "not a leak", 4: "not a leak",
           5: "indirectly lost"}
""", "LeakSanitizer's word"),
        # valgrind's word for a block still pointed to
        ("partial", """ANSWERS = {1: "definitely lost", 2: "indirectly lost", 3: "still reachable",
           4: "still reachable", 5: "indirectly lost"}
""", "'still reachable' is a block a pointer still reaches"),
        # the five answers plus an extra key
        ("gaming", """ANSWERS = {1: "definitely lost", 2: "indirectly lost", 3: "not a leak", 4: "not a leak",
           5: "indirectly lost", 6: "x"}
""", "exactly one entry per report"),
        # every report "definitely lost"
        ("partial", """ANSWERS = {i: "definitely lost" for i in range(1, 6)}
""", "chunks after the first"),
        # heaptrack's "leaked" read as lost
        ("partial", """ANSWERS = {1: "definitely lost", 2: "indirectly lost", 3: "definitely lost", 4: "not a leak",
           5: "definitely lost"}
""", "stdout's buffer"),
        # valgrind's fourth kind
        ("partial", """ANSWERS = {1: "definitely lost", 2: "indirectly lost", 3: "not a leak", 4: "possibly lost",
           5: "indirectly lost"}
""", "'possibly lost' means"),
        # a list instead of a dict
        ("partial", """ANSWERS = ["definitely lost", "indirectly lost", "not a leak", "not a leak", "indirectly lost"]
""", "one entry per report"),
        # report 5 left out
        ("partial", """ANSWERS = {1: "definitely lost", 2: "indirectly lost", 3: "not a leak", 4: "not a leak"}
""", "every report"),
    ],
    # Exercise 2: encode_batch that leaks nothing on any path and returns the error code.
    2: [
        ("partial", c_cell(FORGETS_CLOSE), "mh_close(ctx)"),
        ("partial", c_cell(PARTIAL_TOTAL), "minus the error code"),
        ("gaming", c_cell(DISARMS), "switch off the fault injection"),
        ("forbidden", c_cell(STRDUP_LEAK, includes="#include <string.h>\n"), "strdup"),
        ("gaming", c_cell(HARD_CODED), "not from a formula"),
        ("forbidden", c_cell(REARMS), "re-arm"),
        ("partial", c_cell(ALIGNED_LEAK), "aligned_alloc"),
        ("partial", c_cell(POSITIVE), "a negative number"),
        ("partial", c_cell(FOPEN_LEAK, includes="#include <stdio.h>\n"), "one 'done:' label"),
        ("gaming", c_cell(PADDED_FORMULA), "not from a formula"),
        ("forbidden", c_cell(PADS_THEN_DISARMS), "switch off the fault injection"),
        ("partial", c_cell(FULL_BUFFER_LEAK), "a full output buffer"),
        ("partial", c_cell(MINUS_ONE), "exactly -e.code"),
        ("gaming", c_cell(TOTAL_ON_ERROR), "the total only when every image was encoded"),
        ("forbidden", c_cell(LIBC_MALLOC_LEAK, includes="extern void *__libc_malloc(size_t);\n"),
         "bypass the counting allocator"),
        ("forbidden", c_cell(MMAP_LEAK, includes="#include <sys/mman.h>\n"), "bypass the counting allocator"),
        ("gaming", c_cell(PADDED_SWEEP), "throw-away allocations only pad the sweep"),
        ("forbidden", c_cell(VALLOC_LEAK, includes="extern void *__libc_valloc(size_t);\n"),
         "bypass the counting allocator"),
        ("forbidden", c_cell(DLSYM_LEAK, includes="#include <dlfcn.h>\n"),
         "bypass the counting allocator"),
        ("forbidden", c_cell(SYSCALL_MMAP_LEAK,
                             includes="#include <sys/mman.h>\n#include <sys/syscall.h>\n#include <unistd.h>\n"),
         "bypass the counting allocator"),
        ("forbidden", c_cell(PYMEM_LEAK, includes="extern void *PyMem_Malloc(size_t);\n"),
         "bypass the counting allocator"),
    ],
}
