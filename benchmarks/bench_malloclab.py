"""Lesson 09's malloc lab score (CS:APP's performance index, 0..100) for glibc, mimalloc and
the teaching allocator, on the lab's traces: lesson 01's four, the four adversarial ones and
the shipped mawk trace. 3 interleaved rounds, 5 timed replays each.

    .venv/bin/python benchmarks/bench_malloclab.py          # this table only
    .venv/bin/python benchmarks/run.py                      # with every other benchmark

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


if __name__ == "__main__":
    for row in run():
        print(f"{row['name'][:45]:45} {str(row['value']) + ' ' + row['unit']:>10} {row['target']:>10}  {row['note']}")
