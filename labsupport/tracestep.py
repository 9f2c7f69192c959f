"""Allocation traces for lesson 01 (heap managers): parse, replay, measure, step.

A trace is a small text file, one operation per line::

    # arena: 4096          (optional: the teaching allocator's arena size)
    alloc a 24             allocate 24 bytes and call the block "a"
    free a                 free it

Ids are any word without spaces. ``#`` starts a comment.

``replay(trace, policy=...)`` runs a trace against the teaching allocator
(``native_examples/01_heap_managers/talloc.c``, built in-process with cffi) and
keeps the heap after every step: blocks, free-list order and the figures below.
``replay_glibc`` / ``replay_mimalloc`` run the same trace in a fresh child
process against the real allocators and read their heaps back as offsets.

Figures (the same definitions for every allocator):

* footprint: bytes from the heap start to the end of the highest block in use
  (the high-water mark of what the heap holds); the untouched tail above it
  (glibc's top chunk, mimalloc's unused pages) is not counted;
* utilisation = live requested bytes / footprint (1.0 would be perfect; 0 for an empty heap);
* holes: free bytes below the footprint; largest hole;
* external fragmentation = 1 - largest hole / holes (0: the free memory is one
  piece; near 1: it is crumbs), defined once in ``heapmap.fragmentation``.
  For mimalloc it is not reported: every free slot of a page has the page's one
  block size, so "largest hole" says nothing about which requests would fit.

Offsets are decimal. For glibc, a chunk's offset is the position of its 8-byte
size field, counted from the size field of the heap's first chunk; a chunk runs
from its size field to the next chunk's size field (its last 8 bytes are what
glibc's source calls the next chunk's ``prev_size``).

``Stepper`` is the widget: a slider over the precomputed states; each step only
swaps three small HTML strings (an SVG heap map, the free list, the figures),
so it stays far below 100 ms per step on a 1,000-operation trace.
"""
from __future__ import annotations

import hashlib
import html
import os
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .cbuild import build_c_file, build_program
from .heapmap import COLORS, Block, fragmentation    # the stepper's SVG uses the heap map's colours
from .isolate import run_c, run_program
from .toolchain import cache_dir, example_path, mimalloc

LESSON = "01_heap_managers"
POLICIES = {"first": 0, "next": 1, "best": 2}
ORDERS = {"lifo": 0, "address": 1}
DEFAULT_ARENA = 16384


def example_dir() -> Path:
    return example_path(LESSON)


def trace_dir() -> Path:
    return example_dir() / "traces"


# ---------------------------------------------------------------------------
# traces
# ---------------------------------------------------------------------------
class TraceError(ValueError):
    """A trace line that cannot be replayed; the message names the line."""


@dataclass(frozen=True)
class Op:
    kind: str            # "alloc" or "free"
    id: str
    size: int = 0        # alloc only
    line: int = 0        # 1-based line in the text

    def __str__(self):
        return f"alloc {self.id} {self.size}" if self.kind == "alloc" else f"free {self.id}"


@dataclass
class Trace:
    ops: list
    name: str = "trace"
    arena: int | None = None

    def __len__(self):
        return len(self.ops)

    def __iter__(self):
        return iter(self.ops)

    def __getitem__(self, i):
        return self.ops[i]

    def text(self, numeric: bool = False) -> str:
        """The trace as text; ``numeric=True`` renames ids to 0, 1, 2... (what the C side reads)."""
        ids = numeric_ids(self.ops) if numeric else None
        lines = []
        for op in self.ops:
            i = ids[op.id] if ids else op.id
            lines.append(f"alloc {i} {op.size}" if op.kind == "alloc" else f"free {i}")
        return "\n".join(lines) + "\n"

    def __repr__(self):
        return f"Trace({self.name!r}: {len(self.ops)} operations)"


def numeric_ids(ops) -> dict:
    ids: dict = {}
    for op in ops:
        ids.setdefault(op.id, len(ids))
    return ids


def parse_trace(text: str, name: str = "trace") -> Trace:
    """Parse trace text; raise TraceError naming the line of the first problem."""
    ops, live, arena = [], set(), None
    for n, raw in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*#\s*arena\s*:?\s*(\d+)", raw)
        if m:
            arena = int(m.group(1))
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if parts[0] == "alloc" and len(parts) == 3:
            try:
                size = int(parts[2], 0)
            except ValueError:
                raise TraceError(f"line {n}: size {parts[2]!r} is not a number: {raw.strip()!r}") from None
            if size < 0:
                raise TraceError(f"line {n}: negative size: {raw.strip()!r}")
            if parts[1] in live:
                raise TraceError(f"line {n}: {parts[1]!r} is already allocated (free it first): {raw.strip()!r}")
            live.add(parts[1])
            ops.append(Op("alloc", parts[1], size, n))
        elif parts[0] == "free" and len(parts) == 2:
            if parts[1] not in live:
                raise TraceError(f"line {n}: {parts[1]!r} is not allocated: {raw.strip()!r}")
            live.discard(parts[1])
            ops.append(Op("free", parts[1], 0, n))
        else:
            raise TraceError(f"line {n}: expected 'alloc ID SIZE' or 'free ID', got {raw.strip()!r}")
    if len(numeric_ids(ops)) > 65536:
        raise TraceError("more than 65,536 different ids")
    return Trace(ops, name, arena)


