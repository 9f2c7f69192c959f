"""Real programs' allocations as traces: record, bucket by size, cut a window.

``record(argv)`` runs a program in a fresh child (``run_program``) with the course's
one recorder preloaded: ``native_examples/09_measuring_allocators/tracerec.c``, an
``LD_PRELOAD`` library that writes every ``malloc``/``calloc``/``realloc``/``free``
as a line (lesson 09's malloc lab reads the same lines through
``allocbench.record``, which calls ``record_text`` here). What the recorder does:

- ``calloc`` is written as ``alloc`` (its size is count * size);
  ``realloc(NULL, n)`` as ``alloc``; ``realloc(p, 0)`` that frees as ``free``.
- Threads: one lock around its bookkeeping, so the trace is one interleaving of
  all threads; ``threads=True`` also records which thread made each call.
- Recursion: ``dlsym`` allocating while the real functions are looked up is served
  from static memory and not recorded; the recorder's own tables live in ``mmap``
  memory, so it never records itself.
- Processes: only the process started records. Programs it ``exec``s run without
  recording (the library removes ``TRACEREC_OUT`` from their environment) and a
  forked child stops recording at the fork. ``record(["sh", "-c", ...])`` thus
  records the shell, not the command it starts: the recorder marks every child it
  starts (fork, vfork, posix_spawn, system, exec), ``Recording.children`` counts them,
  and a recording with no allocation of its own but with children raises
  ``ChildrenNotRecorded`` saying so, instead of returning 0 operations.
- Length: ``max_ops`` (default 200,000) stops recording; ``Recording.capped`` says so.
- Not recorded: ``memalign``/``posix_memalign``/``aligned_alloc`` (their frees are
  then unknown pointers and left out), blocks allocated before the library loaded.

The course's trace format has ``alloc`` and ``free`` only, so ``record`` turns each
``realloc`` into **alloc new, free old** (what a ``realloc`` that moves the block
does; one that grows in place does neither: the recorder cannot tell them apart,
so this overstates the traffic of in-place growth). Every allocation gets the next
number as its id ("0", "1", ...): a block after ``realloc`` is a new id.
``Recording.calls`` keeps the recorder's own counts (alloc, realloc, free).

``size_histogram(trace)`` buckets the requests by glibc's chunk size and measures
the share inside tcache's range; ``window(trace, start, n)`` cuts n operations that
replay on their own (in the teaching allocator's ``Stepper``).
"""
from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..cbuild import build_program
from ..isolate import run_program
from ..toolchain import cache_dir, example_path
from .traces import Op, OpKind, Trace, as_trace

__all__ = ["ChildrenNotRecorded", "CHILD_LINE", "children_in", "refuse_childrens_work",
           "RECORDER_C", "DEFAULT_MAX_OPS", "recorder_library", "record_text", "Recording", "from_recorder_text",
           "record", "SIZE_SZ", "MINSIZE", "MALLOC_ALIGNMENT", "TCACHE_MAX_BINS", "TCACHE_MAX_REQUEST",
           "TCACHE_MAX_CHUNK", "glibc_chunk_size", "glibc_chunk_sizes", "mimalloc_size_classes",
           "SizeHistogram", "size_histogram", "window", "replay_window"]

RECORDER_C = ("09_measuring_allocators", "tracerec.c")
_serial = itertools.count()
DEFAULT_MAX_OPS = 200_000


def recorder_library() -> Path:
    """The LD_PRELOAD recorder (tracerec.c), built once into the cache."""
    return build_program([example_path(*RECORDER_C)], output="libtracerec.so",
                         cflags=("-O2", "-fno-builtin", "-fPIC"), ldflags=("-shared", "-ldl"))


def record_text(argv, env: dict | None = None, timeout: float = 30.0, max_ops: int | None = None,
                threads: bool = False, cwd=None) -> str:
    """Run ``argv`` with the recorder preloaded; the recorder's lines as text
    (``alloc ID SIZE`` / ``realloc ID SIZE`` / ``free ID``). RuntimeError if the program fails.
    An ``LD_PRELOAD`` in ``env`` (mimalloc's, say) is loaded after the recorder, so the
    recorder sees the calls first and passes them on to that allocator."""
    out = cache_dir() / "traces" / f"rec-{os.getpid()}-{next(_serial)}.trace"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    env = dict(env or {})
    preload = " ".join(x for x in (str(recorder_library()), env.pop("LD_PRELOAD", "")) if x)
    extra = {"LD_PRELOAD": preload, "TRACEREC_OUT": str(out)}
    if max_ops is not None:
        extra["TRACEREC_MAX"] = str(int(max_ops))
    if threads:
        extra["TRACEREC_THREADS"] = "1"
    try:
        r = run_program(list(map(str, argv)), timeout=timeout, env={**env, **extra}, cwd=cwd)
        if not r.ok:
            raise RuntimeError(f"recording {argv[0]}: {r.status()}")
        return out.read_text() if out.exists() else ""
    finally:
        out.unlink(missing_ok=True)


