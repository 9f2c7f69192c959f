/* libtable.c: a shared library with 1 MiB of read-only data (.rodata), so the
 * lesson can watch one library's pages being shared by two processes.
 * Build: gcc -O1 -shared -fPIC libtable.c -o libtable.so */
#define TABLE_BYTES (1 << 20)
/* static: a program that named `table` directly would get its own copy of it (a copy
 * relocation: the linker reserves the array in the program and the loader copies it
 * there at start), and the library's pages would never be read */
static const unsigned char table[TABLE_BYTES] = {1, 2, 3, [TABLE_BYTES - 1] = 4};

const void *table_address(void) { return table; }

/* read one byte per page: every page of the table is then mapped in the caller */
unsigned long table_touch(void) {
    unsigned long sum = 0;
    for (long i = 0; i < TABLE_BYTES; i += 4096) sum += ((const volatile unsigned char *)table)[i];
    return sum;
}
