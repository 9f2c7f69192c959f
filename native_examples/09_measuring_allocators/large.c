/* large: larger blocks (default 16 KiB .. 1 MiB), a few alive at a time, every page written.
 *
 *   large [OPS=20000] [LIVE=8] [MIN=16384] [MAX=1048576] [SEED=1]
 *
 * Crosses glibc's mmap threshold (128 KiB at start, then it moves): where do big
 * blocks come from, and does the allocator give the pages back after each free?
 * Watch sys time and minor page faults next to wall time.
 */
#include "bench.h"

int main(int argc, char **argv)
{
    long ops = arg(argc, argv, 1, 20000), live = arg(argc, argv, 2, 8);
    long min = arg(argc, argv, 3, 16384), max = arg(argc, argv, 4, 1048576), seed = arg(argc, argv, 5, 1);
    if (live < 1 || min < 1 || max < min) { fprintf(stderr, "usage: large OPS LIVE MIN MAX SEED\n"); return 2; }
    char **slot = calloc((size_t)live, sizeof *slot);
    size_t *len = calloc((size_t)live, sizeof *len);
    uint64_t s = rng_seed((uint64_t)seed), check = 0;
    double t0 = bench_start();
    for (long i = 0; i < ops; i++) {
        long k = (long)(rng_next(&s) % (uint64_t)live);
        if (slot[k]) { check += (unsigned char)slot[k][0]; free(slot[k]); }
        size_t n = (size_t)min + (size_t)(rng_next(&s) % (uint64_t)(max - min + 1));
        char *p = malloc(n);
        if (!p) { fprintf(stderr, "out of memory\n"); return 1; }
        for (size_t off = 0; off < n; off += 4096) p[off] = (char)i;    /* touch every page */
        p[n - 1] = (char)k;
        slot[k] = p; len[k] = n;
    }
    for (long k = 0; k < live; k++) free(slot[k]);
    report(t0, check);
    return 0;
}
