/* mm_broken.c - a seeded broken allocator: the driver must reject it.
 *
 * The teaching allocator with one classic slip: the block size forgets the
 * 16 bytes of header and footer, so a payload runs over the next block's
 * header (and the driver sees overlapping blocks or overwritten data).
 */
#include "mm.h"
#include "talloc.h"

#include <string.h>
#include <sys/mman.h>

#define ARENA ((size_t)64 << 20)

static ta_heap heap;
static unsigned char *arena;

int mm_init(void)
{
    if (!arena) {
        arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (arena == MAP_FAILED) { arena = NULL; return -1; }
    }
    return ta_init(&heap, arena, ARENA, TA_FIRST_FIT, TA_LIFO, 1);
}

void *mm_malloc(size_t n) { return ta_malloc(&heap, n > TA_OVERHEAD ? n - TA_OVERHEAD : 0); }   /* the bug */
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

size_t mm_footprint(void) { return 0; }
