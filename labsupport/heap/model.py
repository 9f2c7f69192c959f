"""The heap as plain data: blocks, named lists (bins), steps, snapshots and their figures.

Nothing here draws or imports a plotting or widget library: a snapshot source
(``heap.talloc``, ``heap.glibc``, ``heap.mimalloc``) fills these objects, and a
view (``labsupport.widgets``) draws them. The cut follows pwndbg's ptmalloc model
(``Chunk``, ``Bin``, ``Bins``, ``Heap``, a ``BinType`` enum) versus its commands.

The course's conventions, stated once:

* offsets are bytes from the start of the heap, decimal, never raw addresses;
* a block is ``used``, ``free`` or ``meta`` (headers, footers, bookkeeping:
  ``BlockState``), drawn in the same three colours everywhere (``widgets.style``);
* a ``Step`` is the heap after one operation: its blocks in address order, its
  named lists (``"free list"`` for the teaching allocator; ``"tcache 0x20"``,
  ``"unsorted"`` for glibc's bins), the figures below, and what the step did;
* the figures have one definition, ``fragmentation`` (footprint, holes, largest
  hole, external fragmentation), which every lesson and every allocator uses.

Enums are ``StrEnum``: ``BlockState.FREE == "free"``, so plain strings still work.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BlockState", "STATES", "Block", "Fragmentation", "fragmentation", "summarize",
           "Figures", "figures_of", "figures_from", "BinType", "Bin", "Bins", "Step", "HeapSnapshot"]


class BlockState(StrEnum):
    """What a block of a heap picture is."""
    USED = "used"        # handed out by the allocator
    FREE = "free"        # available (on a list, in a bin, or an untouched tail)
    META = "meta"        # the allocator's own bytes: tags, size fields, bookkeeping


STATES = tuple(BlockState)      # ("used", "free", "meta") as members, in drawing order


@dataclass(frozen=True)
class Block:
    offset: int          # from the start of the heap, in bytes (never a raw address)
    size: int            # bytes
    state: BlockState = BlockState.USED   # "used", "free" or "meta" (strings are accepted)
    owner: str = ""      # a label: who allocated it, which size class...

    def __post_init__(self):
        if self.state.__class__ is not BlockState:        # a plain string: store the member
            try:
                object.__setattr__(self, "state", BlockState(self.state))
            except ValueError:
                raise ValueError(f"state must be one of {', '.join(STATES)}, not {self.state!r}") from None
        if self.size < 0 or self.offset < 0:
            raise ValueError("offset and size must be >= 0")


# ---------------------------------------------------------------------------
# the figures: one definition for every allocator
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Fragmentation:
    footprint: int               # heap start to the end of the highest block in use (or meta)
    holes: int                   # free bytes below the footprint
    largest_hole: int
    external_fragmentation: float  # 1 - largest_hole / holes (0.0 when there are no holes)


def fragmentation(blocks) -> Fragmentation:
    """The course's one definition of external fragmentation (every lesson uses this).

    blocks: ``Block`` objects, or ``(offset, size, used)`` tuples, offsets from the
    heap start. A block is in use unless its state is "free" (meta counts as in use).

    * footprint: from the heap start to the end of the highest block in use;
    * holes: the free blocks *below* the footprint (the untouched tail above it,
      such as glibc's top chunk, is not a hole: it is room to grow into);
    * external fragmentation = 1 - largest hole / all hole bytes: 0 when the free
      memory inside the heap is one piece, close to 1 when it is many small pieces.
    """
    spans = []
    for b in blocks:
        if isinstance(b, Block):
            spans.append((b.offset, b.size, b.state is not BlockState.FREE))   # a Block's state is a member
        else:
            o, s, u = b[:3]
            spans.append((o, s, bool(u)))
    footprint = max((o + s for o, s, u in spans if u), default=0)
    holes = [s for o, s, u in spans if not u and o + s <= footprint]
    total, largest = sum(holes), max(holes, default=0)
    return Fragmentation(footprint, total, largest, (1 - largest / total) if total else 0.0)


def summarize(blocks) -> dict:
    """Bytes per state, the largest free block, and the figures of ``fragmentation``
    (holes below the footprint, largest hole, external fragmentation)."""
    blocks = list(blocks)
    by_state = dict.fromkeys(STATES, 0)
    largest = 0
    for b in blocks:
        by_state[b.state] += b.size
        if b.state is BlockState.FREE and b.size > largest:
            largest = b.size
    out = {s.value: n for s, n in by_state.items()}
    f = fragmentation(blocks)
    out["blocks"] = len(blocks)
    out["largest_free"] = largest
    out["footprint"] = f.footprint
    out["holes"] = f.holes
    out["largest_hole"] = f.largest_hole
    out["external_fragmentation"] = f.external_fragmentation
    return out


@dataclass(frozen=True)
class Figures:
    """The figures of one heap state (see ``fragmentation``) with the live bytes."""
    live: int                    # requested bytes still allocated
    footprint: int               # heap start to the end of the highest block in use
    holes: int                   # free bytes below the footprint
    largest_hole: int
    utilisation: float           # live / footprint
    external_fragmentation: float  # 1 - largest_hole / holes
    failed: int = 0              # allocations that did not fit, so far

    def row(self) -> dict:
        return {"live B": self.live, "footprint B": self.footprint, "utilisation": round(self.utilisation, 3),
                "holes B": self.holes, "largest hole B": self.largest_hole,
                "ext. fragmentation": round(self.external_fragmentation, 3), "failed allocs": self.failed}


def figures_of(blocks, live: int, failed: int = 0) -> Figures:
    """Figures for blocks given as (offset, size, used) from the heap start.
    Footprint, holes and external fragmentation come from ``fragmentation``,
    the course's one definition."""
    return figures_from(fragmentation(blocks), live, failed)


def figures_from(f: Fragmentation, live: int, failed: int = 0) -> Figures:
    """``Figures`` from a ``Fragmentation`` and the live bytes (what ``figures_of`` returns)."""
    return Figures(live=live, footprint=f.footprint, holes=f.holes, largest_hole=f.largest_hole,
                   utilisation=(live / f.footprint) if f.footprint else 0.0,
                   external_fragmentation=f.external_fragmentation, failed=failed)


# ---------------------------------------------------------------------------
# named lists of free blocks (bins)
# ---------------------------------------------------------------------------
class BinType(StrEnum):
    """The kinds of list an allocator keeps free blocks on, and the link fields each uses
    (as pwndbg's ``BinType.valid_fields``)."""
    FREE_LIST = "free list"      # the teaching allocator: one explicit list, next and prev
    TCACHE = "tcache"            # glibc: per chunk size, singly linked, LIFO, at most 7
    FASTBIN = "fastbin"          # glibc: per small chunk size, singly linked, LIFO, not coalesced
    UNSORTED = "unsorted"        # glibc: one doubly linked list where freed chunks wait
    SMALLBIN = "smallbin"        # glibc: per chunk size, doubly linked, FIFO
    LARGEBIN = "largebin"        # glibc: per size range, doubly linked and sorted by size
    MI_FREE = "page free"        # mimalloc: per page, singly linked; malloc pops the head
    MI_LOCAL_FREE = "page local free"    # mimalloc: freed by the page's own thread; becomes `free` later
    MI_THREAD_FREE = "page thread free"  # mimalloc: freed by other threads (atomic push); owner collects

    @property
    def link_fields(self) -> tuple:
        return _LINK_FIELDS[self]

    @property
    def doubly_linked(self) -> bool:
        return len(self.link_fields) > 1


_LINK_FIELDS = {BinType.FREE_LIST: ("next", "prev"), BinType.TCACHE: ("next",), BinType.FASTBIN: ("fd",),
                BinType.UNSORTED: ("fd", "bk"), BinType.SMALLBIN: ("fd", "bk"),
                BinType.LARGEBIN: ("fd", "bk", "fd_nextsize", "bk_nextsize"),
                BinType.MI_FREE: ("next",), BinType.MI_LOCAL_FREE: ("next",), BinType.MI_THREAD_FREE: ("next",)}


@dataclass(frozen=True)
class Bin:
    """One named list: the offsets of its blocks from the head, in list order."""
    name: str                    # "free list", "tcache 0x20", "unsorted"...
    type: BinType
    offsets: tuple = ()
    size: int | None = None      # the one chunk size it holds (tcache, fastbins, smallbins)

    def __len__(self):
        return len(self.offsets)

    def __iter__(self):
        return iter(self.offsets)


class Bins:
    """The named lists of one heap state, in display order: ``bins["free list"]``."""
    __slots__ = ("_bins",)

    def __init__(self, bins=()):
        self._bins = {b.name: b for b in bins}

    def __getitem__(self, name: str) -> Bin:
        return self._bins[name]

    def get(self, name: str, default=None):
        return self._bins.get(name, default)

    def __contains__(self, name) -> bool:
        return name in self._bins

    def __iter__(self):
        return iter(self._bins.values())

    def __len__(self):
        return len(self._bins)

    def __eq__(self, other):
        return isinstance(other, Bins) and list(self) == list(other)

    def __hash__(self):
        return hash(tuple(self))

    @property
    def names(self) -> list:
        return list(self._bins)

    def of_type(self, kind: BinType) -> list:
        return [b for b in self if b.type == kind]

    def __repr__(self):
        return "Bins(" + ", ".join(f"{b.name!r}: {len(b)}" for b in self) + ")"


# ---------------------------------------------------------------------------
# a step of a replay, and a snapshot of a real allocator's heap
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """The heap after one operation (step 0: before the first)."""
    step: int                    # 0 = before the first operation
    op: object | None            # the trace operation (``heap.traces.Op``)
    blocks: tuple                # ((offset, size, used, owner), ...) in address order
    bins: Bins                   # the named lists, e.g. bins["free list"]
    figures: Figures
    failed: bool = False         # this step's allocation did not fit
    changed: int | None = None   # offset of the block this step touched
    searched: int = 0            # list entries examined by this step

    @property
    def freelist(self) -> tuple:
        """The teaching allocator's free list (offsets, head first); () when there is none."""
        b = self.bins.get(BinType.FREE_LIST.value)
        return b.offsets if b is not None else ()

    def heap_blocks(self):
        """The blocks as ``Block`` for ``lab.draw_heap`` / ``lab.HeapMap``."""
        return [Block(o, s, BlockState.USED if u else BlockState.FREE, own) for o, s, u, own in self.blocks]


@dataclass
class HeapSnapshot:
    """A real allocator's heap after a trace, read back as offsets (``heap.glibc``,
    ``heap.mimalloc`` fill the allocator's own fields)."""
    allocator: str
    blocks: list                 # Block list, offsets from the heap start
    footprints: list             # per step
    figures: Figures
    meta: int = 0                # fixed bookkeeping inside the footprint (glibc: the tcache chunk)
    raw: str = ""
    reports_external_fragmentation = True

    @property
    def peak_footprint(self) -> int:
        return max(self.footprints, default=0)

    def table(self) -> str:
        return "\n".join(f"+{b.offset:<6} {b.size:>7}  {b.state:<5} {b.owner}" for b in self.blocks)

    def picture(self, top: bool = True) -> list:
        """Blocks for ``lab.draw_heap``."""
        return list(self.blocks)

    def summary(self) -> dict:
        f = self.figures
        return {"policy": self.allocator, "peak footprint B": self.peak_footprint,
                "fixed meta B": self.meta, "peak w/o meta B": self.peak_footprint - self.meta,
                "failed allocs": 0, "final holes B": f.holes, "final largest hole B": f.largest_hole,
                "final ext. fragmentation": round(f.external_fragmentation, 3)
                if self.reports_external_fragmentation else None,
                "blocks searched": None}
