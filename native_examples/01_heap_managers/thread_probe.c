/* thread_probe.c - glibc malloc with two threads: arenas (lesson 01).
 *
 *   thread_probe arena SIZE [FILL]
 *                               the main thread and a second thread each malloc(SIZE);
 *                               the main thread then frees FILL chunks of its own of
 *                               that size (default 0: to fill its tcache bin), then the
 *                               second thread's chunk, and each thread mallocs SIZE once more
 *
 * What it prints (one record a line, read by labsupport/heap/threads.py; no addresses):
 *   C WHO FLAGS SIZE            a chunk's size field: A (NON_MAIN_ARENA), M (IS_MMAPPED),
 *                               P (PREV_INUSE) bits, and the chunk size
 *   M WHO NAME PERMS RW RESERVED ALIGNED HEAPSTART ARENAOFF CHUNKOFF
 *                               the mapping (/proc/self/maps) that holds WHO's chunk:
 *                               its name ("[heap]" or "anon"), the bytes of the
 *                               read-write part, the bytes of the whole reservation
 *                               (read-write part + the PROT_NONE part right after it),
 *                               whether its start is a multiple of the reservation size,
 *                               whether start == pointer & ~(reservation - 1) (arena.c's
 *                               heap_for_ptr), where the arena's malloc_state is (heap_info
 *                               ->ar_ptr, bytes from the start; -1 outside) and where the chunk is
 *   I LINE                      malloc_info(3) right after the cross-thread free (XML)
 *   G WHO SAME                  the WHO thread's next malloc(SIZE): 1 = it got the freed chunk back
 *   V VERSION                   gnu_get_libc_version()
 *
 * Run it with GLIBC_TUNABLES=glibc.malloc.tcache_count=0 to see the chunk go to its
 * own arena's bins instead of the freeing thread's tcache (glibc 2.36 malloc.c: _int_free
 * puts a chunk in the CALLING thread's tcache first, whatever arena it belongs to).
 */
#define _GNU_SOURCE
#include "probe_io.h"
#include <gnu/libc-version.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

static size_t size;
static void *main_chunk, *t2_chunk, *t2_guard, *t2_again;
static pthread_barrier_t turn;

static void chunk_bits(const char *who, void *p)
{
    size_t f = ((size_t *)p)[-1];                       /* the size field, just before the payload */
    out("C %s %c%c%c %zu\n", who, f & 4 ? 'A' : '-', f & 2 ? 'M' : '-', f & 1 ? 'P' : '-', f & ~(size_t)7);
}

/* /proc/self/maps, read with read(2) into a static buffer (no malloc) */
static char maps[1 << 18];
static void where(const char *who, void *p)
{
    int fd = open("/proc/self/maps", O_RDONLY);
    size_t len = 0;
    ssize_t n;
    while (fd >= 0 && (n = read(fd, maps + len, sizeof maps - 1 - len)) > 0) len += (size_t)n;
    if (fd >= 0) close(fd);
    maps[len] = 0;
    uintptr_t a = (uintptr_t)p;
    for (char *line = maps; *line; ) {
        char *eol = strchr(line, '\n');
        if (eol) *eol = 0;
        unsigned long s, e;
        char perms[8], name[256] = "";
        int got = sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &s, &e, perms, name);
        if (got >= 3 && a >= s && a < e) {
            size_t rw = e - s, total = rw;
            if (eol && !name[0]) {                       /* a PROT_NONE reservation right after it? */
                unsigned long s2, e2;
                char p2[8], n2[256] = "", next[512];
                size_t k = 0;                            /* the next line alone (%s skips newlines) */
                while (k < sizeof next - 1 && eol[1 + k] && eol[1 + k] != '\n') { next[k] = eol[1 + k]; k++; }
                next[k] = 0;
                if (sscanf(next, "%lx-%lx %7s %*s %*s %*s %255s", &s2, &e2, p2, n2) >= 3
                    && s2 == e && !strcmp(p2, "---p") && !n2[0])
                    total += e2 - s2;
            }
            int aligned = total && (total & (total - 1)) == 0 && s % total == 0;
            int heapstart = aligned && (a & ~(uintptr_t)(total - 1)) == s;
            long arena_off = -1;
            if (heapstart) {                             /* heap_info: { mstate ar_ptr; ... } */
                uintptr_t ar = *(uintptr_t *)s;
                if (ar >= s && ar < e) arena_off = (long)(ar - s);
            }
            out("M %s %s %s %zu %zu %d %d %ld %ld\n", who, name[0] ? name : "anon", perms, rw, total,
                aligned, heapstart, arena_off, (long)(a - s));
            return;
        }
        if (!eol) break;
        line = eol + 1;
    }
    out("M %s none\n", who);
}

