/* Member 2 of the archive, like mimalloc's src/prim/osx/alloc-override-zone.c in a static
 * build: everything is static, the only thing it does is run a constructor (there,
 * _mi_macos_override_malloc, which makes mimalloc the default malloc zone). No other
 * file refers to anything in it. */
#include <stdio.h>

__attribute__((constructor, used))
static void take_over(void) { puts("take_over: the constructor ran (the 'zone' is installed)"); }
