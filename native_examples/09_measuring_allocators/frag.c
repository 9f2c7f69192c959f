/* frag: a fragmentation workload; look at memory (rss_kb, maxrss_kb), not only time.
 *
 *   frag [ROUNDS=20] [N=20000] [SMALL=32] [BIG=1000] [KEEP=16]
 *
 * Each round allocates N pairs (a SMALL block, then a BIG one), frees every big
 * block and all but one small block in KEEP, then asks for N/2 blocks of 1.5 x BIG,
 * which do not fit the holes the big blocks left.  The survivors pin the holes:
 * how much memory does the process hold at the end, for how few live bytes?
 */
#include "bench.h"

int main(int argc, char **argv)
{
    long rounds = arg(argc, argv, 1, 20), n = arg(argc, argv, 2, 20000);
    long small = arg(argc, argv, 3, 32), big = arg(argc, argv, 4, 1000), keep = arg(argc, argv, 5, 16);
    if (rounds < 1 || n < 2 || small < 1 || big < 1 || keep < 1) { fprintf(stderr, "usage: frag ROUNDS N SMALL BIG KEEP\n"); return 2; }
    char **kept = calloc((size_t)(rounds * (n / keep + 1)), sizeof *kept);
    char **s = calloc((size_t)n, sizeof *s), **b = calloc((size_t)n, sizeof *b);
    char **m = calloc((size_t)n, sizeof *m);
    long nk = 0;
    uint64_t check = 0, live = 0;
    size_t med = (size_t)big * 3 / 2;
    double t0 = bench_start();
    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < n; i++) {
            s[i] = malloc((size_t)small); memset(s[i], 1, (size_t)small);
            b[i] = malloc((size_t)big); memset(b[i], 2, (size_t)big);
        }
        for (long i = 0; i < n; i++) {
            free(b[i]);
            if (i % keep == 0) { kept[nk++] = s[i]; live += (uint64_t)small; }
            else free(s[i]);
        }
        for (long i = 0; i < n / 2; i++) { m[i] = malloc(med); memset(m[i], 3, med); }
        for (long i = 0; i < n / 2; i++) { check += (unsigned char)m[i][med - 1]; free(m[i]); }
    }
    report(t0, check + live);
    printf("live_kb=%llu\n", (unsigned long long)(live / 1024));
    for (long i = 0; i < nk; i++) free(kept[i]);
    return 0;
}
