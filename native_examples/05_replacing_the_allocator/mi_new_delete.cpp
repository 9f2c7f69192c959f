// mi_new_delete.cpp - the one translation unit that includes mimalloc-new-delete.h.
// The header defines the replaceable global operator new/delete (all their forms)
// to call mimalloc. Include it in exactly one source file of the program.
#include <mimalloc-new-delete.h>
