/* reserve.c: reserve address space, commit it, touch it, and watch the counters.
 *
 *   ./reserve steps MIB     reserve MIB MiB with PROT_NONE, make half of it
 *                           readable/writable with mprotect, touch one page, read
 *                           8 MiB (the shared zero page), then write them; after
 *                           each step print what changed
 *   ./reserve every PAGES N reserve and commit PAGES pages, then write one byte
 *                           into every N-th page (pages 0, N, 2N, ...); print the
 *                           growth of the region's resident set (KiB, counted with
 *                           mincore) and the minor faults
 *   ./reserve thp           touch one byte of a 2 MiB-aligned region, first as it
 *                           is, then after madvise(MADV_HUGEPAGE)
 *
 * The regions of "steps" and "every" are marked MADV_NOHUGEPAGE, so the counts are
 * one page (4 KiB) per fault whatever /sys/kernel/mm/transparent_hugepage/enabled
 * says; "thp" shows what transparent huge pages change.
 * Build: gcc -O1 reserve.c -o reserve
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "vmstat.h"

#define PAGE 4096L

static struct vmstat before;
static long faults_before;

/* faults are counted around the step itself, sizes read before and after it */
static void step_begin(void) { vmstat_read(&before); faults_before = vmstat_minflt(); }

static void step_end(const char *what) {
    struct vmstat now;
    long faults = vmstat_minflt() - faults_before;
    vmstat_read(&now);
    /* name | VSZ change | RSS change | minor faults | VSZ | RSS  (KiB) */
    printf("%-34s %+10ld %+8ld %+7ld %10ld %8ld\n", what, now.vsz_kib - before.vsz_kib,
           now.rss_kib - before.rss_kib, faults, now.vsz_kib, now.rss_kib);
}

static char *reserve(size_t bytes) {
    char *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    madvise(p, bytes, MADV_NOHUGEPAGE);          /* 4 KiB pages, whatever the THP setting */
    return p;
}

/* Call every library function a step uses once, on a scratch page, before measuring:
 * the first call of a libc function can fault its code page in, and for a file the
 * kernel then maps up to 16 neighbouring pages too (fault-around), which would show
 * as RSS the step did not cause. */
static void warm_up(void) {
    struct vmstat s;
    char *q = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(q, PAGE, MADV_NOHUGEPAGE);
    mprotect(q, PAGE, PROT_READ | PROT_WRITE);
    madvise(q, PAGE, MADV_DONTNEED);
    munmap(q, PAGE);
    unsigned char v;
    mincore(&s, 1, &v);
    vmstat_read(&s);
    vmstat_minflt();
}

/* Resident pages of [p, p + len), from mincore(2): counts only this region. */
static long resident_pages(char *p, size_t len) {
    static unsigned char vec[1 << 18];
    size_t pages = len / PAGE, n = 0;
    if (pages > sizeof vec || mincore(p, len, vec) != 0) return -1;
    for (size_t i = 0; i < pages; i++) n += vec[i] & 1;
    return (long)n;
}

static int steps(long mib) {
    size_t size = (size_t)mib << 20;
    warm_up();
    printf("%-34s %10s %8s %7s %10s %8s\n", "# step", "dVSZ kB", "dRSS kB", "faults", "VSZ kB", "RSS kB");
    step_begin();
    char *p = reserve(size);
    step_end("mmap PROT_NONE (reserve)");
    step_begin();
    if (mprotect(p, size / 2, PROT_READ | PROT_WRITE) != 0) { perror("mprotect"); return 1; }
    step_end("mprotect half READ|WRITE (commit)");
    step_begin();
    p[0] = 1;
    step_end("write 1 byte");
    step_begin();
    volatile char sink = 0;
    for (size_t i = 0; i < (8u << 20); i += PAGE) sink += p[i];
    step_end("read 1 byte per page, 8 MiB");
    step_begin();
    for (size_t i = 0; i < (8u << 20); i += PAGE) p[i] = 1;
    step_end("write 1 byte per page, 8 MiB");
    step_begin();
    for (size_t i = 0; i < (8u << 20); i += PAGE) p[i] = 2;
    step_end("write the same 8 MiB again");
    step_begin();
    madvise(p, 8u << 20, MADV_DONTNEED);
    step_end("madvise(MADV_DONTNEED) the 8 MiB");
    step_begin();
    munmap(p, size);
    step_end("munmap everything");
    return 0;
}

static int every(long pages, long n) {
    warm_up();
    size_t len = (size_t)pages * PAGE;
    char *p = reserve(len);
    if (mprotect(p, len, PROT_READ | PROT_WRITE) != 0) { perror("mprotect"); return 1; }
    long rss0 = resident_pages(p, len), flt0 = vmstat_minflt();
    for (long i = 0; i < pages; i += n) p[i * PAGE] = 1;
    long flt1 = vmstat_minflt(), rss1 = resident_pages(p, len);
    /* the growth of the region's resident set (KiB) and the faults the loop took */
    printf("%ld %ld\n", (rss1 - rss0) * (PAGE / 1024), flt1 - flt0);
    return 0;
}

static int thp(void) {
    size_t huge = 2u << 20;
    for (int advise = 0; advise <= 1; advise++) {
        char *raw = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) { perror("mmap"); return 1; }
        char *p = (char *)(((unsigned long)raw + huge - 1) & ~(huge - 1));   /* 2 MiB aligned */
        int rc = advise ? madvise(p, huge, MADV_HUGEPAGE) : 0;
        struct vmstat a, b;
        vmstat_read(&a);
        long flt0 = vmstat_minflt();
        p[12345] = 1;
        long flt1 = vmstat_minflt();
        vmstat_read(&b);
        printf("%s: madvise %s; 1 byte written: RSS %+ld KiB, %ld fault(s), AnonHugePages %+ld KiB\n",
               advise ? "MADV_HUGEPAGE" : "no advice", rc == 0 ? "ok" : strerror(errno),
               b.rss_kib - a.rss_kib, flt1 - flt0, b.anon_huge_kib - a.anon_huge_kib);
        munmap(raw, 2 * huge);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "steps")) return steps(atol(argv[2]));
    if (argc >= 4 && !strcmp(argv[1], "every")) return every(atol(argv[2]), atol(argv[3]));
    if (argc >= 2 && !strcmp(argv[1], "thp")) return thp();
    fprintf(stderr, "usage: %s steps MIB | every PAGES N | thp\n", argv[0]);
    return 2;
}
