/* opened.c - opened.so: a library the program opens later with dlopen(RTLD_LOCAL). */
#include <stdlib.h>
void *opened_alloc(size_t n) { return malloc(n); }
void opened_free(void *p) { free(p); }
