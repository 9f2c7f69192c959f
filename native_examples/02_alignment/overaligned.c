/* Over-aligned types (alignment above alignof(max_align_t), 16 here) and the allocators
 * that do not know about them.
 *   ./overaligned malloc    malloc(sizeof(struct line)) 64 times for a struct that asks
 *                           for 64-byte alignment; count the blocks that do not have it,
 *                           then write through one such pointer (UBSan, built with
 *                           -fsanitize=alignment, reports it)
 *   ./overaligned realloc   aligned_alloc(64, 64), then realloc each block to 200 bytes or
 *                           more (a neighbour stops it growing in place, so it moves);
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
        void *keep[40];
        for (int i = 0; i < 20; i++) {
            void *p = aligned_alloc(64, 64);
            keep[2 * i + 1] = malloc(24);           /* right after it: realloc cannot grow in place */
            p = realloc(p, 200 + 16 * i);           /* so it moves the block to a plain malloc'd one */
            kept += (uintptr_t)p % 64 == 0;
            keep[2 * i] = p;                        /* kept, so each round starts somewhere else */
        }
        for (int i = 0; i < 40; i++) free(keep[i]);
        printf("%d of 20 blocks from aligned_alloc(64, 64) are still 64-aligned after realloc\n", kept);
    } else {
        fprintf(stderr, "usage: %s malloc | realloc\n", argv[0]);
        return 2;
    }
    return 0;
}
