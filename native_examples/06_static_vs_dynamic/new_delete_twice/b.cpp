// b.cpp - includes it AGAIN: a second definition of every operator new/delete.
#include <mimalloc-new-delete.h>
int *make_b() { return new int(2); }
