"""Measuring allocators (lesson 09): workloads under several mallocs, and a malloc lab.

    from labsupport import allocbench as ab
    res = ab.compare(["churn", "prodcons"], ["glibc", "mimalloc"], repeats=5)
    print(res.table())
    scores = ab.malloclab({"teaching": "talloc", "mine": my_c_source}, ["grow", "awk"])
    print(ab.score_table(scores))

Workloads are small C programs in ``native_examples/09_measuring_allocators/``
that print one ``RESULT key=value...`` line (wall and CPU time of the measured
loop, peak RSS, page faults). Allocators are environment settings for the same
binary: glibc as is, glibc without tcache (``GLIBC_TUNABLES``), mimalloc by
``LD_PRELOAD`` of the wheel's ``libmimalloc.so``, the teaching allocator of
lesson 01 by ``LD_PRELOAD`` of ``talloc_preload.c``. Every run goes through
``run_program`` (a fresh process, limits, a timeout).

Method, built in: a warm-up round that is thrown away, then rounds in which
every (workload, allocator) pair runs once, in an order rotated each round
(interleaving, so a burst of load from elsewhere hits all of them); medians;
ratios computed per round (paired) with their min..max spread.

The malloc lab (after CS:APP's mdriver) builds ``mdriver.c`` with an allocator
file that implements ``mm.h`` and scores it: correctness first (the first failing
operation named), then utilisation, then throughput relative to glibc measured
in the same call. The allocator runs in a child process under a seccomp filter
(no system call but its two pipes to the driver); the driver's scorer keeps the
trace, the break, the footprint, the live blocks and the times in its own process.

This module is the data: it builds and runs the workloads and the driver and returns
plain results (``Comparison``, ``Score``, ``LabScore``) with their text tables. It
imports no drawing library, nothing of IPython's display and nothing of
``labsupport.widgets``, so a benchmark or an isolated child runs it without loading
matplotlib. The pictures (``plot_comparison(res)``, ``lab_plot(scores)``) are in
``labsupport/widgets/allocplot.py``; the notebook's progress line is
``labsupport/widgets/progress.py`` (see ``set_progress_display``).
"""
from __future__ import annotations

import hashlib
import math
import functools
import inspect
import re
import statistics
import sys
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .cbuild import build_program
from .isolate import run_program
from .toolchain import cache_dir, example_path, mimalloc

__all__ = ["ALLOCATORS", "FORBIDDEN", "LAB_ALLOCATORS", "REFERENCE", "WORKLOADS", "Comparison", "LabScore",
           "Rejected", "Score", "Trace", "Workload", "adversarial_traces", "allocator_env", "binary_trace",
           "build_workload", "compare", "driver", "driver_syscalls", "end_to_end", "grow_trace", "here",
           "inspect_allocator", "POLICIES", "ALLOWED_CALLS", "MM_FUNCTIONS", "TALLOC_CALLS", "parse_driver_output",
           "is_reference", "lab_scores", "lab_table", "lab_verdicts", "load_trace", "malloclab",
           "parse_trace", "realloc_trace", "record", "recorder", "run_workload", "score", "score_table",
           "set_progress_display", "shipped_trace", "sizes_trace", "syscall_counts", "talloc_preload", "thp_mode"]

LESSON = "09_measuring_allocators"
NO_TCACHE = "glibc.malloc.tcache_count=0"


def here(*parts) -> Path:
    return example_path(LESSON, *parts)


# ---------------------------------------------------------------------------
# workloads and allocators
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    name: str
    source: str
    quick: tuple          # argv for the notebook's quick runs
    full: tuple           # argv for benchmarks/bench_allocators.py
    what: str


WORKLOADS = {w.name: w for w in [
    Workload("churn", "churn.c", ("1500000", "1000", "1024"), ("2000000", "1000", "1024"),
             "small objects of mixed sizes, random order, 1 thread"),
    Workload("large", "large.c", ("6000", "8", "16384", "1048576"), ("20000", "8", "16384", "1048576"),
             "16 KiB..1 MiB blocks, every page written"),
    Workload("threads", "threads.c", ("4", "300000", "1000", "1024"), ("4", "500000", "1000", "1024"),
             "4 threads, each its own small-object churn"),
    Workload("prodcons", "prodcons.c", ("1", "1000000", "64", "256"), ("2", "1000000", "64", "256"),
             "producer mallocs, consumer frees (cross-thread free)"),
    Workload("frag", "frag.c", ("10", "20000", "32", "1000", "16"), ("20", "20000", "32", "1000", "16"),
             "big blocks freed around pinned small ones, then bigger requests"),
]}

ALLOCATORS = ("glibc", "glibc-no-tcache", "mimalloc", "talloc")
POLICIES = {"talloc-best": "best", "talloc-address": "address"}     # talloc_preload's TALLOC_POLICY
LABELS = {"glibc": "glibc", "glibc-no-tcache": "glibc, no tcache", "mimalloc": "mimalloc",
          "talloc": "teaching (talloc)", "talloc-best": "talloc, best fit",
          "talloc-address": "talloc, address order"}


def build_workload(name: str) -> Path:
    w = WORKLOADS[name]
    return build_program([here(w.source)], cflags=("-O2", "-pthread"), ldflags=("-pthread",))


def talloc_preload() -> Path:
    """Lesson 01's talloc.c, unchanged, as an LD_PRELOAD malloc (one lock)."""
    return build_program([here("talloc_preload.c"), example_path("01_heap_managers", "talloc.c")],
                         output="libtalloc_preload.so",
                         cflags=("-O2", "-fno-builtin", "-fPIC", f"-I{example_path('01_heap_managers')}"),
                         ldflags=("-shared",))


def allocator_env(alloc: str) -> dict:
    if alloc == "glibc":
        return {}
    if alloc == "glibc-no-tcache":
        return {"GLIBC_TUNABLES": NO_TCACHE}
    if alloc == "mimalloc":
        return {"LD_PRELOAD": str(mimalloc().shared_lib)}
    if alloc == "talloc":
        return {"LD_PRELOAD": str(talloc_preload())}
    if alloc in POLICIES:
        return {"LD_PRELOAD": str(talloc_preload()), "TALLOC_POLICY": POLICIES[alloc]}
    raise ValueError(f"unknown allocator {alloc!r}; choose from {', '.join(LABELS)}")


def parse_result(stdout: str) -> dict:
    m = re.search(r"^RESULT (.*)$", stdout, re.M)
    if not m:
        raise RuntimeError(f"no RESULT line in the output: {stdout[-300:]!r}")
    out = {}
    for kv in m.group(1).split():
        k, v = kv.split("=", 1)
        out[k] = float(v) if "." in v else int(v)
    return out


