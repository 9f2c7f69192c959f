"""Lesson 01 trace stepper: time per step on a 1,000-operation trace (target <= 100 ms),
and on 10,000 operations (a recorded real program, and random), the old way (each step's
SVG sent whole) beside the new (heapfront: only what each step changed; issue 30, speed 1:
at most 16 KiB sent and 2 ms in the kernel per move at the 95th percentile).

Moving the slider runs StepView.show(i) (labsupport/widgets/stepper.py): three HTML
strings (the label, the named lists, the figures) and the heap map, from steps built
by the replay (labsupport/heap/talloc.py).
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
    times, sizes, _ = _moves(st.view, list(range(1, n)) + list(range(n - 2, -1, -7)))   # forwards, then jumps back
    t = time.perf_counter()
    st.policy.value = "best"                                   # a policy change replays the trace
    rerun = time.perf_counter() - t
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
        {"name": "tracestep: KiB sent per move (max)", "value": round(max(sizes) / 1024, 2), "unit": "KiB",
         "target": "", "note": "label, lists, figures and the heap map's changes"},
        {"name": "tracestep: build stepper (replay 1,000 ops)", "value": round(build * 1e3, 1),
         "unit": "ms", "target": "", "note": "includes the cached build of talloc.c"},
        {"name": "tracestep: change policy (replay again)", "value": round(rerun * 1e3, 1),
         "unit": "ms", "target": "", "note": "first -> best fit"},
    ] + run_long()


def _moves(view, positions):
    """Move ``view``'s slider to each position: (seconds per move, bytes sent per move, CPU
    seconds per move: this thread's own, without the time other processes had the CPU).

    Bytes: what every widget of the view hands its comm (ipywidgets' ``Widget._send``: state
    updates and the front end's messages), as the JSON the kernel's session writes (the
    message envelope, some 0.5 KiB a message, is not counted); the serialising is timed too."""
    import json

    import ipywidgets

    sent = [0]
    real = ipywidgets.Widget._send

    def counting(self, msg, buffers=None):
        sent[0] += len(json.dumps(msg, ensure_ascii=False, allow_nan=False).encode()) + sum(
            len(memoryview(b).cast("B")) for b in buffers or ())

    ipywidgets.Widget._send = counting
    try:
        times, sizes, cpu = [], [], []
        for i in positions:
            sent[0] = 0
            t, c = time.perf_counter(), time.thread_time()
            view.slider.value = i
            cpu.append(time.thread_time() - c)
            times.append(time.perf_counter() - t)
            sizes.append(sent[0])
    finally:
        ipywidgets.Widget._send = real
    return times, sizes, cpu


def _pct(xs, q):
    xs = sorted(xs)
    return xs[int(q * (len(xs) - 1))]


def run_long() -> list[dict]:
    """10,000 steps, old (each step's SVG sent whole) and new (heapfront: each step's changes)
    side by side on the same moves: a random trace, and the first 10,000 operations of a real
    program (Python importing six modules, recorded with heap.recorder) replayed as lesson 01's
    Stepper does from 5,000 operations on (steps built when shown: talloc.replay_lazy).

    Moves: forwards over every step, then back 7 at a time (what the 1,000-operation figures
    above do); then 200 random jumps, each to a step not seen before where it can (a drag)."""
    import gc
    import random

    from labsupport.heap import recorder
    from labsupport.heap.talloc import replay
    from labsupport.heap.traces import random_trace
    from labsupport.widgets.stepper import StepView, talloc_renderer

    rows = []
    rec = recorder.record([sys.executable, "-I", "-c",
                           "import json, email.parser, argparse, decimal, http.client, xml.dom.minidom"],
                          "python imports", env={"LC_ALL": "C.UTF-8"})
    cases = [("recorded", lambda: recorder.replay_window(rec, 0, 10000, lazy=True)),
             ("random 10,000", lambda: replay(random_trace(10000, seed=1)))]
    for label, make in cases:
        r = make()
        n = len(r.states) - 1
        blocks = sum(len(r.states[i].blocks) for i in range(0, n + 1, 10)) / len(range(0, n + 1, 10))
        sweep = list(range(1, n + 1)) + list(range(n - 1, -1, -7))
        rng = random.Random(1)
        jumps = [rng.randrange(n + 1) for _ in range(200)]
        figures = {}
        for kind, front in (("old", False), ("new", True)):
            r = make()                                      # a fresh replay each: no warm caches
            gc.collect()
            t = time.perf_counter()
            view = StepView(r.states, talloc_renderer(r), front=front)
            first = time.perf_counter() - t
            times, sizes, cpu = _moves(view, sweep)
            jt, js, _ = _moves(view, jumps)
            figures[kind] = (times, sizes, jt, js, first, cpu)
        r = make()                                          # the replay alone building each step asked for
        built = []
        for i in range(1, n + 1):
            t = time.perf_counter()
            r.states[i]
            built.append(time.perf_counter() - t)
        figures["replay"] = built
        note = f"{n:,} ops, {blocks:,.0f} blocks per step on average, {len(sweep):,} moves (forwards, back by 7)"
        (ot, os_, ojt, ojs, ofirst, _), (nt, ns, njt, njs, nfirst, ncpu) = figures["old"], figures["new"]
        kib = 1024
        rows += [
            {"name": f"stepper {label}: KiB sent per move, old (p50/max)",
             "value": f"{_pct(os_, .5) / kib:.0f}/{max(os_) / kib:.0f}", "unit": "KiB", "target": "",
             "note": "each step's SVG, whole"},
            {"name": f"stepper {label}: KiB sent per move, new (max)", "value": round(max(ns) / kib, 2),
             "unit": "KiB", "target": "<= 16 KiB",
             "note": f"p50 {_pct(ns, .5) / kib:.2f}, p95 {_pct(ns, .95) / kib:.2f}; " + note},
            {"name": f"stepper {label}: kernel ms per move, old (p50/p95)",
             "value": f"{_pct(ot, .5) * 1e3:.2f}/{_pct(ot, .95) * 1e3:.2f}", "unit": "ms", "target": "", "note": note},
            {"name": f"stepper {label}: kernel ms per move, new (p95)", "value": round(_pct(nt, .95) * 1e3, 2),
             "unit": "ms", "target": "<= 2 ms", "note": f"p50 {_pct(nt, .5) * 1e3:.2f} ms, max {max(nt) * 1e3:.1f}"},
            {"name": f"stepper {label}: kernel CPU ms per move, new (p50/p95)",
             "value": f"{_pct(ncpu, .5) * 1e3:.2f}/{_pct(ncpu, .95) * 1e3:.2f}", "unit": "ms", "target": "",
             "note": "the same moves, this thread's CPU time: without the time other processes had the CPU"},
            {"name": f"stepper {label}: replay builds a step (p50/p95)",
             "value": f"{_pct(figures['replay'], .5) * 1e3:.2f}/{_pct(figures['replay'], .95) * 1e3:.2f}", "unit": "ms",
             "target": "", "note": "steps[i] alone over the forward moves (talloc.py); a move back builds none"},
            {"name": f"stepper {label}: far jumps, old (ms p50/p95, KiB max)",
             "value": f"{_pct(ojt, .5) * 1e3:.1f}/{_pct(ojt, .95) * 1e3:.1f}, {max(ojs) / kib:.0f}", "unit": "",
             "target": "", "note": "200 jumps to anywhere (a drag across the slider)"},
            {"name": f"stepper {label}: far jumps, new (ms p50/p95, KiB max)",
             "value": f"{_pct(njt, .5) * 1e3:.1f}/{_pct(njt, .95) * 1e3:.1f}, {max(njs) / kib:.1f}", "unit": "",
             "target": "", "note": f"KiB p50 {_pct(njs, .5) / kib:.1f}; a step not seen yet is built by the replay"},
            {"name": f"stepper {label}: first picture sent, old/new", "value": f"{ofirst * 1e3:.0f}/{nfirst * 1e3:.0f}",
             "unit": "ms", "target": "", "note": "the view built and step 0 set (new: every block sent once)"},
        ]
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:55} {row['value']!s:>14} {row['unit']:3} {row['target']:>10}  {row['note']}")