@dataclass(repr=False)
class Recording(Trace):
    """A recorded trace in the course's format (a ``Trace``: alloc/free only), plus what
    the recorder saw: ``calls`` (its alloc/realloc/free lines), ``capped`` (stopped
    by ``max_ops``), ``threads`` (the thread number of each op, when recorded)."""
    calls: dict = field(default_factory=dict)
    capped: bool = False
    threads: list | None = None
    children: int = 0          # child processes started (fork, spawn, exec): not recorded

    def __repr__(self):
        capped = ", capped" if self.capped else ""
        kids = f", {self.children} child process(es) not recorded" if self.children else ""
        return (f"Recording({self.name!r}: {len(self.ops)} operations from {sum(self.calls.values())} "
                f"calls {self.calls}{capped}{kids})")


class ChildrenNotRecorded(RuntimeError):
    """The recorded program allocated nothing itself: its work happened in child processes."""


CHILD_LINE = "# child process not recorded"


def children_in(text: str) -> int:
    """How many child processes the recorder saw started (its "# child process" lines)."""
    return sum(1 for line in text.splitlines() if line.startswith(CHILD_LINE))


def refuse_childrens_work(argv, text: str, ops: int) -> None:
    """ChildrenNotRecorded when a recording holds no operation but the program started children."""
    n = children_in(text)
    if n and not ops:
        raise ChildrenNotRecorded(
            f"recording {' '.join(map(str, argv))[:80]!r}: 0 operations, and it started {n} child "
            f"process(es) (fork, spawn or exec): only the process started is recorded, never its children. "
            f"Record the program that does the work itself (for example record(['mawk', ...]) instead of "
            f"record(['sh', '-c', 'mawk ...'])).")


_LINE = re.compile(r"(alloc|realloc|free) (\d+)(?: (\d+))?\s*(?:# t (\d+))?\s*$")


def from_recorder_text(text: str, name: str = "recorded") -> Recording:
    """The recorder's lines as a course trace: realloc -> alloc new + free old, ids renumbered."""
    ops, thread_of, calls = [], [], Counter()
    current: dict = {}        # recorder id -> course id of the live block
    next_id, capped, tagged = 0, False, False
    for n, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("# capped"):
            capped = True
            continue
        if raw.startswith(CHILD_LINE):
            continue
        m = _LINE.match(raw)
        if not m:
            if raw.strip():
                raise ValueError(f"{name}, line {n}: not a recorder line: {raw.strip()!r}")
            continue
        kind, rid, size, tid = m.group(1), m.group(2), int(m.group(3) or 0), m.group(4)
        tagged |= tid is not None
        t = int(tid) if tid is not None else 0
        calls[kind] += 1
        if kind == "alloc":
            current[rid] = str(next_id)
            ops.append(Op(OpKind.ALLOC, str(next_id), size, n))
            thread_of.append(t)
            next_id += 1
        elif kind == "free":
            ops.append(Op(OpKind.FREE, current.pop(rid), 0, n))
            thread_of.append(t)
        else:                                   # realloc: the new block first, then the old one goes
            old = current[rid]
            current[rid] = str(next_id)
            ops.append(Op(OpKind.ALLOC, str(next_id), size, n))
            ops.append(Op(OpKind.FREE, old, 0, n))
            thread_of += [t, t]
            next_id += 1
    return Recording(ops, name, None, {k: calls[k] for k in ("alloc", "realloc", "free")}, capped,
                     thread_of if tagged else None, children_in(text))


