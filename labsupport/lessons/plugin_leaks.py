"""Lesson 07 (leaks at plugin boundaries): the leak reports' excerpts, and both exercises' checks.

Exercise 1 classifies five excerpts of the tools' reports; its truths are read from the
unblanked reports of the run the notebook just made (heaptrack's from valgrind's record
of the same allocation site, since heaptrack has no kinds), never typed in.
Exercise 2 runs the learner's ``encode_batch`` in a child under the counting allocator,
once without faults and then with the N-th allocation failing for every N.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..exercises import answer_keys, exercise, fail, passed
from ..leakcount import sanitize

__all__ = ["KINDS", "NO_RECORD", "QUIZ_HINTS", "source_lines", "blank", "valgrind_record", "lsan_record",
           "heaptrack_record", "truth", "check_classification", "sweep_batch", "check_encode_batch"]

KINDS = ("definitely lost", "indirectly lost", "not a leak")
NO_RECORD = "(no such record)"


# ----------------------------------------------------------------- report excerpts

def source_lines(path, marks: dict) -> dict:
    """{name: the 1-based line of path holding marks[name]}: the lines the reports name, read
    from the source instead of typed (they move when the file changes)."""
    lines = Path(path).read_text().splitlines()
    found = {}
    for name, text in marks.items():
        hits = [i for i, line in enumerate(lines, 1) if text in line]
        if len(hits) != 1:
            raise ValueError(f"{text!r} is on {len(hits)} lines of {path}, not one")
        found[name] = hits[0]
    return found


def blank(text: str) -> str:
    """An excerpt with the word that names its kind replaced by ▢▢▢."""
    text = re.sub(r"(definitely lost|indirectly lost|still reachable|possibly lost)", "▢▢▢", text)
    return re.sub(r"^(Direct|Indirect) leak", "▢▢▢ leak", text, flags=re.M)


def valgrind_record(text: str, must_have) -> str:
    """The first valgrind loss record whose lines contain every string in must_have."""
    for block in re.split(r"\n==\d+== \n", text):
        if all(s in block for s in must_have):
            lines = [line for line in sanitize(block).splitlines()
                     if "valgrind" not in line and "libc_start" not in line]
            return "\n".join(lines)
    return NO_RECORD


def lsan_record(text: str, must_have) -> str:
    """The first LeakSanitizer record holding every string in must_have (7 lines)."""
    for block in text.split("\n\n"):
        if all(s in block for s in must_have):
            return "\n".join(sanitize(block).splitlines()[:7])
    return NO_RECORD


def heaptrack_record(text: str, must_have) -> str:
    """One heaptrack leak record, one line per frame: function (file:line)."""
    for block in text.split("\n\n"):
        if all(s in block for s in must_have):
            lines = sanitize(block).splitlines()
            head = [line for line in lines if "leaked over" in line]
            frames = [f"  {line.strip()}" + (f"  ({lines[i + 1].split('at ', 1)[1]})"
                                              if i + 1 < len(lines) and "  at " in lines[i + 1] else "")
                      for i, line in enumerate(lines) if line.startswith("  ") and not line.startswith("    ")]
            return "\n".join(head + frames[:12])
    return NO_RECORD


def truth(quiz: dict, n: int, valgrind_text: str) -> str:
    """The kind of excerpt n, from the unblanked report (heaptrack's: valgrind's record of the site)."""
    _tool, text, same_site = quiz[n]
    if same_site:                      # heaptrack has no kinds: ask valgrind about that site
        text = valgrind_record(valgrind_text, same_site)     # no record at all: freed before exit
    m = re.search(r"(definitely lost|indirectly lost|Direct leak|Indirect leak)", text)
    if not m:
        return "not a leak"
    return {"Direct leak": "definitely lost", "Indirect leak": "indirectly lost"}.get(m.group(1), m.group(1))


# ----------------------------------------------------------------- exercise 1

QUIZ_HINTS = {
    1: "No pointer to these 2 blocks is found anywhere, and other blocks hang off them (the "
       "'indirect' bytes in the line): the head chunk of each list the plugin dropped.",
    2: "The record says 'Direct' or 'Indirect' (or names valgrind's kind). These are chunks after "
       "the first of a list: what points to them, and is that block itself lost?",
    3: "heaptrack calls every block not freed at exit 'leaked'. This one is stdout's buffer, "
       "made by printf: still pointed to by stdout at exit, and glibc never frees it.",
    4: "One block made while libstdc++ was initialised: its emergency pool for exceptions. "
       "Is there still a pointer to it at exit?",
    5: "It is a picture's pixel buffer pic->y. Who points to it, and is that block itself lost? "
       "heaptrack does not tell you: reason like valgrind does.",
}


@exercise(error_hint="ANSWERS maps each report number (1 to 5) to one of 'definitely lost', "
                     "'indirectly lost', 'not a leak'")
def check_classification(answers, quiz: dict, valgrind_text: str):
    """Exercise 1: ANSWERS {n: kind} against the kinds read from the unblanked reports."""
    if type(answers) is not dict:
        return fail(f"ANSWERS is a {type(answers).__name__}, not a dict",
                    "write ANSWERS = {1: 'definitely lost', ...} with one entry per report")
    answers = answer_keys(answers, keys=quiz)
    missing = [n for n in quiz if n not in answers]
    if missing:
        return fail(f"no answer for report(s) {missing}", "give one kind for every report, 1 to 5")
    for n in quiz:
        given = answers[n]
        if type(given) is not str or given.strip().lower() not in KINDS:
            shown = repr(given) if type(given) in (str, int, float, bool, type(None)) else \
                f"a {type(given).__name__} object"
            return fail(f"report {n}: {shown} is not one of {', '.join(map(repr, KINDS))}",
                        "answer with one of the three kinds as plain text; heaptrack's word "
                        "'leaked' is not a kind: it means 'not freed at exit', reachable or not")
    wrong = [n for n in quiz if answers[n].strip().lower() != truth(quiz, n, valgrind_text)]
    if wrong:
        n = wrong[0]
        return fail(f"{len(wrong)} of {len(quiz)} classifications are wrong; the first: report {n} "
                    f"({quiz[n][0]}) is not {answers[n].strip()!r}", QUIZ_HINTS[n], total=len(quiz))
    return passed(f"all {len(quiz)} reports classified", total=len(quiz))


# ----------------------------------------------------------------- exercise 2

def sweep_batch(modname: str, path: str, plugin: bytes, n: int, limit: int = 1000) -> dict:
    """In a child under the counting allocator: encode_batch without faults, then with the N-th
    allocation failing for N = 1, 2, ... until N is past the job's last allocation.

    Returns {"total": ..., "rows": [(N, result, allocations, blocks left), ...]}.
    """
    import ctypes
    import importlib.util
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shim = ctypes.CDLL(None)
    shim.leakcount_epoch_live.restype = ctypes.c_long
    shim.leakcount_epoch_live.argtypes = [ctypes.c_void_p]
    total = module.lib.encode_batch(plugin, n)          # also loads the plugin once
    allocations = module.ffi.new("long *")
    rows = []
    for fail_at in range(1, limit):
        result = module.lib.encode_batch_failing(plugin, n, fail_at, allocations)
        left = shim.leakcount_epoch_live(None)
        rows.append((fail_at, int(result), int(allocations[0]), int(left)))
        if left or fail_at > allocations[0]:
            break
    return {"total": int(total), "rows": rows}


_LEAK_HINT = ("Every return after mh_open succeeded must still call mh_close(ctx), and free whatever "
              "malloc (or strdup...) gave you. One 'done:' label that frees everything (free(NULL) and "
              "mh_close(NULL) do nothing) covers every path; initialise all pointers to NULL first.")


@exercise(error_hint="define encode_batch(plugin, n) in the C cell, and keep encode_batch_failing as given")
def check_encode_batch(module, plugin: bytes, shim_env: dict, expected_totals: dict, timeout: float = 60):
    """Exercise 2: for each n, the total without faults, then no leak and a negative result for
    every N whose allocation failed (or the full total, when the failure was absorbed)."""
    from ..isolate import run_python
    cases = len(expected_totals)
    for n, expected in expected_totals.items():
        r = run_python(sweep_batch, module.modname, str(module.path), plugin, n,
                       timeout=timeout, env=shim_env)
        if not r.ok:
            return fail(f"encode_batch(plugin, {n}) under fault injection: the child was {r.status()}"
                        + (f"\n    its stderr: {r.stderr.strip().splitlines()[-1]}" if r.stderr.strip() else ""),
                        "your code crashed or hung on a failure path: after a failed malloc or mh_open, "
                        "do not use the NULL pointer; free each thing once, at the one cleanup label")
        total, rows = r.value["total"], r.value["rows"]
        if total != expected:
            return fail(f"encode_batch(plugin, {n}) without faults returned {total}, expected {expected}",
                        "the normal path changed: it must still return the total number of bytes")
        if not rows or rows[0][2] == 0:
            return fail(f"encode_batch(plugin, {n}): the counting allocator saw no allocation while "
                        "the fault was armed",
                        "leave leakcount_arm/leakcount_disarm to encode_batch_failing: encode_batch "
                        "must not switch the fault injection off")
        for fail_at, result, allocations, left in rows:
            if left:
                return fail(f"encode_batch(plugin, {n}) leaks when allocation N={fail_at} fails "
                            f"(it returned {result}, {left} blocks left)", _LEAK_HINT, total=cases)
            if fail_at <= allocations and result >= 0 and result != expected:
                return fail(f"encode_batch(plugin, {n}) returned {result} after allocation N={fail_at} "
                            f"failed", "after a failure encode_batch must return minus the error code "
                            "(a negative number), not the bytes counted so far", total=cases)
    return passed(f"{cases} batch sizes: the right totals, and no leak and an error code for every "
                  "failing allocation", total=cases)
