"""Lesson 01 trace stepper: time per step on a 1,000-operation trace (target <= 100 ms),
and on 10,000 operations (random, and a recorded real program: target <= 2 ms).

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
    ] + run_long()


def _slide(view, n):
    """Slider moves over a StepView of n+1 steps: forwards, then jumps back; sorted times (s)."""
    times = []
    for i in list(range(1, n)) + list(range(n - 2, -1, -7)):
        t = time.perf_counter()
        view.slider.value = i
        times.append(time.perf_counter() - t)
    return sorted(times)


def run_long() -> list[dict]:
    """10,000 steps: a random trace, and the first 10,000 operations of a real program
    (Python importing six modules, recorded with heap.recorder) in an arena big enough,
    with every step kept (talloc.replay) and with steps built when shown (replay_lazy)."""
    import gc
    import tracemalloc

    from labsupport.heap import recorder
    from labsupport.heap.talloc import replay
    from labsupport.heap.traces import random_trace
    from labsupport.widgets.stepper import StepView, talloc_renderer

    rows = []
    rec = recorder.record([sys.executable, "-I", "-c",
                           "import json, email.parser, argparse, decimal, http.client, xml.dom.minidom"],
                          "python imports", env={"LC_ALL": "C.UTF-8"})
    cases = [("random 10,000", lambda: replay(random_trace(10000, seed=1))),
             ("recorded", lambda: recorder.replay_window(rec, 0, 10000)),
             ("recorded, lazy", lambda: recorder.replay_window(rec, 0, 10000, lazy=True))]
    for label, make in cases:
        gc.collect()
        t = time.perf_counter()
        r = make()
        build = time.perf_counter() - t
        del r
        gc.collect()
        tracemalloc.start()
        r = make()
        mem = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
        n = len(r.states) - 1
        view = StepView(r.states, talloc_renderer(r))
        times = _slide(view, n + 1)
        blocks = sum(len(r.states[i].blocks) for i in range(0, n + 1, 10)) / len(range(0, n + 1, 10))
        p95 = times[int(0.95 * (len(times) - 1))]
        svg_kb = max(len(view._svg(i)) for i in range(0, n + 1, max(1, n // 50))) / 1024
        note = f"{n:,} ops, {blocks:.0f} blocks per step on average, {len(times):,} slider moves"
        rows += [
            {"name": f"tracestep {label}: step update (median)", "value": round(statistics.median(times) * 1e3, 2),
             "unit": "ms", "target": "<= 2 ms", "note": note},
            {"name": f"tracestep {label}: step update (95th pct)", "value": round(p95 * 1e3, 2),
             "unit": "ms", "target": "<= 2 ms", "note": note},
            {"name": f"tracestep {label}: replay", "value": round(build, 2), "unit": "s", "target": "",
             "note": "replay_lazy: one pass, a saved state every 256 ops" if "lazy" in label
             else "talloc replay, a Step kept per operation"},
            {"name": f"tracestep {label}: steps in memory", "value": round(mem, 1), "unit": "MiB",
             "target": "", "note": "tracemalloc, after the replay"},
            {"name": f"tracestep {label}: heap map size per step (max)", "value": round(svg_kb, 1),
             "unit": "KiB", "target": "", "note": "StepView caches the last 512"},
        ]
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:48} {row['value']:>9} {row['unit']:3} {row['target']:>10}  {row['note']}")
