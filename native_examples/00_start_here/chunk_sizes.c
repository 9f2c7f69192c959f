/* chunk_sizes.c: the chunk glibc uses for malloc(n), for each n on the command
 * line, measured in a fresh process (nothing freed before, so every chunk is cut
 * from the top of the heap and has exactly the size glibc computes for n).
 *
 *   ./chunk_sizes 0 24 25 1000      prints "n chunk" per line
 *
 * In a process with a history a chunk can be 16 bytes bigger: when the free chunk
 * glibc picks would leave a remainder under 32 bytes, it hands out the whole
 * chunk (lesson 01 shows one).
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    enum { MAX = 64 };
    size_t n[MAX], chunk[MAX];
    int k = 0;
    for (int i = 1; i < argc && k < MAX; i++, k++) {
        n[k] = strtoul(argv[i], NULL, 10);
        void *volatile p = malloc(n[k]);                 /* never freed: no reuse */
        chunk[k] = ((size_t *)p)[-1] & ~(size_t)7;       /* size field, flags masked */
    }
    for (int i = 0; i < k; i++) printf("%zu %zu\n", n[i], chunk[i]);
    return 0;
}
