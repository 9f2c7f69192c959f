/* mm_libc.c - the malloc lab's interface on the process's own malloc: glibc, or
 * mimalloc when libmimalloc.so is preloaded (LD_PRELOAD).
 *
 * Footprint: with glibc, mallinfo2(): bytes taken from the system (sbrk arena +
 * mmapped blocks) minus the releasable top chunk, the same "below the high-water
 * mark" idea as the teaching allocator.  Under mimalloc mallinfo2 means nothing,
 * so the footprint is resident memory (/proc/self/statm): whole 4 KiB pages.
 */
#define _GNU_SOURCE
#include "mm.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

static int is_mimalloc;
static long rss_base;

static long rss_bytes(void)
{
    char buf[64];
    int fd = open("/proc/self/statm", O_RDONLY);
    long n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *s = buf;
    strtol(s, &s, 10);                        /* total pages */
    return strtol(s, NULL, 10) * sysconf(_SC_PAGESIZE);
}

int mm_init(void)
{
    is_mimalloc = dlsym(RTLD_DEFAULT, "mi_version") != NULL;
    rss_base = rss_bytes();
    return 0;
}

void *mm_malloc(size_t n) { return malloc(n); }
void mm_free(void *p) { free(p); }
void *mm_realloc(void *p, size_t n) { return realloc(p, n); }

size_t mm_footprint(void)
{
    if (is_mimalloc) {
        long r = rss_bytes() - rss_base;
        return r > 0 ? (size_t)r : 0;
    }
    struct mallinfo2 mi = mallinfo2();
    return mi.arena - mi.keepcost + mi.hblkhd;
}

const char *mm_name(void) { return is_mimalloc ? "mimalloc" : "glibc"; }
