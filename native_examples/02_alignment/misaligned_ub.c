/* Reading an int through a misaligned int*: undefined behaviour in C (C11 6.3.2.3p7),
 * even though an x86 load instruction does not mind. Build with -fsanitize=alignment
 * to have UBSan report it. */
#include <stdio.h>
#include <string.h>

static unsigned char packet[16] __attribute__((aligned(16))) =
    {0x00, 0x2a, 0x00, 0x00, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

int main(void) {
    int via_memcpy;
    memcpy(&via_memcpy, packet + 1, sizeof via_memcpy);     /* fine: memcpy has no alignment rule */
    printf("memcpy read: %d\n", via_memcpy);
    const int *p = (const int *)(packet + 1);                /* offset 1: not a multiple of 4 */
    printf("cast read:   %d\n", *p);                          /* UB: misaligned int load */
    return 0;
}
