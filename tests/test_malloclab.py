"""The malloc lab's driver (lesson 09, native_examples/09_measuring_allocators/mdriver.c)
and the helpers in labsupport.allocbench that run it. No timings are asserted."""
import pytest

from labsupport import allocbench as ab
from labsupport import have

MM_TALLOC = ab.here("mm_talloc.c").read_text()


def test_teaching_allocator_passes_every_lesson01_trace():
    for name in ["intro", "coalesce", "fragment", "exercise", "random1000"]:
        s = ab.score("talloc", name, repeats=1)
        assert s.ok, (name, s.message)
        assert 0 < s.utilisation <= 1
        assert s.live == ab.load_trace(name).live_peak()
        assert s.seconds > 0


def test_glibc_and_mimalloc_are_correct_and_small_requests_may_be_8_aligned():
    # mimalloc's malloc(0) is only 8-byte aligned (its smallest size class is 8 bytes);
    # the driver demands 16 only from requests of 16 bytes or more, as C23 does
    for alloc in ["glibc", "glibc-no-tcache", "mimalloc"]:
        s = ab.score(alloc, "intro", repeats=1)
        assert s.ok, (alloc, s.message)


def test_seeded_broken_allocator_is_rejected_naming_the_first_failing_operation():
    s = ab.score("broken", "fragment", repeats=0)
    assert not s.ok
    assert s.message == "operation 9 (free B, line 12): block B was overwritten at byte 56 before it was freed"
    s = ab.score("broken", "random1000", repeats=0)
    assert not s.ok and s.message.startswith("operation 3 (free b1, line 5):")


def test_overlap_is_named_with_the_trace_ids():
    bad = MM_TALLOC.replace("    void *q = mm_malloc(n);\n    if (!q) return NULL;",
                            "    ta_set(ta_block_of(p), ta_block_size_for(n), 1);   /* grow blindly */\n"
                            "    return p;\n    void *q = mm_malloc(n);\n    if (!q) return NULL;")
    assert bad != MM_TALLOC
    trace = "alloc a 24\nalloc b 24\nalloc c 400\nfree c\nrealloc a 200\n"
    s = ab.score(bad, ab.parse_trace(trace, "t"), repeats=0)
    assert not s.ok
    assert s.message.startswith("operation 5 (realloc a 200, line 5): the resized block overlaps live block b")


def test_data_overwritten_by_the_allocator_is_caught():
    # a free that scribbles over the block after the one being freed
    bad = MM_TALLOC.replace("    if (p) ta_free(&heap, p);",
                            "    if (p) { ((char *)p)[ta_size(ta_block_of(p))] ^= 1; ta_free(&heap, p); }")
    assert bad != MM_TALLOC
    s = ab.score(bad, ab.parse_trace("alloc a 24\nalloc b 24\nfree a\nfree b\n", "t"), repeats=0)
    assert not s.ok
    assert s.message == "operation 4 (free b, line 4): block b was overwritten at byte 0 before it was freed"


def test_realloc_must_keep_the_bytes():
    bad = MM_TALLOC.replace("memcpy(q, p, have < n ? have : n);", "memcpy(q, p, 1);")
    assert bad != MM_TALLOC
    s = ab.score(bad, ab.parse_trace("alloc a 24\nrealloc a 100\n", "t"), repeats=0)
    assert not s.ok
    assert s.message == "operation 2 (realloc a 100, line 2): mm_realloc did not keep the old bytes: byte 1 differs"


def test_misaligned_payload_is_rejected():
    bad = MM_TALLOC.replace("ta_malloc(&heap, n)", "ta_malloc(&heap, n + 8)") \
        .replace("ta_block_size_for(n)", "ta_block_size_for(n + 8)") \
        .replace("    return p;\n}\n\nvoid mm_free", "    return p ? (char *)p + 8 : p;\n}\n\nvoid mm_free")
    assert bad != MM_TALLOC
    s = ab.score(bad, ab.parse_trace("alloc a 40\n", "t"), repeats=0)
    assert not s.ok and "not 16-byte aligned" in s.message


# ---- the driver owns the heap ------------------------------------------------------------
GLIBC_WRAPPER = """#include "mm.h"
#include <stdlib.h>
int mm_init(void) { return 0; }
void *mm_malloc(size_t n) { return malloc(n); }
void mm_free(void *p) { free(p); }
void *mm_realloc(void *p, size_t n) { return realloc(p, n); }
"""

