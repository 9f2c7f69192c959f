/* mi_probe.c - look at mimalloc's real pages (lesson 01).
 *
 *   mi_probe trace FILE [STOP]   replay a trace in a private mimalloc heap
 *                                (mi_heap_new), then list its pages and blocks
 *   mi_probe steps FILE [OUT]    replay a trace; after every operation list the pages
 *                                that changed, with their three free lists, into OUT
 *                                (default stdout) (heap.mimalloc.mimalloc_steps)
 *   mi_probe xfree SIZE          thread 2 allocates, the main thread frees: where the
 *                                block goes (heap.threads.mimalloc_cross_thread_free)
 *
 * mimalloc gives every size class its own pages; a page holds blocks of one
 * size only, with its own free lists ("free-list sharding", Leijen, Zorn and
 * de Moura, APLAS 2019).  Addresses vary from run to run, so we print offsets:
 * pages relative to the lowest page, blocks relative to their page.
 */
#include "probe_io.h"
#include <mimalloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- mimalloc internals, vendored ------------------------------------------
 * mi_heap_visit_blocks gives, per page, an area: where its blocks start, how many
 * are reserved / committed / in use, the block size, and (area->reserved1, "internal")
 * the page's own mi_page_t.  The free lists themselves are internal.  This is the
 * start of mi_page_t copied from mimalloc v3.4.3, include/mimalloc/types.h
 * (https://github.com/microsoft/mimalloc/blob/v3.4.3/include/mimalloc/types.h,
 * "typedef struct mi_page_s"); only the fields up to page_woffset, which do not depend
 * on build options.  (area->reserved1 = the page: _mi_heap_area_init in src/theap.c
 * of the same tag.)  Visiting with visit_blocks=false never changes the page: with
 * true, mimalloc first collects the page's lists (_mi_page_free_collect), which would.  We use it only when mi_version() == MI_LAYOUT_VERSION and the
 * fields agree with the public area (else we print "internals 0 ..." and the Python
 * side falls back to what the public API tells).  Free-list links are read as plain
 * pointers: a release build (MI_SECURE < 3, MI_DEBUG == 0) does not encode them; every
 * link is checked to point at a block of the same page, else we fall back too. */
#define MI_LAYOUT_VERSION 30403
typedef struct probe_mi_page_s {
    size_t xthread_id;          /* owning thread id | flags (low bits) */
    void *free;                 /* list of available blocks: malloc takes the head */
    uint16_t used;              /* blocks in use, INCLUDING blocks on xthread_free */
    uint16_t capacity;          /* blocks committed (carved) */
    uint16_t reserved;          /* blocks reserved */
    uint8_t retire_expire;
    bool free_is_zero;
    void *local_free;           /* blocks freed by the owning thread (move to free later) */
    uintptr_t xthread_free;     /* blocks freed by other threads; low bit: "owned" */
    size_t block_size;          /* full block size */
    uint32_t page_woffset;      /* words from the mi_page_t to the first block */
    uint32_t slice_committed;
} probe_mi_page_t;

static void *live[MAX_ID];

#define MAX_AREAS 4096
static struct { uintptr_t start; size_t reserved, committed, used, block_size, full_block_size; } areas[MAX_AREAS];
static int nareas;

static bool visit_area(const mi_heap_t *heap, const mi_heap_area_t *area, void *block, size_t block_size, void *arg)
{
    (void)heap; (void)block_size; (void)arg;
    if (block == NULL && nareas < MAX_AREAS) {           /* called once per page, without a block */
        areas[nareas].start = (uintptr_t)area->blocks;
        areas[nareas].reserved = area->reserved;
        areas[nareas].committed = area->committed;
        areas[nareas].used = area->used;
        areas[nareas].block_size = area->block_size;
        areas[nareas].full_block_size = area->full_block_size;
        nareas++;
    }
    return true;
}

/* ---- steps: every page after every operation --------------------------------- */
static int internals_ok = 1;          /* cleared (with a reason) on the first mismatch */
static const char *internals_why = "";
static uintptr_t origin;              /* the first page seen: offsets are signed from it */

static void no_internals(const char *why)
{
    if (internals_ok) { internals_ok = 0; internals_why = why; }
}

/* print a free list as block indices in list order, runs of consecutive indices
 * as a-b; "." when empty.  Returns false when a link leaves the page. */
