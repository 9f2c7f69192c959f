/* Over-aligned types (alignment above alignof(max_align_t), 16 here) and the allocators
 * that do not know about them.
 *   ./overaligned malloc    malloc(sizeof(struct line)) 64 times for a struct that asks
 *                           for 64-byte alignment; count the blocks that do not have it,
 *                           then write through one such pointer (UBSan, built with
 *                           -fsanitize=alignment, reports it)
 *   ./overaligned realloc   aligned_alloc(64, 64), then realloc each block to 1 MiB
 *                           (it moves: glibc serves that size from a mapping of its own);
 *                           count how many of 20 are still 64-aligned
 * No address is printed: counts only. */
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct line {                       /* one cache line, e.g. a per-thread counter */
    alignas(64) long count;
    char pad[56];
};

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "malloc";
    if (strcmp(mode, "malloc") == 0) {
        struct line *blocks[64], *bad = NULL;
        int misaligned = 0;
        for (int i = 0; i < 64; i++) {
            blocks[i] = malloc(sizeof(struct line));
            if ((uintptr_t)blocks[i] % alignof(struct line)) {
                misaligned++;
                if (!bad) bad = blocks[i];
            }
        }
        printf("alignof(struct line) = %zu; %d of 64 malloc'd blocks are not a multiple of it\n",
               alignof(struct line), misaligned);
        if (bad) bad->count = 1;                    /* undefined behaviour: UBSan says so */
        for (int i = 0; i < 64; i++) free(blocks[i]);
    } else if (strcmp(mode, "realloc") == 0) {
        int kept = 0;
        void *keep[20];
        for (int i = 0; i < 20; i++) {
            void *p = aligned_alloc(64, 64);
            /* grown to 1 MiB, past glibc's mmap threshold (128 KiB): realloc moves the
             * data to a block of its own mapping, which starts 16 bytes into a page */
            keep[i] = p = realloc(p, 1 << 20);
            kept += (uintptr_t)p % 64 == 0;
        }
        for (int i = 0; i < 20; i++) free(keep[i]);   /* kept until here: freeing one would
                                                          raise the threshold (it is dynamic) */
        printf("%d of 20 blocks from aligned_alloc(64, 64) are still 64-aligned after realloc\n", kept);
    } else {
        fprintf(stderr, "usage: %s malloc | realloc\n", argv[0]);
        return 2;
    }
    return 0;
}
