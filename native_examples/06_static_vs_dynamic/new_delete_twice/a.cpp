// a.cpp - includes mimalloc-new-delete.h: defines the global operator new/delete.
#include <mimalloc-new-delete.h>
int *make_a() { return new int(1); }
