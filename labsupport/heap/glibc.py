"""Snapshot source: glibc malloc, replayed in a fresh process and walked chunk by chunk.

Two ways in:

* ``replay_glibc(trace)``: the heap after the trace (or after ``stop`` operations), chunk by chunk;
* ``glibc_steps(trace)``: one ``GlibcStep`` per operation (step 0: before the first), each with
  every chunk and every bin glibc keeps (tcache, fastbins, unsorted, small and large bins),
  the top chunk and ``av->system_mem``, read from glibc's own ``main_arena`` by
  ``glibc_probe steps`` (how it finds main_arena: the comment above ``find_candidates`` in
  glibc_probe.c). The probe prints only what changed at each step; ``GlibcSteps`` rebuilds a
  step when it is asked for, from a checkpoint every ``CHECKPOINT`` steps, so a slider over a
  10,000-operation trace moves in well under 5 ms (benchmarks/bench_glibcstep.py).

How the bins are read, and why that way. ``mallinfo2()`` alone gives totals, not lists, and a
freed chunk's back pointer leads to ``main_arena`` only once some chunk sits in the unsorted or
a small bin (a trace may never put one there, and the probe must not change the heap it draws).
So the probe finds ``main_arena`` itself: glibc 2.36 defines it as a static ``struct
malloc_state`` initialised with ``.next = &main_arena``, so in a single-threaded process it is
a word in libc's writable segments that points to the structure's own start (``next`` at offset
2160 on x86_64; 2072 from glibc 2.43, which dropped the fastbins). The probe collects those
candidates before the first malloc (``dl_iterate_phdr``: no allocation) and, after it, keeps
only one that agrees with ``mallinfo2()`` (which reads the same arena: ``system_mem == arena``,
``chunksize(top) == keepcost``, ``top`` inside the heap) and whose empty bins point to
themselves; if not exactly one does, it stops with an error instead of printing wrong bins. The
tcache is the heap's first chunk up to glibc 2.42 (0x290 bytes, 64 lists; 0x300 and 76 lists
with counts of free slots in 2.42) and, from 2.43, a chunk made by the first free() wherever
the top was; fastbin ``fd`` and tcache ``next`` are safe-linked (``PROTECT_PTR``, glibc 2.32+)
and decoded. The probe knows glibc 2.33 to 2.44 and refuses any other version by name (the
comment at the top of glibc_probe.c lists what each version changed, with glibc's commits).
``tests/test_glibc_bins.py`` compares the decoded bins with glibc's own ``malloc_info()`` on
known traces.

Offsets are decimal. A chunk's offset is the position of its 8-byte size field,
counted from the size field of the heap's first chunk; a chunk runs from its
size field to the next chunk's size field (its last 8 bytes are what glibc's
source calls the next chunk's ``prev_size``).
"""
from __future__ import annotations

import re
import tempfile
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from .model import Bin, Bins, BinType, Block, BlockState, HeapSnapshot, Step, figures_of
from .probes import build_probe, run_probe, write_trace
from .traces import OpKind, as_trace, live_bytes, numeric_ids

__all__ = ["NO_TCACHE", "ChunkState", "Chunk", "GlibcHeap", "replay_glibc", "TCACHE_STRUCT_SIZE",
           "bin_name", "bin_type", "largebin_index", "GlibcStep", "GlibcSteps", "glibc_steps",
           "parse_malloc_info", "glibc_version", "freed_small_chunk_bin", "tcache_struct_size",
           "tcache_fill_count"]

NO_TCACHE = "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0"


