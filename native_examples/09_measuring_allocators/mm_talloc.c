/* mm_talloc.c - lesson 01's teaching allocator behind the malloc lab's interface.
 *
 * First fit, LIFO free list, coalescing, in one arena.  mm_realloc is the
 * simplest correct one: allocate, copy, free.  The footprint is the end of the
 * highest block ever handed out.  Exercise 2 of lesson 09 starts from this file.
 */
#include "mm.h"
#include "talloc.h"

#include <string.h>
#include <sys/mman.h>

#define ARENA ((size_t)256 << 20)         /* address space; only touched pages cost memory */

static ta_heap heap;
static unsigned char *arena;
static size_t high;                       /* footprint: highest block end, from the arena start */

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
    return ta_init(&heap, arena, ARENA, TA_FIRST_FIT, TA_LIFO, 1);
}

void *mm_malloc(size_t n)
{
    void *p = ta_malloc(&heap, n);
    note(p);
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

size_t mm_footprint(void) { return high; }
