"""Draw a heap as blocks with matplotlib: ``draw_heap(blocks)`` returns a Figure.

The picture wraps the address range into rows of ``row_bytes`` (like a hex dump,
but offsets are decimal everywhere in the course), so neighbours stay neighbours
and a block that crosses a row continues on the next one. Every lesson that has
a heap to show (the teaching allocator, real glibc chunks, mimalloc pages, a
WebAssembly linear memory) hands a list of ``Block`` (``heap.model``) to
``draw_heap`` (a static picture) or ``widgets.heapmap.HeapMap`` (a widget).

All rectangles go into one ``PolyCollection``, so 10,000 blocks draw in one
call rather than 10,000 (see benchmarks/bench_core.py). Importing this module
lets a returned Figure display as a PNG in a notebook, with or without pyplot.
"""
from __future__ import annotations

import io
import math
from html import escape

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba_array
from matplotlib.figure import Figure
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path

from ..heap.model import STATES, summarize
from .style import COLORS, HATCHES

__all__ = ["draw_heap", "figure_png", "details_html", "table_html"]


_HATCH_INK = "#8a8a8a"           # the pattern's lines: visible on the pale free grey and on orange


def _auto_row_bytes(span: int) -> int:
    return max(64, 1 << math.ceil(math.log2(max(span, 1) / 32)))


def _rectangles(blocks, start: int, row_bytes: int):
    """Split blocks at row ends: arrays of (row, x, width, state index, block index).

    Vectorised: most blocks fit in their row; only those crossing a row end are split in a loop."""
    state_index = {s: i for i, s in enumerate(STATES)}
    n = len(blocks)
    pos = np.fromiter((b.offset for b in blocks), dtype=np.int64, count=n) - start
    size = np.fromiter((b.size for b in blocks), dtype=np.int64, count=n)
    state = np.fromiter((state_index[b.state] for b in blocks), dtype=int, count=n)
    row, x = np.divmod(pos, row_bytes)
    fits = x + size <= row_bytes
    if fits.all():
        return row, x, size, state, np.arange(n)
    rows, xs, ws, st, idx = [row[fits]], [x[fits]], [size[fits]], [state[fits]], [np.flatnonzero(fits)]
    for i in np.flatnonzero(~fits):
        p, end = int(pos[i]), int(pos[i] + size[i])
        while p < end:
            r, xx = divmod(p, row_bytes)
            w = min(end - p, row_bytes - xx)
            rows.append([r]); xs.append([xx]); ws.append([w]); st.append([state[i]]); idx.append([i])
            p += w
    order = np.lexsort((np.concatenate(rows), np.concatenate(idx)))      # by block, then row
    return tuple(np.concatenate(a)[order] for a in (rows, xs, ws, st, idx))