def glibc_version() -> tuple:
    """The running glibc's version, e.g. (2, 36) (``confstr(_CS_GNU_LIBC_VERSION)``);
    (0, 0) when the C library is not glibc."""
    import os
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        text = ""
    m = re.match(r"glibc (\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def freed_small_chunk_bin(version: tuple | None = None) -> BinType:
    """Where ``free`` puts a merged chunk of small-bin size (below 1,024 bytes) that the
    tcache and the fastbins do not take: the unsorted bin up to glibc 2.40; its small bin
    from glibc 2.41 on (commit e2436d6f, "Place small chunks directly in their smallbin,
    so they don't pollute the unsorted bin"). Large chunks go to the unsorted bin in both."""
    return BinType.SMALLBIN if (version or glibc_version()) >= (2, 41) else BinType.UNSORTED


class ChunkState(StrEnum):
    """What glibc_probe found a chunk to be."""
    USED = "used"                    # allocated (owner = the trace id)
    FREE = "free"                    # in a bin: the next chunk's P bit is clear
    TCACHE = "tcache"                # free, but parked in the tcache (P bit still set)
    TOP = "top"                      # the top chunk: the untouched rest of the heap
    TCACHE_STRUCT = "tcache_struct"  # the tcache's own bookkeeping chunk
    FAST_OR_OTHER = "fast_or_other"  # P bit set, not in the tcache, not allocated by the trace
    # what glibc_steps knows exactly (it reads the bins themselves):
    FASTBIN = "fastbin"              # in a fastbin
    UNSORTED = "unsorted"            # in the unsorted bin
    SMALLBIN = "smallbin"            # in a small bin
    LARGEBIN = "largebin"            # in a large bin

    @property
    def block_state(self) -> BlockState:
        """How the course's pictures draw it."""
        if self is ChunkState.USED:
            return BlockState.USED
        if self in _FREE_STATES:
            return BlockState.FREE
        return BlockState.META


_FREE_STATES = frozenset({ChunkState.FREE, ChunkState.TCACHE, ChunkState.TOP, ChunkState.FASTBIN,
                          ChunkState.UNSORTED, ChunkState.SMALLBIN, ChunkState.LARGEBIN})
_PICTURE_OWNER = {ChunkState.FREE: "", ChunkState.TCACHE: "in tcache", ChunkState.TOP: "top",
                  ChunkState.TCACHE_STRUCT: "glibc's tcache", ChunkState.FAST_OR_OTHER: "other",
                  ChunkState.FASTBIN: "in a fastbin", ChunkState.UNSORTED: "in unsorted",
                  ChunkState.SMALLBIN: "in a small bin", ChunkState.LARGEBIN: "in a large bin"}


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


# ---------------------------------------------------------------------------
# every bin, every step: glibc_steps
# ---------------------------------------------------------------------------
def tcache_struct_size(version: tuple | None = None) -> int:
    """The tcache's own chunk: request2size(sizeof (tcache_perthread_struct)): 0x290 = 656 bytes
    with 64 lists (glibc 2.30-2.41), 0x300 = 768 with the 76 lists of glibc 2.42+ (commit
    cbfd798810). Up to 2.42 it is the heap's first chunk; from 2.43 it is made lazily, by the
    first free() of a small chunk, wherever the top chunk is then."""
    return 768 if (version or glibc_version()) >= (2, 42) else 656


def tcache_fill_count(version: tuple | None = None) -> int:
    """How many chunks a tcache list holds by default (``glibc.malloc.tcache_count``): 7 up to
    glibc 2.42, 16 from 2.43 (commit 0b9210bd76, "malloc: set default tcache fill count to 16")."""
    return 16 if (version or glibc_version()) >= (2, 43) else 7


TCACHE_STRUCT_SIZE = tcache_struct_size()    # the running glibc's
CHECKPOINT = 32              # GlibcSteps keeps the whole state every CHECKPOINT steps
_N_TCACHE, _N_FAST = 64, 10
_FIRST_LARGE_TC = _N_TCACHE + _N_FAST + 126      # 200..211: the tcache's lists for large chunks (2.42+)


def largebin_index(size: int) -> int:
    """glibc's ``largebin_index_64`` (malloc.c, 2.36): the large bin of a chunk size >= 1024."""
    for shift, base, limit in ((6, 48, 48), (9, 91, 20), (12, 110, 10), (15, 119, 4), (18, 124, 2)):
        if size >> shift <= limit:
            return base + (size >> shift)
    return 126


def _largebin_lower(i: int) -> int:
    s = 1024
    while largebin_index(s) < i:
        s += 16
    return s


_LARGE_LOWER = {i: _largebin_lower(i) for i in range(64, 127)}


def bin_type(bin_id: int) -> BinType:
    """The kind of the probe's bin number: 0-63 tcache, 64-73 fastbins, 74 + (i - 1) glibc's bin i,
    200-211 the tcache's lists for large chunks (glibc 2.42+)."""
    if bin_id < _N_TCACHE or bin_id >= _FIRST_LARGE_TC:
        return BinType.TCACHE
    if bin_id < _N_TCACHE + _N_FAST:
        return BinType.FASTBIN
    i = bin_id - _N_TCACHE - _N_FAST + 1
    return BinType.UNSORTED if i == 1 else BinType.SMALLBIN if i < 64 else BinType.LARGEBIN


def bin_name(bin_id: int) -> str:
    """``"tcache 0x30"``, ``"fastbin 0x20"``, ``"unsorted"``, ``"smallbin 0x90"``, ``"largebin 0x400+"``:
    the chunk size a bin holds, in hex as glibc's and pwndbg's tables write it (``+``: and up,
    to the next large bin's lower bound)."""
    if bin_id < _N_TCACHE:
        return f"tcache {32 + 16 * bin_id:#x}"
    if bin_id >= _FIRST_LARGE_TC:             # list 64 + k: chunks from 2^(10 + k) bytes (k = 0: from 0x410)
        k = bin_id - _FIRST_LARGE_TC
        return f"tcache {0x410 if k == 0 else 1 << (10 + k):#x}+"
    if bin_id < _N_TCACHE + _N_FAST:
        return f"fastbin {32 + 16 * (bin_id - _N_TCACHE):#x}"
    i = bin_id - _N_TCACHE - _N_FAST + 1
    if i == 1:
        return "unsorted"
    if i < 64:
        return f"smallbin {16 * i:#x}"
    return f"largebin {_LARGE_LOWER[i]:#x}+"


def _bin_size(bin_id: int) -> int | None:
    if bin_id >= _FIRST_LARGE_TC:
        return None
    if bin_id < _N_TCACHE:
        return 32 + 16 * bin_id
    if bin_id < _N_TCACHE + _N_FAST:
        return 32 + 16 * (bin_id - _N_TCACHE)
    i = bin_id - _N_TCACHE - _N_FAST + 1
    return 16 * i if 1 < i < 64 else None


_BIN_NAME = [bin_name(i) for i in range(_FIRST_LARGE_TC + 12)]
_BIN_TYPE = [bin_type(i) for i in range(_FIRST_LARGE_TC + 12)]
_BIN_SIZE = [_bin_size(i) for i in range(_FIRST_LARGE_TC + 12)]


@dataclass(frozen=True)
class GlibcStep(Step):
    """A ``Step`` of glibc's heap with what only glibc has (all fields beyond ``Step``'s optional).

    ``blocks``: every chunk below and including the top chunk, (offset, size, used, owner),
    used for the trace's chunks and glibc's tcache chunk; ``bins``: the non-empty bins in
    glibc's order (tcache by size, fastbins, unsorted, small bins, large bins), each list from
    its head (``fd`` order; malloc takes a small bin's or the unsorted bin's chunks from the
    other end, the tail); ``changed``: the chunk a malloc returned, or the chunk that now holds
    the memory a free gave back (after a merge)."""
    chunks: tuple = ()               # Chunk per chunk, in address order (flags, exact state)
    top: tuple | None = None         # (offset, size) of the top chunk; None before the first malloc
    system_mem: int = 0              # av->system_mem: bytes main_arena got from the kernel (brk)
    served: str | None = None        # a malloc: the bin its chunk came from, "top", "mmap", ...
    tcache_counts: dict = field(default_factory=dict)   # bin name -> glibc's own tcache count

    @property
    def footprint(self) -> int:
        """The bytes below the top chunk (mallinfo2's arena - keepcost), the tcache chunk included."""
        return self.top[0] if self.top else 0

    def bin_of(self, offset: int) -> str | None:
        for b in self.bins:
            if offset in b.offsets:
                return b.name
        return None

    def bins_text(self) -> str:
        """One line per non-empty bin, its chunks from the head (``tcache 0x30: +752 (48 B) → +704 (48 B)``)."""
        if not len(self.bins):
            return "(every bin is empty)"
        size = {c.offset: c.size for c in self.chunks}
        return "\n".join(f"{b.name}: " + " → ".join(f"+{o} ({size.get(o, '?')} B)" for o in b.offsets)
                         for b in self.bins)


def parse_malloc_info(xml: str) -> dict:
    """glibc's malloc_info(0, fp) XML for the main heap: {"fast": (count, bytes), "rest": (count,
    bytes), "sizes": [(from, to, total, count)], "unsorted": (from, to, total, count) or None}.
    "rest" counts the top chunk and every chunk of the unsorted, small and large bins; glibc sums
    those chunks' size fields with their flag bits (chunksize_nomask); the tcache is not in it."""
    heap = xml.split("</heap>")[0]
    out = {"sizes": [], "unsorted": None}
    for kind, count, size in re.findall(r'<total type="(fast|rest)" count="(\d+)" size="(\d+)"/>', heap):
        out[kind] = (int(count), int(size))
    for tag, a, b, t, c in re.findall(r'<(size|unsorted) from="(\d+)" to="(\d+)" total="(\d+)" count="(\d+)"/>', heap):
        row = (int(a), int(b), int(t), int(c))
        if tag == "size":
            out["sizes"].append(row)
        else:
            out["unsorted"] = row
    return out


class GlibcSteps(Sequence):
    """The steps of one glibc replay, built when asked for (``steps[i]`` is a ``GlibcStep``).

    The probe's output is parsed once into per-step changes; the full state is kept every
    ``CHECKPOINT`` steps and after the last step asked for, so the next step (the slider moving
    on) costs one step's changes, and any step at most CHECKPOINT steps' changes."""

    def __init__(self, trace, text: str, tunables: str | None = None):
        self.trace, self.tunables, self.raw = trace, tunables, text
        ids = {v: k for k, v in numeric_ids(trace.ops).items()}
        self._names = ids
        body, _, info = text.partition("end\n")
        self.malloc_info = parse_malloc_info(info) if info.strip() else None
        self._deltas: list = []          # per step: (chunk changes, bin changes, top or None)
        self._result: list = []          # per step: what the alloc returned: offset, "mmap", "null", None
        self.mmapped: list = []          # (id, chunk size) of requests mmap served
        self.arena_candidates = 0        # words in libc that looked like main_arena (one passed the checks)
        self.glibc = (0, 0)              # the glibc the probe read, as it reported it
        pending_alloc = None
        cur = None
        for line in body.splitlines():
            tag, _, rest = line.partition(" ")
            if tag == "s":
                cur = ([], [], None)
                self._deltas.append(cur)
                self._result.append(pending_alloc)
                pending_alloc = None
            elif tag == "c":
                off, size, flags, st, owner = rest.split()
                cur[0].append((int(off), (int(size), int(flags), st, int(owner))))
            elif tag == "x":
                cur[0].append((int(rest), None))
            elif tag == "b":
                f = rest.split()
                bid = int(f[0])
                count = None
                if len(f) > 1 and f[1].startswith("n="):
                    count = int(f[1][2:])
                    f = f[1:]
                cur[1].append((bid, tuple(int(x) for x in f[1:]), count))
            elif tag == "t":
                a, b, c = rest.split()
                self._deltas[-1] = cur = (cur[0], cur[1], (int(a), int(b), int(c)))
            elif tag == "a":
                pending_alloc = int(rest) if rest.lstrip("-").isdigit() else rest.split()[0]
                if pending_alloc == "mmap":
                    op = trace.ops[len(self._deltas) - 1]     # the "a" line comes before its "s" line
                    self.mmapped.append((op.id, int(rest.split()[1])))
            elif tag == "error":
                raise RuntimeError(f"glibc_probe: {line}")
            elif tag == "arena":
                self.arena_candidates = int(rest)
            elif tag == "glibc":
                self.glibc = tuple(int(x) for x in rest.split()[0].split("."))
        if len(self._deltas) != len(trace.ops) + 1:
            raise RuntimeError(f"glibc_probe stopped after {len(self._deltas) - 1} of {len(trace.ops)} operations")
        self._prepare()
        self._cache: dict = {}
        self._interned: dict = {}        # (offset, row) -> (Chunk, block tuple, figures tuple)
        self._bins_made: dict = {}       # (bin id, offsets) -> Bin
        self._last = None                # (index, state) of the last step built

    # the running state: [chunks {off: (size, flags, state, owner)}, bins {id: offsets}, counts {id: n}, top]
    @staticmethod
    def _apply(state, delta):
        chunks, bins, counts, _top = state
        for off, row in delta[0]:
            if row is None:
                chunks.pop(off, None)
            else:
                chunks[off] = row
        for bid, offs, count in delta[1]:
            if offs or count:
                bins[bid] = offs
                if count is not None:
                    counts[bid] = count
            else:
                bins.pop(bid, None)
                counts.pop(bid, None)
        if delta[2] is not None:
            state[3] = delta[2]

    @staticmethod
    def _copy(state):
        return [dict(state[0]), dict(state[1]), dict(state[2]), state[3]]

    def _prepare(self):
        """One pass: checkpoints, live bytes, where each malloc's chunk came from, freed offsets."""
        state = [{}, {}, {}, None]
        self._checkpoints = []
        self._live, self._served, self._touched = [], [], []
        where: dict = {}                 # chunk offset -> bin id, for the state before each step
        live, at, sizes = 0, {}, {}      # live bytes; id -> chunk offset, requested size
        for i, delta in enumerate(self._deltas):
            op = self.trace.ops[i - 1] if i else None
            served, touched = None, None
            if op is not None and op.kind == OpKind.ALLOC:
                live += op.size
                sizes[op.id] = op.size
                r = self._result[i]
                if isinstance(r, int):
                    at[op.id] = touched = r
                    served = self._where_from(r, state, where, delta)
                else:
                    served = r
            elif op is not None:
                live -= sizes.pop(op.id, 0)
                touched = at.pop(op.id, None)
            for bid, offs, _count in delta[1]:
                for o in state[1].get(bid, ()):
                    if where.get(o) == bid:
                        del where[o]
                for o in offs:
                    where[o] = bid
            self._apply(state, delta)
            if i % CHECKPOINT == 0:      # the state after step i
                self._checkpoints.append(self._copy(state))
            self._live.append(live)
            self._served.append(served)
            self._touched.append(touched)

    @staticmethod
    def _where_from(off, state, where, delta):
        """Where the chunk a malloc returned at ``off`` came from, judged on the state before it."""
        chunks, _bins, _counts, top = state
        new = dict(delta[0]).get(off) or chunks.get(off)
        bid = where.get(off)
        if bid is not None:
            old = chunks.get(off)
            if old is not None and new is not None and old[0] > new[0]:
                return _BIN_NAME[bid] + " (split)"          # the rest of the chunk stayed free
            if old is not None and new is not None and old[0] < new[0]:
                return "free chunks merged"                 # malloc_consolidate ran first
            return _BIN_NAME[bid]
        if top is None or off == top[0]:
            return "top"
        return "free chunks merged" if off in chunks and chunks[off][2] != "used" else "other"

    def __len__(self):
        return len(self._deltas)

    def _state(self, i):
        if self._last is not None and self._last[0] <= i < self._last[0] + CHECKPOINT:
            j, state = self._last
        else:
            j = i - i % CHECKPOINT
            state = self._copy(self._checkpoints[j // CHECKPOINT])
        for k in range(j + 1, i + 1):
            self._apply(state, self._deltas[k])
        self._last = (i, state)
        return state

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        s = self._cache.get(i)
        if s is None:
            if len(self._cache) > 512:
                self._cache.clear()
            s = self._cache[i] = self._build(i)
        return s

    def _build(self, i) -> GlibcStep:
        chunks, bins, counts, top = self._state(i)
        names, interned = self._names, self._interned
        if len(interned) > 200_000:
            interned.clear()
        rows, blocks, body = [], [], []
        for off in sorted(chunks):
            key = (off, chunks[off])
            got = interned.get(key)
            if got is None:                  # a chunk unchanged since an earlier step: the same objects
                size, flags, st, owner = key[1]
                own = names.get(owner, "") if owner >= 0 else ""
                c = Chunk(off, size, flags, st, own)
                used = st in ("used", "tcache_struct", "fast_or_other")
                got = interned[key] = (c, (off, size, int(used), own if st == "used" else _PICTURE_OWNER[c.state]),
                                       (off, size, used) if st != "top" else None)
            rows.append(got[0])
            blocks.append(got[1])
            if got[2] is not None:
                body.append(got[2])
        made = self._bins_made
        if len(made) > 50_000:
            made.clear()
        b = []
        for k in sorted(bins):
            one = made.get((k, bins[k]))
            if one is None:
                one = made[(k, bins[k])] = Bin(_BIN_NAME[k], _BIN_TYPE[k], bins[k], _BIN_SIZE[k])
            b.append(one)
        b = Bins(b)
        changed = self._touched[i]
        if changed is not None and changed not in chunks and rows:       # merged: the chunk that holds it now
            offs = [c.offset for c in rows]
            changed = offs[max(bisect_right(offs, changed) - 1, 0)]
        op = self.trace.ops[i - 1] if i else None
        failed = op is not None and op.kind == OpKind.ALLOC and self._result[i] == "null"
        return GlibcStep(i, op, tuple(blocks), b, figures_of(body, self._live[i]), failed, changed, 0,
                         chunks=tuple(rows), top=(top[0], top[1]) if top else None,
                         system_mem=top[2] if top else 0, served=self._served[i],
                         tcache_counts={_BIN_NAME[k]: n for k, n in counts.items()})

    @property
    def peak_live(self) -> int:
        return max(self._live, default=0)

    @property
    def footprints(self) -> list:
        """The bytes below the top chunk after every step (step 0: 0)."""
        out, top = [], None
        for d in self._deltas:
            if d[2] is not None:
                top = d[2]
            out.append(top[0] if top else 0)
        return out

    @property
    def served(self) -> list:
        """For every step: where its malloc's chunk came from (None for a free)."""
        return list(self._served)

    def __repr__(self):
        return (f"GlibcSteps({self.trace.name!r}: {len(self) - 1} operations"
                f"{', ' + self.tunables if self.tunables else ''})")


def glibc_steps(trace, tunables: str | None = None, info: bool = False) -> GlibcSteps:
    """Replay a trace in a fresh process with glibc malloc; one ``GlibcStep`` per operation.

    tunables: a GLIBC_TUNABLES value (``NO_TCACHE``); info=True also keeps glibc's own
    ``malloc_info()`` after the last step, parsed (``steps.malloc_info``).
    ``steps[i].served`` tells where a malloc's chunk came from: the bin that held a chunk at
    the same offset just before the call ("tcache 0x30", "fastbin 0x20", "unsorted",
    "smallbin 0x90", "largebin 0x400+"; when that chunk was bigger, the rest went back to a
    bin or to top), "top", "mmap", or "free chunks merged" (malloc first consolidated them)."""
    trace = as_trace(trace)
    with tempfile.TemporaryDirectory(prefix="glibc-steps-") as d:   # output can be megabytes: a file, not a pipe
        out = Path(d) / "steps.txt"
        argv = [build_probe("glibc_probe"), "steps", write_trace(trace), f">{out}"] + (["info"] if info else [])
        run_probe(argv, env={"GLIBC_TUNABLES": tunables} if tunables else None)
        text = out.read_text()
    return GlibcSteps(trace, text, tunables)
