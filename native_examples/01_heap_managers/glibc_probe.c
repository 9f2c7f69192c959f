/* glibc_probe.c - look at glibc malloc's real chunks (lesson 01).
 *
 *   glibc_probe trace FILE [STOP]   replay a trace, then walk the heap and print
 *                                   every chunk as offsets from the heap start
 *   glibc_probe brk                 watch the program break grow with malloc
 *   glibc_probe mmap                requests around the mmap threshold
 *   glibc_probe sizes N...          chunk size and malloc_usable_size of malloc(N)
 *   glibc_probe history             a chunk 16 bytes bigger than the request needs
 *   glibc_probe uaf                 which bytes of a freed block free() overwrites
 *   glibc_probe steps FILE [info] [> OUT]
 *                                   replay a trace and print, after every operation, what
 *                                   changed: chunks, every bin (tcache, fastbins, unsorted,
 *                                   small, large), the top chunk and av->system_mem; with
 *                                   "info", glibc's own malloc_info() XML at the end;
 *                                   "> OUT" (one argument) writes to the file OUT instead
 *
 * Run it as a fresh process (the heap of an interpreter is already full), and
 * with GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0 to see
 * plain bins and coalescing.  "trace" and "steps" read glibc's own structures, whose
 * layout depends on the version; they know glibc 2.33 to 2.44 on x86_64:
 *   2.33-2.41  the tcache is the heap's first chunk (0x290 B): uint16_t counts[64], then
 *              64 list heads; 10 fastbins in main_arena;
 *   2.42       76 lists (64 small + 12 for large chunks, commit cbfd798810), and
 *              num_slots[] counts the free SLOTS left, not the entries (commit 7e10e30e64):
 *              entries = tcache_count - num_slots; the first chunk is 0x300 B;
 *   2.43       no fastbins at all (commit bb5a4f5295: main_arena's fields move up by 88
 *              bytes), and the tcache is made lazily by the first free() or bin refill,
 *              wherever the top chunk is then (commit 0b9210bd76 also raised the default
 *              tcache_count from 7 to 16); with tcache_count=0 there is no tcache chunk.
 *   2.44       the same structures as 2.43 (struct malloc_state, tcache_perthread_struct, malloc_chunk
 *              and TCACHE_SMALL_BINS/LARGE_BINS/FILL_COUNT read the same in glibc-2.44's malloc/malloc.c
 *              as in 2.43's).  What moved: _int_malloc no longer stashes exact fits from the
 *              unsorted bin in the tcache (the tcache_unsorted_limit tunable is gone), memory
 *              tagging is gone (aarch64 only), and arena.c caps the arenas at the CPU count
 *              (at least 8) instead of 8 per CPU.
 * Safe-linked list pointers (2.32+) and mallinfo2 (2.33+) are read on all of them.  On
 * any other glibc "trace" and "steps" print "error unsupported glibc ..." and exit with 3
 * rather than draw wrong bins (GLIBC_PROBE_VERSION=2.45 fakes a version, to test that).
 */
#define _GNU_SOURCE
#pragma GCC diagnostic ignored "-Warray-bounds"   /* we read below malloc's pointers on purpose */
#pragma GCC diagnostic ignored "-Wuse-after-free" /* and, once, a block after free (cmd_uaf) */
#include "probe_io.h"
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdint.h>

#define PREV_INUSE 1
#define IS_MMAPPED 2
#define NON_MAIN_ARENA 4
#define SIZE_OF(c) (((size_t *)(c))[1] & ~(size_t)7)
#define FLAGS_OF(c) (((size_t *)(c))[1] & 7)

static void *live[MAX_ID];
/* the word just below a pointer malloc returned: the chunk's size field and flags */
static size_t size_field(void *p) { return ((volatile size_t *)p)[-1]; }
static void *volatile sink;

/* The tcache (glibc >= 2.30): uint16_t counts[N] (2.42+: num_slots[N]), then N list heads;
 * each entry's next pointer is "safe-linked" (stored XOR (its own address >> 12)), 2.32+. */
