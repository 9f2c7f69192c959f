/* textlib.c - a small library that hands out heap memory.
 *
 * Lesson 04 builds this one source several ways:
 *   libtext_private.so  mimalloc linked in statically and kept private
 *                       (-Wl,--exclude-libs,ALL): the library has its own malloc
 *   libtext_exported.so mimalloc linked in statically and exported: the
 *                       library's malloc can take over the whole process
 *   libtext_shared.so   no allocator of its own (-DNO_OWN_ALLOCATOR): it uses
 *                       the process's malloc, like the program does
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef NO_OWN_ALLOCATOR
#include <mimalloc.h>
#endif

/* How many strings text_greeting made, and how many are still out (not yet given
   to text_free). Lesson 04's exercise uses them to catch a "fix" that never frees,
   and one that never asks the library at all. */
static long made, live;

/* Returns a new string. The caller must give it back with text_free().
   TEXTLIB_GREETING, if set, replaces "hello, " (lesson 04's check varies it, so that
   an answer must measure the library's string, not know its format). */
char *text_greeting(const char *name)
{
    const char *hello = getenv("TEXTLIB_GREETING");
    if (!hello) hello = "hello, ";
    size_t n = strlen(hello) + strlen(name) + 1;
    char *s = malloc(n);
    if (s) {
        snprintf(s, n, "%s%s", hello, name);
        made++;
        live++;
    }
    return s;
}

/* The matching free: the module that allocates exports the function that frees. */
void text_free(void *p)
{
    if (p) live--;
    free(p);
}

/* Strings handed out by text_greeting and not given back yet. */
long text_live(void)
{
    return live;
}

/* Strings text_greeting has made so far. */
long text_made(void)
{
    return made;
}

/* Fix 2: the caller passes its own allocator in, so it can free with its own free. */
char *text_greeting_with(const char *name, void *(*alloc)(size_t))
{
    size_t n = strlen(name) + sizeof "hello, ";
    char *s = alloc(n);
    if (s) snprintf(s, n, "hello, %s", name);
    return s;
}

/* 1 if p lies in this library's allocator's memory (mimalloc's own test). */
int text_owns(const void *p)
{
#ifdef NO_OWN_ALLOCATOR
    (void)p;
    return 0;
#else
    return mi_is_in_heap_region(p);
#endif
}
