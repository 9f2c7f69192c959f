/* first_heap.c: ask glibc's malloc for a few blocks, free some, and print
 * where each block landed, read from glibc's own chunk headers.
 *
 * The course's one picture of a glibc chunk: its 8-byte size field, then the
 * bytes the program may use, up to the next chunk's size field. An offset is the
 * position of a chunk's size field, counted (in decimal) from the size field of
 * the heap's first chunk. Offsets are the same on every run even though the
 * heap's address changes (ASLR).
 *
 * The program walks the heap from its first chunk to the top chunk and prints
 * every chunk in address order: its own six blocks (0 to 5) and glibc's own chunk
 * (-1), the table of its tcache: 592 bytes in glibc 2.26 to 2.29 (a one-byte count
 * and a list head for each of 64 lists, glibc-2.29 malloc/malloc.c:2916-2920), 656
 * bytes in 2.30 to 2.41 (two-byte counts, glibc-2.30 malloc.c:2906-2910, commit
 * 5ad533e8e6), 768 bytes from 2.42 on (76 lists, glibc-2.42 malloc.c:294-296 and
 * 3127-3131). Up to glibc 2.42 that table is the heap's first chunk; from 2.43 glibc
 * makes it at the first free() (commit 2bf2188fae), so there it follows the six
 * blocks. Nothing is printed before the walk, because printf itself may call
 * malloc for its buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* glibc keeps a chunk's size in the 8 bytes just below the pointer it returns;
 * the low 3 bits are flags (see lesson 01), so mask them off. */
static size_t size_field(unsigned char *c) { return ((size_t *)c)[1] & ~(size_t)7; }

int main(void) {
    /* the heap starts at the program break (16-aligned); glibc's first chunk starts
     * there, and its size field is its second word */
    unsigned char *start = (unsigned char *)(((uintptr_t)sbrk(0) + 15) & ~(uintptr_t)15);
    const size_t sizes[] = {24, 100, 40, 500, 16, 64};
    enum { N = sizeof sizes / sizeof sizes[0], MAX = 32 };
    char *volatile p[N];
    for (int i = 0; i < N; i++) p[i] = malloc(sizes[i]);
    free(p[1]);           /* freed blocks go to glibc's tcache: they stay where they are */
    free(p[3]);
    /* walk: chunk after chunk, until the top chunk, which ends at the program break */
    unsigned char *end = sbrk(0);
    long off[MAX], chunk[MAX];
    int who[MAX], n = 0;
    for (unsigned char *c = start; c < end && n < MAX; c += size_field(c)) {
        size_t size = size_field(c);
        if (size == 0 || c + size >= end) break;        /* the top chunk: not a block */
        who[n] = -1;
        for (int i = 0; i < N; i++)
            if ((unsigned char *)p[i] == c + 16) who[n] = i;
        off[n] = (long)(c - start);
        chunk[n++] = (long)size;
    }
    printf("# block requested chunk offset freed  (block -1: glibc's own chunk, its tcache)\n");
    for (int k = 0; k < n; k++) {
        int i = who[k];
        printf("%d %zu %ld %ld %d\n", i, i < 0 ? (size_t)0 : sizes[i], chunk[k], off[k], i == 1 || i == 3);
    }
    return 0;
}