def load_trace(name: str) -> Trace:
    """A trace shipped with the lesson (``"fragment"``) or any path to a trace file."""
    p = Path(name)
    if not p.exists():
        p = trace_dir() / (name if name.endswith(".trace") else name + ".trace")
    if not p.exists():
        have = ", ".join(sorted(x.stem for x in trace_dir().glob("*.trace")))
        raise FileNotFoundError(f"no trace {name!r}; the lesson ships: {have}")
    return parse_trace(p.read_text(), p.stem)


def random_trace(n_ops: int = 1000, seed: int = 1, sizes=(16, 600), max_live: int = 60,
                 name: str | None = None) -> Trace:
    """A reproducible random trace: allocations of random sizes, frees of random live blocks."""
    rng = random.Random(seed)
    ops, live, next_id = [], [], 0
    while len(ops) < n_ops:
        if live and (len(live) >= max_live or rng.random() < 0.45):
            i = live.pop(rng.randrange(len(live)))
            ops.append(Op("free", f"b{i}", 0, len(ops) + 1))
        else:
            ops.append(Op("alloc", f"b{next_id}", rng.randint(*sizes), len(ops) + 1))
            live.append(next_id)
            next_id += 1
    return Trace(ops, name or f"random{n_ops}-{seed}")


def _as_trace(trace) -> Trace:
    if isinstance(trace, Trace):
        return trace
    if isinstance(trace, str):
        return parse_trace(trace) if "\n" in trace or trace.startswith(("alloc", "free")) else load_trace(trace)
    return Trace(list(trace))


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Figures:
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
    Footprint, holes and external fragmentation come from ``heapmap.fragmentation``,
    the course's one definition."""
    f = fragmentation(blocks)
    return Figures(live=live, footprint=f.footprint, holes=f.holes, largest_hole=f.largest_hole,
                   utilisation=(live / f.footprint) if f.footprint else 0.0,
                   external_fragmentation=f.external_fragmentation, failed=failed)


# ---------------------------------------------------------------------------
# the teaching allocator
# ---------------------------------------------------------------------------
_module = None


def talloc_module():
    """The teaching allocator, built once with cffi (``lab.build_c_file``)."""
    global _module
    if _module is None:
        _module = build_c_file(example_dir() / "talloc.c", cflags=("-O2", "-g", "-Wall"))
    return _module


@dataclass(frozen=True)
class State:
    step: int                    # 0 = before the first operation
    op: Op | None
    blocks: tuple                # ((offset, size, used, owner), ...) in address order
    freelist: tuple              # offsets, in free-list order
    figures: Figures
    failed: bool = False         # this step's allocation did not fit
    changed: int | None = None   # offset of the block this step touched
    searched: int = 0            # free-list blocks examined by this step

    def heap_blocks(self):
        """The blocks as ``lab.Block`` for ``lab.draw_heap`` / ``lab.HeapMap``."""
        return [Block(o, s, "used" if u else "free", own) for o, s, u, own in self.blocks]


@dataclass
class Replay:
    trace: Trace
    policy: str
    order: str
    arena_size: int
    states: list = field(default_factory=list)

    def __len__(self):
        return len(self.states)

    def __getitem__(self, i) -> State:
        return self.states[i]

    @property
    def final(self) -> State:
        return self.states[-1]

    @property
    def failures(self) -> list:
        """The steps whose allocation did not fit."""
        return [s for s in self.states if s.failed]

    @property
    def peak_footprint(self) -> int:
        return max(s.figures.footprint for s in self.states)

    @property
    def searched(self) -> int:
        return sum(s.searched for s in self.states)

    def summary(self) -> dict:
        f = self.final.figures
        return {"policy": f"{self.policy}/{self.order}", "peak footprint B": self.peak_footprint,
                "fixed meta B": 8, "peak w/o meta B": self.peak_footprint - 8,
                "failed allocs": len(self.failures), "final holes B": f.holes,
                "final largest hole B": f.largest_hole,
                "final ext. fragmentation": round(f.external_fragmentation, 3),
                "blocks searched": self.searched}

    def __repr__(self):
        return (f"Replay({self.trace.name!r}, {self.policy} fit, {self.order} free list, "
                f"arena {self.arena_size:,} B: {len(self.trace)} steps, "
                f"peak footprint {self.peak_footprint:,} B, {len(self.failures)} failed)")


