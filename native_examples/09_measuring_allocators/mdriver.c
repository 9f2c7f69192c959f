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
 * reserved without access at a fixed address, and mem_sbrk(n) opens the next n
 * bytes to the allocator.  The footprint is the highest break, measured here,
 * never asked of the allocator.  Beyond the break's page nothing is
 * accessible: a write there stops the run and is named.
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
 * 3. Throughput: the trace replayed REPEATS times without checks, after one
 *    warm-up replay; the median time.  Between replays only the break is reset
 *    (memlib's mem_reset_brk): the pages the checked pass opened stay open, and
 *    are zeroed (so touched) before the timer starts, so the time is the
 *    allocator's, not the kernel's page faults.  After each replay, outside the
 *    timer, every pointer it returned must be at the offset the checked pass
 *    returned for the same operation, and its highest break the same: the
 *    allocator that was timed is the one that was checked.
 *
 * Against an allocator that works around the checks from inside this process.
 * Everything the result is made of (the break, the bytes opened, the highest
 * break, the offsets of the checked pass, the replay times, the pointers to the
 * driver's arrays) lives in pages at fixed addresses (constants of this file,
 * not pointers in writable memory) that are mapped read-only whenever allocator
 * code runs; the driver's own code opens them around each of its writes.  This
 * stops plain writes only (see below).  The trace
 * is read-only at a fixed address; the checked pass's offsets are not even
 * readable during the replays.  Bytes past the break in its last page must stay
 * zero; the anonymous resident memory may grow in pass 1 by the heap plus
 * RSS_SLACK at most.  The report is written with write(2) from those pages, not
 * through stdio's buffer.  labsupport.allocbench.inspect_allocator refuses,
 * before any run, the source and object files that could get around these
 * (inline assembly, as written and after the preprocessor, other global names,
 * constructors, calls outside an exact allow-list, the bytes of a system-call
 * instruction).
 * What an in-process driver does not stop: the allocator can call code whose
 * address it computes, mprotect included (from abort's address, or read from
 * this driver's own GOT slot, a link-time constant distance from the
 * allocator's statics); one such call makes the record writable, and a
 * reader's unchanged first fit forged utilisation 1.000 that way.  It can also
 * write this driver's stack (return addresses, local counters), its scratch
 * arrays and its static variables (rbrk, rpeak, rover, root, cur).  Only a
 * separate process (the allocator in a child with a shared heap and a seccomp
 * system-call filter) would close these; this driver does not do it.  The
 * score is for learners who play by the rules: the checks catch the mistakes
 * and shortcuts an honest learner makes.
 *
 * Output (one line each):  OK ops=... / UTIL live=... footprint=... / TIME median=... min=... max=... repeats=...
 *                           or FAIL op N (...): ... / ERROR ...
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
#ifndef MM_REFERENCE
#include "talloc.h"
#endif

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

typedef struct { char kind; int id; size_t size; } op_t;
typedef struct { uintptr_t lo, hi; unsigned pri; int l, r; } node_t;   /* treap of live blocks */

/* ---- the driver's trusted state: fixed addresses, read-only while the allocator runs ---- */
#define MAX_REPEATS 1000
#define MAX_HEAP ((size_t)1 << 30)
#define STATE_ADDR ((uintptr_t)0x3e0000000000)          /* the record below */
#define OPS_ADDR   ((uintptr_t)0x3e0100000000)          /* the trace (read-only) */
#define REF_ADDR   ((uintptr_t)0x3e0200000000)          /* offsets of the checked pass */
#define HEAP_ADDR  ((uintptr_t)0x3f0000000000)          /* the heap: MAX_HEAP reserved */
#define HEAP ((char *)HEAP_ADDR)

enum { MODE_IDLE, MODE_CHECK, MODE_REPLAY };
typedef struct {
    size_t brk, open, peak;      /* checked pass: the break, bytes opened (whole pages), highest break */
    long past_break;             /* first byte found written past the break, + 1 */
    int mode, shrink_tried;
    long nops, nids;
    size_t peak_live;
    node_t *nodes;               /* the driver's scratch arrays */
    char **ptr, **got;
    size_t *len;
    struct timespec t0;          /* a replay's start */
    int ntimes;
    double t[MAX_REPEATS];
} state_t;
#define S ((state_t *)STATE_ADDR)
#define OPS ((const op_t *)OPS_ADDR)
#define REF ((long *)REF_ADDR)                            /* offset from HEAP, or -1 for NULL */
#ifndef RSS_SLACK
#define RSS_SLACK ((size_t)16 << 10)   /* the driver's own growth in a pass (stack): measured below 8 KiB */
#endif

static char outbuf[1 << 14];
static volatile sig_atomic_t cur = -1;
static int in_replay;            /* 2: in a timed replay */

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }
static size_t pages(size_t n) { size_t pg = page_size(); return (n + pg - 1) / pg * pg; }
static size_t state_bytes(void) { return pages(sizeof(state_t)); }

static void *map_at(uintptr_t addr, size_t n, int prot, int extra)
{
    void *p = mmap((void *)addr, n, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | extra, -1, 0);
    if (p != (void *)addr) { printf("ERROR cannot map the driver's memory at %#lx\n", (unsigned long)addr); exit(2); }
    return p;
}
static void protect(uintptr_t addr, size_t n, int prot)
{
    if (n && mprotect((void *)addr, pages(n), prot) != 0) { printf("ERROR cannot protect the driver's memory\n"); exit(2); }
}
static void st_rw(int rw) { protect(STATE_ADDR, state_bytes(), rw ? PROT_READ | PROT_WRITE : PROT_READ); }

static void *get_mem(size_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { printf("ERROR cannot map %zu bytes for the driver\n", n); exit(2); }
    memset(p, 0, n);             /* touch now: the driver's pages are not the allocator's footprint */
    return p;
}

/* the driver's report: formatted here, written with write(2), not through stdio's buffer */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (n > 0 && write(1, buf, (size_t)n) < 0) {}
}