PRIVATE_ARENA = """#include "mm.h"
#include "talloc.h"
#include <string.h>
#include <sys/mman.h>
static ta_heap heap;
static unsigned char *arena;
int mm_init(void)
{
    if (!arena) arena = mmap(NULL, 256 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    mem_sbrk(4096);
    return ta_init(&heap, arena, 256 << 20, TA_FIRST_FIT, TA_LIFO, 1);
}
void *mm_malloc(size_t n) { return ta_malloc(&heap, n); }
void mm_free(void *p) { if (p) ta_free(&heap, p); }
void *mm_realloc(void *p, size_t n) { void *q = mm_malloc(n); if (q && p) { memcpy(q, p, n); mm_free(p); } return q; }
size_t mm_footprint(void) { return 4096; }
"""


def test_an_allocator_calling_the_c_librarys_malloc_is_refused_with_the_reason():
    s = ab.score(GLIBC_WRAPPER, "intro", repeats=0)
    assert not s.ok
    assert s.message.startswith("refused before running: your allocator calls free, malloc, realloc: "
                                "the C library's allocator")
    assert "mem_sbrk" in s.message


def test_an_allocator_with_its_own_arena_and_footprint_is_refused():
    # the review's first cheat: talloc on a private mmap arena, reporting a 4 KiB footprint
    s = ab.score(PRIVATE_ARENA, "intro", repeats=0)
    assert not s.ok and "calls mmap" in s.message


def test_static_arrays_are_refused_and_small_statics_allowed():
    pool = PRIVATE_ARENA.replace("static unsigned char *arena;", "static unsigned char pool[1 << 20], *arena = pool;") \
        .replace("    if (!arena) arena = mmap(NULL, 256 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS "
                 "| MAP_NORESERVE, -1, 0);\n", "").replace("256 << 20, TA_FIRST", "sizeof pool, TA_FIRST") \
        .replace("size_t mm_footprint(void) { return 4096; }\n", "")
    assert "mmap(" not in pool
    s = ab.score(pool, "intro", repeats=0)
    assert not s.ok and "bytes of writable static data" in s.message and "pool" in s.message
    assert ab.inspect_allocator(MM_TALLOC) == ""


def test_payloads_outside_the_heap_are_named():
    # a small static buffer (under the static limit) handed out as a payload
    outside = GLIBC_WRAPPER.replace("#include <stdlib.h>", "static _Alignas(16) char spot[256];") \
        .replace("return malloc(n);", "(void)n; mem_sbrk(16); return spot;") \
        .replace("free(p);", "(void)p;").replace("return realloc(p, n);", "(void)p; (void)n; return spot;")
    assert ab.inspect_allocator(outside) == ""
    s = ab.score(outside, ab.parse_trace("alloc a 24\n", "t"), repeats=0)
    assert not s.ok
    assert s.message.startswith("operation 1 (alloc a 24, line 1): the new payload lies outside the heap")


def test_writing_past_the_break_is_named():
    overrun = MM_TALLOC.replace("return ta_init(&heap, start, TA_MIN_BLOCK + TA_OVERHEAD,",
                                "return ta_init(&heap, start, 64 << 20,")
    assert overrun != MM_TALLOC
    s = ab.score(overrun, "intro", repeats=0)
    assert not s.ok
    assert s.message.startswith("in mm_init: the allocator touched memory past the end of the heap that mem_sbrk "
                                "handed out (the page at byte ")


def test_utilisation_is_at_most_one_by_construction():
    for t in ["intro", "fragment", "exercise", "random1000", *ab.adversarial_traces()]:
        s = ab.score("talloc", t, repeats=0)
        assert s.ok, (s.trace, s.message)
        assert 0 < s.live <= s.footprint and not s.reference


def test_reference_path_is_labelled():
    s = ab.score("glibc", "random1000", repeats=0)
    assert s.ok and s.reference
    assert "RSS" in ab.lab_table([s])


def test_malloc_of_zero_may_return_null():
    null0 = MM_TALLOC.replace("    void *p = ta_malloc(&heap, n);", "    if (!n) return NULL;\n    void *p = ta_malloc(&heap, n);")
    assert null0 != MM_TALLOC
    s = ab.score(null0, ab.parse_trace("alloc a 0\nalloc b 8\nfree a\nfree b\n", "t"), repeats=1)
    assert s.ok, s.message


