"""Seeded wrong answers for lesson 00, keyed by the 1-based index of the
solution-tagged cell. Each must make the following check print "✘" and "hint:"."""

WRONG = {
    # 1: treats the buffer as a C string: stops at the first zero byte
    1: '''%%cffi zeros
#include <stddef.h>

size_t count_zeros(const char *buf, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n && buf[i] != 0; i++)
        if (buf[i] == 0)
            count++;
    return count;
}
''',
    # 2: rounds the request up to 16 but forgets the 8-byte size field and the 32-byte minimum
    2: '''def chunk_size(n):
    return (n + 15) // 16 * 16
''',
}
