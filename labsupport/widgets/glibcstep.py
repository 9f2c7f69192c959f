"""The glibc stepper: the teaching allocator's stepper view over glibc's real bins.

``GlibcStepper(trace)`` replays the trace in a fresh process with real glibc
(``heap.glibc.glibc_steps``) and shows one ``GlibcStep`` per slider position with
``GlibcRenderer``: the heap map with every free chunk coloured by the bin that holds it
(``style.BIN_COLORS``) and labelled with that bin's letter and its place in it (``T1``, ``S2``:
``style.BIN_LETTERS``, so the bins are not told apart by colour alone), the chunk the step touched
outlined; beside it the bins as ordered lists from their heads; the top chunk,
``av->system_mem`` and the figures below. Same ``StepView`` (slider, play) as the teaching
allocator's ``Stepper``; only the snapshot source and the renderer differ.
"""
from __future__ import annotations

import html

import ipywidgets as w

from ..heap.glibc import NO_TCACHE, glibc_steps
from ..heap.traces import as_trace
from .stepper import StepView, TraceStepper
from .stepviews import figures_html, figures_text, op_html, op_text, row_bytes_for
from .style import BIN_COLORS, BIN_LETTERS, COLORS, FAILED_COLOR, text_on

__all__ = ["chunk_color", "chunk_label", "glibc_heap_svg", "bins_html", "bins_text", "GlibcRenderer",
           "GlibcTextRenderer", "glibc_span", "GlibcStepper"]

_KIND = {"tcache": "tcache", "fastbin": "fastbin", "unsorted": "unsorted", "smallbin": "smallbin",
         "largebin": "largebin", "free": "free", "top": "top"}


def chunk_color(state: str) -> str:
    """The fill of a chunk: used / glibc's own (meta) as everywhere; a free chunk by its bin."""
    if state == "used":
        return COLORS["used"]
    if state in ("tcache_struct", "fast_or_other"):
        return COLORS["meta"]
    return BIN_COLORS.get(_KIND.get(state, "free"), COLORS["free"])


def chunk_label(state: str, owner: str = "", place: int | None = None) -> str:
    """The text in a chunk, so that no chunk is told by its colour alone: a used chunk's owner;
    a binned chunk's bin letter and its place in that bin (``T1``: the tcache list's head;
    ``style.BIN_LETTERS``); ``top``, ``free``; ``meta`` for glibc's own chunks."""
    if state == "used":
        return owner
    if state in ("tcache_struct", "fast_or_other"):
        return "meta"
    kind = _KIND.get(state, "free")
    letter = BIN_LETTERS[kind]
    return f"{letter}{place}" if place is not None and len(letter) == 1 else letter


def glibc_span(steps, slack: int = 256) -> int:
    """Bytes the map shows: the highest top-chunk offset of any step plus a little of top."""
    return max(steps.footprints, default=0) + slack


