"""Wrong answers for lesson 01, keyed by the 1-based index of the solution-tagged cell:
(kind, whole replacement of the cell, a fragment the verdict's text must contain)."""

_CFFI = ('%%cffi mine -I ../native_examples/01_heap_managers --file ../native_examples/01_heap_managers/talloc.c'
         ' --cflags "-DTA_LEARNER_COALESCE"\n#include "talloc.h"\n')

WRONG = {
    1: [
        # merges with the block before but leaves that block on the free list
        # (ta_free then inserts it a second time)
        ("partial", _CFFI + '''
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
''', "free list exactly once"),
        # drops -DTA_LEARNER_COALESCE, so talloc.c's own ta_coalesce does the work
        ("gaming", '''%%cffi mine -I ../native_examples/01_heap_managers --file ../native_examples/01_heap_managers/talloc.c
#include "talloc.h"
''', "TA_LEARNER_COALESCE"),
        # unlinks the block before by hand, and dereferences NULL when it is the list's head:
        # undefined behaviour the check runs into (a crash, reported in the child)
        ("forbidden", _CFFI + '''
ta_block *ta_coalesce(ta_heap *h, ta_block *b)
{
    ta_block *next = ta_next_block(b);
    if (!ta_is_used(next)) {
        ta_list_remove(h, next);
        ta_set(b, ta_size(b) + ta_size(next), 0);
    }
    if (!ta_prev_is_used(b)) {
        ta_block *prev = ta_prev_block(b);
        prev->prev->next = prev->next;           /* unlink by hand */
        prev->next->prev = prev->prev;
        ta_set(prev, ta_size(prev) + ta_size(b), 0);
        b = prev;
    }
    return b;
}
''', "crashed"),
    ],
    2: [
        # thinks the tcache is a queue (first freed, first reused)
        ("partial", '''answer = {"x": "b", "y": "c", "z": "new", "w": "d"}
''', "last in, first out"),
        # asks the check's own replay for the answer
        ("gaming", '''answer = hm.real_reuse()
''', "the check's own replay"),
        # hedges: two blocks for one malloc
        ("forbidden", '''answer = {"x": ["a", "d"], "y": "c", "z": "new", "w": "d"}
''', "exactly one"),
        # the check's own replay, called from a worker thread (no notebook frame on its stack)
        ("gaming", '''from concurrent.futures import ThreadPoolExecutor
answer = ThreadPoolExecutor(1).submit(hm.real_reuse).result()
''', "the check's own replay"),
        # the private function the oracle calls (review2-00-01 defect 3)
        ("gaming", '''answer = hm._reuse()
''', "the check's own replay"),
        # the oracle, then the record of it cleared (the module's _peeked is only a copy)
        ("gaming", '''answer = hm.real_reuse()
hm._peeked.clear()
''', "the check's own replay"),
        # the oracle, the check run once (refused), then the check cell run again (review4 defect 1)
        ("gaming", '''answer = hm.real_reuse()
hm.check_reuse(answer)
''', "the check's own replay"),
    ],
    3: [
        # thinks the unsorted bin is scanned from its head (newest first), so y gets d; and
        # names the large bin glibc sorts d into during z's call, not where d waited before it
        ("partial", '''answer = {"x": ("c", "tcache"), "y": ("d", "unsorted"), "z": ("d", "large bin"), "w": ("new", "top")}
''', "oldest chunk"),
        # asks the check's own replay for the answer
        ("gaming", '''answer = hm.real_bins()
''', "the check's own replay"),
        # names glibc's list ("tcache 0x30") instead of one of the kinds the task allows
        ("forbidden", '''answer = {"x": ("c", "tcache 0x30"), "y": ("b", "unsorted"), "z": ("d", "unsorted"), "w": ("new", "top")}
''', "exactly the strings"),
        # the check's own replay, called from a worker thread (no notebook frame on its stack)
        ("gaming", '''from concurrent.futures import ThreadPoolExecutor
answer = ThreadPoolExecutor(1).submit(hm.real_bins).result()
''', "the check's own replay"),
        # the private function the oracle calls (review2-00-01 defect 3)
        ("gaming", '''answer = hm._bins()
''', "the check's own replay"),
        # the oracle, the check run once (refused), then the check cell run again (review4 defect 1)
        ("gaming", '''answer = hm.real_bins()
hm.check_bins(answer)
''', "the check's own replay"),
        # the oracle inside the checks' own "inside a check" block (review4 defect 2)
        ("gaming", '''with hm._checking():
    answer = hm.real_bins()
''', "the check's own replay"),
    ],
    4: [
        # knows 2.41's small bins but not 2.43's 16 chunks a tcache list: 2.43 answered like 2.41
        ("partial", '''answer = {"2.36": {"x8": ("a8", "unsorted"), "x9": ("a9", "unsorted")},
          "2.41": {"x8": ("a8", "smallbin"), "x9": ("a9", "unsorted")},
          "2.43": {"x8": ("a8", "smallbin"), "x9": ("a9", "unsorted")}}
''', "holds 16 chunks"),
        # thinks 2.41 sends a split's remainder to a small bin too
        ("partial", '''answer = {"2.36": {"x8": ("a8", "unsorted"), "x9": ("a9", "unsorted")},
          "2.41": {"x8": ("a8", "smallbin"), "x9": ("a9", "smallbin")},
          "2.43": {"x8": ("a2", "tcache"), "x9": ("a1", "tcache")}}
''', "still goes to the unsorted bin"),
        # the machine's own glibc, replayed, copied for all three versions
        ("gaming", '''from labsupport.heap.glibc import glibc_steps
s = glibc_steps(hm.VERSIONS_TRACE)
first = {s[i].changed: s[i].op.id for i in range(1, 11)}
mine = {s[i].op.id: (first.get(s[i].changed, "new"), s[i].served.split()[0]) for i in (27, 28)}
answer = {"2.36": mine, "2.41": mine, "2.43": mine}
''', "read from the replays"),
        # guessed the same pair for all three versions, by hand
        ("partial", '''answer = {"2.36": {"x8": ("a2", "tcache"), "x9": ("a1", "tcache")},
          "2.41": {"x8": ("a2", "tcache"), "x9": ("a1", "tcache")},
          "2.43": {"x8": ("a2", "tcache"), "x9": ("a1", "tcache")}}
''', "same answer for all three"),
        # asks the check's own replay for the answer
        ("gaming", '''answer = hm.real_glibc_places()
''', "the check's own replay"),
        # the private function the oracle calls
        ("gaming", '''answer = hm._glibc_places()[0]
''', "the check's own replay"),
        # reads the answer from a view of the exercise's trace (the steps of its panels)
        ("forbidden", '''from labsupport.widgets.sidebyside import compare_glibcs
view = compare_glibcs(hm.VERSIONS_TRACE)
answer = {}
for p in view.panels:
    first = {p.steps[i].changed: p.steps[i].op.id for i in range(1, 11)}
    answer[p.title.split()[1]] = {p.steps[i].op.id: (first.get(p.steps[i].changed, "new"),
                                                      p.steps[i].served.split()[0]) for i in (27, 28)}
''', "read from the replays"),
        # runs the trace under each fetched glibc itself, from a worker thread
        ("forbidden", '''from concurrent.futures import ThreadPoolExecutor
from labsupport.heap import glibcs

def run(g):
    s = glibcs.steps_under(hm.VERSIONS_TRACE, g)
    first = {s[i].changed: s[i].op.id for i in range(1, 11)}
    return "%d.%d" % g.version, {s[i].op.id: (first.get(s[i].changed, "new"), s[i].served.split()[0]) for i in (27, 28)}

answer = dict(ThreadPoolExecutor(1).map(run, glibcs.installed()))
''', "read from the replays"),
        # review4-00-01 defect 2: the replays inside glibcs.trusted(), which a cell is not granted
        ("forbidden", '''from labsupport.heap import glibcs
def places(s):
    first = {s[i].changed: s[i].op.id for i in range(1, 11)}
    return {s[i].op.id: (first.get(s[i].changed, "new"), s[i].served.split()[0]) for i in (27, 28)}
with glibcs.trusted():
    answer = {"%d.%d" % g.version: places(glibcs.steps_under(hm.VERSIONS_TRACE, g)) for g in glibcs.installed()}
''', "read from the replays"),
        # the replays, then the record of reads "cleared" by reading it
        ("forbidden", '''from labsupport.heap import glibcs
def places(s):
    first = {s[i].changed: s[i].op.id for i in range(1, 11)}
    return {s[i].op.id: (first.get(s[i].changed, "new"), s[i].served.split()[0]) for i in (27, 28)}
answer = {"%d.%d" % g.version: places(glibcs.steps_under(hm.VERSIONS_TRACE, g)) for g in glibcs.installed()}
glibcs.untrusted_calls()
''', "read from the replays"),
        # note_read replaced, so the replays are not noted
        ("forbidden", '''from labsupport.heap import glibcs
glibcs.note_read = lambda *a: None
def places(s):
    first = {s[i].changed: s[i].op.id for i in range(1, 11)}
    return {s[i].op.id: (first.get(s[i].changed, "new"), s[i].served.split()[0]) for i in (27, 28)}
answer = {"%d.%d" % g.version: places(glibcs.steps_under(hm.VERSIONS_TRACE, g)) for g in glibcs.installed()}
''', "was replaced"),
        # the view's own quiet read of its panels' steps
        ("forbidden", '''from labsupport.widgets.sidebyside import glibcs_view
v = glibcs_view(hm.VERSIONS_TRACE)
answer = {}
for p in v.panels:
    first = {p._step(i).changed: p._step(i).op.id for i in range(1, 11)}
    answer[p.title.split()[1]] = {p._step(i).op.id: (first.get(p._step(i).changed, "new"),
                                                      p._step(i).served.split()[0]) for i in (27, 28)}
''', "read from the replays"),
        # the oracle inside the checks' own "inside a check" block
        ("gaming", '''with hm._checking():
    answer = hm.real_glibc_places()
''', "the check's own replay"),
        # the oracle, the check run once (refused), then the check cell run again (review4 defect 1)
        ("gaming", '''answer = hm.real_glibc_places()
hm.check_glibc_versions(answer)
''', "the check's own replay"),
    ],
    5: [
        # the right idea, but the holes are freed in the wrong order: the 64-byte hole
        # is first on the LIFO list, so first fit makes the same choice as best fit
        ("partial", '''my_trace = """\\
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
''', "first fit fails too"),
        # a working trace of 14 operations, and the check's limit raised to let it through
        ("gaming", '''hm.MAX_BEST_FIT_OPS = 20
my_trace = """\\
# arena: 240
alloc A 80
alloc s1 16
alloc B 48
alloc s2 16
free B
free A
alloc r 16
alloc x 48
alloc y 48
alloc q 1
free q
alloc q 1
free q
free x
"""
''', "was changed"),
        # more operations than the task allows
        ("forbidden", '''my_trace = """\\
# arena: 240
alloc A 80
alloc s1 16
alloc B 48
alloc s2 16
free B
free A
alloc r 16
alloc x 48
alloc y 48
alloc q 1
free q
alloc q 1
free q
"""
''', "at most 12"),
        # the limit raised in the module's dict and the check run once in this cell (refused,
        # which used to write the raised limit back): the check cell runs it a second time
        ("gaming", '''hm._LIMITS["MAX_BEST_FIT_OPS"] = 20
my_trace = """\\
# arena: 240
alloc A 80
alloc s1 16
alloc B 48
alloc s2 16
free B
free A
alloc r 16
alloc x 48
alloc y 48
alloc q 1
free q
alloc q 1
free q
free x
"""
hm.check_first_beats_best(my_trace)
''', "at most 12"),
        # the verdict function replaced from a cell (review2-00-01 defect 4)
        ("gaming", '''my_trace = "alloc a 16\\n"
hm.first_beats_best = lambda text: "ok"
''', "was replaced"),
        # replay() replaced in the module by a fake whose best fit fails
        ("gaming", '''my_trace = "# arena: 48\\nalloc a 16\\nfree a\\nalloc b 16\\n"
import labsupport.lessons.heap_managers as _h
_h.replay = lambda t, p, o: type("R", (), {"failures": [] if p == "first" else [1], "arena_size": 48})()
''', "was replaced"),
        # an arena that is no multiple of 16: the format, not the strategy, is wrong
        ("partial", '''my_trace = "# arena: 250\\nalloc a 16\\n"
''', "the trace's format"),
    ],
    6: [
        # frees lag one allocation behind, so two big blocks are live at once, and a pin is
        # cut from a hole: glibc keeps only 1.72 x the peak live bytes
        ("partial", '''my_trace = """\\
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
''', "at least 2 x"),
        # the check's limits changed, so that many small requests (rounding) would count
        ("gaming", '''hm.MAX_FOOTPRINT_OPS = 40
my_trace = "alloc a 1000\\nfree a\\nalloc b 900\\nfree b\\n" * 4
''', "was changed"),
        # requests below 100 bytes, which the task rules out (rounding would do the work)
        ("forbidden", '''my_trace = """\\
alloc a 1
free a
alloc b 17
free b
alloc c 33
free c
"""
''', "100 to 65,536"),
        # the limit raised in the module's dict and the check run once in this cell: the
        # check cell runs it a second time, and 20 operations are still too many
        ("gaming", '''hm._LIMITS["MAX_FOOTPRINT_OPS"] = 40
my_trace = "".join(f"alloc a{i} {100 + 16 * i}\\nfree a{i}\\n" for i in range(10))
hm.check_footprint_trace(my_trace)
''', "at most 12"),
        # the verdict function replaced from a cell (review2-00-01 defect 4) ...
        ("gaming", '''my_trace = "alloc a 1000\\nfree a\\n"
hm._footprint_verdict = lambda t: "ok"
''', "was replaced"),
        # ... and put back: a request above the task's range is refused again
        ("forbidden", '''my_trace = "alloc a 70000\\nfree a\\nalloc b 100\\n"
''', "100 to 65,536"),
    ],
    7: [
        # saw the two runs (tcache on: main thread; off: thread 2) but not that a tcache bin
        # can be full: the case with 7 of the main thread's own chunks freed first catches it
        ("partial", '''def who_gets_it_back(tcache_on, own_freed):
    return "main thread" if tcache_on else "thread 2"
''', "how many chunks does a bin hold"),
        # the book's cases, looked up (those whose answer is the same on every glibc: (True, 7) and
        # (True, 12) depend on the tcache's length, 7 up to 2.42 and 16 from 2.43)
        ("gaming", '''def who_gets_it_back(tcache_on, own_freed):
    return {(True, 0): "main thread", (False, 0): "thread 2",
            (True, 3): "main thread", (True, 6): "main thread", (False, 7): "thread 2"}[(tcache_on, own_freed)]
''', "not looked up"),
        # runs the two threads (the experiment) instead of predicting
        ("forbidden", '''from labsupport.heap.threads import arena_outcome

def who_gets_it_back(tcache_on, own_freed):
    return arena_outcome(tcache_on, own_freed)
''', "may not start programs"),
        # loads libc with cffi inside the function (refused before it runs: it uses C)
        ("forbidden", '''def who_gets_it_back(tcache_on, own_freed):
    import cffi
    ffi = cffi.FFI()
    ffi.cdef("size_t malloc_usable_size(void *);")
    ffi.dlopen(None)
    return "main thread" if tcache_on and own_freed < 7 else "thread 2"
''', "not from running the two threads"),
        # the notebook's GLIBC_TUNABLES set so that the real program's every answer is "thread 2"
        # (review2-00-01 defect 2): the check measures with glibc's defaults; last, as it stays set
        ("gaming", '''import os
os.environ["GLIBC_TUNABLES"] = "glibc.malloc.tcache_count=0"

def who_gets_it_back(tcache_on, own_freed):
    return "thread 2"
''', "tcache of the thread that calls it"),
    ],
}
