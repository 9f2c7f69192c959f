/* The whole library as one object, like mimalloc's src/static.c (mimalloc.o), which
 * #includes every source file, alloc-override-zone.c too. */
#include "lib_alloc.c"
#include "lib_zone.c"
