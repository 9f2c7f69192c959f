"""The heap map of 10,000 blocks (issue 30, speed 4: at most 150 ms from blocks to picture).

``HeapMap(blocks)`` (labsupport/widgets/heapmap.py) sends the blocks as data and the browser
draws them (``heapfront.MapFront``): the kernel's part is building the widget and serialising
what it sends (timed here: every widget message encoded as the kernel's session writes it).
The static picture (``heapdraw.draw_heap`` + PNG, what the widget drew before and what
``HeapMap.image`` still gives) is timed beside it on the same blocks (bench_core.py's).
"""
from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _blocks():
    import labsupport as lab
    rng, blocks, off = random.Random(0), [], 0
    while len(blocks) < 10_000:                     # as benchmarks/bench_core.py draws them
        size = rng.choice([16, 32, 48, 64, 96, 128, 256])
        blocks.append(lab.Block(off, size, rng.choice(["used", "used", "free", "meta"])))
        off += size
    return blocks


def run() -> list[dict]:
    import ipywidgets

    from labsupport.widgets.heapdraw import draw_heap, figure_png
    from labsupport.widgets.heapmap import HeapMap

    blocks = _blocks()
    sent = [0]
    real = ipywidgets.Widget._send

    def counting(self, msg, buffers=None):          # what the session would serialise and send
        sent[0] += len(json.dumps(msg, ensure_ascii=False, allow_nan=False).encode())

    HeapMap(blocks[:10])                              # imports and the first widget out of the way
    new, old, bytes_sent = [], [], 0
    ipywidgets.Widget._send = counting
    try:
        for _ in range(7):
            sent[0] = 0
            t = time.perf_counter()
            HeapMap(blocks)
            new.append(time.perf_counter() - t)
            bytes_sent = sent[0]
            t = time.perf_counter()
            figure_png(draw_heap(blocks))
            old.append(time.perf_counter() - t)
    finally:
        ipywidgets.Widget._send = real
    hm = HeapMap(blocks)
    t = time.perf_counter()
    hm.picker.value = 4321
    pick = time.perf_counter() - t
    return [
        {"name": "heap map, 10,000 blocks: HeapMap (kernel)", "value": round(statistics.median(new) * 1e3, 1),
         "unit": "ms", "target": "<= 150 ms",
         "note": f"median of 7 (max {max(new) * 1e3:.0f}); blocks sent as data, {bytes_sent / 1024:.0f} KiB, "
                 "drawn by the browser"},
        {"name": "heap map, 10,000 blocks: static picture (PNG)", "value": round(statistics.median(old) * 1e3, 1),
         "unit": "ms", "target": "", "note": "draw_heap + PNG, side by side: HeapMap.image, and the widget before"},
        {"name": "heap map, 10,000 blocks: pick a block", "value": round(pick * 1e3, 2), "unit": "ms",
         "target": "", "note": "the browser redraws; the kernel sends the block's number and its details"},
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:50} {row['value']!s:>8} {row['unit']:3} {row['target']:>10}  {row['note']}")
