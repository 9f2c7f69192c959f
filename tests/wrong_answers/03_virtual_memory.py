"""Seeded wrong answers for lesson 03: WRONG[n] lists (kind, whole replacement of the n-th
solution cell, a fragment of the hint the check must give). See tests/test_wrong_answers.py."""

_BUMP_HEAD = '''%%cffi bump
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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
'''

WRONG = {
    1: [
        # divides without rounding up: forgets page 0 (and the last partial stride), so it is
        # one page short whenever n does not divide pages
        ("partial", '''def predict(pages, n, page):
    touched = pages // n
    return touched * page // 1024, touched
''', "round up"),
        # one more than the floor: right when n does not divide pages, one too many when it does
        ("partial", '''def predict(pages, n, page):
    touched = pages // n + 1
    return touched * page // 1024, touched
''', "round up"),
        # C's (int)(x + 0.5) habit in Python: round() rounds half to even, so an exact division
        # with an odd quotient comes out one too many (review4 02-03, defect 1: (303, 3))
        ("partial", '''def predict(pages, n, page):
    touched = round(pages / n + 0.5)
    return touched * page // 1024, touched
''', "round up"),
        # the old two-argument signature: the task asks for the page size as an argument
        ("partial", '''def predict(pages, n):
    touched = (pages + n - 1) // n
    return touched * PAGE // 1024, touched
''', "three arguments"),
        # a float: PAGE / 1024 instead of //
        ("partial", '''def predict(pages, n, page):
    touched = (pages + n - 1) // n
    return touched * page / 1024, touched
''', "two ints"),
        # runs the experiment it was asked to predict (the lesson's own measuring program)
        ("gaming", '''def predict(pages, n, page):
    import labsupport as lab
    from labsupport.lessons.virtual_memory import reserve_program
    out = lab.run_program([reserve_program(), "every", str(pages), str(n)])
    return tuple(int(x) for x in out.stdout.split())
''', "don't run the experiment"),
        # the same through the check's own helper
        ("gaming", '''def predict(pages, n, page):
    from labsupport.lessons.virtual_memory import measured_every
    return measured_every(pages, n)
''', "don't run the experiment"),
        # the experiment again, in-process: a bytearray touched page by page, faults counted
        ("gaming", '''def predict(pages, n, page):
    import resource
    buf = bytearray(pages * PAGE)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(0, pages, n):
        buf[i * PAGE] = 1
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    return faults * PAGE // 1024, faults
''', "don't run the experiment"),
        # the book's five answers typed in, anything else guessed
        ("gaming", '''def predict(pages, n, page):
    book = {(100, 1): (400, 100), (1000, 7): (572, 143), (4096, 16): (1024, 256),
            (10, 50): (4, 1), (257, 256): (8, 2)}
    return book.get((pages, n), (4, 1))
''', "page 0 counts"),
        # the book's cases in a table, a floor for the rest: random cases with n = 1 or n
        # dividing pages let it pass about one run in 90 (review2 02-03, defect 2)
        ("gaming", '''def predict(pages, n, page):
    table = {(100, 1): 100, (1000, 7): 143, (4096, 16): 256, (10, 50): 1, (257, 256): 2, (300, 3): 100}
    t = table.get((pages, n), pages // n)
    return t * page // 1024, t
''', "round up"),
        # right only on a machine with 4 KiB pages: the task gives the page size as `page`
        ("forbidden", '''def predict(pages, n, page):
    touched = (pages + n - 1) // n
    return touched * 4, touched
''', "use the argument `page`"),
        # this machine's page size instead of the argument (PAGE, mmap.PAGESIZE, getpagesize)
        ("forbidden", '''def predict(pages, n, page):
    touched = (pages + n - 1) // n
    return touched * PAGE // 1024, touched
''', "use the argument `page`"),
        ("forbidden", '''import mmap

def predict(pages, n, page):
    touched = -(-pages // n)
    return touched * mmap.PAGESIZE // 1024, touched
''', "use the argument `page`"),
    ],
    2: [
        # the missing clamp: the last commit rounded up to a whole step reaches past a
        # reservation whose size is not a multiple of the step
        ("partial", _BUMP_HEAD + '''
void *bump_alloc(size_t n) {
    size_t start = (used + 15) & ~(size_t)15;
    if (start > reserved || n > reserved - start)
        return NULL;
    size_t end = start + n;
    if (end > committed) {
        size_t want = (end + COMMIT_STEP - 1) / COMMIT_STEP * COMMIT_STEP;
        if (mprotect(base + committed, want - committed, PROT_READ | PROT_WRITE) != 0)
            return NULL;
        committed = want;
    }
    used = end;
    return base + start;
}
''', "past"),
        # the tempting shortcut: the whole reservation made readable/writable on the first
        # call. Every block works, RSS stays low, but nothing is reserved any more
        ("gaming", _BUMP_HEAD + '''
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
''', "committing, not reserving"),
        # never updates `committed`: every call re-mprotects from base (it works, but the
        # counter lies, so nothing stops a commit past the reservation)
        ("partial", _BUMP_HEAD + '''
void *bump_alloc(size_t n) {
    size_t start = (used + 15) & ~(size_t)15;
    if (start > reserved || n > reserved - start)
        return NULL;
    size_t end = start + n;
    if (end > committed) {
        size_t want = (end + COMMIT_STEP - 1) / COMMIT_STEP * COMMIT_STEP;
        if (want > reserved)
            want = reserved;
        if (mprotect(base + committed, want - committed, PROT_READ | PROT_WRITE) != 0)
            return NULL;
    }
    used = end;
    return base + start;
}
''', "keep `committed`"),
        # ignores the reservation and asks malloc: aligned, separate, writable, and no
        # reserve/commit at all
        ("forbidden", _BUMP_HEAD + '''
void *bump_alloc(size_t n) {
    if (used + n > reserved)
        return NULL;
    used += (n + 15) & ~(size_t)15;
    return aligned_alloc(16, (n + 15) & ~(size_t)15);
}
''', "from the reservation"),
    ],
}
