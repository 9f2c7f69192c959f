/* linked.c - liblinked.so: a library the program is linked against. */
#include <stdlib.h>
void *linked_alloc(size_t n) { return malloc(n); }
void linked_free(void *p) { free(p); }
