"""Address spaces drawn: ``draw_address_space`` (a matplotlib Figure) and ``AddressSpaceView``.

The data (``AddressSpace``, ``Region``, the kinds, ``read_address_space``) is in
``labsupport/addrspace.py``, which draws nothing; this module draws it:

- ``draw_address_space(space, title, highlight)``  the regions in address order, low
  addresses at the bottom, colours by kind, unmapped gaps hatched with their size;
  heights grow with log2(size) (a broken axis: 4 KiB and 100 TiB on one picture)
- ``details_html(space, i)``   one region in words: kind, permissions, size, gaps, smaps fields
- ``AddressSpaceView(snapshots, title)``  widget: a step picker (several snapshots), a region
  picker, the picture and the region's details (ipywidgets is imported on first use)
- ``KIND_COLORS``              one colour per kind

Importing this module lets a returned Figure display as a PNG in a notebook (``heapdraw``).
"""
from __future__ import annotations

import base64
import math
from html import escape
from types import SimpleNamespace

from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ..addrspace import KIND_HELP, KINDS, PAGE, AddressSpace, human
from .heapdraw import figure_png

__all__ = ["KIND_COLORS", "AddressSpaceView", "details_html", "draw_address_space"]

KIND_COLORS = {"program": "#4C72B0", "library": "#55A868", "file": "#8172B2", "heap": "#DD8452",
               "stack": "#C44E52", "anonymous": "#937860", "reserved": "#D9D9D9",
               "kernel": "#8C8C8C"}


def _layout(space: AddressSpace, gap_scale: float = 0.35):
    """Vertical positions: each region's height grows with log2 of its size in pages,
    each gap's with log2 of its size (drawn smaller): the broken axis keeps 4 KiB and
    100 TiB on one picture, in address order."""
    spans = []          # (y0, y1, kind, index or None for a gap, size)
    y = 0.0
    prev_end = None
    for i, r in enumerate(space.regions):
        if prev_end is not None and r.start > prev_end:
            gap = r.start - prev_end
            h = gap_scale * (1 + math.log2(max(gap, PAGE) / PAGE))
            spans.append((y, y + h, "gap", None, gap))
            y += h
        h = 1.6 + 0.45 * math.log2(max(r.size, PAGE) / PAGE)     # room for a label even at 4 KiB
        spans.append((y, y + h, r.kind, i, r.size))
        y += h
        prev_end = r.end
    return spans, y


def draw_address_space(space: AddressSpace, title: str | None = None, highlight: int | None = None,
                       ax=None, max_labels: int = 80):
    """Draw the regions in address order, low addresses at the bottom, colours by kind;
    gaps between regions (unmapped address space) drawn hatched with their size.
    Heights grow with log2(size): a broken, logarithmic axis. Returns the Figure."""
    spans, total = _layout(space)
    if ax is None:
        height = min(16, max(4, 0.3 * len(space.regions) + 2))   # from the region count only
        fig = Figure(figsize=(6.5, height))
        fig.subplots_adjust(left=0.02, right=0.98, top=0.96, bottom=0.02)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.set_xlim(0, 10)
    ax.set_ylim(0, max(total, 1))
    ax.set_axis_off()
    shown_label = None
    labelled = 0
    for y0, y1, kind, i, size in spans:
        if kind == "gap":
            ax.add_patch(Rectangle((0.3, y0), 2.2, y1 - y0, facecolor="white", edgecolor="#BBBBBB",
                                   hatch="////", linewidth=0.5))
            if y1 - y0 > 0.9:
                ax.text(2.6, (y0 + y1) / 2, f"gap {human(size)}", va="center", fontsize=6, color="#777777")
            continue
        r = space.regions[i]
        ax.add_patch(Rectangle((0.3, y0), 2.2, y1 - y0, facecolor=KIND_COLORS[r.kind],
                               edgecolor="red" if i == highlight else "white",
                               linewidth=2 if i == highlight else 0.5, zorder=3 if i == highlight else 2))
        if labelled < max_labels:
            name = r.label if r.label != shown_label else "  (same)"
            text = f"#{i} {name}  {r.perms}  {human(r.size)}"
            rss = r.kb("Rss")
            if rss is not None:
                text += f"  (Rss {rss:,} kB)"
            ax.text(2.7, (y0 + y1) / 2, text, va="center", fontsize=6.5,
                    fontweight="bold" if i == highlight else "normal")
            labelled += 1
        shown_label = r.label
    ax.text(0.3, -0.02 * total, "low addresses", fontsize=6, va="top", color="#555555")
    ax.text(0.3, total * 1.005, "high addresses", fontsize=6, va="bottom", color="#555555")
    present = [k for k in KINDS if any(r.kind == k for r in space.regions)]
    ax.legend(handles=[Patch(color=KIND_COLORS[k], label=k) for k in present]
              + [Patch(facecolor="white", edgecolor="#BBBBBB", hatch="////", label="unmapped gap")],
              loc="lower right", fontsize=6.5, frameon=False)
    ax.set_title(title or repr(space), fontsize=8)
    return fig


