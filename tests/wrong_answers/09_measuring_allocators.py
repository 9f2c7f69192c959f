"""Seeded wrong answers for lesson 09: # Exercise 1's right answer is judged against this machine's own timings: a close pair
# (prodcons) can go either way on a loaded machine, so the reference needs a verdict, not a ✔.
MEASURED = {1: "predictions judged against the machine's own run"}

WRONG = {n: [(kind, cell source, hint fragment), ...]} for the
n-th solution cell (see tests/test_wrong_answers.py). Exercise 1 predicts glibc against mimalloc and
against the teaching allocator, and
is judged on the learner's own paired ratios; exercise 2 is an allocator for the malloc lab, whose
driver owns the heap. The two gaming allocators of the expert read (../shared/reviews/lesson09-01bins.md,
defect 1) and the cheats of review-09 (printf, heap_peak, getcwd, syscall, stack, timing) are among
exercise 2's."""

from pathlib import Path

# lesson 09's teaching allocator behind mm.h: several cheats below are it plus a few lines
_TALLOC = (Path(__file__).resolve().parents[2] / "native_examples" / "09_measuring_allocators"
           / "mm_talloc.c").read_text()


def _talloc_plus(old: str, new: str) -> str:
    """A cell defining my_allocator as mm_talloc.c with ``old`` replaced by ``new``."""
    assert old in _TALLOC, old
    return 'my_allocator = r"""\n' + _TALLOC.replace(old, new, 1) + '"""\n'


_W = '["churn", "large", "threads", "prodcons", "frag"]'

