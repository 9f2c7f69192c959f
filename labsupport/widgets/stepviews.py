"""Views of one ``Step`` (``heap.model``): what a stepper shows, as HTML or as plain text.

A renderer turns a step into four strings: ``label`` (which operation, and what
it did), ``heap`` (the picture), ``lists`` (the step's named lists: the free list,
or glibc's bins) and ``figures``. ``HtmlRenderer`` draws the heap as a small SVG
(no matplotlib: cheap enough for every slider move); ``TextRenderer`` gives the
same facts as text, for print() and for tests. ``widgets.stepper.StepView`` shows
any list of steps with either.

Steps hold named lists, not one free list: ``lists_html`` writes one line per
list (``free list: head -> +8 (32 B) -> NULL``; ``tcache 0x20: head -> ...``).
"""
from __future__ import annotations

import html
from bisect import bisect_left
from functools import lru_cache
from operator import itemgetter

from .style import COLORS, FAILED_COLOR

__all__ = ["row_bytes_for", "heap_svg", "list_html", "lists_html", "figures_html", "op_html",
           "lists_text", "figures_text", "op_text", "HtmlRenderer", "TextRenderer"]


def row_bytes_for(span: int) -> int:
    """Bytes per row of the SVG picture: a power of two from 64 giving at most 24 rows."""
    rb = 64
    while span / rb > 24:
        rb *= 2
    return rb


def heap_svg(step, span: int, fixed=(), numbered: str | None = None, width: int = 720, row_h: int = 16) -> str:
    """The heap of one step as an SVG string (cheap: no matplotlib).

    span: bytes drawn from offset 0; fixed: (offset, size) meta spans always drawn (a
    prologue, an epilogue); numbered: the list whose blocks get their position ("#1"),
    default the step's first list. The block the step touched is outlined in red."""
    rb = row_bytes_for(span)
    nrows = -(-span // rb)
    scale = width / rb
    label_w = 56
    numbered_bin = step.bins[numbered] if numbered is not None else next(iter(step.bins), None)
    list_name = html.escape(numbered_bin.name) if numbered_bin is not None else ""
    order = {off: i for i, off in enumerate(numbered_bin.offsets if numbered_bin is not None else (), 1)}
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + label_w + 4}" '
              f'height="{nrows * row_h + 4}" style="font-family:monospace;font-size:9px">'), STRIP_DEFS]
    for r in range(nrows):
        parts.append(f'<text x="0" y="{r * row_h + 12}" fill="#666">+{r * rb}</text>')
    spans = [(o, s, "meta", "", None) for o, s in fixed]
    spans += [(o, s, "used" if u else "free", own, order.get(o)) for o, s, u, own in step.blocks]
    changed = step.changed
    for off, size, st, own, fl in spans:      # a block unchanged since the last step: a cache hit
        parts.append(_span_svg(off, size, st, own, fl, off == changed, rb, scale, row_h, label_w, list_name))
    parts.append("</svg>")
    return "".join(parts)


# heap_svg's patterns, so the strip does not tell the states apart by colour alone: a free block
# striped, the prologue/epilogue (meta) dotted, a used block plain, as style.HATCHES has them for
# draw_heap ("///", ".."), in draw_heap's ink; the same SVG as heapfront.js hatchPattern draws for
# those hatches (heapfront.js svgOf and heapfront.py svg_of draw these defs too: tests/test_heapfront.py).
STRIP_PATTERNS = {"free": "heap-strip-free", "meta": "heap-strip-meta"}
STRIP_DEFS = ('<defs><pattern id="heap-strip-free" width="8" height="8" patternUnits="userSpaceOnUse">'
              '<path d="M0,8 L8,0 M-4,4 L4,-4 M4,12 L12,4" stroke="#8a8a8a" stroke-width="0.8"/></pattern>'
              '<pattern id="heap-strip-meta" width="6" height="6" patternUnits="userSpaceOnUse">'
              '<circle cx="3" cy="3" r="0.8" fill="#8a8a8a"/></pattern></defs>')


@lru_cache(maxsize=1 << 15)
def _span_svg(off, size, st, own, fl, outlined, rb, scale, row_h, label_w, list_name) -> str:
    """One block of ``heap_svg``: a rect per row it covers, and its label."""
    parts = []
    pos, end = off, off + size
    first = True
    while pos < end:
        row, x = divmod(pos, rb)
        w = min(end - pos, rb - x)
        X, Y, W = label_w + x * scale, row * row_h + 2, max(w * scale - 0.8, 0.6)
        outline = f' stroke="{FAILED_COLOR}" stroke-width="2"' if outlined else ""
        parts.append(f'<rect x="{X:.1f}" y="{Y}" width="{W:.1f}" height="{row_h - 3}" '
                     f'fill="{COLORS[st]}"{outline}><title>+{off} {size} B {st} {html.escape(own)}'
                     f'{f" ({list_name} #{fl})" if fl else ""}</title></rect>')
        if st in STRIP_PATTERNS:      # the state's pattern over its colour (hover reaches the rect below)
            parts.append(f'<rect x="{X:.1f}" y="{Y}" width="{W:.1f}" height="{row_h - 3}" '
                         f'fill="url(#{STRIP_PATTERNS[st]})" pointer-events="none"/>')
        if first and W > 22:
            label = html.escape(own) if st == "used" else (f"#{fl}" if fl else "")
            if label:
                color = "white" if st == "used" else "#333"
                parts.append(f'<text x="{X + 2:.1f}" y="{Y + 10}" fill="{color}">{label[: int(W // 6)]}</text>')
        first = False
        pos += w
    return "".join(parts)