def run_workload(name: str, alloc: str = "glibc", args=None, timeout: float = 60.0,
                 full: bool = False, extra_env: dict | None = None) -> dict:
    """Run one workload once under one allocator; the parsed RESULT line."""
    exe = build_workload(name)
    argv = [str(exe), *map(str, args if args is not None else
                           (WORKLOADS[name].full if full else WORKLOADS[name].quick))]
    env = {**allocator_env(alloc), **(extra_env or {})}
    r = run_program(argv, timeout=timeout, env=env or None, max_rss_mb=None)
    if not r.ok:
        raise RuntimeError(f"{name} under {alloc}: {r.status()}\n{r.stderr[-500:]}")
    return parse_result(r.stdout)


# ---------------------------------------------------------------------------
# side by side, interleaved
# ---------------------------------------------------------------------------
@dataclass
class Comparison:
    workloads: list
    allocators: list
    samples: dict = field(default_factory=dict)     # (workload, alloc) -> list of RESULT dicts
    skipped: dict = field(default_factory=dict)     # (workload, alloc) -> reason

    def values(self, w, a, key="wall"):
        return [s[key] for s in self.samples.get((w, a), [])]

    def median(self, w, a, key="wall"):
        v = self.values(w, a, key)
        return statistics.median(v) if v else float("nan")

    def spread(self, w, a, key="wall"):
        """(max - min) / median of the runs: how much one measurement can be off."""
        v = self.values(w, a, key)
        return (max(v) - min(v)) / statistics.median(v) if len(v) > 1 and statistics.median(v) else 0.0

    def ratios(self, w, a, base="glibc", key="wall"):
        """Paired ratios base/a, one per round (same round = same moment of machine load)."""
        b, x = self.values(w, base, key), self.values(w, a, key)
        return [p / q for p, q in zip(b, x) if q > 0]

    def ratio(self, w, a, base="glibc", key="wall"):
        """(median, min, max) of the paired ratios base/a: > 1 means a is faster than base."""
        r = self.ratios(w, a, base, key)
        return (statistics.median(r), min(r), max(r)) if r else (float("nan"),) * 3

    def winner(self, w, key="wall", among=("glibc", "mimalloc")):
        return min((a for a in among if self.values(w, a, key)), key=lambda a: self.median(w, a, key))

    def table(self, key="wall") -> str:
        rows = [f"{'workload':10} {'allocator':18} {'median ' + key:>12} {'spread':>7} "
                f"{'glibc/this (min..max)':>24} {'cpu s':>7} {'peak RSS':>9} {'faults':>8}"]
        for w in self.workloads:
            for a in self.allocators:
                if (w, a) in self.skipped:
                    rows.append(f"{w:10} {LABELS.get(a, a):18} skipped: {self.skipped[w, a]}")
                    continue
                if not self.values(w, a):
                    continue
                med, lo, hi = self.ratio(w, a, key=key)
                rows.append(f"{w:10} {LABELS.get(a, a):18} {self.median(w, a, key) * 1000:9.1f} ms "
                            f"{self.spread(w, a, key) * 100:6.0f}% "
                            f"{med:9.2f}x ({lo:5.2f}..{hi:5.2f})  {self.median(w, a, 'cpu'):7.3f} "
                            f"{self.median(w, a, 'maxrss_kb') / 1024:6.1f} MB {self.median(w, a, 'minflt'):8.0f}")
            rows.append("")
        return "\n".join(rows)


# ---------------------------------------------------------------------------
# progress: compare() and malloclab() say what they run, one line at a time
# ---------------------------------------------------------------------------
def _print_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _stderr_progress():
    return _print_line


_progress_factory = _stderr_progress


def set_progress_display(factory) -> None:
    """Where ``progress=True`` reports: ``factory()`` gives a callable taking one line of
    text, called once per run. The default prints each line to stderr (a console); the
    display layer installs a line that overwrites itself in a notebook
    (``labsupport/widgets/progress.py``, installed when ``widgets.allocplot`` is imported),
    so that this module imports nothing of IPython's display."""
    global _progress_factory
    _progress_factory = factory or _stderr_progress


def _reporter(progress):
    """``progress``: False/None (silent), True (the installed display), or a callable(text)."""
    if callable(progress):
        return progress
    return _progress_factory() if progress else None



