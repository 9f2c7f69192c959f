"""Heap pictures under their old address (``from labsupport import heapmap``).

The code lives by layer: the data (``Block``, ``BlockState``, ``fragmentation``,
``summarize``) in ``labsupport/heap/model.py``, with no plotting import; the
picture (``draw_heap``, ``figure_png``) in ``labsupport/widgets/heapdraw.py``;
the widget (``HeapMap``) in ``labsupport/widgets/heapmap.py``; the colours in
``labsupport/widgets/style.py``. Importing this module registers the PNG
display of a matplotlib Figure in a notebook, as before.
"""
from __future__ import annotations

from .heap.model import STATES, Block, BlockState, Fragmentation, fragmentation, summarize
from .widgets.heapdraw import _auto_row_bytes, _rectangles  # noqa: F401  (used by tests and old code)
from .widgets.heapdraw import details_html, draw_heap, figure_png, table_html
from .widgets.style import COLORS

_details_html, _table_html = details_html, table_html      # the old private names


def __getattr__(name):       # the widget imports ipywidgets: only when first used
    if name == "HeapMap":
        from .widgets.heapmap import HeapMap
        return HeapMap
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["COLORS", "STATES", "Block", "BlockState", "Fragmentation", "fragmentation", "summarize",
           "draw_heap", "figure_png", "HeapMap"]  # noqa: F822  (HeapMap: lazy)
