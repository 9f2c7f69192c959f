"""The heap map drawn in the browser: the blocks are sent once, then only what each step changed.

``HeapFront`` is an anywidget (its front end is ``heapfront.js`` beside this file). The
kernel sends the heap of one step in full once (the ``state`` trait: every block as
``[offset, size, used, owner]``, the numbered list's offsets, the block the step touched);
after that a slider move sends a message holding only the difference to the step asked for
(``diff``: blocks gone, blocks new or changed, the list as one splice, the touched block). The
browser applies it (``apply`` below is the same rule in Python, for the tests) and draws the
very SVG ``stepviews.heap_svg`` draws (same rectangles, labels, tooltips, colours from
``style`` read when the picture is set up), so a move costs bytes in proportion to what
changed, not to the heap: on a recorded real program's heap (1,685 blocks on average) a
slider move sent at most 3.3 KiB (label, lists and figures included) where the whole SVG
was up to 492 KiB (benchmarks/bench_tracestep.py). A far jump (most blocks changed) sends
every block once more, as columns (``full_blocks``).

Kernel time: a step the view has seen already (the slider going back, or forward again) is
served from the changes it kept, one small record per step; only a step never seen is built
by the replay (``steps[i]``).

A view that missed messages (shown late, or reloaded) says which step it holds and gets the
whole state again. The saved widget state (a stored notebook, the static book) holds the full
heap of the step shown when the state was last set (shown first, a new replay, a view asking
again), so a saved page still shows a picture; a notebook saved by JupyterLab after moving the
slider keeps that picture while its slider shows the later step. The static book needs
anywidget's AMD module beside its pages (html-manager loads "anywidget" from there).

``MapFront`` is ``widgets.heapmap.HeapMap``'s picture: the blocks sent once as columns,
drawn in the browser (rows of bytes, ``style``'s colours and patterns, a legend).
"""
from __future__ import annotations

import html
from operator import itemgetter
from pathlib import Path

import anywidget
import traitlets as t

from . import style
from .stepviews import row_bytes_for

__all__ = ["HeapFront", "MapFront", "front_config", "state_of", "changes", "diff", "apply", "full_blocks",
           "splice", "svg_of", "blocks_wire", "LABEL_W", "ROW_LABEL_COLOR", "TEXT_ON_USED", "TEXT_ON_FREE"]

HERE = Path(__file__).resolve().parent
LABEL_W = 56                  # the offset labels' column (px), as in stepviews.heap_svg
ROW_LABEL_COLOR = "#666"
TEXT_ON_USED, TEXT_ON_FREE = "white", "#333"
WALK_LIMIT = 4096             # at most this many kept steps are walked through instead of building one
WALK_LIMIT_KEPT = 256         # ... when every step is kept already (a list: steps[i] costs nothing)


