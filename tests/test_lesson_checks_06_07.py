"""labsupport.lessons.static_dynamic and .plugin_leaks: the parts of the checks that need no build
(answer forms, report excerpts, the truth read from a report). The whole checks run against real
builds in tests/test_wrong_answers.py."""
from labsupport.lessons import plugin_leaks as pl
from labsupport.lessons import static_dynamic as sd

VALGRIND = """==1== HEAP SUMMARY:
==1== 
==1== 232 (32 direct, 200 indirect) bytes in 2 blocks are definitely lost in loss record 5 of 11
==1==    at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==1==    by 0x4858392: picture_alloc (minikvz.c:128)
==1==    by 0x4853367: mh_encode (miniheif.c:61)
==1== 
==1== 200 bytes in 2 blocks are indirectly lost in loss record 4 of 11
==1==    at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==1==    by 0x4858392: picture_alloc (minikvz.c:131)
==1== 
==1== LEAK SUMMARY:
"""

QUIZ = {
    1: ("valgrind", pl.valgrind_record(VALGRIND, ["bytes in", "picture_alloc (minikvz.c:128)"]), None),
    2: ("heaptrack", "4.10K leaked over 1 calls from\n  _IO_file_doallocate", ["bytes in", "_IO_file_doallocate"]),
    3: ("heaptrack", "200B leaked over 2 calls from\n  mk_alloc", ["bytes in", "(minikvz.c:131)"]),
}


def test_records_are_found_sanitized_and_blanked():
    text = QUIZ[1][1]
    assert "0x…" in text and "/usr/libexec" not in text and "==1==" not in text
    assert "▢▢▢" in pl.blank(text) and "definitely" not in pl.blank(text)
    assert pl.valgrind_record(VALGRIND, ["no such frame"]) == pl.NO_RECORD


def test_truth_reads_the_report_and_asks_valgrind_for_heaptrack():
    assert pl.truth(QUIZ, 1, VALGRIND) == "definitely lost"
    assert pl.truth(QUIZ, 2, VALGRIND) == "not a leak"          # valgrind has no record: freed
    assert pl.truth(QUIZ, 3, VALGRIND) == "indirectly lost"


def test_classification_check_verdicts(capsys):
    right = {1: "definitely lost", 2: "not a leak", 3: "indirectly lost"}
    assert pl.check_classification(right, QUIZ, VALGRIND)
    assert pl.check_classification({"1": "definitely lost", "2": "not a leak", "3": "indirectly lost"},
                                   QUIZ, VALGRIND)
    assert not pl.check_classification({**right, 3: "leaked"}, QUIZ, VALGRIND)
    assert "'leaked' is not a kind" in capsys.readouterr().out
    assert not pl.check_classification({**right, 3: "Indirect"}, QUIZ, VALGRIND)
    assert "LeakSanitizer's word" in capsys.readouterr().out
    assert not pl.check_classification({**right, 2: "still reachable"}, QUIZ, VALGRIND)
    assert "'still reachable' is a block" in capsys.readouterr().out
    assert not pl.check_classification({**right, 4: "x"}, QUIZ, VALGRIND)
    assert "exactly one entry per report" in capsys.readouterr().out

    class Anything(str):
        def __eq__(self, other):
            return True
        __hash__ = str.__hash__

    assert not pl.check_classification({n: Anything("x") for n in QUIZ}, QUIZ, VALGRIND)
    assert not pl.check_classification({1: "?", 2: "?", 3: "?"}, QUIZ, VALGRIND).passed
    assert "not done yet" in capsys.readouterr().out


def test_source_lines_finds_each_mark_once(tmp_path):
    f = tmp_path / "a.c"
    f.write_text("int a;\nint b = f(1);\nint c;\n")
    assert pl.source_lines(f, {"b": "f(1)"}) == {"b": 2}


def test_setup_prediction_form_is_checked_before_anything_is_built(capsys):
    form = {n: dict(links=True, library_allocator="glibc", config_crashes=False) for n in sd.SETUPS}
    assert not sd.check_setups({**form, "one": dict(links=False, library_allocator="glibc",
                                                    config_crashes=None)})
    assert "when links is False" in capsys.readouterr().out
    assert not sd.check_setups({**form, "two": dict(links=1, library_allocator="glibc", config_crashes=False)})
    assert "True or False" in capsys.readouterr().out
    assert not sd.check_setups({n: dict(links="?", library_allocator="?", config_crashes="?")
                                for n in sd.SETUPS}).passed
    assert "not done yet" in capsys.readouterr().out


def test_fix_check_says_not_done_for_the_stub():
    stub = '\n#include "appconfig.h"\n// Define both:\n//   ConfigText config_text(const char *key)\n' \
           '# Your code here. Stuck? Run lab.solution("06", 2) in a new cell.\n'
    assert sd.check_fix(stub, None).not_done


def test_encode_batch_imports_are_an_allow_list():
    # review3 06-07, 1: what a list of forbidden names missed is refused without being named
    for name in ("malloc", "free", "aligned_alloc", "strdup", "memset", "__memcpy_chk", "strlen", "__printf_chk",
                 "fopen", "mh_encode", "leakcount_arm", "PyLong_FromLong", "_cffi_backend", "__stack_chk_fail"):
        assert pl._allowed(name), name
    for name in ("__libc_malloc", "__libc_valloc", "__libc_pvalloc", "dlsym", "dlvsym", "syscall", "mmap",
                 "mmap64", "sbrk", "mremap", "memfd_create"):
        assert not pl._allowed(name), name


def test_fix_output_parsers():
    out = ("distinct data pointers over 20000 calls: 65 (counting stopped there)\n"
           "glibc bytes still in use after 20003 calls: -3238240\n")
    assert sd._distinct(out) == 65 and sd._held(out) == -3238240
    assert sd._distinct("distinct data pointers over 20000 calls: 1\n") == 1 and sd._distinct("") is None