/* ---- the heap: CS:APP's memlib ---------------------------------------------------- */
#ifndef MM_REFERENCE
static size_t rbrk, rpeak;       /* a timed replay's break (no system call per mem_sbrk) */
static int rover;                /* a timed replay asked for more than the checked pass's highest break */

static void heap_reset(void)
{
    static int mapped;
    if (!mapped) { map_at(HEAP_ADDR, MAX_HEAP, PROT_NONE, MAP_NORESERVE); mapped = 1; }
    st_rw(1);
    S->brk = S->open = S->peak = 0;
    S->past_break = 0;
    st_rw(0);
}

/* bytes opened (whole page) but past the break must stay zero: 0, or the first written offset + 1 */
static long written_past(size_t from, size_t to)
{
    for (size_t k = from; k < to; k++) if (HEAP[k]) return (long)k + 1;
    return 0;
}

void *mem_sbrk(intptr_t incr)
{
    if (S->mode == MODE_REPLAY) {          /* the pages are open already: no system call in the timer */
        if (incr < 0) return (void *)-1;
        if ((size_t)incr > S->peak - rbrk) { rover = 1; return (void *)-1; }
        char *old = HEAP + rbrk;
        rbrk += (size_t)incr;
        if (rbrk > rpeak) rpeak = rbrk;
        return old;
    }
    if (S->mode != MODE_CHECK) return (void *)-1;
    if (incr < 0) {                        /* as memlib: the heap never shrinks */
        if (!S->shrink_tried) { st_rw(1); S->shrink_tried = 1; st_rw(0); }
        return (void *)-1;
    }
    if ((size_t)incr > MAX_HEAP - S->brk) return (void *)-1;
    size_t was = S->brk, used = was + (size_t)incr, want = pages(used);
    st_rw(1);
    if (!S->past_break && was < S->open) S->past_break = written_past(was, S->open);
    if (want > S->open) {
        if (mprotect(HEAP + S->open, want - S->open, PROT_READ | PROT_WRITE) != 0) { st_rw(0); return (void *)-1; }
        S->open = want;
    }
    S->brk = used;
    if (used > S->peak) S->peak = used;
    st_rw(0);
    return HEAP + was;
}
static size_t cur_brk(void) { return S->mode == MODE_REPLAY ? rbrk : S->brk; }
void *mem_heap_lo(void) { return HEAP; }
void *mem_heap_hi(void) { return HEAP + cur_brk() - 1; }
size_t mem_heapsize(void) { return cur_brk(); }
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
    const op_t *o = &OPS[i];
    if (o->kind == 'f') snprintf(buf, n, "f %d", o->id);
    else snprintf(buf, n, "%c %d %zu", o->kind, o->id, o->size);
}