static int glibc_minor;               /* 2.MINOR of the running glibc (supported_glibc) */
static int tc_bins = 64;              /* 64 up to 2.41, 76 from 2.42 */
static int tc_counts_free_slots;      /* 2.42+: num_slots[] */
static int has_fastbins = 1;          /* up to 2.42 */
static unsigned char *tc;             /* the tcache's user data, once known; NULL: none (yet) */
/* the tcache's chunk: request2size(sizeof (tcache_perthread_struct)) = 0x290 (64 lists), 0x300 (76) */
#define TC_CHUNK_SIZE ((tc_bins * (sizeof(uint16_t) + sizeof(void *)) + 8 + 15) & ~(size_t)15)
static uint16_t *tc_counts(void) { return (uint16_t *)tc; }
static uintptr_t *tc_heads(void) { return (uintptr_t *)(tc + tc_bins * sizeof(uint16_t)); }
static unsigned tc_capacity;          /* 2.42+: the largest num_slots[] (an empty list's) */

/* entries in tcache list i */
static unsigned tc_count(int i)
{
    if (!tc) return 0;
    return tc_counts_free_slots ? tc_capacity - tc_counts()[i] : tc_counts()[i];
}

static int in_tcache(unsigned char *mem)
{
    if (!tc) return 0;
    for (int i = 0; i < tc_bins; i++) {
        uintptr_t e = tc_heads()[i];
        int guard = 0;
        while (e && guard++ < 100000) {
            if ((unsigned char *)e == mem) return 1;
            e = *(uintptr_t *)e ^ (e >> 12);
        }
    }
    return 0;
}

/* Where is the tcache?  Up to 2.42 it is the heap's first chunk, made by the first malloc.
 * From 2.43 it is made later (the first free() of a small chunk, or a bin refill), wherever
 * the top chunk was: it is the one chunk of exactly its size that the trace did not allocate
 * whose counts are all at most 65535 and whose list heads are NULL or point into the heap. */
static int is_owned(unsigned char *mem);
static void find_tcache(unsigned char *heap, unsigned char *top)
{
    if (tc) return;
    for (unsigned char *c = heap; c < top; c += SIZE_OF(c)) {
        if (SIZE_OF(c) == 0) return;
        if (SIZE_OF(c) != TC_CHUNK_SIZE || is_owned(c + 16)) {
            if (glibc_minor < 43) return;                 /* then it can only be the first chunk */
            continue;
        }
        unsigned char *cand = c + 16;
        uintptr_t *heads = (uintptr_t *)(cand + tc_bins * sizeof(uint16_t));
        int ok = 1;
        for (int i = 0; i < tc_bins && ok; i++)
            ok = !heads[i] || (heads[i] > (uintptr_t)heap && heads[i] < (uintptr_t)top);
        if (!ok) { if (glibc_minor < 43) return; continue; }
        tc = cand;
        if (tc_counts_free_slots)
            for (int i = 0; i < tc_bins; i++)
                if (tc_counts()[i] > tc_capacity) tc_capacity = tc_counts()[i];
        return;
    }
}

static int owner_of(unsigned char *mem)
{
    for (int i = 0; i < MAX_ID; i++)
        if (live[i] == mem) return i;
    return -1;
}
static int is_owned(unsigned char *mem) { return owner_of(mem) >= 0; }

static void walk(unsigned char *heap, unsigned char *top, int tcache_on)
{
    if (tcache_on) find_tcache(heap, top);
    /* one line per chunk: offset size flags state owner */
    for (unsigned char *c = heap; c <= top; c += SIZE_OF(c)) {
        size_t size = SIZE_OF(c);
        unsigned char *next = c + size;
        const char *state;
        int owner = -1;
        if (c == top) state = "top";
        else if (tc ? c + 16 == tc : c == heap && glibc_minor < 43)
            state = "tcache_struct";              /* up to 2.42 the first chunk, even with tcache_count=0 */
        else if (!(FLAGS_OF(next) & PREV_INUSE) || next > top) state = "free";
        else if ((owner = owner_of(c + 16)) >= 0) state = "used";
        else if (tcache_on && in_tcache(c + 16)) state = "tcache";
        else state = "fast_or_other";                     /* in a fastbin, or not ours (stdio...) */
        out("chunk %ld %zu %zu %s %d\n", (long)(c - heap), size, FLAGS_OF(c), state, owner);
        if (c == top || size == 0) break;
    }
}

