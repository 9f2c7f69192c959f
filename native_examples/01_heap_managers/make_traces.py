"""Write the generated traces of lesson 01 (the hand-written ones are plain files).

    python native_examples/01_heap_managers/make_traces.py
"""
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here.parent.parent))
from labsupport.heap.traces import random_trace  # noqa: E402

for name, arena, trace, note in [
    ("exercise", 16384, random_trace(200, 9, sizes=(16, 600), max_live=30),
     "200 random operations (random_trace(200, 9, sizes=(16, 600), max_live=30))"),
    ("random1000", 65536, random_trace(1000, 1), "1,000 random operations (random_trace(1000, 1))"),
]:
    (here / "traces" / f"{name}.trace").write_text(f"# {note}\n# arena: {arena}\n" + trace.text())
    print(name, len(trace))