static void on_crash(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx; (void)si;
    char buf[256], t[64];
    const char *why = sig == SIGSEGV ? "the allocator crashed (SIGSEGV)" : sig == SIGBUS ? "the allocator crashed (SIGBUS)"
                    : sig == SIGALRM ? "the allocator took too long" : "the allocator crashed (SIGABRT)";
#ifndef MM_REFERENCE
    if ((sig == SIGSEGV || sig == SIGBUS) && si) {
        char *a = si->si_addr;
        if (a >= HEAP + S->open && a < HEAP + MAX_HEAP)
            why = "the allocator touched memory past the end of the heap that mem_sbrk handed out (SIGSEGV)";
        else if ((uintptr_t)a >= STATE_ADDR && (uintptr_t)a < HEAP_ADDR)
            why = "the allocator wrote to, or read, the driver's own record (SIGSEGV)";
    }
#endif
    if (in_replay == 2) strcpy(t, "a timed replay, after the checked pass");
    else if (cur >= 0 && cur < S->nops) op_text(cur, t, sizeof t); else strcpy(t, "mm_init");
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
    say("FAIL op %ld (%s): %s%s\n", i + 1, t, why,
        in_replay ? " (in a timed replay, after the checked pass: the same code must place the same blocks "
                    "on every pass)" : "");
    return 1;
}

/* ---- a treap keyed by block start ------------------------------------------- */
static int root = -1;
#define NODES (S->nodes)
static void split(int t, uintptr_t key, int *a, int *b)      /* a: lo < key, b: lo >= key */
{
    if (t < 0) { *a = *b = -1; return; }
    if (NODES[t].lo < key) { split(NODES[t].r, key, &NODES[t].r, b); *a = t; }
    else { split(NODES[t].l, key, a, &NODES[t].l); *b = t; }
}
static int merge(int a, int b)
{
    if (a < 0) return b;
    if (b < 0) return a;
    if (NODES[a].pri > NODES[b].pri) { NODES[a].r = merge(NODES[a].r, b); return a; }
    NODES[b].l = merge(a, NODES[b].l);
    return b;
}
static int rightmost(int t) { while (t >= 0 && NODES[t].r >= 0) t = NODES[t].r; return t; }
static int leftmost(int t) { while (t >= 0 && NODES[t].l >= 0) t = NODES[t].l; return t; }