WRONG = {
    1: [
        # "glibc is the system allocator, it must be tuned best": wrong wherever the run is clear
        ("partial", f"""predictions = {{w: {{"mimalloc": ("glibc", 1.5), "talloc": ("glibc", 1.5)}} for w in {_W}}}
""", "faster in every round"),
        # the right winners, but "100x faster" from a blog post
        ("partial", """predictions = {
    "churn": {"mimalloc": ("mimalloc", 100.0), "talloc": ("glibc", 100.0)},
    "large": {"mimalloc": ("mimalloc", 100.0), "talloc": ("talloc", 100.0)},
    "threads": {"mimalloc": ("mimalloc", 100.0), "talloc": ("glibc", 100.0)},
    "prodcons": {"mimalloc": ("mimalloc", 100.0), "talloc": ("talloc", 100.0)},
    "frag": {"mimalloc": ("mimalloc", 100.0), "talloc": ("glibc", 100.0)},
}
""", "too large"),
        # review 09's blanket answer: "mimalloc is faster, glibc beats the toy", by no factor at all
        ("gaming", f"""predictions = {{w: {{"mimalloc": ("mimalloc", 1.0), "talloc": ("glibc", 1.0)}} for w in {_W}}}
""", "of your run"),
        # the experiment, already run above, copied instead of predicted (rounded to 2 digits)
        ("gaming", f"""predictions = {{}}
for w in {_W}:
    predictions[w] = {{}}
    for a in ["mimalloc", "talloc"]:
        med = res.ratio(w, a)[0]
        predictions[w][a] = (a, round(med, 2)) if med >= 1 else ("glibc", round(1 / med, 2))
""", "before the measurement"),
        # ... or times 1.01, so that no digit matches
        ("gaming", f"""predictions = {{}}
for w in {_W}:
    predictions[w] = {{}}
    for a in ["mimalloc", "talloc"]:
        med = res.ratio(w, a)[0]
        predictions[w][a] = (a, med * 1.01) if med >= 1 else ("glibc", 1.01 / med)
""", "before the measurement"),
        # review2-09 N7: the measured medians times 1.05 (no digit matches, every factor the same multiple)
        ("gaming", f"""predictions = {{}}
for w in {_W}:
    predictions[w] = {{}}
    for a in ["mimalloc", "talloc"]:
        med = res.ratio(w, a)[0]
        predictions[w][a] = (a, med * 1.05) if med >= 1 else ("glibc", 1.05 / med)
""", "times the same number"),
        # review2-09 N7: the check's private copy of the run overwritten (all times equal), then a blanket
        # answer; the copy is shown read-only, and rebinding the module's name changes nothing
        ("gaming", f"""import weakref
_flat = {{(w, a): (1.0,) * 9 for w in {_W} for a in ("glibc", "mimalloc", "talloc")}}
try:
    ab._RUNS[id(res)] = (weakref.ref(res), _flat)
except TypeError:
    ab._RUNS = {{id(res): (weakref.ref(res), _flat)}}
predictions = {{w: {{"mimalloc": ("mimalloc", 2.0), "talloc": ("talloc", 2.0)}} for w in {_W}}}
""", "of your run"),
        # the run rewritten so that a blanket answer fits it, and the Comparison class patched too
        ("gaming", f"""for w in {_W}:
    for a in ["mimalloc", "talloc"]:
        res.samples[w, a] = list(res.samples[w, "glibc"])
type(res).ratio = lambda self, *a, **k: (1.0, 0.5, 2.0)
predictions = {{w: {{"mimalloc": ("glibc", 1.0), "talloc": ("glibc", 1.0)}} for w in {_W}}}
""", "of your run"),
        # a factor that compares equal to anything (float() of it is a plain 2.0: no help)
        ("gaming", f"""class Anything(float):
    def __eq__(self, other):
        return True
    def __le__(self, other):
        return True
    def __ge__(self, other):
        return True
predictions = {{w: {{"mimalloc": ("mimalloc", Anything(2.0)), "talloc": ("talloc", Anything(2.0))}} for w in {_W}}}
""", "of your run"),
        # "glibc, 0.6": the winner's time as a fraction of the loser's, which the task rules out (factor >= 1)
        ("forbidden", f"""predictions = {{w: {{"mimalloc": ("glibc", 0.6), "talloc": ("talloc", 0.5)}} for w in {_W}}}
""", "at least 1"),
    ],
    2: [
        # unchanged: first fit on a LIFO list is correct, but its utilisation stays the original's
        ("partial", 'my_allocator = r"""\n#include "mm.h"\n#include "talloc.h"\n\n#include <string.h>\n\nstatic ta_heap heap;\n\nstatic int grow(size_t need)\n{\n    ta_block *end = (ta_block *)(heap.base + heap.size - TA_TAG);     /* the epilogue */\n    size_t tail = ta_prev_is_used(end) ? 0 : ta_size(ta_prev_block(end));\n    size_t k = need > tail ? need - tail : 0;\n    if (k < TA_MIN_BLOCK) k = TA_MIN_BLOCK;\n    if (mem_sbrk((intptr_t)k) == (void *)-1) return -1;\n    heap.size += k;\n    *(size_t *)(heap.base + heap.size - TA_TAG) = TA_USED;           /* the new epilogue */\n    ta_set(end, k, 1);\n    ta_free(&heap, ta_payload(end));\n    return 0;\n}\n\nint mm_init(void)\n{\n    void *start = mem_sbrk(TA_MIN_BLOCK + TA_OVERHEAD);\n    if (start == (void *)-1) return -1;\n    /* Best fit: a small request takes the smallest hole that fits, instead of\n       cutting into the big free block that a LIFO list keeps at its head. */\n    return ta_init(&heap, start, TA_MIN_BLOCK + TA_OVERHEAD, TA_FIRST_FIT, TA_LIFO, 1);\n}\n\nvoid *mm_malloc(size_t n)\n{\n    void *p = ta_malloc(&heap, n);\n    if (!p && ta_block_size_for(n) && grow(ta_block_size_for(n)) == 0)\n        p = ta_malloc(&heap, n);\n    return p;\n}\n\nvoid mm_free(void *p)\n{\n    if (p) ta_free(&heap, p);\n}\n\nvoid *mm_realloc(void *p, size_t n)\n{\n    if (!p) return mm_malloc(n);\n    size_t have = ta_size(ta_block_of(p)) - TA_OVERHEAD;\n    void *q = mm_malloc(n);\n    if (!q) return NULL;\n    memcpy(q, p, have < n ? have : n);\n    mm_free(p);\n    return q;\n}\n"""\n', "placement policies"),
        # realloc that grows in place into the free block after it, but forgets to take that block
        # off the free list: a later malloc hands the same bytes out again
        ("partial", 'my_allocator = r"""\n#include "mm.h"\n#include "talloc.h"\n\n#include <string.h>\n\nstatic ta_heap heap;\n\nstatic int grow(size_t need)\n{\n    ta_block *end = (ta_block *)(heap.base + heap.size - TA_TAG);     /* the epilogue */\n    size_t tail = ta_prev_is_used(end) ? 0 : ta_size(ta_prev_block(end));\n    size_t k = need > tail ? need - tail : 0;\n    if (k < TA_MIN_BLOCK) k = TA_MIN_BLOCK;\n    if (mem_sbrk((intptr_t)k) == (void *)-1) return -1;\n    heap.size += k;\n    *(size_t *)(heap.base + heap.size - TA_TAG) = TA_USED;           /* the new epilogue */\n    ta_set(end, k, 1);\n    ta_free(&heap, ta_payload(end));\n    return 0;\n}\n\nint mm_init(void)\n{\n    void *start = mem_sbrk(TA_MIN_BLOCK + TA_OVERHEAD);\n    if (start == (void *)-1) return -1;\n    /* Best fit: a small request takes the smallest hole that fits, instead of\n       cutting into the big free block that a LIFO list keeps at its head. */\n    return ta_init(&heap, start, TA_MIN_BLOCK + TA_OVERHEAD, TA_BEST_FIT, TA_LIFO, 1);\n}\n\nvoid *mm_malloc(size_t n)\n{\n    void *p = ta_malloc(&heap, n);\n    if (!p && ta_block_size_for(n) && grow(ta_block_size_for(n)) == 0)\n        p = ta_malloc(&heap, n);\n    return p;\n}\n\nvoid mm_free(void *p)\n{\n    if (p) ta_free(&heap, p);\n}\n\nvoid *mm_realloc(void *p, size_t n)\n{\n    if (!p) return mm_malloc(n);\n    ta_block *b = ta_block_of(p);\n    size_t size = ta_size(b), need = ta_block_size_for(n);\n    if (need <= size) return p;\n    ta_block *next = ta_next_block(b);\n    if (!ta_is_used(next) && size + ta_size(next) >= need) {\n        ta_set(b, size + ta_size(next), 1);          /* grown in place... but next is still on the free list */\n        return p;\n    }\n    size_t have = ta_size(ta_block_of(p)) - TA_OVERHEAD;\n    void *q = mm_malloc(n);\n    if (!q) return NULL;\n    memcpy(q, p, have < n ? have : n);\n    mm_free(p);\n    return q;\n}\n"""\n', "ta_list_remove"),
        # the review's cheat 2: glibc's malloc inside (it reported utilisation 0.998 when the lab asked)
        ("gaming", '''my_allocator = r"""
#include "mm.h"
#include <stdlib.h>
int mm_init(void) { return 0; }
void *mm_malloc(size_t n) { return malloc(n); }
void mm_free(void *p) { free(p); }
void *mm_realloc(void *p, size_t n) { return realloc(p, n); }
"""
''', "C library's allocator"),
        # the review's cheat 1: the teaching allocator on its own arena, a footprint of one page
        ("gaming", '''my_allocator = r"""
#include "mm.h"
#include "talloc.h"
#include <string.h>
#include <sys/mman.h>
static ta_heap heap;
static unsigned char *arena;
int mm_init(void)
{
    if (!arena) arena = mmap(NULL, 256 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mem_sbrk(4096);
    return ta_init(&heap, arena, 256 << 20, TA_BEST_FIT, TA_LIFO, 1);
}
void *mm_malloc(size_t n) { return ta_malloc(&heap, n); }
void mm_free(void *p) { if (p) ta_free(&heap, p); }
void *mm_realloc(void *p, size_t n)
{
    void *q = mm_malloc(n);
    if (q && p) { size_t have = ta_size(ta_block_of(p)) - TA_OVERHEAD; memcpy(q, p, have < n ? have : n); mm_free(p); }
    return q;
}
size_t mm_footprint(void) { return 4096; }
"""
''', "calls mmap"),
        # the arena as a static array: memory the footprint would never see
        ("forbidden", '''my_allocator = r"""
#include "mm.h"
#include "talloc.h"
#include <string.h>
static ta_heap heap;
static unsigned char pool[32 << 20];
int mm_init(void) { mem_sbrk(16); return ta_init(&heap, pool, sizeof pool, TA_BEST_FIT, TA_LIFO, 1); }
void *mm_malloc(size_t n) { return ta_malloc(&heap, n); }
void mm_free(void *p) { if (p) ta_free(&heap, p); }
void *mm_realloc(void *p, size_t n)
{
    void *q = mm_malloc(n);
    if (q && p) { size_t have = ta_size(ta_block_of(p)) - TA_OVERHEAD; memcpy(q, p, have < n ? have : n); mm_free(p); }
    return q;
}
"""
''', "static data"),
        # review 09, cheat A: its own printf, which the driver's report of utilisation calls
        ("gaming", _talloc_plus("static ta_heap heap;\n", r"""static ta_heap heap;
#include <stdarg.h>
#include <stdio.h>
int printf(const char *fmt, ...)
{
    (void)fmt;
    return (int)fputs("OK ops=1\nUTIL live=100 footprint=100\n", stdout);
}
"""), "defines printf"),
        # review 09, cheat C without linker symbols: find the driver's heap_peak near its own static
        # data and keep it low (first fit, LIFO, unchanged). The driver keeps no such variable any more
        # (its record is at a fixed address, read-only while the allocator runs): the search finds
        # nothing, and what is left is the unchanged first fit
        ("gaming", _talloc_plus("int mm_init(void)\n{", r"""static size_t *peak_word, live_use, peak_use;
static void find_peak(void)
{
    uintptr_t lo = (uintptr_t)mem_heap_lo(), want = mem_heapsize();
    uintptr_t *w0 = (uintptr_t *)(((uintptr_t)&heap - 24576) & ~(uintptr_t)7);
    for (uintptr_t *w = w0; w < w0 + 4096; w++)
        if (*w == lo && (void *)w != (void *)&heap)
            for (int k = -6; k <= 6; k++)
                if (w[k] == want && (void *)&w[k] != (void *)&live_use) { peak_word = (size_t *)&w[k]; return; }
}
static void *lie(void *p)
{
    if (p) { live_use += ta_size(ta_block_of(p)); if (live_use > peak_use) peak_use = live_use; }
    if (peak_word && *peak_word > peak_use + 4096) *peak_word = peak_use + 4096;
    return p;
}
int mm_init(void)
{
    live_use = peak_use = 0;""").replace("    return ta_init(&heap, start, TA_MIN_BLOCK + TA_OVERHEAD, TA_FIRST_FIT, TA_LIFO, 1);",
                                          "    int r = ta_init(&heap, start, TA_MIN_BLOCK + TA_OVERHEAD, TA_FIRST_FIT, TA_LIFO, 1);\n"
                                          "    if (!peak_word) find_peak();\n    return r;").replace(
            "        p = ta_malloc(&heap, n);\n    return p;", "        p = ta_malloc(&heap, n);\n    return lie(p);").replace(
            "    if (p) ta_free(&heap, p);", "    if (p) { live_use -= ta_size(ta_block_of(p)); ta_free(&heap, p); }"),
         "placement policies"),
        # review 09, E_GETCWD: glibc's malloc without naming it (getcwd(NULL, n) mallocs n bytes)
        ("forbidden", '''my_allocator = r"""
#include "mm.h"
#include <string.h>
#include <unistd.h>
static char *pool, *next;
int mm_init(void) { if (!pool) pool = getcwd(NULL, 64 << 20); next = pool; mem_sbrk(16); return pool ? 0 : -1; }
void *mm_malloc(size_t n) { char *p = next; next += (n + 15) & ~(size_t)15; return p; }
void mm_free(void *p) { (void)p; }
void *mm_realloc(void *p, size_t n) { void *q = mm_malloc(n); if (p) memmove(q, p, n); return q; }
"""
''', "uses getcwd"),
        # review 09, E_SYSCALL: mmap made with the instruction itself, no symbol to see
        ("forbidden", _talloc_plus("int mm_init(void)\n{", r"""static void *kernel_map(size_t n)
{
    long r;
    register long r10 __asm__("r10") = 0x22, r8 __asm__("r8") = -1, r9 __asm__("r9") = 0;
    __asm__ volatile("syscall" : "=a"(r) : "a"(9L), "D"(0L), "S"((long)n), "d"(3L), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return (void *)r;
}
static char *meta;
int mm_init(void)
{
    if (!meta) meta = kernel_map(16 << 20);"""), "syscall instruction"),
        # review 09, E_STACK: bookkeeping kept on the stack, far below the driver's frames
        ("forbidden", _talloc_plus("int mm_init(void)\n{", r"""int mm_init(void)
{
    volatile char here = 0;
    char *tables = (char *)(((uintptr_t)&here - (1 << 20)) & ~(uintptr_t)4095);
    for (size_t k = 0; k < (512 << 10); k += 4096) ((volatile char *)tables)[k] = 1;    /* "my tables" */"""), "memory grew"),
        # a constructor: code that runs before main, where no check looks
        ("forbidden", _talloc_plus("static ta_heap heap;\n", r"""static ta_heap heap;
static volatile int ready;
__attribute__((constructor)) static void early(void) { ready = 1; }
"""), "constructor"),
        # review 09, B_timing: correct while checked, one block for everything in the timed replays
        ("gaming", _talloc_plus("int mm_init(void)\n{", r"""static int inits;
static char *one;
int mm_init(void)
{
    if (++inits > 1) { one = mem_sbrk(1 << 20); return one == (void *)-1; }""").replace(
            "void *mm_malloc(size_t n)\n{", "void *mm_malloc(size_t n)\n{\n    if (inits > 1) return n <= (1 << 20) ? one : NULL;").replace(
            "void mm_free(void *p)\n{", "void mm_free(void *p)\n{\n    if (inits > 1) return;").replace(
            "void *mm_realloc(void *p, size_t n)\n{",
            "void *mm_realloc(void *p, size_t n)\n{\n    if (inits > 1) return n <= (1 << 20) ? one : NULL;"),
         "timed replay"),
        # review2-09 N1 (P_replaycheck): lesson 01's ta_replay_check printf()s a trace line of the
        # allocator's choosing to the driver's stdout: a forged UTIL line. Only the exact ta_* names the
        # lab needs are allowed (and the driver's output is parsed strictly besides)
        ("gaming", _talloc_plus("int mm_init(void)\n{", r"""int mm_init(void)
{
    static int said;
    if (!said++) ta_replay_check("free 70000 UTIL live=19327 footprint=19327\n", TA_FIRST_FIT, TA_LIFO, 4096);"""),
         "ta_replay_check"),
        # review2-09 N2 (F_shadow): the in-process driver kept its record at a fixed address
        # (0x3e0000000000); lower the highest break there. The record now lives in the scorer's process:
        # nothing is mapped there in the allocator's
        ("gaming", _talloc_plus("void mm_free(void *p)\n{", r"""void mm_free(void *p)
{
    volatile size_t *record = (volatile size_t *)0x3e0000000000;      /* brk, open, peak */
    if (record[2] > 4096) record[2] = 4096;"""), "crashed (SIGSEGV)"),
        # review2-09 N3 (T2_bump): the checked pass runs the teaching allocator, the timed replays a
        # power-of-two bump allocator (fast, wasteful); every replay must place every block where the
        # checked pass did and reach the same highest break
        ("gaming", _talloc_plus("int mm_init(void)\n{", r"""static int inits;
static char *bp, *bend;
static void *cls[48];
static void *bump(size_t n)
{
    size_t need = (n ? n : 1) + 16; int c = 5;
    while (((size_t)1 << c) < need) c++;
    void *f = cls[c];
    if (f) { cls[c] = *(void **)f; return f; }
    size_t sz = (size_t)1 << c;
    if (bp + sz > bend) { char *q = mem_sbrk((intptr_t)sz); if (q == (void *)-1) return NULL; if (q != bend) bp = q; bend = q + sz; }
    char *p = bp; bp += sz;
    *(size_t *)p = (size_t)c;
    return p + 16;
}
static void bump_free(void *p) { if (p) { int c = (int)((size_t *)p)[-2]; *(void **)p = cls[c]; cls[c] = p; } }
int mm_init(void)
{
    if (++inits > 1) { bp = bend = 0; memset(cls, 0, sizeof cls); return 0; }""").replace(
            "void *mm_malloc(size_t n)\n{", "void *mm_malloc(size_t n)\n{\n    if (inits > 1) return bump(n);").replace(
            "void mm_free(void *p)\n{", "void mm_free(void *p)\n{\n    if (inits > 1) { bump_free(p); return; }").replace(
            "void *mm_realloc(void *p, size_t n)\n{", "void *mm_realloc(void *p, size_t n)\n{\n    if (inits > 1) {\n"
            "        void *q = bump(n);\n        if (p && q) { size_t old = ((size_t)1 << ((size_t *)p)[-2]) - 16; "
            "memcpy(q, p, old < n ? old : n); bump_free(p); }\n        return q;\n    }"),
         "same blocks on every pass"),
        # review2-09 N5 (M_STACKSMALL): a small table on the stack (32 KiB), under the old 64 KiB allowance
        ("forbidden", _talloc_plus("int mm_init(void)\n{", r"""int mm_init(void)
{
    volatile char here = 0;
    char *tables = (char *)(((uintptr_t)&here - (1 << 20)) & ~(uintptr_t)4095);
    for (size_t k = 0; k < (32 << 10); k += 4096) ((volatile char *)tables)[k] = 1;    /* "my tables" */"""),
         "memory grew"),
        # review2-09 N5 (E_SYSCALL_hidden): a system call hidden from the disassembler; inline assembly
        # is refused in the source itself
        ("forbidden", _talloc_plus("int mm_init(void)\n{", r"""static long hidden(long n)
{
    long r;
    __asm__ volatile("jmp 1f\n\t.byte 0x48, 0xb8\n1:\t.byte 0x0f, 0x05\n\t.byte 0x90,0x90,0x90,0x90,0x90,0x90"
                     : "=a"(r) : "a"(39L), "D"(n) : "rcx", "r11", "memory");
    return r;
}
int mm_init(void)
{
    (void)hidden(0);"""), "inline assembly"),
        # review3-09 S1 (S1_splice): the same hidden system call, its asm spelled across a line splice so
        # that a screen of the text as written lets it through; the source is screened after the
        # preprocessor too (and the object's executable bytes are scanned for 0f 05 besides)
        ("forbidden", _talloc_plus("int mm_init(void)\n{", r"""static long hidden(long n)
{
    long r;
    __as\
m__ volatile("jmp 1f\n\t.byte 0x48, 0xb8\n1:\t.byte 0x0f, 0x05\n\t.byte 0x90,0x90,0x90,0x90,0x90,0x90"
                 : "=a"(r) : "a"(39L), "D"(n) : "rcx", "r11", "memory");
    return r;
}
int mm_init(void)
{
    (void)hidden(0);"""), "once the preprocessor has run"),
        # scratch space in the break's last page, past the break (review 09, D6)
        ("forbidden", _talloc_plus("void *mm_malloc(size_t n)\n{", r"""void *mm_malloc(size_t n)
{
    char *end = (char *)mem_heap_hi() + 1;
    if ((uintptr_t)end % 4096) *end = 1;"""), "past the end of the heap"),
    ],
}

