"""Lesson 03 (virtual memory): what each overcommit mode predicts, and the exercises' checks.

Helpers only this lesson uses. Every expected value is measured on this machine
(``reserve every`` runs for real); a learner's code runs in isolated children, so
a crash is a verdict, never a dead kernel.
"""
from __future__ import annotations

import functools
import os
import random
import re

from ..exercises import exercise, fail, passed

__all__ = ["overcommit_outcomes", "cgroup_memory", "reserve_program", "measured_every", "check_predict", "check_bump",
           "random_case", "PREDICT_CASES", "BUMP_STEP"]

MiB = 1 << 20
BUMP_STEP = 64 * 1024                   # COMMIT_STEP of exercise 2
# (303, 3): an exact division with an odd quotient (101), where Python's round(pages / n + 0.5)
# (round half to even) is one too many; the random cases never divide exactly (review4 02-03, 1)
PREDICT_CASES = ((100, 1), (1000, 7), (4096, 16), (10, 50), (257, 256), (303, 3))


# ---------------------------------------------------------------------- overcommit

def _outcome(rest: str) -> str:
    rest = rest.strip()
    if "of 8 succeeded" in rest:
        return rest.split()[0] + " of 8"
    return "succeeded" if rest == "succeeded" else "refused"


def overcommit_outcomes(text: str, mode: str, meminfo: str | None = None) -> dict:
    """{request: (outcome, what the mode predicts)} for the output of ``overcommit sizes``.

    Mode 0 refuses one request larger than RAM + swap (Linux >= 5.2), mode 1 nothing,
    mode 2 anything writable past CommitLimit (MAP_NORESERVE ignored); "either" where
    mode 2's answer depends on what else is committed at the moment."""
    got = {}
    for line in text.splitlines():
        m = re.match(r"(.+?)\s+(\d+\.\d+)x RAM\+swap: (.*)$", line)
        if m:
            got[f"{m.group(1).strip()} {m.group(2)}x"] = _outcome(m.group(3))
    predict = {}
    for request in got:
        two = request.endswith(" 2.00x")
        writable = not request.startswith("mmap PROT_NONE")
        if request.startswith("8 x malloc"):
            predict[request] = {"0": "8 of 8", "1": "8 of 8"}.get(mode, "either")
        elif mode == "1":
            predict[request] = "succeeded"
        elif mode == "0":
            noreserve = "MAP_NORESERVE" in request
            charged_whole = writable and not noreserve and two
            predict[request] = "refused" if charged_whole else "succeeded"
        elif mode == "2":
            predict[request] = ("succeeded" if not writable else "refused" if two else "either")
        else:
            predict[request] = "either"
    return {r: (got[r], predict[r]) for r in got}


# ---------------------------------------------------------------------- cgroups

def cgroup_memory(pid="self") -> dict | None:
    """The memory counters of a process's cgroup, v2 or v1: {"version", "path", "usage",
    "file" (page cache), "working_set" (usage - inactive file, what docker stats and
    kubectl top show)}, in bytes; None where no memory controller is readable."""
    from pathlib import Path
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    paths = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            paths[c] = path
    candidates = []
    if "memory" in paths:                                       # v1: its own hierarchy
        candidates.append((1, Path("/sys/fs/cgroup/memory") / paths["memory"].lstrip("/")))
    if "" in paths:                                             # v2: the unified hierarchy
        for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
            candidates.append((2, root / paths[""].lstrip("/")))
    for version, d in candidates:
        usage_file = d / ("memory.current" if version == 2 else "memory.usage_in_bytes")
        try:
            usage = int(usage_file.read_text())
            stat = dict(ln.split() for ln in (d / "memory.stat").read_text().splitlines() if ln.strip())
        except (OSError, ValueError):
            continue
        stat = {k: int(v) for k, v in stat.items()}
        if version == 2:
            file, inactive = stat.get("file", 0), stat.get("inactive_file", 0)
        else:
            file = stat.get("total_cache", stat.get("cache", 0))
            inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
        return {"version": version, "path": paths["memory" if version == 1 else ""], "usage": usage,
                "file": file, "working_set": max(0, usage - inactive)}
    return None


# ---------------------------------------------------------------------- exercise 1

def reserve_program():
    """native_examples/03_virtual_memory/reserve.c, built (cached)."""
    from .. import build_program, example_path
    return build_program([example_path("03_virtual_memory") / "reserve.c"], cflags=("-O1",))


def measured_every(pages: int, n: int) -> tuple:
    """(RSS growth KiB, minor faults) of ``reserve every PAGES N``, run for real."""
    from ..isolate import run_program
    r = run_program([reserve_program(), "every", str(pages), str(n)])
    if not r.ok:
        raise RuntimeError(f"reserve every {pages} {n}: {r.status()}")
    return tuple(int(x) for x in r.stdout.split())


