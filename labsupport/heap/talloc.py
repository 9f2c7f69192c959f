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
from dataclasses import dataclass, field
from enum import StrEnum

from ..cbuild import build_c_file
from ..isolate import run_c
from .model import Bin, Bins, BinType, Block, BlockState, Step, figures_of
from .traces import OpKind, Trace, as_trace, example_dir, numeric_ids

__all__ = ["Policy", "Order", "POLICIES", "ORDERS", "DEFAULT_ARENA", "FREE_LIST", "talloc_module",
           "Replay", "replay", "compare_policies", "check_module", "heap_blocks"]


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


@dataclass
class Replay:
    trace: Trace
    policy: Policy
    order: Order
    arena_size: int
    states: list = field(default_factory=list)    # Step after every operation (0: before the first)
    tag: int | None = None                        # lib.TA_TAG (set by replay): prologue, epilogue, header

    def __len__(self):
        return len(self.states)

    def __getitem__(self, i) -> Step:
        return self.states[i]

    @property
    def final(self) -> Step:
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

    @property
    def frame(self) -> tuple:
        """The arena's fixed meta spans (offset, size): the prologue and the epilogue tag."""
        return ((0, self.tag), (self.arena_size - self.tag, self.tag))

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


def replay(trace, policy: str = "first", order: str = "lifo", arena_size: int | None = None,
           coalesce: bool = True, module=None) -> Replay:
    """Replay a trace against the teaching allocator; keep the heap after every step."""
    trace = as_trace(trace)
    policy = _choice(Policy, policy, "policy")
    order = _choice(Order, order, "order")
    arena_size = arena_size or trace.arena or DEFAULT_ARENA
    m = module or talloc_module()
    ffi, lib = m.ffi, m.lib
    align, tag = lib.TA_ALIGN, lib.TA_TAG
    if arena_size % align:
        raise ValueError(f"arena_size must be a multiple of {align}")
    mem = ffi.new("unsigned char[]", arena_size + align)
    pad = -int(ffi.cast("uintptr_t", mem)) % align          # start on an aligned boundary
    heap = ffi.new("ta_heap *")
    if lib.ta_init(heap, mem + pad, arena_size, policy.code(lib), order.code(lib), int(coalesce)) != 0:
        raise ValueError(f"arena of {arena_size} bytes is too small")
    base = int(ffi.cast("uintptr_t", heap.base)) + tag      # a payload pointer - this = its block's offset
    maxb = arena_size // lib.TA_MIN_BLOCK + 2
    info = ffi.new("ta_info[]", maxb)
    fl = ffi.new("long[]", maxb)
    live: dict = {}          # id -> (payload pointer, requested size)
    owner_at: dict = {}      # block offset -> id
    live_total = failed = 0
    r = Replay(trace, policy, order, arena_size, tag=tag)
    states = r.states

    def snapshot(step, op, failed_here, changed, searched):
        n = lib.ta_walk(heap, info, maxb)
        if n < 0:
            raise RuntimeError(f"step {step}: the heap walk broke (corrupted block sizes)")
        entries = [info[i] for i in range(n)]           # index the cffi array once per block
        blocks = tuple((e.offset, e.size, int(e.used), owner_at.get(e.offset, "") if e.used else "")
                       for e in entries)
        k = lib.ta_freelist(heap, fl, maxb)
        bins = Bins((Bin(FREE_LIST, BinType.FREE_LIST, tuple(fl[i] for i in range(max(k, 0)))),))
        figs = figures_of(((o, s, u) for o, s, u, _ in blocks), live_total, failed)
        states.append(Step(step, op, blocks, bins, figs, failed_here, changed, searched))

    snapshot(0, None, False, None, 0)
    for step, op in enumerate(trace.ops, 1):
        before = heap.searched
        changed, failed_here = None, False
        if op.kind == OpKind.ALLOC:
            p = lib.ta_malloc(heap, op.size)
            if p == ffi.NULL:
                failed += 1
                failed_here = True
            else:
                changed = int(ffi.cast("uintptr_t", p)) - base
                live[op.id] = (p, op.size)
                owner_at[changed] = op.id
                live_total += op.size
        else:
            p, size = live.pop(op.id, (None, 0))
            if p is not None:
                changed = int(ffi.cast("uintptr_t", p)) - base
                owner_at.pop(changed, None)
                live_total -= size
                lib.ta_free(heap, p)
        snapshot(step, op, failed_here, changed, heap.searched - before)
    return r


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
