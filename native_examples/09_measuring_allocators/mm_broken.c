/* mm_broken.c - a seeded broken allocator: the driver must reject it.
 *
 * mm_talloc.c with one classic slip: the block size forgets the 16 bytes of
 * header and footer, so a payload runs over the next block's header (and the
 * driver sees overlapping blocks, overwritten data, or talloc crashing).
 */
#include "mm.h"
#include "talloc.h"

#include <string.h>

static ta_heap heap;

static int grow(size_t need)
{
    ta_block *end = (ta_block *)(heap.base + heap.size - TA_TAG);
    size_t tail = ta_prev_is_used(end) ? 0 : ta_size(ta_prev_block(end));
    size_t k = need > tail ? need - tail : 0;
    if (k < TA_MIN_BLOCK) k = TA_MIN_BLOCK;
    if (mem_sbrk((intptr_t)k) == (void *)-1) return -1;
    heap.size += k;
    *(size_t *)(heap.base + heap.size - TA_TAG) = TA_USED;
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
    size_t ask = n > TA_OVERHEAD ? n - TA_OVERHEAD : 0;            /* the bug */
    void *p = ta_malloc(&heap, ask);
    if (!p && grow(ta_block_size_for(ask)) == 0) p = ta_malloc(&heap, ask);
    return p;
}

void mm_free(void *p) { if (p) ta_free(&heap, p); }

void *mm_realloc(void *p, size_t n)
{
    if (!p) return mm_malloc(n);
    void *q = mm_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, n);
    mm_free(p);
    return q;
}