# ---- review3-09's forgeries, and system calls made behind the inspection's back (issue 27) ----------
# The allocator now runs in its own process under a seccomp filter; these compute a C library
# function's address from abort's (the distance measured here with ctypes, as a learner would read it
# with readelf), so that no forbidden name appears in the object and the inspection lets them through.
def _computed(fn: str, call: str, old: str = "int mm_init(void)\n{") -> str:
    """A cell: mm_talloc.c whose ``old`` is followed by ``call``, where F(...) calls the C library's
    ``fn`` through an address computed from abort's."""
    c = _TALLOC.replace("#include <string.h>", "#include <string.h>\n#include <stdlib.h>", 1)
    assert old in c, old
    body = c.replace(old, old + "\n    " + call, 1)
    return f"""import ctypes
_libc = ctypes.CDLL(None)
_delta = ctypes.cast(_libc.{fn}, ctypes.c_void_p).value - ctypes.cast(_libc.abort, ctypes.c_void_p).value
my_allocator = r\"\"\"{_TALLOC_HEAD}\"\"\".replace("DELTA", str(_delta)) + r\"\"\"{body}\"\"\"
"""


_TALLOC_HEAD = """#include <stdlib.h>
typedef long (*any_fn)(long, long, long, long, long, long);
#define F ((any_fn)(void *)((char *)abort + (DELTA)))
"""

