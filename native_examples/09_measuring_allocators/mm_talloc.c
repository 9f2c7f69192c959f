/* mm_talloc.c - lesson 01's teaching allocator behind the malloc lab's interface.
 *
 * First fit, LIFO free list, coalescing, in one arena: the driver's heap.  The
 * arena starts as small as talloc allows (48 bytes: prologue, one free block,
 * epilogue) and grows with mem_sbrk when no free block fits, by what the
 * request needs beyond the free block at the end (CS:APP's extend_heap, with
 * no minimum chunk).  mm_realloc is the simplest correct one: allocate, copy,
 * free.  Exercise 2 of lesson 09 starts from this file.
 */
#include "mm.h"
#include "talloc.h"

#include <string.h>

static ta_heap heap;

/* Grow the arena by k bytes: the old epilogue becomes the header of a new
 * block of k bytes, a new epilogue goes after it, and the block is freed
 * (ta_free coalesces it with a free block before it). */
static int grow(size_t need)
{
    ta_block *end = (ta_block *)(heap.base + heap.size - TA_TAG);     /* the epilogue */
    size_t tail = ta_prev_is_used(end) ? 0 : ta_size(ta_prev_block(end));
    size_t k = need > tail ? need - tail : 0;
    if (k < TA_MIN_BLOCK) k = TA_MIN_BLOCK;
    if (mem_sbrk((intptr_t)k) == (void *)-1) return -1;
    heap.size += k;
    *(size_t *)(heap.base + heap.size - TA_TAG) = TA_USED;           /* the new epilogue */
    ta_set(end, k, 1);
    ta_free(&heap, ta_payload(end));
    return 0;
}

int mm_init(void)
{
    void *start = mem_sbrk(TA_MIN_BLOCK + TA_OVERHEAD);
    if (start == (void *)-1) return -1;
    return ta_init(&heap, start, TA_MIN_BLOCK + TA_OVERHEAD, TA_FIRST_FIT, TA_LIFO, 1);
}

void *mm_malloc(size_t n)
{
    void *p = ta_malloc(&heap, n);
    if (!p && ta_block_size_for(n) && grow(ta_block_size_for(n)) == 0)
        p = ta_malloc(&heap, n);
    return p;
}

void mm_free(void *p)
{
    if (p) ta_free(&heap, p);
}

void *mm_realloc(void *p, size_t n)
{
    if (!p) return mm_malloc(n);
    size_t have = ta_size(ta_block_of(p)) - TA_OVERHEAD;     /* usable bytes of the old block */
    void *q = mm_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, have < n ? have : n);
    mm_free(p);
    return q;
}

/* talloc's own invariant check (lesson 01): the driver calls it after every operation.
 * Code 9 means the arena is larger than ta_check can walk (4 MiB): not a broken heap. */
int mm_checkheap(int verbose)
{
    char msg[160];
    (void)verbose;
    int r = ta_check(&heap, msg, sizeof msg);
    return r == 9 ? 0 : r;
}
