"""Lesson 09 (measuring allocators): the checks of its two exercises, their limits and hints.

- ``check_predictions(predictions, res)``: exercise 1, {workload: {"mimalloc": (winner, factor),
  "talloc": (winner, factor)}} against the learner's own run, judged on the *paired* ratios
  glibc/other of the copy of the samples that ``compare`` kept when it ran (editing ``res`` or
  the Comparison class changes nothing; the copy is in a closure, shown read-only as
  ``allocbench._RUNS``): the winner must match where every round agrees (a
  clear winner; a loaded machine gives few of those, and then few pairs are judged on their
  winner: the verdict says how many), and the factor must lie within a factor 3 (``WINDOW``) of that range. The teaching
  allocator wins some workloads and loses others, so a blanket answer fails; when more than half
  of the factors equal the measured medians (to two significant digits, or within 1 %), or lie
  within 2 % of one common multiple of them (x1.05), they are "copied" (a good guess such as 1.5
  can match one or two by chance). A run faked by code in the same Python process passes: the check
  is for honest predictions, and exercise 1 says so.
- ``check_allocator(source)``: exercise 2, a lab allocator (C implementing mm.h) must pass the
  driver on every lab trace, adversarial ones and the shipped ``awk`` trace included, and reach
  1.4 times the teaching allocator's utilisation on ``awk``; both measured by the driver, on its
  own heap, now.

The limits are literals inside the checks and the driver functions are bound here at import,
so rebinding ``allocbench.score`` or a module constant from a notebook cell changes nothing.
"""
from __future__ import annotations

import math
import numbers
import statistics

from ..allocbench import WORKLOADS, Comparison, adversarial_traces, load_trace, measured_walls, shipped_trace
from ..allocbench import score as _score
from ..exercises import exercise, fail, passed

__all__ = ["HINTS", "LAB_TRACES", "PAIRS", "check_allocator", "check_predictions", "paired_verdict"]

# How far a predicted factor may lie from the run's paired ratios: a factor 3 either side of
# their range. A prediction is right in direction and order of magnitude, not to the digit; on a
# shared 2-core machine one pair (talloc's global lock under two threads) measured 11x to 44x in
# one run and 5x to 20x in another, so a factor 2 passed or failed the same answer by chance.
WINDOW = 3

HINTS = {
    "churn": "one thread, small sizes: who has the shorter fast path, and what does a free cost?",
    "large": "sizes cross glibc's mmap threshold: count the page faults and system calls",
    "threads": "independent threads: does each get its own cache or arena?",
    "prodcons": "every free comes from another thread: where does such a block go, and who takes a lock?",
    "frag": "pinned small blocks between freed big ones: who can reuse the holes?",
}
LAB_TRACES = ("intro", "fragment", "exercise", "random1000")    # lesson 01's, shipped with it


PAIRS = ("mimalloc", "talloc")        # each against glibc, on every workload
NAMES = {"glibc": "glibc", "mimalloc": "mimalloc", "talloc": "talloc", "teaching": "talloc"}


def _paired(walls: dict, workload: str, alloc: str) -> list:
    """Paired ratios glibc time / alloc time, one per round, from the private copy of the run."""
    b, x = walls.get((workload, "glibc"), ()), walls.get((workload, alloc), ())
    return [p / q for p, q in zip(b, x) if q > 0]


def paired_verdict(res: Comparison, workload: str, alloc: str = "mimalloc") -> tuple:
    """(winner, median, lo, hi) of glibc against ``alloc`` in one run of ``compare``, from the
    copy of its samples made when it ran: the winner is the one faster in every round ("no clear
    winner" when the paired ratios straddle 1); the figures are slower / faster in the winner's
    direction (for "no clear winner": glibc / alloc)."""
    walls = measured_walls(res) or {}
    r = _paired(walls, workload, alloc)
    if not r:
        return "no run", float("nan"), float("nan"), float("nan")
    med, lo, hi = statistics.median(r), min(r), max(r)
    if lo > 1:
        return alloc, med, lo, hi
    if hi < 1:
        return "glibc", 1 / med, 1 / hi, 1 / lo
    return "no clear winner", med, lo, hi


def _two_digits(x: float) -> float:
    return float(f"{x:.2g}")