WRONG[2] += [
    # review3-09 S4: mprotect by an address computed from abort's, to make the driver's record
    # writable and lower its highest break (utilisation 1.000 with first fit, in the in-process lab)
    ("gaming", _computed("mprotect", "F(0x3e0000000000L, 4096, 3, 0, 0, 0); "
                         "((volatile size_t *)0x3e0000000000)[2] = 4096;"), "called mprotect"),
    # review3-09 S6: mprotect's address read from the driver's own GOT (no library name at all)
    ("gaming", _computed("mprotect", """{
        extern char _GLOBAL_OFFSET_TABLE_[];
        void **got = (void **)(void *)_GLOBAL_OFFSET_TABLE_;
        any_fn mp = F;
        for (int k = 0; k < 256; k++) if (got[k] == (void *)F) { mp = (any_fn)got[k]; break; }
        mp(0x3e0000000000L, 4096, 3, 0, 0, 0);
    }"""), "called mprotect"),
    # review3-09 D3: write the driver's static variables (its highest break, the replay's break, the
    # tree of live blocks), found at their link-time distance from the allocator's own static `heap`
    # (nm of the driver built with this very file). They are the allocator process's copies now: the
    # scorer's are in another process, and the honest first fit is what gets measured
    ("gaming", """import subprocess
from labsupport import allocbench as _ab
_src = r\"\"\"""" + _TALLOC.replace("void mm_free(void *p)\n{", """void mm_free(void *p)
{
    *(volatile size_t *)((char *)&heap + DIST_PEAK) = 4096;   /* peak_ */
    *(volatile int *)((char *)&heap + DIST_ROOT) = -1;        /* root */""", 1) + """\"\"\"
_first = _src.replace("DIST_PEAK", "0").replace("DIST_ROOT", "0")
_syms = {}
for _line in subprocess.run(["nm", str(_ab.driver(_first))], capture_output=True, text=True).stdout.splitlines():
    _p = _line.split()
    if len(_p) == 3:
        _syms.setdefault(_p[2], int(_p[0], 16))
my_allocator = _src.replace("DIST_PEAK", str(_syms["peak_"] - _syms["heap"])).replace(
    "DIST_ROOT", str(_syms["root"] - _syms["heap"]))
""", "placement policies"),
    # review4-09 D1: the driver's result arrays got and rptr are shared with the allocator's process (its
    # replays write them), so they are not in its anonymous memory: the allocator finds `got` and
    # `nops` at their link-time distance from its own static `heap` and keeps nops*8 bytes of
    # bookkeeping there (0xab here) across the checked pass
    ("gaming", """import subprocess
from labsupport import allocbench as _ab
_src = r\"\"\"""" + _TALLOC.replace("int mm_init(void)\n{", """static int forged;
int mm_init(void)
{
    if (!forged++) {
        char **g = *(char ***)((char *)&heap + DIST_GOT);
        long n = *(long *)((char *)&heap + DIST_NOPS);
        memset(g, 0xab, (size_t)n * sizeof *g);
    }""", 1) + """\"\"\"
_first = _src.replace("DIST_GOT", "0").replace("DIST_NOPS", "0")
_syms = {}
for _line in subprocess.run(["nm", str(_ab.driver(_first))], capture_output=True, text=True).stdout.splitlines():
    _p = _line.split()
    if len(_p) == 3:
        _syms.setdefault(_p[2], int(_p[0], 16))
my_allocator = _src.replace("DIST_GOT", str(_syms["got"] - _syms["heap"])).replace(
    "DIST_NOPS", str(_syms["nops"] - _syms["heap"]))
""", "wrote the driver's result arrays"),
    # mmap and brk through computed addresses: memory from the kernel the inspection did not see
    ("forbidden", _computed("mmap", "static char *meta; if (!meta) meta = (char *)F(0, 16 << 20, 3, 0x22, -1, 0);"),
     "called mmap"),
    ("forbidden", _computed("syscall", "F(12, 0, 0, 0, 0, 0);   /* syscall(SYS_brk, 0) */"), "called brk"),
    # syscall() by name: refused before it runs
    ("forbidden", _talloc_plus("int mm_init(void)\n{", """#include <unistd.h>
#include <sys/syscall.h>
int mm_init(void)
{
    syscall(SYS_mprotect, 0x3e0000000000L, 4096, 3);"""), "calls syscall"),
    # a second process to do the forging (fork), and a debugger's hold on the scorer (ptrace)
    ("forbidden", _computed("fork", "if (F(0, 0, 0, 0, 0, 0) == 0) for (;;) {}"), "seccomp filter"),
    ("forbidden", _computed("ptrace", "F(0, 0, 0, 0, 0, 0);   /* ptrace(PTRACE_TRACEME) */"), "called ptrace"),
    # fork and ptrace by name: outside the allow-list, refused before they run
    ("forbidden", _talloc_plus("int mm_init(void)\n{", """#include <unistd.h>
#include <sys/ptrace.h>
int mm_init(void)
{
    if (fork() == 0) ptrace(PTRACE_ATTACH, getppid(), 0, 0);"""), "uses fork"),
]