def front_config(span: int, fixed=(), width: int = 720, row_h: int = 16) -> dict:
    """What the front end needs to draw like ``heap_svg(step, span, fixed)``: the geometry and
    the colours (read from ``style`` now, so a change there shows in both pictures)."""
    rb = row_bytes_for(span)
    return {"span": span, "rb": rb, "nrows": -(-span // rb), "width": width, "row_h": row_h,
            "scale": width / rb, "label_w": LABEL_W, "fixed": [list(f) for f in fixed],
            "colors": dict(style.COLORS), "outline": style.FAILED_COLOR, "row_label": ROW_LABEL_COLOR,
            "text_used": TEXT_ON_USED, "text_free": TEXT_ON_FREE}


def state_of(step, numbered: str | None = None) -> dict:
    """One step as the front end holds it: blocks by offset, the numbered list (name and
    offsets from its head, as ``heap_svg`` numbers them) and the block the step touched."""
    b = step.bins[numbered] if numbered is not None else next(iter(step.bins), None)
    blocks = step.blocks
    if blocks and type(blocks[0]) is not tuple:
        blocks = [tuple(blk) for blk in blocks]
    return {"blocks": dict(zip(map(itemgetter(0), blocks), blocks)),
            "list": b.name if b is not None else "", "fl": tuple(b.offsets) if b is not None else (),
            "changed": step.changed}


def splice(old, new) -> tuple[int, int, list]:
    """``new`` as one splice of ``old``: (start, how many removed, what is inserted), from the
    longest common head and tail (a LIFO push is (0, 0, [offset]))."""
    n, m = len(old), len(new)
    p = 0
    while p < n and p < m and old[p] == new[p]:
        p += 1
    q = 0
    while q < n - p and q < m - p and old[n - 1 - q] == new[m - 1 - q]:
        q += 1
    return p, n - p - q, list(new[p:m - q])


def changes(old: dict, new: dict, old_set: set | None = None, new_set: set | None = None) -> tuple[set, set]:
    """The blocks of ``old`` that ``new`` has not, and those of ``new`` that ``old`` has not
    (old_set, new_set: the states' blocks as sets, if the caller has them)."""
    a = old_set if old_set is not None else set(old["blocks"].values())
    b = new_set if new_set is not None else set(new["blocks"].values())
    return a - b, b - a


def diff(old: dict, new: dict, gone_came: tuple | None = None, fl_splice: tuple | None = None) -> dict:
    """What turns state ``old`` into state ``new``: ``del`` offsets, ``add`` blocks (new or
    changed), ``fl`` a splice of the list, ``changed``; ``list`` only when the list's name differs.
    gone_came, fl_splice: ``changes(old, new)`` and ``splice(old["fl"], new["fl"])`` if the caller has them."""
    gone, came = gone_came or changes(old, new)
    b = new["blocks"]
    out = {"del": sorted(blk[0] for blk in gone if blk[0] not in b),
           "add": [list(blk) for blk in sorted(came)],
           "fl": list(fl_splice or splice(old["fl"], new["fl"])), "changed": new["changed"]}
    if old["list"] != new["list"]:
        out["list"] = new["list"]
    return out


def full_blocks(state: dict) -> dict:
    """Every block of ``state`` as columns (what a move sends instead of ``del``/``add`` when
    more than about half the blocks changed: a far jump): the first offset, each block's gap
    after the one before (0 where they touch), sizes, used as a string of 0/1, owners."""
    blocks = state["blocks"]
    offs = sorted(blocks)
    gaps, sizes, owners = [], [], []
    end = offs[0] if offs else 0
    for o in offs:
        _o, size, _u, own = blocks[o]
        gaps.append(o - end)
        sizes.append(size)
        owners.append(own)
        end = o + size
    return {"start": offs[0] if offs else 0, "gap": gaps, "size": sizes,
            "used": "".join("1" if blocks[o][2] else "0" for o in offs), "own": owners}


def _blocks_of_full(f: dict) -> dict:
    out, pos = {}, f["start"]
    for gap, size, used, own in zip(f["gap"], f["size"], f["used"], f["own"]):
        pos += gap
        out[pos] = (pos, size, int(used), own)
        pos += size
    return out


def apply(state: dict, d: dict) -> dict:
    """State ``state`` with the changes ``d`` applied (what heapfront.js does in the browser)."""
    if "full" in d:
        blocks = _blocks_of_full(d["full"])
    else:
        blocks = dict(state["blocks"])
    for off in d.get("del", ()):
        blocks.pop(off, None)
    for blk in d.get("add", ()):
        blocks[blk[0]] = tuple(blk)
    p, k, ins = d["fl"]
    fl = list(state["fl"])
    fl[p:p + k] = ins
    return {"blocks": blocks, "list": d.get("list", state["list"]), "fl": tuple(fl), "changed": d["changed"]}


def wire_state(state: dict, index: int, epoch: int) -> dict:
    """A state as the ``state`` trait sends it (JSON: lists, blocks in address order)."""
    return {"index": index, "epoch": epoch, "blocks": [list(state["blocks"][o]) for o in sorted(state["blocks"])],
            "list": state["list"], "fl": list(state["fl"]), "changed": state["changed"]}


def svg_of(config: dict, state: dict) -> str:
    """The SVG the front end draws for ``state`` (the same rule as heapfront.js ``svgOf``, in
    Python): equal to ``stepviews.heap_svg`` of the step, which the tests check."""
    from .stepviews import STRIP_DEFS, STRIP_PATTERNS     # the strip's patterns, the same as heap_svg's
    c = config
    w, rh, lw, rb, scale = c["width"], c["row_h"], c["label_w"], c["rb"], c["scale"]
    order = {off: i for i, off in enumerate(state["fl"], 1)}
    name = html.escape(state["list"])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + lw + 4}" height="{c["nrows"] * rh + 4}" '
             f'style="font-family:monospace;font-size:9px">', STRIP_DEFS]
    parts += [f'<text x="0" y="{r * rh + 12}" fill="{c["row_label"]}">+{r * rb}</text>' for r in range(c["nrows"])]
    spans = [(o, s, "meta", "", None) for o, s in c["fixed"]]
    spans += [(o, s, "used" if u else "free", own, order.get(o)) for o, s, u, own in
              (state["blocks"][k] for k in sorted(state["blocks"]))]
    for off, size, st, own, fl in spans:
        pos, end, first = off, off + size, True
        while pos < end:
            row, x = divmod(pos, rb)
            wd = min(end - pos, rb - x)
            X, Y, W = lw + x * scale, row * rh + 2, max(wd * scale - 0.8, 0.6)
            outline = f' stroke="{c["outline"]}" stroke-width="2"' if off == state["changed"] else ""
            parts.append(f'<rect x="{X:.1f}" y="{Y}" width="{W:.1f}" height="{rh - 3}" fill="{c["colors"][st]}"'
                         f'{outline}><title>+{off} {size} B {st} {html.escape(own)}'
                         f'{f" ({name} #{fl})" if fl else ""}</title></rect>')
            if st in STRIP_PATTERNS:
                parts.append(f'<rect x="{X:.1f}" y="{Y}" width="{W:.1f}" height="{rh - 3}" '
                             f'fill="url(#{STRIP_PATTERNS[st]})" pointer-events="none"/>')
            if first and W > 22:
                label = html.escape(own) if st == "used" else (f"#{fl}" if fl else "")
                if label:
                    colour = c["text_used"] if st == "used" else c["text_free"]
                    parts.append(f'<text x="{X + 2:.1f}" y="{Y + 10}" fill="{colour}">{label[: int(W // 6)]}</text>')
            first = False
            pos += wd
    parts.append("</svg>")
    return "".join(parts)