/* insert block id at [p, p+n); returns the id it overlaps, or -1 */
static int insert(int id, char *p, size_t n)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + (n ? n : 1);
    int a, b;
    split(root, lo, &a, &b);
    int before = rightmost(a), after = leftmost(b);
    int clash = before >= 0 && NODES[before].hi > lo ? before : after >= 0 && NODES[after].lo < hi ? after : -1;
    if (clash < 0) {
        NODES[id] = (node_t){lo, hi, (unsigned)rand(), -1, -1};
        a = merge(a, id);
    }
    root = merge(a, b);
    return clash;
}
static void erase(int id)
{
    int a, b, m, c;
    split(root, NODES[id].lo, &a, &b);
    split(b, NODES[id].lo + 1, &m, &c);
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
    if (p < HEAP || p > HEAP + S->brk || (size_t)(HEAP + S->brk - p) < n) {
        if (p >= HEAP && p < HEAP + MAX_HEAP)
            return fail(i, "the %s payload [%zu, %zu) runs past the end of the heap (mem_sbrk has handed out %zu bytes)",
                        what, (size_t)(p - HEAP), (size_t)(p - HEAP) + n, S->brk);
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

#ifndef MM_REFERENCE
/* the checked pass's offset of operation i, written with the page open only for the write */
static void ref_put(long i, char *p)
{
    uintptr_t at = (uintptr_t)&REF[i], pg = page_size();
    protect(at & ~(pg - 1), pg, PROT_READ | PROT_WRITE);
    REF[i] = p ? (long)(p - HEAP) : -1;
    protect(at & ~(pg - 1), pg, PROT_READ);
}
#endif

/* ---- reading the trace ------------------------------------------------------- */
static void read_trace(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) { printf("ERROR cannot read %s\n", path); exit(2); }
    size_t textlen = (size_t)st.st_size + 1;
    char *text = get_mem(textlen);
    for (size_t got = 0; got < (size_t)st.st_size; ) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n <= 0) { printf("ERROR cannot read %s\n", path); exit(2); }
        got += (size_t)n;
    }
    close(fd);
    char *s = text;
    long nids = strtol(s, &s, 10), nops = strtol(s, &s, 10);
    if (nids < 0 || nops < 0 || nids > (1L << 26) || nops > (1L << 26)) { printf("ERROR bad header in %s\n", path); exit(2); }
    op_t *ops = map_at(OPS_ADDR, (size_t)nops * sizeof *ops + 1, PROT_READ | PROT_WRITE, 0);
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
    munmap(text, textlen);                        /* no driver scratch left for the allocator */
    protect(OPS_ADDR, (size_t)nops * sizeof *ops + 1, PROT_READ);    /* the trace is read-only */
    st_rw(1);
    S->nops = nops;
    S->nids = nids;
    S->nodes = get_mem((size_t)nids * sizeof(node_t));
    S->ptr = get_mem((size_t)nids * sizeof(char *));
    S->len = get_mem((size_t)nids * sizeof(size_t));
    st_rw(0);
#ifndef MM_REFERENCE
    map_at(REF_ADDR, (size_t)nops * sizeof(long) + 1, PROT_READ | PROT_WRITE, 0);
    memset(REF, 0, (size_t)nops * sizeof(long));  /* touched now, before the pass */
    protect(REF_ADDR, (size_t)nops * sizeof(long) + 1, PROT_READ);
#endif
}

