"""labsupport.leakcount: the counting allocator (built and preloaded for real), and the
parsers that turn valgrind, LeakSanitizer and heaptrack reports into counts and kinds."""
import textwrap

import pytest

import labsupport as lab
from labsupport import leakcount

LEAKY = textwrap.dedent(r"""
    #include <stdlib.h>
    #include <stdio.h>
    extern void leakcount_mark(long) __attribute__((weak));
    extern void leakcount_arm(long) __attribute__((weak));
    extern long leakcount_disarm(void) __attribute__((weak));
    extern long leakcount_epoch_live(long *) __attribute__((weak));
    struct node { struct node *next; char pad[24]; };
    int main(int argc, char **argv) {
        if (argc > 1) {                       /* fault injection: the 3rd allocation fails */
            leakcount_arm(3);
            void *a = malloc(10), *b = malloc(20), *c = malloc(30);
            long seen = leakcount_disarm(), bytes, live = leakcount_epoch_live(&bytes);
            printf("%d %d %d seen=%ld live=%ld bytes=%ld\n", a != 0, b != 0, c != 0, seen, live, bytes);
            free(a);
            live = leakcount_epoch_live(&bytes);
            printf("after free: live=%ld bytes=%ld\n", live, bytes);
            return 0;
        }
        for (int i = 1; i <= 3; i++) {
            struct node *head = malloc(sizeof *head);     /* lost: definitely */
            head->next = malloc(sizeof *head);            /* reachable only through head */
            head->next->next = NULL;
            if (leakcount_mark) leakcount_mark(i);
        }
        return 0;
    }
""")


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    src = tmp_path_factory.mktemp("leaky") / "leaky.c"
    src.write_text(LEAKY)
    return lab.build_program([src], cflags=("-O0", "-g"))


def test_counting_allocator_counts_live_blocks_per_module(program):
    shim = leakcount.build_shim()
    r = lab.run_program([program], env=leakcount.preload_env(shim), timeout=30)
    assert r.ok, r
    series = leakcount.parse_marks(r.stderr)
    mine = series["leaky"]                      # the program's own module
    assert [(i, blocks, nbytes) for i, blocks, nbytes in mine] == [(1, 2, 64), (2, 4, 128), (3, 6, 192)]


def test_counting_allocator_injects_the_nth_failure(program):
    shim = leakcount.build_shim()
    r = lab.run_program([program, "sweep"], env=leakcount.preload_env(shim, armed_only=True), timeout=30)
    assert r.ok, r
    assert r.stdout.splitlines() == ["1 1 0 seen=3 live=2 bytes=30", "after free: live=1 bytes=20"]


def test_without_the_shim_the_program_still_runs(program):
    assert lab.run_program([program], timeout=30).ok


def test_parse_marks_fills_missing_modules_with_zero():
    text = "leakcount 0 a.so 1 10\nleakcount 1 a.so 2 20\nleakcount 1 b.so 5 50\nnoise\n"
    assert leakcount.parse_marks(text) == {"a.so": [(0, 1, 10), (1, 2, 20)],
                                           "b.so": [(0, 0, 0), (1, 5, 50)]}


