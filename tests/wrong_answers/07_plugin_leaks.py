"""Seeded wrong answers for lesson 07's exercises (keyed by the 1-based index of the
notebook's `solution`-tagged cells). Each must make the check after it print a ✘ and
a hint."""

WRONG = {
    # Exercise 1: takes heaptrack's "leaked" and LSan's records at their word as "lost",
    # and calls everything that comes from the encoder "definitely lost".
    1: '''ANSWERS = {
    1: "definitely lost",
    2: "definitely lost",
    3: "definitely lost",
    4: "not a leak",
    5: "definitely lost",
}
''',
    # Exercise 2: cleans up on the encode error, forgets the allocation-failure path
    # (the context, and whichever of the two mallocs succeeded).
    2: '''%%cffi batch -l miniheif -L {LIBDIR} -I {INC} --ldflags "-Wl,-rpath,{LIBDIR}"
#include <stdint.h>
#include <stdlib.h>
#include "miniheif.h"

extern void leakcount_arm(long fail_at) __attribute__((weak));   /* the counting allocator */
extern long leakcount_disarm(void) __attribute__((weak));

#define CAPACITY 200

long encode_batch(const char *plugin, int n)
{
    struct mh_context *ctx;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK)
        return -e.code;
    uint8_t *out = malloc(CAPACITY);
    uint8_t *pixels = malloc(64);
    if (!out || !pixels)
        return -MH_ERR_NOMEM;
    long total = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++)
            pixels[k] = (uint8_t)(k * 3 + i);
        struct mh_image img = {8, 8, pixels};
        size_t size;
        e = mh_encode(ctx, &img, out, CAPACITY, &size);
        if (e.code != MH_OK) {
            free(pixels);
            free(out);
            mh_close(ctx);
            return -e.code;
        }
        total += (long)size;
    }
    free(pixels);
    free(out);
    mh_close(ctx);
    return total;
}

long encode_batch_failing(const char *plugin, int n, long fail_at, long *allocations)
{
    if (!leakcount_arm)
        return -100;               /* not under the counting allocator */
    leakcount_arm(fail_at);
    long result = encode_batch(plugin, n);
    *allocations = leakcount_disarm();
    return result;
}
''',
}
