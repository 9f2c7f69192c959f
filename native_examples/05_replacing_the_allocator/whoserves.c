/* whoserves.c - which allocator serves each kind of allocation in this process?
 *
 *   whoserves [global:LIB.so] [PLUGIN.so] [deep:PLUGIN2.so]
 *
 *   global:LIB.so     first thing in main: dlopen(LIB.so, RTLD_NOW | RTLD_GLOBAL)
 *                     (lesson 05 opens libmimalloc.so this way, "too late")
 *   PLUGIN.so         a library opened with dlopen(RTLD_NOW | RTLD_LOCAL)
 *   deep:PLUGIN2.so   a library opened with dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
 *                     (must be another file than PLUGIN.so: a file is loaded once)
 *
 * For each allocation it asks mimalloc "is this block yours?" (mi_is_in_heap_region).
 * That function is declared weak: a static mimalloc linked into the program defines
 * it (mimalloc.o and libmimalloc.a keep the mi_* API hidden, so dlsym cannot find
 * it there); otherwise it is looked up at run time with dlsym. When no mimalloc is
 * loaded the answer is glibc. It also prints which file the name `malloc` resolves
 * to (dlsym + dladdr). Every block goes back to the module that allocated it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *helper_alloc(size_t n);          /* from libhelper.so, linked normally */

static bool (*in_mimalloc)(const void *);
/* weak: a reference that does not pull anything out of an archive, and is NULL
   when nothing defines it at link time */
bool mi_is_in_heap_region(const void *p) __attribute__((weak));

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
    int arg = 1;
    if (arg < argc && strncmp(argv[arg], "global:", 7) == 0) {
        if (!dlopen(argv[arg] + 7, RTLD_NOW | RTLD_GLOBAL)) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 2;
        }
        printf("%-34s %s\n", "opened with RTLD_GLOBAL", base(argv[arg] + 7));
        arg++;
    }
    in_mimalloc = mi_is_in_heap_region;
    if (!in_mimalloc)
        in_mimalloc = (bool (*)(const void *))dlsym(RTLD_DEFAULT, "mi_is_in_heap_region");

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
    free(a); free(b); free(c); free(d);
    for (; arg < argc; arg++) {
        int deep = strncmp(argv[arg], "deep:", 5) == 0;
        const char *path = deep ? argv[arg] + 5 : argv[arg];
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | (deep ? RTLD_DEEPBIND : 0));
        if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
        void *(*plugin_alloc)(size_t) = (void *(*)(size_t))dlsym(h, "plugin_alloc");
        void (*plugin_free)(void *) = (void (*)(void *))dlsym(h, "plugin_free");
        void *e = plugin_alloc(100);
        report(deep ? "malloc in an RTLD_DEEPBIND library" : "malloc in a dlopen'ed library", e);
        plugin_free(e);         /* back to the plugin's own free */
    }
    return 0;
}