def _number(x):
    """A learner's factor as a plain float (numpy's and fractions too), or None."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return None
    f = float(x)
    return f if math.isfinite(f) else None


@exercise(error_hint="each prediction is a pair like ('mimalloc', 2.0): the winner's name and a number")
def check_predictions(predictions, res):
    walls = measured_walls(res)
    if walls is None:
        return fail("res is not a run made by ab.compare in this notebook",
                    "run the cell with ab.compare(...) above again, then this one")
    if type(predictions) is not dict:
        return fail(f"predictions is a {type(predictions).__name__}, not a dict",
                    "a dict {workload: {'mimalloc': (winner, factor), 'talloc': (winner, factor)}}")
    got = {str(k).strip().lower(): v for k, v in predictions.items()}
    workloads = [w for w in WORKLOADS if walls.get((w, "glibc"))]
    missing_runs = [f"{w}/{a}" for w in workloads for a in PAIRS if not walls.get((w, a))]
    if not workloads or missing_runs:
        return fail(f"your run has no samples for {', '.join(missing_runs[:3]) or 'glibc'}",
                    "run ab.compare with all workloads and ab.ALLOCATORS, as the cell above does")
    missing = [w for w in workloads if w not in got]
    if missing:
        return fail(f"no prediction for {', '.join(missing)}", "one entry per workload of the table")
    wrong, copied, scale, n, judged = [], [], [], 0, 0
    for w in workloads:
        pw = got[w]
        if type(pw) is not dict:
            return fail(f"your prediction for {w!r} is {pw!r}, not a dict",
                        "{'mimalloc': (winner, factor), 'talloc': (winner, factor)} for each workload")
        pw = {NAMES.get(str(k).strip().lower(), str(k)): v for k, v in pw.items()}
        for a in PAIRS:
            n += 1
            p = pw.get(a)
            if type(p) not in (tuple, list) or len(p) != 2 or type(p[0]) is not str:
                return fail(f"your prediction for {w!r}, glibc against {a}, is {p!r}, not a pair (winner, factor)",
                            f"a pair like ('glibc', 2.0) or ('{a}', 2.0): a name and a number")
            factor = _number(p[1])
            if factor is None:
                return fail(f"your factor for {w!r}, glibc against {a}, is a {type(p[1]).__name__}, not a number",
                            f"a pair like ('glibc', 2.0) or ('{a}', 2.0): a name and a number")
            winner = NAMES.get(p[0].strip().lower())
            if winner not in ("glibc", a):
                return fail(f"your winner for {w!r}, glibc against {a}, is {p[0]!r}",
                            f"name the faster of the two: 'glibc' or '{a}'")
            if factor < 1:
                return fail(f"your factor for {w!r} ({a}) is {factor:g}, below 1",
                            "the factor is the slower time divided by the faster one, so at least 1: "
                            "say who wins with the name, and by how much with the factor")
            r = _paired(walls, w, a)
            if winner == "glibc":
                r = [1 / x for x in r]
            med, lo, hi = statistics.median(r), min(r), max(r)
            clear, *_ = paired_verdict(res, w, a)
            if factor == _two_digits(med) or math.isclose(factor, med, rel_tol=0.01):
                copied.append(f"{w}/{a}")
            scale.append((factor / med, f"{w}/{a}"))
            judged += clear != "no clear winner"
            if clear != "no clear winner" and winner != clear:
                wrong.append((w, f"{winner} is not the winner of {w!r} against "
                                 f"{'glibc' if winner != 'glibc' else a}: {clear} was faster in every round of "
                                 f"your run"))
            elif not lo / WINDOW <= factor <= hi * WINDOW:
                side = "too large" if factor > hi * WINDOW else "too small"
                wrong.append((w, f"your factor {factor:g} for {w!r} ({a}) is {side}: more than {WINDOW} times "
                                 f"away from every paired ratio of your run"))
    # the medians times one common number (x1.05, x1.2...): most factors within 2 % of the same multiple
    # of this run's medians. Honest guesses do not line up so: the medians themselves moved by more than
    # that between runs here (large/talloc 7x, 8x and 22x in three runs)
    c = statistics.median(k for k, _ in scale) if scale else 1.0
    scaled = [name for k, name in scale if abs(k / c - 1) <= 0.02]
    if len(copied) > n // 2:          # one or two good guesses match by chance; most of them do not
        return fail(f"{len(copied)} of your factors ({', '.join(copied[:3])}...) are this run's measured "
                    f"medians, to two digits", "a prediction is written before the measurement: write what "
                    "you expect, with reasons, then compare", total=n)
    if len(scaled) > n // 2:
        return fail(f"{len(scaled)} of your factors ({', '.join(scaled[:3])}...) are this run's measured "
                    f"medians times the same number ({c:.3g})", "a prediction is written before the measurement: "
                    "write what you expect, with reasons, then compare", total=n)
    if wrong:
        w, problem = wrong[0]
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        return fail(problem + more, HINTS.get(w, ""), total=n)
    return passed(f"all {n} predictions agree with your run: {judged} of {n} pairs had a clear winner (faster in "
                  f"every round) and yours matched it; on the other {n - judged} either name passes; every factor "
                  f"lies within {WINDOW} times the range of the paired ratios", total=n)


def _traces() -> list:
    return [load_trace(t) for t in LAB_TRACES] + adversarial_traces() + [shipped_trace("awk")]


def _hint_for(message: str) -> str:
    if message.startswith("refused before running: your allocator defines"):
        return "make every helper function and variable static: only mm.h's mm_* names may be global"
    if message.startswith("refused before running: your allocator uses"):
        return ("the lab allows only the driver's mem_* functions, lesson 01's ta_init, ta_malloc, ta_free, "
                "ta_coalesce, ta_block_size_for, ta_walk, ta_freelist and ta_check, memcpy, memmove, memset, "
                "memcmp, abort and assert")
    if message.startswith("refused before running: your allocator's source uses"):
        return "write the allocator in plain C: no asm, no ## and no section attribute"
    if message.startswith("refused before running"):
        return ("in the lab every byte comes from mem_sbrk(): keep talloc's arena in the driver's heap and "
                "grow it with mem_sbrk, as mm_talloc.c does (its grow function)")
    if "driver's result arrays" in message:
        return ("leave the driver's memory alone, its result arrays too: keep your bookkeeping in the heap, "
                "from mem_sbrk()")
    if "outside the heap" in message and "memory grew" in message:
        return ("keep your bookkeeping in the heap too: take it from mem_sbrk(), not from the stack or any "
                "other memory")
    if "seccomp filter" in message or "filter refuses" in message:
        return ("the allocator's process may make no system call of its own: every byte comes from mem_sbrk(), "
                "and only the driver maps, protects and counts memory")
    if "driver's own record" in message or "driver's output" in message:
        return "leave the driver's memory alone: only the heap mem_sbrk hands out is the allocator's"
    if "timed replay" in message:
        return ("the timed replays must run the code that was checked: every block where the checked pass put "
                "it, and no more heap; mm_init must start from scratch each time")
    if message.startswith("does not compile"):
        return "read gcc's first message: the line numbers are your cell's C"
    if "past the end of the heap" in message or "outside the heap" in message:
        return "a payload must lie inside what mem_sbrk handed out: grow the heap before you use the bytes"
    return ("correctness comes first: the message names the first operation that went wrong; a block taken "
            "for growing in place must leave the free list (ta_list_remove), and a split must keep both tags")


@exercise(error_hint="my_allocator is the C source of an allocator, as one string")
def check_allocator(source):
    if type(source) is not str or "mm_malloc" not in source:
        return fail("my_allocator is not C source defining mm_malloc",
                    "put the whole C file in one string: my_allocator = r\"\"\" ... \"\"\"")
    traces = _traces()
    for t in traces:         # one timed replay too: its placement is checked after it
        s = _score(source, t, repeats=1, label="yours")
        if not s.ok:
            return fail(f"the driver rejected your allocator on {t.name!r}: {s.message}", _hint_for(s.message),
                        total=len(traces) + 1)
    awk = traces[-1]
    base = _score("talloc", awk, repeats=0)
    yours = _score(source, awk, repeats=0, label="yours")
    need = round(base.utilisation * 1.4, 3)
    if not yours.utilisation >= need:
        return fail(f"correct on all {len(traces)} traces, but your utilisation on 'awk' is "
                    f"{yours.utilisation:.3f} (peak live {yours.live:,} / footprint {yours.footprint:,} bytes): "
                    f"at least {need:.3f} needed, 1.4 times the teaching allocator's {base.utilisation:.3f}",
                    "where do small blocks land? Compare the placement policies of lesson 01 (TA_BEST_FIT, "
                    "TA_ADDRESS) on this trace", total=len(traces) + 1)
    return passed(f"correct on all {len(traces)} traces; utilisation on 'awk' {yours.utilisation:.3f}, at least "
                  f"1.4 times the teaching allocator's {base.utilisation:.3f} (both measured by the driver, "
                  f"on its own heap)", total=len(traces) + 1)


assert set(HINTS) == set(WORKLOADS)