def replay(trace, policy: str = "first", order: str = "lifo", arena_size: int | None = None,
           coalesce: bool = True, module=None) -> Replay:
    """Replay a trace against the teaching allocator; keep the heap after every step."""
    trace = _as_trace(trace)
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}")
    arena_size = arena_size or trace.arena or DEFAULT_ARENA
    m = module or talloc_module()
    ffi, lib = m.ffi, m.lib
    if arena_size % 16:
        raise ValueError("arena_size must be a multiple of 16")
    mem = ffi.new("unsigned char[]", arena_size + 16)
    pad = -int(ffi.cast("uintptr_t", mem)) % 16            # start on a 16-byte boundary
    heap = ffi.new("ta_heap *")
    if lib.ta_init(heap, mem + pad, arena_size, POLICIES[policy], ORDERS[order], int(coalesce)) != 0:
        raise ValueError(f"arena of {arena_size} bytes is too small")
    base = int(ffi.cast("uintptr_t", heap.base))
    maxb = arena_size // 32 + 2
    info = ffi.new("ta_info[]", maxb)
    fl = ffi.new("long[]", maxb)
    live: dict = {}          # id -> (payload pointer, requested size)
    owner_at: dict = {}      # block offset -> id
    live_total = failed = 0
    r = Replay(trace, policy, order, arena_size)

    def snapshot(step, op, failed_here, changed, searched):
        n = lib.ta_walk(heap, info, maxb)
        if n < 0:
            raise RuntimeError(f"step {step}: the heap walk broke (corrupted block sizes)")
        blocks = tuple((info[i].offset, info[i].size, int(info[i].used),
                        owner_at.get(info[i].offset, "") if info[i].used else "") for i in range(n))
        k = lib.ta_freelist(heap, fl, maxb)
        freelist = tuple(fl[i] for i in range(max(k, 0)))
        figs = figures_of(((o, s, u) for o, s, u, _ in blocks), live_total, failed)
        r.states.append(State(step, op, blocks, freelist, figs, failed_here, changed, searched))

    snapshot(0, None, False, None, 0)
    for step, op in enumerate(trace.ops, 1):
        before = heap.searched
        changed, failed_here = None, False
        if op.kind == "alloc":
            p = lib.ta_malloc(heap, op.size)
            if p == ffi.NULL:
                failed += 1
                failed_here = True
            else:
                changed = int(ffi.cast("uintptr_t", p)) - base - 8
                live[op.id] = (p, op.size)
                owner_at[changed] = op.id
                live_total += op.size
        else:
            p, size = live.pop(op.id, (None, 0))
            if p is not None:
                changed = int(ffi.cast("uintptr_t", p)) - base - 8
                owner_at.pop(changed, None)
                live_total -= size
                lib.ta_free(heap, p)
        snapshot(step, op, failed_here, changed, heap.searched - before)
    return r


def compare_policies(trace, arena_size: int | None = None, policies=None, module=None) -> list:
    """One summary row per (policy, order): replay the same trace under each."""
    policies = policies or [("first", "lifo"), ("first", "address"), ("next", "lifo"), ("best", "lifo")]
    return [replay(trace, p, o, arena_size, module=module).summary() for p, o in policies]


def check_module(module, trace, policy: str = "first", order: str = "lifo",
                 arena_size: int | None = None, timeout: float = 10) -> str:
    """Replay ``trace`` against an allocator built from talloc.c (yours, with your
    ta_coalesce) in an isolated child, checking every heap invariant after every
    step. Returns "ok" or what broke at which step."""
    trace = _as_trace(trace)
    arena = arena_size or trace.arena or DEFAULT_ARENA
    r = run_c(module, "ta_replay_check", trace.text(numeric=True).encode(), POLICIES[policy],
              ORDERS[order], arena, timeout=timeout)
    text = (r.stdout or "").strip()
    step_lines = [ln for ln in text.splitlines() if ln.startswith("step ")]
    if r.ok and r.value == 0:
        return "ok"
    ids = {v: k for k, v in numeric_ids(trace.ops).items()}
    if step_lines:
        msg = step_lines[-1]
        m = re.match(r"step (\d+) \((.*?)\): (.*)", msg)
        if m:                                   # put the trace's own ids back
            op = trace.ops[int(m.group(1)) - 1]
            msg = f"step {m.group(1)} ({op}): {m.group(3)}"
            msg = re.sub(r"live block (\d+)", lambda x: f"live block {ids.get(int(x.group(1)), x.group(1))}", msg)
            msg = re.sub(r"^(.*)block (\d+) was", lambda x: f"{x.group(1)}block {ids.get(int(x.group(2)))} was", msg)
        if r.signal:
            msg += f" [{r.signal}]"
        return msg
    if r.timed_out:
        return "the replay did not finish (an endless loop?)"
    return f"the replay failed: {r.status() if hasattr(r, 'status') else r}: {text[-200:]}"


# ---------------------------------------------------------------------------
# real allocators, in fresh child processes
# ---------------------------------------------------------------------------
def build_probe(name: str) -> Path:
    """Compile ``glibc_probe`` or ``mi_probe`` (an executable) into the cache; reused when unchanged."""
    cflags = ["-O1", f"-I{example_dir()}"]
    ldflags: list = []
    if name == "mi_probe":
        mi = mimalloc()
        cflags.append(f"-I{mi.include_dir}")
        ldflags = [f"-L{mi.lib_dir}", "-lmimalloc", f"-Wl,-rpath,{mi.lib_dir}"]
    return build_program([example_dir() / f"{name}.c"], cflags=cflags, ldflags=ldflags)


