/* mdriver.c - the malloc lab's driver (lesson 09), after CS:APP's mdriver.
 *
 *   gcc -O2 mdriver.c mm_talloc.c ../01_heap_managers/talloc.c -I../01_heap_managers -o mdriver
 *   ./mdriver TRACE [REPEATS=5]
 *
 * TRACE is a numeric trace (what labsupport.allocbench writes):
 *   first line  "IDS OPS", then one operation a line:
 *   a ID SIZE   allocate SIZE bytes as block ID
 *   r ID SIZE   resize block ID to SIZE bytes (mm_realloc)
 *   f ID        free block ID
 *
 * 1. Correctness: every payload aligned (16 bytes for requests of 16 bytes or
 *    more; a smaller request only needs the alignment of the largest power of
 *    two that fits in it, as C23 allows: WG14 N2293), no overlap with any live block,
 *    its bytes unchanged until it is freed or resized, mm_realloc keeps the old
 *    bytes.  The first failing operation is named:  FAIL op N (a 7 24): why
 *    A crash inside the allocator is caught and named the same way.
 * 2. Utilisation: peak live bytes / peak mm_footprint(), measured in the same pass.
 * 3. Throughput: the trace replayed REPEATS times without checks, after one
 *    warm-up replay; the median replay time.
 *
 * Output (one line each):  OK ops=... / UTIL live=... footprint=... / TIME median=... min=... max=...
 * The driver's own memory comes from mmap, never from malloc, so it does not
 * disturb the allocator it measures.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mm.h"

typedef struct { char kind; int id; size_t size; } op_t;
typedef struct { uintptr_t lo, hi; unsigned pri; int l, r; } node_t;   /* treap of live blocks */

static op_t *ops;
static long nops, nids;
static node_t *nodes;            /* node i = block id i */
static char **ptr;
static size_t *len;
static int root = -1;
static char outbuf[1 << 14];

static volatile sig_atomic_t cur = -1;

static void *get_mem(size_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { printf("ERROR cannot map %zu bytes for the driver\n", n); exit(2); }
    memset(p, 0, n);             /* touch now: the driver's pages are not the allocator's footprint */
    return p;
}

static void op_text(long i, char *buf, size_t n)
{
    op_t *o = &ops[i];
    if (o->kind == 'f') snprintf(buf, n, "f %d", o->id);
    else snprintf(buf, n, "%c %d %zu", o->kind, o->id, o->size);
}

static void on_crash(int sig)
{
    char buf[128], t[64];
    if (cur >= 0) op_text(cur, t, sizeof t); else strcpy(t, "mm_init");
    int n = snprintf(buf, sizeof buf, "FAIL op %ld (%s): the allocator crashed (%s)\n", (long)cur + 1, t,
                     sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGALRM ? "took too long" : "SIGABRT");
    if (write(1, buf, (size_t)n) < 0) {}
    _exit(1);
}

static int fail(long i, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static int fail(long i, const char *fmt, ...)
{
    char t[64], why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    op_text(i, t, sizeof t);
    printf("FAIL op %ld (%s): %s\n", i + 1, t, why);
    return 1;
}

/* ---- a treap keyed by block start ------------------------------------------- */
static void split(int t, uintptr_t key, int *a, int *b)      /* a: lo < key, b: lo >= key */
{
    if (t < 0) { *a = *b = -1; return; }
    if (nodes[t].lo < key) { split(nodes[t].r, key, &nodes[t].r, b); *a = t; }
    else { split(nodes[t].l, key, a, &nodes[t].l); *b = t; }
}
static int merge(int a, int b)
{
    if (a < 0) return b;
    if (b < 0) return a;
    if (nodes[a].pri > nodes[b].pri) { nodes[a].r = merge(nodes[a].r, b); return a; }
    nodes[b].l = merge(a, nodes[b].l);
    return b;
}
static int rightmost(int t) { while (t >= 0 && nodes[t].r >= 0) t = nodes[t].r; return t; }
static int leftmost(int t) { while (t >= 0 && nodes[t].l >= 0) t = nodes[t].l; return t; }

/* insert block id at [p, p+n); returns the id it overlaps, or -1 */
static int insert(int id, char *p, size_t n)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + (n ? n : 1);
    int a, b;
    split(root, lo, &a, &b);
    int before = rightmost(a), after = leftmost(b);
    int clash = before >= 0 && nodes[before].hi > lo ? before : after >= 0 && nodes[after].lo < hi ? after : -1;
    if (clash < 0) {
        nodes[id] = (node_t){lo, hi, (unsigned)rand(), -1, -1};
        a = merge(a, id);
    }
    root = merge(a, b);
    return clash;
}
static void erase(int id)
{
    int a, b, m, c;
    split(root, nodes[id].lo, &a, &b);
    split(b, nodes[id].lo + 1, &m, &c);
    root = merge(a, c);
}

static size_t need_align(size_t n) { return n >= 16 ? 16 : n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1; }

static unsigned char pattern(int id, size_t k) { return (unsigned char)(id * 131 + k * 7 + 1); }
static void fill(int id, char *p, size_t from, size_t n) { for (size_t k = from; k < n; k++) p[k] = (char)pattern(id, k); }
static long changed(int id, const char *p, size_t n)
{
    for (size_t k = 0; k < n; k++) if ((unsigned char)p[k] != pattern(id, k)) return (long)k;
    return -1;
}