static int cmd_trace(const char *path, int stop)
{
    int nops = read_trace(path);
    if (nops < 0) { out("cannot read %s\n", path); out_flush(); return 1; }
    if (stop < 0 || stop > nops) stop = nops;
    /* the heap starts where the program break was before the first malloc */
    unsigned char *heap = sbrk(0);
    heap = (unsigned char *)(((uintptr_t)heap + 15) & ~(uintptr_t)15);
    long peak = 0;
    for (int i = 0; i < stop; i++) {
        if (op_kind[i] == 'a') {
            live[op_id[i]] = malloc((size_t)op_size[i]);
        } else {
            free(live[op_id[i]]);
            live[op_id[i]] = NULL;
        }
        struct mallinfo2 mi = mallinfo2();                /* arena: bytes from sbrk; keepcost: top chunk */
        long footprint = (long)(mi.arena - mi.keepcost);
        if (footprint > peak) peak = footprint;
        out("step %d %ld\n", i + 1, footprint);
    }
    struct mallinfo2 mi = mallinfo2();
    unsigned char *top = heap + (mi.arena - mi.keepcost);
    const char *t = getenv("GLIBC_TUNABLES");
    int tcache_on = !(t && strstr(t, "tcache_count=0"));
    out("heap %zu %zu %ld\n", mi.arena, mi.keepcost, peak);
    for (int i = 0; i < MAX_ID; i++)
        if (live[i] && (FLAGS_OF((unsigned char *)live[i] - 16) & IS_MMAPPED))
            out("mmapped %d %zu\n", i, SIZE_OF((unsigned char *)live[i] - 16));
    walk(heap, top, tcache_on);
    out_flush();
    return 0;
}

static int cmd_brk(void)
{
    unsigned char *start = sbrk(0);
    out("before any malloc: break at +0\n");
    void *p = malloc(24);
    out("after malloc(24): break at +%ld, the block at +%ld\n",
        (long)((unsigned char *)sbrk(0) - start), (long)((unsigned char *)p - start));
    long last = (long)((unsigned char *)sbrk(0) - start);
    int grows = 0;
    for (int i = 0; i < 20000 && grows < 3; i++) {
        sink = malloc(24);                                /* volatile: gcc may not drop it */
        long now = (long)((unsigned char *)sbrk(0) - start);
        if (now != last) {
            out("after %d more malloc(24): break moved from +%ld to +%ld (+%ld bytes)\n",
                i + 1, last, now, now - last);
            last = now;
            grows++;
        }
    }
    out_flush();
    return 0;
}

static unsigned char *heap_start;

static void *show(const char *what, size_t n)
{
    unsigned char *p = sink = malloc(n);
    size_t field = size_field(p);
    long dist = (long)(p - heap_start);
    int in_heap = dist > 0 && dist < (long)((unsigned char *)sbrk(0) - heap_start);
    size_t size = field & ~(size_t)7, page = (size_t)sysconf(_SC_PAGESIZE);
    if (field & IS_MMAPPED)      /* the mapping, whole pages: from glibc 2.43 the size field counts
                                    16 bytes less than it (commit 614cfd0f8a) */
        out("%-34s mapping    %7zu  M bit 1  %s\n", what, (size + page - 1) / page * page,
            in_heap ? "in the heap (brk)" : "its own mapping (mmap)");
    else
        out("%-34s chunk size %7zu  M bit 0  %s\n", what, size,
            in_heap ? "in the heap (brk)" : "its own mapping (mmap)");
    return p;
}

