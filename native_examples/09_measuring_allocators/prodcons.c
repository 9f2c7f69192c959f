/* prodcons: producers allocate, consumers free: every free comes from another thread.
 *
 *   prodcons [PAIRS=1] [ITEMS=1000000] [BATCH=64] [MAX=256] [SEED=1]
 *
 * Each producer mallocs ITEMS blocks (8..MAX bytes), writes them, and hands them
 * to its consumer in batches of BATCH pointers through a small locked queue; the
 * consumer reads and frees them.  A pipeline, a server handing requests to
 * workers, a logger thread: cross-thread frees are common, and allocators treat
 * them very differently.
 */
#include <pthread.h>
#include "bench.h"

#define QCAP 16                           /* batches in flight per pair */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    char **q[QCAP];
    int head, count, done;
    long items, batch, max;
    uint64_t seed, check;
} pair_t;

static void *producer(void *arg)
{
    pair_t *pr = arg;
    uint64_t s = rng_seed(pr->seed);
    for (long i = 0; i < pr->items; ) {
        char **b = malloc((size_t)pr->batch * sizeof *b);
        long n = 0;
        for (; n < pr->batch && i < pr->items; n++, i++) {
            size_t sz = 8 + (size_t)(rng_next(&s) % (uint64_t)(pr->max - 7));
            char *p = malloc(sz);
            if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
            p[0] = (char)i; p[sz - 1] = (char)n;
            b[n] = p;
        }
        for (; n < pr->batch; n++) b[n] = NULL;
        pthread_mutex_lock(&pr->mu);
        while (pr->count == QCAP) pthread_cond_wait(&pr->not_full, &pr->mu);
        pr->q[(pr->head + pr->count++) % QCAP] = b;
        pthread_cond_signal(&pr->not_empty);
        pthread_mutex_unlock(&pr->mu);
    }
    pthread_mutex_lock(&pr->mu);
    pr->done = 1;
    pthread_cond_signal(&pr->not_empty);
    pthread_mutex_unlock(&pr->mu);
    return NULL;
}

static void *consumer(void *arg)
{
    pair_t *pr = arg;
    for (;;) {
        pthread_mutex_lock(&pr->mu);
        while (pr->count == 0 && !pr->done) pthread_cond_wait(&pr->not_empty, &pr->mu);
        if (pr->count == 0 && pr->done) { pthread_mutex_unlock(&pr->mu); break; }
        char **b = pr->q[pr->head];
        pr->head = (pr->head + 1) % QCAP; pr->count--;
        pthread_cond_signal(&pr->not_full);
        pthread_mutex_unlock(&pr->mu);
        for (long n = 0; n < pr->batch && b[n]; n++) { pr->check += (unsigned char)b[n][0]; free(b[n]); }
        free(b);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long pairs = arg(argc, argv, 1, 1), items = arg(argc, argv, 2, 1000000);
    long batch = arg(argc, argv, 3, 64), max = arg(argc, argv, 4, 256), seed = arg(argc, argv, 5, 1);
    if (pairs < 1 || pairs > 64 || batch < 1 || max < 8) { fprintf(stderr, "usage: prodcons PAIRS ITEMS BATCH MAX SEED\n"); return 2; }
    pair_t *pr = calloc((size_t)pairs, sizeof *pr);
    pthread_t th[128];
    double t0 = bench_start();
    for (long i = 0; i < pairs; i++) {
        pthread_mutex_init(&pr[i].mu, NULL);
        pthread_cond_init(&pr[i].not_full, NULL);
        pthread_cond_init(&pr[i].not_empty, NULL);
        pr[i].items = items; pr[i].batch = batch; pr[i].max = max; pr[i].seed = (uint64_t)(seed * 100 + i);
        pthread_create(&th[2 * i], NULL, producer, &pr[i]);
        pthread_create(&th[2 * i + 1], NULL, consumer, &pr[i]);
    }
    uint64_t check = 0;
    for (long i = 0; i < 2 * pairs; i++) pthread_join(th[i], NULL);
    for (long i = 0; i < pairs; i++) check += pr[i].check;
    report(t0, check);
    return 0;
}
