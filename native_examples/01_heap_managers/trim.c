/* trim.c - when does memory freed with free() go back to the kernel? (lesson 01)
 *
 * A fresh process: 16,384 blocks of 1,000 bytes (about 16 MiB from brk), touched,
 * then one more block, the "pin", at the end of the heap. Then:
 *   1. free the 16,384 blocks, keep the pin: the free memory is in the middle
 *      of the heap, the top chunk is small, nothing goes back;
 *   2. malloc_trim(0): glibc returns the whole free pages inside its bins with
 *      madvise(MADV_DONTNEED): RSS drops, the break barely moves;
 *   3. free the pin: everything merges into the top chunk and free() trims the
 *      heap (brk down), but keeps M_TOP_PAD (128 KiB) plus less than a page.
 * RSS is read from /proc/self/status (VmRSS). All numbers are collected first
 * and printed at the end, so printf's buffer does not disturb the heap.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    if (f) fclose(f);
    return kib;
}

#define N 16384
static char *volatile blk[N];

int main(void)
{
    char *start = sbrk(0);
    rss_kib();                                   /* the first fopen allocates; do it before measuring */
    long rss0 = rss_kib();
    for (int i = 0; i < N; i++) { blk[i] = malloc(1000); memset(blk[i], 1, 1000); }
    char *volatile pin = malloc(1000);
    long brk1 = (char *)sbrk(0) - start, rss1 = rss_kib();
    for (int i = 0; i < N; i++) free(blk[i]);
    struct mallinfo2 m2 = mallinfo2();
    long brk2 = (char *)sbrk(0) - start, rss2 = rss_kib();
    int released = malloc_trim(0);
    long brk3 = (char *)sbrk(0) - start, rss3 = rss_kib();
    free(pin);
    struct mallinfo2 m4 = mallinfo2();
    long brk4 = (char *)sbrk(0) - start, rss4 = rss_kib();

    /* break: exact KiB (the same on every run); RSS: growth over the start, whole MiB */
#define MIB(r) ((((r) - rss0) + 512) / 1024)
    printf("allocated and touched:   break +%6ld KiB   RSS +%2ld MiB\n", brk1 / 1024, MIB(rss1));
    printf("freed all but the pin:   break +%6ld KiB   RSS +%2ld MiB   free inside the heap %ld KiB, top chunk %ld KiB\n",
           brk2 / 1024, MIB(rss2), (long)(m2.fordblks - m2.keepcost) / 1024, (long)m2.keepcost / 1024);
    printf("malloc_trim(0) -> %d:     break +%6ld KiB   RSS +%2ld MiB\n", released, brk3 / 1024, MIB(rss3));
    printf("freed the pin:           break +%6ld KiB   RSS +%2ld MiB   top chunk %zu B\n",
           brk4 / 1024, MIB(rss4), m4.keepcost);
    return 0;
}
