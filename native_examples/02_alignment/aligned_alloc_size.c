/* aligned_alloc with a size that is not a multiple of the alignment: C11 made it
 * undefined, C17 allows it, glibc accepts it, other implementations refuse it.
 * Lesson 02 builds this with -fsanitize=address: AddressSanitizer's aligned_alloc
 * checks the C11 rule and stops the program with a report. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    void *p = aligned_alloc(64, 100);              /* 100 is not a multiple of 64 */
    printf("aligned_alloc(64, 100) returned %s\n", p ? "a block" : "NULL");
    free(p);
    return 0;
}
