"""Tests of labsupport.heap.recorder: the LD_PRELOAD recorder (tracerec.c) on programs with
known allocations, threads, fork and exec, the cap; size histograms; windows that replay."""
from __future__ import annotations

from collections import Counter

import pytest

import labsupport as lab
from labsupport import allocbench as ab
from labsupport.heap import recorder as R
from labsupport.heap.talloc import replay
from labsupport.heap.traces import OpKind, parse_trace

KNOWN = r"""
#include <stdlib.h>
void *volatile keep[8];
int main(void)
{
    keep[0] = malloc(10);
    keep[1] = calloc(3, 8);
    keep[2] = realloc(keep[0], 100);     /* moves or grows: recorded as realloc */
    free(keep[1]);
    keep[3] = realloc(NULL, 5);          /* an alloc */
    keep[4] = malloc(0);
    keep[2] = realloc(keep[2], 0);       /* glibc frees and returns NULL */
    free(keep[3]);
    free(keep[4]);
    free(NULL);                          /* not recorded */
    return 0;
}
"""

THREADS = r"""
#include <pthread.h>
#include <stdlib.h>
#define N 5000
static void *work(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++) {
        void *volatile p = malloc(24);
        void *volatile q = malloc(40);
        free(p);
        free(q);
    }
    return NULL;
}
int main(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    return 0;
}
"""

FORK_EXEC = r"""
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
void *volatile keep;
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {    /* the exec'd program */
        keep = malloc(999);
        return 0;
    }
    keep = malloc(111);
    pid_t pid = fork();
    if (pid == 0) {                                    /* the forked child: exits normally */
        keep = malloc(777);
        free(keep);
        exit(0);
    }
    waitpid(pid, NULL, 0);
    char *args[] = {argv[0], "child", NULL};
    if (posix_spawn(&pid, argv[0], NULL, NULL, args, environ) == 0)
        waitpid(pid, NULL, 0);
    keep = malloc(555);
    return 0;
}
"""


def _program(tmp_path, name, source, ldflags=()):
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    return lab.build_program([src], ldflags=ldflags)


def test_records_known_calls_exactly(tmp_path):
    exe = _program(tmp_path, "known", KNOWN)
    raw = R.record_text([exe])
    assert raw.splitlines() == ["alloc 0 10", "alloc 1 24", "realloc 0 100", "free 1", "alloc 2 5",
                                "alloc 3 0", "free 0", "free 2", "free 3"]
    t = R.from_recorder_text(raw, "known")
    assert t.calls == {"alloc": 4, "realloc": 1, "free": 4}
    # realloc -> the new block (a new id), then the old one freed; ids count allocations
    assert [str(op) for op in t.ops] == ["alloc 0 10", "alloc 1 24", "alloc 2 100", "free 0", "free 1",
                                         "alloc 3 5", "alloc 4 0", "free 2", "free 3", "free 4"]
    assert [op.line for op in t.ops][:5] == [1, 2, 3, 3, 4]
    assert not t.capped and t.threads is None
    assert R.record([exe], "known").ops == t.ops
    parse_trace(t.text())                      # a valid course trace
    assert replay(t).failures == []
    # lesson 09's reader sees the same lines, realloc kept
    assert [op[0] for op in ab.record([exe]).ops] == [ln.split()[0] for ln in raw.splitlines()]


def test_cap_stops_recording(tmp_path):
    exe = _program(tmp_path, "known", KNOWN)
    t = R.record([exe], max_ops=3)
    assert t.capped and sum(t.calls.values()) == 3
    assert [str(op) for op in t.ops] == ["alloc 0 10", "alloc 1 24", "alloc 2 100", "free 0"]
    parse_trace(t.text())


def test_threads_are_recorded_whole_and_tagged(tmp_path):
    exe = _program(tmp_path, "threads", THREADS, ldflags=("-pthread",))
    t = R.record([exe], threads=True)
    assert t.threads is not None and len(t.threads) == len(t.ops)
    sizes = Counter((op.size, t.threads[k]) for k, op in enumerate(t.ops) if op.kind == OpKind.ALLOC)
    for size in (24, 40):                      # every thread's 5,000 calls of each size, none lost
        per_thread = sorted(n for (s, _th), n in sizes.items() if s == size)
        assert per_thread[-4:] == [5000] * 4, per_thread
    assert t.calls["free"] >= 40000
    parse_trace(t.text())                      # every free matches an earlier alloc: one interleaving


def test_only_the_started_process_records(tmp_path):
    exe = _program(tmp_path, "forkexec", FORK_EXEC)
    sizes = [op.size for op in R.record([exe]).ops if op.kind == OpKind.ALLOC]
    assert 111 in sizes and 555 in sizes
    assert 777 not in sizes                    # the forked child stopped recording
    assert 999 not in sizes                    # the exec'd program runs unrecorded
    assert sizes.count(111) == 1 and sizes.count(555) == 1    # no line written twice after the fork