static void *thread2(void *arg)
{
    (void)arg;
    t2_chunk = malloc(size);                   /* the first malloc of this thread: a new arena */
    t2_guard = malloc(size);                   /* keeps t2_chunk away from the top chunk */
    pthread_barrier_wait(&turn);               /* 1: main looks, frees t2_chunk, mallocs again */
    pthread_barrier_wait(&turn);               /* 2 */
    t2_again = malloc(size);
    pthread_barrier_wait(&turn);               /* 3: main reports */
    pthread_barrier_wait(&turn);               /* 4: done */
    return NULL;
}

static char info_buf[1 << 16];

int main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "arena")) {
        out("usage: thread_probe arena SIZE [FILL]\n");
        out_flush();
        return 2;
    }
    size = (size_t)atol(argv[2]);
    (void)read_trace;                          /* probe_io.h's trace reader: not needed here */
    int fill = argc >= 4 ? atoi(argv[3]) : 0;
    if (fill < 0) fill = 0;
    if (fill > 64) fill = 64;
    void *own[64];
    /* malloc_info writes to a FILE: make it now (its FILE struct is malloc'ed), with a
     * static buffer, so that nothing below allocates except the calls we look at */
    int mfd = memfd_create("malloc_info", 0);
    FILE *info = fdopen(mfd, "w+");
    setvbuf(info, info_buf, _IOFBF, sizeof info_buf);

    out("V %s\n", gnu_get_libc_version());
    main_chunk = malloc(size);
    chunk_bits("main", main_chunk);
    where("main", main_chunk);
    for (int i = 0; i < fill; i++) own[i] = malloc(size);

    pthread_t t;
    pthread_barrier_init(&turn, NULL, 2);
    pthread_create(&t, NULL, thread2, NULL);
    pthread_barrier_wait(&turn);               /* 1: thread 2 has its chunk and waits */
    chunk_bits("t2", t2_chunk);
    where("t2", t2_chunk);

    for (int i = 0; i < fill; i++) free(own[i]);   /* the main thread's own chunks first */
    out("F %d\n", fill);
    free(t2_chunk);                            /* the cross-thread free */
    malloc_info(0, info);
    fflush(info);
    void *again = malloc(size);                /* the main thread's next malloc of that size */
    out("G main %d\n", again == t2_chunk);
    if (again == t2_chunk) chunk_bits("main_again", again);
    pthread_barrier_wait(&turn);               /* 2: thread 2 mallocs again */
    pthread_barrier_wait(&turn);               /* 3 */
    out("G t2 %d\n", t2_again == t2_chunk);
    pthread_barrier_wait(&turn);               /* 4 */
    pthread_join(t, NULL);

    size_t len = (size_t)lseek(mfd, 0, SEEK_END);   /* the malloc_info text, as lines "I ..." */
    if (len >= sizeof maps) len = sizeof maps - 1;
    lseek(mfd, 0, SEEK_SET);
    size_t got = 0;
    ssize_t n;
    while (got < len && (n = read(mfd, maps + got, len - got)) > 0) got += (size_t)n;
    maps[got] = 0;
    for (char *line = maps; *line; ) {
        char *eol = strchr(line, '\n');
        if (eol) *eol = 0;
        out("I %s\n", line);
        if (!eol) break;
        line = eol + 1;
    }
    out_flush();
    return 0;
}