def _chunk_svg(c, where, outlined, span, rb, scale, label_w, row_h) -> str:
    off, end = c.offset, min(c.offset + c.size, span)
    st = str(c.state)
    fill = chunk_color(st)
    tip = (f"+{off} {c.size} B {st} {html.escape(c.owner)}"
           + (f" ({html.escape(where[0])} #{where[1]})" if where else ""))
    outline = f' stroke="{FAILED_COLOR}" stroke-width="2"' if outlined else ""
    parts = []
    pos, first = off, True
    while pos < end:
        row, x = divmod(pos, rb)
        wdt = min(end - pos, rb - x)
        X, Y, W = label_w + x * scale, row * row_h + 2, max(wdt * scale - 0.8, 0.6)
        parts.append(f'<rect x="{X:.1f}" y="{Y}" width="{W:.1f}" height="{row_h - 3}" fill="{fill}"{outline}>'
                     f'<title>{tip}</title></rect>')
        if first and W > 8:
            label = chunk_label(st, c.owner, where[1] if where else None)
            fit = int((W - 2) // 5.5)                 # characters of 9px monospace that fit
            if where and len(label) > fit:
                label = label[0]                      # the bin's letter, never a cut number
            label = html.escape(label[:max(fit, 1)])
            if label:
                parts.append(f'<text x="{X + 2:.1f}" y="{Y + 10}" fill="{text_on(fill)}">{label}</text>')
        first = False
        pos += wdt
    return "".join(parts)


def glibc_heap_svg(step, span: int, width: int = 720, row_h: int = 16, cache: dict | None = None) -> str:
    """The chunks of one ``GlibcStep`` as an SVG string (the top chunk cut at ``span``).
    A free chunk is filled with its bin's colour and labelled with the bin's letter and its place
    in it (``T1`` = the tcache list's head, ``chunk_label``); the chunk the step touched is
    outlined in red. cache: a dict the caller keeps (``GlibcRenderer`` does) to reuse the SVG
    of chunks that did not change."""
    rb = row_bytes_for(span)
    nrows = -(-span // rb)
    scale = width / rb
    label_w = 56
    place = {}
    for b in step.bins:
        for k, off in enumerate(b.offsets, 1):
            place[off] = (b.name, k)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + label_w + 4}" '
              f'height="{nrows * row_h + 4}" style="font-family:monospace;font-size:9px">')]
    for r in range(nrows):
        parts.append(f'<text x="0" y="{r * row_h + 12}" fill="#666">+{r * rb}</text>')
    changed = step.changed
    for c in step.chunks:
        key = (c, place.get(c.offset), c.offset == changed)
        frag = cache.get(key) if cache is not None else None
        if frag is None:
            frag = _chunk_svg(c, key[1], key[2], span, rb, scale, label_w, row_h)
            if cache is not None:
                if len(cache) > 100_000:
                    cache.clear()
                cache[key] = frag
        parts.append(frag)
    parts.append("</svg>")
    return "".join(parts)


def _swatch(kind: str) -> str:
    """The bin's colour with its letter in it (the letter its chunks carry in the map)."""
    letter = BIN_LETTERS[kind] if len(BIN_LETTERS[kind]) == 1 else ""
    return (f"<span style='display:inline-block;min-width:10px;height:12px;line-height:12px;padding:0 2px;"
            f"font-size:10px;text-align:center;background:{BIN_COLORS[kind]};color:{text_on(BIN_COLORS[kind])};"
            f"border:1px solid #999;margin-right:4px' aria-hidden='true'>{letter}</span>")


def bins_html(step, limit: int = 12, cache: dict | None = None) -> str:
    """Every non-empty bin as an ordered list from its head, with glibc's tcache counts; the
    top chunk and av->system_mem under them. cache: a dict kept by the caller, one line per bin."""
    sizes = None
    rows = []
    for b in step.bins:
        count = step.tcache_counts.get(b.name)
        key = (b, count)
        line = cache.get(key) if cache is not None else None
        if line is None:
            if sizes is None:
                sizes = {c.offset: c.size for c in step.chunks}
            items = [f"+{o} ({sizes.get(o, '?')} B)" for o in b.offsets[:limit]]
            more = f" → … {len(b.offsets) - limit} more" if len(b.offsets) > limit else ""
            cnt = f" <span style='color:#666'>(count {count})</span>" if count is not None else ""
            line = (f"{_swatch(str(b.type))}<b>{html.escape(b.name)}</b>{cnt}: head → "
                    + " → ".join(items) + more + " → NULL")
            if cache is not None:
                if len(cache) > 50_000:
                    cache.clear()
                cache[key] = line
        rows.append(line)
    if not rows:
        rows.append("<i>every bin is empty</i>")
    if step.top:
        rows.append(f"{_swatch('top')}<b>top</b>: +{step.top[0]} ({step.top[1]:,} B); "
                    f"av->system_mem {step.system_mem:,} B")
    return "<div style='font-family:monospace;font-size:90%'>" + "<br>".join(rows) + "</div>"