static bool print_list(const char *tag, const void *head, uintptr_t start, size_t bsize, size_t cap)
{
    out(" %s ", tag);
    if (head == NULL) { out("."); return true; }
    long run_a = -1, run_b = -1;
    size_t n = 0;
    for (const void *b = head; b != NULL; b = *(void *const *)b) {
        uintptr_t a = (uintptr_t)b;
        if (a < start || a >= start + cap * bsize || (a - start) % bsize || ++n > cap) {
            out("!");
            return false;
        }
        long k = (long)((a - start) / bsize);
        if (run_a >= 0 && k == run_b + 1) { run_b = k; continue; }
        if (run_a >= 0) out(run_a == run_b ? "%ld," : "%ld-%ld,", run_a, run_b);
        run_a = run_b = k;
    }
    out(run_a == run_b ? "%ld" : "%ld-%ld", run_a, run_b);
    return true;
}

/* to keep the output small, a page's line is printed only when it differs from the
 * line printed for that page before (FNV-1a hash of the line), and the list of pages
 * ("Q ...") only when it changes */
#define MAX_PAGES 4096
static uintptr_t seen_start[MAX_PAGES];
static uint64_t seen_hash[MAX_PAGES];
static int nseen;
static uintptr_t now_start[MAX_PAGES], prev_start[MAX_PAGES];
static int nnow, nprev;

static bool visit_page(const mi_heap_t *heap, const mi_heap_area_t *area, void *block, size_t block_size, void *arg)
{
    (void)heap; (void)block_size; (void)arg;
    if (block != NULL) return true;
    uintptr_t start = (uintptr_t)area->blocks;
    size_t bsize = area->full_block_size;
    if (origin == 0) origin = start;
    if (nnow < MAX_PAGES) now_start[nnow++] = start;
    if (out_len > sizeof out_buf / 4) out_flush();      /* a line is never split by a flush */
    size_t line_start = out_len;
    out("P %ld %zu %zu %zu %zu", (long)(start - origin), bsize, bsize ? area->committed / bsize : 0,
        bsize ? area->reserved / bsize : 0, area->used);
    const probe_mi_page_t *pg = (const probe_mi_page_t *)area->reserved1;
    if (internals_ok && (pg == NULL || pg->block_size != bsize || (size_t)pg->used != area->used
                         || (size_t)pg->capacity * bsize != area->committed
                         || (uintptr_t)pg + (size_t)pg->page_woffset * sizeof(void *) != start))
        no_internals("the page fields do not match the public area");
    if (internals_ok) {
        bool ok = print_list("F", pg->free, start, bsize, pg->capacity)
               && print_list("L", pg->local_free, start, bsize, pg->capacity)
               && print_list("T", (void *)(__atomic_load_n(&pg->xthread_free, __ATOMIC_ACQUIRE) & ~(uintptr_t)1),
                             start, bsize, pg->capacity);
        if (!ok) no_internals("a free-list link does not point into its page (encoded lists?)");
    }
    out("\n");
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = line_start; i < out_len; i++) h = (h ^ (unsigned char)out_buf[i]) * 1099511628211ULL;
    int k = 0;
    while (k < nseen && seen_start[k] != start) k++;
    if (k == nseen && nseen < MAX_PAGES) { seen_start[nseen] = start; seen_hash[nseen++] = h + 1; }
    if (k < MAX_PAGES && seen_hash[k] == h) out_len = line_start;     /* unchanged: drop the line */
    else if (k < MAX_PAGES) seen_hash[k] = h;
    return true;
}

/* after a step's visit: "Q rel rel ..." when the set of pages changed */
static void pages_changed(void)
{
    bool same = nnow == nprev;
    for (int i = 0; same && i < nnow; i++) same = now_start[i] == prev_start[i];
    if (!same) {
        for (int k = 0; k < nseen; k++) {            /* a page that left: print it in full if it comes back */
            bool here = false;
            for (int i = 0; !here && i < nnow; i++) here = now_start[i] == seen_start[k];
            if (!here) seen_hash[k] = 0;
        }
        out("Q");
        for (int i = 0; i < nnow; i++) out(" %ld", (long)(now_start[i] - origin));
        out("\n");
    }
    memcpy(prev_start, now_start, sizeof now_start[0] * (size_t)nnow);
    nprev = nnow;
    nnow = 0;
}

