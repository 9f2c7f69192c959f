"""Seeded wrong answers for lesson 09, keyed by the 1-based index of the
solution-tagged cell. Each must make the following check print "✘" and "hint:"."""

WRONG = {
    # 1: "glibc is the system allocator, it must be tuned best": glibc wins everything, by 3x
    1: '''predictions = {
    "churn": ("glibc", 3.0),
    "large": ("glibc", 3.0),
    "threads": ("glibc", 3.0),
    "prodcons": ("glibc", 3.0),
    "frag": ("glibc", 3.0),
}
''',
    # 2: realloc that grows in place into the free block after it, but forgets to take
    #    that block off the free list: a later malloc hands the same bytes out again
    2: '''my_allocator = r"""
#include "mm.h"
#include "talloc.h"

#include <string.h>
#include <sys/mman.h>

#define ARENA ((size_t)256 << 20)

static ta_heap heap;
static unsigned char *arena;
static size_t high;

static void note(void *p)
{
    if (!p) return;
    size_t end = (size_t)((unsigned char *)ta_next_block(ta_block_of(p)) - heap.base);
    if (end > high) high = end;
}

int mm_init(void)
{
    if (!arena) {
        arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (arena == MAP_FAILED) { arena = NULL; return -1; }
    }
    high = 0;
    return ta_init(&heap, arena, ARENA, TA_BEST_FIT, TA_LIFO, 1);
}

void *mm_malloc(size_t n) { void *p = ta_malloc(&heap, n); note(p); return p; }
void mm_free(void *p) { if (p) ta_free(&heap, p); }
size_t mm_footprint(void) { return high; }

void *mm_realloc(void *p, size_t n)
{
    if (!p) return mm_malloc(n);
    ta_block *b = ta_block_of(p);
    size_t have = ta_size(b), need = ta_block_size_for(n);
    if (need <= have) return p;
    ta_block *next = ta_next_block(b);
    if (!ta_is_used(next) && have + ta_size(next) >= need) {
        ta_set(b, have + ta_size(next), 1);          /* grown in place... but next is still on the free list */
        note(p);
        return p;
    }
    void *q = mm_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, have - TA_OVERHEAD < n ? have - TA_OVERHEAD : n);
    mm_free(p);
    return q;
}
"""
''',
}
