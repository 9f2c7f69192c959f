"""Snapshot source: mimalloc, replayed in a fresh process into a private heap (``mi_heap_new``).

Footprint here is the sum of the committed bytes of the heap's pages (each page
holds one size class); holes are the free blocks inside those pages. External
fragmentation is computed the one way but not reported: every free slot of a
page has that page's one block size, so "largest hole" says nothing about which
requests would fit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from .model import Block, BlockState, Figures, HeapSnapshot, fragmentation
from .probes import build_probe, run_probe, write_trace
from .traces import as_trace, live_bytes, numeric_ids

__all__ = ["Page", "MimallocHeap", "replay_mimalloc"]


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
