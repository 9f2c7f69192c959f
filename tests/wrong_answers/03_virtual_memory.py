"""Seeded wrong answers for lesson 03, keyed by the 1-based index of the
solution-tagged cell. Each must make the following check print "✘" and "hint:"."""

WRONG = {
    # 1: divides without rounding up: forgets that page 0 is touched too (and the last
    #    partial stride), so it is one page short whenever n does not divide pages
    1: '''def predict(pages, n):
    touched = pages // n
    return touched * PAGE // 1024, touched
''',
    # 2: the tempting shortcut: make the whole reservation readable/writable on the
    #    first call. Every block works, RSS stays low on Linux, but nothing is reserved
    #    any more: it is all committed
    2: '''%%cffi bump
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#define COMMIT_STEP (64 * 1024)

static char *base;
static size_t reserved;
static size_t used;
static size_t committed;

int bump_init(size_t reserve) {
    base = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) { base = NULL; return -1; }
    reserved = reserve;
    used = committed = 0;
    return 0;
}

size_t bump_committed(void) { return committed; }

void *bump_alloc(size_t n) {
    size_t start = (used + 15) & ~(size_t)15;
    if (start > reserved || n > reserved - start)
        return NULL;
    if (committed == 0) {
        mprotect(base, reserved, PROT_READ | PROT_WRITE);
        committed = reserved;
    }
    used = start + n;
    return base + start;
}
''',
}
