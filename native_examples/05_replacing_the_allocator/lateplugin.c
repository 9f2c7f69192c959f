/* lateplugin.c - a library opened later with dlopen(RTLD_LOCAL). */
#include <stdlib.h>
void *plugin_alloc(size_t n) { return malloc(n); }
