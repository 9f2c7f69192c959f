"""Leaks drawn: ``plot_live(series)``, live blocks per module over iterations (lesson 07).

The series are data from ``labsupport/leakcount.py`` (``parse_marks`` turns the counting
allocator's ``leakcount I MODULE BLOCKS BYTES`` lines into ``{module: [(i, blocks, bytes)]}``),
which draws nothing; this module draws them with matplotlib:

    from labsupport import leakcount
    from labsupport.widgets import leakplot
    leakplot.plot_live(leakcount.parse_marks(r.stderr), title="live blocks")
"""
from __future__ import annotations

from matplotlib.figure import Figure

from . import heapdraw  # noqa: F401  (registers the PNG display of a Figure in a notebook)

__all__ = ["plot_live"]


def plot_live(series: dict, title: str = "", modules=None, ax=None, what: str = "blocks") -> Figure:
    """Live blocks (or bytes, ``what="bytes"``) per module over iterations, as lines.

    ``series`` is ``leakcount.parse_marks``'s result; ``modules`` picks (and orders) the
    lines; ``ax`` draws into an existing Axes (a panel of a bigger figure), otherwise a new
    Figure is made. Returns the Figure.
    """
    if ax is None:
        fig = Figure(figsize=(7, 3.2))
        ax = fig.subplots()
    else:
        fig = ax.figure
    col = 1 if what == "blocks" else 2
    for module in modules or series:
        points = series.get(module, [])
        ax.plot([p[0] for p in points], [p[col] for p in points], marker=".", label=module)
    ax.set_xlabel("iteration of the encode loop")
    ax.set_ylabel(f"live {what}")
    ax.set_ylim(bottom=0)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small", loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
