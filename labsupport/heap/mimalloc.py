"""Snapshot source: mimalloc, replayed in a fresh process into a private heap (``mi_heap_new``).

``replay_mimalloc(trace)`` gives the heap after the trace (its pages and live blocks);
``mimalloc_steps(trace)`` gives a ``Step`` after every operation, like the teaching
allocator's ``replay(...).states``, with each page's three free lists as bins.

Footprint here is the sum of the committed bytes of the heap's pages (each page
holds one size class); holes are the free blocks inside those pages. External
fragmentation is computed the one way but not reported: every free slot of a
page has that page's one block size, so "largest hole" says nothing about which
requests would fit.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .model import Bin, Bins, BinType, Block, BlockState, Figures, HeapSnapshot, Step, fragmentation
from .probes import build_probe, run_probe, write_trace
from .traces import OpKind, as_trace, live_bytes, numeric_ids

__all__ = ["Page", "MimallocHeap", "replay_mimalloc", "MI_LIST_NAMES", "MimallocSteps", "mimalloc_steps"]


class Page(NamedTuple):
    """One mimalloc page of the heap: every block in it has ``block_size``."""
    offset: int
    reserved: int
    committed: int
    block_size: int
    used: int


@dataclass
class MimallocHeap(HeapSnapshot):
    """mimalloc's heap after a trace: its pages, and the usable size of each live block."""
    pages: list = field(default_factory=list)    # Page rows
    usable: dict = field(default_factory=dict)   # id -> usable size of its block
    reports_external_fragmentation = False       # equal-size slots: it means nothing there

    def table(self) -> str:
        """One line per page."""
        return "\n".join(f"page {i:>2}: block size {bs:>5}  blocks in use {u:>3}  carved {c:>6} of {r:>6} B"
                         for i, (o, r, c, bs, u) in enumerate(sorted(self.pages), 1))