def test_blocks_live_at_the_end_are_checked():
    bad = MM_TALLOC.replace("    if (p) ta_free(&heap, p);",
                            "    if (p) { ((char *)p)[ta_size(ta_block_of(p))] ^= 1; ta_free(&heap, p); }")
    s = ab.score(bad, ab.parse_trace("alloc a 24\nalloc b 24\nfree a\n", "t"), repeats=0)
    assert not s.ok
    assert s.message == "at the end of the trace: block b, still live at the end of the trace, was overwritten at byte 0"


def test_mm_checkheap_runs_after_every_operation():
    src = MM_TALLOC.replace("    int r = ta_check(&heap, msg, sizeof msg);",
                            "    static int calls;\n    int r = ++calls == 3 ? 1 : ta_check(&heap, msg, sizeof msg);")
    assert src != MM_TALLOC
    s = ab.score(src, "intro", repeats=0)
    assert not s.ok and s.message.startswith("operation 3 ") and "mm_checkheap" in s.message


def test_a_heap_larger_than_talloc_can_check_is_not_called_broken():
    s = ab.score("talloc", ab.parse_trace("alloc a 5000000\nalloc b 24\nfree a\nfree b\n", "t"), repeats=0)
    assert s.ok, s.message


def test_unknown_allocators_are_refused_before_anything_runs():
    with pytest.raises(ValueError, match="unknown allocator 'nope'"):
        ab.compare(["churn"], ["glibc", "nope"], progress=False)
    with pytest.raises(ValueError, match="unknown allocator 'nope'"):
        ab.malloclab({"x": "nope"}, ["intro"], progress=False)
    with pytest.raises(ValueError, match="unknown allocator 'nope'"):
        ab.end_to_end(["true"], ["nope"])


def test_lab_score_caps_throughput_and_needs_correctness():
    scores = ab.malloclab({"teaching": "talloc", "broken": "broken"}, ["intro", "random1000"], repeats=1,
                          progress=False)
    by = {s.allocator: s for s in ab.lab_scores(scores)}
    assert by["broken"].index == 0 and not by["broken"].correct
    t = by["teaching"]
    assert t.correct and 0 < t.index <= 100
    assert t.index <= 100 * (0.6 * min(1, t.utilisation) + 0.4)
    assert len(t.per_trace) == 2 and 0 < t.capped_throughput <= 1
    assert by["glibc"].reference and by["glibc"].index != by["glibc"].index      # no score: NaN
    assert "      -" in ab.score_table(scores)