NO_TCACHE = "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0"


@dataclass(frozen=True)
class Chunk:
    """One glibc chunk: offset from the heap start, size, flag bits P=1 M=2 A=4, state, owner."""
    offset: int
    size: int
    flags: int
    state: str            # used, free (in a bin), tcache, top, tcache_struct, fast_or_other
    owner: str = ""

    def __str__(self):
        bits = f"P={self.flags & 1} M={self.flags >> 1 & 1} A={self.flags >> 2 & 1}"
        return f"+{self.offset:<6} {self.size:>7}  {bits}  {self.state:<13} {self.owner}"


@dataclass
class RealHeap:
    allocator: str
    blocks: list                 # lab.Block list, offsets from the heap start
    footprints: list             # per step
    figures: Figures
    pages: list = field(default_factory=list)   # mimalloc: (offset, reserved, committed, block_size, used)
    mmapped: list = field(default_factory=list)  # glibc: (id, chunk size) served by mmap
    chunks: list = field(default_factory=list)   # glibc: Chunk rows, in address order
    usable: dict = field(default_factory=dict)   # mimalloc: id -> usable size of its block
    meta: int = 0                # fixed bookkeeping inside the footprint (glibc: the tcache chunk)
    raw: str = ""

    def table(self) -> str:
        """glibc: one line per chunk; mimalloc: one line per page."""
        if self.chunks:
            return "offset     size  flags        state         owner\n" + "\n".join(map(str, self.chunks))
        rows = [f"page {i:>2}: block size {bs:>5}  blocks in use {u:>3}  carved {c:>6} of {r:>6} B"
                for i, (o, r, c, bs, u) in enumerate(sorted(self.pages), 1)]
        return "\n".join(rows)

    @property
    def peak_footprint(self) -> int:
        return max(self.footprints, default=0)

    def picture(self, top: bool = True) -> list:
        """glibc: blocks for ``lab.draw_heap`` in the course's picture of a chunk (lesson 00):
        its 8-byte size field (meta), then the rest of the chunk, up to the next size field.
        top=False leaves the top chunk out. mimalloc: the blocks as they are."""
        if not self.chunks:
            return list(self.blocks)
        out = []
        for b in self.blocks:
            if b.owner == "top" and not top:
                continue
            out.append(Block(b.offset, 8, "meta", ""))
            out.append(Block(b.offset + 8, b.size - 8, b.state, b.owner))
        return out

    def summary(self) -> dict:
        f = self.figures
        mi = self.allocator == "mimalloc"       # equal-size slots: ext. fragmentation means nothing there
        return {"policy": self.allocator, "peak footprint B": self.peak_footprint,
                "fixed meta B": self.meta, "peak w/o meta B": self.peak_footprint - self.meta,
                "failed allocs": 0, "final holes B": f.holes, "final largest hole B": f.largest_hole,
                "final ext. fragmentation": None if mi else round(f.external_fragmentation, 3),
                "blocks searched": None}


