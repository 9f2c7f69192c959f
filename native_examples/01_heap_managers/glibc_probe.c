/* glibc_probe.c - look at glibc malloc's real chunks (lesson 01).
 *
 *   glibc_probe trace FILE [STOP]   replay a trace, then walk the heap and print
 *                                   every chunk as offsets from the heap start
 *   glibc_probe brk                 watch the program break grow with malloc
 *   glibc_probe mmap                requests around the mmap threshold
 *   glibc_probe sizes N...          chunk size and malloc_usable_size of malloc(N)
 *   glibc_probe history             a chunk 16 bytes bigger than the request needs
 *   glibc_probe uaf                 which bytes of a freed block free() overwrites
 *
 * Run it as a fresh process (the heap of an interpreter is already full), and
 * with GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0 to see
 * plain bins and coalescing.  Needs glibc 2.32+ on x86_64: the tcache walk below
 * assumes the tcache layout of 2.30+ and the safe-linked pointers of 2.32+.
 */
#define _GNU_SOURCE
#pragma GCC diagnostic ignored "-Warray-bounds"   /* we read below malloc's pointers on purpose */
#pragma GCC diagnostic ignored "-Wuse-after-free" /* and, once, a block after free (cmd_uaf) */
#include "probe_io.h"
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

/* glibc >= 2.30 keeps the tcache in the heap's first chunk:
 * uint16_t counts[64]; tcache_entry *entries[64]; each entry's next pointer is
 * "safe-linked" (stored XOR (its own address >> 12)) since glibc 2.32. */
#define TCACHE_BINS 64
static int in_tcache(unsigned char *heap, unsigned char *mem)
{
    unsigned char *tc = heap + 16;                        /* the first chunk's user data */
    void **entries = (void **)(tc + TCACHE_BINS * sizeof(uint16_t));
    for (int i = 0; i < TCACHE_BINS; i++) {
        void *e = entries[i];
        int guard = 0;
        while (e && guard++ < 1000) {
            if (e == mem) return 1;
            uintptr_t stored = *(uintptr_t *)e;
            e = (void *)(stored ^ ((uintptr_t)e >> 12));
        }
    }
    return 0;
}

static int owner_of(unsigned char *mem)
{
    for (int i = 0; i < MAX_ID; i++)
        if (live[i] == mem) return i;
    return -1;
}

static void walk(unsigned char *heap, unsigned char *top, int tcache_on)
{
    /* one line per chunk: offset size flags state owner */
    for (unsigned char *c = heap; c <= top; c += SIZE_OF(c)) {
        size_t size = SIZE_OF(c);
        unsigned char *next = c + size;
        const char *state;
        int owner = -1;
        if (c == top) state = "top";
        else if (c == heap) state = "tcache_struct";             /* glibc's first chunk, even with tcache_count=0 */
        else if (!(FLAGS_OF(next) & PREV_INUSE) || next > top) state = "free";
        else if ((owner = owner_of(c + 16)) >= 0) state = "used";
        else if (tcache_on && in_tcache(heap, c + 16)) state = "tcache";
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
    out("%-34s chunk size %7zu  M bit %zu  %s\n", what, field & ~(size_t)7, (field & IS_MMAPPED) >> 1,
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
        size_t n = strtoul(argv[i], NULL, 10);
        void *p = sink = malloc(n);
        out("%7zu  %5zu  %18zu  %zu\n", n, size_field(p) & ~(size_t)7, malloc_usable_size(p),
            (size_field(p) & NON_MAIN_ARENA) >> 2);
    }
    out_flush();
    return 0;
}

/* a heap with a history: a free 1024-byte chunk in a bin, then malloc(1000) (which needs 1008) */
static int cmd_history(void)
{
    void *t[7], *x = malloc(1016);
    sink = malloc(16);                                    /* guards: keep the chunks apart */
    for (int i = 0; i < 7; i++) { t[i] = malloc(1016); sink = malloc(16); }
    for (int i = 0; i < 7; i++) free(t[i]);               /* the tcache list for 1024-byte chunks is full (7) */
    free(x);                                              /* so x goes to a bin */
    void *p = sink = malloc(1000);
    out("a free 1024-byte chunk waits in a bin; malloc(1000) needs 1008 bytes: the rest would be 16 < 32\n");
    out("malloc(1000): chunk size %zu, the chunk that was free: %s, malloc_usable_size %zu\n",
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

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "trace")) return cmd_trace(argv[2], argc >= 4 ? atoi(argv[3]) : -1);
    if (argc >= 2 && !strcmp(argv[1], "brk")) return cmd_brk();
    if (argc >= 2 && !strcmp(argv[1], "mmap")) return cmd_mmap();
    if (argc >= 2 && !strcmp(argv[1], "sizes")) return cmd_sizes(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "history")) return cmd_history();
    if (argc >= 2 && !strcmp(argv[1], "uaf")) return cmd_uaf();
    out("usage: glibc_probe trace FILE [STOP] | brk | mmap | sizes N... | history | uaf\n");
    out_flush();
    return 2;
}