static int cmd_steps(const char *path, const char *outpath)
{
    if (outpath != NULL) {                  /* long output: into a file, not through the pipe */
        int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0) { out("cannot write %s\n", outpath); out_flush(); return 1; }
        close(fd);
    }
    int nops = read_trace(path);
    if (nops < 0) { out("cannot read %s\n", path); out_flush(); return 1; }
    if (mi_version() != MI_LAYOUT_VERSION) no_internals("mi_version() is not the vendored layout's version");
    if (getenv("MI_PROBE_NO_INTERNALS")) no_internals("not asked to (public API only)");
    mi_heap_t *heap = mi_heap_new();
    out("S 0 . 0\n");
    for (int i = 0; i < nops; i++) {
        void *p;
        if (op_kind[i] == 'a') p = live[op_id[i]] = mi_heap_malloc(heap, (size_t)op_size[i]);
        else { p = live[op_id[i]]; mi_free(p); live[op_id[i]] = NULL; }
        nareas = 0;
        mi_heap_visit_blocks(heap, false, visit_area, NULL);
        size_t committed = 0;
        for (int a = 0; a < nareas; a++) committed += areas[a].committed;
        if (origin == 0) {                          /* the first page seen is the origin */
            for (int a = 0; a < nareas; a++) if (origin == 0 || areas[a].start < origin) origin = areas[a].start;
        }
        if (p != NULL && origin != 0) out("S %d %ld %zu\n", i + 1, (long)((uintptr_t)p - origin), committed);
        else out("S %d . %zu\n", i + 1, committed);
        mi_heap_visit_blocks(heap, false, visit_page, NULL);
        pages_changed();
    }
    out("version %d\n", mi_version());
    out("internals %d %s\n", internals_ok, internals_ok ? "ok" : internals_why);
    out_flush();
    return 0;
}

/* ---- xfree: a block freed by a thread that does not own its page -------------- */
static pthread_barrier_t turn;        /* the two threads take turns: nothing runs concurrently */
static size_t xsize;
static void *xa, *xb, *xc;
static long again;                    /* how many more mallocs until thread 2 gets a back */

static void pass(void) { pthread_barrier_wait(&turn); pthread_barrier_wait(&turn); }

static void *thread2(void *arg)
{
    (void)arg;
    xa = mi_malloc(xsize); xb = mi_malloc(xsize);
    pass();                                          /* main: report */
    mi_free(xb);                                     /* its own block: local free */
    pass();                                          /* main: report, free a, report */
    xc = mi_malloc(xsize);                           /* the owner allocates again */
    pass();
    mi_collect(false);                               /* the owner collects its pages */
    pass();
    for (again = 1; again <= 100000; again++)        /* allocate until a comes back */
        if (mi_malloc(xsize) == xa) break;
    pass();
    return NULL;
}

static const mi_heap_area_t *found_area;
static mi_heap_area_t found;
static void *find_ptr;
static bool find_page(const mi_heap_t *heap, const mi_heap_area_t *area, void *block, size_t bs, void *arg)
{
    (void)heap; (void)bs; (void)arg;
    uintptr_t s = (uintptr_t)area->blocks, p = (uintptr_t)find_ptr;
    if (block == NULL && p >= s && p < s + area->reserved) { found = *area; found_area = &found; return false; }
    return true;
}

static bool on_list(const void *head, const void *x, size_t cap, size_t *count)
{
    bool hit = false;
    size_t n = 0;
    for (const void *b = head; b != NULL && n <= cap; b = *(void *const *)b, n++) if (b == x) hit = true;
    *count = n;
    return hit;
}

/* one row: the page of a, its counts, and where a and b are */
static void report(const char *stage)
{
    find_ptr = xa; found_area = NULL;
    mi_heap_visit_blocks(NULL, false, find_page, NULL);
    if (found_area == NULL) { out("R %s nopage\n", stage); return; }
    const probe_mi_page_t *pg = (const probe_mi_page_t *)found.reserved1;
    out("R %s used %zu", stage, found.used);
    if (!internals_ok) { out("\n"); return; }
    size_t nf, nl, nt;
    const void *tf = (const void *)(__atomic_load_n(&pg->xthread_free, __ATOMIC_ACQUIRE) & ~(uintptr_t)1);
    bool af = on_list(pg->free, xa, pg->capacity, &nf), al = on_list(pg->local_free, xa, pg->capacity, &nl),
         at = on_list(tf, xa, pg->capacity, &nt);
    size_t d;
    bool bf = on_list(pg->free, xb, pg->capacity, &d), bl = on_list(pg->local_free, xb, pg->capacity, &d),
         bt = on_list(tf, xb, pg->capacity, &d);
    out(" free %zu local %zu thread %zu a %s b %s\n", nf, nl, nt,
        af ? "free" : al ? "local" : at ? "thread" : "used", bf ? "free" : bl ? "local" : bt ? "thread" : "used");
}