def test_the_live_plot_is_drawn_in_widgets_and_leakcount_draws_nothing():
    import subprocess
    import sys
    from labsupport.widgets import leakplot
    series = leakcount.parse_marks("leakcount 0 a.so 1 10\nleakcount 1 a.so 2 20\nleakcount 1 b.so 5 50\n")
    fig = leakplot.plot_live(series, title="t", modules=["b.so"], what="bytes")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["b.so"]
    assert list(ax.get_lines()[0].get_ydata()) == [0, 50]
    assert not hasattr(leakcount, "plot_live")
    code = ("import labsupport.leakcount, sys; "
            "assert not any(m.split('.')[0] == 'matplotlib' for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=lab.ROOT)


VALGRIND = """==123== HEAP SUMMARY:
==123== 
==123== 64 (32 direct, 32 indirect) bytes in 1 blocks are definitely lost in loss record 2 of 3
==123==    at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==123==    by 0x4E4AA22: (anonymous namespace)::encode(int) (plugin.cpp:12)
==123==    by 0x10933C: main (app.c:4)
==123== 
==123== LEAK SUMMARY:
==123==    definitely lost: 32 bytes in 1 blocks
==123==    indirectly lost: 1,032 bytes in 2 blocks
==123==      possibly lost: 0 bytes in 0 blocks
==123==    still reachable: 72,704 bytes in 1 blocks
"""

LSAN = """
=================================================================
==77==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 32 byte(s) in 1 object(s) allocated from:
    #0 0x7f28ef813545 in __interceptor_malloc ../lsan_interceptors.cpp:75
    #1 0x7f28ef3f7a22 in encode /src/plugin.cpp:12

Indirect leak of 64 byte(s) in 2 object(s) allocated from:
    #0 0x7f28ef813545 in __interceptor_malloc ../lsan_interceptors.cpp:75
    #1 0x7f28efdbe4ad in emit /src/lib.c:9

SUMMARY: LeakSanitizer: 96 byte(s) leaked in 3 allocation(s).
"""

HEAPTRACK = """MEMORY LEAKS
4.10K leaked over 1 calls from
  __GI__IO_file_doallocate
    at ./libio/filedoalloc.c:101
    in /lib/x86_64-linux-gnu/libc.so.6

480B leaked over 20 calls from
  raw_alloc
    at /src/lib.c:81
    in /tmp/x/lib.so
  encode
    at /src/plugin.cpp:125
    in /tmp/x/plugin.so


total runtime: 0.00s.
total memory leaked: 4.58K
"""


def test_parse_valgrind():
    rep = leakcount.parse_valgrind(VALGRIND)
    assert rep.kinds["definitely lost"] == (1, 32)
    assert rep.kinds["indirectly lost"] == (2, 1032)
    assert rep.kinds["still reachable"] == (1, 72704)
    assert rep.records == [("definitely lost", 64, 1, ["malloc", "encode", "main"])]
    assert rep.sees_plugin_leak()


def test_parse_lsan_uses_valgrinds_words():
    rep = leakcount.parse_lsan(LSAN)
    assert rep.kinds == {"definitely lost": (1, 32), "indirectly lost": (2, 64)}
    assert rep.sees_plugin_leak()


def test_parse_heaptrack_has_bytes_not_blocks():
    rep = leakcount.parse_heaptrack(HEAPTRACK)
    assert rep.kinds == {"leaked": (None, 4580)}
    assert [r[:3] for r in rep.records] == [("leaked", 4100, 1), ("leaked", 480, 20)]
    assert rep.records[1][3] == ["raw_alloc", "encode"]
    assert rep.row() == "heaptrack  leaked: 4580 bytes"


def test_sanitize_removes_pids_addresses_and_paths():
    text = leakcount.sanitize(VALGRIND + LSAN)
    assert "==123==" not in text and "==77==" not in text and "0x48417B4" not in text
    assert "loss record 2 of 3" not in text
    assert "==PID==" in text and "plugin.cpp:12" in text


@pytest.mark.skipif(not lab.have("valgrind"), reason="valgrind not installed")
def test_valgrind_classifies_a_lost_list(program):
    rep = leakcount.valgrind([program], timeout=120)
    assert rep.kinds["definitely lost"] == (3, 96)
    assert rep.kinds["indirectly lost"] == (3, 96)


LSAN_UNDER_PTRACE = """3 images, 0 skipped (output buffer full)
==11042==LeakSanitizer has encountered a fatal error.
==11042==HINT: For debugging, try setting environment variable LSAN_OPTIONS=verbosity=1:log_threads=1
==11042==HINT: LeakSanitizer does not work under ptrace (strace, gdb, etc)
"""


def test_lsan_without_ptrace_is_a_note_not_an_empty_report():
    assert leakcount.lsan_failure(LSAN) == ""
    why = leakcount.lsan_failure(LSAN_UNDER_PTRACE)
    assert why.startswith("LeakSanitizer could not run (ptrace)")
    assert leakcount.parse_lsan(LSAN_UNDER_PTRACE).records == []   # why the note is needed


def test_stale_heaptrack_fifos_are_removed_live_ones_kept(tmp_path):
    import os
    dead = tmp_path / "heaptrack_fifo999999999"
    alive = tmp_path / f"heaptrack_fifo{os.getpid()}"
    other = tmp_path / "heaptrack_fifo_notes"
    for p in (dead, alive, other):
        os.mkfifo(p)
    assert leakcount._remove_stale_fifos(str(tmp_path)) == [dead.name]
    assert alive.exists() and other.exists() and not dead.exists()


STRDUP = textwrap.dedent(r"""
    #define _GNU_SOURCE
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    extern void leakcount_arm(long) __attribute__((weak));
    extern long leakcount_disarm(void) __attribute__((weak));
    extern long leakcount_epoch_live(long *) __attribute__((weak));
    int main(void) {
        leakcount_arm(0);
        char *a = strdup("hello"), *c = NULL;     /* allocated by libc.so for main */
        if (asprintf(&c, "%d", 42) < 0) return 1;
        leakcount_disarm();
        long bytes, live = leakcount_epoch_live(&bytes);
        printf("live=%ld\n", live);
        free(a); free(c);
        return 0;
    }
""")


def test_blocks_libc_allocates_for_the_program_are_charged_to_it(tmp_path):
    src = tmp_path / "dup.c"
    src.write_text(STRDUP)
    exe = lab.build_program([src], cflags=("-O0", "-g"))
    r = lab.run_program([exe], env=leakcount.preload_env(leakcount.build_shim(), armed_only=True), timeout=30)
    assert r.ok, r
    assert r.stdout.strip() == "live=2"


ALIGNED = textwrap.dedent(r"""
    #include <stdio.h>
    #include <stdlib.h>
    #include <malloc.h>
    extern void leakcount_arm(long) __attribute__((weak));
    extern long leakcount_disarm(void) __attribute__((weak));
    extern long leakcount_epoch_live(long *) __attribute__((weak));
    extern long leakcount_history(long *) __attribute__((weak));
    extern long leakcount_disarms(void) __attribute__((weak));
    int main(void) {
        long failures, arms = leakcount_history(&failures), disarms = leakcount_disarms();
        leakcount_arm(0);
        void *a = aligned_alloc(64, 64), *b = memalign(64, 32), *c = NULL;
        int rc = posix_memalign(&c, 64, 16);
        void *d = reallocarray(NULL, 4, 8);
        long seen = leakcount_disarm(), bytes, live = leakcount_epoch_live(&bytes);
        printf("seen=%ld live=%ld bytes=%ld rc=%d\n", seen, live, bytes, rc);
        free(a); free(b); free(c); free(d);
        printf("after free: live=%ld\n", leakcount_epoch_live(NULL));
        leakcount_arm(2);
        leakcount_arm(0);                      /* re-armed: the planned failure never happens */
        free(malloc(1)); free(malloc(1));
        leakcount_disarm();
        long now = leakcount_history(&failures);
        printf("arms=%ld failures=%ld disarms=%ld\n", now - arms, failures, leakcount_disarms() - disarms);
        return 0;
    }
""")


def test_aligned_allocations_are_counted_and_rearming_and_disarming_show(tmp_path):
    src = tmp_path / "aligned.c"
    src.write_text(ALIGNED)
    exe = lab.build_program([src], cflags=("-O0", "-g"))
    r = lab.run_program([exe], env=leakcount.preload_env(leakcount.build_shim(), armed_only=True), timeout=30)
    assert r.ok, r
    assert r.stdout.splitlines() == ["seen=4 live=4 bytes=144 rc=0", "after free: live=0", "arms=3 failures=0 disarms=2"]