def draw_heap(blocks, title: str | None = None, row_bytes: int | None = None, ax=None,
              highlight: int | None = None, labels: bool | None = None):
    """Draw ``blocks`` and return the matplotlib Figure.

    row_bytes: bytes per row (default: a power of two giving about 32 rows).
    highlight: index of a block to outline in red.
    labels: write owner labels inside wide blocks (default: when <= 200 blocks).
    Each state has its colour (``style.COLORS``) and its pattern (``style.HATCHES``: free
    striped, meta dotted), in the blocks and in the legend.
    """
    blocks = list(blocks)
    if ax is None:
        fig = Figure(figsize=(9, 3.2))
        fig.subplots_adjust(left=0.08, right=0.86, top=0.9, bottom=0.16)  # fixed: layout engines draw twice
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    if not blocks:
        ax.text(0.5, 0.5, "(empty heap)", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    start = min(b.offset for b in blocks)
    end = max(b.offset + b.size for b in blocks)
    row_bytes = row_bytes or _auto_row_bytes(end - start)
    rows, xs, ws, st, idx = _rectangles(blocks, start, row_bytes)
    thin = len(blocks) <= 2000
    if not thin and len(rows) > 1:
        # no edges are drawn at this size, so neighbours of one state merge into one rectangle
        joined = (rows[1:] == rows[:-1]) & (st[1:] == st[:-1]) & (xs[1:] == xs[:-1] + ws[:-1])
        starts = np.flatnonzero(np.r_[True, ~joined])
        ws = np.add.reduceat(ws, starts)
        rows, xs, st, idx = rows[starts], xs[starts], st[starts], idx[starts]
    y0, y1 = rows + 0.08, rows + 0.92
    verts = np.stack([np.stack([xs, y0], 1), np.stack([xs + ws, y0], 1),
                      np.stack([xs + ws, y1], 1), np.stack([xs, y1], 1)], 1)
    palette = to_rgba_array([COLORS[s] for s in STATES])     # RGBA once, not a name per block
    ax.add_collection(PolyCollection(verts, facecolors=palette[st], edgecolors="white" if thin else "none",
                                     linewidths=0.6 if thin else 0))
    for k, state in enumerate(STATES):          # a pattern per state too: not told by colour alone
        mine = st == k
        if HATCHES[state] and mine.any():
            # one compound path per pattern: Agg hatches it once (a collection hatches each of
            # thousands of rectangles apart: 2 s for 10,000 blocks); the pattern is laid in
            # the figure's pixels either way, so the picture is the same
            path = Path.make_compound_path_from_polys(verts[mine])
            ax.add_patch(PathPatch(path, facecolor="none", edgecolor=_HATCH_INK, linewidth=0,
                                   hatch=HATCHES[state]))
    nrows = int(rows.max()) + 1
    ax.set_xlim(0, row_bytes)
    ax.set_ylim(nrows, 0)
    step = max(1, nrows // 8)
    ax.set_yticks([r + 0.5 for r in range(0, nrows, step)])
    ax.set_yticklabels([f"+{start + r * row_bytes}" for r in range(0, nrows, step)], fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel(f"byte within row ({row_bytes} bytes per row); rows are offsets from the heap start",
                  fontsize=8)
    if labels is None:
        labels = len(blocks) <= 200
    if labels:
        min_w = row_bytes / 14
        for r, x, w, i in zip(rows, xs, ws, idx):
            if w >= min_w and blocks[i].owner:
                ax.text(x + w / 2, r + 0.5, blocks[i].owner, ha="center", va="center", fontsize=8,
                        color="white" if blocks[i].state != "free" else "black", clip_on=True)
    if highlight is not None:
        for r, x, w, i in zip(rows, xs, ws, idx):
            if i == highlight:
                ax.add_patch(Rectangle((x, r + 0.02), w, 0.96, fill=False, edgecolor="red", linewidth=1.5))
    s = summarize(blocks)
    ax.legend(handles=[Patch(facecolor=COLORS[k], edgecolor=_HATCH_INK, linewidth=0, hatch=HATCHES[k],
                             label=f"{k} {s[k]:,} B") for k in STATES],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.set_title(title or f"{len(blocks):,} blocks", fontsize=9)
    return fig


def figure_png(fig, dpi: int = 80) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def details_html(blocks, i: int) -> str:
    """One block, in words (the HeapMap's details line)."""
    b = blocks[i]
    return (f"<b>block {i}</b>: offset +{b.offset}, size {b.size:,} B, "
            f"state <b>{escape(b.state)}</b>{', owner ' + escape(b.owner) if b.owner else ''}")


def table_html(blocks, limit: int = 40) -> str:
    """The first ``limit`` blocks as an HTML table (offset, size, state, owner)."""
    rows = "".join(f"<tr><td>{i}</td><td>+{b.offset}</td><td>{b.size:,}</td><td>{escape(b.state)}</td>"
                   f"<td>{escape(b.owner)}</td></tr>" for i, b in enumerate(blocks[:limit]))
    more = f"<tr><td colspan=5>... {len(blocks) - limit:,} more</td></tr>" if len(blocks) > limit else ""
    return ("<div style='max-height:14em;overflow:auto' tabindex='0' role='region' aria-label='the blocks, "
            "one row each'><table style='font-size:80%'>"
            "<tr><th>#</th><th>offset</th><th>size</th><th>state</th><th>owner</th></tr>"
            f"{rows}{more}</table></div>")


def _register_png_formatter() -> None:
    """Let a Figure returned by draw_heap display as a picture, with or without pyplot."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        ip.display_formatter.formatters["image/png"].for_type(Figure, lambda fig: figure_png(fig, dpi=100))


_register_png_formatter()
