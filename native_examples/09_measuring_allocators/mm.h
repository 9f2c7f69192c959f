/* mm.h - the malloc lab's interface (lesson 09), after CS:APP's malloc lab.
 *
 * An allocator for the lab is one C file defining these five functions.  The
 * driver (mdriver.c) calls mm_init() once before a trace, then replays the
 * trace through mm_malloc / mm_free / mm_realloc.  Payloads must be 16-byte
 * aligned (a request under 16 bytes: aligned to the largest power of two that
 * fits in it, all that C23 requires: WG14 N2293), must not overlap, and must keep their bytes until freed;
 * mm_realloc must keep the first min(old, new) bytes.
 *
 * mm_footprint() says how many bytes of memory the heap occupies right now
 * (for an arena allocator: from the arena start to the end of the highest
 * block ever handed out).  The driver's utilisation is
 *     peak live bytes requested / peak footprint.
 */
#ifndef MM_H
#define MM_H

#include <stddef.h>

int    mm_init(void);                /* 0: ready; anything else: the driver stops */
void  *mm_malloc(size_t n);
void   mm_free(void *p);
void  *mm_realloc(void *p, size_t n);   /* p == NULL: like mm_malloc(n) */
size_t mm_footprint(void);

#endif