# ---- review 09: what the allow-list, the driver's second record and the RSS check refuse --------
def _wrong09():
    """tests/wrong_answers/09_measuring_allocators.py, the lesson's seeded wrong answers."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).parent / "wrong_answers" / "09_measuring_allocators.py"
    spec = importlib.util.spec_from_file_location("wrong09", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _wrong_answers():
    mod = _wrong09()
    out = {}
    for _, source, fragment in mod.WRONG[2]:
        g = {}
        exec(source, g)
        out[fragment] = g["my_allocator"]
    return out


@pytest.mark.parametrize("fragment", ["defines printf", "uses getcwd", "syscall instruction", "memory grew",
                                      "constructor", "timed replay", "past the end of the heap",
                                      "ta_replay_check", "crashed (SIGSEGV)", "same blocks on every pass",
                                      "inline assembly"])
def test_review09_cheats_are_refused(fragment):
    source = _wrong_answers()[fragment]
    s = ab.score(source, "random1000", repeats=1)
    assert not s.ok and fragment in s.message, s.message


def test_allow_list_accepts_the_teaching_allocator_and_lesson01_helpers():
    assert ab.inspect_allocator(MM_TALLOC) == ""
    debug = MM_TALLOC.replace("#include <string.h>", "#include <string.h>\n#include <assert.h>\n#include <stdlib.h>") \
        .replace("    if (p) ta_free(&heap, p);", "    assert(p == NULL || ta_is_used(ta_block_of(p)));\n"
                 "    if (p && !ta_is_used(ta_block_of(p))) abort();\n    if (p) ta_free(&heap, p);")
    assert debug != MM_TALLOC
    assert ab.inspect_allocator(debug) == ""


def test_only_the_ta_functions_the_lab_needs_are_allowed():
    # review2-09 N1: ta_replay_check printf()s to the driver's stdout and calls malloc, signal, alarm
    assert "ta_replay_check" not in ab.TALLOC_CALLS
    used = MM_TALLOC.replace("    if (p) ta_free(&heap, p);",
                             '    if (p) ta_free(&heap, p);\n    ta_replay_check("", TA_FIRST_FIT, TA_LIFO, 64);')
    assert "uses ta_replay_check" in ab.inspect_allocator(used)


@pytest.mark.parametrize("snippet", ['__asm__ volatile("" ::: "memory");', "asm(\"nop\");",
                                     "__attribute__((section(\".text\"))) static const char c[] = {0};",
                                     "#define CAT(a, b) a ## b"])
def test_assembly_and_its_disguises_are_refused_in_the_source(snippet):
    src = MM_TALLOC.replace("static ta_heap heap;", "static ta_heap heap;\n" + snippet)
    assert "your allocator's source uses" in ab.inspect_allocator(src)
    # ... but not when the words are only in a comment or a string
    assert ab._source_problem("/* asm ## section( */ int x; // __asm__\nconst char *s = \"asm ##\";") == ""


@pytest.mark.parametrize("snippet", ['__as\\\nm__ volatile("" ::: "memory");',        # a line splice
                                     '#define CAT(a, b) a %:%: b\nstatic void f(void) { CAT(__as, m__) volatile(""); }',
                                     '#include "{inc}"'])                             # asm in a file of one's own
def test_assembly_appearing_only_after_the_preprocessor_is_refused(snippet, tmp_path):
    """review3-09 S1-S3: the screen also reads the preprocessed source, outside system headers."""
    inc = tmp_path / "mine.h"
    inc.write_text('static inline void g(void) { __asm__ volatile(""); }\n')
    src = MM_TALLOC.replace("static ta_heap heap;", "static ta_heap heap;\n" + snippet.replace("{inc}", str(inc)))
    assert "once the preprocessor has run" in ab.inspect_allocator(src)


def test_system_call_bytes_are_found_whatever_the_disassembler_reads(tmp_path):
    """review3-09 S1: 0f 05 inside a movabs's immediate; objdump decodes a movabs, the scan finds it."""
    src = tmp_path / "hidden.c"
    src.write_text("unsigned long f(void) { return 0x90909090050full; }\n")
    obj = ab.build_program([src], output="hidden.o", cflags=("-O2", "-c"))
    assert ab._syscall_bytes(obj) == "syscall"
    plain = tmp_path / "plain.c"
    plain.write_text("unsigned long f(void) { return 0x9090909090ull; }\n")
    assert ab._syscall_bytes(ab.build_program([plain], output="plain.o", cflags=("-O2", "-c"))) == ""


def test_the_drivers_output_is_parsed_strictly():
    ok = "OK ops=3\nUTIL live=10 footprint=20\nTIME median=0.1 min=0.1 max=0.2 repeats=5\n"
    assert ab.parse_driver_output(ok, 5) == {"ops": 3, "live": 10, "footprint": 20, "seconds": 0.1}
    assert ab.parse_driver_output("OK ops=3\nUTIL live=10 footprint_rss=4096\n", 0, reference=True)["footprint"] == 4096
    forged = [  # review2-09 N1: a line printed by the allocator before the driver's, a second UTIL, extra text
        "step 1 (free 70000 UTIL live=10 footprint=10): id out of range\n" + ok,
        ok.replace("UTIL live=10 footprint=20\n", "UTIL live=10 footprint=10\nUTIL live=10 footprint=20\n"),
        ok.replace("footprint=20", "footprint=20 UTIL live=10 footprint=10"),
        ok + "hello\n",
        "OK ops=3\nTIME median=0.1 min=0.1 max=0.2 repeats=5\n",
        ok.replace("repeats=5", "repeats=1"),
    ]
    for out in forged:
        with pytest.raises(ValueError, match="driver's output"):
            ab.parse_driver_output(out, 5)


def test_timed_replays_must_place_every_block_as_the_checked_pass_did():
    # review2-09 N3: the checked pass is first fit; the replays take a different block (offsets differ)
    other = MM_TALLOC.replace("int mm_init(void)\n{", "static int inits;\nint mm_init(void)\n{\n    inits++;") \
        .replace("TA_FIRST_FIT, TA_LIFO, 1);", "inits > 1 ? TA_BEST_FIT : TA_FIRST_FIT, TA_LIFO, 1);")
    assert other != MM_TALLOC
    s = ab.score(other, "random1000", repeats=1)
    assert not s.ok and "where the checked pass returned" in s.message, s.message
    assert ab.score("talloc", "random1000", repeats=3).ok