_MEASURING = ("subprocess.Popen", "os.system", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn",
              "os.exec", "socket.connect", "mmap.__new__", "ctypes.dlopen", "ctypes.dlsym",
              "ctypes.call_function", "resource.setrlimit")


def _predict_child(fn, pages, n, page):
    """In a child: call the learner's predict(pages, n, page) with measuring forbidden (an
    audit hook refuses starting processes, mapping memory, calling C and reading /proc
    while it runs; getrusage is replaced)."""
    import sys
    state = {"on": False, "ran": None}

    def hook(event, args):
        if not state["on"]:
            return
        if event in _MEASURING or (event == "open" and str(args[0]).startswith("/proc")):
            state["ran"] = state["ran"] or (event if event != "open" else f"open({args[0]})")
            raise RuntimeError(f"predict may not measure ({event})")

    sys.addaudithook(hook)
    import resource

    def no_rusage(*args):
        state["ran"] = state["ran"] or "resource.getrusage"
        raise RuntimeError("predict may not measure (getrusage)")
    resource.getrusage = no_rusage                 # page faults counted in-process: measuring too
    state["on"] = True
    try:
        value = fn(pages, n, page)
    except NotImplementedError:
        return ("not done", None)
    except Exception as exc:                  # noqa: BLE001 - reported to the learner
        if state["ran"]:
            return ("measured", state["ran"])
        return ("error", f"{type(exc).__name__}: {exc}")
    finally:
        state["on"] = False
    if state["ran"]:
        return ("measured", state["ran"])
    return ("value", _as_ints(value))


def _takes_three(fn) -> bool:
    """Whether fn can be called as fn(pages, n, page)."""
    import inspect
    try:
        inspect.signature(fn).bind(1, 1, 4096)
    except TypeError:
        return False
    except ValueError:                        # no signature to read (a builtin): let the call say
        return True
    return True


def random_case(rng) -> tuple:
    """(pages, n) that no table of the book's cases passes: n >= 2 and pages not a multiple
    of n, so that a floor (pages // n) and a ceiling differ on every random case."""
    while True:
        pages, n = rng.randint(50, 3000), rng.randint(2, 40)
        if pages % n:
            return pages, n


def _as_ints(v):
    """v as a tuple of plain ints where each item is an integer (int, numpy's int64: anything
    operator.index takes, bool excepted); else v unchanged. operator.index returns an exact
    int, so an int subclass whose __eq__ says yes to anything is compared as its value."""
    import operator
    if type(v) not in (tuple, list) or any(isinstance(x, bool) for x in v):
        return v
    try:
        return tuple(operator.index(x) for x in v)
    except Exception:                         # noqa: BLE001 - no __index__, or one that raises
        return v


def _plain_pair(v) -> bool:
    return type(v) is tuple and len(v) == 2 and all(type(x) is int for x in v)


