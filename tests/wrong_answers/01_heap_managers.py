"""Seeded wrong answers for lesson 01, keyed by the 1-based index of the
solution-tagged cell. Each must make the following check print "✘" and "hint:"."""

WRONG = {
    # 1: merges with the block before but leaves that block on the free list
    #    (ta_free then inserts it a second time)
    1: '''%%cffi mine -I ../native_examples/01_heap_managers --file ../native_examples/01_heap_managers/talloc.c --cflags "-DTA_LEARNER_COALESCE"
#include "talloc.h"

ta_block *ta_coalesce(ta_heap *h, ta_block *b)
{
    ta_block *next = ta_next_block(b);
    if (!ta_is_used(next)) {                     /* merge with the block after */
        ta_list_remove(h, next);
        ta_set(b, ta_size(b) + ta_size(next), 0);
    }
    if (!ta_prev_is_used(b)) {                   /* merge with the block before */
        ta_block *prev = ta_prev_block(b);
        ta_set(prev, ta_size(prev) + ta_size(b), 0);
        b = prev;
    }
    return b;
}
''',
    # 2: thinks the tcache is a queue (first freed, first reused)
    2: '''answer = {"x": "b", "y": "c", "z": "new", "w": "d"}
''',
    # 3: thinks the unsorted bin is scanned from its head (newest first), so y gets d; and
    #    names the large bin glibc sorts d into during z's call, not where d waited before it
    3: '''answer = {"x": ("c", "tcache"), "y": ("d", "unsorted"), "z": ("d", "large bin"), "w": ("new", "top")}
''',
    # 4: the right idea, but the holes are freed in the wrong order: the 64-byte hole
    #    is first on the LIFO list, so first fit makes the same choice as best fit
    4: '''my_trace = """\\
# arena: 240
alloc A 80
alloc s1 16
alloc B 48
alloc s2 16
free A
free B
alloc r 16
alloc x 48
alloc y 48
"""
''',
    # 5: frees lag one allocation behind, so two big blocks are live at once, and a pin is
    #    cut from a hole: glibc keeps only 1.72 x the peak live bytes
    5: '''my_trace = """\\
alloc A 1000
alloc p1 100
alloc B 1100
alloc p2 100
free A
alloc C 1200
alloc p3 100
free B
alloc D 1300
alloc p4 100
free C
"""
''',
    # 6: saw the two runs (tcache on: main thread; off: thread 2) but not that a tcache bin
    #    can be full: the case with 7 of the main thread's own chunks freed first catches it
    6: """def who_gets_it_back(tcache_on, own_freed):
    return "main thread" if tcache_on else "thread 2"
""",
}
