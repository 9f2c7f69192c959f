"""Allocator measurements drawn: ``plot_comparison(res)`` and ``lab_plot(scores)`` (lesson 09).

The measurements are data in ``labsupport/allocbench.py`` (``compare`` returns a
``Comparison``, ``malloclab`` a list of ``Score``), which draws nothing; this module
draws them as matplotlib Figures (a returned Figure displays as a PNG in a notebook once
``heapdraw`` is imported, as it is here).

Importing this module also installs the notebook's progress line
(``widgets/progress.py``) as where ``allocbench.compare`` and ``malloclab`` report the
run they are on, so a lesson that imports it sees one line that updates in place.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from ..allocbench import LABELS, Comparison, set_progress_display
from . import heapdraw  # noqa: F401  (registers the PNG display of a Figure in a notebook)
from .progress import ProgressLine

__all__ = ["lab_plot", "plot_comparison"]

set_progress_display(ProgressLine)


def plot_comparison(res: Comparison, key: str = "wall") -> Figure:
    """``compare``'s result drawn: left, each allocator's speed relative to glibc per workload
    (median of the paired ratios, bars from their min to max, log scale); right, the median
    peak RSS of every allocator per workload."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    colour = {a: f"C{i}" for i, a in enumerate(res.allocators)}   # one colour per allocator, both panels
    allocs = [a for a in res.allocators if a != "glibc"]
    width = 0.8 / max(1, len(allocs))
    for j, a in enumerate(allocs):
        xs, meds, errs = [], [], [[], []]
        for i, w in enumerate(res.workloads):
            if not res.values(w, a):
                continue
            med, lo, hi = res.ratio(w, a, key=key)
            xs.append(i + (j - (len(allocs) - 1) / 2) * width)
            meds.append(med)
            errs[0].append(med - lo)
            errs[1].append(hi - med)
        ax1.bar(xs, meds, width, yerr=errs, capsize=3, label=LABELS.get(a, a), color=colour[a])
    ax1.axhline(1, color="black", linewidth=0.8)
    ax1.set_yscale("log")
    ax1.set_xticks(range(len(res.workloads)), res.workloads)
    ax1.set_ylabel(f"glibc {key} time / this allocator's  (>1: faster)")
    ax1.set_title("speed relative to glibc (median, bars: min..max of paired runs)", fontsize=9)
    ax1.legend(fontsize=8)
    width = 0.8 / len(res.allocators)
    for j, a in enumerate(res.allocators):
        xs = [i + (j - (len(res.allocators) - 1) / 2) * width for i, w in enumerate(res.workloads)
              if res.values(w, a)]
        ys = [res.median(w, a, "maxrss_kb") / 1024 for w in res.workloads if res.values(w, a)]
        ax2.bar(xs, ys, width, label=LABELS.get(a, a), color=colour[a])
    ax2.set_yscale("log")
    ax2.set_xticks(range(len(res.workloads)), res.workloads)
    ax2.set_ylabel("peak RSS, MB (median)")
    ax2.set_title("peak resident memory (VmHWM from /proc/self/status)", fontsize=9)
    ax2.legend(fontsize=8)
    return fig


def lab_plot(scores) -> Figure:
    """``malloclab``'s scores drawn: utilisation (x) against throughput relative to glibc (y),
    one marker per allocator and trace, log scales; the reference path (footprint measured as
    RSS, not comparable with the lab's heap) drawn hollow."""
    base = {s.trace: s.seconds for s in scores if s.allocator == "glibc" and s.ok}
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    labels = list(dict.fromkeys(s.allocator for s in scores))
    markers = "osD^v<>"
    for j, lab_ in enumerate(labels):
        pts = [(s.utilisation, base[s.trace] / s.seconds, s.trace, s.reference) for s in scores
               if s.allocator == lab_ and s.ok and s.trace in base and s.seconds and s.footprint]
        if pts:
            ref = pts[0][3]
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=markers[j % len(markers)], s=50,
                       label=lab_ + (" (reference: RSS footprint)" if ref else ""),
                       facecolors="none" if ref else f"C{j}", edgecolors=f"C{j}")
            for x, y, t, _ in pts:
                ax.annotate(t, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhline(1, color="black", linewidth=0.6)
    ax.set_xlabel("utilisation = peak live bytes / peak footprint  (right is better)")
    ax.set_ylabel("throughput relative to glibc  (up is better)")
    ax.set_title("the malloc lab: every allocator on every trace (hollow: reference path)", fontsize=10)
    ax.legend(fontsize=8)
    return fig