static int cmd_mmap(void)
{
    heap_start = sbrk(0);
    show("a = malloc(1000)", 1000);
    show("b = malloc(131072)", 131072);
    void *c = show("c = malloc(131072)", 131072);
    void *d = show("d = malloc(200000)", 200000);
    free(c);                          /* freeing an mmapped chunk raises the threshold to its size */
    out("free(c)\n");
    show("e = malloc(131072)", 131072);
    free(d);
    out("free(d)\n");
    show("f = malloc(200000)", 200000);
    out_flush();
    return 0;
}

/* malloc(n) for each n, never freed: chunks cut from the top, exactly the size glibc computes */
static int cmd_sizes(int argc, char **argv)
{
    out("request  chunk  malloc_usable_size  A\n");
    for (int i = 0; i < argc; i++) {
        size_t n = (size_t)arg_long(argv[i], 0);
        void *p = sink = malloc(n);
        out("%7zu  %5zu  %18zu  %zu\n", n, size_field(p) & ~(size_t)7, malloc_usable_size(p),
            (size_field(p) & NON_MAIN_ARENA) >> 2);
    }
    out_flush();
    return 0;
}

/* a heap with a history: a free 1072-byte chunk in a bin (too big for the tcache, whose largest
   default list holds 1040-byte chunks, so no tcache fill count matters), then malloc(1048), which
   needs 1056 bytes: the rest would be 16 < 32, so malloc hands out the whole chunk */
static int cmd_history(void)
{
    void *x = malloc(1064);
    sink = malloc(16);                                    /* a guard: x does not touch the top chunk */
    free(x);                                              /* x goes to a bin */
    void *p = sink = malloc(1048);
    out("a free 1072-byte chunk waits in a bin; malloc(1048) needs 1056 bytes: the rest would be 16 < 32\n");
    out("malloc(1048): chunk size %zu, the chunk that was free: %s, malloc_usable_size %zu\n",
        size_field(p) & ~(size_t)7, p == x ? "yes" : "no", malloc_usable_size(p));
    out_flush();
    return 0;
}

/* use after free: which bytes of a freed 64-byte block does free() itself overwrite? */
static int cmd_uaf(void)
{
    /* volatile: otherwise gcc drops the stores as dead (the block is freed right after) */
    volatile unsigned char *p = sink = malloc(64);
    for (int i = 0; i < 64; i++) p[i] = 0xAB;
    free((void *)p);                                      /* into the tcache */
    /* counted in 8-byte words, not bytes: the words free() writes hold an address
     * and a random key, and one of their bytes can equal 0xAB by chance */
    int first = -1, last = -1, changed = 0;
    for (int w = 0; w < 8; w++) {
        int differs = 0;
        for (int i = 8 * w; i < 8 * w + 8; i++) differs |= p[i] != 0xAB;
        if (differs) { if (first < 0) first = w; last = w; changed++; }
    }
    if (!changed)
        out("a 64-byte block filled with 0xAB, then freed: no byte changed\n");
    else
        out("a 64-byte block filled with 0xAB, then freed: %d of its 8 words changed "
            "(bytes %d to %d), %d bytes kept\n",
            changed, 8 * first, 8 * last + 7, 64 - 8 * changed);
    out_flush();
    return 0;
}

/* ------------------------------------------------------------------------------------
 * steps: every bin, after every operation, read from glibc's own main_arena
 *
 * Where is main_arena?  It is a static variable of libc.so.6 (no exported symbol; debug
 * symbols are not installed).  glibc 2.36 (malloc/malloc.c) initialises it as
 *     static struct malloc_state main_arena = { .mutex = ..., .next = &main_arena,
 *                                               .attached_threads = 1 };
 * so in a single-threaded process it is the one place in libc's writable data whose `next`
 * field points to its own start.  Before the first malloc we scan libc's writable PT_LOAD
 * segments (dl_iterate_phdr: no malloc) for such words; after the first malloc we keep the
 * one candidate that also agrees with mallinfo2() (system_mem == arena, the top chunk's size
 * == keepcost, top inside the heap) and whose empty bins point to themselves.  Exactly one
 * must pass, or the probe says so and stops.  Layout of struct malloc_state on x86_64,
 * glibc 2.26 to 2.42 (have_fastchunks) with NFASTBINS = 10, NBINS = 128, BINMAPSIZE = 4;
 * glibc 2.43 dropped have_fastchunks and fastbinsY[10], so every later field sits 88 bytes
 * lower (AR_SHIFT):                                                                          */
