/* churn: small objects of mixed sizes, allocated and freed in random order, one thread.
 *
 *   churn [OPS=2000000] [LIVE=1000] [MAX=1024] [SEED=1]
 *
 * LIVE slots; each step frees the block in a random slot and allocates a new one
 * of a mixed size (mostly 8-64 B, some up to 512 B, a few up to MAX), writing its
 * first and last byte.  What most programs do most of the time.
 */
#include "bench.h"

int main(int argc, char **argv)
{
    long ops = arg(argc, argv, 1, 2000000), live = arg(argc, argv, 2, 1000);
    long max = arg(argc, argv, 3, 1024), seed = arg(argc, argv, 4, 1);
    if (live < 1 || max < 8) { fprintf(stderr, "usage: churn OPS LIVE>=1 MAX>=8 SEED\n"); return 2; }
    char **slot = calloc((size_t)live, sizeof *slot);
    size_t *len = calloc((size_t)live, sizeof *len);
    uint64_t s = rng_seed((uint64_t)seed), check = 0;
    double t0 = bench_start();
    for (long i = 0; i < ops; i++) {
        long k = (long)(rng_next(&s) % (uint64_t)live);
        if (slot[k]) { check += (unsigned char)slot[k][len[k] - 1]; free(slot[k]); }
        size_t n = mixed_size(&s, (size_t)max);
        char *p = malloc(n);
        if (!p) { fprintf(stderr, "out of memory\n"); return 1; }
        p[0] = (char)i; p[n - 1] = (char)k;
        slot[k] = p; len[k] = n;
    }
    for (long k = 0; k < live; k++) free(slot[k]);
    report(t0, check);
    return 0;
}