def _write_trace(trace: Trace) -> Path:
    text = trace.text(numeric=True)
    p = Path(cache_dir()) / "lesson01" / f"trace-{hashlib.sha256(text.encode()).hexdigest()[:12]}.trace"
    p.parent.mkdir(parents=True, exist_ok=True)
    if not p.exists():              # atomic: another process may read the same file at once
        tmp = p.with_name(f"{p.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, p)
    return p


def _run_probe(argv, env=None):
    r = run_program([str(a) for a in argv], timeout=30, env=env)
    if not r.ok:
        raise RuntimeError(f"{Path(str(argv[0])).name} failed: {r}\n{r.stderr[-500:]}")
    return r.stdout


def replay_glibc(trace, stop: int | None = None, tunables: str | None = None) -> RealHeap:
    """Replay in a fresh process with glibc malloc; walk its chunks.

    tunables: a GLIBC_TUNABLES value, e.g. ``NO_TCACHE`` to switch tcache and fastbins off.
    Chunk states: used (owner = trace id), free (in a bin: the next chunk's P bit is clear),
    tcache (free but parked in the tcache), top, and the tcache's own chunk (meta)."""
    trace = _as_trace(trace)
    ids = {v: k for k, v in numeric_ids(trace.ops).items()}
    argv = [build_probe("glibc_probe"), "trace", _write_trace(trace), -1 if stop is None else stop]
    text = _run_probe(argv, env={"GLIBC_TUNABLES": tunables} if tunables else None)
    blocks, foot, mmapped, chunks = [], [], [], []
    for line in text.splitlines():
        f = line.split()
        if f[0] == "step":
            foot.append(int(f[2]))
        elif f[0] == "mmapped":
            mmapped.append((ids[int(f[1])], int(f[2])))
        elif f[0] == "chunk":
            off, size, flags, state, owner = int(f[1]), int(f[2]), int(f[3]), f[4], int(f[5])
            chunks.append(Chunk(off, size, flags, state, ids.get(owner, "") if owner >= 0 else ""))
            if state == "used":
                blocks.append(Block(off, size, "used", ids.get(owner, "")))
            elif state in ("free", "tcache", "top"):
                blocks.append(Block(off, size, "free", {"free": "", "tcache": "in tcache"}.get(state, state)))
            else:
                blocks.append(Block(off, size, "meta", "glibc's tcache" if state == "tcache_struct" else "other"))
    live = live_bytes(trace, stop)
    body = [(b.offset, b.size, b.state != "free") for b in blocks if b.owner != "top"]
    meta = sum(c.size for c in chunks if c.state == "tcache_struct")
    return RealHeap("glibc" + (" (no tcache)" if tunables else ""), blocks, foot,
                    figures_of(body, live), mmapped=mmapped, chunks=chunks, meta=meta, raw=text)


def replay_mimalloc(trace, stop: int | None = None) -> RealHeap:
    """Replay in a fresh process into a private mimalloc heap (``mi_heap_new``); list its pages.

    Footprint here is the sum of the committed bytes of the heap's pages (each page
    holds one size class); holes are the free blocks inside those pages."""
    trace = _as_trace(trace)
    ids = {v: k for k, v in numeric_ids(trace.ops).items()}
    argv = [build_probe("mi_probe"), "trace", _write_trace(trace), -1 if stop is None else stop]
    text = _run_probe(argv)
    pages, blocks, foot, usable = [], [], [], {}
    for line in text.splitlines():
        f = line.split()
        if f[0] == "step":
            foot.append(int(f[3]))
        elif f[0] == "page":
            pages.append(tuple(int(x) for x in f[1:6]))
        elif f[0] == "block":
            blocks.append((len(pages) - 1, int(f[1]), ids.get(int(f[2]), ""), int(f[3])))
            usable[ids.get(int(f[2]), "")] = int(f[3])
    # per page: used blocks and the free gaps between them (within the committed part)
    out, pos = [], 0
    live_in = {}
    for pi, off, owner, _usable in blocks:
        live_in.setdefault(pi, []).append((off, owner))
    committed_total = 0
    for pi, (poff, reserved, committed, bsize, used) in enumerate(pages):
        committed_total += committed
        taken = dict(live_in.get(pi, []))
        nblocks = max(committed // bsize, max((o // bsize + 1 for o in taken), default=0)) if bsize else 0
        for k in range(nblocks):
            o = k * bsize
            if o in taken:
                out.append(Block(pos + o, bsize, "used", taken[o]))
            else:
                out.append(Block(pos + o, bsize, "free", ""))
        pos += max(nblocks * bsize, 16)
    live = live_bytes(trace, stop)
    # free slots are the holes; external fragmentation is computed the one way, but
    # summary() leaves it out: every free slot of a page has that page's block size
    f = fragmentation([(0, committed_total, 1)] + [(0, b.size, 0) for b in out if b.state == "free"])
    figs = Figures(live=live, footprint=committed_total, holes=f.holes, largest_hole=f.largest_hole,
                   utilisation=(live / committed_total) if committed_total else 0.0,
                   external_fragmentation=f.external_fragmentation)
    return RealHeap("mimalloc", out, foot, figs, pages=pages, usable=usable, raw=text)


def live_bytes(trace: Trace, stop: int | None = None) -> int:
    """Bytes requested and still allocated after the first `stop` operations (all when None)."""
    live = {}
    for op in trace.ops[: len(trace.ops) if stop is None or stop < 0 else stop]:
        if op.kind == "alloc":
            live[op.id] = op.size
        else:
            live.pop(op.id, None)
    return sum(live.values())


# ---------------------------------------------------------------------------
# the trace stepper widget
# ---------------------------------------------------------------------------
def _row_bytes(span: int) -> int:
    rb = 64
    while span / rb > 24:
        rb *= 2
    return rb


def heap_svg(state: State, arena_size: int, width: int = 720, row_h: int = 16) -> str:
    """The heap of one state as an SVG string (cheap: no matplotlib)."""
    rb = _row_bytes(arena_size)
    nrows = -(-arena_size // rb)
    scale = width / rb
    label_w = 56
    order = {off: i for i, off in enumerate(state.freelist, 1)}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + label_w + 4}" '
             f'height="{nrows * row_h + 4}" style="font-family:monospace;font-size:9px">']
    for r in range(nrows):
        parts.append(f'<text x="0" y="{r * row_h + 12}" fill="#666">+{r * rb}</text>')
    # prologue and epilogue tags
    spans = [(0, 8, "meta", "", None), (arena_size - 8, 8, "meta", "", None)]
    spans += [(o, s, "used" if u else "free", own, order.get(o)) for o, s, u, own in state.blocks]
    for off, size, st, own, fl in spans:
        pos, end = off, off + size
        first = True
        while pos < end:
            row, x = divmod(pos, rb)
            w = min(end - pos, rb - x)
            X, Y, W = label_w + x * scale, row * row_h + 2, max(w * scale - 0.8, 0.6)
            outline = ' stroke="#d62728" stroke-width="2"' if off == state.changed else ""
            parts.append(f'<rect x="{X:.1f}" y="{Y}" width="{W:.1f}" height="{row_h - 3}" '
                         f'fill="{COLORS[st]}"{outline}><title>+{off} {size} B {st} {html.escape(own)}'
                         f'{" (free list #%d)" % fl if fl else ""}</title></rect>')
            if first and W > 22:
                label = html.escape(own) if st == "used" else (f"#{fl}" if fl else "")
                if label:
                    color = "white" if st == "used" else "#333"
                    parts.append(f'<text x="{X + 2:.1f}" y="{Y + 10}" fill="{color}">{label[: int(W // 6)]}</text>')
            first = False
            pos += w
    parts.append("</svg>")
    return "".join(parts)


def freelist_html(state: State, limit: int = 12) -> str:
    sizes = {o: s for o, s, _u, _own in state.blocks}
    items = [f"+{o} ({sizes.get(o, '?')} B)" for o in state.freelist[:limit]]
    more = f" → ... {len(state.freelist) - limit} more" if len(state.freelist) > limit else ""
    return "<b>free list</b>: head → " + " → ".join(items) + more + " → NULL"


def figures_html(state: State, arena_size: int) -> str:
    f = state.figures
    tail = arena_size - 8 - max(f.footprint, 8)
    return ("<table style='font-size:90%'><tr>"
            f"<td>live <b>{f.live:,}</b> B</td><td>footprint <b>{f.footprint:,}</b> B</td>"
            f"<td>utilisation <b>{f.utilisation:.2f}</b></td></tr><tr>"
            f"<td>holes <b>{f.holes:,}</b> B</td><td>largest hole <b>{f.largest_hole:,}</b> B</td>"
            f"<td>ext. fragmentation <b>{f.external_fragmentation:.2f}</b></td></tr><tr>"
            f"<td>untouched tail {tail:,} B</td><td>searched {state.searched} blocks</td>"
            f"<td>failed allocations <b>{f.failed}</b></td></tr></table>")


def op_html(state: State, total: int) -> str:
    if state.op is None:
        return f"step 0 of {total}: an empty arena"
    what = html.escape(str(state.op))
    if state.failed:
        what += " → <b style='color:#d62728'>FAILED: no free block is big enough</b>"
    elif state.changed is not None:
        what += f" → block at +{state.changed}"
    return f"step {state.step} of {total}: <b>{what}</b>"


class Stepper:
    """The trace stepper: slider, heap map, free list, figures; pick the policy, edit the trace.

    ``Stepper(trace)`` then display ``stepper.widget`` (or just the Stepper in a cell).
    ``show(i)`` moves to step i (what the slider calls)."""

    def __init__(self, trace, policy: str = "first", order: str = "lifo", arena_size: int | None = None,
                 editable: bool = True, module=None):
        import ipywidgets as w
        self._module = module
        self.trace = _as_trace(trace)
        self.arena_size = arena_size or self.trace.arena or DEFAULT_ARENA
        self.replay = replay(self.trace, policy, order, self.arena_size, module=module)
        self._svg = lru_cache(maxsize=4096)(self._svg_uncached)
        n = len(self.trace)
        self.slider = w.IntSlider(0, 0, n, description="step", continuous_update=True,
                                  layout=w.Layout(width="420px"))
        self.play = w.Play(value=0, min=0, max=n, interval=300)
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.policy = w.Dropdown(options=list(POLICIES), value=policy, description="fit",
                                 layout=w.Layout(width="150px"))
        self.order = w.Dropdown(options=list(ORDERS), value=order, description="list",
                                layout=w.Layout(width="160px"))
        self.label = w.HTML()
        self.map = w.HTML()
        self.freelist = w.HTML()
        self.figures = w.HTML()
        self.message = w.HTML()
        self.slider.observe(lambda ch: self.show(ch["new"]), names="value")
        self.policy.observe(lambda ch: self._rerun(), names="value")
        self.order.observe(lambda ch: self._rerun(), names="value")
        rows = [w.HBox([self.play, self.slider, self.policy, self.order]), self.label, self.map,
                self.freelist, self.figures]
        if editable:
            self.text = w.Textarea(value=self.trace.text(), layout=w.Layout(width="420px", height="8em"))
            self.button = w.Button(description="replay this trace")
            self.button.on_click(lambda _b: self._from_text())
            rows += [w.HBox([self.text, w.VBox([self.button, self.message])])]
        self.widget = w.VBox(rows)
        self.show(0)

    def _svg_uncached(self, i):
        return heap_svg(self.replay.states[i], self.arena_size)

    def show(self, i: int):
        s = self.replay.states[i]
        n = len(self.replay.states) - 1
        self.label.value = op_html(s, n)
        self.map.value = self._svg(i)
        self.freelist.value = freelist_html(s)
        self.figures.value = figures_html(s, self.arena_size)

    def _rerun(self):
        self.replay = replay(self.trace, self.policy.value, self.order.value, self.arena_size, module=self._module)
        self._svg.cache_clear()
        self.show(min(self.slider.value, len(self.replay.states) - 1))

    def _from_text(self):
        try:
            t = parse_trace(self.text.value, "your trace")
        except TraceError as e:
            self.message.value = f"<span style='color:#d62728'>{html.escape(str(e))}</span>"
            return
        self.trace = t
        if t.arena:
            self.arena_size = t.arena
        self.message.value = f"{len(t)} operations"
        self.slider.max = self.play.max = len(t)
        self.slider.value = 0
        self._rerun()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)

    def __repr__(self):
        return f"Stepper({self.replay!r})"


