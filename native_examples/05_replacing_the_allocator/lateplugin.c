/* lateplugin.c - a library opened later with dlopen (RTLD_LOCAL, or RTLD_DEEPBIND).
 * It frees its own blocks: with RTLD_DEEPBIND its malloc may not be the program's. */
#include <stdlib.h>
void *plugin_alloc(size_t n) { return malloc(n); }
void plugin_free(void *p) { free(p); }
