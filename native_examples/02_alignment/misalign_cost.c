/* The cost of misaligned 8-byte accesses, measured.
 *   misalign_cost access     loads and stores at four places in a page-aligned buffer:
 *                            aligned, misaligned inside one 64-byte line, across a line,
 *                            across a 4 KiB page. Prints the median ns per access.
 *   misalign_cost splitlock  a lock-prefixed add on an aligned 8-byte word and on one
 *                            that straddles two cache lines (a "split lock").
 * Each access is one instruction written in inline assembly, so the compiler cannot
 * merge, split or remove it. Medians of REPEATS runs; print ratios, not times. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEATS 9

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

__attribute__((noinline)) static void loads(char *p, long n) {
    for (long i = 0; i < n; i++) {
        uint64_t v;
        __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(p) : "memory");
    }
}

__attribute__((noinline)) static void stores(char *p, long n) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("movq %1, (%0)" : : "r"(p), "r"((uint64_t)i) : "memory");
}

__attribute__((noinline)) static void locked_adds(char *p, long n) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("lock addq $1, (%0)" : : "r"(p) : "memory");
}

typedef void (*kernel)(char *, long);

static double per_op(kernel k, char *p, long n) {
    double t[REPEATS];
    k(p, n / 10 + 1);                                  /* warm up: page in, cache line in */
    for (int r = 0; r < REPEATS; r++) {
        double t0 = now_ns();
        k(p, n);
        t[r] = (now_ns() - t0) / n;
    }
    return median(t, REPEATS);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "access";
    char *buf = aligned_alloc(4096, 3 * 4096);
    memset(buf, 0, 3 * 4096);
    char *page = buf + 4096;                           /* a page boundary at page + 4096 */
    if (strcmp(mode, "access") == 0) {
        struct { const char *name; long off; } at[] = {
            {"aligned", 0},                             /* bytes 0..7 of a line */
            {"inside_line", 4},                         /* bytes 4..11: misaligned, one line */
            {"across_line", 64 - 4},                    /* bytes 60..67: two lines */
            {"across_page", 4096 - 4},                  /* last 4 bytes of one page, first 4 of the next */
        };
        long n = 1000000;
        for (int i = 0; i < 4; i++) {
            char *p = page + at[i].off;
            printf("%s load %.4f\n", at[i].name, per_op(loads, p, n));
            printf("%s store %.4f\n", at[i].name, per_op(stores, p, n));
        }
    } else if (strcmp(mode, "splitlock") == 0) {
        long n_split = argc > 2 ? atol(argv[2]) : 200;
        printf("aligned lock %.4f\n", per_op(locked_adds, page, 100000));
        printf("split lock %.4f\n", per_op(locked_adds, page + 64 - 4, n_split));
    } else {
        fprintf(stderr, "usage: %s access|splitlock [n]\n", argv[0]);
        return 2;
    }
    return 0;
}