def _size_at(blocks, off):
    """The size of the block at ``off`` (blocks in address order: a binary search), or '?'."""
    j = bisect_left(blocks, off, key=itemgetter(0))
    if j < len(blocks) and blocks[j][0] == off:
        return blocks[j][1]
    return next((s for o, s, _u, _own in blocks if o == off), "?")      # not in address order


def _list_items(step, b, limit):
    items = [f"+{o} ({_size_at(step.blocks, o)} B)" for o in b.offsets[:limit]]
    more = f" → ... {len(b.offsets) - limit} more" if len(b.offsets) > limit else ""
    return " → ".join(items) + more


def list_html(step, name: str, limit: int = 12) -> str:
    """One named list: ``<b>free list</b>: head → +8 (32 B) → NULL``."""
    return f"<b>{html.escape(name)}</b>: head → " + _list_items(step, step.bins[name], limit) + " → NULL"


def lists_html(step, limit: int = 12) -> str:
    """Every named list of the step, one line each."""
    return "<br>".join(list_html(step, b.name, limit) for b in step.bins)


def lists_text(step, limit: int = 12) -> str:
    return "\n".join(f"{b.name}: head → " + _list_items(step, b, limit) + " → NULL" for b in step.bins)


def _tail(f, heap_start, heap_end):
    return None if heap_end is None else heap_end - max(f.footprint, heap_start)


def figures_html(step, heap_start: int = 0, heap_end: int | None = None) -> str:
    """The step's figures as a small table. heap_end: where the heap ends (the untouched
    tail is heap_end - footprint); heap_start: the first byte a block can use."""
    f = step.figures
    tail = _tail(f, heap_start, heap_end)
    tail_cell = f"untouched tail {tail:,} B" if tail is not None else ""
    return ("<table style='font-size:90%'><tr>"
            f"<td>live <b>{f.live:,}</b> B</td><td>footprint <b>{f.footprint:,}</b> B</td>"
            f"<td>utilisation <b>{f.utilisation:.2f}</b></td></tr><tr>"
            f"<td>holes <b>{f.holes:,}</b> B</td><td>largest hole <b>{f.largest_hole:,}</b> B</td>"
            f"<td>ext. fragmentation <b>{f.external_fragmentation:.2f}</b></td></tr><tr>"
            f"<td>{tail_cell}</td><td>searched {step.searched} blocks</td>"
            f"<td>failed allocations <b>{f.failed}</b></td></tr></table>")


def figures_text(step, heap_start: int = 0, heap_end: int | None = None) -> str:
    f = step.figures
    tail = _tail(f, heap_start, heap_end)
    return (f"live {f.live:,} B, footprint {f.footprint:,} B, utilisation {f.utilisation:.2f}\n"
            f"holes {f.holes:,} B, largest hole {f.largest_hole:,} B, "
            f"ext. fragmentation {f.external_fragmentation:.2f}\n"
            + (f"untouched tail {tail:,} B, " if tail is not None else "")
            + f"searched {step.searched} blocks, failed allocations {f.failed}")


def _op(step, total, empty, bold):
    if step.op is None:
        return f"step 0 of {total}: {empty}"
    what = html.escape(str(step.op)) if bold else str(step.op)
    if step.failed:
        what += (f" → <b style='color:{FAILED_COLOR}'>FAILED: no free block is big enough</b>" if bold
                 else " → FAILED: no free block is big enough")
    elif step.changed is not None:
        what += f" → block at +{step.changed}"
    return f"step {step.step} of {total}: <b>{what}</b>" if bold else f"step {step.step} of {total}: {what}"


def op_html(step, total: int, empty: str = "an empty arena") -> str:
    """Which operation this step ran, and the block it touched (or that it failed)."""
    return _op(step, total, empty, True)


def op_text(step, total: int, empty: str = "an empty arena") -> str:
    return _op(step, total, empty, False)


class HtmlRenderer:
    """A step as HTML: label, SVG heap picture, named lists, figures (what ``StepView`` shows).

    span: bytes the picture covers; fixed: meta spans drawn on every step;
    heap_start/heap_end: the usable part, for the untouched tail."""

    def __init__(self, span: int, fixed=(), heap_start: int = 0, heap_end: int | None = None,
                 empty: str = "an empty arena", list_limit: int = 12):
        self.span, self.fixed = span, tuple(fixed)
        self.heap_start, self.heap_end = heap_start, heap_end
        self.empty, self.list_limit = empty, list_limit

    def label(self, step, total: int) -> str:
        return op_html(step, total, self.empty)

    def heap(self, step) -> str:
        return heap_svg(step, self.span, self.fixed)

    def lists(self, step) -> str:
        return lists_html(step, self.list_limit)

    def figures(self, step) -> str:
        return figures_html(step, self.heap_start, self.heap_end)


class TextRenderer(HtmlRenderer):
    """The same facts as plain text; ``render(step, total)`` gives them in one string."""

    def label(self, step, total: int) -> str:
        return op_text(step, total, self.empty)

    def heap(self, step) -> str:
        return "\n".join(f"+{o:<6} {s:>6} B  {'used' if u else 'free'}  {own}" for o, s, u, own in step.blocks)

    def lists(self, step) -> str:
        return lists_text(step, self.list_limit)

    def figures(self, step) -> str:
        return figures_text(step, self.heap_start, self.heap_end)

    def render(self, step, total: int) -> str:
        return "\n".join([self.label(step, total), self.heap(step), self.lists(step), self.figures(step)])
