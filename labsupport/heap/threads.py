"""Snapshot source: what two threads do to glibc's arenas and to mimalloc's pages.

``arena_demo(size=24, tunables=None, fill=0)`` runs ``thread_probe.c`` (plain glibc malloc) in a fresh
process: the main thread and a second thread each malloc ``size``; the second thread's
first malloc makes a new arena (its chunks have the A bit, NON_MAIN_ARENA, and live in
an mmapped heap aligned to the reservation's size); then the main thread frees the
second thread's chunk (after ``fill`` chunks of its own of that size), and each thread
mallocs ``size`` again.

``mimalloc_cross_thread_free(size=48)`` runs ``mi_probe.c xfree`` (mimalloc): thread 2
allocates a and b in its page, frees b itself, the main thread frees a; thread 2 then
allocates, collects, and allocates until a comes back. It reads the page's three lists
(``free``, ``local_free``, ``xthread_free``) with the layout ``mi_probe.c`` vendors from
mimalloc's headers (see ``heap.mimalloc.mimalloc_steps``).

Both return small dataclasses whose ``table()`` (and ``str()``) is deterministic text:
no addresses, PIDs or timings.

Primary sources: glibc 2.36 malloc/malloc.c (``__libc_free``, ``_int_free``: the tcache is
tried first, and it is the calling thread's), malloc/arena.c (``new_heap``, ``heap_for_ptr``,
``arena_for_chunk``); mimalloc v3.4.3 src/free.c (``mi_free_block_local``,
``mi_free_block_mt``) and src/page.c (``_mi_page_free_collect``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .probes import build_probe, run_probe

__all__ = ["NO_TCACHE", "ChunkInfo", "ArenaInfo", "ArenaDemo", "arena_demo", "arena_outcome",
           "PageState", "CrossThreadFree", "mimalloc_cross_thread_free"]

NO_TCACHE = "glibc.malloc.tcache_count=0"


def _bytes(n: int) -> str:
    for unit, k in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k and n % k == 0:
            return f"{n // k} {unit}"
    return f"{n} B"


@dataclass(frozen=True)
class ChunkInfo:
    """One chunk of a thread, as glibc's size field and /proc/self/maps tell."""
    who: str                      # "main thread" or "thread 2"
    a_bit: bool                   # NON_MAIN_ARENA (0x4): the chunk is not in the main arena
    m_bit: bool                   # IS_MMAPPED (0x2)
    p_bit: bool                   # PREV_INUSE (0x1)
    chunk_size: int               # bytes, header included
    mapping: str                  # "[heap]" (the brk heap) or "anon" (an anonymous mmap)
    rw_bytes: int                 # the read-write part of that mapping
    reserved_bytes: int           # read-write part + the PROT_NONE reservation right after it
    aligned: bool                 # its start is a multiple of reserved_bytes
    heap_for_ptr: bool            # pointer & ~(reserved_bytes - 1) == its start (arena.c)
    arena_offset: int | None      # heap_info->ar_ptr: where the arena (malloc_state) is, from the start


@dataclass(frozen=True)
class ArenaInfo:
    """One arena in malloc_info(3) right after the cross-thread free."""
    nr: int                       # 0 = the main arena
    fast_chunks: int              # chunks in its fastbins
    sizes: tuple = ()             # (from, to, count) of its bins that hold chunks (fastbins, bins)
    unsorted: int = 0             # chunks in its unsorted list