#include <link.h>
#define AR_SHIFT (has_fastbins ? 0 : 88)
#define AR_FASTBINS 16        /* mfastbinptr fastbinsY[10] (up to 2.42) */
#define AR_TOP (96 - AR_SHIFT)             /* mchunkptr top */
#define AR_BINS (112 - AR_SHIFT)           /* mchunkptr bins[254]: bin i's fd at bins[2(i-1)], bk next to it */
#define AR_NEXT (2160 - AR_SHIFT)          /* struct malloc_state *next (after binmap[4]) */
#define AR_ATTACHED (2176 - AR_SHIFT)
#define AR_SYSTEM_MEM (2184 - AR_SHIFT)
#define NFASTBINS 10
#define NBINS 128
#define WORD(p, off) (*(uintptr_t *)((unsigned char *)(p) + (off)))
/* safe-linking (glibc 2.32+): a stored next pointer is next ^ (address of the field >> 12) */
#define REVEAL(field_addr) (*(uintptr_t *)(field_addr) ^ ((uintptr_t)(field_addr) >> 12))

static uintptr_t cand[16];
static int ncand;
static unsigned char *arena;  /* main_arena, once validated */

static int find_candidates(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size; (void)data;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libc.so")) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
        uintptr_t lo = (info->dlpi_addr + ph->p_vaddr + 7) & ~(uintptr_t)7;
        uintptr_t hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        for (uintptr_t a = lo; a + AR_SYSTEM_MEM + 16 <= hi; a += 8)
            if (WORD(a, AR_NEXT) == a && WORD(a, AR_ATTACHED) == 1 && ncand < 16) cand[ncand++] = a;
    }
    return 0;
}

static uintptr_t bin_at(unsigned char *ar, int i) { return (uintptr_t)ar + AR_BINS + 16 * (i - 1) - 16; }

static int validate(unsigned char *heap, struct mallinfo2 *mi)
{
    int found = 0;
    for (int k = 0; k < ncand; k++) {
        unsigned char *a = (unsigned char *)cand[k];
        uintptr_t top = WORD(a, AR_TOP);
        if (WORD(a, AR_SYSTEM_MEM) != mi->arena) continue;
        if (top < (uintptr_t)heap || top >= (uintptr_t)heap + mi->arena) continue;
        if ((WORD(top, 8) & ~(uintptr_t)7) != mi->keepcost) continue;
        int ok = 1;
        for (int i = 1; i < NBINS && ok; i++) {           /* a bin is empty (fd == bk == itself) or in the heap */
            uintptr_t b = bin_at(a, i), fd = WORD(b, 16), bk = WORD(b, 24);
            if ((fd == b) != (bk == b)) ok = 0;
            else if (fd != b && (fd < (uintptr_t)heap || fd >= top)) ok = 0;
        }
        if (ok) { arena = a; found++; }
    }
    return found;
}

/* bins: 0..63 tcache (chunk size 32 + 16 i), 64..73 fastbins (32 + 16 i), 74 + (i - 1) for
 * glibc's bin i = 1 (unsorted), 2..63 (small, size 16 i), 64..126 (large); 200..211 the
 * tcache's lists for large chunks (2.42+: tcache list 64 + k, chunks up to 2^(11 + k) bytes) */
