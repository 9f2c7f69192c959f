/* The cost of misaligned 8-byte accesses, measured per access.
 *   misalign_cost access       at four places in a page-aligned buffer (aligned,
 *                              misaligned inside one 64-byte line, across a line, across
 *                              a 4 KiB page), three measurements each:
 *                                load     throughput: 8 independent loads per iteration
 *                                store    throughput: 8 stores per iteration
 *                                latency  8 dependent loads per iteration (each loads the
 *                                         address the next one reads: a pointer chase)
 *                              Prints "place kind ns-per-access": the fastest of REPEATS
 *                              rounds (the round nothing else interrupted: on a shared
 *                              machine a preempted round is slower, never faster); in
 *                              each round the order of the places is rotated, so no
 *                              place is always measured first.
 *   misalign_cost splitlock N  a lock-prefixed add on an aligned 8-byte word and N on one
 *                              that straddles two cache lines (a "split lock"); prints
 *                              the median ns per operation of each.
 * Every access is an instruction written in inline assembly, so the compiler cannot
 * merge, split or remove it; the loop's own cost is spread over 8 accesses. x86-64
 * only (the instructions are x86's). Print ratios, not times. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEATS 9

#if !defined(__x86_64__)
int main(void) {
    fprintf(stderr, "misalign_cost: x86-64 only (it times x86 instructions)\n");
    return 3;
}
#else

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) { qsort(v, n, sizeof *v, cmp); return v[n / 2]; }

static double fastest(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++) if (v[i] < m) m = v[i];
    return m;
}

#define L8(op) op op op op op op op op

__attribute__((noinline)) static void loads(char *p, long n) {
    for (long i = 0; i < n; i++) {
        uint64_t a, b, c, d, e, f, g, h;          /* 8 independent loads of the same address */
        __asm__ volatile("movq (%8), %0\n\tmovq (%8), %1\n\tmovq (%8), %2\n\tmovq (%8), %3\n\t"
                         "movq (%8), %4\n\tmovq (%8), %5\n\tmovq (%8), %6\n\tmovq (%8), %7"
                         : "=&r"(a), "=&r"(b), "=&r"(c), "=&r"(d), "=&r"(e), "=&r"(f), "=&r"(g), "=&r"(h)
                         : "r"(p) : "memory");
    }
}

__attribute__((noinline)) static void stores(char *p, long n) {
    for (long i = 0; i < n; i++)
        __asm__ volatile(L8("movq %1, (%0)\n\t") : : "r"(p), "r"((uint64_t)i) : "memory");
}

__attribute__((noinline)) static void chase(char *p, long n) {
    memcpy(p, &p, sizeof p);                       /* the 8 bytes at p hold p itself */
    char *q = p;
    for (long i = 0; i < n; i++)                   /* each load waits for the one before */
        __asm__ volatile(L8("movq (%0), %0\n\t") : "+r"(q) : : "memory");
}

__attribute__((noinline)) static void locked_adds(char *p, long n) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("lock addq $1, (%0)" : : "r"(p) : "memory");
}

typedef void (*kernel)(char *, long);

static double once(kernel k, char *p, long n, int per_iteration) {
    double t0 = now_ns();
    k(p, n);
    return (now_ns() - t0) / ((double)n * per_iteration);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "access";
    char *buf = aligned_alloc(4096, 3 * 4096);
    memset(buf, 0, 3 * 4096);
    char *page = buf + 4096;                           /* a page boundary at page + 4096 */
    if (strcmp(mode, "access") == 0) {
        static const struct { const char *name; long off; } at[] = {
            {"aligned", 0},                             /* bytes 0..7 of a line */
            {"inside_line", 4},                         /* bytes 4..11: misaligned, one line */
            {"across_line", 64 - 4},                    /* bytes 60..67: two lines */
            {"across_page", 4096 - 4},                  /* last 4 bytes of one page, first 4 of the next */
        };
        static const struct { const char *name; kernel k; } kinds[] = {
            {"load", loads}, {"store", stores}, {"latency", chase},
        };
        enum { PLACES = 4, KINDS = 3 };
        static double t[KINDS][PLACES][REPEATS];
        long n = 125000;                               /* x 8 = a million accesses a round */
        for (int k = 0; k < KINDS; k++)
            for (int i = 0; i < PLACES; i++)
                kinds[k].k(page + at[i].off, n / 10);  /* warm up: page in, lines in */
        for (int r = 0; r < REPEATS; r++)
            for (int j = 0; j < PLACES; j++) {
                int i = (j + r) % PLACES;              /* rotate: each place goes first in turn */
                for (int k = 0; k < KINDS; k++)
                    t[k][i][r] = once(kinds[k].k, page + at[i].off, n, 8);
            }
        for (int i = 0; i < PLACES; i++)
            for (int k = 0; k < KINDS; k++)
                printf("%s %s %.4f\n", at[i].name, kinds[k].name, fastest(t[k][i], REPEATS));
    } else if (strcmp(mode, "splitlock") == 0) {
        long n_split = argc > 2 ? atol(argv[2]) : 200;
        double a[REPEATS], s[REPEATS];
        locked_adds(page, 10000);
        locked_adds(page + 64 - 4, n_split / 10 + 1);
        for (int r = 0; r < REPEATS; r++) {
            a[r] = once(locked_adds, page, 100000, 1);
            s[r] = once(locked_adds, page + 64 - 4, n_split, 1);
        }
        printf("aligned lock %.4f\n", median(a, REPEATS));
        printf("split lock %.4f\n", median(s, REPEATS));
    } else {
        fprintf(stderr, "usage: %s access | splitlock [n]\n", argv[0]);
        return 2;
    }
    return 0;
}
#endif
