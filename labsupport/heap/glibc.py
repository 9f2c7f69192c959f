"""Snapshot source: glibc malloc, replayed in a fresh process and walked chunk by chunk.

Offsets are decimal. A chunk's offset is the position of its 8-byte size field,
counted from the size field of the heap's first chunk; a chunk runs from its
size field to the next chunk's size field (its last 8 bytes are what glibc's
source calls the next chunk's ``prev_size``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .model import Block, BlockState, HeapSnapshot, figures_of
from .probes import build_probe, run_probe, write_trace
from .traces import as_trace, live_bytes, numeric_ids

__all__ = ["NO_TCACHE", "ChunkState", "Chunk", "GlibcHeap", "replay_glibc"]

NO_TCACHE = "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0"


class ChunkState(StrEnum):
    """What glibc_probe found a chunk to be."""
    USED = "used"                    # allocated (owner = the trace id)
    FREE = "free"                    # in a bin: the next chunk's P bit is clear
    TCACHE = "tcache"                # free, but parked in the tcache (P bit still set)
    TOP = "top"                      # the top chunk: the untouched rest of the heap
    TCACHE_STRUCT = "tcache_struct"  # the tcache's own bookkeeping chunk
    FAST_OR_OTHER = "fast_or_other"  # P bit set, not in the tcache, not allocated by the trace

    @property
    def block_state(self) -> BlockState:
        """How the course's pictures draw it."""
        if self is ChunkState.USED:
            return BlockState.USED
        if self in (ChunkState.FREE, ChunkState.TCACHE, ChunkState.TOP):
            return BlockState.FREE
        return BlockState.META


_PICTURE_OWNER = {ChunkState.FREE: "", ChunkState.TCACHE: "in tcache", ChunkState.TOP: "top",
                  ChunkState.TCACHE_STRUCT: "glibc's tcache", ChunkState.FAST_OR_OTHER: "other"}


@dataclass(frozen=True)
class Chunk:
    """One glibc chunk: offset from the heap start, size, flag bits P=1 M=2 A=4, state, owner."""
    offset: int
    size: int
    flags: int
    state: ChunkState     # used, free (in a bin), tcache, top, tcache_struct, fast_or_other
    owner: str = ""

    def __post_init__(self):
        if self.state.__class__ is not ChunkState:
            object.__setattr__(self, "state", ChunkState(self.state))

    def block(self) -> Block:
        """The chunk as a ``Block`` of the course's pictures."""
        owner = self.owner if self.state is ChunkState.USED else _PICTURE_OWNER[self.state]
        return Block(self.offset, self.size, self.state.block_state, owner)

    def __str__(self):
        bits = f"P={self.flags & 1} M={self.flags >> 1 & 1} A={self.flags >> 2 & 1}"
        return f"+{self.offset:<6} {self.size:>7}  {bits}  {self.state:<13} {self.owner}"


@dataclass
class GlibcHeap(HeapSnapshot):
    """glibc's heap after a trace: chunks in address order, and the requests mmap served."""
    chunks: list = field(default_factory=list)   # Chunk rows, in address order
    mmapped: list = field(default_factory=list)  # (id, chunk size) served by mmap

    def table(self) -> str:
        """One line per chunk."""
        return "offset     size  flags        state         owner\n" + "\n".join(map(str, self.chunks))

    def picture(self, top: bool = True) -> list:
        """Blocks for ``lab.draw_heap`` in the course's picture of a chunk (lesson 00):
        its 8-byte size field (meta), then the rest of the chunk, up to the next size field.
        top=False leaves the top chunk out."""
        out = []
        for b in self.blocks:
            if b.owner == "top" and not top:
                continue
            out.append(Block(b.offset, 8, BlockState.META, ""))
            out.append(Block(b.offset + 8, b.size - 8, b.state, b.owner))
        return out


def replay_glibc(trace, stop: int | None = None, tunables: str | None = None) -> GlibcHeap:
    """Replay in a fresh process with glibc malloc; walk its chunks.

    tunables: a GLIBC_TUNABLES value, e.g. ``NO_TCACHE`` to switch tcache and fastbins off.
    Chunk states: used (owner = trace id), free (in a bin: the next chunk's P bit is clear),
    tcache (free but parked in the tcache), top, and the tcache's own chunk (meta)."""
    trace = as_trace(trace)
    ids = {v: k for k, v in numeric_ids(trace.ops).items()}
    argv = [build_probe("glibc_probe"), "trace", write_trace(trace), -1 if stop is None else stop]
    text = run_probe(argv, env={"GLIBC_TUNABLES": tunables} if tunables else None)
    foot, mmapped, chunks = [], [], []
    for line in text.splitlines():
        f = line.split()
        if f[0] == "step":
            foot.append(int(f[2]))
        elif f[0] == "mmapped":
            mmapped.append((ids[int(f[1])], int(f[2])))
        elif f[0] == "chunk":
            owner = int(f[5])
            chunks.append(Chunk(int(f[1]), int(f[2]), int(f[3]), ChunkState(f[4]),
                                ids.get(owner, "") if owner >= 0 else ""))
    blocks = [c.block() for c in chunks]
    body = [(b.offset, b.size, b.state != BlockState.FREE) for b in blocks if b.owner != "top"]
    meta = sum(c.size for c in chunks if c.state is ChunkState.TCACHE_STRUCT)
    return GlibcHeap("glibc" + (" (no tcache)" if tunables else ""), blocks, foot,
                     figures_of(body, live_bytes(trace, stop)), meta=meta, raw=text,
                     chunks=chunks, mmapped=mmapped)
