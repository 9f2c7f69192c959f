/* talloc_preload.c - lesson 01's teaching allocator as the process's malloc (LD_PRELOAD).
 *
 *   gcc -O2 -fno-builtin -shared -fPIC -I../01_heap_managers talloc_preload.c ../01_heap_managers/talloc.c -o libtalloc.so
 *   LD_PRELOAD=./libtalloc.so ./churn
 *
 * One arena of ARENA bytes (address space reserved with mmap at the first call,
 * pages filled in only when touched), first fit, LIFO free list, coalescing:
 * exactly talloc.c, unchanged.  One spin lock around every call makes it safe
 * with threads (and shows what one lock costs).  Blocks aligned to more than 16
 * bytes (memalign and friends) are carved out of a bigger block; a tag word just
 * below such a pointer (the value 2, never a valid talloc header) and the
 * original pointer below that let free() find the real block.
 *
 * TALLOC_POLICY=best (best fit) or TALLOC_POLICY=address (first fit, free list
 * in address order) in the environment changes the policy (lesson 09's frag).
 *
 * -fno-builtin matters: without it gcc turns calloc's "malloc, then memset" into
 * a call to calloc, which then calls itself forever.
 */
#include "talloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA ((size_t)1 << 30)          /* 1 GiB of address space; RSS grows only as used */
#define ALIGNED_TAG 2

static ta_heap heap;
static int ready;
static volatile int lock_word;

static void lock(void)
{
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

static int setup(void)       /* called with the lock held */
{
    if (ready) return 0;
    void *mem = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    const char *how = getenv("TALLOC_POLICY");          /* getenv does not allocate */
    int policy = how && !strcmp(how, "best") ? TA_BEST_FIT : TA_FIRST_FIT;
    int order = how && !strcmp(how, "address") ? TA_ADDRESS : TA_LIFO;
    if (mem == MAP_FAILED || ta_init(&heap, mem, ARENA, policy, order, 1) != 0) return -1;
    ready = 1;
    return 0;
}

void *malloc(size_t n)
{
    lock();
    void *p = setup() == 0 ? ta_malloc(&heap, n) : NULL;
    unlock();
    if (!p) errno = ENOMEM;
    return p;
}

static void *real_block(void *p)
{
    size_t tag = ((size_t *)p)[-1];
    return tag == ALIGNED_TAG ? ((void **)p)[-2] : p;
}

void free(void *p)
{
    if (!p) return;
    p = real_block(p);
    lock();
    ta_free(&heap, p);
    unlock();
}

size_t malloc_usable_size(void *p)
{
    if (!p) return 0;
    void *r = real_block(p);
    size_t usable = ta_size(ta_block_of(r)) - TA_OVERHEAD;
    return usable - (size_t)((char *)p - (char *)r);
}

void *calloc(size_t k, size_t n)
{
    if (n && k > (size_t)-1 / n) { errno = ENOMEM; return NULL; }
    void *p = malloc(k * n);
    if (p) memset(p, 0, k * n);
    return p;
}

void *realloc(void *p, size_t n)
{
    if (!p) return malloc(n);
    if (n == 0) { free(p); return NULL; }
    size_t have = malloc_usable_size(p);
    if (n <= have) return p;
    void *q = malloc(n);
    if (!q) return NULL;
    memcpy(q, p, have);
    free(p);
    return q;
}

void *memalign(size_t align, size_t n)
{
    if (align <= TA_ALIGN) return malloc(n);
    if (align & (align - 1)) { errno = EINVAL; return NULL; }
    char *raw = malloc(n + align + 16);
    if (!raw) return NULL;
    char *p = (char *)(((uintptr_t)raw + 16 + align - 1) & ~(uintptr_t)(align - 1));
    ((size_t *)p)[-1] = ALIGNED_TAG;
    ((void **)p)[-2] = raw;
    return p;
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }
void *valloc(size_t n) { return memalign(4096, n); }
void *pvalloc(size_t n) { return memalign(4096, (n + 4095) & ~(size_t)4095); }