def record(argv, name: str = "recorded", env: dict | None = None, timeout: float = 30.0,
           max_ops: int | None = DEFAULT_MAX_OPS, threads: bool = False, cwd=None) -> Recording:
    """Run a program with the recorder preloaded (a fresh child); its allocations as a course trace.
    ChildrenNotRecorded if it allocated nothing itself but started child processes."""
    text = record_text(argv, env, timeout, max_ops, threads, cwd)
    rec = from_recorder_text(text, name)
    refuse_childrens_work(argv, text, len(rec.ops))
    return rec


# ---------------------------------------------------------------------------
# sizes: glibc's chunks and tcache (64-bit glibc 2.36, malloc/malloc.c)
# ---------------------------------------------------------------------------
SIZE_SZ = 8                  # sizeof(size_t): the size field a chunk carries before its payload
MALLOC_ALIGNMENT = 16        # 2 * SIZE_SZ on x86-64
MINSIZE = 32                 # the smallest chunk: size fields and two list pointers, aligned
TCACHE_MAX_BINS = 64         # malloc.c: "# define TCACHE_MAX_BINS 64"
TCACHE_MAX_CHUNK = MINSIZE + (TCACHE_MAX_BINS - 1) * MALLOC_ALIGNMENT    # 1040: bin 63's chunks
TCACHE_MAX_REQUEST = TCACHE_MAX_CHUNK - SIZE_SZ                         # 1032: tidx2usize(63)


def glibc_chunk_size(request: int) -> int:
    """malloc.c's request2size: request + SIZE_SZ rounded up to 16, at least MINSIZE.
    (Requests from the mmap threshold up (128 KiB by default) are mmapped instead.)"""
    return max(MINSIZE, (request + SIZE_SZ + MALLOC_ALIGNMENT - 1) & ~(MALLOC_ALIGNMENT - 1))


@dataclass
class SizeHistogram:
    """Requests bucketed by glibc's chunk size (``chunks``: chunk size -> count)."""
    name: str
    requests: int                     # allocations in the trace (alloc ops)
    chunks: dict                      # chunk size -> number of requests
    in_tcache: int                    # requests whose chunk is in tcache's range (<= TCACHE_MAX_CHUNK)
    smallest: int = 0                 # request sizes
    largest: int = 0
    sizes: Counter = field(default_factory=Counter, repr=False)   # request size -> count

    @property
    def tcache_share(self) -> float:
        return self.in_tcache / self.requests if self.requests else 0.0

    def share_at_most(self, request: int) -> float:
        """The share of requests of at most ``request`` bytes."""
        return sum(c for s, c in self.sizes.items() if s <= request) / self.requests if self.requests else 0.0

    def top(self, k: int = 5) -> list:
        """The k most frequent chunk sizes as (chunk size, count, share)."""
        return [(c, n, n / self.requests) for c, n in sorted(self.chunks.items(), key=lambda x: (-x[1], x[0]))[:k]]

    def class_share(self, classes, limit: int | None = None) -> dict:
        """How many requests each size class of a class list serves (e.g. mimalloc's
        classes measured by ``widgets.sizeplot.mimalloc_classes``): class -> count.
        Requests above the last class (or above ``limit``) are left out."""
        classes = sorted(classes)
        out = Counter()
        import bisect
        for s, c in self.sizes.items():
            if limit is not None and s > limit:
                continue
            i = bisect.bisect_left(classes, max(s, 1))
            if i < len(classes):
                out[classes[i]] += c
        return dict(sorted(out.items()))


def size_histogram(trace, name: str | None = None) -> SizeHistogram:
    """Bucket a trace's allocation requests by glibc's chunk size; count those in tcache's range."""
    trace = as_trace(trace)
    sizes = Counter(op.size for op in trace.ops if op.kind == OpKind.ALLOC)
    chunks = Counter()
    for s, c in sizes.items():
        chunks[glibc_chunk_size(s)] += c
    n = sum(sizes.values())
    inside = sum(c for ch, c in chunks.items() if ch <= TCACHE_MAX_CHUNK)
    return SizeHistogram(name or trace.name, n, dict(sorted(chunks.items())), inside,
                         min(sizes, default=0), max(sizes, default=0), sizes)


