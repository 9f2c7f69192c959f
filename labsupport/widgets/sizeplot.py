"""View: a trace's request sizes, bucketed by glibc's chunk size (``heap.recorder.size_histogram``).

``plot_size_histogram(hist, mimalloc_classes=...)`` returns a matplotlib Figure: one
stem per chunk size (log scale), tcache's range shaded with the measured share of
requests inside it, mimalloc's size classes as ticks along the top, and the
cumulative share of requests (right axis). ``size_table(hist)`` is the same as text.
"""
from __future__ import annotations

from ..heap.recorder import TCACHE_MAX_CHUNK, TCACHE_MAX_REQUEST, SizeHistogram
from . import heapdraw as _heapdraw  # noqa: F401  (imported: a returned Figure displays as PNG)
from .style import COLORS

__all__ = ["plot_size_histogram", "size_table"]

TCACHE_SHADE = "#55A868"      # the tcache range (not a block state)


def plot_size_histogram(hist: SizeHistogram, mimalloc_classes=(), ax=None, title: str | None = None):
    """The histogram as a Figure (``ax``: draw into an existing Axes instead)."""
    if ax is None:
        from matplotlib.figure import Figure
        fig = Figure(figsize=(9, 3.8), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    sizes = sorted(hist.chunks)
    counts = [hist.chunks[s] for s in sizes]
    ax.set_xscale("log", base=2)
    right = max(sizes + [4096]) * 1.5
    ax.set_xlim(24, right)
    from matplotlib.ticker import FuncFormatter
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{int(v):,}"))
    ax.axvspan(24, TCACHE_MAX_CHUNK + 8, color=TCACHE_SHADE, alpha=0.18, lw=0,
               label=f"tcache: chunks 32..{TCACHE_MAX_CHUNK} B (requests <= {TCACHE_MAX_REQUEST} B): "
                     f"{hist.tcache_share:.0%} of requests")
    ax.vlines(sizes, 0, counts, color=COLORS["used"], lw=1.5)
    ax.plot(sizes, counts, "o", color=COLORS["used"], ms=3, label="requests per chunk size")
    ax.set_ylim(0, max(counts + [1]) * 1.18)
    top = ax.get_ylim()[1]
    cls = [c for c in mimalloc_classes if 24 <= c <= right]
    if cls:
        ax.plot(cls, [top * 0.97] * len(cls), "|", color="#555", ms=9,
                label="mimalloc size classes (measured)")
    ax.set_xlabel("glibc chunk size, bytes (request + 8 rounded up to 16, at least 32)")
    ax.set_ylabel("requests")
    twin = ax.twinx()
    total, cum = 0, []
    for c in counts:
        total += c
        cum.append(total / max(hist.requests, 1))
    twin.step(sizes, cum, where="post", color="#888", lw=1, ls="--", label="cumulative share")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("share of requests up to this size")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="center right", fontsize=8)
    ax.set_title(title or f"{hist.name}: {hist.requests:,} requests by glibc chunk size")
    return fig


def size_table(hist: SizeHistogram, k: int = 8) -> str:
    """The k most frequent chunk sizes and the tcache share, as text."""
    lines = [f"{'chunk B':>8} {'requests':>9} {'share':>6}"]
    lines += [f"{c:>8} {n:>9,} {s:>6.1%}" for c, n, s in hist.top(k)]
    lines.append(f"tcache range (chunks <= {TCACHE_MAX_CHUNK} B): {hist.in_tcache:,} of {hist.requests:,} "
                 f"requests = {hist.tcache_share:.1%}")
    return "\n".join(lines)
