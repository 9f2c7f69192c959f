"""Lesson 01 trace stepper: time per step on a 1,000-operation trace (target <= 100 ms).

Moving the slider runs StepView.show(i) (labsupport/widgets/stepper.py): four HTML
strings (the label, the SVG heap map, the named lists, the figures) from steps
precomputed by the replay (labsupport/heap/talloc.py).
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run() -> list[dict]:
    from labsupport.heap.traces import load_trace
    from labsupport.widgets.stepper import Stepper

    trace = load_trace("random1000")
    t0 = time.perf_counter()
    st = Stepper(trace, policy="first", order="lifo")
    build = time.perf_counter() - t0
    n = len(st.replay.states)
    times = []
    for i in list(range(1, n)) + list(range(n - 2, -1, -7)):   # forwards, then jumps back
        t = time.perf_counter()
        st.slider.value = i
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    st.policy.value = "best"                                   # a policy change replays the trace
    rerun = time.perf_counter() - t
    svg_kb = max(len(st._svg(i)) for i in range(0, n, 50)) / 1024
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    note = f"{len(trace)} ops, {len(times)} slider moves"
    return [
        {"name": "tracestep: step update (median)", "value": round(statistics.median(times) * 1e3, 2),
         "unit": "ms", "target": "<= 100 ms", "note": note},
        {"name": "tracestep: step update (95th percentile)", "value": round(p95 * 1e3, 2),
         "unit": "ms", "target": "<= 100 ms", "note": note},
        {"name": "tracestep: step update (max)", "value": round(times[-1] * 1e3, 2),
         "unit": "ms", "target": "<= 100 ms", "note": note},
        {"name": "tracestep: heap map size per step (max)", "value": round(svg_kb, 1), "unit": "KiB",
         "target": "", "note": "SVG sent to the browser at each step"},
        {"name": "tracestep: build stepper (replay 1,000 ops)", "value": round(build * 1e3, 1),
         "unit": "ms", "target": "", "note": "includes the cached build of talloc.c"},
        {"name": "tracestep: change policy (replay again)", "value": round(rerun * 1e3, 1),
         "unit": "ms", "target": "", "note": "first -> best fit"},
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:48} {row['value']:>9} {row['unit']:3} {row['target']:>10}  {row['note']}")
