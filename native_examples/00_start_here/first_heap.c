/* first_heap.c: ask glibc's malloc for a few blocks, free some, and print
 * where each block landed, read from glibc's own chunk headers.
 *
 * Offsets are measured from the first block, so they are the same on every
 * run even though the heap's address changes (ASLR). Everything is allocated
 * before the first printf, because printf itself may call malloc for its buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

/* glibc keeps a chunk's size in the 8 bytes just below the pointer it returns;
 * the low 3 bits are flags (see lesson 01), so mask them off. */
static size_t chunk_size(void *p) { return ((size_t *)p)[-1] & ~(size_t)7; }

int main(void) {
    const size_t sizes[] = {24, 100, 40, 500, 16, 64};
    enum { N = sizeof sizes / sizeof sizes[0] };
    char *volatile p[N];
    for (int i = 0; i < N; i++) p[i] = malloc(sizes[i]);
    size_t chunk[N];
    for (int i = 0; i < N; i++) chunk[i] = chunk_size(p[i]);
    free(p[1]);           /* freed blocks go to glibc's tcache: they stay where they are */
    free(p[3]);
    uintptr_t base = (uintptr_t)p[0];
    printf("# block requested chunk offset freed\n");
    for (int i = 0; i < N; i++)
        printf("%d %zu %zu %ld %d\n", i, sizes[i], chunk[i], (long)((uintptr_t)p[i] - base),
               i == 1 || i == 3);
    return 0;
}