def test_the_trace_fixes_the_peak_of_live_bytes():
    for name in ["intro", "random1000"]:
        s = ab.score("talloc", name, repeats=0)
        assert s.live == ab.load_trace(name).live_peak()


def test_adversarial_and_shipped_traces():
    names = [t.name for t in ab.adversarial_traces()]
    assert names == ["binary", "realloc", "sizes", "grow"]
    assert ab.sizes_trace().numeric() == ab.sizes_trace().numeric()
    assert any(k == "alloc" and n == 0 for k, _, n, _ in ab.sizes_trace().ops)
    awk = ab.shipped_trace("awk")
    assert (len(awk), awk.live_peak()) == (40111, 435103)


def test_recording_a_command_whose_work_happens_in_children_says_so(tmp_path):
    from labsupport import build_program
    from labsupport.heap import recorder
    src = tmp_path / "forker.c"
    src.write_text("#include <stdlib.h>\n#include <sys/wait.h>\n#include <unistd.h>\n"
                   "int main(void) { pid_t p = fork(); if (!p) { free(malloc(100)); _exit(0); }\n"
                   "waitpid(p, 0, 0); return 0; }\n")
    exe = build_program([src])
    with pytest.raises(recorder.ChildrenNotRecorded, match="only the process started is recorded"):
        recorder.record([str(exe)])
    with pytest.raises(recorder.ChildrenNotRecorded):
        ab.record([str(exe)])
    rec = recorder.record(["sh", "-c", "ls / > /dev/null; ls / > /dev/null"])
    assert rec.children >= 1 and "not recorded" in repr(rec)


def test_parse_trace_names_the_bad_line():
    with pytest.raises(ValueError, match="line 2"):
        ab.parse_trace("alloc a 8\nfree b\n")
    t = ab.parse_trace("alloc a 8\nrealloc a 64\nfree a\n")
    assert t.numeric() == "1 3\na 0 8\nr 0 64\nf 0\n"
    assert t.live_peak() == 64


def test_grow_trace_and_utilisation_are_deterministic():
    g = ab.grow_trace()
    a = ab.score("talloc", g, repeats=0)
    b = ab.score("talloc", g, repeats=0)
    assert a.ok and (a.live, a.footprint) == (b.live, b.footprint)


def test_recorder_records_a_real_program():
    t = ab.record(["ls", "/"], "ls")
    assert len(t) > 0
    assert ab.score("talloc", t, repeats=0).ok


def test_workload_reports_its_own_peak():
    r = ab.run_workload("churn", "glibc", args=("20000", "100", "256"))
    assert r["wall"] > 0 and r["maxrss_kb"] > 0
    r2 = ab.run_workload("churn", "mimalloc", args=("20000", "100", "256"))
    assert r["check"] == r2["check"]      # same work, whatever the allocator


@pytest.mark.skipif(not have("strace"), reason="strace not installed")
def test_syscall_counts():
    calls = ab.syscall_counts("churn", "glibc", args=("2000", "10", "64"))
    assert calls.get("brk", 0) >= 1


# ---- issue 27: the allocator in its own process, under a seccomp filter ----------------------------
@pytest.mark.parametrize("fragment", ["called mprotect", "called mmap", "called brk", "called ptrace",
                                      "seccomp filter"])
def test_system_calls_the_inspection_cannot_see_are_stopped_by_the_filter(fragment):
    """review3-09 S4/S6 and their kin: a C library function called through an address computed from
    abort's (or read from the driver's GOT) passes the inspection; the filter stops the call and the
    driver names it."""
    source = _wrong_answers()[fragment]
    assert ab.inspect_allocator(source) == ""
    s = ab.score(source, "random1000", repeats=1)
    assert not s.ok and fragment in s.message and "seccomp filter" in s.message, s.message


def test_writing_the_drivers_statics_changes_nothing_the_scorer_counts():
    """review3-09 D3: the allocator's process writes its copies of peak_ and root; the scorer's are
    in another process, so the footprint is first fit's own."""
    mod = _wrong09()
    source = next(src for _, src, _ in mod.WRONG[2] if "DIST_PEAK" in src)
    g = {}
    exec(source, g)
    assert "DIST_PEAK" not in g["my_allocator"]
    forged, honest = (ab.score(a, "random1000", repeats=1) for a in (g["my_allocator"], "talloc"))
    assert forged.ok and honest.ok, forged.message
    assert (forged.live, forged.footprint) == (honest.live, honest.footprint)


