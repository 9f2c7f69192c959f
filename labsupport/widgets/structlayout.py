"""Struct layouts drawn: a layout's byte grid as HTML, and the ``StructLayoutView`` widget.

The data (``Layout``: fields, holes, cache lines; ``struct_layout``; pahole) is in
``labsupport/structlayout.py``, which draws nothing; this module draws it:

- ``layout_html(layout, highlight=None)``  one box per byte, coloured by field, padding
  hatched, a rule at every 8 and 16 bytes and a red one at every 64-byte cache line
- ``StructLayoutView(module, ctype)``       widget: pick a struct of a ``%%cffi`` module and a
  field; the picture and the field's details (ipywidgets is imported on first use)
- ``struct_layout``                         the data module's, re-exported: ``lab.struct_layout``
  comes through here so that the layout it returns displays as its picture

Importing this module in a notebook registers ``layout_html`` as the HTML display of a
``Layout`` (IPython's display formatter), so a layout left last in a cell shows the picture
above its text rendering, as a figure shows as a PNG once ``heapdraw`` is imported.
"""
from __future__ import annotations

from html import escape

from ..structlayout import CACHE_LINE, Layout, LayoutUnavailable, cell_types, struct_layout
from .style import text_on

__all__ = ["StructLayoutView", "layout_html", "struct_layout"]


def layout_html(layout: Layout, highlight: str | None = None, row_bytes: int = 32) -> str:
    """A layout's picture as HTML: a grid of bytes, coloured by field, padding hatched,
    8-byte words separated, a red rule at every 64-byte line; ``highlight`` (a field's
    name) dims every other field. The layout's table (text) follows the grid."""
    colours = ["#4C72B0", "#55A868", "#C44E52", "#8172B2", "#CCB974", "#64B5CD",
               "#DD8452", "#937860", "#DA8BC3", "#8C8C8C"]
    col = {f.name: colours[i % len(colours)] for i, f in enumerate(layout.fields)}
    owners = layout.byte_owners()
    cell = "display:inline-block;width:18px;height:22px;margin:0;box-sizing:border-box;" \
           "font:10px monospace;text-align:center;line-height:22px;overflow:hidden;"
    rows = []
    for start in range(0, max(layout.size, 1), row_bytes):
        if start and start % CACHE_LINE == 0:
            rows.append(f'<div style="border-top:2px solid #d62728;font:10px sans-serif;color:#d62728;'
                        f'margin:2px 0">cache line {start // CACHE_LINE} (byte {start})</div>')
        cells = [f'<span style="display:inline-block;width:40px;font:10px monospace">{start}</span>']
        for i in range(start, min(start + row_bytes, layout.size)):
            o = owners[i]
            left = ("border-left:3px solid #000;" if i % 16 == 0 else
                    "border-left:2px solid #777;" if i % 8 == 0 else "border-left:1px solid #fff;")
            if not o:
                style = cell + left + "background:repeating-linear-gradient(45deg,#eee,#eee 3px,#ccc 3px,#ccc 5px);"
                title = f"byte {i}: padding"
                label = ""
            else:
                name = o[0]
                op = "1" if highlight in (None, *o) else "0.35"
                style = cell + left + f"background:{col[name]};color:{text_on(col[name])};opacity:{op};"
                title = f"byte {i}: {', '.join(o)}"
                label = escape(name[0]) if (i == layout.field(name).byte_range()[0]) else ""
            cells.append(f'<span title="{escape(title)}" style="{style}">{label}</span>')
        rows.append("<div>" + "".join(cells) + "</div>")
    legend = " ".join(f'<span style="background:{col[f.name]};color:{text_on(col[f.name])};padding:0 4px;'
                      f'font:11px monospace">{escape(f.name)}</span>' for f in layout.fields)
    return (f'<div><div style="font:12px sans-serif;margin-bottom:4px">{escape(layout.summary())}</div>'
            + "".join(rows) + f'<div style="margin-top:4px">{legend} '
            f'<span style="font:11px sans-serif">hatched = padding; black rule = 16-byte boundary, '
            f'grey rule = 8-byte boundary; red rule = 64-byte cache line</span></div>'
            f'<pre style="font-size:11px">{escape(layout.table())}</pre></div>')


# ---------------------------------------------------------------------- widget

def _make_widget_class():
    import ipywidgets as widgets

    class StructLayoutView(widgets.VBox):
        """Pick a struct of a module and a field; see the picture and the field's details."""

        def __init__(self, module, ctype: str | None = None):
            self._module = module
            names = cell_types(module)
            if not names:
                raise LayoutUnavailable("the module declares no struct or union to cffi")
            self._pick = widgets.Dropdown(options=names, value=ctype or names[0], description="type")
            self._field = widgets.Dropdown(options=[], description="field")
            self._picture = widgets.HTML()
            self._details = widgets.HTML()
            self._pick.observe(lambda ch: self._load(), names="value")
            self._field.observe(lambda ch: self._show(), names="value")
            super().__init__([widgets.HBox([self._pick, self._field]), self._picture, self._details])
            self._load()

        def _load(self):
            try:
                self.layout_model = struct_layout(self._module, self._pick.value)
            except LayoutUnavailable as exc:
                self.layout_model = None
                self._field.options = []
                self._picture.value = f"<pre>{escape(str(exc))}</pre>"
                self._details.value = ""
                return
            self._field.options = ["(none)"] + [f.name for f in self.layout_model.fields]
            self._field.value = "(none)"
            self._show()

        def _show(self):
            lay = self.layout_model
            if lay is None:
                return
            name = self._field.value if self._field.value not in (None, "(none)") else None
            self._picture.value = layout_html(lay, highlight=name)
            if name:
                f = lay.field(name)
                before = [h for h in lay.holes if h.after and h.offset + h.size == f.offset]
                rows = [("type", f.type), ("offset", f.offset), ("size", f.size), ("alignof", f.align),
                        ("offset % alignof", f.offset % f.align if f.align else 0),
                        ("hole just before", f"{before[0].size} bytes" if before else "none"),
                        ("crosses a 64-byte line", "yes" if f.crosses(CACHE_LINE) else "no")]
                if f.is_bitfield:
                    rows.append(("bits", f"{f.bit_size} bits from bit {f.bit_offset} of its unit"))
                self._details.value = "<table>" + "".join(
                    f"<tr><td>{escape(str(k))}</td><td><code>{escape(str(v))}</code></td></tr>"
                    for k, v in rows) + "</table>"
            else:
                self._details.value = ""

        def __repr__(self):       # deterministic text for nbval (no widget model ids)
            lay = self.layout_model
            return f"StructLayoutView({lay.summary() if lay else self._pick.value})"

    return StructLayoutView


_WIDGET = None


def StructLayoutView(module, ctype: str | None = None):  # noqa: N802
    """The struct layout widget (ipywidgets is imported on first use)."""
    global _WIDGET
    if _WIDGET is None:
        _WIDGET = _make_widget_class()
    return _WIDGET(module, ctype)



def _register_html_formatter():
    """A Layout displays as its picture in a notebook (its text rendering stays text/plain)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        ip.display_formatter.formatters["text/html"].for_type(Layout, layout_html)


_register_html_formatter()