#define FIRST_BIN 74
#define FIRST_LARGE_TC (FIRST_BIN + NBINS - 2)   /* 200: after glibc's bins 1..126 (127 is never used) */
#define NB (FIRST_LARGE_TC + 12)
#define MAXCH (1 << 18)
#define MAXLIST (1 << 20)
#define OFFSLOTS (1 << 22)               /* offsets / 16 we can index: a heap up to 64 MiB */
static long list_off[MAXLIST];           /* every bin's chunks, concatenated */
static int bin_start[NB + 1];
#define FNV_BASIS 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL
static uint64_t prev_hash[NB];       /* a bin is printed when its hash of (count, offsets) changes */
static int prev_len[NB];
static unsigned char member[OFFSLOTS];   /* offset / 16 -> bin id + 1 (0: in no bin) */
static int owner_at[OFFSLOTS];           /* offset / 16 -> trace id + 1 */
struct ch { long off; size_t size; int flags; int owner; unsigned char state; };
static struct ch chunks_a[MAXCH], chunks_b[MAXCH];
static struct ch *cur = chunks_a, *prev = chunks_b;
static int ncur, nprev;
static long prev_top = -1, prev_topsize = -1, prev_sysmem = -1;
static const char *state_name[] = {"used", "tcache_struct", "tcache", "fastbin", "unsorted", "smallbin",
                                   "largebin", "top", "free", "fast_or_other"};
enum { S_USED, S_TSTRUCT, S_TCACHE, S_FAST, S_UNSORTED, S_SMALL, S_LARGE, S_TOP, S_FREE, S_OTHER };

static int kind_of_bin(int id)
{
    if (id < 64 || id >= FIRST_LARGE_TC) return S_TCACHE;
    if (id < 74) return S_FAST;
    if (id == 74) return S_UNSORTED;
    return id - 74 + 1 < 64 ? S_SMALL : S_LARGE;
}

static void add(int id, unsigned char *heap, uintptr_t chunk, int *n)
{
    long off = (long)(chunk - (uintptr_t)heap);
    if (*n < MAXLIST) list_off[(*n)++] = off;
    if (off >= 0 && off / 16 < OFFSLOTS) member[off / 16] = (unsigned char)(id + 1);
}

