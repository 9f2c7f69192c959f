/* who.c - which allocator serves each allocation in this process?
 *
 *   who PLUGIN.so [deepbind]
 *
 * Allocates in the program, inside libc (asprintf), in a library it is linked
 * against (liblinked.so) and in a library it opens later (PLUGIN.so, with
 * dlopen(RTLD_NOW | RTLD_LOCAL), plus RTLD_DEEPBIND with "deepbind"). For each block it asks mimalloc "is this yours?"
 * (mi_is_in_heap_region): called directly when mimalloc is linked statically
 * (-DSTATIC_MIMALLOC: libmimalloc.a and mimalloc.o keep the mi_* API out of the
 * dynamic symbol table), looked up with dlsym otherwise; no mimalloc -> glibc.
 * It also prints which file the name `malloc` resolves to (dlsym + dladdr). For the
 * opened library a third answer is possible: a plugin that carries its own copy of
 * mimalloc (opened_own*.so) may serve itself; then glibc's in-use bytes (mallinfo2) do
 * not grow, the program's mimalloc does not know the block, and the plugin defines
 * malloc itself (dlsym on its handle looks in it first).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *linked_alloc(size_t n);          /* liblinked.so */
void linked_free(void *p);

static bool (*in_mimalloc)(const void *);
#ifdef STATIC_MIMALLOC
bool mi_is_in_heap_region(const void *p);
#endif

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void report(const char *what, void *p)
{
    printf("%-32s %s\n", what, in_mimalloc && in_mimalloc(p) ? "mimalloc" : "glibc");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#ifdef STATIC_MIMALLOC
    in_mimalloc = mi_is_in_heap_region;
#else
    in_mimalloc = (bool (*)(const void *))dlsym(RTLD_DEFAULT, "mi_is_in_heap_region");
#endif
    Dl_info info;
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    printf("%-32s %s\n", "the name malloc resolves to",
           m && dladdr(m, &info) && info.dli_fname ? base(info.dli_fname) : "?");

    void *a = malloc(100);
    report("malloc in the program", a);
    char *b = NULL;
    if (asprintf(&b, "%d", 42) < 0) return 1;
    report("asprintf (inside libc)", b);
    void *c = linked_alloc(100);
    report("malloc in liblinked.so", c);
    if (argc > 1) {
        int deep = argc > 2 && strcmp(argv[2], "deepbind") == 0;
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | (deep ? RTLD_DEEPBIND : 0));
        if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
        void *(*opened_alloc)(size_t) = (void *(*)(size_t))dlsym(h, "opened_alloc");
        void (*opened_free)(void *) = (void (*)(void *))dlsym(h, "opened_free");
        void *own = dlsym(h, "malloc");
        bool defines = own && dladdr(own, &info) && info.dli_fname
                       && strcmp(base(info.dli_fname), base(argv[1])) == 0;
        size_t before = mallinfo2().uordblks;
        void *d = opened_alloc(100);
        bool by_glibc = mallinfo2().uordblks - before >= 100;
        if (!by_glibc && !(in_mimalloc && in_mimalloc(d)) && defines)
            printf("%-32s its own copy (%s)\n", "malloc in a dlopen'ed library", base(argv[1]));
        else
            report("malloc in a dlopen'ed library", d);
        opened_free(d);
    }
    free(a); free(b); linked_free(c);
    return 0;
}
