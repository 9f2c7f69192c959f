/* whoserves.c - which allocator serves each kind of allocation in this process?
 *
 *   whoserves [PLUGIN.so]
 *
 * For each allocation it asks mimalloc "is this block yours?" (mi_is_in_heap_region),
 * looked up at run time with dlsym: when no mimalloc is loaded the answer is glibc.
 * It also prints which file the name `malloc` resolves to (dlsym + dladdr).
 * The same source is run plain, with LD_PRELOAD=libmimalloc.so, and linked with
 * mimalloc.o first (static override). mimalloc.o exports malloc & co. but keeps its
 * own API (mi_*) hidden, so that build is compiled with -DSTATIC_MIMALLOC and calls
 * mi_is_in_heap_region directly.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *helper_alloc(size_t n);          /* from libhelper.so, linked normally */

static bool (*in_mimalloc)(const void *);
#ifdef STATIC_MIMALLOC
bool mi_is_in_heap_region(const void *p);
#endif

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static const char *provider(const char *symbol)
{
    Dl_info info;
    void *f = dlsym(RTLD_DEFAULT, symbol);
    if (f && dladdr(f, &info) && info.dli_fname) return base(info.dli_fname);
    return "?";
}

static void report(const char *what, void *p)
{
    printf("%-34s %s\n", what, in_mimalloc && in_mimalloc(p) ? "mimalloc" : "glibc");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#ifdef STATIC_MIMALLOC
    in_mimalloc = mi_is_in_heap_region;
#else
    in_mimalloc = (bool (*)(const void *))dlsym(RTLD_DEFAULT, "mi_is_in_heap_region");
#endif

    printf("%-34s %s\n", "the name malloc resolves to", provider("malloc"));
    printf("%-34s %s\n", "the name strdup resolves to", provider("strdup"));

    void *a = malloc(100);
    report("malloc in the program", a);
    char *b = strdup("copy");
    report("strdup", b);
    char *c = NULL;
    if (asprintf(&c, "%d", 42) < 0) return 1;   /* glibc allocates inside libc.so.6 */
    report("asprintf (allocates inside libc)", c);
    void *d = helper_alloc(100);
    report("malloc in libhelper.so (linked)", d);
    void *e = NULL;
    if (argc > 1) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
        void *(*plugin_alloc)(size_t) = (void *(*)(size_t))dlsym(h, "plugin_alloc");
        e = plugin_alloc(100);
        report("malloc in a dlopen'ed library", e);
    }
    free(a); free(b); free(c); free(d); free(e);
    return 0;
}
