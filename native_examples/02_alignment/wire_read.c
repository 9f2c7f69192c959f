/* A wire format (network header, file record) is a sequence of bytes with no padding:
 *   type: 2 bytes, length: 4 bytes, stamp: 8 bytes  -> 14 bytes, stamp at byte 6.
 * Two ways to read the 8-byte stamp. Compile with gcc -O2 -S to compare. */
#include <stdint.h>
#include <string.h>

uint64_t stamp_by_cast(const unsigned char *buf) {
    return *(const uint64_t *)(buf + 6);            /* undefined behaviour twice: buf + 6 is not
                                                       8-aligned, and bytes are read as a uint64_t
                                                       (strict aliasing, C11 6.5p7) */
}

uint64_t stamp_by_memcpy(const unsigned char *buf) {
    uint64_t v;
    memcpy(&v, buf + 6, sizeof v);                  /* defined for any address */
    return v;
}

struct record { uint16_t type; uint32_t length; uint64_t stamp; };   /* 16 bytes in memory */

void decode(const unsigned char *buf, struct record *out) {          /* wire -> aligned struct */
    memcpy(&out->type, buf, 2);
    memcpy(&out->length, buf + 2, 4);
    memcpy(&out->stamp, buf + 6, 8);
}