@exercise
def check_predict(predict, cases=PREDICT_CASES, extra: int = 2):
    """Exercise 1: predict(pages, n, page) -> (RSS growth KiB, faults), compared with the
    real ``reserve every`` on this machine (page = this machine's page size): the lesson's
    cases, ``extra`` random ones (``random_case``: a floor, or a table of the book's numbers
    with a floor for the rest, fails every one of them), and one with
    another page size (16 KiB, or 64 KiB where pages are 16 KiB already: a hard-coded 4096
    or PAGE fails it). predict must compute: measuring inside it is refused."""
    from ..exercises import not_done
    from ..isolate import run_python
    if not callable(predict):
        return fail(f"predict is a {type(predict).__name__}, not a function",
                    "define it with def predict(pages, n, page):")
    if not _takes_three(predict):
        return fail("predict cannot be called as predict(pages, n, page)",
                    "predict takes three arguments: def predict(pages, n, page), the page size in bytes "
                    "being the third")
    page = os.sysconf("SC_PAGE_SIZE")
    other = 16384 if page != 16384 else 65536
    rng = random.Random()
    todo = [(p, n, page) for p, n in cases]
    todo += [random_case(rng) + (page,) for _ in range(extra)]
    todo.append((303, 3, other))               # the same touches, as on a machine with other pages
    for i, (pages, n, pg) in enumerate(todo, 1):
        call = f"predict({pages}, {n}, {pg})"
        # one callable (cloudpickle sends a notebook's function by value; plain arguments are pickled)
        r = run_python(functools.partial(_predict_child, predict, pages, n, pg), timeout=20)
        if not r.ok:
            if r.error and "NotImplementedError" in r.error:
                return not_done()
            return fail(f"{call} did not return: {r.status()}",
                        "predict only computes two numbers from pages, n and page: no loop that never ends")
        kind, value = r.value
        if kind == "not done":
            return not_done()
        if kind == "measured":
            return fail(f"{call} measured instead of predicting: it tried {value}",
                        "predict from the rule, don't run the experiment: each page written costs one "
                        "fault and one page of RSS; count the pages 0, n, 2n, ... below `pages`")
        if kind == "error":
            return fail(f"{call} raised {value}", "return a pair of ints: (rss_growth_kib, faults)")
        kib, faults = measured_every(pages, n)
        expected = (kib * pg // page, faults)
        if not _plain_pair(value):
            return fail(f"{call} returned {value!r}, not a pair of ints",
                        "return (rss_growth_kib, faults), two ints")
        if value != expected:
            if pg != page and value[1] == expected[1]:
                hint = (f"use the argument `page`, not PAGE or a fixed 4096 or 4: on a machine with "
                        f"{pg // 1024} KiB pages (Apple's arm64 Macs running Linux, some arm64 servers) "
                        f"each page written costs {pg // 1024} KiB")
            elif value[1] != expected[1]:
                hint = ("only pages that are written become resident, one minor fault each; count "
                        "the pages 0, n, 2n, ... that are below `pages` (page 0 counts): round up")
            else:
                hint = "each page written adds one whole page to RSS: `page` bytes, in KiB"
            what = "the program measured" if pg == page else f"with {pg // 1024} KiB pages it would be"
            return fail(f"case {i} of {len(todo)}: {call} returned {value}, {what} {expected}",
                        hint, total=len(todo))
    return passed(f"all {len(todo)} cases agree with the measurement "
                  f"({extra} of them random, one with {other // 1024} KiB pages)", total=len(todo))


# ---------------------------------------------------------------------- exercise 2

def _maps():
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            out.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    return out


def _window(maps, lo, hi):
    """The mappings cut to [lo, hi): what a bump allocator's mprotect past the end of its
    reservation would change (the kernel puts a new mapping at the top of a free range,
    so what lies just above a fresh reservation is its neighbour, not a gap that Python
    might fill meanwhile)."""
    return [(max(a, lo), min(b, hi), perms) for a, b, perms in maps if b > lo and a < hi]


def bump_case(modname, path, reserve, sizes, last_must_fail=False, check_commit=False, guard_above=False):
    """In a child: use the learner's allocator; return "ok" or what went wrong (a tuple
    (kind, text) for a wrong result). guard_above: map a PROT_NONE sentinel right after
    the reservation (when nothing is there) and fail if any mapping in the step after the
    reservation changes: an mprotect that reaches past the end."""
    import ctypes
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules[modname] = mod
    ffi, lib = mod.ffi, mod.lib
    before = _maps()
    if lib.bump_init(reserve) != 0:
        return ("init", "bump_init failed")
    added = [r for r in _maps() if r not in before]
    lo = min((a for a, b, p in added if p.startswith("---")), default=None)
    if lo is None:
        return ("init", "bump_init made no PROT_NONE reservation")
    hi = lo + reserve
    if guard_above:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_long)
        MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE = 0x02, 0x20, 0x100000
        libc.mmap(hi, BUMP_STEP, 0, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)   # or already mapped
    above = _window(_maps(), hi, hi + BUMP_STEP)
    blocks = []
    for i, n in enumerate(sizes):
        p = lib.bump_alloc(n)
        if last_must_fail and i == len(sizes) - 1:
            if p != ffi.NULL:
                return ("fit", f"bump_alloc({n}) returned a block, but it does not fit in the reservation")
            break
        if p == ffi.NULL:
            return ("null", f"bump_alloc({n}) returned NULL, although the reservation has room for it")
        addr = int(ffi.cast("uintptr_t", p))
        if not (lo <= addr and addr + n <= hi):
            return ("outside", f"bump_alloc({n}) returned a block outside the reservation made by bump_init")
        if addr % 16:
            return ("align", f"bump_alloc({n}) returned an address that is not 16-byte aligned")
        ffi.memmove(p, bytes([i % 251 + 1]) * n, n)         # a crash here: not committed
        blocks.append((addr, n, i % 251 + 1))
    if guard_above and _window(_maps(), hi, hi + BUMP_STEP) != above:
        return ("beyond", "a mapping outside the reservation changed: your mprotect reached past its end")
    if guard_above and hasattr(lib, "bump_committed") and lib.bump_committed() > reserve:
        return ("beyond", f"bump_committed() says {lib.bump_committed() >> 10} KiB are committed in a "
                          f"{reserve >> 10} KiB reservation: your mprotect reached past its end")
    blocks.sort()
    for (a, n, _), (b, _, _) in zip(blocks, blocks[1:]):
        if a + n > b:
            return ("overlap", "two blocks overlap")
    for a, n, v in blocks:
        if ffi.buffer(ffi.cast("char *", a), n)[:] != bytes([v]) * n:
            return ("overlap", "a block's bytes changed: blocks overlap")
    if not check_commit:
        return "ok"
    used = max(a + n for a, n, _ in blocks) - lo
    rw = sum(min(b, hi) - max(a, lo) for a, b, p in _maps() if b > lo and a < hi and p.startswith("rw"))
    vec = ctypes.create_string_buffer(reserve // 4096)      # resident pages, from mincore(2)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore(ctypes.c_void_p(lo), ctypes.c_size_t(reserve), vec)
    rss = sum(b & 1 for b in vec.raw) * 4096
    step = BUMP_STEP
    if hasattr(lib, "bump_committed") and not used <= lib.bump_committed() <= rw:
        return ("counter", f"bump_committed() says {lib.bump_committed() >> 10:,} KiB, but the blocks use "
                           f"{used >> 10:,} KiB and {rw >> 10:,} KiB of the reservation is readable/writable")
    if rw > (used + step - 1) // step * step + step:
        return ("commit", f"{rw >> 10:,} KiB of the reservation is readable/writable after using {used >> 10:,} KiB")
    if rss > used + 2 * step:
        return ("commit", f"{rss >> 10:,} KiB of the reservation is resident after using {used >> 10:,} KiB")
    return "ok"


BUMP_CASES = (      # label, reservation, block sizes, last must fail, check commit, guard above
    ("a few small blocks", 64 * MiB, [1, 24, 100, 4096, 5000, 3], False, False, False),
    ("a block larger than one step", 64 * MiB, [100, 3 * MiB, 10], False, False, False),
    ("8 MB of small blocks in 1 GiB: committed and resident close to what was used",
     1024 * MiB, [800] * 10_000, False, True, False),
    ("a 100 KiB reservation (not a multiple of the step) and a 90 KiB block", 100 * 1024, [90 * 1024],
     False, False, True),
    ("a block that does not fit", 1 * MiB, [600 * 1024, 600 * 1024], True, False, False),
)

_BUMP_HINTS = {
    "null": "commit up to the end of the new block, rounded up to whole COMMIT_STEPs, but never past "
            "`reserved`; return NULL only when the block does not fit in the reservation",
    "outside": "hand out memory from the reservation bump_init made (base + used), not from malloc or "
               "another mmap: the point is to reserve once and commit in steps",
    "align": "round `used` up to a multiple of 16 for each block's start: (used + 15) & ~15",
    "overlap": "each block starts where the previous one ended (rounded up to 16): advance `used`",
    "beyond": "clamp what you commit to the reservation: if the rounded-up end passes `reserved`, commit "
              "only up to `reserved`; past it lies somebody else's memory",
    "commit": "commit only what the blocks need (whole steps): making the whole reservation "
              "readable/writable at once is committing, not reserving",
    "fit": "check the request against `reserved` before committing, and return NULL: past the "
           "reservation lies somebody else's memory",
    "init": "bump_init is given: keep it as it is",
    "counter": "keep `committed` equal to the end of what you made readable/writable: set it after each "
               "successful mprotect, so the next call commits only from there",
}


@exercise
def check_bump(module):
    """Exercise 2: the learner's %%cffi bump allocator, each case in a child."""
    from ..isolate import run_python
    for fn in ("bump_init", "bump_alloc"):
        if fn not in getattr(module, "functions", ()):
            return fail(f"your cell defines no function {fn}", "keep the cell's bump_init and write bump_alloc")
    for i, (label, reserve, sizes, last_fails, commit, guard) in enumerate(BUMP_CASES, 1):
        r = run_python(bump_case, module.modname, module.path, reserve, sizes, last_fails, commit, guard,
                       timeout=30)
        head = f"case {i} of {len(BUMP_CASES)} ({label}): "
        if not r.ok:
            if r.signal or r.timed_out or r.stopped_by:
                return fail(head + f"the child {r.status()}",
                            "a block was written before it was readable/writable: mprotect the steps a "
                            "block needs before returning it (and check mprotect's result)",
                            total=len(BUMP_CASES))
            last = (r.error or "").strip().splitlines()[-1:] or [r.status()]
            return fail(head + f"the child failed: {last[0]}", _BUMP_HINTS["init"], total=len(BUMP_CASES))
        if r.value != "ok":
            kind, text = r.value
            return fail(head + text, _BUMP_HINTS[kind], total=len(BUMP_CASES))
    return passed(f"all {len(BUMP_CASES)} cases passed", total=len(BUMP_CASES))
