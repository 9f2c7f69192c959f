/* mdriver.c - the malloc lab's driver (lesson 09), after CS:APP's mdriver and memlib.
 *
 *   gcc -O2 -I. -I../01_heap_managers mdriver.c mm_talloc.c ../01_heap_managers/talloc.c -o mdriver
 *   ./mdriver TRACE [REPEATS=5]
 *   gcc -O2 -DMM_REFERENCE -I. mdriver.c mm_libc.c -o mdriver-ref     # glibc / mimalloc
 *
 * TRACE is a numeric trace (what labsupport.allocbench writes):
 *   first line  "IDS OPS", then one operation a line:
 *   a ID SIZE   allocate SIZE bytes as block ID
 *   r ID SIZE   resize block ID to SIZE bytes (mm_realloc)
 *   f ID        free block ID
 *
 * The heap belongs to the driver (CS:APP's memlib): 1 GiB of address space is
 * reserved without access, and mem_sbrk(n) opens the next n bytes to the
 * allocator.  The footprint is the highest break, measured here, never asked
 * of the allocator.  Beyond the break's page nothing is accessible: a write
 * there stops the run and is named.
 *
 * 1. Correctness, after every operation: every payload lies inside the heap,
 *    is aligned (16 bytes for requests of 16 bytes or more; a smaller request
 *    only needs the alignment of the largest power of two that fits in it, as
 *    C23 allows: WG14 N2293), overlaps no live block (a treap of live blocks),
 *    and keeps its bytes until it is freed or resized (a pattern, checked at
 *    free, at realloc, and for blocks still live at the end); mm_realloc keeps
 *    the old bytes; mm_malloc(0) may return NULL.  mm_checkheap() is called
 *    after every operation when the allocator defines it.  The first failing
 *    operation is named:  FAIL op N (a 7 24): why.  A crash inside the
 *    allocator is caught and named the same way.
 * 2. Utilisation: peak live bytes / peak footprint, in the same pass.
 * 3. Throughput: the trace replayed REPEATS times without checks, each on a
 *    fresh heap after mm_init, after one warm-up replay; the median time.
 *    After each replay, outside the timer, its pointers get the placement
 *    checks of pass 1 (in the heap, aligned, no overlap).
 *
 * Against an allocator that works around the checks from inside this process:
 * the trace is read-only; mem_sbrk keeps a second count of the break in a page
 * that is read-only except inside mem_sbrk (a disagreement with heap_peak ends
 * the run); bytes past the break in its last page must stay zero; and the
 * anonymous resident memory may grow in pass 1 by the heap plus RSS_SLACK at
 * most.  labsupport.allocbench.inspect_allocator refuses, before any run, the
 * object files that could get around these (other global names, constructors,
 * calls outside an allow-list, system-call instructions).
 *
 * Output (one line each):  OK ops=... / UTIL live=... footprint=... / TIME median=... min=... max=...
 *
 * With -DMM_REFERENCE (glibc, or mimalloc by LD_PRELOAD: allocators that take
 * their memory from the kernel themselves, not from mem_sbrk) there is no
 * driver heap: payloads are not checked to lie in one, and the footprint is
 * the growth of the process's resident memory (/proc/self/statm, whole pages)
 * above what it was before the trace, a different quantity, printed as
 * UTIL ... footprint_rss=...
 *
 * The driver's own memory comes from mmap, never from malloc, and is touched
 * before the trace starts, so it does not disturb what it measures.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
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
static int in_replay;            /* a timed replay's placement is being checked */

static void *get_mem(size_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { printf("ERROR cannot map %zu bytes for the driver\n", n); exit(2); }
    memset(p, 0, n);             /* touch now: the driver's pages are not the allocator's footprint */
    return p;
}

/* ---- the heap: CS:APP's memlib ---------------------------------------------------- */
#define MAX_HEAP ((size_t)1 << 30)
#ifndef RSS_SLACK
#define RSS_SLACK ((size_t)64 << 10)   /* the driver's own growth in a pass stays far below (measured) */
#endif
static char *heap_lo, *heap_brk;
static size_t heap_open;         /* bytes from heap_lo made accessible (whole pages) */
static size_t heap_peak;         /* the footprint: highest break seen */
static int shrink_tried;

/* A second record of the heap, kept by mem_sbrk alone in a page that is read-only
 * except inside mem_sbrk during the correctness pass: the sum of the increments it
 * granted, their peak, the bytes it opened, and the first byte past the break found
 * written.  The allocator runs in this process and could write heap_peak above; it
 * cannot write this page without a system call (which the lab refuses), so a
 * disagreement at the end means the driver's variables were changed. */
