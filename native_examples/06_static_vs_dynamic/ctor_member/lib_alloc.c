/* Member 1 of the archive, like mimalloc's alloc.c: it defines a function the program
 * calls, so the linker extracts it. */
#include <stdio.h>

void lib_hello(void) { puts("lib_hello: from the library"); }
