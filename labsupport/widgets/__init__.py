"""Where every picture is drawn: views (strings and figures) and widgets (ipywidgets).

- ``style``      the one convention: colours per block state, "+N" decimal offsets
- ``heapdraw``   view: ``draw_heap(blocks)``, a matplotlib Figure of a heap
- ``heapmap``    widget: ``HeapMap(blocks)``, picture + block picker + details + table
- ``heapfront``  widgets drawn in the browser (anywidget, ``heapfront.js``): ``HeapFront`` (the
                 steppers' map: the blocks once, then each step's changes), ``MapFront`` (HeapMap's)
- ``stepviews``  views of one Step: SVG heap strip, named lists, figures, in HTML or text
                 (``HtmlRenderer``, ``TextRenderer``)
- ``stepper``    widgets: ``StepView(steps, renderer)`` (generic), ``Stepper(trace)`` (lesson 01)
- ``glibcstep``  widget: ``GlibcStepper(trace)``, StepView over glibc's real bins (``GlibcRenderer``)
- ``sidebyside`` widget: ``SideBySide(panels)``, one slider over several managers' replays
- ``text``       plain-text tables (``format_table``)
- ``structlayout`` view and widget: ``layout_html(layout)``, ``StructLayoutView(module)`` (lesson 02)
- ``addrspace``  view and widget: ``draw_address_space(space)``, ``AddressSpaceView(snapshots)`` (lesson 03)
- ``allocplot``  views: ``plot_comparison(res)``, ``lab_plot(scores)`` (lesson 09)
- ``leakplot``   view: ``plot_live(series)``, live blocks per module over iterations (lesson 07)
- ``progress``   ``ProgressLine()``: one line that updates in place in a notebook

The data these draw is in ``labsupport.heap``, ``labsupport.structlayout``,
``labsupport.addrspace``, ``labsupport.allocbench`` and ``labsupport.leakcount``, none of
which imports a drawing library. Names are imported on first use, so ``import
labsupport.widgets`` loads neither matplotlib nor ipywidgets.
"""
from __future__ import annotations

import importlib

_LAZY = {"COLORS": "style", "draw_heap": "heapdraw", "figure_png": "heapdraw", "HeapMap": "heapmap",
         "HtmlRenderer": "stepviews", "TextRenderer": "stepviews", "heap_svg": "stepviews",
         "StepView": "stepper", "Stepper": "stepper", "SideBySide": "sidebyside", "Panel": "sidebyside",
         "format_table": "text", "GlibcStepper": "glibcstep", "GlibcRenderer": "glibcstep",
         "layout_html": "structlayout", "StructLayoutView": "structlayout",
         "draw_address_space": "addrspace", "AddressSpaceView": "addrspace",
         "plot_comparison": "allocplot", "lab_plot": "allocplot", "plot_live": "leakplot",
         "ProgressLine": "progress"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
