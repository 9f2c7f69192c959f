"""``HeapMap``: the heap-map widget (a picture, a block picker, the block's details, a table).

``HeapMap(blocks, title=None, row_bytes=None)`` is an ipywidgets ``VBox``: display
it in a cell; ``update(blocks)`` redraws. The picture is ``heapdraw.draw_heap``, shown
as an HTML ``<img>`` whose alternative text says what it shows (an ipywidgets ``Image``
has no alt text, and a tooltip breaks its view); ``image.value`` is its PNG.
"""
from __future__ import annotations

import base64
from html import escape
from types import SimpleNamespace

import ipywidgets as widgets

from ..heap.model import summarize
from .heapdraw import details_html, draw_heap, figure_png, table_html

__all__ = ["HeapMap"]


class HeapMap(widgets.VBox):
    """Heap picture + block picker + details + table. ``update(blocks)`` redraws."""

    def __init__(self, blocks, title: str | None = None, row_bytes: int | None = None):
        self._blocks, self._title, self._row_bytes = list(blocks), title, row_bytes
        self.picture = widgets.HTML()             # <img alt="..."> (see the module's docstring)
        self._png = b""
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
        if title is not None:
            self._title = title
        self.picker.max = max(0, len(self._blocks) - 1)
        self.table.value = table_html(self._blocks)
        self.picker.value = min(self.picker.value, self.picker.max)
        self._redraw(highlight=self.picker.value if self._blocks else None)

    def _redraw(self, highlight):
        fig = draw_heap(self._blocks, self._title, self._row_bytes, highlight=highlight)
        self._png = figure_png(fig)
        alt = escape(self._alt(), quote=True)
        self.picture.value = (f"<img alt=\"{alt}\" style='max-width:100%' "
                              f"src='data:image/png;base64,{base64.b64encode(self._png).decode()}'>")
        self.caption.value = f"<span class='lab-alt' style='font-size:85%'>{alt}</span>"
        i = self.picker.value
        self.details.value = details_html(self._blocks, i) if self._blocks else ""

    @property
    def image(self):
        """The picture's PNG in ``.value`` (what the ipywidgets ``Image`` it replaced held)."""
        return SimpleNamespace(value=self._png, format="png")

    def _alt(self) -> str:
        s = summarize(self._blocks)
        return (f"{self._title + ': ' if self._title else ''}a heap map of {s['blocks']} blocks: "
                f"{s['used']:,} bytes used, {s['free']:,} bytes free, {s['meta']:,} bytes of the allocator's own "
                f"(the table below lists every block)")

    def __repr__(self):
        s = summarize(self._blocks)
        return (f"HeapMap({s['blocks']} blocks: {s['used']:,} B used, {s['free']:,} B free, "
                f"{s['meta']:,} B meta)")