static int cmd_xfree(long size)
{
    xsize = size > 0 ? (size_t)size : 48;
    if (mi_version() != MI_LAYOUT_VERSION) no_internals("mi_version() is not the vendored layout's version");
    void *mine = mi_malloc(xsize);                   /* the main thread's own page for this size */
    pthread_t t;
    pthread_barrier_init(&turn, NULL, 2);
    pthread_create(&t, NULL, thread2, NULL);
    pthread_barrier_wait(&turn);
    find_ptr = xa; found_area = NULL;
    mi_heap_visit_blocks(NULL, false, find_page, NULL);
    if (found_area) {                                /* check the vendored layout once */
        const probe_mi_page_t *pg = (const probe_mi_page_t *)found.reserved1;
        if (pg->block_size != found.full_block_size || pg->used != found.used
            || (uintptr_t)pg + (size_t)pg->page_woffset * sizeof(void *) != (uintptr_t)found.blocks)
            no_internals("the page fields do not match the public area");
        uintptr_t s = (uintptr_t)found.blocks, m = (uintptr_t)mine;
        out("X same_page_as_main %d\n", m >= s && m < s + found.reserved);
        out("X same_page_ab %d\n", (uintptr_t)xb >= s && (uintptr_t)xb < s + found.reserved);
    }
    report("alloc_ab");
    pthread_barrier_wait(&turn);                     /* thread 2 frees b */
    pthread_barrier_wait(&turn);
    report("t2_free_b");
    mi_free(xa);                                     /* the cross-thread free */
    report("main_free_a");
    pthread_barrier_wait(&turn);                     /* thread 2 allocates c */
    pthread_barrier_wait(&turn);
    report("t2_alloc_c");
    out("X c_is %s\n", xc == xa ? "a" : xc == xb ? "b" : "other");
    pthread_barrier_wait(&turn);                     /* thread 2 collects */
    pthread_barrier_wait(&turn);
    report("t2_collect");
    pthread_barrier_wait(&turn);                     /* thread 2 allocates until a comes back */
    pthread_barrier_wait(&turn);
    out("X again %ld\n", again <= 100000 ? again : -1);
    pthread_barrier_wait(&turn);
    pthread_join(t, NULL);
    out("version %d\n", mi_version());
    out("internals %d %s\n", internals_ok, internals_ok ? "ok" : internals_why);
    out_flush();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "steps")) return cmd_steps(argv[2], argc >= 4 ? argv[3] : NULL);
    if (argc >= 3 && !strcmp(argv[1], "xfree")) return cmd_xfree(atol(argv[2]));
    if (argc < 3 || strcmp(argv[1], "trace")) {
        out("usage: mi_probe trace FILE [STOP] | steps FILE | xfree SIZE\n");
        out_flush();
        return 2;
    }
    int nops = read_trace(argv[2]);
    if (nops < 0) { out("cannot read %s\n", argv[2]); out_flush(); return 1; }
    int stop = argc >= 4 ? atoi(argv[3]) : nops;
    if (stop < 0 || stop > nops) stop = nops;
    mi_heap_t *heap = mi_heap_new();
    for (int i = 0; i < stop; i++) {
        if (op_kind[i] == 'a') live[op_id[i]] = mi_heap_malloc(heap, (size_t)op_size[i]);
        else { mi_free(live[op_id[i]]); live[op_id[i]] = NULL; }
        nareas = 0;
        mi_heap_visit_blocks(heap, false, visit_area, NULL);
        size_t committed = 0;
        for (int a = 0; a < nareas; a++) committed += areas[a].committed;
        out("step %d %d %zu\n", i + 1, nareas, committed);       /* pages, bytes committed */
    }
    nareas = 0;
    mi_heap_visit_blocks(heap, false, visit_area, NULL);
    uintptr_t low = UINTPTR_MAX;
    for (int a = 0; a < nareas; a++) if (areas[a].start < low) low = areas[a].start;
    out("version %d\n", mi_version());
    for (int a = 0; a < nareas; a++) {
        out("page %ld %zu %zu %zu %zu\n", (long)(areas[a].start - low), areas[a].reserved,
            areas[a].committed, areas[a].block_size, areas[a].used);
        for (int i = 0; i < MAX_ID; i++) {
            uintptr_t p = (uintptr_t)live[i];
            if (p >= areas[a].start && p < areas[a].start + areas[a].reserved)
                out("block %ld %d %zu\n", (long)(p - areas[a].start), i, mi_usable_size(live[i]));
        }
    }
    out_flush();
    return 0;
}
