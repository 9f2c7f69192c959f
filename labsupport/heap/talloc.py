"""Snapshot source: the teaching allocator (``native_examples/01_heap_managers/talloc.c``).

``replay(trace, policy=..., order=...)`` runs a trace against talloc.c, built
in-process with cffi, and keeps a ``Step`` after every operation: the blocks in
address order, the free list (``step.bins["free list"]``), the figures, and
which block the step touched. ``check_module`` replays a learner's build of
talloc.c in an isolated child with every heap invariant checked after every step.

The allocator's constants (tag size, alignment, smallest block, the policy and
order codes) are read from its header through the built module (``lib.TA_*``).
"""
from __future__ import annotations

import re
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ..cbuild import build_c_file
from ..isolate import run_c
from .model import Bin, Bins, BinType, Block, BlockState, Figures, Fragmentation, Step, figures_from
from .traces import OpKind, Trace, as_trace, example_dir, numeric_ids

__all__ = ["Policy", "Order", "POLICIES", "ORDERS", "DEFAULT_ARENA", "FREE_LIST", "talloc_module",
           "Replay", "replay", "LazyReplay", "TallocSteps", "replay_lazy", "compare_policies", "check_module",
           "heap_blocks"]


class Policy(StrEnum):
    """Where ta_malloc places a request (the header's TA_*_FIT codes)."""
    FIRST = "first"      # the first block on the free list that fits
    NEXT = "next"        # like first fit, resuming where the last search stopped
    BEST = "best"        # the smallest block that fits

    def code(self, lib) -> int:
        return getattr(lib, f"TA_{self.name}_FIT")


class Order(StrEnum):
    """Where ta_free puts a freed block on the list (TA_LIFO, TA_ADDRESS)."""
    LIFO = "lifo"        # at the front
    ADDRESS = "address"  # sorted by address

    def code(self, lib) -> int:
        return getattr(lib, f"TA_{self.name}")


POLICIES = tuple(p.value for p in Policy)       # ("first", "next", "best")
ORDERS = tuple(o.value for o in Order)          # ("lifo", "address")
DEFAULT_ARENA = 16384
FREE_LIST = BinType.FREE_LIST.value             # the name of the teaching allocator's one list

_module = None


def talloc_module():
    """The teaching allocator, built once with cffi (``lab.build_c_file``)."""
    global _module
    if _module is None:
        _module = build_c_file(example_dir() / "talloc.c", cflags=("-O2", "-g", "-Wall"))
    return _module


def _choice(enum, value, what):
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"{what} must be one of {', '.join(enum)}") from None


class _ReplayBase:
    """What ``Replay`` and ``LazyReplay`` share: their steps by index, the final step, and
    the arena's fixed meta spans (needs ``states``, ``arena_size`` and ``tag``)."""

    def __len__(self):
        return len(self.states)

    def __getitem__(self, i) -> Step:
        return self.states[i]

    @property
    def final(self) -> Step:
        return self.states[-1]

    @property
    def frame(self) -> tuple:
        """The arena's fixed meta spans (offset, size): the prologue and the epilogue tag."""
        return ((0, self.tag), (self.arena_size - self.tag, self.tag))


@dataclass
class Replay(_ReplayBase):
    trace: Trace
    policy: Policy
    order: Order
    arena_size: int
    states: list = field(default_factory=list)    # Step after every operation (0: before the first)
    tag: int | None = None                        # lib.TA_TAG (set by replay): prologue, epilogue, header

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
                "fixed meta B": self.tag, "peak w/o meta B": self.peak_footprint - self.tag,
                "failed allocs": len(self.failures), "final holes B": f.holes,
                "final largest hole B": f.largest_hole,
                "final ext. fragmentation": round(f.external_fragmentation, 3),
                "blocks searched": self.searched}

    def __repr__(self):
        return (f"Replay({self.trace.name!r}, {self.policy} fit, {self.order} free list, "
                f"arena {self.arena_size:,} B: {len(self.trace)} steps, "
                f"peak footprint {self.peak_footprint:,} B, {len(self.failures)} failed)")


