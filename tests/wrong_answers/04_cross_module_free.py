"""Seeded wrong answers for lesson 04's exercises (keyed by the 1-based index of the
notebook's `solution`-tagged cells). Each must make the check after it print a ✘ and
a hint."""

WRONG = {
    # Exercise 1: "every build that carries its own mimalloc crashes on a wrong free";
    # misses that a linked -Bsymbolic or exported library takes over malloc for the
    # program too, and that a plain dlopen leaves the exported library on glibc.
    1: '''PREDICTION = {
    "-Bsymbolic, linked: the program free()s the library's string": "SIGABRT",
    "-Bsymbolic, opened with plain dlopen: text_free() on the program's block": "SIGSEGV",
    "exported, opened with plain dlopen: the program free()s the library's string": "SIGABRT",
    "exported, linked: text_free() on the program's block": "SIGSEGV",
}
''',
    # Exercise 2: the "fix" that stops the crash by never freeing anything: no crash,
    # right length, and it leaks one library string and one glibc block per call.
    2: '''%%cffi host -l text_private -L {LIBDIR} --ldflags "-Wl,-rpath,{LIBDIR}"
#include <string.h>
#include <stdlib.h>

char *text_greeting(const char *name);   /* from textlib: give back with text_free */
void text_free(void *p);

int greeting_length(const char *name)
{
    char *g = text_greeting(name);     /* made by the library's allocator */
    char *copy = strdup(g);            /* made by this module's malloc */
    return (int)strlen(copy);          /* no free: no crash */
}
''',
}
