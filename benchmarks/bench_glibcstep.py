"""Lesson 01 glibc stepper: time per step on a 10,000-operation trace (target < 5 ms).

Moving the slider runs StepView.show(i) over ``heap.glibc.GlibcSteps``: the step is rebuilt
from the probe's per-step changes (from the previous step, or from a checkpoint every 32
steps), then drawn by ``widgets.glibcstep.GlibcRenderer`` (SVG map, bins, figures).
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run() -> list[dict]:
    from labsupport.heap.traces import random_trace
    from labsupport.widgets.glibcstep import GlibcStepper

    trace = random_trace(10_000, seed=1, sizes=(16, 1500), max_live=200)
    t0 = time.perf_counter()
    st = GlibcStepper(trace)
    build = time.perf_counter() - t0
    n = len(st.steps)
    moves = list(range(1, n)) + list(range(n - 2, -1, -97))   # forwards, then jumps back
    times, cpu = [], []
    for i in moves:
        c, t = time.process_time(), time.perf_counter()
        st.slider.value = i
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    probe_kib = len(st.steps.raw) / 1024
    chunks = max(len(st.steps[i].chunks) for i in range(0, n, 500))
    times.sort()
    cpu.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    load = os.getloadavg()[0]
    note = f"{len(trace)} ops, {len(times)} slider moves, up to {chunks} chunks"
    return [
        {"name": "glibcstep: step update (median)", "value": round(statistics.median(times) * 1e3, 2),
         "unit": "ms", "target": "< 5 ms", "note": note},
        {"name": "glibcstep: step update (95th percentile)", "value": round(p95 * 1e3, 2),
         "unit": "ms", "target": "< 5 ms", "note": note},
        {"name": "glibcstep: step update, CPU time (median)", "value": round(statistics.median(cpu) * 1e3, 2),
         "unit": "ms", "target": "< 5 ms", "note": f"this process only (load average {load:.1f})"},
        {"name": "glibcstep: step update, CPU time (95th pct)",
         "value": round(cpu[int(0.95 * (len(cpu) - 1))] * 1e3, 2),
         "unit": "ms", "target": "< 5 ms", "note": f"this process only (load average {load:.1f})"},
        {"name": "glibcstep: step update (max)", "value": round(times[-1] * 1e3, 2),
         "unit": "ms", "target": "", "note": note},
        {"name": "glibcstep: build (replay 10,000 ops, parse)", "value": round(build * 1e3, 1),
         "unit": "ms", "target": "", "note": f"probe output {probe_kib:,.0f} KiB (changes only)"},
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:48} {row['value']:>9} {row['unit']:3} {row['target']:>10}  {row['note']}")
