/* threads: T threads, each doing its own small-object churn (nothing shared).
 *
 *   threads [THREADS=4] [OPS_PER_THREAD=500000] [LIVE=1000] [MAX=1024] [SEED=1]
 *
 * Scalability: does the allocator make independent threads wait for each other
 * (one lock), or give each thread its own cache, arena or heap?  On a machine
 * with fewer cores than threads, wall time also measures the scheduler: compare
 * cpu with wall.
 */
#include <pthread.h>
#include "bench.h"

static long ops_per, live, max;
static long seed0;

static void *worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    char **slot = calloc((size_t)live, sizeof *slot);
    uint64_t s = rng_seed((uint64_t)(seed0 * 1000 + id)), check = 0;
    for (long i = 0; i < ops_per; i++) {
        long k = (long)(rng_next(&s) % (uint64_t)live);
        if (slot[k]) { check += (unsigned char)slot[k][0]; free(slot[k]); }
        size_t n = mixed_size(&s, (size_t)max);
        char *p = malloc(n);
        if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
        p[0] = (char)i; p[n - 1] = (char)k;
        slot[k] = p;
    }
    for (long k = 0; k < live; k++) free(slot[k]);
    free(slot);
    return (void *)(uintptr_t)check;
}

int main(int argc, char **argv)
{
    long nt = arg(argc, argv, 1, 4);
    ops_per = arg(argc, argv, 2, 500000); live = arg(argc, argv, 3, 1000);
    max = arg(argc, argv, 4, 1024); seed0 = arg(argc, argv, 5, 1);
    if (nt < 1 || nt > 256 || live < 1 || max < 8) { fprintf(stderr, "usage: threads T OPS LIVE MAX SEED\n"); return 2; }
    pthread_t th[256];
    uint64_t check = 0;
    double t0 = bench_start();
    for (long t = 0; t < nt; t++) pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    for (long t = 0; t < nt; t++) { void *r; pthread_join(th[t], &r); check += (uintptr_t)r; }
    report(t0, check);
    return 0;
}
