"""Lesson 09's full benchmark: the five workloads at full size under glibc, glibc
without tcache, mimalloc (LD_PRELOAD) and the teaching allocator, interleaved,
9 rounds after a warm-up round. Prints glibc-time / allocator-time ratios (median
of the paired per-round ratios, with their min..max) and peak RSS. A few minutes.

    .venv/bin/python benchmarks/bench_allocators.py          # this table only
    .venv/bin/python benchmarks/run.py                       # with every other benchmark

Targets are what the mimalloc paper and FACTS.md lead one to expect (mimalloc
ahead of glibc); nothing fails when the machine is busy.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPEATS = 9
EXPECT = {   # what FACTS.md / the paper suggest for glibc / mimalloc
    "churn": "> 1 (FACTS: ~3x)",
    "large": "> 1",
    "threads": "> 1",
    "prodcons": "> 1 (FACTS: 14-16x)",
    "frag": "> 1",
}


def run() -> list[dict]:
    from labsupport import allocbench as ab
    t0 = time.monotonic()
    res = ab.compare(list(ab.WORKLOADS), ab.ALLOCATORS, repeats=REPEATS, full=True, timeout=120,
                     progress=False)
    out = []
    for w in res.workloads:
        for a in ("mimalloc", "glibc-no-tcache", "talloc"):
            if not res.values(w, a):
                out.append(dict(name=f"{w}: glibc / {a}", value="skipped", unit="", target="",
                                note=res.skipped.get((w, a), "")))
                continue
            med, lo, hi = res.ratio(w, a)
            cmed, clo, chi = res.ratio(w, a, key="cpu")
            rss = res.median(w, a, "maxrss_kb") / max(1, res.median(w, "glibc", "maxrss_kb"))
            out.append(dict(
                name=f"{w}: glibc / {ab.LABELS[a]} (wall)", value=round(med, 2), unit="x",
                target=EXPECT[w] if a == "mimalloc" else "",
                note=f"wall {lo:.2f}..{hi:.2f}; cpu {cmed:.2f}x ({clo:.2f}..{chi:.2f}); "
                     f"peak RSS {rss:.1f}x glibc's; {REPEATS} paired rounds"))
    out.append(dict(name="allocator benchmark, total time", value=round(time.monotonic() - t0), unit="s",
                    target="a few min", note=f"{len(res.workloads)} workloads x {len(res.allocators)} allocators"))
    return out


if __name__ == "__main__":
    for row in run():
        print(f"{row['name'][:45]:45} {str(row['value']) + ' ' + row['unit']:>10} {row['target']:>20}  {row['note']}")