@dataclass
class ArenaDemo:
    size: int
    tunables: str | None
    fill: int                     # chunks of its own the main thread freed just before
    glibc: str                    # gnu_get_libc_version()
    main: ChunkInfo
    t2: ChunkInfo
    arenas: list                  # ArenaInfo, after main freed thread 2's chunk
    main_got_it: bool             # the main thread's next malloc(size) returned that chunk
    t2_got_it: bool               # then thread 2's next malloc(size) returned it
    raw: str = field(default="", repr=False)

    @property
    def went_to(self) -> str:
        """Where the freed chunk went, from what the run showed."""
        t2_arena = next((a for a in self.arenas if a.nr == 1), None)
        if t2_arena is not None and t2_arena.fast_chunks and any(
                lo <= self.t2.chunk_size <= hi for lo, hi, _ in t2_arena.sizes):
            return "a fastbin of thread 2's arena"
        if t2_arena is not None and t2_arena.unsorted:
            return "the unsorted list of thread 2's arena"
        if self.main_got_it:
            return "the main thread's tcache"
        if t2_arena is not None and self.t2_got_it and not t2_arena.sizes and not t2_arena.unsorted:
            # no bin of its arena holds it, and thread 2 gets it back: from glibc 2.43 (no
            # fastbins) free merged it with its neighbour, the top chunk of that arena
            return "the top chunk of thread 2's arena (merged)"
        return "unknown"

    def table(self, chunks: bool = True, free: bool = True) -> str:
        """chunks: the two threads' chunks and where they live; free: what the cross-thread
        free did (the lines from "the main thread frees ..." on)."""
        m, t = self.main, self.t2
        rows = [("", "main thread's chunk", "thread 2's chunk"),
                ("A bit (NON_MAIN_ARENA)", int(m.a_bit), int(t.a_bit)),
                ("chunk size", f"{m.chunk_size} B", f"{t.chunk_size} B"),
                ("lives in", _where(m), _where(t)),
                ("read-write part", _bytes(m.rw_bytes), _bytes(t.rw_bytes)),
                ("whole reservation", _reservation(m), _reservation(t)),
                ("ptr & ~(reservation-1)", _hfp(m), _hfp(t)),
                ("arena's malloc_state", _arena(m), _arena(t))]
        w0 = max(len(str(r[0])) for r in rows)
        w1 = max(len(str(r[1])) for r in rows)
        lines = [f"glibc {self.glibc}, malloc({self.size}), "
                 f"GLIBC_TUNABLES={self.tunables or '(not set)'}"]
        if chunks:
            lines += [f"{r[0]:<{w0}}  {r[1]!s:<{w1}}  {r[2]}" for r in rows]
        if not free:
            return "\n".join(lines)
        if chunks:
            lines.append("")
        own = f"{self.fill} chunk(s) of its own of that size, then " if self.fill else ""
        lines.append(f"the main thread frees {own}thread 2's chunk; malloc_info(3) then shows:")
        for a in self.arenas:
            name = "main arena" if a.nr == 0 else f"arena {a.nr} (thread 2's)"
            held = ", ".join(f"{c} chunk(s) of {lo}-{hi} B" for lo, hi, c in a.sizes) or "nothing"
            lines.append(f"  {name:<22} fastbins: {a.fast_chunks}  bins hold: {held}")
        lines.append(f"main thread's next malloc({self.size}) gets that chunk: {'yes' if self.main_got_it else 'no'}")
        lines.append(f"thread 2's next malloc({self.size}) gets that chunk:   {'yes' if self.t2_got_it else 'no'}")
        lines.append(f"so free() put it in: {self.went_to}")
        return "\n".join(lines)

    __str__ = table


def _where(c: ChunkInfo) -> str:
    return "[heap] (brk)" if c.mapping == "[heap]" else "anonymous mmap" if c.mapping == "anon" else c.mapping


def _reservation(c: ChunkInfo) -> str:
    if c.reserved_bytes == c.rw_bytes:
        return "none after it"
    return f"{_bytes(c.reserved_bytes)}, start {'is' if c.aligned else 'is NOT'} a multiple of it"


def _hfp(c: ChunkInfo) -> str:
    if c.reserved_bytes == c.rw_bytes:
        return "-"
    return "= the mapping's start" if c.heap_for_ptr else "!= the mapping's start"


def _arena(c: ChunkInfo) -> str:
    if c.arena_offset is None:
        return "main_arena, in libc" if c.mapping == "[heap]" else "-"
    return f"at +{c.arena_offset} of this mapping"


def arena_demo(size: int = 24, tunables: str | None = None, fill: int = 0) -> ArenaDemo:
    """Run thread_probe.c in a fresh process (``tunables``: GLIBC_TUNABLES, e.g. ``NO_TCACHE``;
    ``fill``: how many chunks of its own (0-64) the main thread frees just before)."""
    if not 0 <= fill <= 64:
        raise ValueError("fill must be between 0 and 64")
    env = {"GLIBC_TUNABLES": tunables} if tunables else None
    text = run_probe([build_probe("thread_probe"), "arena", int(size), int(fill)], env=env)
    chunks, maps, got, info, version = {}, {}, {}, [], ""
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "V":
            version = f[1]
        elif f[0] == "C":
            chunks[f[1]] = (f[2], int(f[3]))
        elif f[0] == "M" and len(f) >= 10:
            maps[f[1]] = f[2:]
        elif f[0] == "G":
            got[f[1]] = f[2] == "1"
        elif f[0] == "I":
            info.append(line[2:])

    def chunk(key, who):
        flags, csize = chunks[key]
        name, _perms, rw, total, aligned, hfp, aoff, _off = maps[key]
        return ChunkInfo(who, flags[0] == "A", flags[1] == "M", flags[2] == "P", csize, name, int(rw), int(total),
                         aligned == "1", hfp == "1", None if aoff == "-1" else int(aoff))

    return ArenaDemo(size, tunables, fill, version, chunk("main", "main thread"), chunk("t2", "thread 2"),
                     _parse_malloc_info("\n".join(info)), got.get("main", False), got.get("t2", False), text)


