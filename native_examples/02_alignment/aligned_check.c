/* The check of lesson 02's exercise: my_aligned_alloc / my_aligned_free, written by
 * the learner in a %%cffi cell. This file is built as a second module linked against
 * the learner's, and each case runs in an isolated child (lab.run_c).
 *
 * check_aligned(size, alignment, rounds) returns
 *   0  all good
 *   1  my_aligned_alloc returned NULL on the first call
 *   2  a pointer was not a multiple of `alignment`
 *   3  two live blocks overlap (writing one changed the other)
 *   4  the heap grew by 64 MiB (or NULL) over rounds of alloc + free: memory never given back
 *   5  (under AddressSanitizer only) a block's memory was still in use after
 *      my_aligned_free: it never reached free()
 * A write past the real block, or a free of a pointer malloc never returned, is
 * caught by glibc itself ("free(): invalid pointer", ... SIGABRT). With aligned_forbid.c
 * preloaded, a call of glibc's aligned allocators from the learner's code aborts, and
 * stderr says which; "calling my_aligned_free(NULL)" is the last line when that call
 * crashed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static size_t heap_bytes(void) {                    /* what glibc took from the kernel */
    struct mallinfo2 mi = mallinfo2();
    return mi.arena + mi.hblkhd;
}

void *my_aligned_alloc(size_t size, size_t alignment);
void my_aligned_free(void *p);

/* aligned_forbid.c, when the check preloads it: while set, glibc's aligned allocators abort */
static int *forbid;

static void *mine_alloc(size_t size, size_t alignment) {
    if (forbid) *forbid = 1;
    void *p = my_aligned_alloc(size, alignment);
    if (forbid) *forbid = 0;
    return p;
}

static void mine_free(void *p) {
    if (forbid) *forbid = 1;
    my_aligned_free(p);
    if (forbid) *forbid = 0;
}

int check_aligned(long size, long alignment, long rounds) {
    forbid = (int *)dlsym(RTLD_DEFAULT, "lab_forbid_aligned");
    unsigned char *a = mine_alloc((size_t)size, (size_t)alignment);
    unsigned char *b = mine_alloc((size_t)size, (size_t)alignment);
    if (!a || !b) return 1;
    if ((uintptr_t)a % (uintptr_t)alignment || (uintptr_t)b % (uintptr_t)alignment) return 2;
    memset(a, 0xA5, (size_t)size);                  /* the whole size belongs to the caller */
    memset(b, 0x5A, (size_t)size);
    for (long i = 0; i < size; i++)
        if (a[i] != 0xA5) return 3;
    mine_free(b);
    mine_free(a);
    fprintf(stderr, "calling my_aligned_free(NULL)\n");
    mine_free(NULL);                                /* like free(NULL): must do nothing */
    fprintf(stderr, "my_aligned_free(NULL) returned\n");
    /* Under AddressSanitizer (preloaded by the check) a freed block is poisoned: if the
     * aligned block is not, my_aligned_free never gave its memory back to free(). */
    int (*poisoned)(const volatile void *) =
        (int (*)(const volatile void *))dlsym(RTLD_DEFAULT, "__asan_address_is_poisoned");
    if (poisoned && (!poisoned(a) || !poisoned(b))) return 5;
    size_t start = heap_bytes();
    for (long r = 0; r < rounds; r++) {             /* freed blocks are reused: the heap stays flat */
        unsigned char *p = mine_alloc((size_t)size, (size_t)alignment);
        if (!p) return 4;
        if (r % 1000 == 999 && heap_bytes() - start > ((size_t)64 << 20)) return 4;   /* grew 64 MiB */
        if ((uintptr_t)p % (uintptr_t)alignment) return 2;
        p[0] = 1;
        p[size - 1] = 2;
        mine_free(p);
    }
    return 0;
}