/* ---- 1 + 2: correctness and utilisation ---------------------------------------- */
static int check_pass(size_t *peak_live)
{
    size_t live = 0;
    char **ptr = S->ptr;
    size_t *len = S->len;
    *peak_live = 0;
    cur = -1;
    heap_reset();
    st_rw(1);
    S->mode = MODE_CHECK;
    st_rw(0);
#ifdef MM_REFERENCE
    size_t peak_fp = 0;
    rss_base = rss_bytes();
#else
    long anon_base = rss_bytes_of(1);
#endif
    if (mm_init() != 0) { say("FAIL op 0 (mm_init): mm_init returned an error\n"); return 1; }
    for (long i = 0; i < S->nops; i++) {
        const op_t *o = &OPS[i];
        int id = o->id;
        long at;
        cur = i;
        if (o->kind == 'a') {
            char *p = mm_malloc(o->size);
            if (!p && o->size) return fail(i, "mm_malloc returned NULL");
            if (p && placed(i, id, p, o->size, "new")) return 1;
            if (p) fill(id, p, 0, o->size);
#ifndef MM_REFERENCE
            ref_put(i, p);
#endif
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
#ifndef MM_REFERENCE
            ref_put(i, p);
#endif
            live += o->size - old; ptr[id] = p; len[id] = p ? o->size : 0;
        }
        if (mm_checkheap && mm_checkheap(0) != 0)
            return fail(i, "mm_checkheap() says the heap is broken after this operation");
#ifndef MM_REFERENCE
        if (S->past_break)
            return fail(i, "the allocator wrote past the end of the heap (at byte %ld, beyond the break "
                           "mem_sbrk had handed out) before growing it", S->past_break - 1);
#endif
        if (live > *peak_live) *peak_live = live;
#ifdef MM_REFERENCE
        long fp = rss_bytes() - rss_base;
        if (fp > 0 && (size_t)fp > peak_fp) peak_fp = (size_t)fp;
#endif
    }
    cur = -1;
#ifndef MM_REFERENCE
    {
        long grew = rss_bytes_of(1) - anon_base;
        if (grew > 0 && (size_t)grew > S->open + RSS_SLACK)
            return fail(-1, "the process's memory grew by %zu bytes during the pass, %zu more than the heap "
                            "mem_sbrk opened (the driver's own need stays under %zu): the allocator keeps memory "
                            "outside the heap", (size_t)grew, (size_t)grew - S->open, (size_t)RSS_SLACK);
        long past = written_past(S->brk, S->open);
        if (past) return fail(-1, "the allocator wrote past the end of the heap (at byte %ld, beyond the break)", past - 1);
    }
#endif
    for (int id = 0; id < S->nids; id++) {              /* blocks still live at the end: their bytes too */
        long at;
        if (ptr[id] && (at = changed(id, ptr[id], len[id])) >= 0)
            return fail(-1, "block %d, still live at the end of the trace, was overwritten at byte %ld", id, at);
    }
    for (int id = 0; id < S->nids; id++) if (ptr[id]) { erase(id); mm_free(ptr[id]); ptr[id] = NULL; }
    protect((uintptr_t)S->nodes, (size_t)S->nids * sizeof(node_t), PROT_NONE);   /* unused by the replays: */
    protect((uintptr_t)S->len, (size_t)S->nids * sizeof(size_t), PROT_NONE);     /* no hidden bookkeeping */
    st_rw(1);
    S->mode = MODE_IDLE;
    S->peak_live = *peak_live;
#ifdef MM_REFERENCE
    S->peak = peak_fp;
#endif
    st_rw(0);
#ifndef MM_REFERENCE
    if (*peak_live > S->peak) { say("ERROR peak live %zu above the footprint %zu\n", *peak_live, S->peak); return 1; }
    protect(REF_ADDR, (size_t)S->nops * sizeof(long) + 1, PROT_NONE);   /* not an oracle for the replays */
#endif
    return 0;
}

