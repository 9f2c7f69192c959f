/* Preloaded (LD_PRELOAD) into the child that runs lesson 02's exercise check
 * (aligned_check.c): every aligned allocator glibc exports, wrapped. While
 * `lab_forbid_aligned` is set (aligned_check.c sets it around each call of the learner's
 * my_aligned_alloc / my_aligned_free), calling one of them ends the child with SIGABRT
 * and says which; otherwise the call goes on to glibc's own. A preloaded object comes
 * first in the global symbol lookup, so a direct call, a call through an unlisted alias
 * and dlsym(RTLD_DEFAULT, "aligned_alloc") all land here.
 * Build: gcc -O1 -fPIC -shared aligned_forbid.c -o aligned_forbid.so -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lab_forbid_aligned;

static void refuse(const char *name) {
    static const char head[] = "the allocator called ", tail[] = ", which the exercise forbids\n";
    if (write(2, head, sizeof head - 1) < 0 || write(2, name, strlen(name)) < 0 ||
        write(2, tail, sizeof tail - 1) < 0) { /* nothing more to say */ }
    abort();
}

#define REAL(name, type) \
    static type real; \
    if (lab_forbid_aligned) refuse(#name); \
    if (!real) real = (type)dlsym(RTLD_NEXT, #name)

typedef void *(*two_t)(size_t, size_t);
typedef void *(*one_t)(size_t);
typedef int (*posix_t)(void **, size_t, size_t);

void *aligned_alloc(size_t alignment, size_t size) { REAL(aligned_alloc, two_t); return real(alignment, size); }
void *memalign(size_t alignment, size_t size) { REAL(memalign, two_t); return real(alignment, size); }
void *__libc_memalign(size_t alignment, size_t size) { REAL(__libc_memalign, two_t); return real(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    REAL(posix_memalign, posix_t);
    return real(out, alignment, size);
}
void *valloc(size_t size) { REAL(valloc, one_t); return real(size); }
void *pvalloc(size_t size) { REAL(pvalloc, one_t); return real(size); }
void *__libc_valloc(size_t size) { REAL(__libc_valloc, one_t); return real(size); }
void *__libc_pvalloc(size_t size) { REAL(__libc_pvalloc, one_t); return real(size); }