def details_html(space: AddressSpace, i: int) -> str:
    r = space.regions[i]
    gaps = space.gaps()
    rows = [("region", f"#{i} of {len(space.regions)}"), ("backed by", r.path or "nothing (anonymous)"),
            ("kind", f"{r.kind}: {KIND_HELP[r.kind]}"),
            ("permissions", (f"{r.perms} (read {'yes' if r.perms[0] == 'r' else 'no'}, write "
                             f"{'yes' if r.perms[1] == 'w' else 'no'}, execute "
                             f"{'yes' if r.perms[2] == 'x' else 'no'}, "
                             f"{'shared' if r.shared else 'private, copy-on-write'})")),
            ("size", f"{human(r.size)} ({r.size // PAGE:,} pages)"),
            ("offset from the lowest region", f"+0x{r.start - space.regions[0].start:x}"),
            ("gap below", human(gaps[i - 1]) if i > 0 else "-"),
            ("gap above", human(gaps[i]) if i < len(gaps) else "-")]
    if r.path.startswith("/"):
        rows.append(("file offset", f"0x{r.offset:x}"))
    for k in ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
              "Anonymous", "AnonHugePages", "Swap"):
        if k in r.fields:
            rows.append((k, f"{r.fields[k]:,} kB"))
    return "<table style='font-size:85%'>" + "".join(
        f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in rows) + "</table>"


def _make_widget_class():
    import ipywidgets as widgets

    class AddressSpaceView(widgets.VBox):
        """Picture of one snapshot + a step picker (several snapshots) + a region picker
        with the region's details."""

        def __init__(self, snapshots, title: str | None = None):
            if isinstance(snapshots, AddressSpace):
                snapshots = {"process": snapshots}
            self.snapshots = dict(snapshots)
            self._title = title
            names = list(self.snapshots)
            self.step = widgets.Dropdown(options=names, value=names[0], description="step",
                                         layout=widgets.Layout(display="" if len(names) > 1 else "none"))
            self.region = widgets.Dropdown(options=[], description="region",
                                           layout=widgets.Layout(width="32em"))
            # the picture as an HTML <img> with alternative text (an ipywidgets Image has no alt
            # text, and a tooltip breaks its view); ``image.value`` is its PNG
            self.picture = widgets.HTML(layout=widgets.Layout(max_width="48em"))
            self._png = b""
            self.caption = widgets.HTML()    # the picture in words, under it (also its alt text)
            self.details = widgets.HTML()
            self.step.observe(lambda ch: self._load(), names="value")
            self.region.observe(lambda ch: self._show(), names="value")
            super().__init__([widgets.HBox([self.step, self.region]),
                              widgets.HBox([widgets.VBox([self.picture, self.caption]), self.details])])
            self._load()

        @property
        def image(self):
            """The picture's PNG in ``.value`` (what the ipywidgets ``Image`` it replaced held)."""
            return SimpleNamespace(value=self._png, format="png")

        @property
        def space(self) -> AddressSpace:
            return self.snapshots[self.step.value]

        def _load(self):
            sp = self.space
            opts = [(f"#{i} {r.label} {r.perms} {human(r.size)}", i) for i, r in enumerate(sp.regions)]
            keep = self.region.value if self.region.value is not None and self.region.value < len(opts) else 0
            self.region.options = opts
            self.region.value = keep
            self._show()

        def select(self, kind: str | None = None, label: str | None = None) -> int:
            """Pick the first region of a kind or label; returns its index."""
            hits = self.space.find(kind=kind, label=label)
            if hits:
                self.region.value = self.space.regions.index(hits[0])
            return self.region.value

        def _show(self):
            sp, i = self.space, self.region.value or 0
            title = f"{self._title + ': ' if self._title else ''}{self.step.value}"
            self._png = figure_png(draw_address_space(sp, title=title, highlight=i), dpi=80)
            alt = escape(f"{title}: the address space drawn as {len(sp.regions)} regions, the lowest "
                         f"address at the bottom (the regions are listed in the menu above)", quote=True)
            self.picture.value = (f"<img alt=\"{alt}\" style='max-width:100%' "
                                  f"src='data:image/png;base64,{base64.b64encode(self._png).decode()}'>")
            self.caption.value = f"<span class='lab-alt' style='font-size:85%'>{alt}</span>"
            self.details.value = details_html(sp, i) if sp.regions else ""

        def __repr__(self):       # deterministic text for nbval (no widget ids, no addresses)
            return (f"AddressSpaceView({len(self.snapshots)} snapshot(s): "
                    + ", ".join(f"{k} {len(v)} regions" for k, v in self.snapshots.items()) + ")")

    return AddressSpaceView


_WIDGET = None


def AddressSpaceView(snapshots, title: str | None = None):
    """The address-space widget (ipywidgets and matplotlib are imported on first use).
    ``snapshots``: one AddressSpace, or a dict step name -> AddressSpace."""
    global _WIDGET
    if _WIDGET is None:
        _WIDGET = _make_widget_class()
    return _WIDGET(snapshots, title)