class _Machine:
    """The teaching allocator driven by a trace one operation at a time, and a ``Step``
    of its heap when asked: what ``replay`` and ``replay_lazy`` share. ``save``/``load``
    copy its whole state (the arena's bytes, compressed; the heap header; the bookkeeping)."""

    def __init__(self, trace, policy, order, arena_size, coalesce, module):
        self.trace, self.policy, self.order, self.arena_size = trace, policy, order, arena_size
        m = module or talloc_module()
        self.ffi, self.lib = ffi, lib = m.ffi, m.lib
        align, self.tag = lib.TA_ALIGN, lib.TA_TAG
        if arena_size % align:
            raise ValueError(f"arena_size must be a multiple of {align}")
        self.mem = ffi.new("unsigned char[]", arena_size + align)
        pad = -int(ffi.cast("uintptr_t", self.mem)) % align          # start on an aligned boundary
        self.heap = heap = ffi.new("ta_heap *")
        if lib.ta_init(heap, self.mem + pad, arena_size, policy.code(lib), order.code(lib), int(coalesce)) != 0:
            raise ValueError(f"arena of {arena_size} bytes is too small")
        self.base = int(ffi.cast("uintptr_t", heap.base)) + self.tag   # a payload pointer - this = its offset
        self.maxb = arena_size // lib.TA_MIN_BLOCK + 2
        self.info = ffi.new("ta_info[]", self.maxb)
        self.fl = ffi.new("long[]", self.maxb)
        self.live: dict = {}          # id -> (payload pointer, requested size)
        self.owner_at: dict = {}      # block offset -> id
        self.live_total = self.failed = 0
        self.pos = 0                  # operations applied so far
        self.seen: dict = {}          # block tuple -> the same tuple, shared by the steps that have it
        self._row, self._dtype = ffi.sizeof("ta_info"), f"i{ffi.sizeof('long')}"   # three longs a block
        self._last_pos = -2           # the last snapshot: its step, its walk's bytes and its blocks
        self._last_raw = self._last_blocks = None

    def apply(self):
        """Apply the next operation; (failed here, offset it touched, list entries searched)."""
        ffi, lib, heap = self.ffi, self.lib, self.heap
        op = self.trace.ops[self.pos]
        self.pos += 1
        before = heap.searched
        changed, failed_here = None, False
        if op.kind == OpKind.ALLOC:
            p = lib.ta_malloc(heap, op.size)
            if p == ffi.NULL:
                self.failed += 1
                failed_here = True
            else:
                changed = int(ffi.cast("uintptr_t", p)) - self.base
                self.live[op.id] = (p, op.size)
                self.owner_at[changed] = op.id
                self.live_total += op.size
        else:
            p, size = self.live.pop(op.id, (None, 0))
            if p is not None:
                changed = int(ffi.cast("uintptr_t", p)) - self.base
                self.owner_at.pop(changed, None)
                self.live_total -= size
                lib.ta_free(heap, p)
        return failed_here, changed, heap.searched - before

    def snapshot(self, step, op, failed_here, changed, searched) -> Step:
        import numpy as np                            # here: an isolated child importing this module needs none

        ffi, lib = self.ffi, self.lib
        n = lib.ta_walk(self.heap, self.info, self.maxb)
        if n < 0:
            raise RuntimeError(f"step {step}: the heap walk broke (corrupted block sizes)")
        raw = ffi.buffer(self.info, n * self._row)[:]                  # the walk's bytes, in one copy
        cols = np.frombuffer(raw, dtype=self._dtype).reshape(n, 3).T   # offsets, sizes, used flags
        blocks = self._blocks_after(raw, cols, changed) if self._last_pos in (self.pos, self.pos - 1) else None
        if blocks is None:
            blocks = self._blocks(cols)
        self._last_pos, self._last_raw, self._last_blocks = self.pos, raw, blocks
        k = lib.ta_freelist(self.heap, self.fl, self.maxb)
        bins = Bins((Bin(FREE_LIST, BinType.FREE_LIST, tuple(ffi.unpack(self.fl, k)) if k > 0 else ()),))
        return Step(step, op, blocks, bins, self._figures(cols), failed_here, changed, searched)

    def _figures(self, cols) -> Figures:
        """``figures_of`` the blocks (``model.fragmentation``'s definition), in numpy."""
        offs, sizes, used = cols
        ends, inuse = offs + sizes, used != 0
        footprint = int(ends[inuse].max()) if inuse.any() else 0
        holes = sizes[~inuse & (ends <= footprint)]
        total, largest = int(holes.sum()), int(holes.max()) if len(holes) else 0
        return figures_from(Fragmentation(footprint, total, largest, (1 - largest / total) if total else 0.0),
                            self.live_total, self.failed)

    def _blocks(self, cols) -> tuple:
        """The blocks of the walk's columns as (offset, size, used, owner) tuples."""
        seen, owner_at = self.seen, self.owner_at
        offs, sizes, used = (c.tolist() for c in cols)
        owners = [owner_at.get(o, "") if u else "" for o, u in zip(offs, used)]
        return tuple(seen.setdefault(b, b) for b in          # one tuple per distinct block: a step
                     zip(offs, sizes, used, owners))         # costs 8 B per block, not ~100 B

    def _blocks_after(self, raw, cols, changed):
        """The blocks of this step from the last snapshot's (taken one operation before, or at
        this very step), rebuilding only the few around the block the operation touched:
        an operation changes the blocks next to it and no others, and a block's owner changes
        only with its (offset, size, used). None when the blocks kept would not be identical
        (then ``snapshot`` builds them all)."""
        last, row = self._last_raw, self._row
        if changed is None:                          # a failed allocation, a free of nothing
            return self._last_blocks if raw == last else None
        n, lastn = len(raw) // row, len(last) // row
        at = int(cols[0].searchsorted(changed))     # the block the operation touched
        lo, hi = max(at - 1, 0), min(at + 2, n)      # with the one before it and the one after
        tail = n - hi                                # blocks after those, the same as before
        if lo > lastn - tail or raw[:lo * row] != last[:lo * row] or raw[hi * row:] != last[(lastn - tail) * row:]:
            return None
        kept = self._last_blocks
        return kept[:lo] + self._blocks(cols[:, lo:hi]) + kept[lastn - tail:]

    _CHUNK = 8                        # save() keeps the arena's non-zero runs of 8 words (64 bytes)

    def _words(self):
        """The arena's memory as rows of ``_CHUNK`` words (a writable numpy view) and the bytes after them."""
        import numpy as np
        words = np.frombuffer(self.ffi.buffer(self.mem), dtype=np.uint64)   # the arena is 16-byte aligned
        rows = len(words) // self._CHUNK
        return words[:rows * self._CHUNK].reshape(rows, self._CHUNK), rows * self._CHUNK * 8

    def save(self) -> tuple:
        import numpy as np
        rows, cut = self._words()
        kept = np.flatnonzero(rows.any(axis=1))          # the arena is mostly zeros: keep what is not
        arena = (kept, zlib.compress(rows[kept].tobytes(), 1), self.ffi.buffer(self.mem)[cut:])
        return (arena, self.ffi.buffer(self.heap)[:], dict(self.live),
                dict(self.owner_at), self.live_total, self.failed, self.pos)

    def load(self, saved: tuple):
        import numpy as np
        (kept, data, rest), heap, live, owner_at, self.live_total, self.failed, self.pos = saved
        rows, cut = self._words()
        rows[:] = 0
        rows[kept] = np.frombuffer(zlib.decompress(data), dtype=np.uint64).reshape(len(kept), self._CHUNK)
        self.ffi.buffer(self.mem)[cut:] = rest
        self.ffi.memmove(self.heap, heap, len(heap))
        self.live, self.owner_at = dict(live), dict(owner_at)


