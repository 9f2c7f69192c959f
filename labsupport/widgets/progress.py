"""A one-line progress display that overwrites itself in a notebook.

``ProgressLine()`` is a callable taking one line of text: in a Jupyter kernel it shows the
line in one output (an IPython display with a display id, updated in place), so a long
measurement shows what it is running without filling the cell with lines; anywhere else it
prints the line to stderr. Data modules that report progress take such a callable and import
nothing of this (``allocbench.set_progress_display(ProgressLine)`` is installed by
``widgets/allocplot.py``).
"""
from __future__ import annotations

import sys

__all__ = ["ProgressLine"]


class ProgressLine:
    """Call it with a line of text: the notebook's one progress line shows that text."""

    def __init__(self):
        self.h = None
        try:
            from IPython import get_ipython
            from IPython.display import display
            if get_ipython() is not None and "IPKernelApp" in get_ipython().config:
                self.h = display("", display_id=True)
        except Exception:  # noqa: BLE001 - plain console: print instead
            self.h = None

    def __call__(self, text: str) -> None:
        if self.h is not None:
            from IPython.display import Pretty
            self.h.update(Pretty(text))
        else:
            print(text, file=sys.stderr, flush=True)

    update = __call__
