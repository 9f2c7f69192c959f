/* What glibc's aligned allocation functions do with valid and invalid requests.
 * A program of its own: every run starts with a fresh heap.
 * Prints one line per call: the call, its result, errno, and whether the pointer is a
 * multiple of the alignment asked for (and of the next power of two). No addresses.
 * Which calls fail depends on the glibc version: 2.38 made aligned_alloc return NULL
 * with EINVAL for an alignment that is not a power of two (0 included). */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t next_pow2(size_t a) { size_t p = 1; while (p < a) p <<= 1; return p; }

static void report(const char *call, void *p, int err, size_t align, size_t size) {
    printf("%-28s -> %-4s errno=%-6s", call, p ? "ptr" : "NULL",
           err == 0 ? "0" : err == EINVAL ? "EINVAL" : err == ENOMEM ? "ENOMEM" : "other");
    if (p && align > 1) {
        /* only powers of two: whether an address is a multiple of 24 changes from run to
         * run (address space randomisation moves the heap by whole pages) */
        uintptr_t a = (uintptr_t)p;
        size_t p2 = next_pow2(align);
        printf(" ptr %% %zu == 0: %-3s%s", p2, a % p2 == 0 ? "yes" : "no",
               p2 != align ? " (rounded up from the alignment asked for)" : "");
    }
    /* whether the block holds the size asked for; not the exact usable size, which
     * depends on the glibc version and on the heap's history */
    if (p) printf("  usable >= size: %s", malloc_usable_size(p) >= size ? "yes" : "NO");
    printf("\n");
}

int main(void) {
    char call[64];
    struct { size_t align, size; } aa[] = {
        {64, 128}, {64, 100}, {4096, 1}, {24, 48}, {48, 96}, {0, 16}, {1, 16},
    };
    for (size_t i = 0; i < sizeof aa / sizeof aa[0]; i++) {
        errno = 0;
        void *p = aligned_alloc(aa[i].align, aa[i].size);
        int e = errno;
        snprintf(call, sizeof call, "aligned_alloc(%zu, %zu)", aa[i].align, aa[i].size);
        report(call, p, e, aa[i].align, aa[i].size);
        free(p);
    }
    size_t pm[] = {64, 8, 4, 24, 0};
    for (size_t i = 0; i < sizeof pm / sizeof pm[0]; i++) {
        void *p = NULL;
        int r = posix_memalign(&p, pm[i], 100);          /* returns the error, errno untouched */
        snprintf(call, sizeof call, "posix_memalign(&p, %zu, 100)", pm[i]);
        report(call, r ? NULL : p, r, pm[i], 100);
        if (!r) free(p);
    }
    size_t ma[] = {64, 24, 3};
    for (size_t i = 0; i < sizeof ma / sizeof ma[0]; i++) {
        errno = 0;
        void *p = memalign(ma[i], 100);
        int e = errno;
        snprintf(call, sizeof call, "memalign(%zu, 100)", ma[i]);
        report(call, p, e, ma[i], 100);
        free(p);
    }
    return 0;
}