class HeapFront(anywidget.AnyWidget):
    """The heap of one step of ``steps``, drawn in the browser; ``show(i)`` sends step i's changes.

    renderer: a ``stepviews.HtmlRenderer`` (its span and fixed spans set the geometry; its
    ``heap(step)`` is the SVG this draws, still given by ``value``). ``reset(steps, renderer,
    index)`` starts over with new steps (a replay under another policy)."""

    _esm = HERE / "heapfront.js"
    _css = HERE / "heapfront.css"
    kind = t.Unicode("steps").tag(sync=True)
    config = t.Dict().tag(sync=True)
    state = t.Dict().tag(sync=True)

    def __init__(self, steps, renderer, index: int = 0, **kwargs):
        super().__init__(**kwargs)
        self._epoch = 0
        self.on_msg(self._on_msg)
        self.reset(steps, renderer, index)

    # -- kernel side state -------------------------------------------------------------
    def reset(self, steps, renderer, index: int = 0):
        """New steps (or a new renderer): the full state of step ``index`` is sent again."""
        self.steps, self.renderer = steps, renderer
        self._epoch += 1
        self._changed: dict[int, int | None] = {}     # step -> the block it touched (steps seen)
        self._trans: dict[int, tuple] = {}            # step k -> (gone, came, fl splice, list names): k-1 -> k
        self.index = index
        self._cur = state_of(steps[index])
        self._cur_set = None
        self._changed[index] = self._cur["changed"]
        self.config = front_config(renderer.span, renderer.fixed)
        self.state = wire_state(self._cur, index, self._epoch)

    def show(self, i: int, step=None):
        """Make the browser draw step i (``step``: steps[i] if the caller has it already)."""
        if i == self.index:
            return
        d = self._walk(i) if self._can_walk(i) else None
        if d is None:
            step = step if step is not None else self.steps[i]
            new = state_of(step)
            new_set = set(new["blocks"].values())
            gone_came = changes(self._cur, new, self._cur_set, new_set)
            fl = splice(self._cur["fl"], new["fl"])
            d = diff(self._cur, new, gone_came, fl)
            if abs(i - self.index) == 1:
                self._keep(max(i, self.index), self._cur, new, gone_came, fl, forward=i > self.index)
            self._cur, self._cur_set = new, new_set         # the set: the next move's old side
            self._changed[i] = new["changed"]
        if len(d["add"]) + len(d["del"]) // 3 > 0.6 * len(self._cur["blocks"]):
            d["full"] = full_blocks(self._cur)          # a far jump: every block, compactly
            del d["add"], d["del"]
        msg = {"e": self._epoch, "from": self.index, "to": i, **d}
        self.index = i
        self.send(msg)

    def _keep(self, k: int, old: dict, new: dict, gone_came: tuple, fl: tuple, forward: bool):
        """Keep transition k-1 -> k (from two neighbouring states, whichever way we went)."""
        a, b = (old, new) if forward else (new, old)
        gone, came = gone_came if forward else gone_came[::-1]
        p, n, ins = fl if forward else splice(a["fl"], b["fl"])
        self._trans[k] = (tuple(gone), tuple(came), (p, tuple(a["fl"][p:p + n]), tuple(ins)),
                          (a["list"], b["list"]))

    def _can_walk(self, i: int) -> bool:
        lo, hi = sorted((self.index, i))
        limit = WALK_LIMIT_KEPT if isinstance(self.steps, (list, tuple)) else WALK_LIMIT
        return (i in self._changed and hi - lo <= limit
                and all(k in self._trans for k in range(lo + 1, hi + 1)))

    def _walk(self, i: int) -> dict:
        """The changes from the current step to step i through the kept transitions."""
        cur = self._cur
        blocks, fl, name = dict(cur["blocks"]), list(cur["fl"]), cur["list"]
        before: dict = {}
        forward = i > self.index
        for k in range(self.index + 1, i + 1) if forward else range(self.index, i, -1):
            gone, came, (p, removed, ins), (a, b) = self._trans[k]
            if not forward:                         # undo transition k: its mirror image
                gone, came, removed, ins, b = came, gone, ins, removed, a
            for blk in gone:
                before.setdefault(blk[0], blocks.get(blk[0]))
                del blocks[blk[0]]
            for blk in came:
                before.setdefault(blk[0], blocks.get(blk[0]))
                blocks[blk[0]] = blk
            fl[p:p + len(removed)] = ins
            name = b
        new = {"blocks": blocks, "list": name, "fl": tuple(fl), "changed": self._changed[i]}
        self._cur_set = None
        d = {"del": sorted(o for o, was in before.items() if was is not None and o not in blocks),
             "add": [list(blocks[o]) for o, was in sorted(before.items()) if o in blocks and blocks[o] != was],
             "fl": list(splice(cur["fl"], new["fl"])), "changed": new["changed"]}
        if name != cur["list"]:
            d["list"] = name
        self._cur = new
        return d

    def _on_msg(self, _widget, content, _buffers):
        """A view that holds another step than the kernel's (it missed messages) asks again:
        the state trait is set to the current step, in full."""
        if not isinstance(content, dict) or "at" not in content:
            return
        if content.get("e") != self._epoch or content.get("at") != self.index:
            self.state = wire_state(self._cur, self.index, self._epoch)

    # -- what the Python side can still read -------------------------------------------
    @property
    def value(self) -> str:
        """The current step's SVG as ``stepviews`` draws it (what the browser shows)."""
        return self.renderer.heap(self.steps[self.index])

    def current(self) -> dict:
        """The state the browser should now hold (blocks by offset, list, changed)."""
        return self._cur

    def __repr__(self):
        n = len(self._cur["blocks"])
        return f"HeapFront(step {self.index} of {len(self.steps) - 1}, {n:,} block{'' if n == 1 else 's'})"


