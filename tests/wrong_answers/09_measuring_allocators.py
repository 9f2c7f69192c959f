"""Seeded wrong answers for lesson 09: WRONG = {n: [(kind, cell source, hint fragment), ...]} for the
n-th solution cell (see tests/test_wrong_answers.py). Exercise 1 predicts glibc against mimalloc and
is judged on the learner's own paired ratios; exercise 2 is an allocator for the malloc lab, whose
driver owns the heap. The two gaming allocators of the expert read (../shared/reviews/lesson09-01bins.md,
defect 1) are among exercise 2's."""

WRONG = {
    1: [
        # "glibc is the system allocator, it must be tuned best": wrong wherever the run is clear
        ("partial", """predictions = {
    "churn": ("glibc", 3.0),
    "large": ("glibc", 3.0),
    "threads": ("glibc", 3.0),
    "prodcons": ("glibc", 3.0),
    "frag": ("glibc", 3.0),
}
""", "faster in every round"),
        # the right winners, but "mimalloc is 100x faster" from a blog post
        ("partial", """predictions = {w: ("mimalloc", 100.0) for w in ["churn", "large", "threads", "prodcons", "frag"]}
""", "too large"),
        # the experiment, already run above, copied instead of predicted
        ("gaming", """predictions = {}
for w in ["churn", "large", "threads", "prodcons", "frag"]:
    med = res.ratio(w, "mimalloc")[0]
    predictions[w] = ("mimalloc", med) if med >= 1 else ("glibc", 1 / med)
""", "before the measurement"),
        # a factor that compares equal to anything
        ("gaming", """class Anything(float):
    def __eq__(self, other):
        return True
    def __le__(self, other):
        return True
    def __ge__(self, other):
        return True
predictions = {w: ("mimalloc", Anything(2.0)) for w in ["churn", "large", "threads", "prodcons", "frag"]}
""", "plain number"),
        # "glibc, 0.6": mimalloc's time as a fraction of glibc's, which the task rules out (factor >= 1)
        ("forbidden", """predictions = {
    "churn": ("glibc", 0.6),
    "large": ("glibc", 0.1),
    "threads": ("glibc", 0.6),
    "prodcons": ("glibc", 0.5),
    "frag": ("glibc", 0.5),
}
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
    ],
}