/* ---- reading the trace ------------------------------------------------------- */
static void read_trace(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) { printf("ERROR cannot read %s\n", path); exit(2); }
    char *text = get_mem((size_t)st.st_size + 1);
    for (size_t got = 0; got < (size_t)st.st_size; ) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n <= 0) { printf("ERROR cannot read %s\n", path); exit(2); }
        got += (size_t)n;
    }
    close(fd);
    char *s = text;
    nids = strtol(s, &s, 10);
    nops = strtol(s, &s, 10);
    if (nids < 0 || nops < 0) { printf("ERROR bad header in %s\n", path); exit(2); }
    ops = get_mem((size_t)nops * sizeof *ops);
    for (long i = 0; i < nops; i++) {
        while (*s == ' ' || *s == '\n') s++;
        char k = *s++;
        long id = strtol(s, &s, 10), size = 0;
        if (k == 'a' || k == 'r') size = strtol(s, &s, 10);
        if ((k != 'a' && k != 'r' && k != 'f') || id < 0 || id >= nids || size < 0) {
            printf("ERROR op %ld of %s is not 'a ID SIZE', 'r ID SIZE' or 'f ID'\n", i + 1, path);
            exit(2);
        }
        ops[i] = (op_t){k, (int)id, (size_t)size};
    }
    nodes = get_mem((size_t)nids * sizeof *nodes);
    ptr = get_mem((size_t)nids * sizeof *ptr);
    len = get_mem((size_t)nids * sizeof *len);
}

/* ---- 1 + 2: correctness and utilisation ---------------------------------------- */
static int check_pass(size_t *peak_live, size_t *peak_fp)
{
    size_t live = 0;
    *peak_live = *peak_fp = 0;
    cur = -1;
    if (mm_init() != 0) { printf("FAIL op 0 (mm_init): mm_init returned an error\n"); return 1; }
    for (long i = 0; i < nops; i++) {
        op_t *o = &ops[i];
        int id = o->id;
        long at;
        cur = i;
        if (o->kind == 'a') {
            char *p = mm_malloc(o->size);
            if (!p) return fail(i, "mm_malloc returned NULL");
            if ((uintptr_t)p % need_align(o->size))
                return fail(i, "payload is not %zu-byte aligned (address ends in 0x%x)", need_align(o->size),
                            (unsigned)((uintptr_t)p & 0xf));
            int clash = insert(id, p, o->size);
            if (clash >= 0) return fail(i, "the new block overlaps live block %d", clash);
            fill(id, p, 0, o->size);
            ptr[id] = p; len[id] = o->size; live += o->size;
        } else if (o->kind == 'f') {
            if ((at = changed(id, ptr[id], len[id])) >= 0)
                return fail(i, "block %d was overwritten at byte %ld before it was freed", id, at);
            erase(id);
            mm_free(ptr[id]);
            live -= len[id]; ptr[id] = NULL;
        } else {
            size_t old = len[id];
            if (ptr[id] && (at = changed(id, ptr[id], old)) >= 0)
                return fail(i, "block %d was overwritten at byte %ld before it was resized", id, at);
            if (ptr[id]) erase(id);
            char *p = mm_realloc(ptr[id], o->size);
            if (!p && o->size) return fail(i, "mm_realloc returned NULL");
            if (p && (uintptr_t)p % need_align(o->size))
                return fail(i, "payload is not %zu-byte aligned (address ends in 0x%x)", need_align(o->size),
                            (unsigned)((uintptr_t)p & 0xf));
            size_t keep = old < o->size ? old : o->size;
            if ((at = changed(id, p, keep)) >= 0)
                return fail(i, "mm_realloc did not keep the old bytes: byte %ld differs", at);
            int clash = insert(id, p, o->size);
            if (clash >= 0) return fail(i, "the resized block overlaps live block %d", clash);
            fill(id, p, keep, o->size);
            live += o->size - old; ptr[id] = p; len[id] = o->size;
        }
        if (live > *peak_live) *peak_live = live;
        size_t fp = mm_footprint();
        if (fp > *peak_fp) *peak_fp = fp;
    }
    cur = -1;
    for (int id = 0; id < nids; id++) if (ptr[id]) { mm_free(ptr[id]); ptr[id] = NULL; }
    return 0;
}

/* ---- 3: throughput ----------------------------------------------------------------- */
static double replay(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < nops; i++) {
        op_t *o = &ops[i];
        if (o->kind == 'a') { ptr[o->id] = mm_malloc(o->size); if (o->size) ptr[o->id][0] = 1; }
        else if (o->kind == 'f') { mm_free(ptr[o->id]); ptr[o->id] = NULL; }
        else { ptr[o->id] = mm_realloc(ptr[o->id], o->size); if (o->size) ptr[o->id][0] = 1; }
    }
    for (int id = 0; id < nids; id++) if (ptr[id]) { mm_free(ptr[id]); ptr[id] = NULL; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);           /* stdio must not call malloc */
    if (argc < 2) { printf("usage: mdriver TRACE [REPEATS]\n"); return 2; }
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (repeats < 0 || repeats > 1000) repeats = 5;
    read_trace(argv[1]);
    srand(1);
    signal(SIGSEGV, on_crash); signal(SIGBUS, on_crash); signal(SIGABRT, on_crash); signal(SIGALRM, on_crash);
    alarm(60);
    size_t peak_live, peak_fp;
    if (check_pass(&peak_live, &peak_fp)) return 1;
    printf("OK ops=%ld\n", nops);
    printf("UTIL live=%zu footprint=%zu\n", peak_live, peak_fp);
    if (repeats > 0) {
        double t[1000];
        mm_init();
        replay();                                             /* warm-up */
        for (int k = 0; k < repeats; k++) { mm_init(); t[k] = replay(); }
        qsort(t, (size_t)repeats, sizeof t[0], cmp);
        printf("TIME median=%.9f min=%.9f max=%.9f repeats=%d\n", t[repeats / 2], t[0], t[repeats - 1], repeats);
    }
    return 0;
}