# ---------------------------------------------------------------------------
# reading the C, and the lesson's exercise checks
# ---------------------------------------------------------------------------
def c_function(name: str, path: str | Path | None = None) -> str:
    """The source text of one function of talloc.c (or ``path``), for reading in the notebook."""
    text = Path(path or example_dir() / "talloc.c").read_text()
    m = re.search(rf"^[^\n;{{}}]*\b{re.escape(name)}\s*\([^;{{]*\)\s*\{{", text, re.M)
    if not m:
        raise KeyError(f"no function {name!r}")
    depth, i = 0, m.end() - 1
    while i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
        if depth == 0:
            break
    return text[m.start():i]


CHUNK_REQUESTS = (0, 1, 8, 24, 25, 40, 41, 100, 1000, 4000)


def real_chunk_sizes(requests=CHUNK_REQUESTS) -> dict:
    """Chunk sizes glibc really gives each request (measured in a fresh process)."""
    t = parse_trace("".join(f"alloc r{i} {n}\n" for i, n in enumerate(requests)), "sizes")
    got = {c.owner: c.size for c in replay_glibc(t).chunks if c.state == "used"}
    return {n: got[f"r{i}"] for i, n in enumerate(requests)}


def check_chunk_sizes(fn, requests=CHUNK_REQUESTS):
    """Exercise: fn(n) must give the size of the chunk glibc uses for malloc(n)."""
    from .exercises import Case, check
    real = real_chunk_sizes(requests)
    return check(fn, [Case(args=(n,), expected=real[n],
                           hint="a chunk is the request plus its 8-byte size field, rounded up to a "
                                "multiple of 16, and never smaller than 32") for n in requests],
                 name=getattr(fn, "__name__", "chunk_size"))