def arena_outcome(tcache_on: bool = True, own_freed: int = 0, size: int = 24) -> str:
    """Measured: after the main thread frees ``own_freed`` chunks of its own, then thread 2's
    chunk, whose next malloc(size) gets thread 2's chunk: "main thread", "thread 2" or "neither"."""
    d = arena_demo(size, None if tcache_on else NO_TCACHE, own_freed)
    return "main thread" if d.main_got_it else "thread 2" if d.t2_got_it else "neither"


def _parse_malloc_info(xml: str) -> list:
    out = []
    for m in re.finditer(r'<heap nr="(\d+)">(.*?)</heap>', xml, re.S):
        body = m.group(2)
        sizes = tuple((int(a), int(b), int(c)) for a, b, c in
                      re.findall(r'<size from="(\d+)" to="(\d+)" total="\d+" count="(\d+)"/>', body))
        fast = re.search(r'<total type="fast" count="(\d+)"', body)
        uns = re.search(r'<unsorted from="\d+" to="\d+" total="\d+" count="(\d+)"/>', body)
        out.append(ArenaInfo(int(m.group(1)), int(fast.group(1)) if fast else 0, sizes,
                             int(uns.group(1)) if uns else 0))
    return out


# ---------------------------------------------------------------------------
# mimalloc: a free from a thread that does not own the page
# ---------------------------------------------------------------------------
_EVENTS = {"alloc_ab": "thread 2: a = malloc, b = malloc",
           "t2_free_b": "thread 2: free(b)  (its own page)",
           "main_free_a": "main thread: free(a)  (thread 2's page)",
           "t2_alloc_c": "thread 2: c = malloc",
           "t2_collect": "thread 2: mi_collect(false)"}


@dataclass(frozen=True)
class PageState:
    """The page of a and b after one event. used: the page's count of blocks in use
    (public: ``mi_heap_area_t.used``); the rest read from ``mi_page_t`` (None without)."""
    event: str
    used: int
    free: int | None = None          # blocks on page->free
    local_free: int | None = None    # on page->local_free
    thread_free: int | None = None   # on page->xthread_free
    a: str | None = None             # which list a is on: "used", "free", "local", "thread"
    b: str | None = None


@dataclass
class CrossThreadFree:
    size: int
    version: int                     # mi_version()
    internals: bool                  # the page's lists were read (vendored layout matched)
    why: str
    states: list                     # PageState per event
    main_has_own_page: bool          # the main thread's block of that size is on another page
    c_is: str                        # thread 2's next block: "a", "b" or "other"
    again: int                       # thread 2's n-th malloc after collecting returned a (-1: not within 100,000)
    raw: str = field(default="", repr=False)

    def table(self) -> str:
        v = self.version
        lines = [f"mimalloc {v // 10000}.{v // 100 % 100}.{v % 100}, blocks of {self.size} B; "
                 f"page lists read from mi_page_t: {'yes' if self.internals else 'no (' + self.why + ')'}"]
        w = max(len(e) for e in _EVENTS.values())
        lines.append(f"{'event':<{w}}  used  free  local free  thread free   a       b")
        for s in self.states:
            def n(x):
                return "?" if x is None else x
            lines.append(f"{s.event:<{w}}  {s.used:>4}  {n(s.free):>4}  {n(s.local_free):>10}  "
                         f"{n(s.thread_free):>11}   {n(s.a):<7} {n(s.b)}")
        lines.append(f"main thread's own {self.size} B block is on another page: "
                     f"{'yes' if self.main_has_own_page else 'no'}")
        lines.append(f"c (thread 2's malloc after the frees) is: {self.c_is}")
        lines.append(f"after collecting, thread 2 gets a back at its malloc number: "
                     f"{self.again if self.again > 0 else 'not within 100,000'}")
        return "\n".join(lines)

    __str__ = table


def mimalloc_cross_thread_free(size: int = 48) -> CrossThreadFree:
    """Run ``mi_probe xfree SIZE`` in a fresh process (see the module's docstring)."""
    text = run_probe([build_probe("mi_probe"), "xfree", int(size)])
    states, x, version, internals, why = [], {}, 0, False, ""
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "R" and len(f) >= 4 and f[2] == "used":
            kw = dict(zip(f[4::2], f[5::2]))
            states.append(PageState(_EVENTS.get(f[1], f[1]), int(f[3]),
                                    *(int(kw[k]) if k in kw else None for k in ("free", "local", "thread")),
                                    kw.get("a"), kw.get("b")))
        elif f[0] == "X":
            x[f[1]] = f[2]
        elif f[0] == "version":
            version = int(f[1])
        elif f[0] == "internals":
            internals = f[1] == "1"
            why = "" if internals else " ".join(f[2:])
    return CrossThreadFree(int(size), version, internals, why, states, x.get("same_page_as_main") == "0",
                           x.get("c_is", "?"), int(x.get("again", -1)), text)
