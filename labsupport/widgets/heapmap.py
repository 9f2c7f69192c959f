"""``HeapMap``: the heap-map widget (a picture, a block picker, the block's details, a table).

``HeapMap(blocks, title=None, row_bytes=None)`` is an ipywidgets ``VBox``: display
it in a cell; ``update(blocks)`` redraws. The picture is ``heapdraw.draw_heap``.
"""
from __future__ import annotations

from html import escape

import ipywidgets as widgets

from ..heap.model import summarize
from .heapdraw import details_html, draw_heap, figure_png, table_html

__all__ = ["HeapMap"]


class HeapMap(widgets.VBox):
    """Heap picture + block picker + details + table. ``update(blocks)`` redraws."""

    def __init__(self, blocks, title: str | None = None, row_bytes: int | None = None):
        self._blocks, self._title, self._row_bytes = list(blocks), title, row_bytes
        self.image = widgets.Image(format="png")
        self.picker = widgets.BoundedIntText(description="block #", min=0, value=0,
                                             layout=widgets.Layout(width="12em"))
        self.details = widgets.HTML()
        self.table = widgets.HTML()
        self.caption = widgets.HTML()             # the picture in words (book/_static/a11y.js makes it its alt)
        self.picker.observe(lambda ch: self._redraw(highlight=ch["new"]), names="value")
        super().__init__([self.image, self.caption, widgets.HBox([self.picker, self.details]), self.table])
        self.update(self._blocks, title)

    def update(self, blocks, title: str | None = None):
        self._blocks = list(blocks)
        if title is not None:
            self._title = title
        self.picker.max = max(0, len(self._blocks) - 1)
        self.table.value = table_html(self._blocks)
        self.picker.value = min(self.picker.value, self.picker.max)
        self._redraw(highlight=self.picker.value if self._blocks else None)

    def _redraw(self, highlight):
        fig = draw_heap(self._blocks, self._title, self._row_bytes, highlight=highlight)
        self.image.value = figure_png(fig)
        self.caption.value = f"<span class='lab-alt' style='font-size:85%'>{escape(self._alt())}</span>"
        i = self.picker.value
        self.details.value = details_html(self._blocks, i) if self._blocks else ""

    def _alt(self) -> str:
        s = summarize(self._blocks)
        return (f"{self._title + ': ' if self._title else ''}a heap map of {s['blocks']} blocks: "
                f"{s['used']:,} bytes used, {s['free']:,} bytes free, {s['meta']:,} bytes of the allocator's own "
                f"(the table below lists every block)")

    def __repr__(self):
        s = summarize(self._blocks)
        return (f"HeapMap({s['blocks']} blocks: {s['used']:,} B used, {s['free']:,} B free, "
                f"{s['meta']:,} B meta)")