/* ---- 3: throughput ----------------------------------------------------------------- */
static double replay(void)
{
    struct timespec t1;
    char **ptr = S->ptr, **got = S->got;
    const op_t *ops = OPS;
    long nops = S->nops;
    memset(ptr, 0, (size_t)S->nids * sizeof *ptr);
    memset(got, 0, (size_t)nops * sizeof *got);
#ifndef MM_REFERENCE
    memset(HEAP, 0, S->open);                     /* a fresh heap, as the checked pass had, and touched */
    rbrk = rpeak = 0;
    rover = 0;
#endif
    in_replay = 2;
    st_rw(1);
    S->mode = MODE_REPLAY;
    st_rw(0);
    if (mm_init() != 0) { say("FAIL op 0 (mm_init): mm_init returned an error in a timed replay\n"); exit(1); }
    st_rw(1);
    clock_gettime(CLOCK_MONOTONIC, &S->t0);       /* kept where the allocator cannot write: the timer */
    st_rw(0);                                     /* includes this one mprotect, on both paths alike */
    for (long i = 0; i < nops; i++) {
        const op_t *o = &ops[i];
        if (o->kind == 'a') { got[i] = ptr[o->id] = mm_malloc(o->size); if (o->size && got[i]) got[i][0] = 1; }
        else if (o->kind == 'f') { if (ptr[o->id]) mm_free(ptr[o->id]); ptr[o->id] = NULL; }
        else { got[i] = ptr[o->id] = mm_realloc(ptr[o->id], o->size); if (o->size && got[i]) got[i][0] = 1; }
    }
    for (int id = 0; id < S->nids; id++) if (ptr[id]) { mm_free(ptr[id]); ptr[id] = NULL; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    in_replay = 0;
    double dt = (double)(t1.tv_sec - S->t0.tv_sec) + (t1.tv_nsec - S->t0.tv_nsec) * 1e-9;
    st_rw(1);
    S->mode = MODE_IDLE;
    st_rw(0);
    return dt;
}

/* after a timed replay, outside the timer: the same offsets as the checked pass, the same highest break */
static int replay_same(void)
{
#ifndef MM_REFERENCE
    char **got = S->got;
    if (rover)
        return fail(-1, "a timed replay asked mem_sbrk for more than the %zu bytes the checked pass reached "
                        "(in a timed replay, after the checked pass: the same code must place the same blocks "
                        "on every pass)", S->peak);
    protect(REF_ADDR, (size_t)S->nops * sizeof(long) + 1, PROT_READ);
    for (long i = 0; i < S->nops; i++) {
        const op_t *o = &OPS[i];
        if (o->kind == 'f') continue;
        long off = got[i] ? (long)(got[i] - HEAP) : -1;
        if (off != REF[i]) {
            in_replay = 1;
            if (off < 0) return fail(i, "%s returned NULL", o->kind == 'a' ? "mm_malloc" : "mm_realloc");
            return fail(i, "returned heap offset %ld, where the checked pass returned %ld", off, REF[i]);
        }
    }
    protect(REF_ADDR, (size_t)S->nops * sizeof(long) + 1, PROT_NONE);
    if (rpeak != S->peak) {
        in_replay = 1;
        return fail(-1, "a timed replay's highest break was %zu bytes, the checked pass's %zu", rpeak, S->peak);
    }
#endif
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#ifndef MM_REFERENCE
/* talloc.c's ta_check keeps a 32 KiB table of its own: touch it before the pass (a heap whose
 * first block is broken makes ta_check clear the whole table and stop), so that the pass's
 * memory growth is the allocator's */
static void touch_ta_check(void)
{
    size_t n = ((size_t)1 << 22) - 128;         /* ta_check clears size/128 + 1 bytes of its 32 KiB table */
    unsigned char *a = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a == MAP_FAILED) return;
    ta_heap h = {0};
    h.base = a;
    h.size = n;
    *(size_t *)a = TA_USED;                        /* prologue */
    *(size_t *)(a + n - TA_TAG) = TA_USED;         /* epilogue */
    *(size_t *)(a + TA_TAG) = 3;                   /* a header with stray bits: ta_check stops there */
    char msg[8];
    ta_check(&h, msg, sizeof msg);
    munmap(a, n);
}
#endif

int main(int argc, char **argv)
{
    setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);           /* stdio must not call malloc */
    if (argc < 2) { printf("usage: mdriver TRACE [REPEATS]\n"); return 2; }
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (repeats < 0 || repeats > MAX_REPEATS) repeats = 5;
    map_at(STATE_ADDR, state_bytes(), PROT_READ | PROT_WRITE, 0);
    memset(S, 0, sizeof *S);
    st_rw(0);
    read_trace(argv[1]);
    srand(1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL); sigaction(SIGBUS, &sa, NULL); sigaction(SIGABRT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    alarm(60);
#ifndef MM_REFERENCE
    touch_ta_check();
#endif
    size_t peak_live;
    if (check_pass(&peak_live)) return 1;
    say("OK ops=%ld\n", S->nops);
#ifdef MM_REFERENCE
    say("UTIL live=%zu footprint_rss=%zu\n", S->peak_live, S->peak);
#else
    say("UTIL live=%zu footprint=%zu%s\n", S->peak_live, S->peak, S->shrink_tried ? " shrink_refused=1" : "");
#endif
    if (repeats > 0) {
        char **got = get_mem((size_t)S->nops * sizeof(char *) + 1);   /* mapped after the checked pass */
        st_rw(1);
        S->got = got;
        st_rw(0);
        replay();                                             /* warm-up */
        if (replay_same()) return 1;
        for (int k = 0; k < repeats; k++) {
            double dt = replay();
            st_rw(1);
            S->t[k] = dt;
            S->ntimes = k + 1;
            st_rw(0);
            if (replay_same()) return 1;
        }
        double t[MAX_REPEATS];
        memcpy(t, S->t, (size_t)repeats * sizeof t[0]);
        qsort(t, (size_t)repeats, sizeof t[0], cmp);
        say("TIME median=%.9f min=%.9f max=%.9f repeats=%d\n", t[repeats / 2], t[0], t[repeats - 1], repeats);
    }
    return 0;
}