def bins_text(step, limit: int = 12) -> str:
    sizes = {c.offset: c.size for c in step.chunks}
    rows = []
    for b in step.bins:
        items = [f"+{o} ({sizes.get(o, '?')} B)" for o in b.offsets[:limit]]
        more = f" → ... {len(b.offsets) - limit} more" if len(b.offsets) > limit else ""
        count = step.tcache_counts.get(b.name)
        rows.append(f"{b.name}{f' (count {count})' if count is not None else ''}: head → "
                    + " → ".join(items) + more + " → NULL")
    if not rows:
        rows.append("every bin is empty")
    if step.top:
        rows.append(f"top: +{step.top[0]} ({step.top[1]:,} B); av->system_mem {step.system_mem:,} B")
    return "\n".join(rows)


def _served(step) -> str:
    if step.op is None or step.served is None:
        return ""
    return f" from {step.served}"


class GlibcRenderer:
    """A ``GlibcStep`` as HTML for ``StepView``: label, heap map, bins, figures."""

    def __init__(self, span: int, list_limit: int = 12):
        self.span, self.list_limit = span, list_limit
        self._svg_parts: dict = {}
        self._bin_lines: dict = {}

    def label(self, step, total: int) -> str:
        text = op_html(step, total, "no heap yet (glibc makes it at the first malloc)").replace("block at", "chunk at")
        return text.replace("</b>", html.escape(_served(step)) + "</b>", 1) if step.served else text

    def heap(self, step) -> str:
        return glibc_heap_svg(step, self.span, cache=self._svg_parts)

    def lists(self, step) -> str:
        return bins_html(step, self.list_limit, cache=self._bin_lines)

    def figures(self, step) -> str:
        return figures_html(step).replace("searched 0 blocks", "")


class GlibcTextRenderer(GlibcRenderer):
    """The same facts as text (for print() and tests): ``render(step, total)``."""

    def label(self, step, total: int) -> str:
        return op_text(step, total, "no heap yet (glibc makes it at the first malloc)").replace(
            "block at", "chunk at") + _served(step)

    def heap(self, step) -> str:
        return "\n".join(map(str, step.chunks))

    def lists(self, step) -> str:
        return bins_text(step, self.list_limit)

    def figures(self, step) -> str:
        return figures_text(step).replace("searched 0 blocks, ", "")

    def render(self, step, total: int) -> str:
        return "\n".join([self.label(step, total), self.heap(step), self.lists(step), self.figures(step)])


class GlibcStepper(TraceStepper):
    """The glibc stepper: slider and play over a real glibc replay, heap map coloured by bin,
    the bins beside it; a switch for GLIBC_TUNABLES (tcache and fastbins off) and a box to
    edit the trace. ``show(i)`` moves to step i; ``steps`` is the ``GlibcSteps``."""

    def __init__(self, trace, no_tcache: bool = False, editable: bool = True):
        self.trace = as_trace(trace)
        self.steps = glibc_steps(self.trace, NO_TCACHE if no_tcache else None)
        self.tunables = w.Checkbox(value=bool(no_tcache), description="GLIBC_TUNABLES: tcache and fastbins off",
                                   indent=False, layout=w.Layout(width="300px"))
        rows = self._editor_rows(editable)
        self.view = StepView(self.steps, GlibcRenderer(glibc_span(self.steps)), controls=[self.tunables], rows=rows)
        self.view.widget.children = (self.view.widget.children[0], self.view.label,
                                     # wraps rather than scrolls sideways (a scrolled box with nothing
                                     # focusable in it cannot be scrolled by keyboard: axe-core's
                                     # scrollable-region-focusable)
                                     w.HBox([self.view.map, self.view.lists], layout=w.Layout(flex_flow="row wrap")),
                                     self.view.figures, *rows)
        self.view.map.layout = w.Layout(flex="0 0 auto")              # the map keeps its width
        self.view.lists.layout = w.Layout(flex="1 1 auto", min_width="320px", margin="0 0 0 12px")
        self.tunables.observe(lambda ch: self._refresh(), names="value")

    bins = property(lambda self: self.view.lists)

    def _refresh(self, position: int | None = None):
        self.steps = glibc_steps(self.trace, NO_TCACHE if self.tunables.value else None)
        self.view.set_steps(self.steps, GlibcRenderer(glibc_span(self.steps)), position=position)

    def __repr__(self):
        return f"GlibcStepper({self.steps!r})"