def test_bookkeeping_in_the_drivers_shared_result_arrays_is_named():
    """review4-09 D1: got and rptr are shared with the allocator's process, so not in its anonymous
    memory; the scorer checks they still hold zeros outside the replays."""
    mod = _wrong09()
    source = next(src for _, src, _ in mod.WRONG[2] if "DIST_GOT" in src)
    g = {}
    exec(source, g)
    s = ab.score(g["my_allocator"], "random1000", repeats=1)
    assert not s.ok and "wrote the driver's result arrays (got, byte 0)" in s.message, s.message


def test_bytes_past_the_break_are_checked_after_every_operation():
    """review4-09 D2: scratch past the break, put back to zero before each mem_sbrk, is named at once."""
    scratch = MM_TALLOC.replace(
        "    if (mem_sbrk((intptr_t)k) == (void *)-1) return -1;",
        "    { char *e = (char *)mem_heap_hi() + 1; if ((uintptr_t)e & 4095) *e = 0; }\n"
        "    if (mem_sbrk((intptr_t)k) == (void *)-1) return -1;").replace(
        "void mm_free(void *p)\n{",
        "void mm_free(void *p)\n{\n    { char *e = (char *)mem_heap_hi() + 1; if ((uintptr_t)e & 4095) *e = 1; }")
    assert scratch.count("mem_heap_hi") == 2
    s = ab.score(scratch, "intro", repeats=0)
    assert s.message == ("operation 5 (free c, line 7): the allocator wrote past the end of the heap (at byte 304, "
                         "beyond the break)"), s.message


def test_reading_past_the_end_of_the_heap_is_named():
    peek = MM_TALLOC.replace("    void *start = mem_sbrk(TA_MIN_BLOCK + TA_OVERHEAD);",
                             "    void *start = mem_sbrk(TA_MIN_BLOCK + TA_OVERHEAD);\n"
                             "    if (start != (void *)-1 && ((volatile char *)start)[1 << 20]) return -1;")
    assert peek != MM_TALLOC
    s = ab.score(peek, "intro", repeats=0)
    assert not s.ok and "touched memory past the end of the heap" in s.message, s.message


def test_an_assert_in_the_allocator_is_named_with_its_text():
    debug = MM_TALLOC.replace("#include <string.h>", "#include <string.h>\n#include <assert.h>") \
        .replace("    if (p) ta_free(&heap, p);", "    assert(p == NULL);\n    if (p) ta_free(&heap, p);")
    assert debug != MM_TALLOC
    s = ab.score(debug, ab.parse_trace("alloc a 24\nfree a\n", "t"), repeats=0)
    assert not s.ok and s.message.startswith("operation 2 (free a, line 2): your allocator stopped itself: "), s.message
    assert "Assertion `p == NULL' failed" in s.message and "seccomp" not in s.message


def test_bookkeeping_hidden_in_a_live_block_is_found():
    """The pattern a block is filled with can be computed; an allocator that kept a byte inside a live
    block and put it back before the block was freed passes the checks at free; the scorer's checks
    of every live block, after operations it picks at random, find it."""
    hide = MM_TALLOC.replace("static ta_heap heap;", """static ta_heap heap;
static unsigned char *victim, saved;
static int mallocs, frees;""").replace("    void *p = ta_malloc(&heap, n);", """    mallocs++;
    if (mallocs == 2 && victim) { saved = *victim; *victim ^= 0xff; }     /* "my bookkeeping" */
    void *p = ta_malloc(&heap, n);""").replace("    if (p) ta_free(&heap, p);", """    if (++frees == 200 && victim) *victim = saved;                          /* put back in time */
    if (p) ta_free(&heap, p);""").replace("        p = ta_malloc(&heap, n);\n    return p;",
                                          "        p = ta_malloc(&heap, n);\n    if (!victim) victim = p;\n    return p;")
    assert hide.count("victim") >= 5, hide
    trace = "alloc a 64\n" + "".join(f"alloc x{k} 16\nfree x{k}\n" for k in range(200)) + "free a\n"
    s = ab.score(hide, ab.parse_trace(trace, "t"), repeats=0)
    assert not s.ok and "kept something inside a live block" in s.message, s.message
    assert ab.score("talloc", ab.parse_trace(trace, "t"), repeats=0).ok
