"""Lesson 09's malloc lab score (CS:APP's performance index, 0..100) for glibc, mimalloc and
the teaching allocator, on the lab's traces: lesson 01's four, the four adversarial ones and
the shipped mawk trace. 3 interleaved rounds, 5 timed replays each.

    .venv/bin/python benchmarks/bench_malloclab.py          # this table only
    .venv/bin/python benchmarks/run.py                      # with every other benchmark
    .venv/bin/python benchmarks/bench_malloclab.py --against 9c200eb   # this driver against an older one

The driver runs the allocator in a child process behind a seccomp filter (issue 27): every
operation of the checked pass is a request and an answer on two pipes, and a replay is timed as
the child's CPU time from the scorer's request to its answer. ``--against REV`` builds the
mdriver.c of git revision REV beside the current one and runs both, interleaved, on the same
traces with the teaching allocator and glibc: the median replay times, the score's throughput
ratio (glibc's time / the teaching allocator's) under each, and what a pass costs in wall time.
Measured when the change landed (2026-12-07, AMD EPYC VM, 2 shared cores at load 6-9, against
9c200eb, the one-process driver): geometric mean of glibc's time / the teaching allocator's 1.00
before, 0.96 after; one pass over the 9 traces 9.0 s before, 9.1 s after; a replay of `intro`
1.3 us before, 3.1 us after (the two pipe messages). The old driver timed wall time, the new one
the child's CPU time: on `awk` under that load glibc's wall-time median was 53 ms, its CPU time
16 ms, so the ratio there moved from 112 to 33.

score = 100 x (0.6 x min(1, mean utilisation) + 0.4 x the geometric mean over the traces of
min(1, glibc's time / this allocator's)), 0 unless correct on every trace; no score for the
reference rows. The teaching allocator is measured on the driver's heap (mem_sbrk);
glibc and mimalloc on the reference path, where the footprint is the process's resident-memory
growth (whole pages): their utilisation is not the same quantity, and the note says so.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run() -> list[dict]:
    from labsupport import allocbench as ab
    from labsupport.lessons.measuring_allocators import LAB_TRACES
    t0 = time.monotonic()
    traces = [*LAB_TRACES, *ab.adversarial_traces(), ab.shipped_trace("awk")]
    scores = ab.malloclab({"mimalloc": "mimalloc", "teaching": "talloc"}, traces, repeats=5, rounds=3,
                          progress=False)
    out = []
    for s in ab.lab_scores(scores):
        path = "reference path, utilisation from RSS" if s.reference else "lab path, the driver's heap"
        if s.reference:
            out.append(dict(name=f"malloc lab, {s.allocator} (reference)", value=round(s.relative_throughput, 2),
                            unit="x glibc", target="", note=f"{path}; geometric mean over the traces of "
                                                              f"glibc's time / this one's; no score"))
            continue
        out.append(dict(name=f"malloc lab score: {s.allocator}", value=round(s.index, 1), unit="/100",
                        target="", note=(f"{path}; mean utilisation {s.utilisation:.3f}; "
                                         f"{s.throughput:,.0f} ops/s; {s.relative_throughput:.2f}x glibc's "
                                         f"(geometric mean over the traces)"
                                         if s.correct else "incorrect on a trace")))
    out.append(dict(name="malloc lab, total time", value=round(time.monotonic() - t0), unit="s", target="< 2 min",
                    note=f"{len(traces)} traces x 3 allocators x 3 rounds"))
    return out


def before_after(rev: str, rounds: int = 3) -> str:
    """The table of ``--against REV`` (see the module's docstring)."""
    import math
    import statistics
    import subprocess
    from labsupport import allocbench as ab
    from labsupport import build_program, cache_dir
    from labsupport.lessons.measuring_allocators import LAB_TRACES
    here = ab.here()
    old = cache_dir() / "malloclab" / f"mdriver-{rev}.c"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text(subprocess.run(["git", "-C", str(Path(__file__).resolve().parent.parent), "show",
                                   f"{rev}:native_examples/09_measuring_allocators/mdriver.c"],
                                  capture_output=True, text=True, check=True).stdout)
    inc = (f"-I{here}", f"-I{ab.example_path('01_heap_managers')}")
    talloc = [here / "mm_talloc.c", ab.example_path("01_heap_managers", "talloc.c")]
    exes = {}
    for name, src in (("old", old), ("new", here / "mdriver.c")):
        exes[name, "talloc"] = build_program([src, *talloc], output=f"md-{name}", cflags=("-O2", *inc))
        exes[name, "glibc"] = build_program([src, here / "mm_libc.c"], output=f"mdref-{name}",
                                            cflags=("-O2", "-DMM_REFERENCE", *inc))
    traces = [ab.load_trace(t) for t in [*LAB_TRACES, *ab.adversarial_traces(), ab.shipped_trace("awk")]]
    keys = [(d, a) for d in ("old", "new") for a in ("talloc", "glibc")]
    res: dict = {}
    for rnd in range(rounds):
        for t in traces:
            f = str(ab._trace_file(t))
            for d, a in keys[rnd % 4:] + keys[:rnd % 4]:
                t0 = time.monotonic()
                out = subprocess.run([str(exes[d, a]), f, "5"], capture_output=True, text=True).stdout
                wall = time.monotonic() - t0
                res.setdefault((t.name, d, a), []).append((float(out.split("TIME median=")[1].split()[0]), wall))
    rows = [f"{'trace':12} {'talloc old':>10} {'new':>9} {'glibc old':>10} {'new':>9}  {'glibc/talloc old':>16} "
            f"{'new':>5}  {'pass old':>8} {'new':>6}"]
    ratio: dict = {"old": [], "new": []}
    cost = {"old": 0.0, "new": 0.0}
    for t in traces:
        m = {k: statistics.median(x[0] for x in res[(t.name, *k)]) for k in keys}
        w = {d: statistics.median(x[1] for a in ("talloc", "glibc") for x in res[t.name, d, a]) for d in ratio}
        for d in ratio:
            ratio[d].append(m[d, "glibc"] / m[d, "talloc"])
            cost[d] += sum(x[1] for a in ("talloc", "glibc") for x in res[t.name, d, a]) / rounds
        rows.append(f"{t.name:12} {m['old', 'talloc'] * 1e6:8.1f}us {m['new', 'talloc'] * 1e6:7.1f}us "
                    f"{m['old', 'glibc'] * 1e6:8.1f}us {m['new', 'glibc'] * 1e6:7.1f}us  "
                    f"{ratio['old'][-1]:16.2f} {ratio['new'][-1]:5.2f}  {w['old']:7.2f}s {w['new']:5.2f}s")
    gm = {d: math.exp(statistics.fmean(math.log(r) for r in ratio[d])) for d in ratio}
    rows.append(f"geometric mean over the traces of glibc's time / talloc's: {rev} {gm['old']:.2f}, this driver "
                f"{gm['new']:.2f} (new / old {gm['new'] / gm['old']:.2f})")
    rows.append(f"one pass (talloc and glibc, 5 timed replays each) over the {len(traces)} traces: {rev} "
                f"{cost['old']:.1f} s, this driver {cost['new']:.1f} s ({cost['new'] / cost['old']:.2f}x); "
                f"{rounds} interleaved rounds, medians")
    return "\n".join(rows)


if __name__ == "__main__":
    if "--against" in sys.argv:
        print(before_after(sys.argv[sys.argv.index("--against") + 1]))
        sys.exit(0)
    for row in run():
        print(f"{row['name'][:45]:45} {str(row['value']) + ' ' + row['unit']:>10} {row['target']:>10}  {row['note']}")