def replay_mimalloc(trace, stop: int | None = None) -> MimallocHeap:
    """Replay in a fresh process into a private mimalloc heap; list its pages, and draw each
    page's carved part as slots of its block size, laid end to end."""
    trace = as_trace(trace)
    ids = {v: k for k, v in numeric_ids(trace.ops).items()}
    argv = [build_probe("mi_probe"), "trace", write_trace(trace), -1 if stop is None else stop]
    text = run_probe(argv)
    pages, live_in, foot, usable = [], {}, [], {}
    for line in text.splitlines():
        f = line.split()
        if f[0] == "step":
            foot.append(int(f[3]))
        elif f[0] == "page":
            pages.append(Page(*(int(x) for x in f[1:6])))
        elif f[0] == "block":
            owner = ids.get(int(f[2]), "")
            live_in.setdefault(len(pages) - 1, []).append((int(f[1]), owner))
            usable[owner] = int(f[3])
    # per page: used blocks and the free slots between them (within the committed part)
    out, pos, committed_total = [], 0, 0
    for pi, pg in enumerate(pages):
        committed_total += pg.committed
        bsize = pg.block_size
        taken = dict(live_in.get(pi, []))
        nblocks = max(pg.committed // bsize, max((o // bsize + 1 for o in taken), default=0)) if bsize else 0
        for k in range(nblocks):
            o = k * bsize
            if o in taken:
                out.append(Block(pos + o, bsize, BlockState.USED, taken[o]))
            else:
                out.append(Block(pos + o, bsize, BlockState.FREE, ""))
        pos += max(nblocks * bsize, 16)
    live = live_bytes(trace, stop)
    f = fragmentation([(0, committed_total, 1)] + [(0, b.size, 0) for b in out if b.state == BlockState.FREE])
    figs = Figures(live=live, footprint=committed_total, holes=f.holes, largest_hole=f.largest_hole,
                   utilisation=(live / committed_total) if committed_total else 0.0,
                   external_fragmentation=f.external_fragmentation)
    return MimallocHeap("mimalloc", out, foot, figs, raw=text, pages=pages, usable=usable)


# ---------------------------------------------------------------------------
# one Step per operation
# ---------------------------------------------------------------------------
# the three lists of a mimalloc page (mi_page_t in include/mimalloc/types.h):
#   page->free          malloc pops its head (the fast path);
#   page->local_free    blocks freed by the page's own thread: they wait here and become
#                       `free` only when `free` runs out (page.c: _mi_page_free_collect);
#   page->xthread_free  blocks freed by OTHER threads, pushed atomically (free.c:
#                       mi_free_block_mt); the owner moves them to local_free when it collects.
MI_LIST_NAMES = {"F": ("free", BinType.MI_FREE), "L": ("local free", BinType.MI_LOCAL_FREE),
                 "T": ("thread free", BinType.MI_THREAD_FREE)}


class MimallocSteps(list):
    """The list of ``Step`` from ``mimalloc_steps``, with what the probe could read.

    internals: True when the free lists were read from mimalloc's own ``mi_page_t``
    (the vendored layout matched the linked version); False: only the public
    ``mi_heap_visit_blocks`` facts (pages, blocks in use), with ``why``.
    pages: ((offset, slot bytes, block size), ...) the layout, one row per page."""
    version: int = 0
    internals: bool = False
    why: str = ""
    pages: tuple = ()


def _expand(rle: str, base: int, bsize: int) -> tuple:
    """'3,0-2' (block indices in list order, runs as a-b) -> offsets."""
    if rle == ".":
        return ()
    out = []
    for part in rle.split(","):
        a, _, b = part.partition("-")
        a = int(a)
        out.extend(range(base + a * bsize, base + (int(b) if b else a) * bsize + 1, bsize))
    return tuple(out)


def mimalloc_steps(trace, internals: bool = True) -> MimallocSteps:
    """Replay ``trace`` in a fresh process into a private mimalloc heap; a ``Step`` after
    every operation (step 0: before the first), like ``replay(trace).states``.

    Offsets (never addresses): every page the replay ever uses gets one fixed place,
    pages in address order laid end to end, each as long as the most blocks it ever had
    committed (its ``capacity``); a block's offset is its page's place + its index x the
    page's block size. So a block keeps its offset through the whole replay, and a page
    that is not there yet (or no more) is a gap. Pages' own metadata and their reserved
    but not yet carved blocks are not drawn (a Step's blocks are only used or free).

    blocks: ``(offset, size, used, owner)``, one per carved block of every page (size: the
    page's block size; mimalloc never merges blocks): owner is the trace's id for a block
    in use, and for a free one the list it is on: ``"free"``, ``"local free"`` or
    ``"thread free"``, so every offset on a list is a block of the step.
    bins: per page ``"page N (S B) free"`` (always) and ``"... local free"`` /
    ``"... thread free"`` (when not empty), each in list order from the head, as
    mimalloc's ``page->free``, ``page->local_free``, ``page->xthread_free`` hold them.
    A one-thread replay never fills ``thread free``: see ``heap.threads``.
    figures: as ``replay_mimalloc``: footprint = committed bytes of the heap's pages
    (``mi_heap_area_t.committed``), holes = its free blocks (each a hole of its block size).
    changed: the offset of the block the operation allocated or freed.

    The lists are read from mimalloc's own page struct (``mi_page_t``, layout vendored in
    mi_probe.c from the v3.4.3 headers) only when the linked mimalloc is that version and
    every field agrees with what ``mi_heap_visit_blocks`` reports; otherwise ``.internals``
    is False, ``.why`` says why, bins are empty and every committed block not in use is
    drawn as ``"free"`` (which list it is on is then unknown). ``internals=False`` asks
    for that public-API-only view on purpose.
    """
    trace = as_trace(trace)
    with tempfile.TemporaryDirectory(prefix="mi_steps") as tmp:   # the output can exceed a pipe's capture
        out_path = Path(tmp) / "steps.txt"
        run_probe([build_probe("mi_probe"), "steps", write_trace(trace), out_path],
                  env=None if internals else {"MI_PROBE_NO_INTERNALS": "1"})
        lines = out_path.read_text().splitlines()
    out = MimallocSteps()
    for ln in lines[-2:]:
        f = ln.split(None, 2)
        if f[0] == "version":
            out.version = int(f[1])
        elif f[0] == "internals":
            out.internals = f[1] == "1"
            out.why = "" if out.internals else f[2]
    # pass 1: every page (key: its signed offset from the first page, its block size)
    # and the most blocks it ever had committed
    maxcap: dict = {}
    for ln in lines:
        if ln.startswith("P "):
            f = ln.split(None, 6)
            key = (int(f[1]), int(f[2]))
            cap = int(f[3])
            if cap > maxcap.get(key, 0):
                maxcap[key] = cap
    base, pos, names = {}, 0, {}
    for n, key in enumerate(sorted(maxcap), 1):
        base[key] = pos
        names[key] = f"page {n} ({key[1]} B)"
        pos += maxcap[key] * key[1]
    out.pages = tuple((base[k], maxcap[k] * k[1], k[1]) for k in sorted(maxcap))
    # pass 2: the steps
    live_at: dict = {}          # probe offset (from the first page) -> trace id of the block there
    size_of: dict = {}          # trace id -> requested size
    cache: dict = {}            # page key -> (its P fields, blocks, bins, free bytes, largest hole)
    before: list = []           # the pages of the step before (P fields)
    current: dict = {}          # the pages now: probe offset -> latest P fields (the probe prints
                                # a page only when it changed, and "Q ..." when the set changed)
    live_total = failed = 0
    header = None
    ops = trace.ops

    def page_view(key, f):
        b0, bsize, cap = base[key], key[1], int(f[3])
        label = ["used"] * cap
        bins = []
        if out.internals and len(f) > 6:
            rest = f[6].split()
            for tag, rle in zip(rest[0::2], rest[1::2]):
                name, kind = MI_LIST_NAMES[tag]
                offs = _expand(rle, b0, bsize)
                for o in offs:
                    label[(o - b0) // bsize] = name
                if tag == "F" or offs:
                    bins.append(Bin(f"{names[key]} {name}", kind, offs, bsize))
        else:
            label = ["used" if key[0] + k * bsize in live_at else "free" for k in range(cap)]
        blocks = tuple((b0 + k * bsize, bsize, 1, live_at.get(key[0] + k * bsize, "?")) if lab == "used"
                       else (b0 + k * bsize, bsize, 0, lab) for k, lab in enumerate(label))
        nfree = cap - label.count("used")
        return blocks, tuple(bins), nfree * bsize, (bsize if nfree else 0)

    def finish():
        if header is None:
            return
        i, op_off, committed = header
        blocks, bins, holes, largest = (), [], 0, 0
        changed = None
        for f in sorted(current.values(), key=lambda f: base[(int(f[1]), int(f[2]))]):
            key = (int(f[1]), int(f[2]))
            ent = cache.get(key)
            if ent is None or ent[0] != f:
                ent = (f, *page_view(key, f))
                cache[key] = ent
            blocks += ent[1]
            bins.extend(ent[2])
            holes += ent[3]
            largest = max(largest, ent[4])
            if op_off is not None and key[0] <= op_off < key[0] + int(f[3]) * key[1]:
                changed = base[key] + op_off - key[0]
        if changed is None and op_off is not None:      # its page is gone (freed with its last block)
            for f in before:
                key = (int(f[1]), int(f[2]))
                if key[0] <= op_off < key[0] + int(f[3]) * key[1]:
                    changed = base[key] + op_off - key[0]
        before[:] = current.values()
        # the figures exactly as replay_mimalloc gets them from ``fragmentation``: every free
        # block a hole of its page's block size (not built block by block: too slow per step)
        figs = Figures(live=live_total, footprint=committed, holes=holes, largest_hole=largest,
                       utilisation=(live_total / committed) if committed else 0.0,
                       external_fragmentation=(1 - largest / holes) if holes else 0.0, failed=failed)
        op = ops[i - 1] if i else None
        out.append(Step(i, op, blocks, Bins(bins), figs,
                        failed=op is not None and op.kind == OpKind.ALLOC and op_off is None, changed=changed))

    for ln in lines:
        if ln.startswith("P "):
            f = ln.split(None, 6)
            current[int(f[1])] = f
        elif ln.startswith("Q"):
            present = [int(x) for x in ln.split()[1:]]
            current = {k: current[k] for k in present}
        elif ln.startswith("S "):
            finish()
            f = ln.split()
            i = int(f[1])
            op_off = None if f[2] == "." else int(f[2])
            if i:                                   # apply the operation to the live map
                op = ops[i - 1]
                if op.kind == OpKind.ALLOC:
                    if op_off is None:
                        failed += 1
                    else:
                        size_of[op.id] = op.size
                        live_total += op.size
                        live_at[op_off] = op.id
                else:
                    live_total -= size_of.pop(op.id, 0)
                    live_at.pop(op_off, None)
            header = (i, op_off, int(f[3]))
    finish()
    return out