def test_failing_program_raises(tmp_path):
    with pytest.raises(RuntimeError):
        R.record(["false"])


def test_window_drops_earlier_blocks_and_renumbers():
    t = parse_trace("alloc a 8\nalloc b 16\nfree a\nalloc c 4\nalloc d 50\nfree b\nfree c\nfree d\n", "t")
    w = R.window(t, 2, 3)
    assert [str(op) for op in w.ops] == ["alloc 0 4", "alloc 1 50", "free 0"]   # free a, free b dropped
    parse_trace(w.text())
    assert len(R.window(t, 0, 100)) == len(t)
    assert len(R.window(t, 8, 5)) == 0


def test_window_of_a_real_program_replays_in_the_teaching_allocator():
    rec = R.record(["ls", "-R", str(lab.example_path("01_heap_managers"))])
    assert len(rec) > 100
    for start in (0, len(rec) // 3):
        r = R.replay_window(rec, start, 300)
        assert len(r.states) == len(r.trace) + 1 and r.failures == []
        parse_trace(r.trace.text())


def test_chunk_size_formula_matches_glibc():
    measured = R.glibc_chunk_sizes(1100)
    assert all(measured[n] == R.glibc_chunk_size(n) for n in range(len(measured)))
    assert R.glibc_chunk_size(R.TCACHE_MAX_REQUEST) == R.TCACHE_MAX_CHUNK == 1040


def test_size_histogram_counts_tcache_share():
    t = parse_trace("alloc a 1\nalloc b 24\nalloc c 25\nfree a\nalloc d 1032\nalloc e 1033\n", "t")
    h = R.size_histogram(t)
    assert h.chunks == {32: 2, 48: 1, 1040: 1, 1056: 1}
    assert (h.requests, h.in_tcache) == (5, 4) and h.tcache_share == pytest.approx(0.8)
    assert h.class_share([8, 16, 32, 48, 1024, 1280]) == {8: 1, 32: 2, 1280: 2}


def test_mimalloc_classes_are_measured():
    cls = R.mimalloc_size_classes(1024)
    assert cls == sorted(cls) and cls[-1] >= 1024 and 8 <= cls[0] <= 16


def test_plot_returns_a_figure():
    from labsupport.widgets.sizeplot import plot_size_histogram, size_table
    h = R.size_histogram(parse_trace("alloc a 1\nalloc b 2000\n", "t"))
    fig = plot_size_histogram(h, [16, 32, 48])
    assert fig.axes and "tcache" in size_table(h)


def test_records_in_front_of_another_preloaded_allocator(tmp_path):
    exe = _program(tmp_path, "known", KNOWN)
    plain = R.record_text([exe])
    under_mimalloc = R.record_text([exe], env={"LD_PRELOAD": str(lab.mimalloc().shared_lib)})
    assert under_mimalloc.splitlines()[:4] == plain.splitlines()[:4]      # mimalloc's realloc(p, 0) may differ


# --------------------------------------------------------------------------- long traces: steps when shown
def test_lazy_replay_gives_the_same_steps_in_any_order():
    import random

    from labsupport.heap.talloc import replay_lazy
    from labsupport.heap.traces import random_trace
    rec = R.record(["ls", "-R", str(lab.example_path("01_heap_managers"))])
    for trace, arena in [(random_trace(1500, seed=3), None), (R.window(rec, 0, 400), 1 << 18)]:
        for policy in ("first", "next", "best"):
            eager = replay(trace, policy, arena_size=arena)
            lazy = replay_lazy(trace, policy, arena_size=arena, every=50, cache=8)
            order = list(range(len(eager.states)))
            random.Random(1).shuffle(order)
            order += list(range(len(eager.states) - 1, -1, -1))
            assert len(lazy.states) == len(eager.states)
            assert all(lazy.states[i] == eager.states[i] for i in order)
            assert [s.step for s in lazy.failures] == [s.step for s in eager.failures]
            assert lazy.states[-1] == eager.final and lazy.states[2:5] == eager.states[2:5]


def test_stepper_builds_steps_when_shown_on_long_traces():
    from labsupport.heap.talloc import LazyReplay, Replay
    from labsupport.heap.traces import random_trace
    from labsupport.widgets.stepper import LAZY_FROM, Stepper
    long = Stepper(random_trace(LAZY_FROM, seed=2), editable=False)
    assert isinstance(long.replay, LazyReplay) and long.slider.max == LAZY_FROM
    long.slider.value = LAZY_FROM
    long.slider.value = 17
    assert "step 17" in long.label.value or "17" in long.label.value
    long.policy.value = "best"                       # a new replay, lazy again, position kept
    assert isinstance(long.replay, LazyReplay) and long.slider.value == 17
    assert isinstance(Stepper("fragment").replay, Replay)
    assert isinstance(Stepper("fragment", lazy=True).replay, LazyReplay)