typedef struct { size_t total, peak, open; long past_break; int guarded; } shadow_t;
static shadow_t *shadow __attribute__((unused));

#ifndef MM_REFERENCE
static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static void heap_reset(void)
{
    if (!heap_lo) {
        void *p = mmap(NULL, MAX_HEAP, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) { printf("ERROR cannot reserve the heap\n"); exit(2); }
        heap_lo = p;
    } else if (heap_open && mmap(heap_lo, heap_open, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                                 -1, 0) == MAP_FAILED) {
        printf("ERROR cannot reset the heap\n"); exit(2);
    }
    heap_brk = heap_lo;
    heap_open = heap_peak = 0;
}

static void shadow_rw(int rw)
{
    if (mprotect(shadow, page_size(), rw ? PROT_READ | PROT_WRITE : PROT_READ) != 0) {
        printf("ERROR cannot protect the driver's record\n"); exit(2);
    }
}

/* bytes opened (whole page) but past the break must stay zero: 0, or the first written offset + 1 */
static long written_past(size_t from, size_t to)
{
    for (size_t k = from; k < to; k++) if (heap_lo[k]) return (long)k + 1;
    return 0;
}

void *mem_sbrk(intptr_t incr)
{
    if (incr < 0) { shrink_tried = 1; return (void *)-1; }         /* as memlib: the heap never shrinks */
    if ((size_t)incr > MAX_HEAP - (size_t)(heap_brk - heap_lo)) return (void *)-1;
    char *old = heap_brk;
    heap_brk += incr;
    size_t used = (size_t)(heap_brk - heap_lo), pg = page_size();
    size_t want = (used + pg - 1) / pg * pg;
    if (want > heap_open) {
        if (mprotect(heap_lo + heap_open, want - heap_open, PROT_READ | PROT_WRITE) != 0) {
            heap_brk = old;
            return (void *)-1;
        }
        heap_open = want;
    }
    if (used > heap_peak) heap_peak = used;
    if (shadow->guarded) {                 /* the correctness pass: check and record */
        size_t was = (size_t)(old - heap_lo), opened = shadow->open;
        shadow_rw(1);
        if (!shadow->past_break && was < opened) shadow->past_break = written_past(was, opened);
        shadow->total += (size_t)incr;
        if (shadow->total > shadow->peak) shadow->peak = shadow->total;
        size_t want = (shadow->total + pg - 1) / pg * pg;
        if (want > shadow->open) shadow->open = want;
        shadow_rw(0);
    }
    return old;
}
void *mem_heap_lo(void) { return heap_lo; }
void *mem_heap_hi(void) { return heap_brk - 1; }
size_t mem_heapsize(void) { return (size_t)(heap_brk - heap_lo); }
size_t mem_pagesize(void) { return page_size(); }
#else
static void heap_reset(void) {}
static long rss_base;
#endif

/* resident memory, without stdio (it could call malloc); anon: only the anonymous part
 * (resident minus file-backed and shared pages: the code of the driver and libc not counted) */
static long rss_bytes_of(int anon)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    long n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *s = buf;
    strtol(s, &s, 10);                     /* total pages */
    long res = strtol(s, &s, 10), shared = strtol(s, NULL, 10);
    return (anon ? res - shared : res) * sysconf(_SC_PAGESIZE);
}
#ifdef MM_REFERENCE
static long rss_bytes(void) { return rss_bytes_of(0); }
#endif

static void op_text(long i, char *buf, size_t n)
{
    op_t *o = &ops[i];
    if (o->kind == 'f') snprintf(buf, n, "f %d", o->id);
    else snprintf(buf, n, "%c %d %zu", o->kind, o->id, o->size);
}

static void on_crash(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    char buf[256], t[64];
    const char *why = sig == SIGSEGV ? "the allocator crashed (SIGSEGV)" : sig == SIGBUS ? "the allocator crashed (SIGBUS)"
                    : sig == SIGALRM ? "the allocator took too long" : "the allocator crashed (SIGABRT)";
    if ((sig == SIGSEGV || sig == SIGBUS) && heap_lo && si) {
        char *a = si->si_addr;
        if (a >= heap_lo + heap_open && a < heap_lo + MAX_HEAP)
            why = "the allocator touched memory past the end of the heap that mem_sbrk handed out (SIGSEGV)";
    }
    if (in_replay == 2) strcpy(t, "a timed replay, after the checked pass");
    else if (cur >= 0) op_text(cur, t, sizeof t); else strcpy(t, "mm_init");
    int n = snprintf(buf, sizeof buf, "FAIL op %ld (%s): %s\n", (long)cur + 1, t, why);
    if (write(1, buf, (size_t)n) < 0) {}
    _exit(1);
}