static void snapshot(int step, unsigned char *heap)
{
    struct mallinfo2 mi = mallinfo2();
    out("s %d\n", step);
    if (mi.arena == 0) return;                            /* no heap yet */
    if (!arena) {
        int found = validate(heap, &mi);
        if (found != 1) { out("error main_arena: %d of %d candidates valid\n", found, ncand); return; }
        out("arena %d\n", ncand);
    }
    unsigned char *top = (unsigned char *)WORD(arena, AR_TOP);
    find_tcache(heap, top);
    /* 1. the bins */
    int n = 0;
    for (int id = 0; id < NB; id++) {
        bin_start[id] = n;
        int guard = 0;
        if (id < 64 || id >= FIRST_LARGE_TC) {           /* tcache: entries point at user data */
            int i = id < 64 ? id : 64 + id - FIRST_LARGE_TC;
            if (!tc || i >= tc_bins) continue;
            uintptr_t e = tc_heads()[i];
            while (e && guard++ < 100000) { add(id, heap, e - 16, &n); e = REVEAL(e); }
        } else if (id < FIRST_BIN) {                     /* fastbins: head raw, fd safe-linked */
            if (!has_fastbins) continue;
            uintptr_t p = WORD(arena, AR_FASTBINS + 8 * (id - 64));
            while (p && guard++ < 1000000) { add(id, heap, p, &n); p = REVEAL(p + 16); }
        } else {                                         /* doubly linked, head = bin_at(i) */
            uintptr_t b = bin_at(arena, id - FIRST_BIN + 1), r = WORD(b, 16);
            while (r != b && guard++ < 1000000) { add(id, heap, r, &n); r = WORD(r, 16); }
        }
    }
    bin_start[NB] = n;
    for (int id = 0; id < NB; id++) {                    /* print the bins that changed */
        uint64_t h = FNV_BASIS;                          /* an empty bin: FNV_BASIS */
        int len = bin_start[id + 1] - bin_start[id];
        int tci = id < 64 ? id : id >= FIRST_LARGE_TC ? 64 + id - FIRST_LARGE_TC : -1;
        unsigned count = tci >= 0 && tci < tc_bins ? tc_count(tci) : 0;
        if (count) h = (h ^ count) * FNV_PRIME;         /* the tcache's count, too */
        for (int k = bin_start[id]; k < bin_start[id + 1]; k++) h = (h ^ (uint64_t)list_off[k]) * FNV_PRIME;
        if (h == prev_hash[id] && len == prev_len[id]) continue;
        prev_hash[id] = h; prev_len[id] = len;
        out("b %d", id);
        if (tci >= 0 && tc) out(" n=%u", count);          /* the tcache's own count of entries */
        for (int k = bin_start[id]; k < bin_start[id + 1]; k++) out(" %ld", list_off[k]);
        out("\n");
    }
    /* 2. the chunks, in address order */
    ncur = 0;
    for (unsigned char *c = heap; c <= top && ncur < MAXCH; c += SIZE_OF(c)) {
        size_t size = SIZE_OF(c);
        long off = (long)(c - heap);
        int owner = -1, st;
        int slot = off >= 0 && off / 16 < OFFSLOTS ? (int)(off / 16) : -1;
        if (c == top) st = S_TOP;
        else if (tc ? c + 16 == tc : c == heap && glibc_minor < 43) st = S_TSTRUCT;
        else if (slot >= 0 && member[slot]) st = kind_of_bin(member[slot] - 1);
        else if (slot >= 0 && owner_at[slot]) { st = S_USED; owner = owner_at[slot] - 1; }
        else if (!(FLAGS_OF(c + size) & PREV_INUSE)) st = S_FREE;
        else st = S_OTHER;
        cur[ncur++] = (struct ch){off, size, (int)FLAGS_OF(c), owner, (unsigned char)st};
        if (c == top || size == 0) break;
    }
    for (int k = 0; k < n; k++)                          /* clear the membership marks */
        if (list_off[k] >= 0 && list_off[k] / 16 < OFFSLOTS) member[list_off[k] / 16] = 0;
    int i = 0, j = 0;                                    /* print what differs from the last step */
    while (i < ncur || j < nprev) {
        if (j >= nprev || (i < ncur && cur[i].off < prev[j].off)) {
            out("c %ld %zu %d %s %d\n", cur[i].off, cur[i].size, cur[i].flags, state_name[cur[i].state], cur[i].owner);
            i++;
        } else if (i >= ncur || prev[j].off < cur[i].off) {
            out("x %ld\n", prev[j].off);
            j++;
        } else {
            if (cur[i].size != prev[j].size || cur[i].flags != prev[j].flags || cur[i].owner != prev[j].owner
                || cur[i].state != prev[j].state)
                out("c %ld %zu %d %s %d\n", cur[i].off, cur[i].size, cur[i].flags, state_name[cur[i].state],
                    cur[i].owner);
            i++; j++;
        }
    }
    struct ch *t = prev; prev = cur; cur = t; nprev = ncur;
    long topoff = (long)(top - heap), topsize = (long)SIZE_OF(top), sysmem = (long)WORD(arena, AR_SYSTEM_MEM);
    if (topoff != prev_top || topsize != prev_topsize || sysmem != prev_sysmem)
        out("t %ld %ld %ld\n", topoff, topsize, sysmem);
    prev_top = topoff; prev_topsize = topsize; prev_sysmem = sysmem;
}

static char info_buf[1 << 16];