def _compare(workloads=None, allocators=("glibc", "mimalloc"), repeats: int = 5, args: dict | None = None,
            full: bool = False, timeout: float = 60.0, skip: dict | None = None,
            progress: bool = True) -> Comparison:
    """Every workload under every allocator: one warm-up round (discarded), then
    ``repeats`` rounds; within a round the allocators' order rotates.
    ``args``: {workload: argv} to change parameters; ``skip``: {(workload, alloc): reason}."""
    workloads = list(workloads or WORKLOADS)
    allocators = list(allocators)
    for w in workloads:                 # refused now, before any warm-up runs
        if w not in WORKLOADS:
            raise ValueError(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    for a in allocators:
        if a not in LABELS:
            raise ValueError(f"unknown allocator {a!r}; choose from {', '.join(LABELS)}")
    args = args or {}
    res = Comparison(workloads, allocators, skipped=dict(skip or {}))
    line = _reporter(progress)
    total = (repeats + 1) * len(workloads) * len(allocators)
    done, t0 = 0, time.monotonic()
    for rnd in range(repeats + 1):
        for w in workloads:
            order = allocators[rnd % len(allocators):] + allocators[:rnd % len(allocators)]
            for a in order:
                done += 1
                if (w, a) in res.skipped:
                    continue
                if line:
                    line(f"{'warm-up' if rnd == 0 else f'round {rnd}/{repeats}'}: {w} under "
                                f"{LABELS.get(a, a)}   [{done}/{total} runs, {time.monotonic() - t0:.0f} s]")
                try:
                    out = run_workload(w, a, args.get(w), timeout=timeout, full=full)
                except RuntimeError as exc:
                    res.skipped[w, a] = str(exc).splitlines()[0]
                    res.samples.pop((w, a), None)
                    continue
                if rnd > 0:
                    res.samples.setdefault((w, a), []).append(out)
    if line:
        line(f"done: {total} runs in {time.monotonic() - t0:.0f} s "
                    f"({repeats} rounds after one warm-up round)")
    return res


def _run_store():
    """Every run compare() made: id -> (weak reference, a copy of its wall times), so that a check
    can judge the run as it was measured, whatever was done to the Comparison object since. The
    dict lives in this closure; the module shows only a read-only view of it (``_RUNS``), so
    ``ab._RUNS[...] = ...`` raises and rebinding ``ab._RUNS`` changes nothing (review2-09 N7).
    The function that records a run is not a module attribute either: only ``compare`` holds it,
    in its closure (review3-09 D4). Code in the same interpreter that digs it, or the dict, out
    of a closure can still forge a run: no check inside one Python process can stop that, and
    exercise 1 says so."""
    runs: dict = {}

    def keep(res, walls: dict) -> None:
        runs[id(res)] = (weakref.ref(res), MappingProxyType(dict(walls)))

    def walls_of(res) -> dict | None:
        """The wall times compare() measured for ``res`` ({(workload, alloc): tuple}), from the
        copy made when it ran; None if ``res`` was not made by compare()."""
        entry = runs.get(id(res))
        if entry is None or entry[0]() is not res:
            return None
        return dict(entry[1])

    return keep, walls_of, MappingProxyType(runs)


def _recorded(measure):
    """``compare``: ``measure`` whose every run is recorded by a keeper held only in this closure."""
    keep, walls_of, view = _run_store()

    @functools.wraps(measure)
    def compare(*args, **kwargs) -> Comparison:
        res = measure(*args, **kwargs)
        keep(res, {k: tuple(float(x["wall"]) for x in v) for k, v in res.samples.items()})
        return res

    compare.__signature__ = inspect.signature(measure)   # help() shows it; the unrecorded function
    del compare.__wrapped__                                # is reachable by no attribute
    return compare, walls_of, view


compare, measured_walls, _RUNS = _recorded(_compare)
del _compare


# ---------------------------------------------------------------------------
# traces for the malloc lab
# ---------------------------------------------------------------------------
@dataclass
class Trace:
    name: str
    ops: list               # (kind, id, size, line) with kind in "alloc", "free", "realloc"
    children: int = 0       # recorded traces: child processes the program started (not recorded)

    def __len__(self):
        return len(self.ops)

    def __repr__(self):
        return f"Trace({self.name!r}: {len(self.ops)} operations)"

    def numeric(self) -> str:
        """The driver's format: 'IDS OPS' then a/r/f lines with ids 0, 1, 2..."""
        ids, out = {}, []
        for kind, i, size, _ in self.ops:
            n = ids.setdefault(i, len(ids))
            out.append(f"{kind[0]} {n} {size}" if kind != "free" else f"f {n}")
        return f"{len(ids)} {len(out)}\n" + "\n".join(out) + "\n"

    def live_peak(self) -> int:
        live, peak, sizes = 0, 0, {}
        for kind, i, size, _ in self.ops:
            if kind == "free":
                live -= sizes.pop(i)
            else:
                live += size - sizes.get(i, 0)
                sizes[i] = size
            peak = max(peak, live)
        return peak


def parse_trace(text: str, name: str = "trace") -> Trace:
    """Lesson 01's format plus ``realloc ID SIZE``; the first bad line is named."""
    ops, live = [], set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        kind = line[0]
        ok = (kind in ("alloc", "realloc") and len(line) == 3 and line[2].isdigit()) or \
             (kind == "free" and len(line) == 2)
        if not ok:
            raise ValueError(f"{name}, line {n}: expected 'alloc ID SIZE', 'realloc ID SIZE' or 'free ID', "
                             f"got {raw.strip()!r}")
        i = line[1]
        if kind == "alloc" and i in live:
            raise ValueError(f"{name}, line {n}: {i!r} is already allocated: {raw.strip()!r}")
        if kind in ("free", "realloc") and i not in live:
            raise ValueError(f"{name}, line {n}: {i!r} is not allocated: {raw.strip()!r}")
        if kind == "free":
            live.discard(i)
        else:
            live.add(i)
        ops.append((kind, i, int(line[2]) if kind != "free" else 0, n))
    return Trace(name, ops)


def trace_dirs():
    return [here("traces"), example_path("01_heap_managers", "traces")]


def load_trace(name) -> Trace:
    """A Trace, trace text, a path, or the name of a trace shipped with lesson 09 or 01."""
    if isinstance(name, Trace):
        return name
    if "\n" in str(name):
        return parse_trace(str(name))
    p = Path(name)
    if not p.exists():
        for d in trace_dirs():
            if (d / f"{name}.trace").exists():
                p = d / f"{name}.trace"
                break
        else:
            have = sorted({x.stem for d in trace_dirs() for x in d.glob("*.trace")})
            raise FileNotFoundError(f"no trace {name!r}; shipped: {', '.join(have)}")
    return parse_trace(p.read_text(), p.stem)


def grow_trace(vectors: int = 6, steps: int = 120, step: int = 48, seed: int = 9) -> Trace:
    """Growing buffers (a string builder, a vector) resized by small steps, with
    short-lived small blocks allocated between the resizes: what makes a naive
    realloc (allocate, copy, free) waste memory."""
    import random
    rng = random.Random(seed)
    ops, size, tmp = [], {}, 0
    for v in range(vectors):
        size[v] = 64
        ops.append(("alloc", f"v{v}", 64, 0))
    for s in range(steps):
        for v in range(vectors):
            size[v] += rng.randint(step // 2, step * 3 // 2)
            ops.append(("realloc", f"v{v}", size[v], 0))
            ops.append(("alloc", f"t{tmp}", rng.randint(16, 96), 0))
            if tmp >= 3:
                ops.append(("free", f"t{tmp - 3}", 0, 0))
            tmp += 1
    for t in range(max(0, tmp - 3), tmp):
        ops.append(("free", f"t{t}", 0, 0))
    for v in range(vectors):
        ops.append(("free", f"v{v}", 0, 0))
    return Trace("grow", [(k, i, n, j + 1) for j, (k, i, n, _) in enumerate(ops)])


def binary_trace(pairs: int = 500, small: int = 64, big: int = 448, later: int = 512) -> Trace:
    """After CS:APP's binary-bal trace: small and big blocks alternate, every big one is
    freed, then the requests are a little bigger than the holes: an allocator that
    cannot place them in the holes must grow the heap by all of them."""
    ops = []
    for i in range(pairs):
        ops += [("alloc", f"s{i}", small, 0), ("alloc", f"b{i}", big, 0)]
    ops += [("free", f"b{i}", 0, 0) for i in range(pairs)]
    ops += [("alloc", f"c{i}", later, 0) for i in range(pairs)]
    ops += [("free", f"s{i}", 0, 0) for i in range(pairs)] + [("free", f"c{i}", 0, 0) for i in range(pairs)]
    return Trace("binary", [(k, i, n, j + 1) for j, (k, i, n, _) in enumerate(ops)])


def realloc_trace(steps: int = 400, start: int = 512, step: int = 128, small: int = 128) -> Trace:
    """After CS:APP's realloc-bal trace: one block grown by ``step`` bytes at a time, a
    short-lived small block allocated after every growth: realloc as allocate-copy-free
    leaves a trail of holes the growing block never fits in again."""
    ops = [("alloc", "v", start, 0), ("alloc", "t0", small, 0)]
    for k in range(1, steps + 1):
        ops += [("realloc", "v", start + k * step, 0), ("alloc", f"t{k}", small, 0), ("free", f"t{k - 1}", 0, 0)]
    ops += [("free", f"t{steps}", 0, 0), ("free", "v", 0, 0)]
    return Trace("realloc", [(k, i, n, j + 1) for j, (k, i, n, _) in enumerate(ops)])


def sizes_trace(ops_count: int = 4000, seed: int = 3) -> Trace:
    """Many sizes: 0 bytes to 64 KiB, spread evenly on a log scale (a few zero-byte
    requests among them), freed in random order with about 300 blocks live."""
    import random
    rng = random.Random(seed)
    ops, live, n = [], [], 0
    while len(ops) < ops_count:
        if live and (len(live) > 300 or rng.random() < 0.45):
            ops.append(("free", live.pop(rng.randrange(len(live))), 0, 0))
        else:
            size = 0 if rng.random() < 0.01 else int(2 ** rng.uniform(0, 16))
            ops.append(("alloc", f"m{n}", size, 0))
            live.append(f"m{n}")
            n += 1
    ops += [("free", i, 0, 0) for i in live]
    return Trace("sizes", [(k, i, s, j + 1) for j, (k, i, s, _) in enumerate(ops)])


def adversarial_traces() -> list:
    """The lab's adversarial traces: ``binary``, ``realloc`` (after CS:APP's binary-bal
    and realloc-bal) and ``sizes``; with ``grow_trace``'s ``grow``."""
    return [binary_trace(), realloc_trace(), sizes_trace(), grow_trace()]


def shipped_trace(name: str = "awk") -> Trace:
    """A trace recorded once and shipped with the lesson (``traces/awk.trace``: mawk 1.3.4),
    so the lab does not depend on the awk installed here."""
    return parse_trace(here("traces", f"{name}.trace").read_text(), name)


def trace_text(trace: Trace) -> str:
    return "".join(f"{k} {i} {n}\n" if k != "free" else f"free {i}\n" for k, i, n, _ in trace.ops)


def recorder() -> Path:
    """The LD_PRELOAD trace recorder (tracerec.c; ``heap.recorder`` builds it)."""
    from .heap.recorder import recorder_library
    return recorder_library()


def record(argv, name: str = "recorded", env: dict | None = None, timeout: float = 30.0) -> Trace:
    """Run a program with the recorder preloaded; its malloc calls as a Trace (with realloc).
    ``heap.recorder.record`` gives the same calls as a course trace (alloc/free only)."""
    from .heap.recorder import children_in, record_text, refuse_childrens_work
    text = record_text(argv, env=env, timeout=timeout)
    trace = parse_trace(text, name)
    refuse_childrens_work(argv, text, len(trace))
    trace.children = children_in(text)
    return trace


# ---------------------------------------------------------------------------
# the malloc lab
# ---------------------------------------------------------------------------
LAB_ALLOCATORS = {"talloc": "mm_talloc.c", "broken": "mm_broken.c"}
REFERENCE = ("glibc", "glibc-no-tcache", "mimalloc")     # their own memory: the reference path
BUILTIN = {**LAB_ALLOCATORS, **{a: "mm_libc.c" for a in REFERENCE}}

# What a lab allocator may use from outside its file (an allow-list: a forbidden list misses the
# C library functions that call malloc for you, such as getcwd(NULL, n)): the driver's heap, the
# ta_* functions of lesson 01 in TALLOC_CALLS (talloc.c is linked in), the memory functions, and
# abort / assert. Anything else (malloc, mmap, printf, getcwd, the linker's __bss_start...) is
# refused before the file runs.
MM_FUNCTIONS = ("mm_init", "mm_malloc", "mm_free", "mm_realloc", "mm_checkheap")      # mm.h's, all
ALLOWED_CALLS = ("mem_sbrk", "mem_heap_lo", "mem_heap_hi", "mem_heapsize", "mem_pagesize",
                 "memcpy", "memmove", "memset", "memcmp", "__memcpy_chk", "__memmove_chk", "__memset_chk",
                 "abort", "__assert_fail", "__stack_chk_fail", "_GLOBAL_OFFSET_TABLE_")
# lesson 01's talloc.c is linked in: exactly the functions an allocator built on it needs (talloc.h's
# other helpers are static inline). Not ta_replay_check (talloc.c:269): it calls malloc, printf,
# signal and alarm, so it could write the driver's output or cancel its watchdog (review2-09 N1).
TALLOC_CALLS = ("ta_init", "ta_malloc", "ta_free", "ta_coalesce", "ta_block_size_for", "ta_walk",
                "ta_freelist", "ta_check")
KERNEL_DOORS = ("mmap", "mmap64", "munmap", "mremap", "mprotect", "pkey_mprotect", "madvise", "sbrk", "brk",
                "shmat", "syscall", "dlsym", "dlvsym", "dlopen")
FORBIDDEN = ("malloc", "calloc", "realloc", "free", "reallocarray", "posix_memalign", "aligned_alloc",
             "memalign", "valloc", "pvalloc", "strdup", "strndup", "asprintf", "vasprintf", "getline",
             "__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_free", "__libc_memalign",
             *KERNEL_DOORS)         # named in the message when used; the allow-list refuses more
# sections whose code runs before or after main (constructors) are refused
RUNS_ITSELF = (".init_array", ".fini_array", ".preinit_array", ".ctors", ".dtors", ".init", ".fini")
STATIC_LIMIT = 1024      # writable static bytes a lab allocator may keep (a few pointers, list heads)
UTIL_WEIGHT = 0.6        # CS:APP's config.h: the performance index weighs utilisation 0.6, throughput 0.4


class Rejected(Exception):
    """A lab allocator the driver refuses before running it (the message says why)."""


def is_reference(allocator) -> bool:
    return isinstance(allocator, str) and allocator in REFERENCE


def _lab_source(allocator: str) -> Path:
    """The C file of a lab allocator: a builtin name, C source text, or a path."""
    if allocator in LAB_ALLOCATORS:
        return here(LAB_ALLOCATORS[allocator])
    if "\n" in allocator or "mm_malloc" in allocator:
        d = cache_dir() / "malloclab"
        d.mkdir(parents=True, exist_ok=True)
        src = d / f"mm_{hashlib.sha256(allocator.encode()).hexdigest()[:16]}.c"
        if not src.exists():
            src.write_text(allocator)
        return src
    p = Path(allocator)
    if p.suffix == ".c" and p.exists():
        return p
    raise ValueError(f"unknown allocator {allocator!r}: choose from {', '.join(BUILTIN)}, "
                     "or give C source that defines mm_malloc, or the path of such a .c file")


def _known(allocator) -> None:
    """ValueError for an allocator name that is neither builtin, C source, nor a .c file."""
    if not is_reference(allocator):
        _lab_source(allocator)


def _cflags():
    return ("-O2", "-fno-builtin-malloc", f"-I{here()}", f"-I{example_path('01_heap_managers')}")


def _allowed_call(name: str) -> bool:
    return name in ALLOWED_CALLS or name in MM_FUNCTIONS or name in TALLOC_CALLS


def _source_problem(text: str) -> str:
    """What the C source itself may not contain (its comments and strings aside): inline
    assembly (a system call the object's disassembly need not show, review2-09 N5), the
    preprocessor's token pasting (an ``asm`` spelled in pieces), and a ``section`` attribute
    (bytes of code placed by hand)."""
    code = re.sub(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", " ", text, flags=re.S)
    m = re.search(r"\b(asm|__asm|__asm__)\b|##|\bsection\s*\(", code)
    if not m:
        return ""
    what = {"##": "the preprocessor's token pasting (##)"}.get(m.group(0), f"'{m.group(0).strip()}'")
    return (f"your allocator's source uses {what}: inline assembly, or a way to write it in pieces or place "
            f"code by hand, could make a system call (a syscall instruction) that no check of the object file "
            f"sees. A lab allocator needs none: write it in plain C")


def _preprocessed_problem(path) -> str:
    """The same screen on the source after the preprocessor (``gcc -E`` with the lab's flags), on
    every line that comes from a file outside the system's include folders (the learner's file,
    anything it ``#include``s, mm.h, talloc.h): an ``asm`` spelled across a line splice, through
    a digraph ``%:%:`` or in an included file of one's own appears there (review3-09 S1-S3)."""
    import subprocess
    from .cbuild import _gcc
    cc = _gcc()
    cc = [cc] if isinstance(cc, str) else list(cc)
    out = subprocess.run([*cc, "-E", *_cflags(), str(path)], capture_output=True, text=True)
    if out.returncode:
        return ""                   # the compiler's own error is shown when the file is built
    mine, keep = True, []
    for line in out.stdout.splitlines():
        marker = re.match(r'#\s*\d+\s+"([^"]*)"', line)
        if marker:
            name = marker.group(1)
            mine = not (name.startswith(("/usr/", "<")))
            continue
        if mine:
            keep.append(line)
    code = re.sub(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", " ", "\n".join(keep))
    m = re.search(r"\b(asm|__asm|__asm__)\b|\b(section|__section__)\s*\(", code)
    if not m:
        return ""
    return (f"your allocator's source, once the preprocessor has run, uses '{m.group(0).strip()}': inline "
            f"assembly (spelled across lines, through a macro or in an included file), or code placed by "
            f"hand, could make a system call that no check of the object file sees. A lab allocator needs "
            f"none: write it in plain C")


def _sections(obj) -> list:
    """(name, size, flags) of an object file's sections (readelf -S -W)."""
    import subprocess
    out = []
    for line in subprocess.run(["readelf", "-S", "-W", str(obj)], capture_output=True, text=True).stdout.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)",
                     line)
        if m:
            out.append((m.group(1), int(m.group(3), 16), m.group(4)))
    return out


_SYSCALL_BYTES = {b"\x0f\x05": "syscall", b"\x0f\x34": "sysenter", b"\xcd\x80": "int $0x80"}


def _syscall_bytes(obj) -> str:
    """The name of the first system-call instruction whose bytes (0f 05, 0f 34, cd 80) occur
    anywhere in an ELF64 object's executable sections, "" when none do. The raw bytes, not
    objdump's decoding: a syscall hidden inside another instruction's immediate, reached by a
    jump into its middle, decodes as that other instruction (review3-09 D2)."""
    import struct
    data = Path(obj).read_bytes()
    if data[:5] != b"\x7fELF\x02":  # not ELF64: scan every byte
        return next((name for pattern, name in _SYSCALL_BYTES.items() if pattern in data), "")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    for i in range(shnum):
        _, kind, flags, _, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        if kind == 1 and flags & 0x4:  # SHT_PROGBITS, SHF_EXECINSTR
            code = data[off:off + size]
            for pattern, name in _SYSCALL_BYTES.items():
                if pattern in code:
                    return name
    return ""


def inspect_allocator(source) -> str:
    """Why a lab allocator is refused before it runs ("" when it is not), from its object
    file: its source has inline assembly, ``##`` or a ``section`` attribute, as written
    (``_source_problem``) or after the preprocessor (``_preprocessed_problem``),
    it defines a global symbol other than mm.h's functions (``nm -g --defined-only``:
    it could replace the driver's printf), has constructors (``.init_array``...), uses a
    symbol outside ``ALLOWED_CALLS`` and ``TALLOC_CALLS`` (``nm -u``: the C library's
    allocator, mmap, printf, getcwd, ta_replay_check...), has a system-call instruction's bytes in its
    code (``_syscall_bytes``),
    or keeps more than ``STATIC_LIMIT`` bytes of writable static data (the sizes of its
    writable sections, ``readelf -S``)."""
    import subprocess
    path = _lab_source(source) if isinstance(source, str) else Path(source)
    problem = _source_problem(path.read_text(errors="replace")) or _preprocessed_problem(path)
    if problem:
        return problem
    obj = build_program([path], output="mm.o", cflags=(*_cflags(), "-c"))
    rule = ("In the lab every byte it uses, its bookkeeping included, must come from mem_sbrk(), and it "
            "talks to nothing but the driver's mem_* functions, lesson 01's " + ", ".join(TALLOC_CALLS)
            + " and memcpy/memmove/memset/memcmp")
    undef = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True).stdout.split()
    used = sorted({u.split("@")[0] for u in undef if u not in ("U", "w", "v")})
    calls = [c for c in used if c in FORBIDDEN]
    if calls:
        libc = [c for c in calls if c not in KERNEL_DOORS]
        what = ("the C library's allocator" if libc else "memory from the kernel, or a way around this check")
        return (f"your allocator calls {', '.join(calls)}: {what}. {rule}, so that the driver measures the "
                f"heap; glibc and mimalloc are measured on the separate reference path")
    defined = []
    for line in subprocess.run(["nm", "-g", "--defined-only", str(obj)], capture_output=True,
                               text=True).stdout.splitlines():
        parts = line.split()
        if parts and parts[-1] not in MM_FUNCTIONS:
            defined.append(parts[-1])
    if defined:
        return (f"your allocator defines {', '.join(sorted(defined)[:4])}, a global name outside mm.h's "
                f"mm_init, mm_malloc, mm_free, mm_realloc and mm_checkheap: it would replace the driver's "
                f"own function or variable of that name. Make your helpers and variables static")
    secs = _sections(obj)
    runs = sorted({n for n, _, _ in secs if n in RUNS_ITSELF or n.startswith(tuple(x + "." for x in RUNS_ITSELF))})
    if runs:
        return (f"your allocator has code that runs by itself before or after main (section "
                f"{', '.join(runs)}: a constructor or destructor): only the driver calls your allocator, "
                f"through mm_init, mm_malloc, mm_free and mm_realloc")
    other = [c for c in used if not _allowed_call(c)]
    if other:
        return (f"your allocator uses {', '.join(other[:4])}, which the lab does not allow (anything outside "
                f"the driver could give it memory or write the driver's output: printf writes where the "
                f"driver reports, getcwd(NULL, n) calls malloc). {rule}")
    found = _syscall_bytes(obj)
    if found:
        return (f"your allocator's code contains the bytes of a {found} instruction: a system call made "
                f"directly, which could take memory from the kernel behind the driver's back (the filter on its "
                f"process would stop it in the middle of a trace; this says why before it runs). (If those bytes "
                f"are part of a constant of yours, change the constant.) {rule}")
    writable = [(n, size) for n, size, flags in secs if "A" in flags and "W" in flags and size]
    static = sum(size for _, size in writable)
    if static > STATIC_LIMIT:
        names = []
        for line in subprocess.run(["nm", "-S", str(obj)], capture_output=True, text=True).stdout.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[2] in "bBdDC":
                names.append(parts[3])
        named = ", ".join(names[:4]) or ", ".join(n for n, _ in writable)
        return (f"your allocator keeps {static:,} bytes of writable static data ({named}): "
                f"the lab allows at most {STATIC_LIMIT} (a few pointers and list heads), because memory "
                f"outside mem_sbrk's heap is not counted in the footprint; take it from mem_sbrk() instead")
    return ""


def driver(allocator: str) -> Path:
    """mdriver built with an allocator. Lab path (the driver's heap, mem_sbrk): ``talloc``,
    ``broken``, C source implementing mm.h, or the path of such a file; a learner's file is
    inspected first (``Rejected`` says why it is refused). Reference path (``-DMM_REFERENCE``,
    footprint from the process's resident memory): ``glibc``, ``glibc-no-tcache``, ``mimalloc``."""
    if is_reference(allocator):
        return build_program([here("mdriver.c"), here("mm_libc.c")], output="mdriver-ref",
                             cflags=("-O2", "-DMM_REFERENCE", f"-I{here()}"))
    src = _lab_source(allocator)
    if allocator not in LAB_ALLOCATORS:
        problem = inspect_allocator(src)
        if problem:
            raise Rejected(problem)
    return build_program([here("mdriver.c"), src, example_path("01_heap_managers", "talloc.c")],
                         output="mdriver", cflags=_cflags())


def _trace_file(trace: Trace) -> Path:
    text = trace.numeric()
    d = cache_dir() / "malloclab"
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{trace.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.rep"
    if not p.exists():
        p.write_text(text)
    return p


@dataclass
class Score:
    allocator: str
    trace: str
    ok: bool
    message: str               # "" when correct, else the first failing operation and why
    live: int = 0              # peak live bytes requested
    footprint: int = 0         # lab path: the driver's heap (peak mem_sbrk); reference: peak RSS growth
    seconds: float = float("nan")   # median replay time
    ops: int = 0
    reference: bool = False    # glibc / mimalloc: footprint measured from the process, not comparable

    @property
    def utilisation(self) -> float:
        return self.live / self.footprint if self.footprint else float("nan")


def _name_op(msg: str, trace: Trace) -> str:
    """Turn the driver's 'op N (a 3 24)' into the trace's own words and line."""
    m = re.match(r"FAIL op (\d+) \([^)]*\): (.*)", msg)
    if not m:
        return msg
    n = int(m.group(1))
    ids = {}
    for k, j, _, _ in trace.ops:
        ids.setdefault(j, len(ids))
    names = list(ids)
    why = re.sub(r"live block (\d+)", lambda mm: f"live block {names[int(mm.group(1))]}", m.group(2))
    why = re.sub(r"block (\d+)(,| was)", lambda mm: f"block {names[int(mm.group(1))]}{mm.group(2)}", why)
    if n == 0:
        if "timed replay" in msg:
            return f"in a timed replay, after the checked pass: {why}"
        return f"at the end of the trace: {why}" if "end of trace" in msg else f"in mm_init: {why}"
    if not 1 <= n <= len(trace.ops):
        return f"operation {n}: {why}"
    kind, i, size, line = trace.ops[n - 1]
    what = f"{kind} {i} {size}" if kind != "free" else f"free {i}"
    return f"operation {n} ({what}{f', line {line}' if line else ''}): {why}"


def score(allocator: str, trace, repeats: int = 5, timeout: float = 60.0, label: str | None = None) -> Score:
    """Run the driver on one trace in a fresh process: correctness, utilisation, time.
    A lab allocator the driver refuses, or one that does not compile, scores not ok with the reason."""
    from .cbuild import CompileError
    trace = load_trace(trace)
    ref = is_reference(allocator)
    name = label or (allocator if allocator in BUILTIN or "\n" not in allocator else "yours")
    try:
        exe = driver(allocator)
    except Rejected as exc:
        return Score(name, trace.name, False, f"refused before running: {exc}", ops=len(trace))
    except CompileError as exc:
        return Score(name, trace.name, False, f"does not compile:\n{getattr(exc, 'diagnostics', exc)}",
                     ops=len(trace))
    env = allocator_env(allocator) if allocator in ("glibc-no-tcache", "mimalloc") else None
    r = run_program([str(exe), str(_trace_file(trace)), str(repeats)], timeout=timeout, env=env,
                    max_rss_mb=None)
    out = r.stdout
    fail = re.search(r"^(FAIL .*|ERROR .*)$", out, re.M)
    if fail or not r.ok:
        msg = _name_op(fail.group(1), trace) if fail else f"the driver {r.status()}"
        # an assert of the allocator's own (or glibc's stack protector) writes to stderr, then aborts; on
        # the way glibc maps a page for the message (mmap), which the filter stops: name the assert
        said = re.search(r"Assertion .*|\*\*\* .* \*\*\*.*", r.stderr or "")
        if said:
            why = f"your allocator stopped itself: {said.group(0)[:200]}"
            msg, n = re.subn(r"the allocator's process called mmap \(system call \d+\), which the lab's seccomp "
                             r"filter refuses.*|the allocator crashed \(SIGABRT: an assert or abort\)", why, msg)
            if not n:
                msg += f" ({why})"
        return Score(name, trace.name, False, msg, ops=len(trace), reference=ref)
    try:
        got = parse_driver_output(out, repeats, ref)
    except ValueError as exc:
        return Score(name, trace.name, False, str(exc), ops=len(trace), reference=ref)
    if got["ops"] != len(trace) or (not ref and got["live"] != trace.live_peak()):
        # the trace alone fixes the count of operations and the peak of live bytes: the driver's must agree
        return Score(name, trace.name, False, "the driver's output was changed: its count of operations or its "
                     f"peak of live bytes is not the trace's ({len(trace):,} and {trace.live_peak():,})",
                     ops=len(trace))
    return Score(name, trace.name, True, "", got["live"], got["footprint"], got["seconds"], len(trace), ref)


# The driver's whole output when it passes: these lines, in this order, each once (mdriver.c's say()).
_DRIVER_LINES = (("ops", r"OK ops=(\d+)"),
                 ("util", r"UTIL live=(\d+) footprint=(\d+)(?: shrink_refused=1)?"),
                 ("time", r"TIME median=(\d+\.\d+) min=\d+\.\d+ max=\d+\.\d+ repeats=(\d+)"))


def parse_driver_output(out: str, repeats: int, reference: bool = False) -> dict:
    """The driver's report, parsed strictly: every line must be one the driver writes, in its
    order, each exactly once (``TIME`` only when ``repeats`` > 0); anything else means
    something other than the driver wrote to its output, and raises ValueError saying so.
    {"ops", "live", "footprint", "seconds"}."""
    grammar = [(k, rx.replace("footprint=", "footprint_rss=") if reference and k == "util" else rx)
               for k, rx in _DRIVER_LINES if k != "time" or repeats > 0]
    lines = out.splitlines()
    if len(lines) != len(grammar) or not all(re.fullmatch(rx, line) for (_, rx), line in zip(grammar, lines)):
        odd = next((line for (_, rx), line in zip(grammar, lines) if not re.fullmatch(rx, line)),
                   lines[len(grammar)] if len(lines) > len(grammar) else "(a line missing)")
        raise ValueError(f"the driver's output has a line it never writes, or lacks one ({odd[:120]!r}): something "
                      f"other than the driver wrote to its output (the allocator may not print anything)")
    m = [re.fullmatch(rx, line) for (_, rx), line in zip(grammar, lines)]
    seconds = float(m[2].group(1)) if repeats > 0 else float("nan")
    if repeats > 0 and int(m[2].group(2)) != repeats:
        raise ValueError(f"the driver's output has {m[2].group(2)} repeats, not the {repeats} asked for")
    return {"ops": int(m[0].group(1)), "live": int(m[1].group(1)), "footprint": int(m[1].group(2)),
            "seconds": seconds}


def malloclab(allocators: dict, traces, repeats: int = 5, rounds: int = 1, progress: bool = True,
              reference: str = "glibc") -> list:
    """Score every allocator ({label: allocator}) on every trace; ``reference`` (glibc)
    always included: its throughput is the cap of the score. ``rounds`` > 1 repeats the
    whole set, interleaved, and keeps the median time. Every allocator is checked before
    anything runs (an unknown name raises ValueError). Returns a list of Score."""
    allocators = {reference: reference, **allocators}
    for a in allocators.values():
        _known(a)
    traces = [load_trace(t) for t in traces]
    line = _reporter(progress)
    best: dict = {}
    for rnd in range(rounds):
        for t in traces:
            items = list(allocators.items())
            k = rnd % len(items)
            for label, a in items[k:] + items[:k]:
                if line:
                    line(f"round {rnd + 1}/{rounds}: {t.name} with {label}")
                s = score(a, t, repeats=repeats, label=label)
                best.setdefault((label, t.name), []).append(s)
    out = []
    for t in traces:
        for label in allocators:
            ss = best[label, t.name]
            s = ss[0]
            if s.ok:
                s.seconds = statistics.median(x.seconds for x in ss)
            out.append(s)
    if line:
        line(f"done: {len(allocators)} allocators x {len(traces)} traces")
    return out


@dataclass
class LabScore:
    allocator: str
    correct: bool
    utilisation: float          # mean over the traces (CS:APP's avg_util)
    throughput: float           # operations per second over all traces (total ops / total time)
    reference_throughput: float
    reference: bool = False
    per_trace: tuple = ()       # (trace, reference's time / this allocator's time) for every trace

    @property
    def relative_throughput(self) -> float:
        """Geometric mean over the traces of reference time / this time (>1: faster)."""
        r = [x for _, x in self.per_trace if x > 0 and math.isfinite(x)]
        return math.exp(statistics.fmean(math.log(x) for x in r)) if r else float("nan")

    @property
    def capped_throughput(self) -> float:
        """Geometric mean over the traces of min(1, reference time / this time): a trace where
        the allocator is slower than the reference costs, one where it is faster earns nothing."""
        r = [x for _, x in self.per_trace if x > 0 and math.isfinite(x)]
        return math.exp(statistics.fmean(math.log(min(1.0, x)) for x in r)) if r else float("nan")

    @property
    def index(self) -> float:
        """CS:APP's performance index, 0..100: 0 unless correct on every trace; utilisation
        (capped at 1) weighs 0.6, throughput 0.4: per trace relative to the reference, capped at
        1, combined by a geometric mean. NaN for the reference path (its footprint is RSS)."""
        if self.reference:
            return float("nan")
        if not self.correct:
            return 0.0
        u = min(1.0, self.utilisation)
        return 100 * (UTIL_WEIGHT * u + (1 - UTIL_WEIGHT) * self.capped_throughput)


def lab_scores(scores, reference: str = "glibc") -> list:
    """One LabScore per allocator from malloclab's scores."""
    by = {}
    for s in scores:
        by.setdefault(s.allocator, []).append(s)

    def thru(ss):
        secs = sum(s.seconds for s in ss if s.ok)
        return sum(s.ops for s in ss if s.ok) / secs if secs > 0 else float("nan")

    ref_time = {s.trace: s.seconds for s in by.get(reference, []) if s.ok}
    ref = thru(by.get(reference, []))
    out = []
    for a, ss in by.items():
        ok = all(s.ok for s in ss)
        per = tuple((s.trace, ref_time[s.trace] / s.seconds) for s in ss
                    if ok and s.trace in ref_time and s.seconds > 0)
        out.append(LabScore(a, ok, statistics.mean(s.utilisation for s in ss) if ok else float("nan"),
                            thru(ss) if ok else float("nan"), ref, any(s.reference for s in ss), per))
    return out


def score_table(scores, reference: str = "glibc") -> str:
    rows = [f"{'allocator':17} {'path':10} {'mean util':>9} {'ops/s':>11} {'vs ' + reference:>9} "
            f"{'score':>6}"]
    for s in lab_scores(scores, reference):
        path = "reference" if s.reference else "lab"
        if not s.correct:
            rows.append(f"{s.allocator:17} {path:10} {'incorrect on a trace: score 0':>40}")
            continue
        score = f"{'-':>6}" if s.reference else f"{s.index:6.1f}"
        rows.append(f"{s.allocator:17} {path:10} {s.utilisation:9.3f}{'*' if s.reference else ' '}"
                    f"{s.throughput:11,.0f} {s.relative_throughput:8.2f}x {score}")
    rows.append(f"vs {reference}: geometric mean over the traces of {reference}'s time / this allocator's")
    rows.append(f"score = 100 x ({UTIL_WEIGHT} x min(1, mean util) + {1 - UTIL_WEIGHT:.1f} x geometric mean over "
                f"the traces of min(1, {reference}'s time / this one's)), after CS:APP's performance index")
    if any(s.reference for s in scores):
        rows.append("* reference path: footprint = growth of the process's anonymous resident memory (whole pages), "
                    "not the driver's heap: not the same quantity, so no score")
    return "\n".join(rows)


def lab_table(scores) -> str:
    base = {s.trace: s.seconds for s in scores if s.allocator == "glibc" and s.ok}
    rows = [f"{'trace':12} {'allocator':17} {'correct':8} {'utilisation':>12} {'peak live':>10} "
            f"{'footprint':>13} {'speed vs glibc':>15}"]
    for s in scores:
        if not s.ok:
            rows.append(f"{s.trace:12} {s.allocator:17} {'NO':8} {s.message.splitlines()[0]}")
            continue
        speed = base.get(s.trace, float("nan")) / s.seconds if s.seconds else float("nan")
        mark = " RSS" if s.reference else " sbrk"
        rows.append(f"{s.trace:12} {s.allocator:17} {'yes':8} {s.utilisation:11.3f}{'*' if s.reference else ' '} "
                    f"{s.live:10,} {s.footprint:8,}{mark:5} {speed:14.2f}x")
    if any(s.reference for s in scores):
        rows.append("* reference path (glibc, mimalloc): footprint = growth of anonymous resident memory (RSS, whole "
                    "pages), not the driver's heap (sbrk): a different quantity")
    return "\n".join(rows)


def lab_verdicts(scores) -> str:
    """Only what does not depend on timing: which allocator passed which trace."""
    return "\n".join(f"{s.trace:12} {s.allocator:17} " + ("correct" if s.ok else "REJECTED: " + s.message)
                     for s in scores)


def thp_mode() -> str:
    """The kernel's transparent huge page mode ("always", "madvise", "never"): mimalloc's page
    faults on large blocks depend on it."""
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return "unknown"
    m = re.search(r"\[(\w+)\]", text)
    return m.group(1) if m else "unknown"


def _timed(argv, env):
    """Run argv to the end (output discarded): (wall seconds, CPU seconds user + system)."""
    import os
    import subprocess
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status:
        raise RuntimeError(f"{argv[0]} exited with status {status}")
    return wall, ru.ru_utime + ru.ru_stime


def end_to_end(argv, allocators=("glibc", "mimalloc"), rounds: int = 5, timeout: float = 60.0) -> dict:
    """The whole program, start to end, under each allocator: one warm-up round, then ``rounds``
    interleaved rounds (order rotated). {allocator: [(wall, cpu), ...]}; each run in a child."""
    from .isolate import run_python
    allocators = list(allocators)
    for a in allocators:
        if a not in LABELS:
            raise ValueError(f"unknown allocator {a!r}; choose from {', '.join(LABELS)}")
    envs = {a: allocator_env(a) for a in allocators}
    out = {a: [] for a in allocators}
    for rnd in range(rounds + 1):
        k = rnd % len(allocators)
        for a in allocators[k:] + allocators[:k]:
            r = run_python(_timed, list(map(str, argv)), envs[a], timeout=timeout)
            if not r.ok:
                raise RuntimeError(f"{argv[0]} under {a}: {r.status()} {r.error or ''}")
            if rnd:
                out[a].append(r.value)
    return out


def driver_syscalls(allocator: str, trace, repeats: int = 0, timeout: float = 120.0) -> dict:
    """strace -f -c of the lab's driver on one trace: {syscall: calls}. ``repeats=0``: the
    correctness pass only (one replay of the trace, with checks)."""
    trace = load_trace(trace)
    exe = driver(allocator)
    argv = ["strace", "-f", "-c", "-o", "/dev/stderr", str(exe), str(_trace_file(trace)), str(repeats)]
    env = allocator_env(allocator) if allocator in ("glibc-no-tcache", "mimalloc") else None
    r = run_program(argv, timeout=timeout, env=env, max_rss_mb=None)
    return _strace_counts(r.stderr)


def _strace_counts(text: str) -> dict:
    calls = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0].replace(".", "").isdigit() and parts[-1] != "total":
            try:
                calls[parts[-1]] = int(parts[3])
            except ValueError:
                continue
    return calls


def syscall_counts(workload: str, alloc: str, args=None, timeout: float = 60.0) -> dict:
    """strace -f -c of one run: {syscall: calls} (strace must be installed)."""
    exe = build_workload(workload)
    argv = ["strace", "-f", "-c", "-o", "/dev/stderr", str(exe),
            *map(str, args if args is not None else WORKLOADS[workload].quick)]
    r = run_program(argv, timeout=timeout, env=allocator_env(alloc) or None, max_rss_mb=None)
    return _strace_counts(r.stderr)
