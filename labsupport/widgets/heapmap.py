"""``HeapMap``: the heap-map widget (a picture, a block picker, the block's details, a table).

``HeapMap(blocks, title=None, row_bytes=None)`` is an ipywidgets ``VBox``: display
it in a cell; ``update(blocks)`` redraws. The picture is drawn in the browser
(``heapfront.MapFront``): the kernel sends the blocks as data, once, and picking a block
sends only its number, so 10,000 blocks cost the kernel tens of milliseconds instead of
matplotlib's text layout and PNG encoding (benchmarks/bench_heapmap.py). The picture is
named by its alternative text, also shown under it. ``image.value`` is the static picture
(``heapdraw.draw_heap`` as a PNG), drawn when asked.
"""
from __future__ import annotations

from html import escape
from types import SimpleNamespace

import ipywidgets as widgets

from ..heap.model import summarize
from .heapdraw import details_html, table_html
from .heapfront import MapFront

__all__ = ["HeapMap"]


class HeapMap(widgets.VBox):
    """Heap picture + block picker + details + table. ``update(blocks)`` redraws."""

    def __init__(self, blocks, title: str | None = None, row_bytes: int | None = None):
        self._blocks, self._title, self._row_bytes = list(blocks), title, row_bytes
        self._summary = None
        self.picture = MapFront([], title, row_bytes)       # drawn in the browser (the module's docstring)
        self.picker = widgets.BoundedIntText(description="block #", min=0, value=0,
                                             layout=widgets.Layout(width="12em"))
        self.details = widgets.HTML()
        self.table = widgets.HTML()
        self.caption = widgets.HTML()             # the picture in words, under it (also its alt text)
        self.picker.observe(lambda ch: self._redraw(highlight=ch["new"]), names="value")
        super().__init__([self.picture, self.caption, widgets.HBox([self.picker, self.details]), self.table])
        self.update(self._blocks, title)

    def update(self, blocks, title: str | None = None):
        self._blocks = list(blocks)
        self._summary = summarize(self._blocks)
        if title is not None:
            self._title = title
        alt = self._alt()
        self.picture.set_blocks(self._blocks, self._title, self._row_bytes, alt)
        self.caption.value = f"<span class='lab-alt' style='font-size:85%'>{escape(alt)}</span>"
        self.picker.max = max(0, len(self._blocks) - 1)
        self.table.value = table_html(self._blocks)
        self.picker.value = min(self.picker.value, self.picker.max)
        self._redraw(highlight=self.picker.value if self._blocks else None)

    def _redraw(self, highlight):
        self.picture.highlight = -1 if highlight is None else highlight
        i = self.picker.value
        self.details.value = details_html(self._blocks, i) if self._blocks else ""

    @property
    def image(self):
        """The static picture: ``heapdraw.draw_heap`` as a PNG in ``.value`` (drawn when asked)."""
        from .heapdraw import draw_heap, figure_png
        h = self.picture.highlight
        fig = draw_heap(self._blocks, self._title, self._row_bytes, highlight=None if h < 0 else h)
        return SimpleNamespace(value=figure_png(fig), format="png")

    def _alt(self) -> str:
        s = self._summary
        return (f"{self._title + ': ' if self._title else ''}a heap map of {s['blocks']} blocks: "
                f"{s['used']:,} bytes used, {s['free']:,} bytes free, {s['meta']:,} bytes of the allocator's own "
                f"(the table below lists every block)")

    def __repr__(self):
        s = self._summary
        return (f"HeapMap({s['blocks']} blocks: {s['used']:,} B used, {s['free']:,} B free, "
                f"{s['meta']:,} B meta)")