COALESCE_TRACES = ("coalesce", "fragment", "exercise", "random1000")


def check_coalesce(module, traces=COALESCE_TRACES, policy: str = "first", order: str = "lifo"):
    """Exercise: a talloc.c built with your ta_coalesce keeps every heap invariant on every
    trace. Each replay runs in an isolated child: a crash or an endless loop is reported
    with the step it happened at, and the notebook keeps running."""
    from .exercises import Case, check
    return check(lambda name: check_module(module, name, policy, order),
                 [Case(args=(t,), expected="ok",
                       hint="after ta_coalesce, no two free blocks may touch, every free block must be on "
                            "the free list exactly once, and header == footer for every block")
                  for t in traces], name="replay")


def best_policy(trace, options=None) -> tuple:
    """The (policy, order) with the smallest peak footprint on ``trace`` (no failed allocations)."""
    options = options or [("first", "lifo"), ("first", "address"), ("next", "lifo"), ("best", "lifo")]
    runs = {f"{p}/{o}": replay(trace, p, o) for p, o in options}
    return min(runs, key=lambda k: (len(runs[k].failures), runs[k].peak_footprint)), runs


def check_policy(answer, trace="exercise"):
    """Exercise: which of first/lifo, first/address, next/lifo, best/lifo needs the least memory
    (smallest peak footprint) on ``trace``? The check compares footprints, so a wrong answer
    does not give the right one away."""
    from .exercises import Case, check
    winner, runs = best_policy(trace)
    a = str(answer).strip().lower()
    a = a if "/" in a else a + "/lifo"

    def peak_footprint_of(choice):
        if choice not in runs:
            raise ValueError(f"{answer!r} is not one of {', '.join(runs)}")
        return runs[choice].peak_footprint

    return check(peak_footprint_of, [Case(args=(a,), expected=runs[winner].peak_footprint,
                                          hint="the smallest peak footprint of the four is the expected value; "
                                               "replay the trace under each policy and compare")],
                 name="peak_footprint_of")


MAX_BEST_FIT_OPS = 12


