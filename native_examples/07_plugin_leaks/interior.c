/* interior: valgrind's "possibly lost". A packet is a 16-byte header then its payload; the
 * program keeps a pointer to the payload only, so the one pointer left to the block points
 * into its middle. Is that a leak? A pointer into a block may be a real reference (this
 * one is: packet = payload - 16 gets it back) or a stray value that only looks like one. */
#include <stdlib.h>
#include <string.h>

static char *payload;                       /* kept: points 16 bytes into the block */

int main(void)
{
    char *packet = malloc(64);
    char *scratch = malloc(32);
    if (!packet || !scratch)
        return 1;
    memset(packet, 0, 64);
    payload = packet + 16;
    packet = NULL;                          /* the start of the block is no longer stored */
    scratch = NULL;                         /* no pointer at all: definitely lost */
    return payload[0];
}
