/* first_heap.c: ask glibc's malloc for a few blocks, free some, and print
 * where each block landed, read from glibc's own chunk headers.
 *
 * The course's one picture of a glibc chunk: its 8-byte size field, then the
 * bytes the program may use, up to the next chunk's size field. An offset is the
 * position of a chunk's size field, counted (in decimal) from the size field of
 * the heap's first chunk - glibc's own tcache chunk (656 bytes up to glibc 2.41, 768
 * from 2.42, whose tcache has 76 lists instead of 64). Offsets are the same
 * on every run even though the heap's address changes (ASLR). Everything is
 * allocated before the first printf, because printf itself may call malloc for
 * its buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* glibc keeps a chunk's size in the 8 bytes just below the pointer it returns;
 * the low 3 bits are flags (see lesson 01), so mask them off. */
static size_t chunk_size(void *p) { return ((size_t *)p)[-1] & ~(size_t)7; }

int main(void) {
    /* the heap starts at the program break (16-aligned); its first 8 bytes are
     * unused, the first chunk's size field follows */
    uintptr_t start = ((uintptr_t)sbrk(0) + 15) & ~(uintptr_t)15;
    const size_t sizes[] = {24, 100, 40, 500, 16, 64};
    enum { N = sizeof sizes / sizeof sizes[0] };
    char *volatile p[N];
    for (int i = 0; i < N; i++) p[i] = malloc(sizes[i]);
    size_t chunk[N];
    for (int i = 0; i < N; i++) chunk[i] = chunk_size(p[i]);
    size_t first = chunk_size((void *)(start + 16));   /* glibc's tcache chunk */
    free(p[1]);           /* freed blocks go to glibc's tcache: they stay where they are */
    free(p[3]);
    uintptr_t base = start + 8;                         /* the first size field */
    printf("# block requested chunk offset freed  (block -1: glibc's own tcache chunk)\n");
    printf("-1 0 %zu 0 0\n", first);
    for (int i = 0; i < N; i++)
        printf("%d %zu %zu %ld %d\n", i, sizes[i], chunk[i], (long)((uintptr_t)p[i] - 8 - base),
               i == 1 || i == 3);
    return 0;
}