def _machine(trace, policy, order, arena_size, coalesce, module) -> _Machine:
    trace = as_trace(trace)
    return _Machine(trace, _choice(Policy, policy, "policy"), _choice(Order, order, "order"),
                    arena_size or trace.arena or DEFAULT_ARENA, coalesce, module)


def replay(trace, policy: str = "first", order: str = "lifo", arena_size: int | None = None,
           coalesce: bool = True, module=None) -> Replay:
    """Replay a trace against the teaching allocator; keep the heap after every step."""
    m = _machine(trace, policy, order, arena_size, coalesce, module)
    r = Replay(m.trace, m.policy, m.order, m.arena_size, tag=m.tag)
    r.states.append(m.snapshot(0, None, False, None, 0))
    for step, op in enumerate(m.trace.ops, 1):
        r.states.append(m.snapshot(step, op, *m.apply()))
    return r


class TallocSteps(Sequence):
    """The steps of a replay, each built when asked (``replay_lazy``): the trace runs once,
    saving the allocator's state every ``every`` operations; step i restores the last
    saved state before it and runs forward (or just runs on, when the last step asked
    for was a little earlier). The last ``cache`` steps asked for are kept."""

    def __init__(self, machine: _Machine, every: int = 256, cache: int = 512):
        self._m, self._every, self._size = machine, max(1, every), max(1, cache)
        self._saved = {0: machine.save()}
        self._cache: OrderedDict = OrderedDict()
        self.failed_steps = []
        for k in range(1, len(machine.trace.ops) + 1):
            if machine.apply()[0]:
                self.failed_steps.append(k)
            if k % self._every == 0:
                self._saved[k] = machine.save()

    def __len__(self):
        return len(self._m.trace.ops) + 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        step = self._cache.get(i)
        if step is not None:
            self._cache.move_to_end(i)
            return step
        m = self._m
        start = (max(i - 1, 0) // self._every) * self._every
        if not start <= m.pos <= max(i - 1, 0):
            m.load(self._saved[start])
        while m.pos < i - 1:
            m.apply()
        step = m.snapshot(0, None, False, None, 0) if i == 0 else m.snapshot(i, m.trace.ops[i - 1], *m.apply())
        self._cache[i] = step
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return step


@dataclass
class LazyReplay(_ReplayBase):
    """A replay whose steps are built when asked (``replay_lazy``): ``states`` is a
    ``TallocSteps`` (a sequence, for ``StepView``); the figures that need every step
    (``peak_footprint``, ``summary``) are left out: use ``replay`` for those."""
    trace: Trace
    policy: Policy
    order: Order
    arena_size: int
    states: TallocSteps
    tag: int

    @property
    def failures(self) -> list:
        return [self.states[i] for i in self.states.failed_steps]

    def __repr__(self):
        return (f"LazyReplay({self.trace.name!r}, {self.policy} fit, {self.order} free list, "
                f"arena {self.arena_size:,} B: {len(self.trace)} steps, {len(self.states.failed_steps)} failed)")


def replay_lazy(trace, policy: str = "first", order: str = "lifo", arena_size: int | None = None,
                coalesce: bool = True, module=None, every: int = 256, cache: int = 512) -> LazyReplay:
    """Like ``replay``, for long traces: the same steps, each built when asked (a fast
    first pass, a copy of the allocator's state every ``every`` operations, the last
    ``cache`` steps kept), so memory does not grow with the number of steps."""
    m = _machine(trace, policy, order, arena_size, coalesce, module)
    return LazyReplay(m.trace, m.policy, m.order, m.arena_size, TallocSteps(m, every, cache), m.tag)


COMPARED = (("first", "lifo"), ("first", "address"), ("next", "lifo"), ("best", "lifo"))


def compare_policies(trace, arena_size: int | None = None, policies=None, module=None) -> list:
    """One summary row per (policy, order): replay the same trace under each."""
    return [replay(trace, p, o, arena_size, module=module).summary() for p, o in (policies or COMPARED)]


def check_module(module, trace, policy: str = "first", order: str = "lifo",
                 arena_size: int | None = None, timeout: float = 10) -> str:
    """Replay ``trace`` against an allocator built from talloc.c (yours, with your
    ta_coalesce) in an isolated child, checking every heap invariant after every
    step. Returns "ok" or what broke at which step."""
    trace = as_trace(trace)
    arena = arena_size or trace.arena or DEFAULT_ARENA
    lib = module.lib
    r = run_c(module, "ta_replay_check", trace.text(numeric=True).encode(),
              _choice(Policy, policy, "policy").code(lib), _choice(Order, order, "order").code(lib),
              arena, timeout=timeout)
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


def heap_blocks(module, heap, owners: dict | None = None) -> list:
    """The blocks of a live ``ta_heap`` (driven by hand from Python) as ``Block``, offsets
    from the arena start; the prologue and epilogue tags show as meta.
    owners: optional {payload pointer (cdata) or block offset: label}."""
    ffi, lib = module.ffi, module.lib
    tag = lib.TA_TAG
    n = lib.ta_walk(heap, ffi.NULL, 0)
    if n < 0:
        raise RuntimeError("the heap walk broke: a block size is corrupted")
    info = ffi.new("ta_info[]", max(n, 1))
    lib.ta_walk(heap, info, n)
    base = int(ffi.cast("uintptr_t", heap.base))
    labels = {}
    for k, v in (owners or {}).items():
        off = k if isinstance(k, int) else int(ffi.cast("uintptr_t", k)) - base - tag
        labels[off] = v
    out = [Block(0, tag, BlockState.META, "prologue")]
    for i in range(n):
        o, s, u = info[i].offset, info[i].size, info[i].used
        out.append(Block(o, s, BlockState.USED if u else BlockState.FREE, labels.get(o, "") if u else ""))
    out.append(Block(heap.size - tag, tag, BlockState.META, "epilogue"))
    return out
