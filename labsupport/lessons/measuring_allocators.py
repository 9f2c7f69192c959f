"""Lesson 09 (measuring allocators): the checks of its two exercises, their limits and hints.

- ``check_predictions(predictions, res)``: exercise 1, {workload: (winner, factor)} against the
  learner's own run, judged on the *paired* ratios glibc/mimalloc that the table shows: the
  winner must match where every round agrees (the range of the ratios does not straddle 1: a
  clear winner), and the factor must lie within a factor 3 of that range (half an order of
  magnitude either side), so the verdict does not flip with the machine's load.
- ``check_allocator(source)``: exercise 2, a lab allocator (C implementing mm.h) must pass the
  driver on every lab trace, adversarial ones and the shipped ``awk`` trace included, and reach
  1.4 times the teaching allocator's utilisation on ``awk``; both measured by the driver, on its
  own heap, now.

The limits are literals inside the checks and the driver functions are bound here at import,
so rebinding ``allocbench.score`` or a module constant from a notebook cell changes nothing.
"""
from __future__ import annotations

import math

from ..allocbench import WORKLOADS, Comparison, adversarial_traces, load_trace, shipped_trace
from ..allocbench import score as _score
from ..exercises import exercise, fail, passed

__all__ = ["HINTS", "LAB_TRACES", "check_allocator", "check_predictions", "paired_verdict"]

HINTS = {
    "churn": "one thread, small sizes: who has the shorter fast path, and what does a free cost?",
    "large": "sizes cross glibc's mmap threshold: count the page faults and system calls",
    "threads": "independent threads: does each get its own cache or arena?",
    "prodcons": "every free comes from another thread: where does such a block go, and who takes a lock?",
    "frag": "pinned small blocks between freed big ones: who can reuse the holes?",
}
LAB_TRACES = ("intro", "fragment", "exercise", "random1000")    # lesson 01's, shipped with it


def paired_verdict(res: Comparison, workload: str) -> tuple:
    """(winner, median, lo, hi) from the paired ratios glibc time / mimalloc time of one run:
    winner "mimalloc" when every round had mimalloc faster (lo > 1), "glibc" when every round
    had glibc faster (hi < 1), else "no clear winner". The figures are slower / faster in the
    winner's direction (for "no clear winner": glibc / mimalloc)."""
    med, lo, hi = res.ratio(workload, "mimalloc", base="glibc")
    if lo > 1:
        return "mimalloc", med, lo, hi
    if hi < 1:
        return "glibc", 1 / med, 1 / hi, 1 / lo
    return "no clear winner", med, lo, hi


def _is_number(x) -> bool:
    return type(x) in (int, float) and math.isfinite(x)


@exercise(error_hint="each prediction is a pair like ('mimalloc', 2.0): the winner's name and a number")
def check_predictions(predictions, res):
    if type(predictions) is not dict:
        return fail(f"predictions is a {type(predictions).__name__}, not a dict",
                    "a dict {workload: (winner, factor)}, one entry per workload")
    got = {str(k).strip().lower(): v for k, v in predictions.items()}
    workloads = [w for w in res.workloads if res.values(w, "glibc") and res.values(w, "mimalloc")]
    missing = [w for w in workloads if w not in got]
    if missing:
        return fail(f"no prediction for {', '.join(missing)}", "one entry per workload of the table")
    wrong, copied = [], []
    for w in workloads:
        p = got[w]
        if type(p) not in (tuple, list) or len(p) != 2 or type(p[0]) is not str:
            return fail(f"your prediction for {w!r} is {p!r}, not a pair (winner, factor)",
                        "a pair like ('mimalloc', 2.0): a name and a plain number")
        if not _is_number(p[1]):
            return fail(f"your factor for {w!r} is a {type(p[1]).__name__}, not a plain int or float",
                        "a pair like ('mimalloc', 2.0): a name and a plain number")
        winner, factor = p[0].strip().lower(), float(p[1])
        if winner not in ("glibc", "mimalloc"):
            return fail(f"your winner for {w!r} is {p[0]!r}", "name the faster one: 'glibc' or 'mimalloc'")
        if factor < 1:
            return fail(f"your factor for {w!r} is {factor:g}, below 1",
                        "the factor is the slower time divided by the faster one, so at least 1: "
                        "say who wins with the name, and by how much with the factor")
        clear, med, lo, hi = paired_verdict(res, w)
        # the range of glibc/mimalloc, turned into slower/faster with the predicted winner faster
        r_med, r_lo, r_hi = res.ratio(w, "mimalloc", base="glibc")
        if winner == "glibc":
            r_med, r_lo, r_hi = 1 / r_med, 1 / r_hi, 1 / r_lo
        if factor != round(factor, 2) and math.isclose(factor, r_med, rel_tol=1e-6):
            copied.append(w)
        if clear != "no clear winner" and winner != clear:
            wrong.append((w, f"{winner} is not the winner of {w!r} here: {clear} was faster in every "
                             f"round of your run"))
        elif not r_lo / 3 <= factor <= r_hi * 3:
            side = "too large" if factor > r_hi * 3 else "too small"
            wrong.append((w, f"your factor {factor:g} for {w!r} is {side}: more than 3 times away from "
                             f"every paired ratio of your run"))
    if copied:
        return fail(f"your factors for {', '.join(copied)} are this run's measured medians, to the last digit",
                    "a prediction is written before the measurement: write what you expect, with reasons, "
                    "then compare")
    if wrong:
        w, problem = wrong[0]
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        return fail(problem + more, HINTS.get(w, ""), total=len(workloads))
    return passed(f"all {len(workloads)} predictions agree with your run: the winner wherever every round "
                  f"agreed, the factor within 3 times the range of the paired ratios", total=len(workloads))


def _traces() -> list:
    return [load_trace(t) for t in LAB_TRACES] + adversarial_traces() + [shipped_trace("awk")]


def _hint_for(message: str) -> str:
    if message.startswith("refused before running"):
        return ("in the lab every byte comes from mem_sbrk(): keep talloc's arena in the driver's heap and "
                "grow it with mem_sbrk, as mm_talloc.c does (its grow function)")
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
    for t in traces:
        s = _score(source, t, repeats=0, label="yours")
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