static int fail(long i, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(long i, const char *fmt, ...)
{
    char t[64], why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (i >= 0) op_text(i, t, sizeof t); else strcpy(t, "end of trace");
    printf("FAIL op %ld (%s): %s%s\n", i + 1, t, why,
           in_replay ? " (in a timed replay, after the checked pass: unchecked, the allocator placed it "
                       "differently)" : "");
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

/* a new payload: inside the heap, aligned, overlapping nothing.  0 if it is fine. */
static int placed(long i, int id, char *p, size_t n, const char *what)
{
#ifndef MM_REFERENCE
    if (p < heap_lo || p > heap_brk || (size_t)(heap_brk - p) < n) {
        if (p >= heap_lo && p < heap_lo + MAX_HEAP)
            return fail(i, "the %s payload [%zu, %zu) runs past the end of the heap (mem_sbrk has handed out %zu bytes)",
                        what, (size_t)(p - heap_lo), (size_t)(p - heap_lo) + n, mem_heapsize());
        return fail(i, "the %s payload lies outside the heap that mem_sbrk handed out: its memory came from "
                       "somewhere else (the C library's malloc, mmap, a static array)", what);
    }
#endif
    if ((uintptr_t)p % need_align(n))
        return fail(i, "payload is not %zu-byte aligned (address ends in 0x%x)", need_align(n),
                    (unsigned)((uintptr_t)p & 0xf));
    int clash = insert(id, p, n);
    if (clash >= 0) return fail(i, "the %s block overlaps live block %d", what, clash);
    return 0;
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
    heap_reset();
#ifdef MM_REFERENCE
    rss_base = rss_bytes();
#else
    shadow_rw(1);
    *shadow = (shadow_t){0, 0, 0, 0, 1};
    shadow_rw(0);
    long anon_base = rss_bytes_of(1);
#endif
    if (mm_init() != 0) { printf("FAIL op 0 (mm_init): mm_init returned an error\n"); return 1; }
    for (long i = 0; i < nops; i++) {
        op_t *o = &ops[i];
        int id = o->id;
        long at;
        cur = i;
        if (o->kind == 'a') {
            char *p = mm_malloc(o->size);
            if (!p && o->size) return fail(i, "mm_malloc returned NULL");
            if (p && placed(i, id, p, o->size, "new")) return 1;
            if (p) fill(id, p, 0, o->size);
            ptr[id] = p; len[id] = o->size; live += o->size;
        } else if (o->kind == 'f') {
            if (ptr[id] && (at = changed(id, ptr[id], len[id])) >= 0)
                return fail(i, "block %d was overwritten at byte %ld before it was freed", id, at);
            if (ptr[id]) { erase(id); mm_free(ptr[id]); }
            live -= len[id]; ptr[id] = NULL; len[id] = 0;
        } else {
            size_t old = len[id];
            if (ptr[id] && (at = changed(id, ptr[id], old)) >= 0)
                return fail(i, "block %d was overwritten at byte %ld before it was resized", id, at);
            if (ptr[id]) erase(id);
            char *p = mm_realloc(ptr[id], o->size);
            if (!p && o->size) return fail(i, "mm_realloc returned NULL");
            size_t keep = old < o->size ? old : o->size;
            if (p && placed(i, id, p, o->size, "resized")) return 1;
            if (p && (at = changed(id, p, keep)) >= 0)
                return fail(i, "mm_realloc did not keep the old bytes: byte %ld differs", at);
            if (p) fill(id, p, keep, o->size);
            live += o->size - old; ptr[id] = p; len[id] = p ? o->size : 0;
        }
        if (mm_checkheap && mm_checkheap(0) != 0)
            return fail(i, "mm_checkheap() says the heap is broken after this operation");
#ifndef MM_REFERENCE
        if (shadow->past_break)
            return fail(i, "the allocator wrote past the end of the heap (at byte %ld, beyond the break "
                           "mem_sbrk had handed out) before growing it", shadow->past_break - 1);
#endif
        if (live > *peak_live) *peak_live = live;
#ifdef MM_REFERENCE
        long fp = rss_bytes() - rss_base;
        if (fp > 0 && (size_t)fp > *peak_fp) *peak_fp = (size_t)fp;
#endif
    }
    cur = -1;
#ifndef MM_REFERENCE
    {
        long grew = rss_bytes_of(1) - anon_base;
        if (grew > 0 && (size_t)grew > shadow->open + RSS_SLACK)
            return fail(-1, "the process's memory grew by %zu bytes during the pass, %zu more than the heap "
                            "mem_sbrk opened: the allocator keeps memory outside the heap", (size_t)grew,
                        (size_t)grew - shadow->open);
        long past = written_past(shadow->total, shadow->open);
        if (past) return fail(-1, "the allocator wrote past the end of the heap (at byte %ld, beyond the break)", past - 1);
    }
#endif
    for (int id = 0; id < nids; id++) {              /* blocks still live at the end: their bytes too */
        long at;
        if (ptr[id] && (at = changed(id, ptr[id], len[id])) >= 0)
            return fail(-1, "block %d, still live at the end of the trace, was overwritten at byte %ld", id, at);
    }
    for (int id = 0; id < nids; id++) if (ptr[id]) { erase(id); mm_free(ptr[id]); ptr[id] = NULL; }
#ifndef MM_REFERENCE
    shadow_rw(1);
    shadow->guarded = 0;
    shadow_rw(0);
    if (shadow->peak != heap_peak || shadow->total != (size_t)(heap_brk - heap_lo) || shadow->open != heap_open)
        return fail(-1, "the driver's record of the heap was changed behind mem_sbrk's back (highest break %zu "
                        "by mem_sbrk's own count, %zu in the driver's variable)", shadow->peak, heap_peak);
    *peak_fp = shadow->peak;
    if (*peak_live > *peak_fp) { printf("ERROR peak live %zu above the footprint %zu\n", *peak_live, *peak_fp); return 1; }
#endif
    return 0;
}

/* ---- 3: throughput ----------------------------------------------------------------- */
static char **got;               /* replay: the pointer each operation returned */

static double replay(void)
{
    struct timespec t0, t1;
    heap_reset();
    in_replay = 2;
    if (mm_init() != 0) { printf("FAIL op 0 (mm_init): mm_init returned an error in a timed replay\n"); exit(1); }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < nops; i++) {
        op_t *o = &ops[i];
        if (o->kind == 'a') { got[i] = ptr[o->id] = mm_malloc(o->size); if (o->size && got[i]) got[i][0] = 1; }
        else if (o->kind == 'f') { if (ptr[o->id]) mm_free(ptr[o->id]); ptr[o->id] = NULL; }
        else { got[i] = ptr[o->id] = mm_realloc(ptr[o->id], o->size); if (o->size && got[i]) got[i][0] = 1; }
    }
    for (int id = 0; id < nids; id++) if (ptr[id]) { mm_free(ptr[id]); ptr[id] = NULL; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    in_replay = 0;
    return (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
}

/* after a timed replay, outside the timer: the same checks of placement as the
 * correctness pass (inside the heap, aligned, no overlap), on the pointers it got */
static int replay_placed(void)
{
    root = -1;
    for (int id = 0; id < nids; id++) ptr[id] = NULL;
    for (long i = 0; i < nops; i++) {
        op_t *o = &ops[i];
        int id = o->id;
        if (o->kind != 'a' && ptr[id]) { erase(id); ptr[id] = NULL; }
        if (o->kind == 'f' || (!got[i] && !o->size)) continue;
        in_replay = 1;
        if (!got[i]) return fail(i, "%s returned NULL", o->kind == 'a' ? "mm_malloc" : "mm_realloc");
        if (placed(i, id, got[i], o->size, o->kind == 'a' ? "new" : "resized")) return 1;
        in_replay = 0;
        ptr[id] = got[i];
    }
    for (int id = 0; id < nids; id++) ptr[id] = NULL;
    root = -1;
    return 0;
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
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL); sigaction(SIGBUS, &sa, NULL); sigaction(SIGABRT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    alarm(60);
    size_t peak_live, peak_fp;
#ifndef MM_REFERENCE
    shadow = get_mem(page_size());
    shadow_rw(0);
#endif
    got = get_mem((size_t)nops * sizeof *got);
    if (nops && mprotect(ops, (size_t)nops * sizeof *ops, PROT_READ) != 0) {   /* the trace is read-only */
        printf("ERROR cannot protect the trace\n"); return 2;
    }
    if (check_pass(&peak_live, &peak_fp)) return 1;
    printf("OK ops=%ld\n", nops);
#ifdef MM_REFERENCE
    printf("UTIL live=%zu footprint_rss=%zu\n", peak_live, peak_fp);
#else
    printf("UTIL live=%zu footprint=%zu%s\n", peak_live, peak_fp, shrink_tried ? " shrink_refused=1" : "");
#endif
    if (repeats > 0) {
        double t[1000];
        replay();                                             /* warm-up */
        if (replay_placed()) return 1;
        for (int k = 0; k < repeats; k++) {
            t[k] = replay();
            if (replay_placed()) return 1;
        }
        qsort(t, (size_t)repeats, sizeof t[0], cmp);
        printf("TIME median=%.9f min=%.9f max=%.9f repeats=%d\n", t[repeats / 2], t[0], t[repeats - 1], repeats);
    }
    return 0;
}
