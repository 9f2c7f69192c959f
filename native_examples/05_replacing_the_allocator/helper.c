/* helper.c - libhelper.so: a shared library the program links against. */
#include <stdlib.h>
void *helper_alloc(size_t n) { return malloc(n); }
