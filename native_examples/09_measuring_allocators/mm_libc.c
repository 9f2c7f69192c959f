/* mm_libc.c - the malloc lab's reference path: the process's own malloc, glibc,
 * or mimalloc when libmimalloc.so is preloaded (LD_PRELOAD).
 *
 * These allocators take their memory from the kernel themselves (brk, mmap),
 * not from the driver's mem_sbrk, so they are built with mdriver.c -DMM_REFERENCE:
 * no driver heap, and the footprint is the growth of the process's resident
 * memory (whole pages), measured by the driver from /proc/self/statm.  It is a
 * different quantity from the lab's footprint, and labelled so.
 */
#include "mm.h"

#include <stdlib.h>

int mm_init(void) { return 0; }
void *mm_malloc(size_t n) { return malloc(n); }
void mm_free(void *p) { free(p); }
void *mm_realloc(void *p, size_t n) { return realloc(p, n); }
