/* An SSE aligned load (_mm_load_ps, the movaps instruction) on an address that is
 * `offset` bytes past a 16-byte boundary. movaps requires a multiple of 16; a
 * misaligned address raises a general-protection fault, which Linux delivers as SIGSEGV.
 * Lesson 02 builds this file at -O0 and at -O2 and runs it in an isolated child. */
#include <immintrin.h>

static float data[16] __attribute__((aligned(16))) =
    {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* The intrinsic: the compiler decides which instruction it becomes. */
float sum4_at(int offset) {
    const float *p = (const float *)((const char *)data + offset);
    __m128 v = _mm_load_ps(p);                       /* "p must be 16-byte aligned" */
    float out[4];
    _mm_storeu_ps(out, v);
    return out[0] + out[1] + out[2] + out[3];
}

/* The instruction itself, pinned with inline assembly: movaps at any -O level. */
float sum4_movaps_at(int offset) {
    const float *p = (const float *)((const char *)data + offset);
    __m128 v;
    __asm__ volatile("movaps (%1), %0" : "=x"(v) : "r"(p) : "memory");
    float out[4];
    _mm_storeu_ps(out, v);
    return out[0] + out[1] + out[2] + out[3];
}
