/* Windows: _aligned_malloc's blocks must be freed with _aligned_free
 * (https://learn.microsoft.com/en-us/cpp/c-runtime-library/reference/aligned-malloc).
 * Built with MinGW-w64 (links msvcrt.dll) and run under Wine by lesson 02.
 *   win_aligned.exe        _aligned_malloc + _aligned_free (correct)
 *   win_aligned.exe free   _aligned_malloc + free          (wrong) */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    void *p = _aligned_malloc(100, 64);
    printf("_aligned_malloc(100, 64): %s, address %% 64 = %u\n", p ? "ok" : "NULL",
           (unsigned)((uintptr_t)p % 64));
    memset(p, 0xab, 100);
    if (argc > 1 && strcmp(argv[1], "free") == 0) {
        printf("free(p) on the aligned block...\n");
        free(p);
        printf("free(p) returned\n");
    } else {
        _aligned_free(p);
        printf("_aligned_free(p): ok\n");
    }
    void *q = malloc(100);
    printf("a later malloc(100): %s\n", q ? "ok" : "NULL");
    free(q);
    return 0;
}