static int cmd_steps(const char *path, int info, const char *to)
{
    if (to) {                                            /* a long trace: more output than a pipe's reader keeps */
        int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0) { out("cannot write %s\n", to); out_flush(); return 1; }
        close(fd);
    }
    int nops = read_trace(path);
    if (nops < 0) { out("cannot read %s\n", path); out_flush(); return 1; }
    unsigned char *heap = sbrk(0);
    heap = (unsigned char *)(((uintptr_t)heap + 15) & ~(uintptr_t)15);
    dl_iterate_phdr(find_candidates, NULL);
    for (int id = 0; id < NB; id++) prev_hash[id] = FNV_BASIS;                 /* all empty */
    snapshot(0, heap);
    for (int i = 0; i < nops; i++) {
        int id = op_id[i];
        if (op_kind[i] == 'a') {
            unsigned char *p = live[id] = malloc((size_t)op_size[i]);
            if (!p) out("a null\n");
            else if (FLAGS_OF(p - 16) & IS_MMAPPED) out("a mmap %zu\n", SIZE_OF(p - 16));
            else {
                long off = (long)(p - 16 - heap);
                if (off >= 0 && off / 16 < OFFSLOTS) owner_at[off / 16] = id + 1;
                out("a %ld\n", off);
            }
        } else {
            unsigned char *p = live[id];
            if (p) {
                long off = (long)(p - 16 - heap);
                if (off >= 0 && off / 16 < OFFSLOTS) owner_at[off / 16] = 0;
            }
            free(p);
            live[id] = NULL;
        }
        snapshot(i + 1, heap);
        if (!arena && mallinfo2().arena) {
            static const char msg[] = "glibc_probe: main_arena not found (see find_candidates)\n";
            out_flush();
            if (write(2, msg, sizeof msg - 1) < 0) return 1;
            return 1;
        }
    }
    out("end\n");
    out_flush();
    if (info) {                                           /* stdout's buffer is ours: no malloc before the walk */
        setvbuf(stdout, info_buf, _IOFBF, sizeof info_buf);
        malloc_info(0, stdout);
        fflush(stdout);
    }
    return 0;
}

/* 1 if the running glibc has a layout the bin readers know (2.33 to NEWEST_MINOR), else an error line.
 * GLIBC_PROBE_VERSION fakes the version (to test the refusal). */
#define NEWEST_MINOR 44   /* the newest glibc 2.x whose malloc this probe was checked against */
static int supported_glibc(void)
{
    int major = 0, minor = 0;
    const char *v = getenv("GLIBC_PROBE_VERSION");
    if (!v || !*v) v = gnu_get_libc_version();
    char *p = (char *)v;
    long maj = 0, min = -1;
    if (parse_long(&p, &maj) && *p == '.') { p++; parse_long(&p, &min); }
    major = (int)maj; minor = (int)min;
    if (major == 2 && minor >= 33 && minor <= NEWEST_MINOR) {
        glibc_minor = minor;
        tc_bins = minor >= 42 ? 76 : 64;
        tc_counts_free_slots = minor >= 42;
        has_fastbins = minor <= 42;
        out("glibc %d.%d tcache_lists %d fastbins %d\n", major, minor, tc_bins, has_fastbins ? NFASTBINS : 0);
        return 1;
    }
    out("error glibc %s is not supported by this probe yet: it reads the tcache and bins of "
        "glibc 2.33 to 2.%d\n", v, NEWEST_MINOR);
    out_flush();
    fprintf(stderr, "glibc_probe: glibc %s is not supported by this probe yet (it knows 2.33 to 2.%d)\n", v,
            NEWEST_MINOR);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && (!strcmp(argv[1], "trace") || !strcmp(argv[1], "steps")) && !supported_glibc()) return 3;
    if (argc >= 3 && !strcmp(argv[1], "trace")) return cmd_trace(argv[2], argc >= 4 ? (int)arg_long(argv[3], -1) : -1);
    if (argc >= 2 && !strcmp(argv[1], "brk")) return cmd_brk();
    if (argc >= 2 && !strcmp(argv[1], "mmap")) return cmd_mmap();
    if (argc >= 2 && !strcmp(argv[1], "sizes")) return cmd_sizes(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "history")) return cmd_history();
    if (argc >= 2 && !strcmp(argv[1], "uaf")) return cmd_uaf();
    if (argc >= 3 && !strcmp(argv[1], "steps")) {
        int info = 0;
        const char *to = NULL;
        for (int i = 3; i < argc; i++) {
            if (!strcmp(argv[i], "info")) info = 1;
            else if (argv[i][0] == '>') to = argv[i] + 1;
        }
        return cmd_steps(argv[2], info, to);
    }
    out("usage: glibc_probe trace FILE [STOP] | steps FILE [info] | brk | mmap | sizes N... | history | uaf\n");
    out_flush();
    return 2;
}