# --------------------------------------------------------------------------- a heap map of many blocks
def blocks_wire(blocks) -> dict:
    """``Block``s as the map front end takes them: columns, each offset as the gap after the
    block before it (0 where blocks touch), states as indices into ``states``."""
    from ..heap.model import STATES
    index = {s: i for i, s in enumerate(STATES)}
    gaps, sizes, states, owners = [], [], [], []
    end = blocks[0].offset if blocks else 0
    for b in blocks:
        gaps.append(b.offset - end)
        sizes.append(b.size)
        states.append(index[b.state])
        owners.append(b.owner)
        end = b.offset + b.size
    return {"start": blocks[0].offset if blocks else 0, "gap": gaps, "size": sizes, "state": states,
            "owner": owners, "states": [str(s) for s in STATES]}


class MapFront(anywidget.AnyWidget):
    """A heap map of ``blocks`` drawn in the browser (``widgets.heapmap.HeapMap``'s picture):
    the kernel sends the blocks as columns (``blocks_wire``), the browser draws rows of
    ``row_bytes`` bytes (default: about 32 rows, as ``heapdraw.draw_heap``) in ``style``'s
    colours and patterns (``style.HATCHES``: free striped, meta dotted), "+N" offsets, a legend
    of bytes per state, the ``highlight``ed block outlined, owners written in wide blocks when
    there are at most 200. ``alt`` names the picture."""

    _esm = HERE / "heapfront.js"
    _css = HERE / "heapfront.css"
    kind = t.Unicode("map").tag(sync=True)
    config = t.Dict().tag(sync=True)
    blocks = t.Dict().tag(sync=True)
    highlight = t.Int(-1).tag(sync=True)

    def __init__(self, blocks, title: str | None = None, row_bytes: int | None = None, alt: str = "", **kwargs):
        super().__init__(**kwargs)
        self.set_blocks(blocks, title, row_bytes, alt)

    def set_blocks(self, blocks, title: str | None = None, row_bytes: int | None = None, alt: str = ""):
        from . import heapdraw             # its pattern ink: the same stripes and dots as draw_heap's
        blocks = list(blocks)
        self.config = {"title": title or f"{len(blocks):,} blocks", "row_bytes": row_bytes or 0, "alt": alt,
                       "colors": dict(style.COLORS), "outline": style.FAILED_COLOR, "width": 720,
                       "hatches": dict(getattr(style, "HATCHES", {})),
                       "hatch_ink": getattr(heapdraw, "_HATCH_INK", "#8a8a8a"),
                       "labels": len(blocks) <= 200, "edges": len(blocks) <= 2000}
        self.blocks = blocks_wire(blocks)

    def __repr__(self):
        return f"MapFront({len(self.blocks.get('size', ())):,} blocks)"