# ---------------------------------------------------------------------------
# a window of a trace
# ---------------------------------------------------------------------------
def window(trace, start: int, n: int, name: str | None = None) -> Trace:
    """n operations from operation ``start`` (0-based) that replay on their own.

    The window starts from an empty heap: frees of blocks allocated before ``start``
    are dropped (skipped, and the window reads on until it has n operations), and
    blocks still live at its end stay allocated. (The alternative, allocating the
    blocks live at ``start`` first, would need an arena as big as the program's whole
    heap at that moment, and their places would be the teaching allocator's, not
    the program's.) Ids are renumbered 0, 1, 2... in order of allocation."""
    trace = as_trace(trace)
    if start < 0 or n < 0:
        raise ValueError("start and n must be >= 0")
    ids: dict = {}            # the trace's id -> the window's, for blocks live in the window
    ops, count = [], 0
    for op in trace.ops[start:]:
        if len(ops) >= n:
            break
        if op.kind == OpKind.ALLOC:
            ids[op.id] = str(count)
            count += 1
            ops.append(Op(OpKind.ALLOC, ids[op.id], op.size, len(ops) + 1))
        elif op.id in ids:
            ops.append(Op(OpKind.FREE, ids.pop(op.id), 0, len(ops) + 1))
    return Trace(ops, name or f"{trace.name}[{start}:+{n}]")


def replay_window(trace, start: int, n: int, policy: str = "first", order: str = "lifo",
                  arena_size: int | None = None, lazy: bool = False):
    """``window`` replayed in the teaching allocator (``lazy=True``: ``talloc.replay_lazy``,
    steps built when shown, for long windows). With ``arena_size`` None the arena is the
    smallest power of two (at least 16 KiB) that holds the window's peak of live requests
    plus 48 bytes per live block (tags, alignment), doubled until nothing fails."""
    from .talloc import DEFAULT_ARENA, replay, replay_lazy
    run = replay_lazy if lazy else replay
    w = window(trace, start, n)
    if arena_size is not None:
        return run(w, policy, order, arena_size)
    live, total, need = {}, 0, 0
    for op in w.ops:
        if op.kind == OpKind.ALLOC:
            live[op.id] = op.size
            total += op.size
        else:
            total -= live.pop(op.id)
        need = max(need, total + 48 * len(live))
    arena = DEFAULT_ARENA
    while arena < need:
        arena *= 2
    while True:
        r = run(w, policy, order, arena)
        if not (r.states.failed_steps if lazy else r.failures) or arena >= 1 << 30:
            return r
        arena *= 2


# ---------------------------------------------------------------------------
# measured, not assumed: what glibc and mimalloc really give (each in a fresh child)
# ---------------------------------------------------------------------------
def glibc_chunk_sizes(upto: int = 2048) -> list:
    """glibc's chunk size for every request 0..upto, measured with lesson 01's probe
    (``glibc_probe sizes``: ``malloc(n)`` in a fresh process, nothing freed, the size field
    read back), in batches of 1,000 so each output stays small; compare with
    ``glibc_chunk_size``, the formula. Up to 100,000 (bigger ones are mmapped)."""
    from .probes import build_probe, run_probe
    if not 0 <= upto <= 100_000:
        raise ValueError("upto must be 0..100000")
    probe, sizes = build_probe("glibc_probe"), []
    for lo in range(0, upto + 1, 1000):
        text = run_probe([probe, "sizes", *range(lo, min(lo + 1000, upto + 1))])
        sizes += [int(line.split()[1]) for line in text.splitlines()[1:]]     # after the header
    return sizes


def _mi_classes(lib, upto):
    import ctypes
    mi = ctypes.CDLL(lib)
    mi.mi_malloc.restype = ctypes.c_void_p
    mi.mi_malloc.argtypes = [ctypes.c_size_t]
    mi.mi_free.argtypes = [ctypes.c_void_p]
    mi.mi_usable_size.restype = ctypes.c_size_t
    mi.mi_usable_size.argtypes = [ctypes.c_void_p]
    classes, n = [], 1
    while n <= upto:
        p = mi.mi_malloc(n)
        u = mi.mi_usable_size(p)
        mi.mi_free(p)
        classes.append(u)
        n = u + 1
    return classes


def mimalloc_size_classes(upto: int = 8192) -> list:
    """mimalloc's block sizes up to ``upto``, measured: ``mi_usable_size(mi_malloc(n))`` walked
    from n = 1, each class's size + 1 giving the next (the wheel's libmimalloc, in a child)."""
    from ..isolate import run_python
    from ..toolchain import mimalloc
    r = run_python(_mi_classes, str(mimalloc().shared_lib), upto, timeout=30)
    if not r.ok:
        raise RuntimeError(f"measuring mimalloc: {r}")
    return r.value