def first_beats_best(text) -> str:
    """Replay a trace under first/lifo and best/lifo; "ok" when best fit fails an
    allocation and first fit fails none, else what is wrong (the exercise's verdict)."""
    if text is None:
        return "no trace yet"
    try:
        t = text if isinstance(text, Trace) else parse_trace(str(text), "your trace")
    except TraceError as e:
        return f"the trace does not parse: {e}"
    if not len(t):
        return "the trace is empty"
    if len(t) > MAX_BEST_FIT_OPS:
        return f"{len(t)} operations: at most {MAX_BEST_FIT_OPS} please"
    try:
        first, best = replay(t, "first", "lifo"), replay(t, "best", "lifo")
    except ValueError as e:
        return str(e)
    arena = first.arena_size
    if not best.failures:
        return f"best fit fails no allocation (arena {arena:,} B)"
    if first.failures:
        return (f"first fit fails too, at step {first.failures[0].step} ({first.failures[0].op}) "
                f"(arena {arena:,} B)")
    return "ok"


def check_first_beats_best(text):
    """Exercise: a trace of at most 12 operations on which best fit fails and first fit succeeds."""
    from .exercises import Case, check
    return check(first_beats_best, [Case(args=(text,), expected="ok", label="replay(your trace)",
                                         hint="make best fit's choice leave two holes that are each too small "
                                              "for a later request, while first fit leaves one hole that fits; "
                                              "the free list is LIFO (the last block freed is searched first), "
                                              "and a '# arena: BYTES' line makes the arena small enough to fill")],
                 name="replay")


REUSE_TRACE = """\
alloc a 40
alloc b 40
alloc c 100
alloc d 40
free b
free d
free a
free c
alloc x 40
alloc y 100
alloc z 24
alloc w 40
"""


def real_reuse(trace=REUSE_TRACE) -> dict:
    """For each block allocated after the first free: the id of the freed block whose
    chunk it got in a fresh glibc process, or "new" for a chunk that was never used."""
    t = _as_trace(trace)
    first_free = next(i for i, op in enumerate(t.ops) if op.kind == "free")
    last_free = max(i for i, op in enumerate(t.ops) if op.kind == "free")
    before = {ch.offset: ch.owner for ch in replay_glibc(t, stop=first_free).chunks if ch.state == "used"}
    after = {ch.owner: ch.offset for ch in replay_glibc(t).chunks if ch.state == "used"}
    return {op.id: before.get(after[op.id], "new") for op in t.ops[last_free + 1:] if op.kind == "alloc"}


def check_reuse(answer, trace=REUSE_TRACE):
    """Exercise: answer = {new id: old id or "new"}; compared with glibc in a fresh process.
    Choose-the-answer: a wrong guess is not told the right one."""
    from .exercises import Case, check
    real = real_reuse(trace)
    answer = answer if isinstance(answer, dict) else {}
    return check(lambda k: str(answer.get(k, "?")).strip(),
                 [Case(args=(k,), expected=v, label=f"answer[{k!r}]",
                       hint="each chunk size has its own tcache list, last in, first out; a request whose "
                            "size class has nothing freed is cut from the top chunk (\"new\")")
                  for k, v in real.items()],
                 name="answer", reveal_expected=False)


def format_table(rows, columns=None) -> str:
    """Rows of dicts as a plain-text table (deterministic, no pandas needed)."""
    rows = list(rows)
    if not rows:
        return "(no rows)"
    columns = columns or list(rows[0])

    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join((v.ljust(w) if i == 0 else v.rjust(w)) for i, (v, w) in enumerate(zip(vals, widths)))
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def fragmentation_table(trace, arena_size: int | None = None, real: bool = True) -> str:
    """Every teaching-allocator policy, then glibc and mimalloc, on the same trace."""
    rows = compare_policies(trace, arena_size)
    if real:
        rows += [replay_glibc(trace).summary(), replay_glibc(trace, tunables=NO_TCACHE).summary(),
                 replay_mimalloc(trace).summary()]
    return format_table(rows)


def heap_blocks(module, heap, owners: dict | None = None) -> list:
    """The blocks of a live ``ta_heap`` (driven by hand from Python) as ``lab.Block``, offsets
    from the arena start; the 8-byte prologue and epilogue tags show as meta.
    owners: optional {payload pointer (cdata) or block offset: label}."""
    ffi, lib = module.ffi, module.lib
    n = lib.ta_walk(heap, ffi.NULL, 0)
    if n < 0:
        raise RuntimeError("the heap walk broke: a block size is corrupted")
    info = ffi.new("ta_info[]", max(n, 1))
    lib.ta_walk(heap, info, n)
    base = int(ffi.cast("uintptr_t", heap.base))
    labels = {}
    for k, v in (owners or {}).items():
        off = k if isinstance(k, int) else int(ffi.cast("uintptr_t", k)) - base - 8
        labels[off] = v
    out = [Block(0, 8, "meta", "prologue")]
    for i in range(n):
        o, s, u = info[i].offset, info[i].size, info[i].used
        out.append(Block(o, s, "used" if u else "free", labels.get(o, "") if u else ""))
    out.append(Block(heap.size - 8, 8, "meta", "epilogue"))
    return out
