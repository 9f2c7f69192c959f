/* app.c - a program that uses textlib and frees what it gets.
 *
 *   app MODE [LIBRARY [plain]]
 *
 * Without LIBRARY the program uses the textlib it was linked with.
 * With LIBRARY it opens that file with dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
 * (or without RTLD_DEEPBIND when "plain" follows) and uses that copy instead.
 *
 * MODE:
 *   owners      print which allocator owns each pointer, free everything correctly
 *   free-lib    free() a string that the library allocated (wrong)
 *   lib-free    text_free() a block that the program allocated (wrong)
 *   fixed       each pointer goes back to the module that allocated it
 *   callback    the library allocates with the program's malloc (text_greeting_with)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* textlib's API, as declared in its header */
char *text_greeting(const char *name);
char *text_greeting_with(const char *name, void *(*alloc)(size_t));
void text_free(void *p);
int text_owns(const void *p);

/* The program calls textlib through these pointers: the linked copy by default,
   or the copy opened with dlopen when a LIBRARY is named. */
static char *(*greeting)(const char *) = text_greeting;
static char *(*greeting_with)(const char *, void *(*)(size_t)) = text_greeting_with;
static void (*lib_free)(void *) = text_free;
static int (*lib_owns)(const void *) = text_owns;

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Which file does the name `malloc` resolve to, for this program? */
static const char *malloc_provider(void)
{
    Dl_info info;
    void *f = dlsym(RTLD_DEFAULT, "malloc");
    if (f && dladdr(f, &info) && info.dli_fname) return base(info.dli_fname);
    return "?";
}

static const char *owner(const void *p)
{
    return lib_owns(p) ? "the library's mimalloc" : "not the library's allocator (glibc)";
}

static void *need(void *handle, const char *name)
{
    void *f = dlsym(handle, name);
    if (!f) { fprintf(stderr, "missing symbol %s: %s\n", name, dlerror()); exit(2); }
    return f;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: app MODE [LIBRARY [plain]]\n"); return 2; }
    const char *mode = argv[1];
    if (argc > 2) {
        int deep = !(argc > 3 && strcmp(argv[3], "plain") == 0);
        void *h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL | (deep ? RTLD_DEEPBIND : 0));
        if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
        greeting = need(h, "text_greeting");
        greeting_with = need(h, "text_greeting_with");
        lib_free = need(h, "text_free");
        lib_owns = need(h, "text_owns");
    }

    char *from_lib = greeting("world");
    char *from_app = malloc(32);
    strcpy(from_app, "the program's block");

    if (strcmp(mode, "owners") == 0) {
        printf("malloc in the program resolves to: %s\n", malloc_provider());
        printf("string from the library:  %s\n", owner(from_lib));
        printf("block from the program:   %s\n", owner(from_app));
        lib_free(from_lib);
        free(from_app);
    } else if (strcmp(mode, "free-lib") == 0) {
        printf("free() on the library's string...\n");
        free(from_lib);
        printf("...returned\n");
        free(from_app);
    } else if (strcmp(mode, "lib-free") == 0) {
        printf("text_free() on the program's block...\n");
        lib_free(from_app);
        printf("...returned\n");
        lib_free(from_lib);
    } else if (strcmp(mode, "fixed") == 0) {
        lib_free(from_lib);   /* the library's block goes back to the library */
        free(from_app);       /* the program's block goes back to the program */
        printf("fixed: each block went back to its own allocator\n");
    } else if (strcmp(mode, "callback") == 0) {
        char *mine = greeting_with("callback", malloc);
        printf("string made with the program's malloc: %s\n", owner(mine));
        free(mine);           /* safe: the program's allocator made it */
        lib_free(from_lib);
        free(from_app);
        printf("callback: freed with the program's free, no crash\n");
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("exit normally\n");
    return 0;
}
